"""The messages between a fuzz run and its workers: plain, picklable values.

A worker runs :class:`Job`\\ s one at a time and sends back events: ``("beat", job, stage,
config, time)`` before each training (the parent kills an example that outlives ``--timeout``
since its beat), ``("done", job, result, retiring)`` or ``("error", job, text, retiring)`` when
tfpcheck itself failed, where ``retiring`` is None or why the worker leaves after this job
(recycling); the executor then adds ``("exit", reason)`` and starts a fresh worker for the next.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

__all__ = ["Event", "Executor", "Job", "WorkerSettings"]

Event = tuple[Any, ...]


@dataclass(frozen=True)
class Job:
    id: int
    kind: str  # "search" (a round of Hypothesis search) or "replay" (saved failures, re-run)
    target: str  # "path/file.py::name"
    seed: int = 0
    max_examples: int = 3
    shrink_budget: int = 12
    steps: int | None = None
    entries: tuple[dict[str, Any], ...] = ()  # replay: ledger entries
    runs: int = 3  # replay: times each entry is re-run


@dataclass(frozen=True)
class WorkerSettings:
    database: str
    task: str | None = None
    threads: int = 1
    recycle_examples: int = 1000
    recycle_rss_mb: int = 2000
    env: dict[str, str] = field(default_factory=dict)


class Executor(Protocol):
    """Where workers run: local processes (``local.py``) or Ray actors (``rayexec.py``).

    A slot is one worker; a worker that leaves (killed, dead, recycled) is replaced on the
    slot's next ``submit``."""

    slots: int

    def submit(self, slot: int, job: Job) -> None: ...

    def events(self, timeout: float) -> list[tuple[int, Event]]:
        """``(slot, event)`` pairs that arrived within ``timeout`` seconds; ``("died", why)``
        for a worker that ended without a result."""
        ...

    def kill(self, slot: int) -> None: ...

    def close(self) -> None: ...
