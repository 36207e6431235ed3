"""The pytest item a tfpcheck target (or one shard of its example budget) becomes.

Light at import: TensorFlow and the Hypothesis search are imported only when an
item runs, after ``pytest_configure`` has capped TF's thread pools.
"""

from __future__ import annotations

import contextlib
import inspect
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tfpcheck._profiles import PROFILES
from tfpcheck._render import target_text
from tfpcheck._target import Target

__all__ = [
    "OPTIONS", "PROFILES", "REPORT_PROPERTY", "SKIP_REASON", "Options", "TargetFailed",
    "TargetItem", "shard_budget",
]

SKIP_REASON = "tfpcheck targets run with --tfpcheck"
#: The ``user_properties`` key under which an item hands its TargetReport (as JSON) on.
REPORT_PROPERTY = "tfpcheck_report"


@dataclass(frozen=True)
class Options:
    """The plugin's resolved command-line options."""

    enabled: bool = False
    max_examples: int = PROFILES["ci"]
    steps: int | None = None
    seed: int = 0
    regime: str | None = None
    shards: int = 1
    database_dir: Path | None = None
    timeout: float | None = None


OPTIONS = pytest.StashKey[Options]()


def shard_budget(total: int, shards: int, index: int) -> int:
    """Examples for shard ``index`` of ``shards``: ``total`` split evenly, at least one each."""
    base, extra = divmod(total, shards)
    return max(1, base + (1 if index < extra else 0))


class TargetFailed(Exception):
    """A target violated an invariant or could not be checked; the text is the report."""


class TargetItem(pytest.Item):
    """One target's check (or one shard of it): trains configurations, fails on a finding."""

    def __init__(self, *, target: Target, shard: int = 0, shards: int = 1, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.target = target
        self.shard = shard
        self.shards = shards

    def runtest(self) -> None:
        options = self.config.stash[OPTIONS]
        from tfpcheck._search import check_target  # TensorFlow lives behind this import

        report = check_target(
            self.target,
            max_examples=shard_budget(options.max_examples, self.shards, self.shard),
            seed=options.seed + self.shard,
            regime=options.regime,
            steps=options.steps,
            database=_database(options.database_dir),
            timeout=options.timeout,
            progress=self._progress(),
        )
        self.user_properties.append((REPORT_PROPERTY, json.dumps(report.to_dict())))
        if report.status != "passed":
            raise TargetFailed(target_text(report))

    def _progress(self) -> Any:
        """Under ``-v`` (not in an xdist worker, whose output nobody sees) a line per training,
        so a long target is not silent."""
        reporter = self.config.pluginmanager.get_plugin("terminalreporter")
        if self.config.option.verbose <= 0 or reporter is None or hasattr(self.config, "workerinput"):
            return None
        capture = self.config.pluginmanager.get_plugin("capturemanager")
        start, count = time.monotonic(), [0]

        def tell(stage: str, config: dict[str, Any] | None) -> None:
            if stage not in ("example", "intervention"):
                return
            count[0] += stage == "example"
            line = (f"    tfpcheck {self.target.name}: {stage} {count[0]} "
                    f"({time.monotonic() - start:.1f}s) "
                    + ", ".join(f"{k}={config[k]}" for k in ("optimizer", "learning_rate", "seed")
                                if config and k in config))
            # past pytest's output capture, as live logging does
            with capture.global_and_fixture_disabled() if capture else contextlib.nullcontext():
                reporter.write_line(line)

        return tell

    def repr_failure(self, excinfo: Any, style: Any = None) -> Any:
        if isinstance(excinfo.value, TargetFailed):
            return str(excinfo.value)
        return super().repr_failure(excinfo, style=style)

    def reportinfo(self) -> tuple[Any, int | None, str]:
        try:
            path = Path(inspect.getsourcefile(self.target.factory) or self.path)
            line: int | None = inspect.getsourcelines(self.target.factory)[1] - 1
        except (TypeError, OSError):
            path, line = self.path, None
        shard = f" shard {self.shard + 1} of {self.shards}" if self.shards > 1 else ""
        return path, line, f"tfpcheck target {self.target.name}{shard}"


def _database(directory: Path | None) -> Any:
    """The run's example database (check_target keeps one namespace per target in it)."""
    if directory is None:
        return None
    from tfpcheck._database import directory_database

    return directory_database(directory)
