"""What a report says: ``data=`` refused unless it is usable, one root per failure with its
echoes as consequences, and the JSON and text fields of PRODUCT.md's report. Hand-made
verdicts, traces and findings throughout; brief trainings for the user's data and beside a
refused target."""

from __future__ import annotations

import json

import numpy as np
import pytest

import tfpcheck
from tfpcheck._checks import Verdict
from tfpcheck._config import Config
from tfpcheck._invariants import INVARIANTS, REGISTRY, group
from tfpcheck._plugin.report import merge
from tfpcheck._render import finding_text, target_text
from tfpcheck._report import Finding, Report, TargetReport
from tfpcheck._search import findings_for
from tfpcheck._target import Target, raise_if_invalid, renamed
from tfpcheck._trace import Trace
from tfpcheck.errors import InvalidArgument

# ---------------------------------------------------------------------------------- data=


def tiny_factory(input_dim):
    return None


X, Y = np.zeros((8, 2)), np.zeros(8)


def _refusal(data):
    """The decorator's deferred refusal of ``data`` (raised where the target is checked)."""
    tfpcheck.model(data=data)(tiny_factory)
    target = tiny_factory.__tfpcheck_target__
    with pytest.raises(InvalidArgument) as err:
        raise_if_invalid(target)
    with pytest.raises(InvalidArgument):  # built directly, a Target refuses at once
        Target(tiny_factory, target.name, data=data)
    return str(err.value)


def test_x_alone_is_refused_naming_the_factory():
    message = _refusal(X)
    assert "tiny_factory" in message
    assert "data=ndarray(shape=(8, 2), dtype=float64)" in message
    assert "data=(x_train, y_train)" in message
    assert "\n" not in message


@pytest.mark.parametrize("data, fragment", [
    ({"x": X, "y": Y}, "data=dict"),
    ((X, Y, Y), "not a pair"),
    ((X, np.zeros(7)), "x has 8 rows and y has 7"),
    ((np.array(["a"] * 8), Y), "not a numeric one"),
    ("x.csv", "data=str"),
    ((np.float64(1.0), Y), "at least one row"),
    (([[1.0, 2.0], [3.0]], [1.0, 2.0]), "can't be read as an array"),
    (({"a": X, "b": np.array(["s"] * 8)}, Y), "its input 'b' is ndarray(shape=(8,), dtype=<U1)"),
    (({"a": X, "b": X[:5]}, Y), "its inputs have different numbers of rows ([5, 8])"),
    (({}, Y), "x is an empty dict"),
    ((X, {"price": Y, "sold": Y}), "y is a dict of targets, one per output (['price', 'sold'])"),
])
def test_unusable_data_is_refused(data, fragment):
    message = _refusal(data)
    assert "tiny_factory" in message and fragment in message


@pytest.mark.parametrize("x, width", [([X, X[:, :1]], 3), ((X, X), 4), ({"a": X, "b": X[:, 0]}, 3)])
def test_one_array_per_input_is_packed_into_one_x(x, width):
    target = Target(tiny_factory, "t", data=(x, Y))
    assert target.data[0].shape == (8, width) and len(target.inputs.keys) == 2
    assert renamed(target, "u", None).inputs == target.inputs  # replace() keeps the layout


def test_rows_given_as_a_list_of_arrays_are_rows_not_inputs():
    rows = [np.array([1.0, 2.0]), np.array([3.0, 4.0]), np.array([5.0, 6.0])]
    tfpcheck.model(data=(rows, [0.5, 1.5, 2.5]))(tiny_factory)
    target = tiny_factory.__tfpcheck_target__
    assert target.invalid is None and target.data[0].shape == (3, 2)


def test_a_refused_target_is_reported_as_its_error_and_the_others_are_checked():
    """One bad decorator argument costs its own target only (check reports it, runs the rest)."""
    from tests import models

    tfpcheck.model(data=({"a": X, "b": X[:5]}, Y))(tiny_factory)
    report = tfpcheck.check(tiny_factory, models.healthy_normal, task="regression", max_examples=1,
                            steps=50)
    bad, good = report.targets
    assert bad.status == "error" and bad.examples == 0
    assert bad.error.startswith(f"{bad.target}: data=") and bad.error.count(bad.target) == 1
    assert good.status == "passed" and good.examples == 1


def test_lists_and_tensor_likes_are_accepted_as_arrays():
    tfpcheck.model(data=([[1.0, 2.0], [3.0, 4.0]], [0.5, 1.5]))(tiny_factory)
    x, y = tiny_factory.__tfpcheck_target__.data
    assert isinstance(x, np.ndarray) and x.shape == (2, 2) and y.shape == (2,)
    target = Target(tiny_factory, "t", data=[X, Y])  # a list pair reaches the engine as a tuple
    assert isinstance(target.data, tuple) and target.data[0] is X


def test_no_data_stays_none():
    assert Target(tiny_factory, "t").data is None


