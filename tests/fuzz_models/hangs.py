"""A model whose training never returns: a Poisson head with a NaN log-rate at initialisation.

``log_rate=tf.math.log(t)`` of a raw Dense output is NaN wherever the output is negative, and
the layer's default ``convert_to_tensor_fn`` samples the distribution in every forward pass:
TFP's Poisson sampler loops forever on a NaN rate inside a TF kernel, where no Python signal
reaches (measured: ``tfd.Poisson(log_rate=[nan]).sample()`` still running after 60 s).
A healthy twin sits beside it, so a test sees the other target finish.
"""

import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp
import tf_keras

import tfpcheck

tfd, tfpl = tfp.distributions, tfp.layers

_RNG = np.random.default_rng(0)
X = _RNG.normal(size=(512, 2)).astype("float32")
Y = _RNG.poisson(np.exp(0.5 + X[:, :1])).astype("float32")  # a clear signal: counts 0 to ~30


@tfpcheck.model(data=(X, Y), task="count")
def poisson_nan_rate():
    model = tf_keras.Sequential([
        tf_keras.layers.Dense(1, kernel_initializer=tf_keras.initializers.Constant(-1.0),
                              bias_initializer=tf_keras.initializers.Constant(-1.0)),
        tfpl.DistributionLambda(lambda t: tfd.Poisson(log_rate=tf.math.log(t))),
    ])
    model.compile(tf_keras.optimizers.Adam(0.01), loss=lambda y, d: -d.log_prob(y))
    return model


@tfpcheck.model(data=(X, Y), task="count")
def poisson_healthy():
    model = tf_keras.Sequential([
        tf_keras.layers.Dense(1),
        tfpl.DistributionLambda(lambda t: tfd.Poisson(log_rate=t)),
    ])
    model.compile(tf_keras.optimizers.Adam(0.01), loss=lambda y, d: -d.log_prob(y))
    return model
