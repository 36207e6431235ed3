"""tfpcheck.strategies: healthy specs pass every invariant, injected defects are detected with
the expected invariant and cause, failures shrink to a readable spec, bad arguments teach.
Real TF training throughout (each spec is one brief training)."""

from __future__ import annotations

import dataclasses
import json

import pytest
import tfpcheck.strategies as ts
from hypothesis import HealthCheck, Phase, find, given, settings
from hypothesis import strategies as st

from tfpcheck import TASKS
from tfpcheck.errors import InvalidArgument

_QUIET = dict(database=None, deadline=None, suppress_health_check=list(HealthCheck))


def findings(spec):
    from tfpcheck._engine import run_config
    from tfpcheck._search import findings_for

    target, config = ts.spec_target(spec)
    return findings_for(target, run_config(target, config))


@settings(max_examples=24, derandomize=True, **_QUIET)
@given(ts.model_specs(task=st.sampled_from(TASKS)))
def test_healthy_specs_hold_every_invariant(spec):
    found = findings(spec)
    assert not found, "\n".join(f.explain() for f in found)


@settings(max_examples=8, derandomize=True, **_QUIET)
@given(ts.model_specs(task=st.sampled_from(TASKS), keras=3))
def test_healthy_keras3_specs_hold_every_invariant(spec):
    import keras

    assert isinstance(ts.build_keras3_model(spec), keras.Model)
    found = findings(spec)
    assert not found, "\n".join(f.explain() for f in found)


def _simplest(kind, keras=2):
    return find(ts.model_specs(defects=[kind], keras=keras), lambda s: True, settings=settings(**_QUIET))


@pytest.mark.parametrize("kind", sorted(set(ts.DEFECTS) - set(ts.NOT_DETECTED)))
def test_injected_defect_is_detected_with_its_cause(kind):
    spec = _simplest(kind)
    assert spec.defect == kind and spec.expected_invariants
    found = [f for f in findings(spec) if f.invariant in spec.expected_invariants]
    assert found, f"{kind}: none of {spec.expected_invariants} fired on {spec!r}"
    assert any(f.cause in spec.expected_causes for f in found), [(f.invariant, f.cause) for f in found]


@pytest.mark.parametrize("kind", sorted(set(ts.DEFECTS) - set(ts.NOT_DETECTED) - set(ts.KERAS2_ONLY)
                                         - set(ts.NOT_DETECTED_KERAS3)))
def test_injected_defect_is_detected_with_its_cause_in_keras3_specs(kind):
    spec = _simplest(kind, keras=3)
    assert spec.keras == 3 and spec.defect == kind
    found = [f for f in findings(spec) if f.invariant in spec.expected_invariants]
    assert found, f"{kind}: none of {spec.expected_invariants} fired on {spec!r}"
    assert any(f.cause in spec.expected_causes for f in found), [(f.invariant, f.cause) for f in found]


@pytest.mark.parametrize("kind", sorted(ts.NOT_DETECTED))
def test_undetected_defects_still_inject_and_record_their_cause(kind):
    spec = _simplest(kind)
    assert kind in ts.DEFECTS and spec.defect == kind
    assert spec.expected_causes == ts.DEFECTS[kind].causes
    assert ts.build_model(spec) is not None


def test_failing_spec_shrinks_to_a_small_readable_one():
    budget = {"trained": 0}

    def fails(spec):
        if budget["trained"] >= 12:  # shrink budget spent: unseen specs count as passing
            return False
        budget["trained"] += 1
        return any(f.invariant == "positive_scales" for f in findings(spec))

    spec = find(ts.model_specs(defects=["raw_scale"]), fails,
                settings=settings(max_examples=3, phases=[Phase.generate, Phase.shrink], **_QUIET))
    text = repr(spec)
    assert spec.defect == "raw_scale" and len(text) < 300, text
    assert ts.ModelSpec.from_dict(json.loads(spec.to_json())) == spec


def test_spec_is_json_serialisable_and_round_trips():
    spec = find(ts.model_specs(task="count"), lambda s: len(s.hidden) >= 1, settings=settings(**_QUIET))
    assert ts.ModelSpec.from_dict(json.loads(spec.to_json())) == spec
    assert repr(spec).startswith("ModelSpec(")


