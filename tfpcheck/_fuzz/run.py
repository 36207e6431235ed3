"""The fuzz loop: hand jobs to idle workers until the budget is spent, kill an example that
outlives ``--timeout``, replace a worker that dies, then write the reports.

The loop itself never imports TensorFlow; workers do (``worker.py``).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, TextIO

from tfpcheck._fuzz import ledger
from tfpcheck._fuzz.jobs import Executor, Job, WorkerSettings
from tfpcheck._fuzz.options import FuzzOptions
from tfpcheck._fuzz.progress import Progress
from tfpcheck._fuzz.results import fuzz_report, write_reports
from tfpcheck._fuzz.schedule import MAX_HANGS, Scheduler, TargetState

__all__ = ["LOAD_LIMIT", "fuzz"]

#: Seconds a worker may take to start and import TensorFlow and the target file (at least
#: ``--timeout``): four TF imports at once on two cores take far longer than one.
LOAD_LIMIT = 180.0
POLL = 0.5


@dataclass
class _Busy:
    job: Job
    started: float
    beat: float
    stage: str = "load"
    config: dict[str, Any] | None = None
    loaded: float | None = None  # when its first training began (the worker had started)


def fuzz(options: FuzzOptions, stream: TextIO | None = None) -> int:
    """Run ``options``; 0 when nothing failed, 1 when something did."""
    from tfpcheck._database import open_database

    database = open_database(options.database)
    sched = Scheduler(list(options.targets), seed=options.seed, steps=options.steps,
                      runs=options.replays)
    saved = 0
    for spec in options.targets:
        entries = ledger.load(database, spec)
        saved += len(entries)
        sched.queue_replay(spec, entries)
    progress = Progress(options.budget, stream)
    progress.event(
        f"{len(options.targets)} targets, {options.workers} {options.executor} workers, budget "
        f"{options.budget:.0f}s, database {options.database}, {saved} saved failures to replay first"
    )
    loop = _Loop(options, sched, progress, _executor(options))
    interrupted = loop.run()
    facts = {
        "budget_seconds": options.budget, "elapsed_seconds": round(time.monotonic() - loop.start, 1),
        "workers": options.workers, "executor": options.executor, "database": options.database,
        "seed": options.seed, "timeout": options.timeout, "interrupted": interrupted,
        "replayed_first": saved,
    }
    report = fuzz_report(sched.targets, facts)
    paths = write_reports(report, options.report_dir)
    for t in report["targets"]:
        causes = ", ".join(sorted({f"{v['invariant']}/{v['cause']}" for v in t["violations"]}))
        hangs = f", {len(t['hangs'])} killed" if t["hangs"] else ""
        progress.event(f"{t['status'].upper():<6} {t['target']} ({t['examples']} examples"
                       f"{hangs}){': ' + causes if causes else ''}")
    progress.event("reports: " + ", ".join(str(p) for p in paths))
    return 0 if all(t["status"] == "passed" for t in report["targets"]) else 1


def _executor(options: FuzzOptions) -> Executor:
    settings = WorkerSettings(
        database=options.database, task=options.task, threads=options.threads,
        recycle_examples=options.recycle_examples, recycle_rss_mb=options.recycle_rss_mb,
        env={"TFPCHECK_THREADS": str(options.threads)},
    )
    if options.executor == "ray":
        from tfpcheck._fuzz.rayexec import RayExecutor

        return RayExecutor(options.workers, settings, address=options.address)
    from tfpcheck._fuzz.local import LocalExecutor

    return LocalExecutor(options.workers, settings)


class _Loop:
    def __init__(self, options: FuzzOptions, sched: Scheduler, progress: Progress, executor: Executor):
        self.options, self.sched, self.progress, self.executor = options, sched, progress, executor
        self.busy: dict[int, _Busy] = {}
        self.start = time.monotonic()
        self.deadline = self.start + options.budget
        #: Past the budget, rounds in flight get this long to finish before they are cut.
        self.grace = min(options.timeout, max(30.0, 0.1 * options.budget))

    def run(self) -> bool:
        """Until the budget is spent and the rounds in flight are done; True if interrupted."""
        try:
            while self._step():
                pass
            return False
        except KeyboardInterrupt:
            self.progress.event("interrupted: writing the reports of what ran")
            return True
        finally:
            self.executor.close()

    def _step(self) -> bool:
        now = time.monotonic()
        left = self.deadline - now
        if left > 0:
            self._fill(left, now)
        elif not self.busy:
            return False
        if not self.busy:
            return False  # every target retired, nothing left to run
        if left < -self.grace:
            for slot in list(self.busy):
                self._lose(slot, "cut off at the end of the budget", kind="cut")
            return False
        for slot, event in self.executor.events(POLL):
            self._handle(slot, event)
        self._enforce_timeouts()
        self.progress.update(self.sched.targets, self.busy)
        return True

    def _fill(self, left: float, now: float) -> None:
        for slot in range(self.options.workers):
            if slot in self.busy:
                continue
            job = self.sched.next_job(left)
            if job is None:
                return
            self.executor.submit(slot, job)
            self.busy[slot] = _Busy(job, now, now)

    def _handle(self, slot: int, event: tuple[Any, ...]) -> None:
        kind = event[0]
        if kind == "beat":
            busy = self.busy.get(slot)
            if busy is not None and busy.job.id == event[1]:
                busy.stage, busy.config, busy.beat = event[2], event[3], time.monotonic()
                if busy.loaded is None and busy.stage != "load":
                    busy.loaded = busy.beat
        elif kind in ("done", "error"):
            busy = self.busy.pop(slot, None)
            if busy is not None and busy.job.id == event[1]:
                self._finished(busy, event[2] if kind == "done" else None,
                               None if kind == "done" else event[2])
        elif kind == "exit":
            self.progress.event(f"worker {slot} {event[1]}; a fresh one takes its next job")
        elif kind == "died" and slot in self.busy:
            self._lose(slot, f"the worker process died (exit code {event[1]})", kind="died")

    def _finished(self, busy: _Busy, result: dict[str, Any] | None, error: str | None) -> None:
        t = self.sched.state(busy.job.target)
        if busy.job.kind == "search":
            t.running -= 1
            t.seconds += time.monotonic() - busy.started
            t.train_seconds += time.monotonic() - (busy.loaded or busy.started)
        if error is not None:
            t.notes.append(f"tfpcheck failed in a worker: {error}")
            t.retired = "error"
            self.progress.event(f"ERROR  {t.spec}: {error}")
            return
        assert result is not None
        if busy.job.kind == "replay":
            self._replayed(t, result["replays"])
            return
        report = result["report"]
        t.reports.append(report)
        t.examples += report["examples"]
        t.observe(result["outcomes"])
        if report["status"] == "error":
            t.retired = "error"
            self.progress.event(f"ERROR  {t.spec}: {report.get('error')}")
        known = {(e["entry"]["invariant"], repr(e["entry"]["config"])) for e in t.replays}
        fresh = [v for v in report["violations"] if (v["invariant"], repr(v["config"])) not in known]
        for v in fresh:
            self.progress.event(f"FOUND  {t.spec}: {v['invariant']} ({v['cause']})")
        self.sched.queue_replay(
            t.spec, [{"invariant": v["invariant"], "cause": v["cause"], "config": v["config"]}
                     for v in fresh],
        )

    def _replayed(self, t: TargetState, replays: list[dict[str, Any]]) -> None:
        for rep in replays:
            t.replays.append(rep)
            label = ledger.label(rep["failed"], rep["runs"])
            e = rep["entry"]
            self.progress.event(
                f"REPLAY {t.spec}: {e['invariant']} ({e.get('cause')}) {label}, "
                f"{rep['failed']} of {rep['runs']} replays failed"
            )

    def _enforce_timeouts(self) -> None:
        now = time.monotonic()
        for slot, busy in list(self.busy.items()):
            limit = max(LOAD_LIMIT, self.options.timeout) if busy.stage == "load" else self.options.timeout
            if now - busy.beat > limit:
                self._lose(slot, f"made no progress for --timeout={self.options.timeout:g}s in {busy.stage}",
                           kind="timeout")

    def _lose(self, slot: int, why: str, *, kind: str) -> None:
        """Kill the worker on ``slot``; its example is reported (``kind`` "timeout" or "died")
        or, for a round cut off at the end of the budget ("cut"), noted."""
        busy = self.busy.pop(slot)
        self.executor.kill(slot)
        t = self.sched.state(busy.job.target)
        if busy.job.kind == "search":
            t.running -= 1
            t.seconds += time.monotonic() - busy.started
        if kind == "cut":
            t.notes.append(f"a {busy.job.kind} round was {why}")
            return
        from tfpcheck._report import reproduce_snippet

        seconds = round(time.monotonic() - busy.beat, 1)
        t.hangs.append({
            "kind": kind, "config": busy.config, "seconds": seconds, "stage": busy.stage,
            "message": f"{t.spec}: {_LOST[kind].format(stage=busy.stage, why=why, seconds=seconds)}",
            "reproduce": reproduce_snippet(t.spec, busy.config) if busy.config else None,
        })
        self.progress.event(f"{'KILLED' if kind == 'timeout' else 'DIED  '} {t.spec}: {why}")
        if len(t.hangs) >= MAX_HANGS or busy.stage in ("load", "probe"):
            t.retired = "hangs" if kind == "timeout" else "crashes"


#: What a lost example's report says, by how it was lost.
_LOST = {
    "timeout": (
        "one {stage} {why} ({seconds}s) and was killed. A training that never returns is usually "
        "a sampler fed a NaN or infinite parameter (a Poisson rate, a Gamma concentration) inside "
        "a TF kernel: check the parameters the model computes at initialisation, and reproduce "
        "with the configuration below."
    ),
    "died": (
        "{why} during {stage}, {seconds}s after it began: a crash inside TensorFlow or the "
        "model's own code (a segfault, os._exit, the out-of-memory killer). The worker was "
        "replaced; reproduce with the configuration below, in a process of its own."
    ),
}
