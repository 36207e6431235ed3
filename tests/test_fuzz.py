"""``tfpcheck fuzz``: the scheduler and the database on their own, then whole runs as a user
starts them (the command line, spawned worker processes, real TensorFlow training).

The Ray and Redis runs are in ``test_fuzz_cluster.py``.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from hypothesis.database import DirectoryBasedExampleDatabase

from tfpcheck._database import WriteOnlyDatabase
from tfpcheck._fuzz import collect, ledger
from tfpcheck._fuzz.options import parse_budget
from tfpcheck._fuzz.results import junit_xml
from tfpcheck._fuzz.schedule import FIRST_ROUND, SATURATED, Scheduler
from tfpcheck.errors import UsageError

ROOT = Path(__file__).resolve().parent.parent
SEEDS = "examples/seed_models.py"
HANGS = "tests/fuzz_models/hangs.py"
DIES = "tests/fuzz_models/dies.py"


def fuzz(*args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """``tfpcheck fuzz ARGS`` from the project root, as a user runs it."""
    return subprocess.run(
        [sys.executable, "-m", "tfpcheck", "fuzz", *args], cwd=ROOT, capture_output=True,
        text=True, timeout=timeout, env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )


def _interruptible() -> None:
    """SIGINT back to its default in the child: a test run started in the background by a
    non-interactive shell (``cmd &``, as CI scripts do) ignores SIGINT, and a child inherits an
    ignored signal -- Python then installs no KeyboardInterrupt handler and Ctrl-C is lost."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_DFL)


def start_fuzz(*args: str, log: Path) -> subprocess.Popen[str]:
    with log.open("w") as out:
        return subprocess.Popen([sys.executable, "-m", "tfpcheck", "fuzz", *args], cwd=ROOT,
                                stdout=out, stderr=subprocess.STDOUT, text=True,
                                preexec_fn=_interruptible)


def report(directory: Path) -> dict[str, Any]:
    return json.loads((directory / "report.json").read_text())


def by_target(rep: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {t["target"]: t for t in rep["targets"]}


# -- the parts ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "seconds"), [("90s", 90), ("30m", 1800), ("8h", 28800),
                                               ("1h30m", 5400), ("45", 45)])
def test_budget_durations(text: str, seconds: float) -> None:
    assert parse_budget(text) == seconds


@pytest.mark.parametrize("text", ["0", "5x", "m", "-3m", "1h 30m"])
def test_bad_budget_is_a_usage_error_naming_it(text: str) -> None:
    with pytest.raises(UsageError, match="--budget"):
        parse_budget(text)


def test_a_file_means_every_decorated_factory_read_without_importing_it(tmp_path: Path) -> None:
    (tmp_path / "models.py").write_text(
        "import tfpcheck\nfrom tfpcheck import model\nraise SystemExit('imported')\n"
        "@tfpcheck.model(task='count')\ndef a(): ...\n@model\ndef b(): ...\n"
        "def helper(): ...\n@other.model\ndef c(): ...\n"
    )
    sub = tmp_path / "sub"
    sub.mkdir()
    (sub / "more.py").write_text("import tfpcheck\n@tfpcheck.model()\ndef d(): ...\n")
    path = (tmp_path / "models.py").as_posix()
    assert collect.fuzz_targets([path]) == [f"{path}::a", f"{path}::b"]
    assert collect.fuzz_targets([str(tmp_path)]) == [f"{path}::a", f"{path}::b",
                                                     f"{sub.as_posix()}/more.py::d"]
    assert collect.fuzz_targets([f"{path}::helper"]) == [f"{path}::helper"]
    with pytest.raises(UsageError, match="missing.py.*no such file"):
        collect.fuzz_targets([str(sub / "missing.py")])
    (sub / "none.py").write_text("x = 1\n")
    with pytest.raises(UsageError, match="none.py.*no @tfpcheck.model factory"):
        collect.fuzz_targets([str(sub / "none.py")])