def test_the_users_data_is_what_trains():
    """A list pair is the data the engine trains on, not generated data (one brief training)."""
    from tests import models
    from tfpcheck._engine import run_config

    rng = np.random.default_rng(0)
    x = rng.standard_normal((40, 3)).tolist()
    y = [[v] for v in rng.standard_normal(40).tolist()]
    target = Target(models.healthy_normal, "healthy_normal", data=(x, y), vary=frozenset())
    trace = run_config(target, Config(n_train=40, input_dim=3, steps=10))
    assert trace.target_shape == (40, 1)


# ---------------------------------------------------------------------------- consequences


def bad(name, step=None):
    return Verdict(name, False, f"{name} failed", step)


def test_every_explained_name_is_an_invariant_and_the_table_is_transitive():
    """``explains`` names registered invariants, never itself, and is closed under echoes (if A
    explains B and B explains C, A explains C), so a root absorbs its echoes' echoes too."""
    for inv in REGISTRY.values():
        assert set(inv.explains) <= set(INVARIANTS) - {inv.name}, inv.name
        for b in inv.explains:
            assert set(REGISTRY[b].explains) - {inv.name} <= set(inv.explains), (inv.name, b)


def test_a_broadcast_loss_shape_explains_learns():
    groups = group([bad("loss_shape", 0), Verdict("no_divergence", True), bad("learns", 60)])
    assert [(v.invariant, c) for v, c in groups] == [("loss_shape", ["learns"])]


def test_the_earlier_violation_is_the_root():
    groups = group([bad("finite_loss", 5), bad("positive_scales", 3)])
    assert [(v.invariant, c) for v, c in groups] == [("positive_scales", ["finite_loss"])]


def test_a_root_absorbs_only_what_it_explains():
    groups = group([bad("finite_loss", 2), bad("positive_scales", 7)])
    assert [(v.invariant, c) for v, c in groups] == [("finite_loss", []), ("positive_scales", [])]


def test_same_step_in_registry_order_and_no_step_last():
    groups = group([bad("finite_gradients", 4), bad("finite_loss", 4),
                    bad("predictive_in_domain"), bad("posterior_not_collapsed", 60)])
    assert [(v.invariant, c) for v, c in groups] == [
        ("finite_loss", ["finite_gradients"]),
        ("posterior_not_collapsed", []),
        ("predictive_in_domain", []),
    ]
    groups = group([bad("learns"), bad("posterior_not_collapsed", 60)])
    assert [(v.invariant, c) for v, c in groups] == [("posterior_not_collapsed", ["learns"])]


def test_at_the_same_step_a_cause_comes_before_its_echoes():
    """data_in_support and finite_loss both fail at step 0; the first explains the second."""
    groups = group([bad("finite_loss", 0), bad("data_in_support", 0)])
    assert [(v.invariant, c) for v, c in groups] == [("data_in_support", ["finite_loss"])]


def test_an_echo_is_never_its_own_finding():
    groups = group([bad("data_in_support", 0), bad("finite_loss", 0), bad("finite_gradients", 0),
                    bad("no_divergence", 9), bad("learns", 60), bad("predictive_in_domain", 60)])
    assert [(v.invariant, c) for v, c in groups] == [
        ("data_in_support", ["finite_loss", "finite_gradients", "no_divergence", "learns"]),
        ("predictive_in_domain", []),
    ]


def test_findings_for_reports_the_root_with_its_consequences():
    trace = Trace(
        config=Config(), losses=list(np.linspace(1.0, 20.0, 20)), grad_norms=[1.0] * 20,
        grad_finite=[True] * 20, output_distribution="Normal", loss_shape=(32, 32),
        batch_size=32, target_shape=(256, 1),
    )
    user = {**Config().to_dict(), "learning_rate": 0.001}
    findings = findings_for(Target(tiny_factory, "t"), trace, ("loss_shape", "no_divergence"),
                            user_config=user)
    assert [(f.invariant, f.consequences) for f in findings] == [("loss_shape", ["no_divergence"])]
    assert findings[0].user_config == user
    assert "consequences: no_divergence" in findings[0].explain()


# -------------------------------------------------------------------------------- report


def finding(**kw):
    values = dict(
        invariant="no_divergence", cause="optimizer_settings", message="the loss went up",
        step=12, config=Config().to_dict(), evidence={"peak": 9.5}, fix="lower the learning rate",
        reproduce="import tfpcheck",
    )
    return Finding(**{**values, **kw})


def test_a_finding_marks_what_differs_from_the_users_config():
    user = {**Config().to_dict(), "learning_rate": 0.001}
    text = finding_text(finding(user_config=user, consequences=["learns"]), full=True)
    assert "learning_rate=0.01 (yours: 0.001)" in text
    assert "optimizer='adam'," in text and "(yours: 'adam')" not in text
    assert "consequences: learns" in text
    assert "minimal config" not in text


