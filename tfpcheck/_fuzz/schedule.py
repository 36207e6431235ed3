"""Which target runs next: every target gets time, novelty earns more, a found failure yields.

What counts as new behaviour is an example's signature (``_search.signature``): its violated
invariants, their causes and its loss regime (non-finite, rising, falling, flat). A target's
weight is ``1 + novelty`` (novelty: new signatures in its last round plus half the novelty
before), divided by :data:`FAILED_YIELD` once a failure was found (its round shrank it and
tested its cause; later rounds look for others at lower priority), and a failed target whose
last :data:`SATURATED` rounds showed nothing new gets no more (a model that fails to build
fails every example the same way). The next round goes to the target with the least time
spent per weight; saved failures are replayed before any search.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field
from typing import Any

from tfpcheck._fuzz.jobs import Job

__all__ = ["FAILED_YIELD", "FIRST_ROUND", "MAX_HANGS", "ROUND", "SATURATED", "Scheduler", "TargetState"]

FIRST_ROUND = 3  #: examples in a target's first round (as ``--tfpcheck-profile=ci``)
ROUND = 10  #: examples in each later round (as the dev profile)
FAILED_YIELD = 4.0
SHRINK_AFTER_FAILURE = 4  #: shrink budget of rounds after the target's first failure
MAX_HANGS = 2  #: a target that hung this many times gets no more rounds
SATURATED = 2  #: rounds in a row with no new behaviour after which a failed target stops


@dataclass
class TargetState:
    spec: str
    index: int
    rounds: int = 0
    examples: int = 0
    seconds: float = 0.0  # wall time of its jobs
    train_seconds: float = 0.0  # the same, less each worker's start-up (importing TF and the file)
    running: int = 0
    novelty: float = 1.0
    signatures: set[str] = field(default_factory=set)
    reports: list[dict[str, Any]] = field(default_factory=list)
    hangs: list[dict[str, Any]] = field(default_factory=list)
    replays: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    retired: str | None = None  # why it gets no more rounds
    quiet: int = 0  # rounds in a row that showed no new behaviour

    @property
    def failed(self) -> bool:
        return bool(self.hangs) or any(r["violations"] for r in self.reports)

    @property
    def weight(self) -> float:
        return (1.0 + self.novelty) / (FAILED_YIELD if self.failed else 1.0)

    def observe(self, outcomes: list[list[Any]]) -> int:
        """Count an example round's new signatures into novelty; returns how many were new."""
        new = {repr(o) for o in outcomes} - self.signatures
        self.signatures |= new
        self.novelty = 0.5 * self.novelty + len(new)
        self.quiet = 0 if new else self.quiet + 1
        if self.failed and self.quiet >= SATURATED and self.retired is None:
            self.retired = "saturated"
            self.notes.append(f"no more rounds after its failure: {self.quiet} rounds in a row "
                              "showed no new behaviour")
        return len(new)


class Scheduler:
    def __init__(self, specs: list[str], *, seed: int, steps: int | None, runs: int) -> None:
        self.targets = [TargetState(spec, i) for i, spec in enumerate(specs)]
        self.seed, self.steps, self.runs = seed, steps, runs
        self.replays: list[Job] = []
        self._ids = 0

    def new_id(self) -> int:
        self._ids += 1
        return self._ids

    def queue_replay(self, spec: str, entries: list[dict[str, Any]]) -> None:
        if entries:
            self.replays.append(
                Job(self.new_id(), "replay", spec, entries=tuple(entries), runs=self.runs)
            )

    def next_job(self, time_left: float) -> Job | None:
        """A replay first, then a round for the neediest target, sized to fit the time left."""
        if self.replays:
            return self.replays.pop(0)
        sized = {t.spec: _round_size(t, time_left) for t in self.targets if t.retired is None}
        candidates = [t for t in self.targets if sized.get(t.spec)]
        if not candidates:
            return None
        t = min(candidates, key=lambda t: (t.rounds > 0, t.running, t.seconds / t.weight, t.index))
        t.rounds += 1
        t.running += 1
        return Job(
            self.new_id(), "search", t.spec, seed=_seed(self.seed, t.spec, t.rounds),
            max_examples=sized[t.spec],
            shrink_budget=SHRINK_AFTER_FAILURE if t.failed else 12, steps=self.steps,
        )

    def state(self, spec: str) -> TargetState:
        return next(t for t in self.targets if t.spec == spec)


def _round_size(t: TargetState, time_left: float) -> int:
    """Examples for the target's next round: :data:`FIRST_ROUND` first (always, so every target
    gets time); then up to :data:`ROUND`, as many as its seconds per example fit in the time
    left; 0 while its first round is still running (concurrent rounds only once it works)."""
    if t.rounds == 0:
        return FIRST_ROUND
    if t.examples == 0:
        return 0  # first round still running, or it never trained an example
    fits = int(time_left / (t.train_seconds / t.examples))
    return max(0, min(ROUND, fits))


def _seed(base: int, spec: str, round_: int) -> int:
    return (base * 1_000_003 + zlib.crc32(spec.encode()) + round_ * 7919) % 2**31