def test_no_arguments_means_the_pyproject_models(tmp_path: Path, monkeypatch: Any) -> None:
    (tmp_path / "pyproject.toml").write_text('[tool.tfpcheck]\nmodels = ["m.py::f"]\n')
    monkeypatch.chdir(tmp_path)
    assert collect.fuzz_targets([]) == ["m.py::f"]
    (tmp_path / "pyproject.toml").write_text("[tool.other]\n")
    with pytest.raises(UsageError, match="no tfpcheck targets"):
        collect.fuzz_targets([])


def test_saved_failures_are_never_deleted_by_a_search_that_does_not_replay_them(tmp_path: Path) -> None:
    db = DirectoryBasedExampleDatabase(str(tmp_path))
    violation = {"invariant": "learns", "cause": "data_scale", "config": {"seed": 3}, "message": "m"}
    ledger.save(db, "a.py::f", [violation])
    ledger.save(db, "a.py::f", [violation])  # the same failure saved twice is one entry
    ledger.save(db, "a.py::g", [{**violation, "config": {"seed": 4}}])
    assert ledger.load(db, "a.py::f") == [{"invariant": "learns", "cause": "data_scale",
                                           "config": {"seed": 3}}]
    # A fuzz round's view: what it saves lands; it reads nothing back, so deletes nothing.
    view = WriteOnlyDatabase(db)
    view.save(b"k", b"v")
    assert list(view.fetch(b"k")) == [] and list(db.fetch(b"k")) == [b"v"]
    view.delete(b"k", b"v")
    assert list(db.fetch(b"k")) == [b"v"]
    assert [ledger.label(3, 3), ledger.label(1, 3), ledger.label(0, 3)] == [
        "reproducible", "flaky", "not reproduced"]


def _finish(sched: Scheduler, spec: str, *, seconds: float, examples: int,
            outcomes: list[list[Any]], violations: list[dict[str, Any]] | None = None) -> None:
    t = sched.state(spec)
    t.running -= 1
    t.seconds += seconds
    t.train_seconds += seconds
    t.examples += examples
    t.reports.append({"violations": violations or [], "status": "failed" if violations else "passed"})
    t.observe(outcomes)


def test_every_target_first_then_novelty_earns_time_and_a_failure_yields() -> None:
    sched = Scheduler(["a", "b", "c"], seed=0, steps=None, runs=3)
    first = [sched.next_job(1000) for _ in range(3)]
    assert [j.target for j in first] == ["a", "b", "c"]
    assert {j.max_examples for j in first} == {FIRST_ROUND}
    # a: one kind of behaviour; b: a new kind in every example; c: fails the same way each time
    _finish(sched, "a", seconds=10, examples=3, outcomes=[[[], [], "falling"]] * 3)
    _finish(sched, "b", seconds=10, examples=3,
            outcomes=[[[], [], "falling"], [[], [], "flat"], [["learns"], ["data_scale"], "flat"]])
    _finish(sched, "c", seconds=10, examples=3, outcomes=[[["builds"], ["keras_version"], "none"]] * 3,
            violations=[{"invariant": "builds"}])
    runs = {"a": 0, "b": 0, "c": 0}
    for _ in range(30):
        job = sched.next_job(1000)
        if job is None:
            break
        runs[job.target] += 1
        novel = [[[], [], f"new{runs[job.target]}"]] if job.target == "b" else [[[], [], "falling"]]
        bad = [{"invariant": "builds"}] if job.target == "c" else None
        _finish(sched, job.target, seconds=10, examples=job.max_examples,
                outcomes=[[["builds"], ["keras_version"], "none"]] if job.target == "c" else novel,
                violations=bad)
    assert runs["b"] > runs["a"] > runs["c"]
    c = sched.state("c")
    assert c.retired == "saturated" and runs["c"] <= SATURATED


def test_a_round_is_sized_to_the_time_left() -> None:
    sched = Scheduler(["a"], seed=0, steps=None, runs=3)
    assert sched.next_job(1).max_examples == FIRST_ROUND  # a first round always runs
    assert sched.next_job(1000) is None  # not while the first round is still running
    _finish(sched, "a", seconds=30, examples=3, outcomes=[[[], [], "falling"]])  # 10 s an example
    assert sched.next_job(5) is None
    assert sched.next_job(25).max_examples == 2


