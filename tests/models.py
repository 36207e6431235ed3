"""Model factories for the test suite: healthy ones, and one constructed defect per invariant."""

from __future__ import annotations

import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp
import tf_keras

tfd = tfp.distributions
tfpl = tfp.layers


def softplus_scale(t):
    """TFP's tutorial parameterization: the 0.05 keeps initial scales near softplus(0)."""
    return 1e-3 + tf.math.softplus(0.05 * t)


def kl_per_example(n_train):
    """The KL divergence weighted by 1/n_train, as the loss averages the likelihood per example."""
    return lambda q, p, _: tfd.kl_divergence(q, p) / n_train


def normal_head():
    """The healthy output head: loc kept at (N, 1), scale softplus'd with a floor."""
    return tfpl.DistributionLambda(
        lambda t: tfd.Normal(loc=t[..., :1], scale=softplus_scale(t[..., 1:]))
    )


# --- healthy ----------------------------------------------------------------------------------


def healthy_normal(input_dim):
    return tf_keras.Sequential(
        [
            tf_keras.layers.Dense(16, activation="tanh"),
            tf_keras.layers.Dense(2),
            normal_head(),
        ]
    )


def healthy_flipout(input_dim, n_train):
    kl = kl_per_example(n_train)
    return tf_keras.Sequential(
        [
            tfpl.DenseFlipout(16, activation="tanh", kernel_divergence_fn=kl),
            tfpl.DenseFlipout(2, kernel_divergence_fn=kl),
            normal_head(),
        ]
    )


def healthy_poisson(input_dim):
    return tf_keras.Sequential(
        [
            tf_keras.layers.Dense(8, activation="tanh"),
            tf_keras.layers.Dense(1),
            tfpl.DistributionLambda(lambda t: tfd.Poisson(log_rate=t)),
        ]
    )


def healthy_bernoulli(input_dim):
    return tf_keras.Sequential(
        [tf_keras.layers.Dense(1), tfpl.DistributionLambda(lambda t: tfd.Bernoulli(logits=t))]
    )


def healthy_categorical(input_dim, output_dim):
    return tf_keras.Sequential(
        [
            tf_keras.layers.Dense(output_dim),
            tfpl.DistributionLambda(lambda t: tfd.Categorical(logits=t)),
        ]
    )


# --- one defect per invariant ----------------------------------------------------------------


def raises_in_factory(input_dim):
    raise ValueError("units must be positive")


def not_a_distribution(input_dim):
    return tf_keras.Sequential([tf_keras.layers.Dense(1)])


def raw_scale(input_dim):
    """positive_scales: the scale is a raw Dense output (the seed's Example 2, shape fixed)."""
    return tf_keras.Sequential(
        [
            tf_keras.layers.Dense(2),
            tfpl.DistributionLambda(lambda t: tfd.Normal(loc=t[..., :1], scale=t[..., 1:])),
        ]
    )


def log_of_output(input_dim):
    """finite_loss: log of an unconstrained output gives a NaN location (not a scale issue)."""
    return tf_keras.Sequential(
        [
            tf_keras.layers.Dense(1),
            tfpl.DistributionLambda(lambda t: tfd.Normal(loc=tf.math.log(t), scale=1.0)),
        ]
    )


def sqrt_at_zero(input_dim):
    """finite_gradients: sqrt(relu(t)) has a finite value but an inf*0 = NaN gradient at 0."""
    return tf_keras.Sequential(
        [
            tf_keras.layers.Dense(1),
            tfpl.DistributionLambda(
                lambda t: tfd.Normal(loc=tf.sqrt(tf.nn.relu(t)), scale=1.0)
            ),
        ]
    )


def broadcast_loc(input_dim):
    """loss_shape: loc sliced to (N,) against (N, 1) targets."""
    return tf_keras.Sequential(
        [
            tf_keras.layers.Dense(2),
            tfpl.DistributionLambda(
                lambda t: tfd.Normal(loc=t[:, 0], scale=softplus_scale(t[:, 1]))
            ),
        ]
    )


def event_too_wide(input_dim):
    """loss_shape: IndependentNormal(2), copied from a two-target model, on one target column: the
    loss has the batch's shape, each target scored twice."""
    return tf_keras.Sequential([tf_keras.layers.Dense(tfpl.IndependentNormal.params_size(2)),
                                tfpl.IndependentNormal(2)])


def normal_on_counts(input_dim):
    """The seed's distribution-choice example: a (healthy) Normal head, trained on counts."""
    return healthy_normal(input_dim)


def poisson_head(input_dim):
    """data_in_support on real-valued (negative) targets."""
    return tf_keras.Sequential(
        [tf_keras.layers.Dense(1), tfpl.DistributionLambda(lambda t: tfd.Poisson(log_rate=t))]
    )


def poisson_raw_rate(input_dim):
    """positive_scales, and a hang to avoid: a rate straight from a Dense unit goes negative, the
    loss and then the weights go NaN, and TF's Poisson sampler (which tfp.layers call on every
    forward pass) never returns on a NaN rate (tensorflow/tensorflow#55243)."""
    return tf_keras.Sequential(
        [tf_keras.layers.Dense(1), tfpl.DistributionLambda(lambda t: tfd.Poisson(rate=t))]
    )


def poisson_sqrt_rate(input_dim):
    """finite_gradients with a finite loss: sqrt(relu(t)) has an inf*0 = NaN gradient where
    t < 0, so one update makes the weights NaN, and the next forward pass samples a NaN rate."""
    return tf_keras.Sequential(
        [
            tf_keras.layers.Dense(1),
            tfpl.DistributionLambda(lambda t: tfd.Poisson(rate=tf.sqrt(tf.nn.relu(t)) + 1e-3)),
        ]
    )


