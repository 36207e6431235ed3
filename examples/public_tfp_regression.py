"""TensorFlow Probability's "Probabilistic Layers Regression" tutorial, the most copied start of
a TFP regression, as tfpcheck targets on the tutorial's own data.

Source: tensorflow/probability,
tensorflow_probability/examples/jupyter_notebooks/Probabilistic_Layers_Regression.ipynb, written
in our own code on today's stack (``tf_keras`` + TFP 0.25). Data as in the notebook's
``load_dataset``: 150 points, x ~ U(-20, 60) raw (not standardised), y = 0.125 x (1 + sin x) + 5 +
noise whose sd grows from 0.75 to 3.75 across the range, y of shape (N,); numpy seed 43. Every
case compiles with Adam(learning_rate=0.01) and the negative log-likelihood; the notebook fits 1000
epochs of the default batch of 32 (5000 steps).

Healthy targets (expected: pass, with a note where the cap is too short for them):
- ``tfp_regression_no_uncertainty`` (case 1): Dense(1) -> Normal(loc=t, scale=1).
- ``tfp_regression_aleatoric`` (case 2): Dense(2) -> Normal(t[..., :1], 1e-3 + softplus(0.05 t[..., 1:])).
- ``tfp_regression_epistemic`` (case 3): DenseVariational(1) with a mean-field posterior started
  at scale 1 and a trainable prior, kl_weight 1/N -> Normal(loc=t, scale=1).
- ``tfp_regression_both`` (case 4): DenseVariational(2), same posterior and prior ->
  Normal(t[..., :1], 1e-3 + softplus(0.01 t[..., 1:])).
- ``tfp_regression_vgp`` (case 5): a fixed Dense(1) -> VariationalGaussianProcess (40 inducing
  points over the x range, an ExponentiatedQuadratic kernel of softplus'd amplitude and length
  scale), trained on its own ``variational_loss`` with kl_weight = batch_size / N, the
  notebook's ``fit`` batch size declared (``batch_size=32``) and filled in. Before it passed,
  tfpcheck failed it on ``loss_shape`` (the loss is one number of shape (1,) for the batch),
  and its own tests' smaller twin on ``positive_scales`` (the layer trains the raw
  lower-triangular scale from 1e-5 times the identity: a diagonal crosses zero, which TFP's
  scale_tril contract, a non-zero diagonal, allows) and on ``data_in_support`` (log_prob of
  (N,) targets raised a shape error; tf_keras hands them to the loss as (N, 1)). Measured
  (``tfpcheck check --no-database --seed S``, S = 0, 1, 2): passes 3/3, ``loss_shape`` not
  applicable; at seed 1 ``learns`` has no twin to compare with (the x-denied twin, every x
  replaced by the mean, could not be trained or evaluated: a note says so).
  Since the batch size is declared (the search draws other examples), seed 0 finds a real
  fragility: on 75 of the 150 points at lr 0.00485 (within 3x of the notebook's 0.01) the loss
  goes NaN at step 1491, ``finite_loss``, data_scale confirmed (standardised: passes). Not
  tfpcheck's doing: plain ``fit`` on the same 75 points at that rate went NaN at epoch 570 for
  one of three seeds (float32 Cholesky of a kernel on raw x in [-20, 60]). So
  ``benchmarks/public_models.py --seeds 3`` passes it at seeds 1 and 2 only: a true finding on a
  tutorial's model, kept rather than carved around.

Measured under the notebook's own ``fit`` (seeds 0, 1; whole-set NLL, and for cases 3-4 the
predictive means' spread across 30 weight draws over the predictive's own sd) at steps 625, 1875,
5000: case 2 NLL 9.5/4.5, 3.5/3.2, 2.9/2.6 (a third seed: 274, 92, 22); case 3 spread 5.8, 2.2,
0.7 with the slope's posterior sd 0.22, 0.084, 0.028; case 4 spread 8.7, 3.7, 1.2 (slope sd 0.28,
0.13, 0.05), NLL 48, 11, 4.8-5.1. They learn, slowly, on raw x: at tfpcheck's default cap (1600
steps) cases 2-4 have not yet beaten their x-denied twins and the posteriors of 3-4 are still
narrowing, which tfpcheck reports as inconclusive notes (before these notes it failed cases 2-4).
Case 4 is the slowest. ``benchmarks/public_models.py`` once passed it at 2 of 3 seeds, failing
the third on ``learns`` (data_scale) though that seed passed alone: each seed's run reused the
previous one's model and continued the random streams of its traced step. A run now starts
from none of its target's models (``_engine/reuse.py``, ``start_run``): 5 of 5 seeds pass
(``--files examples/public_tfp_regression.py --seeds 5``), in one process and alone alike.

Buggy twins:
- ``tfp_regression_aleatoric_buggy``: case 2 with the raw output as the scale (no softplus), the
  seed's "a variance parameter ... cannot be negative".
- ``tfp_regression_epistemic_buggy``: case 3 without ``kl_weight``: the KL of the whole posterior
  enters every example's loss, 150 times the ELBO's weight.

    pytest --tfpcheck examples/test_public_models.py
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp
import tf_keras

import tfpcheck

tfd, tfpl = tfp.distributions, tfp.layers
W0, B0, X_RANGE = 0.125, 5.0, (-20.0, 60.0)


def _load_dataset(n: int = 150) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.RandomState(43)
    x = (X_RANGE[1] - X_RANGE[0]) * rng.rand(n) + X_RANGE[0]
    g = (x - X_RANGE[0]) / (X_RANGE[1] - X_RANGE[0])
    y = W0 * x * (1.0 + np.sin(x)) + B0 + rng.randn(n) * 3 * (0.25 + g**2.0)
    return x[..., np.newaxis].astype(np.float32), y.astype(np.float32)


X, Y = _load_dataset()


def negloglik(y, rv_y):
    return -rv_y.log_prob(y)


def posterior_mean_field(kernel_size, bias_size=0, dtype=None):
    n = kernel_size + bias_size
    c = np.log(np.expm1(1.0))
    return tf_keras.Sequential([
        tfpl.VariableLayer(2 * n, dtype=dtype),
        tfpl.DistributionLambda(lambda t: tfd.Independent(
            tfd.Normal(loc=t[..., :n], scale=1e-5 + tf.nn.softplus(c + t[..., n:])),
            reinterpreted_batch_ndims=1)),
    ])


def prior_trainable(kernel_size, bias_size=0, dtype=None):
    n = kernel_size + bias_size
    return tf_keras.Sequential([
        tfpl.VariableLayer(n, dtype=dtype),
        tfpl.DistributionLambda(lambda t: tfd.Independent(tfd.Normal(loc=t, scale=1),
                                                          reinterpreted_batch_ndims=1)),
    ])


def _compiled(layers):
    model = tf_keras.Sequential(layers)
    model.compile(optimizer=tf_keras.optimizers.Adam(learning_rate=0.01), loss=negloglik)
    return model


@tfpcheck.model(data=(X, Y))
def tfp_regression_no_uncertainty():
    return _compiled([tf_keras.layers.Dense(1),
                      tfpl.DistributionLambda(lambda t: tfd.Normal(loc=t, scale=1))])


@tfpcheck.model(data=(X, Y))
def tfp_regression_aleatoric():
    return _compiled([tf_keras.layers.Dense(1 + 1), tfpl.DistributionLambda(
        lambda t: tfd.Normal(loc=t[..., :1], scale=1e-3 + tf.math.softplus(0.05 * t[..., 1:])))])


@tfpcheck.model(data=(X, Y))
def tfp_regression_aleatoric_buggy():
    """Case 2 with the raw output as the scale.

    Expected: positive_scales / parameterization
    """
    return _compiled([tf_keras.layers.Dense(1 + 1), tfpl.DistributionLambda(
        lambda t: tfd.Normal(loc=t[..., :1], scale=t[..., 1:]))])


@tfpcheck.model(data=(X, Y))
def tfp_regression_epistemic(n_train):
    return _compiled([
        tfpl.DenseVariational(1, posterior_mean_field, prior_trainable, kl_weight=1 / n_train),
        tfpl.DistributionLambda(lambda t: tfd.Normal(loc=t, scale=1)),
    ])


@tfpcheck.model(data=(X, Y))
def tfp_regression_epistemic_buggy():
    """Case 3 without kl_weight.

    Expected: posterior_not_collapsed / kl_scaling
    """
    return _compiled([
        tfpl.DenseVariational(1, posterior_mean_field, prior_trainable),
        tfpl.DistributionLambda(lambda t: tfd.Normal(loc=t, scale=1)),
    ])


@tfpcheck.model(data=(X, Y))
def tfp_regression_both(n_train):
    return _compiled([
        tfpl.DenseVariational(1 + 1, posterior_mean_field, prior_trainable, kl_weight=1 / n_train),
        tfpl.DistributionLambda(lambda t: tfd.Normal(loc=t[..., :1],
                                                     scale=1e-3 + tf.math.softplus(0.01 * t[..., 1:]))),
    ])


class RBFKernelFn(tf_keras.layers.Layer):
    """Case 5's kernel provider: an ExponentiatedQuadratic kernel whose amplitude and length scale
    are softplus'd trainable scalars (both 0 at the start); the layer itself passes x through."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        zero = tf_keras.initializers.Constant(0.0)
        self._amplitude = self.add_weight(initializer=zero, dtype=self.dtype, name="amplitude")
        self._length_scale = self.add_weight(initializer=zero, dtype=self.dtype, name="length_scale")

    def call(self, x):
        return x

    @property
    def kernel(self):
        return tfp.math.psd_kernels.ExponentiatedQuadratic(
            amplitude=tf.nn.softplus(0.1 * self._amplitude),
            length_scale=tf.nn.softplus(5.0 * self._length_scale),
        )


