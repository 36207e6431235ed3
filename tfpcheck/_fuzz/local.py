"""Workers as local processes (spawned: a fresh interpreter, no TensorFlow state inherited).

A worker that outlives ``--timeout`` in one training is killed from outside (SIGKILL),
which reaches a TF kernel that SIGALRM cannot; a worker that dies or retires is replaced
on its next job.
"""

from __future__ import annotations

import multiprocessing
from multiprocessing.connection import wait
from typing import Any

from tfpcheck._fuzz.jobs import Job, WorkerSettings
from tfpcheck._fuzz.worker import serve

__all__ = ["LocalExecutor"]


class LocalExecutor:
    """``slots`` worker processes; events come back as ``(slot, event)`` pairs."""

    def __init__(self, slots: int, settings: WorkerSettings) -> None:
        self.slots = slots
        self.settings = settings
        self._ctx = multiprocessing.get_context("spawn")
        self._procs: dict[int, Any] = {}
        self._conns: dict[int, Any] = {}

    def submit(self, slot: int, job: Job) -> None:
        if slot not in self._procs or not self._procs[slot].is_alive():
            self._start(slot)
        self._conns[slot].send(job)

    def _start(self, slot: int) -> None:
        parent, child = self._ctx.Pipe()
        proc = self._ctx.Process(
            target=serve, args=(child, self.settings), name=f"tfpcheck-worker-{slot}", daemon=True
        )
        proc.start()
        child.close()
        self._procs[slot], self._conns[slot] = proc, parent

    def events(self, timeout: float) -> list[tuple[int, tuple[Any, ...]]]:
        """Events from any worker within ``timeout`` seconds; ``("died", exitcode)`` for a
        worker that ended without saying why."""
        by_handle = {}
        for slot, conn in self._conns.items():
            by_handle[conn] = slot
            by_handle[self._procs[slot].sentinel] = slot
        out: list[tuple[int, tuple[Any, ...]]] = []
        for handle in wait(list(by_handle), timeout):
            slot = by_handle[handle]
            if slot not in self._conns:
                continue  # its other handle reported it already
            conn = self._conns[slot]
            try:
                while conn.poll():
                    event = conn.recv()
                    out.append((slot, event))
                    if event[0] in ("done", "error") and event[3]:
                        out.append((slot, ("exit", event[3])))
                        self._forget(slot)
                        break
            except (EOFError, OSError):
                pass
            if slot in self._procs and not self._procs[slot].is_alive():
                out.append((slot, ("died", self._procs[slot].exitcode)))
                self._forget(slot)
        return out

    def kill(self, slot: int) -> None:
        proc = self._procs.get(slot)
        if proc is not None and proc.is_alive():
            proc.kill()
            proc.join(5)
        self._forget(slot)

    def _forget(self, slot: int) -> None:
        conn = self._conns.pop(slot, None)
        if conn is not None:
            conn.close()
        proc = self._procs.pop(slot, None)
        if proc is not None:
            proc.join(10)

    def close(self) -> None:
        for slot in list(self._procs):
            try:
                self._conns[slot].send(None)
            except (OSError, KeyError):
                pass
        for slot in list(self._procs):
            proc = self._procs[slot]
            proc.join(5)
            if proc.is_alive():
                proc.kill()
            self._forget(slot)
