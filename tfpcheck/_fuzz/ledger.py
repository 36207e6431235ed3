"""Saved failures: what a fuzz run found, kept where every later run replays it first.

Beside Hypothesis's own entries (choice sequences, which ``pytest --tfpcheck`` and
``tfpcheck check`` replay), each failure's minimal configuration is saved as JSON under a
ledger key of its target. Entries are never deleted by a replay that does not fail: TF
training is not bit-identical across processes, so one worker's passing replay says little
about another's failure. Instead each entry is re-run :data:`FuzzOptions.replays` times and
labelled by how many of them failed.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from hypothesis.database import ExampleDatabase

from tfpcheck._database import TargetDatabase

__all__ = ["LEDGER_KEY", "Entry", "label", "load", "save"]

LEDGER_KEY = b"tfpcheck:failures"
Entry = dict[str, Any]  # {"invariant": str, "cause": str, "config": {...}}


def save(database: ExampleDatabase, target: str, violations: Iterable[dict[str, Any]]) -> None:
    """Record each violation's minimal configuration (idempotent: same entry, same value)."""
    view = TargetDatabase(database, target)
    for v in violations:
        entry = {"invariant": v["invariant"], "cause": v["cause"], "config": v["config"]}
        view.save(LEDGER_KEY, json.dumps(entry, sort_keys=True).encode())


def load(database: ExampleDatabase, target: str) -> list[Entry]:
    """The target's saved failures, oldest format errors skipped."""
    out = []
    for value in TargetDatabase(database, target).fetch(LEDGER_KEY):
        try:
            entry = json.loads(value)
        except ValueError:
            continue
        if isinstance(entry, dict) and {"invariant", "config"} <= entry.keys():
            out.append(entry)
    return sorted(out, key=lambda e: json.dumps(e, sort_keys=True))


def label(failed: int, runs: int) -> str:
    """``reproducible`` (every replay failed), ``flaky`` (some did) or ``not reproduced``."""
    if runs and failed == runs:
        return "reproducible"
    return "flaky" if failed else "not reproduced"
