"""The field guide's three models, as tfpcheck targets.

Three families of each seed example:
- ``example1`` ... ``example3``: the seed's code rewritten for today's stack
  (``tf_keras``, because tfp.layers need Keras 2), bugs and all;
- ``example1_keras3`` ...: the same code exactly as a user writes it with
  ``tf.keras`` on TF >= 2.16, where ``tf.keras`` is Keras 3;
- ``example1_fixed`` ...: the repaired twin of each.

``example3_posterior_fixed`` keeps the seed's learning rate of 0.1 but repairs
the posterior/prior functions, to see what the high learning rate alone does.

    tfpcheck check examples/seed_models.py::example2 --json r.json
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp
import tf_keras

import tfpcheck

tfd = tfp.distributions
tfpl = tfp.layers


def negative_loglikelihood(y_true, y_pred):
    return -y_pred.log_prob(y_true)


# --- the seed's models, on tf_keras -------------------------------------------------------


class SimpleBNN(tf_keras.Model):
    """Seed example 1: a fixed scale of 0.5 and no way to reach data far from zero."""

    def __init__(self):
        super().__init__()
        self.dense = tf_keras.layers.Dense(1, activation=None)
        self.out_layer = tfpl.DistributionLambda(lambda t: tfd.Normal(loc=t, scale=0.5))

    def call(self, x):
        return self.out_layer(self.dense(x))


class ImproperBNN(tf_keras.Model):
    """Seed example 2: a raw Dense output used as the scale, and loc sliced to shape (N,)."""

    def __init__(self):
        super().__init__()
        self.dense = tf_keras.layers.Dense(2, activation=None)
        self.out_layer = tfpl.DistributionLambda(lambda t: tfd.Normal(loc=t[:, 0], scale=t[:, 1]))

    def call(self, x):
        return self.out_layer(self.dense(x))


class VI_BNN(tf_keras.Model):
    """Seed example 3: DenseVariational handed functions of the wrong signature; lr 0.1."""

    def __init__(self):
        super().__init__()
        self.dense = tfpl.DenseVariational(
            units=1,
            make_posterior_fn=tfpl.default_multivariate_normal_fn,
            make_prior_fn=tfpl.default_multivariate_normal_fn,
        )
        self.out_layer = tfpl.DistributionLambda(lambda t: tfd.Normal(loc=t, scale=0.5))

    def call(self, x):
        return self.out_layer(self.dense(x))


def _compiled(model, learning_rate):
    model.compile(
        optimizer=tf_keras.optimizers.Adam(learning_rate=learning_rate),
        loss=negative_loglikelihood,
    )
    return model


@tfpcheck.model(task="regression", regime="stress")
def example1():
    """Its bug shows on raw data far from zero, so it is checked in the stress regime."""
    return _compiled(SimpleBNN(), 0.01)


@tfpcheck.model(task="regression")
def example2():
    return _compiled(ImproperBNN(), 0.01)


@tfpcheck.model(task="regression", vary=("data",))
def example3():
    return _compiled(VI_BNN(), 0.1)


# --- the same, as written with tf.keras on TF >= 2.16 (Keras 3) -----------------------------


def _keras3_model(make_layers):
    class Model(tf.keras.Model):
        def __init__(self):
            super().__init__()
            self.dense, self.out_layer = make_layers()

        def call(self, x):
            return self.out_layer(self.dense(x))

    model = Model()
    model.compile(optimizer=tf.keras.optimizers.Adam(0.01), loss=negative_loglikelihood)
    return model


@tfpcheck.model(task="regression")
def example1_keras3():
    return _keras3_model(
        lambda: (
            tf.keras.layers.Dense(1),
            tfpl.DistributionLambda(lambda t: tfd.Normal(loc=t, scale=0.5)),
        )
    )


@tfpcheck.model(task="regression")
def example2_keras3():
    return _keras3_model(
        lambda: (
            tf.keras.layers.Dense(2),
            tfpl.DistributionLambda(lambda t: tfd.Normal(loc=t[:, 0], scale=t[:, 1])),
        )
    )


@tfpcheck.model(task="regression")
def example3_keras3():
    return _keras3_model(
        lambda: (
            tfpl.DenseVariational(
                units=1,
                make_posterior_fn=tfpl.default_multivariate_normal_fn,
                make_prior_fn=tfpl.default_multivariate_normal_fn,
            ),
            tfpl.DistributionLambda(lambda t: tfd.Normal(loc=t, scale=0.5)),
        )
    )


# --- the fixed twins -------------------------------------------------------------------------


def _learned_scale_normal(loc_shift=0.0, scale_unit=1.0):
    """Normal head: loc kept at (N, 1) with t[..., :1]; scale through softplus with a floor."""
    return tfpl.DistributionLambda(
        lambda t: tfd.Normal(
            loc=loc_shift + scale_unit * t[..., :1],
            scale=scale_unit * (1e-3 + tf.math.softplus(0.05 * t[..., 1:])),
        )
    )


@tfpcheck.model(task="regression", vary=("data",))
def example1_fixed(x_train, y_train):
    """Standardise inside the model (statistics in float64) and learn the noise scale.

    The learning rate is the user's (Adam 0.01); only the data vary, so under
    ``--stress`` the model meets raw data far from zero.
    """
    x64, y64 = np.asarray(x_train, np.float64), np.asarray(y_train, np.float64)
    norm = tf_keras.layers.Normalization(mean=x64.mean(0), variance=x64.var(0) + 1e-12)
    model = tf_keras.Sequential(
        [
            norm,
            tf_keras.layers.Dense(2),
            _learned_scale_normal(float(y64.mean()), float(y64.std() + 1e-12)),
        ]
    )
    return _compiled(model, 0.01)


@tfpcheck.model(task="regression")
def example2_fixed():
    """softplus keeps the scale positive; t[..., :1] keeps loc at (N, 1) like the targets."""
    return tf_keras.Sequential([tf_keras.layers.Dense(2), _learned_scale_normal()])


def _posterior_mean_field(kernel_size, bias_size=0, dtype=None):
    n = kernel_size + bias_size
    c = np.log(np.expm1(0.05))  # posterior scales start at 0.05, not 1: brief training can fit
    return tf_keras.Sequential(
        [
            tfpl.VariableLayer(2 * n, dtype=dtype),
            tfpl.DistributionLambda(
                lambda t: tfd.Independent(
                    tfd.Normal(loc=t[..., :n], scale=1e-5 + tf.nn.softplus(c + t[..., n:])),
                    reinterpreted_batch_ndims=1,
                )
            ),
        ]
    )


def _prior_trainable(kernel_size, bias_size=0, dtype=None):
    n = kernel_size + bias_size
    return tf_keras.Sequential(
        [
            tfpl.VariableLayer(n, dtype=dtype),
            tfpl.DistributionLambda(
                lambda t: tfd.Independent(tfd.Normal(loc=t, scale=1), reinterpreted_batch_ndims=1)
            ),
        ]
    )


def _vi_model(n_train):
    return tf_keras.Sequential(
        [
            tfpl.DenseVariational(
                units=2,
                make_posterior_fn=_posterior_mean_field,
                make_prior_fn=_prior_trainable,
                kl_weight=1.0 / n_train,
            ),
            _learned_scale_normal(),
        ]
    )


@tfpcheck.model(task="regression")
def example3_fixed(n_train):
    """Posterior/prior functions of the signature DenseVariational calls, KL weighted by 1/n.

    Returned uncompiled: tfpcheck compiles it with the NLL and draws an ordinary
    learning rate (the seed's own advice: far below 0.1).
    """
    return _vi_model(n_train)


@tfpcheck.model(task="regression", vary=("data",))
def example3_posterior_fixed(n_train):
    """The corrected posterior/prior, but still the seed's Adam learning rate of 0.1."""
    return _compiled(_vi_model(n_train), 0.1)
