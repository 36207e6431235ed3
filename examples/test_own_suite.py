"""tfpcheck inside your own test suite: a fixture, an assertion helper, your own @given.

These run in an ordinary ``pytest`` (they do not need ``--tfpcheck``):

    pytest examples/test_own_suite.py
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp
import tf_keras
import tfpcheck.strategies as ts
from hypothesis import given, settings

import tfpcheck

tfd, tfpl = tfp.distributions, tfp.layers


def my_regressor(input_dim):
    """The model under test: a Normal head with a learned, softplus'd scale."""
    return tf_keras.Sequential(
        [
            tf_keras.layers.Dense(16, activation="tanh"),
            tf_keras.layers.Dense(2),
            tfpl.DistributionLambda(
                lambda t: tfd.Normal(loc=t[..., :1], scale=1e-3 + tf.math.softplus(0.05 * t[..., 1:]))
            ),
        ]
    )


def my_data(n=256, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 3)).astype("float32")
    y = (x @ np.array([[1.0], [-0.5], [0.25]]) + 0.3 * rng.normal(size=(n, 1))).astype("float32")
    return x, y


def test_search_configurations_with_the_fixture(tfpcheck_check):
    """Search drawn data/optimizer settings, as ``--tfpcheck`` would; fails with the report."""
    report = tfpcheck_check(my_regressor, max_examples=2)
    assert report.passed


def test_my_model_fits_my_data(tfpcheck_assert):
    """Train this model on my own (x, y) for 300 steps and assert the invariants."""
    x, y = my_data()
    tfpcheck_assert(my_regressor(3), x, y, steps=300)


def test_the_helper_names_what_broke():
    """The same helper, called directly; here on a model with a raw (unconstrained) scale."""
    x, y = my_data()
    raw = tf_keras.Sequential(
        [tf_keras.layers.Dense(2), tfpl.DistributionLambda(lambda t: tfd.Normal(t[..., :1], t[..., 1:]))]
    )
    findings = tfpcheck.train_and_check(raw, x, y, steps=20, invariants=["positive_scales"])
    assert [(f.invariant, f.cause) for f in findings] == [("positive_scales", "parameterization")]


@settings(max_examples=2, deadline=None)
@given(config=ts.configs(task="regression"))
def test_my_own_property_over_drawn_configs(config):
    """Your own @given test composed from tfpcheck.strategies."""
    findings = tfpcheck.reproduce(my_regressor, config)
    assert not findings, tfpcheck.explain(findings)
