"""Workers as Ray actors (``--executor ray``, ``pip install "tfpcheck[ray]"``): the same jobs,
scheduling and reports as local processes, on every machine of a Ray cluster.

Each actor is threaded (``max_concurrency=2``): one thread runs the job, the other answers
``poll()`` with the job's heartbeats, so a training stuck in a TF kernel is seen and the actor
killed (``ray.kill``) from here. Target files are read at the same path on every machine (the
actor starts in the run's directory where it exists), and the database should be Redis so that
every machine saves to, and replays from, the same place.
"""

from __future__ import annotations

import os
import threading
from typing import Any

from tfpcheck._fuzz.jobs import Job, WorkerSettings
from tfpcheck._fuzz.worker import Runner
from tfpcheck.errors import UsageError

__all__ = ["RayExecutor"]

#: Seconds to wait for an actor's heartbeats before trying again next poll.
POLL_WAIT = 2.0


class _Actor:
    def __init__(self, settings: WorkerSettings, cwd: str) -> None:
        if os.path.isdir(cwd):
            os.chdir(cwd)
        self._runner = Runner(settings)
        self._events: list[tuple[Any, ...]] = []
        self._lock = threading.Lock()

    def _emit(self, event: tuple[Any, ...]) -> None:
        with self._lock:
            self._events.append(event)

    def run(self, job: Job) -> list[tuple[Any, ...]]:
        try:
            event: tuple[Any, ...] = ("done", job.id, self._runner.run(job, self._emit))
        except BaseException as exc:  # noqa: BLE001 - reported for this job; the actor goes on
            event = ("error", job.id, f"{type(exc).__name__}: {exc}")
        reason = self._runner.retire_reason()
        return [(*event, reason)] + ([("exit", reason)] if reason else [])

    def poll(self) -> list[tuple[Any, ...]]:
        with self._lock:
            events, self._events = self._events, []
        return events


class RayExecutor:
    """``slots`` actors on the cluster at ``address`` (a local one on 127.0.0.1 when None)."""

    def __init__(self, slots: int, settings: WorkerSettings, *, address: str | None = None) -> None:
        # Before Ray is imported (it reads them once): no usage statistics sent anywhere, and a
        # cluster started here stays on loopback (Ray otherwise swaps 127.0.0.1 for the
        # machine's address, which only a multi-machine cluster needs).
        os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
        if address is None:
            os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
        try:
            import ray
        except ImportError:
            raise UsageError('--executor ray needs Ray: pip install "tfpcheck[ray]"') from None
        self._ray = ray
        if not ray.is_initialized():
            kwargs: dict[str, Any] = {"log_to_driver": False, "include_dashboard": False}
            if address is None:  # "local": a cluster of its own, never one `ray start` left running
                kwargs.update(num_cpus=slots, _node_ip_address="127.0.0.1")
            try:
                ray.init(address=address or "local", **kwargs)
            except (ConnectionError, RuntimeError, ValueError) as exc:
                raise UsageError(f"--address={address}: could not join the Ray cluster: {exc}") from None
        self.slots, self.settings = slots, settings
        self._cls = ray.remote(num_cpus=1, max_concurrency=2)(_Actor)
        self._actors: dict[int, Any] = {}
        self._runs: dict[int, Any] = {}

    def submit(self, slot: int, job: Job) -> None:
        if slot not in self._actors:
            self._actors[slot] = self._cls.remote(self.settings, os.getcwd())
        self._runs[slot] = self._actors[slot].run.remote(job)

    def events(self, timeout: float) -> list[tuple[int, tuple[Any, ...]]]:
        ray = self._ray
        out: list[tuple[int, tuple[Any, ...]]] = []
        by_ref = {ref: slot for slot, ref in self._runs.items()}
        ready, _ = ray.wait(list(by_ref), num_returns=len(by_ref), timeout=timeout) if by_ref else ([], [])
        for slot, events in self._beats():
            out.extend((slot, e) for e in events)
        for ref in ready:
            slot = by_ref[ref]
            del self._runs[slot]
            try:
                events = ray.get(ref)
            except ray.exceptions.RayError as exc:
                out.append((slot, ("died", f"{type(exc).__name__}")))
                self._actors.pop(slot, None)
                continue
            out.extend((slot, e) for e in events)
            if any(e[0] == "exit" for e in events):
                self.kill(slot)
        return out

    def _beats(self) -> list[tuple[int, list[tuple[Any, ...]]]]:
        ray = self._ray
        slots = [s for s in self._runs if s in self._actors]
        refs = [self._actors[s].poll.remote() for s in slots]
        ready, _ = ray.wait(refs, num_returns=len(refs), timeout=POLL_WAIT) if refs else ([], [])
        out = []
        for slot, ref in zip(slots, refs, strict=True):
            if ref in ready:
                try:
                    out.append((slot, ray.get(ref)))
                except ray.exceptions.RayError:
                    pass  # the run's own result says the actor died
        return out

    def kill(self, slot: int) -> None:
        actor = self._actors.pop(slot, None)
        self._runs.pop(slot, None)
        if actor is not None:
            self._ray.kill(actor)

    def close(self) -> None:
        for slot in list(self._actors):
            self.kill(slot)
