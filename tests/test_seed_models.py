"""The field guide's models, checked through the public API as a user would."""

from __future__ import annotations

import pytest

import tfpcheck

SEED = "examples/seed_models.py"


def found(report: tfpcheck.Report) -> set[tuple[str, str]]:
    (target,) = report.targets
    return {(f.invariant, f.cause) for f in target.violations}


def test_example2_raw_scale_and_broadcast_loc():
    result = found(tfpcheck.check(f"{SEED}::example2", max_examples=1))
    assert ("positive_scales", "parameterization") in result
    assert ("loss_shape", "shape_broadcast") in result


def test_example3_wrong_posterior_signature_does_not_build():
    assert found(tfpcheck.check(f"{SEED}::example3", max_examples=1)) == {
        ("builds", "tfp_layer_misuse")
    }


@pytest.mark.parametrize("name", ["example1_keras3", "example2_keras3", "example3_keras3"])
def test_tf_keras_on_keras3_is_a_keras_version_error(name):
    assert found(tfpcheck.check(f"{SEED}::{name}", max_examples=1)) == {("builds", "keras_version")}


def test_example1_under_stress_fails_to_learn_raw_data():
    report = tfpcheck.check(f"{SEED}::example1", max_examples=8, regime="stress")
    result = found(report)
    assert result, report.summary()
    assert result <= {(i, c) for i in ("learns", "no_divergence", "finite_loss")
                      for c in ("data_scale", "prior_mismatch")}, result
    (finding, *_) = report.targets[0].violations
    # The shrunk configuration keeps only what matters: raw (unscaled or off-centre) data.
    config = tfpcheck.Config.from_dict(finding.config)
    assert config.x_scale != 1.0 or config.x_offset != 0.0 or config.y_scale != 1.0 or (
        config.y_offset != 0.0
    )


@pytest.mark.parametrize("name", ["example1_fixed", "example2_fixed", "example3_fixed"])
def test_fixed_twins_hold_every_invariant(name):
    report = tfpcheck.check(f"{SEED}::{name}", max_examples=2, seed=3)
    assert report.passed, report.summary()


def test_example1_twin_handles_raw_data_under_stress():
    report = tfpcheck.check(f"{SEED}::example1_fixed", max_examples=3, seed=3, regime="stress")
    assert report.passed, report.summary()


def test_reproduce_snippet_reproduces_the_finding():
    report = tfpcheck.check(f"{SEED}::example2", max_examples=1)
    finding = report.targets[0].violations[0]
    namespace: dict[str, object] = {}
    with pytest.raises(AssertionError, match=finding.invariant):
        exec(finding.reproduce, namespace)  # noqa: S102 - the snippet a user would paste