@tfpcheck.model(data=(X, Y), batch_size=32)  # the notebook's fit(batch_size=32)
def tfp_regression_vgp(n_train, batch_size):
    """Case 5, functional uncertainty: a fixed Dense(1) (kernel ones, no bias) feeding a
    VariationalGaussianProcess of 40 inducing points spread over the x range, trained on its own
    ``variational_loss`` with kl_weight = batch size / N (a loss that reduces the batch to one
    number: tfpcheck reports ``loss_shape`` as not applicable)."""
    inducing = np.linspace(*X_RANGE, num=40, dtype=X.dtype)[..., np.newaxis]
    model = tf_keras.Sequential([
        tf_keras.layers.InputLayer(input_shape=[1]),
        tf_keras.layers.Dense(1, kernel_initializer="ones", use_bias=False),
        tfpl.VariationalGaussianProcess(
            num_inducing_points=40,
            kernel_provider=RBFKernelFn(),
            event_shape=[1],
            inducing_index_points_initializer=tf_keras.initializers.Constant(inducing),
            unconstrained_observation_noise_variance_initializer=tf_keras.initializers.Constant(0.54),
        ),
    ])
    kl_weight = np.array(batch_size, X.dtype) / n_train  # the notebook's batch_size / x.shape[0]
    model.compile(optimizer=tf_keras.optimizers.Adam(learning_rate=0.01),
                  loss=lambda y, rv_y: rv_y.variational_loss(y, kl_weight=kl_weight))
    return model
