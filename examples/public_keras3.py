"""A public Keras 3 probabilistic model, written in our own code after its source, in its
TensorFlow-backend form.

Source: github.com/tensorchiefs/dl_keras3, notebooks/probabilistic_modelling/pm_keras_jax.ipynb
(and its torch twin pm_keras_pytorch.ipynb): a Keras 3 regression with a Gaussian negative
log-likelihood built in the loss from a Dense(2) output, mean = out[:, :1], scale =
exp(out[:, 1:]); keras.Input((1,)) -> Dense(10, relu) -> Dense(2); Adam at Keras' default
learning rate (0.001); batch 32, 100 epochs of 1000 examples. The notebook runs it on JAX or
torch with numpyro/torch distributions; here the Normal is TFP's and the backend TensorFlow
(the only one tfpcheck trains). Data as in the notebook: x ~ U(-10, 10), y = 2x + noise whose
spread grows with |x|, both (1000, 1).

- ``dl_keras3_gaussian``: the model as published. Expected: passes at some seeds; it is fragile,
  and tfpcheck says so where an initialisation shows it. Measured (``tfpcheck check --seed 0..4``,
  before the subsample sizes became few): seeds 0, 1, 3 pass (seed 0 with a note: at a third of
  its rate it learns only after the cap; standardising makes it learn within the cap); seeds 2
  and 4 fail ``learns`` with data_scale confirmed, shrunk to the same initialisation at the
  author's own Adam 1e-3: the exp(log_sd) head on raw x in [-10, 10] predicts tiny scales
  somewhere, and its data term is 11180 per example at 1600 steps, 454 at 6400 and still 20 at
  12800 (its x-denied twin: 4.05), where the notebook trains 3200 steps. Standardised data
  train within the cap. A real fragility of the published model, not a false alarm. With the
  subsample drawn from few sizes (``SUBSAMPLE_FRACTIONS``) the examples drawn changed: seeds 1
  and 3 pass, 2 and 4 fail as before, and seed 0 now fails the same way at a third of the
  author's rate on all 1000 rows (initialisation seed 197: data term 1.9e5 per example at the
  1600-step cap, its twin 42.6; standardised: passes). Since a data term still closing in on its
  twin's at the cap is inconclusive on data as given (``_checks.CLOSING_SPAN``), those examples
  are notes, not failures: ``benchmarks/public_models.py --seeds 3`` passes seeds 0-2.
- ``keras_io_mdn``: keras-io's "Approximating non-Function Mappings with Mixture Density
  Networks" (keras-team/keras-io, examples/keras_recipes/approximating_non_function_mappings.py,
  2023, written for Keras Core, the Keras 3 pre-release, on the TensorFlow backend): a noisy
  spiral (angle t ~ U(0, 4 pi), (t cos t, t sin t) jittered by 0.2, both min-max scaled to
  [0, 5]), x = its first coordinate (N, 1), y = its second (N,); Dense(128, relu) x 2 into a
  layer of three Dense heads (20 means; 20 scales through elu + 1 + eps; 20 mixture logits), and
  a loss that builds tfd.Mixture(Categorical(logits), [MultivariateNormalDiag] * 20) from the
  raw outputs and returns the batch mean of -log_prob; Adam at Keras' default rate, batch 128.
  The original trains 10000 points for up to 300 epochs; here 2000 points. Expected: passes.
- ``keras_io_mdn_buggy``: the same network with its scales taken from a plain linear Dense (the
  activation the author added "to prevent ELU from outputting 0 which causes NaNs" dropped).
  Expected: positive_scales / parameterization
- ``dl_keras3_gaussian_buggy``: the same model fed (N,) targets, the bug the repository's own
  ``batching_gradient_problem.ipynb`` shows (the (B, 1) mean broadcasts to (B, B), and the
  model learns only the marginal of y).
  Expected: loss_shape / shape_broadcast
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

import tfpcheck

tfd = tfp.distributions

_rng = np.random.default_rng(42)
X = _rng.uniform(-10, 10, (1000, 1)).astype(np.float32)
Y = (2 * X + _rng.normal(0, np.abs(X) + 1, (1000, 1))).astype(np.float32)


def negative_log_likelihood(y_true, output):
    """The notebook's loss: a Normal from the raw outputs, averaged over the batch."""
    dist = tfd.Normal(loc=output[:, :1], scale=tf.exp(output[:, 1:]))
    return -tf.reduce_mean(dist.log_prob(y_true))


