"""What one ``tfpcheck fuzz`` run was asked to do, checked before anything starts."""

from __future__ import annotations

import re
from dataclasses import dataclass

from tfpcheck.errors import UsageError

__all__ = ["FuzzOptions", "parse_budget"]

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_budget(text: str) -> float:
    """Seconds from ``90s``, ``30m``, ``8h``, ``1h30m`` or a bare number of seconds."""
    value = str(text).strip().lower()
    if re.fullmatch(r"\d+(\.\d+)?", value):
        seconds = float(value)
    else:
        parts = re.findall(r"(\d+(?:\.\d+)?)([smhd])", value)
        if not parts or "".join(n + u for n, u in parts) != value:
            raise UsageError(
                f"--budget={text!r}: expected a duration such as 90s, 30m, 8h or 1h30m"
            )
        seconds = sum(float(n) * _UNITS[u] for n, u in parts)
    if seconds <= 0:
        raise UsageError(f"--budget={text!r}: must be longer than zero")
    return seconds


@dataclass(frozen=True)
class FuzzOptions:
    """A fuzz run's settings (the command line's, resolved)."""

    targets: tuple[str, ...]
    budget: float  # seconds
    workers: int = 2
    timeout: float = 300.0  # seconds one training (or the probe build) may take
    database: str = ".hypothesis/tfpcheck"  # DIR or redis://HOST:PORT/DB
    report_dir: str = "tfpcheck-report"
    executor: str = "local"  # or "ray"
    address: str | None = None  # a Ray cluster's address; None starts a local one
    seed: int = 0
    task: str | None = None  # of undecorated factories
    steps: int | None = None
    #: A worker process is replaced after this many trained examples, or past this RSS (MB):
    #: Keras grows when it builds many models in one process.
    recycle_examples: int = 1000
    recycle_rss_mb: int = 2000
    #: Each saved failure is re-run this many times and labelled reproducible or flaky.
    replays: int = 3
    threads: int = 1  # TensorFlow threads per worker
