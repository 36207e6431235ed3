"""The pytest plugin: collection, skipping, running, reports, options, xdist.

Each test runs pytest in a subprocess (``pytester.runpytest_subprocess``), so
TensorFlow is imported there, never in this process.
"""

from __future__ import annotations

import json

import pytest

pytest_plugins = ["pytester"]

MODELS = '''
import tensorflow as tf
import tensorflow_probability as tfp
import tf_keras

import tfpcheck

tfd, tfpl = tfp.distributions, tfp.layers


@tfpcheck.model(task="regression")
def healthy(input_dim):
    return tf_keras.Sequential([
        tf_keras.layers.Dense(2),
        tfpl.DistributionLambda(
            lambda t: tfd.Normal(loc=t[..., :1], scale=1e-3 + tf.math.softplus(0.05 * t[..., 1:]))
        ),
    ])


@tfpcheck.model(task="regression")
def buggy(input_dim):
    return tf_keras.Sequential([
        tf_keras.layers.Dense(2),
        tfpl.DistributionLambda(lambda t: tfd.Normal(loc=t[:, 0], scale=t[:, 1])),
    ])
'''

BROKEN = '''
import tfpcheck


@tfpcheck.model(task="regression")
def broken(input_dim):
    raise RuntimeError("the factory is broken on purpose")
'''

FAST = ["--tfpcheck", "--tfpcheck-max-examples=2", "-p", "no:randomly", "-p", "no:cacheprovider"]
# PRODUCT.md's JSON report schema.
SCHEMA_KEYS = {"target", "status", "task", "examples", "seconds", "notes", "violations"}
FINDING_KEYS = {"invariant", "cause", "confirmed", "intervention", "consequences", "message", "step",
                "config", "user_config", "evidence", "fix", "reproduce", "curves"}


def _report(pytester: pytest.Pytester, name: str = "r.json") -> dict:
    return json.loads((pytester.path / name).read_text())


def _comparable(report: dict) -> list:
    return [
        (t["target"], t["status"], t["examples"],
         [(v["invariant"], v["cause"], json.dumps(v["config"], sort_keys=True))
          for v in t["violations"]])
        for t in report["targets"]
    ]


def test_targets_are_collected_and_skipped_without_the_option(pytester: pytest.Pytester):
    pytester.makepyfile(test_models=MODELS)
    result = pytester.runpytest_subprocess("-v", "-rs", "-p", "no:randomly")
    result.assert_outcomes(skipped=2)
    # collected in a deterministic, name-sorted order (not definition order)
    result.stdout.fnmatch_lines([
        "test_models.py::buggy SKIPPED*", "test_models.py::healthy SKIPPED*",
        "*tfpcheck targets run with --tfpcheck*",
    ])


def test_a_module_without_tensorflow_is_collected_without_importing_it(
    pytester: pytest.Pytester,
):
    pytester.makepyfile(
        test_light='''
import sys
import tfpcheck

@tfpcheck.model(task="regression")
def light(input_dim):
    raise AssertionError("never built without --tfpcheck")

def test_tensorflow_not_imported():
    assert "tensorflow" not in sys.modules
'''
    )
    result = pytester.runpytest_subprocess("-p", "no:randomly")
    result.assert_outcomes(passed=1, skipped=1)


def test_a_tfpcheck_session_freezes_what_lives_to_its_end(pytester: pytest.Pytester):
    """``tfpcheck/_heap.py``: with --tfpcheck the objects alive after collection are exempt from
    the cyclic collector; an ordinary run is left as it is."""
    pytester.makeconftest('''
import gc

def pytest_sessionfinish(session):
    (session.config.rootpath / "frozen.txt").write_text(str(gc.get_freeze_count()))
''')
    pytester.makepyfile(test_plain="def test_ok():\n    assert True\n")
    pytester.runpytest_subprocess("-p", "no:randomly").assert_outcomes(passed=1)
    assert int((pytester.path / "frozen.txt").read_text()) == 0
    pytester.runpytest_subprocess("-p", "no:randomly", "--tfpcheck").assert_outcomes(passed=1)
    assert int((pytester.path / "frozen.txt").read_text()) > 10_000


