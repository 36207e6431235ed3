"""The field guide's three models ported to Keras 3 (``keras``, TensorFlow backend).

tfp.layers do not run on Keras 3, so a Keras 3 user moves the distribution into the loss:
a plain ``Dense`` head, a loss that builds a ``tfd`` distribution from the raw outputs, and,
for a Bayesian layer, a layer of their own that samples its weights and hands its KL to
``add_loss``. Each seed model keeps its bug in that form; each has a fixed twin.

- ``example1_k3``: a fixed scale of 0.5 on raw data far from zero (stress regime).
  Expected: learns / data_scale.
- ``example2_k3``: the raw second output as the scale, and ``loc`` sliced to ``(B,)`` against
  ``(B, 1)`` targets. Expected: positive_scales / parameterization, the broadcast loss shape
  (``shape_broadcast``) among its findings.
- ``example3_k3``: a hand-written variational layer whose per-weight KL vector goes to
  ``add_loss`` undivided: Keras 3 sums a non-scalar loss silently (tf_keras raises), so the
  KL enters with weight 1, not 1/n_train. Expected: kl_scaling.

    tfpcheck check examples/seed_models_keras3.py
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

import tfpcheck

tfd = tfp.distributions


def _normal_loss(scale_fn, loc_slice=lambda t: t[..., :1]):
    def loss(y_true, t):
        return -tfd.Normal(loc=loc_slice(t), scale=scale_fn(t)).log_prob(y_true)

    return loss


def _head(units: int, *, hidden: int = 0, normalise: tuple[np.ndarray, np.ndarray] | None = None):
    layers: list[keras.layers.Layer] = []
    if normalise is not None:
        layers.append(keras.layers.Normalization(mean=normalise[0], variance=normalise[1]))
    if hidden:
        layers.append(keras.layers.Dense(hidden, activation="tanh"))
    layers.append(keras.layers.Dense(units))
    return keras.Sequential(layers)


# --- seed example 1 ------------------------------------------------------------------------


@tfpcheck.model(task="regression", regime="stress")
def example1_k3():
    """Dense(1) into a Normal of fixed scale 0.5 (the seed's SimpleBNN, distribution in the loss)."""
    model = _head(1)
    model.compile(keras.optimizers.Adam(0.01),
                  loss=_normal_loss(lambda t: 0.5, loc_slice=lambda t: t))
    return model


@tfpcheck.model(task="regression", vary=("data",))
def example1_k3_fixed(x_train, y_train):
    """Standardise inside the model and learn the scale (softplus with a floor)."""
    x64, y64 = np.asarray(x_train, np.float64), np.asarray(y_train, np.float64)
    model = _head(2, normalise=(x64.mean(0), x64.var(0) + 1e-12))
    centre, unit = float(y64.mean()), float(y64.std() + 1e-12)

    def loss(y_true, t):
        dist = tfd.Normal(centre + unit * t[..., :1], unit * (1e-3 + tf.math.softplus(0.05 * t[..., 1:])))
        return -dist.log_prob(y_true)

    model.compile(keras.optimizers.Adam(0.01), loss=loss)
    return model


# --- seed example 2 ------------------------------------------------------------------------


@tfpcheck.model(task="regression")
def example2_k3():
    """loc=t[:, 0] (shape (B,)) and scale=t[:, 1] (raw): the seed's ImproperBNN in the loss."""
    model = _head(2)
    model.compile(keras.optimizers.Adam(0.01),
                  loss=_normal_loss(lambda t: t[:, 1], loc_slice=lambda t: t[:, 0]))
    return model


@tfpcheck.model(task="regression")
def example2_k3_fixed():
    """t[..., :1] keeps loc at (B, 1) like the targets; softplus with a floor keeps the scale > 0."""
    model = _head(2)
    model.compile(keras.optimizers.Adam(0.01),
                  loss=_normal_loss(lambda t: 1e-3 + tf.math.softplus(0.05 * t[..., 1:])))
    return model


# --- seed example 3 ------------------------------------------------------------------------


class BayesDense(keras.layers.Layer):
    """A mean-field Gaussian Dense layer written by hand for Keras 3 (reparameterised weights,
    a standard Normal prior), its KL handed to ``add_loss``; ``kl_weight`` None adds the
    per-weight KL vector as it is (the bug), a number adds its sum times that weight."""

    def __init__(self, units: int, kl_weight: float | None, **kwargs):
        super().__init__(**kwargs)
        self.units, self.kl_weight = units, kl_weight

    def build(self, input_shape):
        shape = (int(input_shape[-1]) + 1, self.units)  # kernel rows and the bias row
        self.loc = self.add_weight(shape=shape, initializer=keras.initializers.RandomNormal(stddev=0.1))
        self.raw_scale = self.add_weight(shape=shape, initializer=keras.initializers.Constant(-3.0))

    def call(self, x):
        q = tfd.Normal(self.loc, 1e-5 + tf.math.softplus(self.raw_scale))
        w = q.sample()
        kl = tfd.kl_divergence(q, tfd.Normal(tf.zeros_like(self.loc), 1.0))
        self.add_loss(kl if self.kl_weight is None else self.kl_weight * tf.reduce_sum(kl))
        return tf.matmul(x, w[:-1]) + w[-1]


def _vi_model(kl_weight: float | None, learning_rate: float):
    model = keras.Sequential([BayesDense(2, kl_weight)])
    model.compile(keras.optimizers.Adam(learning_rate),
                  loss=_normal_loss(lambda t: 1e-3 + tf.math.softplus(0.05 * t[..., 1:])))
    return model


@tfpcheck.model(task="regression")
def example3_k3():
    """The seed's variational regression, its KL vector added undivided (Keras 3 sums it)."""
    return _vi_model(None, 0.01)


@tfpcheck.model(task="regression")
def example3_k3_fixed(n_train):
    """The KL summed and weighted by 1/n_train: the per-example ELBO."""
    return _vi_model(1.0 / n_train, 0.01)