def negbin_raw_total_count(input_dim):
    """positive_scales at the first forward pass: a negative total_count makes the Gamma draw
    inside NegativeBinomial's sampler NaN, and the Poisson draw of that never returned."""
    return tf_keras.Sequential(
        [
            tf_keras.layers.Dense(2),
            tfpl.DistributionLambda(
                lambda t: tfd.NegativeBinomial(total_count=t[..., :1], logits=t[..., 1:])
            ),
        ]
    )


def huge_sgd(input_dim):
    """no_divergence: SGD at lr 2.5 on a fixed-scale linear model: the loss grows ~2x a step."""
    return tf_keras.Sequential(
        [tf_keras.layers.Dense(1), tfpl.DistributionLambda(lambda t: tfd.Normal(t, 1.0))]
    )


def ignores_x(input_dim):
    """learns: the output cannot depend on x, so it can at best tie the constant baseline."""
    return tf_keras.Sequential(
        [
            tf_keras.layers.Lambda(lambda x: 0.0 * x[..., :1]),
            tf_keras.layers.Dense(2),
            normal_head(),
        ]
    )


def _posterior(init_scale):
    def make(kernel_size, bias_size=0, dtype=None):
        n = kernel_size + bias_size
        c = float(np.log(np.expm1(init_scale)))
        return tf_keras.Sequential(
            [
                tfpl.VariableLayer(2 * n, dtype=dtype),
                tfpl.DistributionLambda(
                    lambda t: tfd.Independent(
                        tfd.Normal(loc=t[..., :n], scale=tf.nn.softplus(c + t[..., n:])), 1
                    )
                ),
            ]
        )

    return make


def _fixed_prior(kernel_size, bias_size=0, dtype=None):
    n = kernel_size + bias_size
    return tf_keras.Sequential(
        [
            tfpl.VariableLayer(n, dtype=dtype, trainable=False),
            tfpl.DistributionLambda(lambda t: tfd.Independent(tfd.Normal(loc=t, scale=1.0), 1)),
        ]
    )


def _variational(posterior, kl_weight):
    return tf_keras.Sequential(
        [
            tfpl.DenseVariational(2, posterior, _fixed_prior, kl_weight=kl_weight),
            normal_head(),
        ]
    )


def healthy_variational(input_dim, n_train):
    return _variational(_posterior(0.05), 1.0 / n_train)


def kl_not_divided(input_dim, n_train):
    """posterior_not_collapsed (onto the prior): starts at the prior, KL weighted by 10 * n."""
    return _variational(_posterior(1.0), 10.0 * n_train)


def point_posterior(input_dim, n_train):
    """posterior_not_collapsed (onto a point): posterior scales of 1e-9."""
    return _variational(_posterior(1e-9), 1.0 / n_train)


def healthy_reparameterization(input_dim, n_train):
    kl = kl_per_example(n_train)
    return tf_keras.Sequential(
        [
            tfpl.DenseReparameterization(8, activation="tanh", kernel_divergence_fn=kl),
            tfpl.DenseLocalReparameterization(2, kernel_divergence_fn=kl),
            normal_head(),
        ]
    )


def raw_posterior_scale(input_dim, n_train):
    """positive_scales on a variational posterior: its scale is the raw variable (starts at 0)."""

    def posterior(kernel_size, bias_size=0, dtype=None):
        n = kernel_size + bias_size
        return tf_keras.Sequential(
            [
                tfpl.VariableLayer(2 * n, dtype=dtype),
                tfpl.DistributionLambda(
                    lambda t: tfd.Independent(tfd.Normal(loc=t[..., :n], scale=t[..., n:]), 1)
                ),
            ]
        )

    return _variational(posterior, 1.0 / n_train)


class _OwnTrainStep(tf_keras.Model):
    """A model with its own train_step (no compiled loss): tfpcheck must train through it."""

    def __init__(self, scale_fn):
        super().__init__()
        self.dense = tf_keras.layers.Dense(2)
        self.head = tfpl.DistributionLambda(
            lambda t: tfd.Normal(loc=t[..., :1], scale=scale_fn(t[..., 1:]))
        )

    def call(self, x):
        return self.head(self.dense(x))

    def train_step(self, data):
        x, y = data
        with tf.GradientTape() as tape:
            loss = -tf.reduce_mean(self(x, training=True).log_prob(y))
        grads = tape.gradient(loss, self.trainable_variables)
        self.optimizer.apply_gradients(zip(grads, self.trainable_variables, strict=True))
        return {"loss": loss}


def own_train_step(input_dim):
    return _OwnTrainStep(softplus_scale)


def own_train_step_compiled(input_dim):
    """Compiled with an optimizer alone, as a model with its own train_step usually is."""
    model = _OwnTrainStep(softplus_scale)
    model.compile(optimizer=tf_keras.optimizers.Adam(learning_rate=0.02))
    return model


def own_train_step_raw_scale(input_dim):
    return _OwnTrainStep(lambda t: t)


def exp_scale(input_dim):
    """positive_scales (numerical_instability): exp of an unbounded output over/underflows."""
    return tf_keras.Sequential(
        [
            tf_keras.layers.Dense(2),
            tfpl.DistributionLambda(
                lambda t: tfd.Normal(loc=t[..., :1], scale=tf.exp(t[..., 1:]))
            ),
        ]
    )