def _gaussian_model():
    inputs = keras.Input(shape=(1,))
    hidden = keras.layers.Dense(10, activation="relu")(inputs)
    model = keras.Model(inputs, keras.layers.Dense(2)(hidden))
    model.compile(optimizer="adam", loss=negative_log_likelihood)
    return model


@tfpcheck.model(data=(X, Y))
def dl_keras3_gaussian():
    """The notebook's model on its (N, 1) targets."""
    return _gaussian_model()


@tfpcheck.model(data=(X, Y[:, 0]))
def dl_keras3_gaussian_buggy():
    """The same model on (N,) targets.

    Expected: loss_shape / shape_broadcast
    """
    return _gaussian_model()


def _spiral(n=2000, seed=7):
    rng = np.random.default_rng(seed)
    t = rng.uniform(0, 4 * np.pi, n)
    xy = np.stack([t * np.cos(t), t * np.sin(t)], axis=1) + rng.normal(0, 0.2, (n, 2))
    xy = 5 * (xy - xy.min()) / (xy.max() - xy.min())
    return xy[:, :1].astype(np.float32), xy[:, 1].astype(np.float32)


X_SPIRAL, Y_SPIRAL = _spiral()
N_MIXES = 20


def elu_plus_one_plus_epsilon(x):
    return keras.activations.elu(x) + 1 + keras.backend.epsilon()


class MixtureDensityOutput(keras.layers.Layer):
    """Means, scales and mixture logits of N_MIXES one-dimensional components, concatenated."""

    def __init__(self, num_mixtures, scale_activation=elu_plus_one_plus_epsilon, **kwargs):
        super().__init__(**kwargs)
        self.mdn_mus = keras.layers.Dense(num_mixtures, name="mdn_mus")
        self.mdn_sigmas = keras.layers.Dense(num_mixtures, activation=scale_activation, name="mdn_sigmas")
        self.mdn_pi = keras.layers.Dense(num_mixtures, name="mdn_pi")

    def build(self, input_shape):
        for head in (self.mdn_mus, self.mdn_sigmas, self.mdn_pi):
            head.build(input_shape)
        super().build(input_shape)

    def call(self, x):
        return keras.layers.concatenate([self.mdn_mus(x), self.mdn_sigmas(x), self.mdn_pi(x)])


def mdn_loss(y_true, y_pred):
    """The recipe's loss: the mixture built from the raw outputs, mean negative log-likelihood."""
    y_pred = tf.reshape(y_pred, [-1, 3 * N_MIXES])
    y_true = tf.reshape(y_true, [-1, 1])
    out_mu, out_sigma, out_pi = tf.split(y_pred, [N_MIXES, N_MIXES, N_MIXES], axis=-1)
    components = [tfd.MultivariateNormalDiag(loc=loc, scale_diag=scale)
                  for loc, scale in zip(tf.split(out_mu, N_MIXES, axis=1),
                                        tf.split(out_sigma, N_MIXES, axis=1), strict=True)]
    mixture = tfd.Mixture(cat=tfd.Categorical(logits=out_pi), components=components)
    return tf.reduce_mean(-mixture.log_prob(y_true))


def _mdn(scale_activation=elu_plus_one_plus_epsilon):
    model = keras.Sequential([
        keras.layers.Dense(128, activation="relu"),
        keras.layers.Dense(128, activation="relu"),
        MixtureDensityOutput(N_MIXES, scale_activation),
    ])
    model.compile(loss=mdn_loss, optimizer="adam")
    return model


@tfpcheck.model(data=(X_SPIRAL, Y_SPIRAL), batch_size=128)  # the recipe's fit(batch_size=128)
def keras_io_mdn():
    """The recipe's mixture density network on the spiral."""
    return _mdn()


@tfpcheck.model(data=(X_SPIRAL, Y_SPIRAL), batch_size=128)
def keras_io_mdn_buggy():
    """Its scales from a linear Dense: negative for some inputs.

    Expected: positive_scales / parameterization
    """
    return _mdn(scale_activation=None)