def test_importing_strategies_does_not_import_tensorflow():
    import subprocess
    import sys

    code = "import sys, tfpcheck.strategies as ts; ts.model_specs(); print('tensorflow' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd="/")
    assert out.stdout.strip() == "False", out.stderr


@pytest.mark.parametrize(
    "strategy, shown",
    [
        (lambda: ts.optimizers(min_learning_rate=-0.1, max_learning_rate=1.0), "min_learning_rate=-0.1"),
        (lambda: ts.optimizers(min_learning_rate=1e-3), "min_learning_rate=0.001"),
        (lambda: ts.optimizers(names=["adamw"]), "names=['adamw']"),
        (lambda: ts.data_specs(min_x_scale=10.0, max_x_scale=1.0), "min_x_scale=10.0"),
        (lambda: ts.data_specs(min_n_train=0), "min_n_train=0"),
        (lambda: ts.data_specs(max_noise=1.5), "max_noise=1.5"),
        (lambda: ts.data_specs(max_nan_fraction=2.0), "max_nan_fraction=2.0"),
        (lambda: ts.data_specs(task="ranking"), "task=['ranking']"),
        (lambda: ts.priors(families=["cauchy"]), "families=['cauchy']"),
        (lambda: ts.priors(min_scale=0.0), "min_scale=0.0"),
        (lambda: ts.architectures(max_depth=-1), "max_depth=-1"),
        (lambda: ts.architectures(layer_kinds=["Conv2D"]), "layer_kinds=['Conv2D']"),
        (lambda: ts.architectures(max_variational_layers=-1), "max_variational_layers=-1"),
        (lambda: ts.heads(task="count", families=["normal"]), "families=['normal']"),
        (lambda: ts.posteriors(kl_weight=0.0), "kl_weight=0.0"),
        (lambda: ts.model_specs(defects=["typo"]), "defects=['typo']"),
        (lambda: ts.model_specs(dtypes="float16"), "dtypes='float16'"),
        (lambda: ts.model_specs(keras=4), "keras=[4]"),
        (lambda: ts.model_specs(keras=3, defects=["wrong_signature"]), "defects=['wrong_signature']"),
        (lambda: ts.optimizers(learning_rates={"adam": (1.0, 0.1)}), "learning_rates['adam'][0]=1.0"),
        (lambda: ts.optimizers(learning_rates={"adamw": (0.1, 1.0)}), "learning_rates=['adamw']"),
        (lambda: ts.configs(regime="wild"), "regime=['wild']"),
    ],
)
def test_bad_arguments_raise_invalid_argument_naming_name_and_value(strategy, shown):
    with pytest.raises(InvalidArgument) as info:
        find(strategy(), lambda s: True, settings=settings(**_QUIET))
    assert shown in str(info.value)


def test_data_is_finite_unless_missing_values_are_asked_for():
    import numpy as np

    from tfpcheck._search import check_target

    finite = find(ts.data_specs(max_constant_features=1, max_duplicated_features=1),
                  lambda d: d.constant_features and d.duplicated_features, settings=settings(**_QUIET))
    assert np.isfinite(ts.make_arrays(finite)[0]).all()
    missing = find(ts.data_specs(max_nan_fraction=0.2), lambda d: d.nan_fraction >= 0.2,
                   settings=settings(**_QUIET))
    assert np.isnan(ts.make_arrays(missing)[0]).any()
    # The engine refuses NaN data with a message naming the target and the fix, no crash.
    spec = ts.ModelSpec(data=missing)
    report = check_target(ts.spec_target(spec)[0], max_examples=1)
    assert report.status == "error" and "NaN" in report.error and "impute" in report.error


