"""Checks that must never pass by accident: what could not be judged is said, not passed.

Each test reproduces one way a check used to pass silently (the diagnosis issue's list); each
fails on the code before its fix, except the NaN data term, which an earlier change fixed and
this one keeps covered.
"""

from __future__ import annotations

import time

import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp
import tf_keras
from hypothesis import strategies as st

import tfpcheck
from tfpcheck._checks import learns, posterior_not_collapsed, predictive_in_domain
from tfpcheck._config import Config
from tfpcheck._data import rescale_user_data
from tfpcheck._trace import LayerSummary, Trace

tfb, tfd, tfpl = tfp.bijectors, tfp.distributions, tfp.layers

LAYER = LayerSummary("dense_flipout", "DenseFlipout", 40, 2.5, 0.05, 1.0, False)


def _unevaluated(task: str) -> Trace:
    """A trace whose final evaluation raised after a finite training."""
    return Trace(config=Config(task=task), losses=[1.0] * 20, layers_start=[LAYER],
                 output_distribution="Poisson",
                 notes={"final_evaluation_error": "InvalidArgumentError: batch of 512 != 32"})


def test_a_final_evaluation_that_raised_is_said_by_every_check_that_needs_it():
    t = _unevaluated("count")
    for check in (learns, posterior_not_collapsed, predictive_in_domain):
        verdict = check(t)
        assert verdict.note and "batch of 512 != 32" in verdict.note, (check.__name__, verdict)


def test_learns_fails_on_a_non_finite_data_term():
    t = Trace(config=Config(), losses=[1.0] * 20, data_terms=[1.0, float("nan"), 2.0],
              twin_terms=[5.0, 5.0, 5.0])
    verdict = learns(t)
    assert not verdict.holds and "not finite" in verdict.message


def test_learns_on_too_few_examples_says_so_instead_of_failing():
    """One row: gain 0, 0 standard errors, and "learns / data_scale" (its sd of 0 read as raw
    data). Below LEARNS_MIN_EXAMPLES the paired gain is not evidence: not applicable, said."""
    from tfpcheck._checks import LEARNS_MIN_EXAMPLES

    few = LEARNS_MIN_EXAMPLES - 1
    verdict = learns(Trace(config=Config(), losses=[1.0] * 20, data_terms=[1.0] * few,
                           twin_terms=[1.0] * few))
    assert verdict.holds and verdict.note and f"too few training examples ({few})" in verdict.note
    enough = LEARNS_MIN_EXAMPLES
    verdict = learns(Trace(config=Config(), losses=[1.0] * 20, data_terms=[1.0] * enough,
                           twin_terms=[1.0] * enough, settled=True))
    assert not verdict.holds  # judged: no gain over the twin


def _counts(n=512, d=3, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, d)).astype("float32")
    return x, rng.poisson(np.exp(0.2 + 0.4 * x[:, :1])).astype("float32")


X_COUNT, Y_COUNT = _counts()


# A sinh-arcsinh-style head on small counts (Sinh of a Normal: no closed-form mean) puts a
# good share of its predictive mass on negative counts.
@tfpcheck.model(data=(X_COUNT, Y_COUNT))
def sinh_normal_on_counts():
    model = tf_keras.Sequential([
        tf_keras.layers.Dense(8, activation="relu"),
        tf_keras.layers.Dense(2),
        tfpl.DistributionLambda(lambda t: tfd.TransformedDistribution(
            tfd.Normal(t[..., :1], 1e-3 + tf.math.softplus(t[..., 1:])), tfb.Sinh())),
    ])
    model.compile(tf_keras.optimizers.Adam(0.01), loss=lambda y, d: -d.log_prob(y))
    return model


def test_a_family_without_a_mean_is_still_checked_for_its_domain():
    report = tfpcheck.check(sinh_normal_on_counts, max_examples=1, steps=400).targets[0]
    assert report.task == "count"
    found = {v.invariant: v for v in report.violations}
    assert "predictive_in_domain" in found, [v.message for v in report.violations]
    assert found["predictive_in_domain"].evidence["outside_domain_share"] > 0.01


FIRST_FAILING: dict[str, int] = {}


# No compile: the search draws configurations and shrinks. shift=0 is a healthy head; shift>0 a
# raw (negative) scale, which fails at once; every other shift (the shrinker's candidates)
# hangs past the time limit while building.
@tfpcheck.model(data=(X_COUNT[:, :2], X_COUNT[:, :1]), shift=st.integers(0, 1000))
def raw_scale_then_slow(shift):
    if shift > 0 and FIRST_FAILING.setdefault("shift", shift) != shift:
        time.sleep(30)
    scale = (lambda t: t) if shift else (lambda t: 1e-3 + tf.math.softplus(t))
    return tf_keras.Sequential([
        tf_keras.layers.Dense(2),
        tfpl.DistributionLambda(lambda t: tfd.Normal(t[..., :1], scale(t[..., 1:]) - shift)),
    ])


def test_a_timeout_while_shrinking_keeps_the_failure_already_found():
    FIRST_FAILING.clear()
    report = tfpcheck.check(raw_scale_then_slow, max_examples=10, steps=50, timeout=3,
                            invariants=("positive_scales",))
    t = report.targets[0]
    assert t.status == "failed" and t.violations, t.to_dict()
    assert t.violations[0].config["params"] == {"shift": FIRST_FAILING["shift"]}
    assert any("timed out while shrinking" in n for n in t.notes), t.notes


def test_stress_rescales_count_and_positive_targets_inside_their_domain():
    x, y = X_COUNT, Y_COUNT
    _, up = rescale_user_data(x, y, Config(task="count", y_scale=3.0, n_train=len(x)))
    assert np.array_equal(up, y * 3)
    _, down = rescale_user_data(x, y, Config(task="count", y_scale=0.25, n_train=len(x)))
    assert np.all(down == np.rint(down)) and np.all(down <= y) and down.mean() < 0.5 * y.mean()
    amounts = np.exp(x[:, :1])
    _, scaled = rescale_user_data(x, amounts, Config(task="positive", y_scale=1e3, y_offset=-5.0,
                                                     n_train=len(x)))
    assert np.allclose(scaled, amounts * 1e3, rtol=1e-5) and np.all(scaled > 0)
    labels = (x[:, :1] > 0).astype("float32")
    _, same = rescale_user_data(x, labels, Config(task="binary", y_scale=7.0, n_train=len(x)))
    assert np.array_equal(same, labels)