def test_buggy_fails_with_its_cause_healthy_passes_and_the_json_report(
    pytester: pytest.Pytester,
):
    pytester.makepyfile(test_models=MODELS)
    result = pytester.runpytest_subprocess(
        *FAST, "-p", "no:xdist", "--tfpcheck-report=r.json", "--junitxml=j.xml",
        "--tfpcheck-html=html/r.html", "-v",
    )
    result.assert_outcomes(passed=1, failed=1)
    out = result.stdout.str()
    # -v: a line per training inside a target, before its verdict
    result.stdout.fnmatch_lines(["*tfpcheck test_models.py::healthy: example 1 (*s)*",
                                 "*tfpcheck test_models.py::healthy: example 2 (*s)*",
                                 "*test_models.py::healthy PASSED*"])
    junit = (pytester.path / "j.xml").read_text()
    assert 'name="tfpcheck_report"' in junit and "positive_scales" in junit
    assert "positive_scales" in out and "parameterization" in out
    result.stdout.fnmatch_lines([
        "*minimal config:*", "*evidence:*", "*fix:*", "*tfpcheck.reproduce(*",
        "*= tfpcheck =*", "FAILED *test_models.py::buggy*positive_scales (parameterization)*",
        "PASSED *test_models.py::healthy*",
    ])
    report = _report(pytester)
    assert set(report) == {"tfpcheck_version", "targets"}
    by_name = {t["target"]: t for t in report["targets"]}
    assert sorted(by_name) == ["test_models.py::buggy", "test_models.py::healthy"]
    for t in report["targets"]:
        assert SCHEMA_KEYS <= set(t) and isinstance(t["examples"], int) and t["examples"] >= 1
        assert isinstance(t["seconds"], float)
        for v in t["violations"]:
            assert set(v) == FINDING_KEYS and isinstance(v["config"], dict)
    assert by_name["test_models.py::healthy"]["status"] == "passed"
    buggy = by_name["test_models.py::buggy"]
    assert buggy["status"] == "failed"
    assert {(v["invariant"], v["cause"]) for v in buggy["violations"]} >= {
        ("positive_scales", "parameterization")
    }
    # Each failure carries its training's curves, which --tfpcheck-html draws on one page.
    curves = buggy["violations"][0]["curves"]
    assert curves["loss"] and len(curves["loss"]) == len(curves["grad_norm"])
    assert curves["parameter_ranges"][0]["path"].endswith("scale")
    page = (pytester.path / "html" / "r.html").read_text()
    assert "test_models.py::buggy" in page and "<svg" in page and "parameterization" in page

    # Two xdist workers: the controller still gets every target's result.
    xdist = pytester.runpytest_subprocess(*FAST, "-n", "2", "--tfpcheck-report=r3.json")
    xdist.assert_outcomes(passed=1, failed=1)
    xdist.stdout.fnmatch_lines(["*= tfpcheck =*"])
    assert _comparable(_report(pytester, "r3.json")) == _comparable(report)


def test_a_failure_is_saved_to_the_example_database(pytester: pytest.Pytester):
    pytester.makepyfile(test_models=MODELS)
    result = pytester.runpytest_subprocess(*FAST, "-p", "no:xdist", "-k", "buggy")
    result.assert_outcomes(failed=1, deselected=1)
    database = pytester.path / ".hypothesis" / "tfpcheck"
    assert database.is_dir() and any(p.is_file() for p in database.rglob("*"))


def test_a_factory_that_raises_fails_alone_also_by_option_and_in_shards(
    pytester: pytest.Pytester,
):
    pytester.makepyfile(test_models=MODELS, models=BROKEN)  # models.py: reached by option only
    result = pytester.runpytest_subprocess(
        *FAST, "--tfpcheck-model=models.py::broken", "--tfpcheck-shards=2",
        "--tfpcheck-report=r.json", "-k", "broken or healthy",
    )
    result.assert_outcomes(passed=2, failed=2, deselected=2)
    result.stdout.fnmatch_lines([
        "*tfpcheck target models.py::broken shard 1 of 2*", "*the factory is broken on purpose*",
        "FAILED models.py::broken[[]shard1of2[]]*",
    ])
    targets = {t["target"]: t for t in _report(pytester)["targets"]}
    assert sorted(targets) == ["models.py::broken", "test_models.py::healthy"]
    assert targets["test_models.py::healthy"]["status"] == "passed"
    assert targets["test_models.py::healthy"]["examples"] == 2  # 1 + 1 over the two shards
    assert targets["models.py::broken"]["status"] in ("failed", "error")


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["--tfpcheck-model=nope.py::f"], "nope.py::f"),
        (["--tfpcheck-model=nofactory"], "nofactory"),
        (["--tfpcheck-profile=huge"], "huge"),
        (["--tfpcheck-regime=wild"], "wild"),
        (["--tfpcheck-task=clustering"], "clustering"),
        (["--tfpcheck-max-examples=0"], "'0'"),
        (["--tfpcheck-shards=x"], "'x'"),
    ],
)
def test_bad_options_are_usage_errors_naming_the_value(
    pytester: pytest.Pytester, args: list[str], named: str
):
    result = pytester.runpytest_inprocess("--tfpcheck", *args)  # fails before any TF import
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert named in result.stderr.str()
    assert "Traceback" not in result.stderr.str()