def test_high_lr_is_a_multiple_of_a_rate_that_trains_the_spec():
    """Not a fixed number a rule could read back: SGD at HIGH_LR_FACTORS times the drawn rate
    (brought into SGD's healthy range)."""
    from tfpcheck.strategies._internal.defects import HIGH_LR_FACTORS
    from tfpcheck.strategies._internal.optimizers import HEALTHY_LEARNING_RATES

    lo, hi = HEALTHY_LEARNING_RATES["sgd"]
    seen = set()

    @settings(max_examples=30, derandomize=True, **_QUIET)
    @given(ts.model_specs(defects=["high_lr"]))
    def check(spec):
        rate = spec.optimizer.learning_rate
        assert spec.optimizer.optimizer == "sgd" and spec.optimizer.clipnorm is None
        factors = [f for f in HIGH_LR_FACTORS if lo * f * 0.999 <= rate <= hi * f * 1.001]
        assert factors, rate
        seen.add(round(rate, 6))

    check()
    assert len(seen) > 3  # it varies with the draw


def test_healthy_sgd_draws_keep_their_effective_rate_within_reach():
    """The measured carve-out (specs.SGD_MAX_EFFECTIVE_RATE, FLOORLESS_SCALE_HEADS): only the
    default rates are capped; rates asked for through ``optimizer=`` are drawn as asked."""
    from tfpcheck.strategies._internal.specs import (
        FLOORLESS_ADAPTIVE_MAX_RATES,
        FLOORLESS_SCALE_HEADS,
        FLOORLESS_SGD_MAX_EFFECTIVE_RATE,
        SGD_MAX_EFFECTIVE_RATE,
    )
    capped = []

    def within_reach(spec):
        o = spec.optimizer
        floorless = spec.head.family in FLOORLESS_SCALE_HEADS
        if o.optimizer == "sgd":
            cap = FLOORLESS_SGD_MAX_EFFECTIVE_RATE if floorless else SGD_MAX_EFFECTIVE_RATE
            assert o.learning_rate / (1 - o.momentum) <= cap * 1.0001, spec
        elif floorless:  # a scale with no floor: adaptive rates capped too
            assert o.learning_rate <= FLOORLESS_ADAPTIVE_MAX_RATES[o.optimizer], spec
            capped.append(o.optimizer)

    settings(max_examples=60, derandomize=True, **_QUIET)(
        given(ts.model_specs(task=st.sampled_from(TASKS), optimizer=None))(within_reach))()
    settings(max_examples=30, derandomize=True, **_QUIET)(
        given(ts.model_specs(head=st.sampled_from(FLOORLESS_SCALE_HEADS).map(ts.HeadSpec)))(within_reach))()
    assert {"adam", "rmsprop", "adagrad"} <= set(capped)  # each adaptive optimizer was drawn
    asked = find(ts.model_specs(optimizer=ts.optimizers(names=["sgd"], min_learning_rate=0.5,
                                                        max_learning_rate=1.0)),
                 lambda s: True, settings=settings(**_QUIET))
    assert asked.optimizer.learning_rate >= 0.5


@pytest.mark.parametrize("task", ["regression", "count", "positive", "binary"])
def test_a_users_data_is_never_rescaled_in_the_default_regime(task):
    """Found on a LogNormal regression of the user's positive targets: its failing example ran on
    them times 2.72 ('y_scale=2.72 (yours: 1.0)'), since count and positive rates drew y_scale
    from their own range whatever bounds were passed. Only ``vary=("data",)`` or stress rescale."""
    from tfpcheck.strategies._internal.configs import UserSetup

    user = UserSetup(optimizer="adam", learning_rate=0.01, n_train=200, input_dim=2)
    seen = []

    @settings(max_examples=60, derandomize=True, **_QUIET)
    @given(ts.configs(task=task, user=user))
    def draw(config):
        seen.append((config.x_scale, config.x_offset, config.y_scale, config.y_offset))

    draw()
    assert set(seen) == {(1.0, 0.0, 1.0, 0.0)}
    varied = find(ts.configs(task=task, user=user, vary={"data"}), lambda c: c.y_scale != 1.0,
                  settings=settings(**_QUIET)) if task != "binary" else None
    assert varied is None or varied.y_scale != 1.0


