"""A target whose architecture changes with nearly every example (``benchmarks/fuzz_rss.py``):
a new model and a new traced step each time, the worst case for a worker's memory."""

import tensorflow as tf
import tensorflow_probability as tfp
import tf_keras
from hypothesis import strategies as st

import tfpcheck

tfd, tfpl = tfp.distributions, tfp.layers


@tfpcheck.model(task="regression", width=st.integers(4, 256))
def varying_width(width):
    return tf_keras.Sequential([
        tf_keras.layers.Dense(width, activation="relu"),
        tf_keras.layers.Dense(2),
        tfpl.DistributionLambda(
            lambda t: tfd.Normal(loc=t[..., :1], scale=1e-3 + tf.math.softplus(t[..., 1:]))),
    ])
