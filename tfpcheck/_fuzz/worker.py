"""A fuzz worker: runs jobs in its own process (or Ray actor), so a hang or a crash inside
TensorFlow costs that process, not the run.

Only this module imports TensorFlow (through the engine), and only in the worker.
"""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Callable
from typing import Any

from tfpcheck import _heartbeat
from tfpcheck._fuzz.jobs import Job, WorkerSettings
from tfpcheck._heap import freeze_survivors

__all__ = ["Runner", "rss_mb", "serve"]

Emit = Callable[[tuple[Any, ...]], None]


def rss_mb() -> float:
    """This process's resident memory now (not its peak), in MB."""
    try:
        with open("/proc/self/statm") as f:
            pages = int(f.read().split()[1])
        return pages * os.sysconf("SC_PAGE_SIZE") / 2**20
    except (OSError, ValueError, IndexError):
        import resource

        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class Runner:
    """Runs jobs in this process; counts examples so its owner knows when to recycle it."""

    def __init__(self, settings: WorkerSettings) -> None:
        from tfpcheck._env import prepare_tf_environment

        for key, value in settings.env.items():
            os.environ.setdefault(key, value)
        prepare_tf_environment(settings.threads)
        self.settings = settings
        self.examples = 0
        self._database: Any = None
        self._targets: dict[str, Any] = {}

    def retire_reason(self) -> str | None:
        s = self.settings
        if self.examples >= s.recycle_examples:
            return f"recycled after {self.examples} examples"
        rss = rss_mb()
        if rss > s.recycle_rss_mb:
            return f"recycled at {rss:.0f} MB resident (limit {s.recycle_rss_mb} MB)"
        return None

    def run(self, job: Job, emit: Emit) -> dict[str, Any]:
        emit(("beat", job.id, "load", None, time.time()))
        target = self._target(job.target)
        if job.kind == "replay":
            return self._replay(job, target, emit)
        return self._search(job, target, emit)

    def _search(self, job: Job, target: Any, emit: Emit) -> dict[str, Any]:
        from tfpcheck._database import WriteOnlyDatabase
        from tfpcheck._fuzz import ledger
        from tfpcheck._search import check_target

        outcomes: list[list[Any]] = []
        now: list[Any] = ["load", None]  # the stage and configuration the last beat named

        def progress(stage: str, config: dict[str, Any] | None) -> None:
            if stage == "outcome":
                outcomes.append(config["signature"] if config else [])
                return
            now[:] = [stage, config]
            emit(("beat", job.id, stage, config, time.time()))

        moving = _throttled(lambda: emit(("beat", job.id, *now, time.time())))
        with _heartbeat.listening(moving):
            report = check_target(
                target, max_examples=job.max_examples, seed=job.seed, steps=job.steps,
                database=WriteOnlyDatabase(self.database), shrink_budget=job.shrink_budget,
                progress=progress, keep_models=True,  # rounds are replayed before they are reported
            )
        self.examples += report.examples
        result = report.to_dict()
        if result["violations"]:
            ledger.save(self.database, target.name, result["violations"])
        return {"report": result, "outcomes": outcomes, "rss_mb": rss_mb()}

    def _replay(self, job: Job, target: Any, emit: Emit) -> dict[str, Any]:
        current: list[Any] = [None]  # the configuration being replayed
        moving = _throttled(lambda: emit(("beat", job.id, "replay", current[0], time.time())))
        with _heartbeat.listening(moving):
            return self._replays(job, target, emit, current)

    def _replays(self, job: Job, target: Any, emit: Emit, current: list[Any]) -> dict[str, Any]:
        from tfpcheck._config import Config
        from tfpcheck._render import jsonable
        from tfpcheck._search import run_once

        out = []
        for entry in job.entries:
            current[0] = entry["config"]
            failed = errors = 0
            first: dict[str, Any] | None = None
            for _ in range(job.runs):
                emit(("beat", job.id, "replay", entry["config"], time.time()))
                try:
                    findings = run_once(
                        target, Config.from_dict(dict(entry["config"])), with_curves=first is None
                    )
                except Exception:  # noqa: BLE001 - a replay that cannot run is not a failure
                    errors += 1
                    continue
                self.examples += 1
                same = [f for f in findings if f.invariant == entry["invariant"]]
                failed += bool(same)
                if same and first is None:
                    first = jsonable(dataclasses.asdict(same[0]))
            out.append({"entry": entry, "runs": job.runs - errors, "failed": failed, "finding": first})
        return {"replays": out, "rss_mb": rss_mb()}

    @property
    def database(self) -> Any:
        if self._database is None:
            from tfpcheck._database import open_database

            self._database = open_database(self.settings.database)
        return self._database

    def _target(self, spec: str) -> Any:
        if spec not in self._targets:
            from tfpcheck._api import as_target

            self._targets[spec] = as_target(spec, task=self.settings.task)
            if len(self._targets) == 1:  # TensorFlow is in, no model built yet: freeze it
                freeze_survivors()
        return self._targets[spec]


#: Seconds between the progress beats passed on from training: the run needs one per --timeout.
BEAT_EVERY = 1.0


def _throttled(send: Callable[[], None]) -> Callable[[], None]:
    """``send``, at most once every BEAT_EVERY seconds."""
    last = [time.monotonic()]

    def maybe() -> None:
        if time.monotonic() - last[0] >= BEAT_EVERY:
            last[0] = time.monotonic()
            send()
    return maybe


def serve(conn: Any, settings: WorkerSettings) -> None:
    """A local worker process's main loop: jobs in through ``conn``, events out."""
    runner = Runner(settings)
    try:
        _serve(conn, runner)
    finally:
        freeze_survivors(collect=False)  # exit without a last scan of every TensorFlow object


def _serve(conn: Any, runner: Runner) -> None:
    while True:
        try:
            job = conn.recv()
        except (EOFError, KeyboardInterrupt):
            return
        if job is None:
            return
        try:
            event: tuple[Any, ...] = ("done", job.id, runner.run(job, conn.send))
        except KeyboardInterrupt:
            return
        except BaseException as exc:  # noqa: BLE001 - reported for this job; the worker goes on
            event = ("error", job.id, f"{type(exc).__name__}: {exc}")
        reason = runner.retire_reason()
        conn.send((*event, reason))  # the reason travels with the result: no job is sent to
        if reason:  # a worker that is about to leave
            return