def test_on_the_users_data_only_the_fields_that_apply_to_it_are_shown():
    """noise draws generated data; the rescaling fields matter where they changed the user's."""
    users_data = {"optimizer": "adam", "learning_rate": 0.01, "n_train": 256, "x_scale": 1.0,
                  "x_offset": 0.0, "y_scale": 1.0, "y_offset": 0.0}
    text = finding_text(finding(user_config=users_data), full=True)
    assert "noise=" not in text and "x_scale=" not in text and "y_offset=" not in text
    assert "n_train=256" in text and "learning_rate=0.01" in text
    rescaled = finding_text(finding(config=Config(y_scale=1000.0).to_dict(), user_config=users_data),
                            full=True)
    assert "y_scale=1000.0 (yours: 1.0)" in rescaled and "x_scale=" not in rescaled
    generated = finding_text(finding(user_config={"optimizer": "adam", "learning_rate": 0.01}), full=True)
    assert "noise=0.3" in generated and "x_scale=1.0" in generated  # generated data: all apply


def test_without_the_users_config_the_minimal_config_is_shown():
    text = finding_text(finding(config=Config(learning_rate=0.1).to_dict()), full=True)
    assert "minimal config: learning_rate=0.1" in text
    assert "yours" not in text and "consequences" not in text


def test_json_report_has_the_schemas_fields(tmp_path):
    f = finding(consequences=["learns"], confirmed=True,
                intervention={"changed": {"learning_rate": 0.001}, "result": "held"},
                user_config={"learning_rate": 0.001})
    report = Report([TargetReport("m.py::bnn", "failed", 3, 1.5, [f], task="regression",
                                  notes=["learns inconclusive: still improving at the cap"])])
    path = tmp_path / "report.json"
    report.write_json(path)
    target = json.loads(path.read_text())["targets"][0]
    assert target["task"] == "regression"
    assert target["notes"] == ["learns inconclusive: still improving at the cap"]
    v = target["violations"][0]
    assert v["consequences"] == ["learns"] and v["confirmed"] is True
    assert v["intervention"] == {"changed": {"learning_rate": 0.001}, "result": "held"}
    assert v["user_config"] == {"learning_rate": 0.001}
    plain = TargetReport("m.py::ok", "passed").to_dict()
    assert plain["task"] is None and plain["notes"] == []


def test_notes_print_under_the_status_line():
    t = TargetReport("m.py::bnn", "passed", 2, 1.0, task="count", notes=["inferred task"])
    lines = target_text(t).splitlines()
    assert lines[0].startswith("PASSED") and lines[1] == "    note: inferred task"


def test_an_error_in_a_declaration_is_not_told_to_fix_the_factory():
    """A misspelt task or a factory parameter without a strategy printed its own fix and then
    "Fix the factory so that it builds and returns a model tfpcheck can train"."""
    said = []
    for kwargs in ({"task": "regresion"}, {"task": None}):
        def factory(hidden_units):
            return None
        with pytest.raises(InvalidArgument) as raised:
            Target(factory, "m.py::f", **kwargs)
        said.append(target_text(TargetReport("m.py::f", "error", error=str(raised.value))))
    assert all("Fix: " in text and "Fix the factory" not in text for text in said), said
    hung = target_text(TargetReport("m.py::f", "error", error="m.py::f ran past the time limit of 5s"))
    assert "Fix the factory so that it builds" in hung


def test_merge_carries_task_notes_and_new_finding_fields():
    shard = TargetReport("m.py::bnn", "failed", 2, 1.0, [finding(consequences=["learns"])],
                         task="regression", notes=["a", "b"]).to_dict()
    other = TargetReport("m.py::bnn", "passed", 1, 0.5, task="regression", notes=["b", "c"])
    merged = merge([json.loads(json.dumps(shard)), other.to_dict()])
    assert merged.task == "regression" and merged.notes == ["a", "b", "c"]
    assert merged.status == "failed" and merged.examples == 3
    assert merged.violations[0].consequences == ["learns"]


def test_notes_of_one_kind_with_other_numbers_are_one_note_counted():
    """Each example measures its own numbers: the same note with other numbers is counted, an
    identical one is not, and notes of other kinds stay apart."""
    from tfpcheck._notes import Notes

    notes = Notes()
    notes.update([
        "learns: inconclusive: after 1600 steps its data term fell 0.237 per example",
        "learns: inconclusive: after 1600 steps its data term fell 1.2e-05 per example",
        "learns: inconclusive: after 1600 steps its data term fell 0.237 per example",
        "positive_scales: not applicable (no scale)",
        "positive_scales: not applicable (no scale)",
        "task inferred: regression",
    ])
    assert notes.lines() == [
        "learns: inconclusive: after 1600 steps its data term fell 0.237 per example (and 1 more "
        "like it in other examples, with other numbers)",
        "positive_scales: not applicable (no scale)",
        "task inferred: regression",
    ]