def test_stress_leaves_features_that_are_indices_as_given_and_varies_the_rest():
    """A model with an Embedding reads x as category ids: stress rescaled them (x_offset=1.0 made
    id 19 of 20 invalid, a `builds` failure of a healthy model). Its targets still vary."""
    from tfpcheck.strategies._internal.configs import UserSetup

    user = UserSetup(optimizer="adam", learning_rate=0.01, n_train=200, input_dim=1, x_indices=True)
    seen = []

    @settings(max_examples=60, derandomize=True, **_QUIET)
    @given(ts.configs(task="regression", regime="stress", user=user))
    def draw(config):
        seen.append((config.x_scale, config.x_offset, config.y_scale, config.y_offset))

    draw()
    assert {s[:2] for s in seen} == {(1.0, 0.0)}
    assert any(s[2:] != (1.0, 0.0) for s in seen)
    measured = dataclasses.replace(user, x_indices=False)
    assert find(ts.configs(task="regression", regime="stress", user=measured),
                lambda c: c.x_scale != 1.0, settings=settings(**_QUIET)).x_scale != 1.0


def test_a_users_data_is_subsampled_to_few_sizes_all_rows_first():
    """Few subsample sizes (data.SUBSAMPLE_FRACTIONS), so that examples share ``n_train`` and
    reuse one traced model; which rows are kept still varies. Fails with any size in [n/2, n]."""
    import numpy as np
    from tfpcheck.strategies._internal.configs import UserSetup

    n = 201
    allowed = {201, 151, 101}
    sizes, rows = set(), set()

    @settings(max_examples=80, derandomize=True, **_QUIET)
    @given(ts.configs(user=UserSetup(optimizer="adam", learning_rate=0.01, n_train=n, input_dim=2)),
           ts.from_data(np.arange(n * 2.0).reshape(n, 2), np.arange(n * 1.0)))
    def draw(config, data):
        sizes.add(config.n_train)
        sizes.add(len(data[0]))
        rows.add(tuple(data[1][:5]))

    draw()
    assert sizes == allowed
    assert len(rows) > 3  # the rows kept vary within a size
    assert find(ts.from_data(np.zeros((n, 1)), np.zeros(n)), lambda d: True,
                settings=settings(**_QUIET))[0].shape == (n, 1)  # shrinks to every row
    with pytest.raises(InvalidArgument, match="min_fraction"):
        find(ts.from_data(np.zeros((n, 1)), np.zeros(n), min_fraction=0.0), lambda d: True)


def test_a_declared_batch_size_is_the_first_examples_and_the_centre_of_the_rest():
    """``@tfpcheck.model(batch_size=128)``: ``fit``'s batch size is in no model, so the user
    declares it. The first example trains with it, the others with half or twice it, and a
    factory parameter named ``batch_size`` gets each example's (a KL weight of batch/N)."""
    import numpy as np
    import tensorflow as tf
    import tensorflow_probability as tfp
    import tf_keras

    import tfpcheck
    from tfpcheck._search import check_target
    from tfpcheck._target import get_target

    tfd, tfpl = tfp.distributions, tfp.layers
    rng = np.random.default_rng(0)
    x = rng.normal(size=(512, 2)).astype("float32")
    y = (x[:, :1] + 0.3 * rng.normal(size=(512, 1))).astype("float32")
    filled = []

    @tfpcheck.model(data=(x, y), batch_size=128)
    def declared(batch_size):
        filled.append(batch_size)
        model = tf_keras.Sequential([tf_keras.layers.Dense(2), tfpl.DistributionLambda(
            lambda t: tfd.Normal(t[..., :1], 1e-3 + tf.math.softplus(t[..., 1:])))])
        model.compile(tf_keras.optimizers.Adam(0.01), loss=lambda y, d: -d.log_prob(y))
        return model

    configs = []
    report = check_target(get_target(declared), max_examples=8, steps=30,
                          progress=lambda stage, c: configs.append(c) if stage == "example" else None)
    assert report.status == "passed", report.to_dict()
    sizes = [c["batch_size"] for c in configs if c]
    assert sizes[0] == 128 and set(sizes) <= {64, 128, 256} and len(set(sizes)) > 1, sizes
    assert set(filled) <= {64, 128, 256} and 128 in filled

    @tfpcheck.model(batch_size=0)
    def refused(input_dim):
        raise AssertionError("never built")

    bad = check_target(get_target(refused))
    assert bad.status == "error" and "batch_size=0" in bad.error and "positive int" in bad.error