def test_junit_has_one_case_per_target_with_failures_and_errors() -> None:
    rep = {"targets": [
        {"target": "m.py::ok", "status": "passed", "seconds": 1.0, "violations": [], "hangs": []},
        {"target": "m.py::bad", "status": "failed", "seconds": 2.0, "hangs": [],
         "violations": [{"invariant": "learns", "cause": "data_scale", "message": "x < y & z",
                         "fix": "f", "reproduce": "r", "replay": {"label": "flaky"}}]},
        {"target": "m.py::hang", "status": "failed", "seconds": 3.0, "violations": [],
         "hangs": [{"message": "killed", "config": {"seed": 1}, "reproduce": None}]},
        {"target": "m.py::err", "status": "error", "seconds": 0.5, "violations": [], "error": "bad data"},
    ]}
    import xml.etree.ElementTree as ET

    suite = ET.fromstring(junit_xml(rep))
    assert suite.get("tests") == "4" and suite.get("failures") == "2" and suite.get("errors") == "1"
    cases = {c.get("name"): c for c in suite.iter("testcase")}
    assert cases["ok"].find("failure") is None
    assert cases["bad"].find("failure").get("message") == "learns: data_scale [flaky]"
    assert "x < y & z" in cases["bad"].find("failure").text
    assert cases["hang"].find("failure").get("type") == "timeout"
    assert cases["err"].find("error").get("message") == "bad data"


@pytest.mark.parametrize("args", [
    ["examples/seed_models.py", "--budget", "0s"],
    ["examples/nowhere.py", "--budget", "1m"],
    ["examples/seed_models.py", "--budget", "1m", "--address", "127.0.0.1:1"],
    ["examples/seed_models.py", "--budget", "1m", "--workers", "0"],
    ["examples/seed_models.py"],
])
def test_a_wrong_call_exits_2_with_one_line_naming_the_option(args: list[str]) -> None:
    run = fuzz(*args, timeout=60)
    assert run.returncode == 2, run.stderr
    assert run.stderr.startswith("tfpcheck: error:") or "usage:" in run.stderr
    assert "Traceback" not in run.stderr


# -- whole runs --------------------------------------------------------------------------------


