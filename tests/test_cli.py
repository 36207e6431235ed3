"""The command line as a user runs it: exit codes, the summary, the JSON report."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SEED = "examples/seed_models.py"


def tfpcheck(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tfpcheck", *args], cwd=cwd, capture_output=True, text=True,
        timeout=600,
    )


def test_buggy_model_exits_1_and_writes_the_report(tmp_path):
    out = tmp_path / "r.json"
    run = tfpcheck("check", f"{SEED}::example2", "--max-examples", "2", "--json", str(out))
    assert run.returncode == 1, run.stderr
    report = json.loads(out.read_text())
    assert set(report) == {"tfpcheck_version", "targets"}
    (target,) = report["targets"]
    assert target["target"] == f"{SEED}::example2"
    assert target["status"] == "failed"
    assert isinstance(target["examples"], int) and isinstance(target["seconds"], float)
    assert "task" in target and isinstance(target["notes"], list)
    found = {(v["invariant"], v["cause"]) for v in target["violations"]}
    assert ("positive_scales", "parameterization") in found
    assert ("loss_shape", "shape_broadcast") in found
    for v in target["violations"]:
        assert set(v) == {"invariant", "cause", "confirmed", "intervention", "consequences",
                          "message", "step", "config", "user_config", "evidence", "fix",
                          "reproduce", "curves"}
        assert "tfpcheck.reproduce(" in v["reproduce"]
    assert "positive_scales violated at step 0 (cause: parameterization, suspected)" in run.stdout


@pytest.mark.parametrize(
    "args, fragment",
    [
        (["check", "nope.py::f"], "no such file 'nope.py'"),
        (["check", f"{SEED}::missing"], "has no callable 'missing'"),
        (["check", f"{SEED}"], "must look like path/to/file.py::factory_name"),
        (["check", f"{SEED}::example2", "--max-examples", "0"], "given: '0'"),
        (["check", f"{SEED}::example2", "--bogus"], "unrecognized arguments: --bogus"),
        (["check", f"{SEED}::example2", "--task", "weird"], "invalid choice: 'weird'"),
    ],
)
def test_usage_errors_exit_2_with_a_one_line_message(args, fragment):
    run = tfpcheck(*args)
    assert run.returncode == 2
    assert fragment in run.stderr
    assert "Traceback" not in run.stderr


def test_a_failure_is_saved_and_replayed_first(tmp_path):
    db = tmp_path / "db"
    args = ["check", f"{SEED}::example1", "--stress", "--max-examples", "6", "--database", str(db)]
    first = tfpcheck(*args)
    assert first.returncode == 1, first.stdout + first.stderr
    assert any(p.is_file() for p in db.rglob("*"))
    # Replayed from the database, the failure needs no search: one example is enough now.
    again = tfpcheck(*args[:-4], "--max-examples", "1", "--database", str(db))
    assert again.returncode == 1, again.stdout
    assert "learns violated" in again.stdout or "no_divergence violated" in again.stdout


@pytest.mark.parametrize("factory, invariant, cause, words", [
    ("poisson_raw_rate", "positive_scales", "parameterization", "log_rate="),
    ("poisson_sqrt_rate", "finite_gradients", "numerical_instability", "the loss was finite but"),
    ("negbin_raw_total_count", "positive_scales", "parameterization", "softplus"),
])
def test_a_poisson_head_whose_weights_went_nan_is_reported_not_hung(factory, invariant, cause, words,
                                                                    tmp_path):
    """TF's Poisson sampler never returns on a NaN rate (tensorflow/tensorflow#55243), and a
    tfp.layers head samples on every forward pass: each of these hung ``check`` for good (the
    NegativeBinomial in the probe's first forward pass) before tfpcheck's Poisson draws returned
    NaN for a NaN rate (``_engine/samplers.py``)."""
    out = tmp_path / "r.json"
    run = subprocess.run(
        [sys.executable, "-m", "tfpcheck", "check", f"tests/models.py::{factory}", "--task", "count",
         "--max-examples", "1", "--seed", "0", "--no-database", "--json", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )
    assert run.returncode == 1, run.stderr[-2000:]
    (target,) = json.loads(out.read_text())["targets"]
    first = target["violations"][0]
    assert (first["invariant"], first["cause"]) == (invariant, cause)
    assert words in first["fix"]