BAD_INPUTS = MODELS + """
import time

import numpy as np


@tfpcheck.model(task="regression")
def not_a_model(input_dim):
    return 42


@tfpcheck.model(task="regression")
def forgot_return(input_dim):
    healthy(input_dim)


@tfpcheck.model(task="regression")
def no_distribution(input_dim):
    return tf_keras.Sequential([tf_keras.layers.Dense(1)])


@tfpcheck.model(task="regression")
def hangs(input_dim):
    time.sleep(120)


_x = np.random.default_rng(0).normal(size=(64, 1))
_y = 2 * _x
_x[3, 0] = np.nan


@tfpcheck.model(task="regression", data=(_x, _y))
def nan_data(input_dim):
    return healthy(input_dim)


@tfpcheck.model(data=([_y, _y * 2, _y], _y))  # a model with three inputs
def several_inputs(input_dim):
    return healthy(input_dim)


@tfpcheck.model(task="regresion")
def misspelt_task(input_dim):
    return healthy(input_dim)
"""


def test_each_bad_input_fails_alone_with_a_clear_message(pytester: pytest.Pytester):
    pytester.makepyfile(test_models=BAD_INPUTS)
    result = pytester.runpytest_subprocess(
        *FAST, "-p", "no:xdist", "--tfpcheck-timeout=5", "--tfpcheck-report=r.json", "-k", "not buggy"
    )
    result.assert_outcomes(passed=1, failed=7)
    out = result.stdout.str()
    assert "the factory returned int, not a tf_keras.Model" in out
    assert "return the Keras model itself from the factory, not an int" in out
    assert "return the model from the factory (a factory without `return model` returns None)" in out
    assert "the model's output is a" in out and "not a tfd.Distribution" in out
    assert "ran past the time limit of 5s" in out
    assert "contains NaN or inf" in out
    # A decorator's bad argument fails its own target when checked, not its file's import.
    assert "data= gives x as 3 arrays, one per input" in out and "the model takes 1" in out
    assert "np.concatenate(xs, axis=1)" in out
    assert "task='regresion' is not one of" in out
    statuses = {t["target"].split("::")[1]: t["status"] for t in _report(pytester)["targets"]}
    assert statuses == {"healthy": "passed", "not_a_model": "failed", "forgot_return": "failed",
                        "no_distribution": "failed",
                        "hangs": "error", "nan_data": "error", "several_inputs": "error",
                        "misspelt_task": "error"}
    assert "test_models.py::hangs: test_models.py::hangs with" not in out  # named once, not twice
    assert "several_inputs: test_models.py::several_inputs" not in out
    plain = pytester.runpytest_subprocess("-p", "no:randomly", "-p", "no:xdist")  # no --tfpcheck
    plain.assert_outcomes(skipped=9)  # the ordinary run collects the file; nothing errors


PYPROJECT_TARGETS = """
[tool.tfpcheck]
models = ["models/seedling.py::healthy"]
"""


def test_targets_named_in_pyproject_are_checked(pytester: pytest.Pytester):
    pytester.makepyprojecttoml(PYPROJECT_TARGETS)
    (pytester.path / "models").mkdir()
    (pytester.path / "models" / "seedling.py").write_text(MODELS)
    result = pytester.runpytest_subprocess(*FAST, "-p", "no:xdist")
    result.assert_outcomes(passed=1)
    assert "models/seedling.py::healthy" in result.stdout.str()


def test_hypothesis_profiles_are_registered():
    import tfpcheck.strategies  # noqa: F401 - registering is part of importing the strategies
    from hypothesis import settings

    budgets = {n: settings.get_profile(f"tfpcheck-{n}").max_examples for n in ("ci", "dev", "nightly")}
    assert budgets == {"ci": 3, "dev": 10, "nightly": 100}
    assert settings.get_profile("tfpcheck-ci").deadline is None