def test_a_worker_passes_on_the_progress_of_a_training_between_its_stages(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """--timeout counts from the last beat. A healthy example on a loaded machine (the full
    suite beside a Ray cluster) ran past 10 s between two stages and was killed and reported as
    a hang: the engine now beats every 100 training steps and the worker passes the beat on,
    naming the stage and configuration of the last one; a TF kernel that never returns never
    finishes its 100 steps."""
    from tfpcheck._fuzz import worker
    from tfpcheck._fuzz.jobs import Job, WorkerSettings

    monkeypatch.setattr(worker, "BEAT_EVERY", 0.0)
    events: list[tuple[Any, ...]] = []
    runner = worker.Runner(WorkerSettings(database=str(tmp_path / "db")))
    runner.run(Job(1, "search", f"{HANGS}::poisson_healthy", max_examples=1, steps=400), events.append)
    beats = [(e[2], json.dumps(e[3], sort_keys=True)) for e in events if e[0] == "beat"]
    repeated = [b for b, after in zip(beats, beats[1:], strict=False) if b == after and b[0] != "load"]
    assert len(repeated) >= 3, beats  # 400 steps of model and twin: windows beat in between


def test_a_hang_or_a_crash_is_killed_reported_and_the_other_target_finishes(tmp_path: Path) -> None:
    """poisson_nan_rate calls TF's Poisson kernel on a NaN rate in its forward pass: the kernel
    never returns and SIGALRM cannot reach it. crashes ends its process (os._exit). The first worker is
    killed at --timeout, the second dies; both are reported and replaced, and the healthy target
    beside them trains to the end of the budget, through a recycled worker."""
    start = time.monotonic()
    run = fuzz(HANGS, f"{DIES}::crashes", "--budget", "45s", "--workers", "2", "--timeout", "10",
               "--seed", "1", "--recycle-examples", "8",
               "--database", str(tmp_path / "db"), "--report-dir", str(tmp_path / "rep"))
    elapsed = time.monotonic() - start
    assert run.returncode == 1, run.stdout + run.stderr
    targets = by_target(report(tmp_path / "rep"))
    hung = targets[f"{HANGS}::poisson_nan_rate"]
    assert hung["status"] == "failed" and len(hung["hangs"]) == 1
    assert hung["hangs"][0]["stage"] == "probe" and "--timeout=10s" in hung["hangs"][0]["message"]
    assert hung["hangs"][0]["kind"] == "timeout"
    # a worker that dies (os._exit in the factory) is replaced and its example reported
    died = targets[f"{DIES}::crashes"]
    assert died["status"] == "failed" and [h["kind"] for h in died["hangs"]] == ["died"]
    assert "exit code 3" in died["hangs"][0]["message"] and "DIED" in run.stderr
    healthy = targets[f"{HANGS}::poisson_healthy"]
    assert healthy["status"] == "passed" and healthy["examples"] > FIRST_ROUND
    # its worker was recycled (--recycle-examples 8) and the next round ran in a fresh one
    assert "recycled after" in run.stderr and healthy["examples"] > 8 and not healthy["hangs"]
    assert "KILLED" in run.stderr and "poisson_nan_rate" in run.stderr
    assert elapsed < 45 + 60, "the run ended long after its budget"
    junit = (tmp_path / "rep" / "junit.xml").read_text()
    assert 'type="timeout"' in junit
    assert "poisson_nan_rate" in (tmp_path / "rep" / "report.html").read_text()


def test_two_concurrent_runs_on_one_database_lose_no_failure_and_the_next_replays_them_first(
    tmp_path: Path,
) -> None:
    """Two fuzz processes with two workers each save into one directory database at once;
    every failure either reports is in the database afterwards, and a third run replays each
    of them (several times, labelled) before it searches."""
    db = tmp_path / "db"
    targets = [f"{SEEDS}::example3", f"{SEEDS}::example2", f"{SEEDS}::example2_fixed"]
    procs = [
        start_fuzz(*targets, "--budget", "45s", "--workers", "2", "--seed", str(seed),
                   "--database", str(db), "--report-dir", str(tmp_path / f"rep{seed}"),
                   log=tmp_path / f"log{seed}")
        for seed in (1, 2)
    ]
    for p in procs:
        assert p.wait(timeout=300) == 1, (tmp_path / "log1").read_text()[-3000:]
    saved = DirectoryBasedExampleDatabase(str(db))
    found: dict[str, set[str]] = {}
    for seed in (1, 2):
        rep = by_target(report(tmp_path / f"rep{seed}"))
        assert rep[f"{SEEDS}::example3"]["status"] == "failed"
        assert rep[f"{SEEDS}::example2"]["status"] == "failed"
        assert rep[f"{SEEDS}::example2_fixed"]["status"] == "passed"
        for name, t in rep.items():
            for v in t["violations"]:
                found.setdefault(name, set()).add(json.dumps(v["config"], sort_keys=True))
    for name, configs in found.items():
        in_db = {json.dumps(e["config"], sort_keys=True) for e in ledger.load(saved, name)}
        assert configs <= in_db, f"{name}: a failure was lost from the shared database"

    run = fuzz(*targets, "--budget", "40s", "--workers", "2", "--seed", "3",
               "--database", str(db), "--report-dir", str(tmp_path / "rep3"))
    rep = report(tmp_path / "rep3")
    assert rep["fuzz"]["replayed_first"] == sum(len(ledger.load(saved, n)) for n in targets)
    lines = run.stderr.splitlines()
    replays = [i for i, line in enumerate(lines) if " REPLAY " in line]
    founds = [i for i, line in enumerate(lines) if " FOUND " in line]
    assert replays and (not founds or replays[0] < founds[0])
    t = by_target(rep)[f"{SEEDS}::example3"]
    assert t["replays"] and all(r["label"] in ("reproducible", "flaky", "not reproduced")
                                for r in t["replays"])
    assert t["status"] == "failed"
    assert any(v.get("replay", {}).get("label") == "reproducible" for v in t["violations"])


def test_ctrl_c_writes_the_reports_of_what_ran(tmp_path: Path) -> None:
    import signal

    log = tmp_path / "log"
    proc = start_fuzz(f"{SEEDS}::example2_fixed", "--budget", "10m", "--workers", "1", "--seed", "1",
                      "--database", str(tmp_path / "db"), "--report-dir", str(tmp_path / "rep"), log=log)
    deadline = time.monotonic() + 180
    while not re.search(r" [1-9]\d* examples \(", log.read_text()):  # a progress line: it trains
        assert time.monotonic() < deadline and proc.poll() is None, log.read_text()[-2000:]
        time.sleep(1)
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=60) == 0, log.read_text()[-2000:]
    rep = report(tmp_path / "rep")
    assert rep["fuzz"]["interrupted"] is True
    assert by_target(rep)[f"{SEEDS}::example2_fixed"]["examples"] >= 1
    assert "interrupted: writing the reports" in log.read_text()
    assert (tmp_path / "rep" / "junit.xml").exists() and (tmp_path / "rep" / "report.html").exists()


