"""A model whose forward pass never returns: TF's own Poisson kernel fed a NaN rate.

A hand-written noise layer draws ``tf.random.poisson`` with ``lam=tf.math.log(t)`` of a raw
Dense output, NaN wherever the output is negative, and TF's kernel loops forever on a NaN rate
(tensorflow/tensorflow#55243), where no Python signal reaches. tfpcheck makes TFP's own Poisson
samplers return NaN for a NaN rate while it runs a model (``_engine/samplers.py``); a direct
call of the TF op is beyond that, and ``tfpcheck fuzz`` kills it at ``--timeout``.
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
        tf_keras.layers.Lambda(lambda t: t + tf.random.poisson([], tf.math.log(t))),
        tfpl.DistributionLambda(lambda t: tfd.Poisson(log_rate=t)),
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
