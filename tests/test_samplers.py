"""Poisson draws under ``terminating_samplers``: NaN for a NaN rate, every other draw unchanged."""

from __future__ import annotations

import threading

import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp
from tensorflow_probability.python.distributions import poisson as poisson_lib

from tfpcheck._engine.samplers import terminating_samplers

tfd = tfp.distributions


def _within(seconds, fn):
    """``fn()``'s result, or None if it has not returned in ``seconds`` (TF's Poisson kernel on a
    NaN rate never returns and cannot be interrupted: the thread is left behind, the test fails)."""
    out = []
    thread = threading.Thread(target=lambda: out.append(fn()), daemon=True)
    thread.start()
    thread.join(seconds)
    return out[0] if out else None


def test_a_nan_rate_draws_nan_and_the_other_draws_are_the_unguarded_ones():
    def draws():
        with terminating_samplers():
            poisson = tfd.Poisson(rate=[[float("nan")], [3.0]]).sample(5, seed=(1, 2))
            negbin = tfd.NegativeBinomial(total_count=[-1.0, 4.0], logits=0.0).sample(5, seed=(3, 4))
            traced = tf.function(lambda r: tfd.Poisson(rate=r).sample(seed=(5, 6)))(
                tf.constant([float("nan"), 2.0]))
        return poisson.numpy(), negbin.numpy(), traced.numpy()

    result = _within(120, draws)
    assert result is not None, "a Poisson draw on a NaN rate did not return under the guard"
    poisson, negbin, traced = result
    unguarded = tfd.Poisson(rate=[[0.0], [3.0]]).sample(5, seed=(1, 2)).numpy()
    assert np.all(np.isnan(poisson[:, 0])) and np.array_equal(poisson[:, 1], unguarded[:, 1])
    assert np.all(np.isnan(negbin[:, 0])) and np.all(np.isfinite(negbin[:, 1]))
    assert np.isnan(traced[0]) and np.isfinite(traced[1])


def test_the_samplers_are_tfps_own_again_after_the_block():
    before = poisson_lib.random_poisson
    with terminating_samplers():
        assert poisson_lib.random_poisson is not before
        with terminating_samplers():  # nested: one guard, not two
            assert poisson_lib.random_poisson._tfpcheck_guarded
    assert poisson_lib.random_poisson is before