def test_progress_is_a_live_table_on_a_terminal_and_plain_lines_otherwise() -> None:
    import io

    from tfpcheck._fuzz.progress import Progress

    sched = Scheduler(["m.py::a", "m.py::b"], seed=0, steps=None, runs=3)
    sched.next_job(100)
    _finish(sched, "m.py::a", seconds=2, examples=3, outcomes=[[["learns"], ["data_scale"], "flat"]],
            violations=[{"invariant": "learns"}])
    live = io.StringIO()
    view = Progress(60, stream=live, live=True)
    view.update(sched.targets, {0: object()}, force=True)
    view.update(sched.targets, {}, force=True)
    text = live.getvalue()
    assert "\x1b[3F\x1b[J" in text  # the second table redraws over the first (3 lines)
    assert "m.py::a" in text and "FAILED" in text and "m.py::b" in text
    plain = io.StringIO()
    Progress(60, stream=plain, live=False).update(sched.targets, {0: object()}, force=True)
    line = plain.getvalue()
    assert "\x1b" not in line and line.count("\n") == 1
    assert "3 examples" in line and "1 of 2 targets failing" in line and "1 workers busy" in line


def test_a_target_whose_rounds_were_all_cut_off_is_not_reported_passed() -> None:
    from tfpcheck._fuzz.results import target_report
    from tfpcheck._fuzz.schedule import TargetState

    t = TargetState("m.py::f", 0, rounds=1, notes=["a search round was cut off at the end of the budget"])
    rep = target_report(t)
    assert rep["status"] == "error" and "not checked" in rep["error"] and "cut off" in rep["error"]


def test_notes_repeated_by_rounds_are_said_once() -> None:
    from tfpcheck._fuzz.results import target_report
    from tfpcheck._fuzz.schedule import TargetState

    t = TargetState("m.py::f", 0, rounds=3)
    t.reports = [{"violations": [], "notes": ["task declared", f"learns: inconclusive (gain {g} errors)"]}
                 for g in ("-0.4", "-12", "2.5e-3")]
    assert target_report(t)["notes"] == [
        "task declared", "learns: inconclusive (gain -0.4 errors) [3 rounds, numbers differ]"]


def test_the_fuzz_loop_never_imports_tensorflow() -> None:
    """Only workers import TF: the parent stays small and starts at once."""
    code = ("import sys, tfpcheck._fuzz.run, tfpcheck._fuzz.local, tfpcheck._fuzz.rayexec, "
            "tfpcheck._html, tfpcheck._cli; print('tensorflow' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
