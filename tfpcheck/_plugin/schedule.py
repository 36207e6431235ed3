"""Which pytest-xdist worker runs which item: the costly ones first, spread over the workers.

pytest-xdist's load scheduling hands each worker a chunk of consecutive items up front, at
least two (a worker runs an item only once it holds the next), and with few items never moves
one: four targets on two workers run as two fixed pairs, and the two costly targets of a file,
side by side, end up on one worker (measured: ``-n 2`` 1.16x faster than ``-n 0`` on such a
file, 1.66x when the four cost the same). A tfpcheck target costs seconds to minutes, so the
split decides the wall time. Here the items are ordered by what each took in the last run
(pytest's cache, ``tfpcheck/durations``; an item not seen before counts as the median of those
seen, so a first run deals the items out in turn) and the first chunk is dealt longest-first to
the least-loaded worker, as many to each as xdist would send; the rest follow as workers finish,
longest first. Used for ``--tfpcheck`` runs under ``--dist load`` (``-n``'s default).
"""

from __future__ import annotations

import statistics
from typing import Any

import pytest

__all__ = ["Durations", "CACHE_KEY"]

#: Where the durations of the last run are kept (pytest's cache, ``.pytest_cache``).
CACHE_KEY = "tfpcheck/durations"


class Durations:
    """Records each item's duration (on the controller: every worker's reports reach it) for the
    next run, and makes the scheduler that reads them."""

    def __init__(self, config: Any) -> None:
        self.config = config
        self.seen: dict[str, float] = {}

    def pytest_runtest_logreport(self, report: Any) -> None:
        self.seen[report.nodeid] = self.seen.get(report.nodeid, 0.0) + float(report.duration)

    def pytest_sessionfinish(self, session: Any) -> None:
        cache = getattr(self.config, "cache", None)
        if cache is None or hasattr(self.config, "workerinput") or not self.seen:
            return  # no cache (-p no:cacheprovider), or a worker: the controller writes
        cache.set(CACHE_KEY, {**(cache.get(CACHE_KEY, {}) or {}), **self.seen})

    @pytest.hookimpl(optionalhook=True, tryfirst=True)
    def pytest_xdist_make_scheduler(self, config: Any, log: Any) -> Any:
        if config.getvalue("dist") != "load":
            return None
        cache = getattr(config, "cache", None)
        return _scheduler(config, log, (cache.get(CACHE_KEY, {}) if cache is not None else {}) or {})


def _scheduler(config: Any, log: Any, durations: dict[str, float]) -> Any:
    from xdist.scheduler import LoadScheduling

    class CostScheduling(LoadScheduling):  # type: ignore[misc]
        """LoadScheduling whose first distribution and queue are ordered by cost."""

        def schedule(self) -> None:
            if self.collection is not None or not self._check_nodes_have_same_collection():
                super().schedule()  # a rescheduling, or the collections differ: xdist's own
                return
            self.collection = next(iter(self.node2collection.values()))
            if not self.collection:
                return
            if self.maxschedchunk is None:
                self.maxschedchunk = len(self.collection)
            plan, self.pending[:] = first_chunk(self.collection, len(self.nodes), durations,
                                                self.maxschedchunk)
            for node, indices in zip(self.nodes, plan, strict=True):
                if indices:
                    self.node2pending[node].extend(indices)
                    node.send_runtest_some(indices)
            if not self.pending:
                for node in self.nodes:
                    node.shutdown()

    return CostScheduling(config, log)


def first_chunk(collection: list[str], n_nodes: int, durations: dict[str, float],
                max_chunk: int) -> tuple[list[list[int]], list[int]]:
    """Item indices for each node now, and the rest in the order they are to be handed out.
    Each node gets as many as xdist's load scheduling would send it (at least two, a quarter of
    its share), dealt longest-first to the node with the least estimated work."""
    known = [durations[c] for c in collection if c in durations]
    default = statistics.median(known) if known else 1.0
    cost = [float(durations.get(c, default)) for c in collection]
    order = sorted(range(len(collection)), key=lambda i: -cost[i])  # stable: ties keep file order
    per_node = max(2, min(len(collection) // n_nodes // 4, max_chunk))
    first, rest = order[: per_node * n_nodes], order[per_node * n_nodes:]
    plan: list[list[int]] = [[] for _ in range(n_nodes)]
    load = [0.0] * n_nodes
    for i in first:
        node = min((k for k in range(n_nodes) if len(plan[k]) < per_node), key=lambda k: load[k])
        plan[node].append(i)
        load[node] += cost[i]
    return plan, rest
