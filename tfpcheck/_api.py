"""The Python entry points: ``check`` a target, ``reproduce`` one configuration."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from tfpcheck._config import REGIMES, Config
from tfpcheck._env import prepare_tf_environment
from tfpcheck._invariants import INVARIANTS
from tfpcheck._render import findings_text
from tfpcheck._report import Finding, Report
from tfpcheck._target import Target, get_target, load_target, raise_if_invalid, renamed
from tfpcheck.errors import InvalidArgument

__all__ = ["check", "reproduce", "explain", "as_target"]

def as_target(obj: Any, *, task: str | None = None) -> Target:
    """A Target from a decorated factory, a plain factory, a ``file.py::name`` string or a Target."""
    if isinstance(obj, Target):
        return obj
    if isinstance(obj, (str, Path)):
        return load_target(str(obj), task=task)
    marked = get_target(obj)
    if marked is not None:
        if task is None or task == marked.task:
            return marked
        return renamed(marked, marked.name, task)
    if callable(obj):
        return Target(obj, getattr(obj, "__qualname__", repr(obj)), task)
    raise InvalidArgument(
        f"target={obj!r}: expected a model factory, a 'file.py::name' string or a Target."
    )

def check(
    *targets: Any,
    task: str | None = None,
    max_examples: int = 3,
    seed: int = 0,
    regime: str | None = None,
    steps: int | None = None,
    invariants: Iterable[str] = INVARIANTS,
    database: Any = None,
    timeout: float | None = None,
    progress: Callable[[str, str, dict[str, Any] | None], None] | None = None,
) -> Report:
    """Search configurations of each target, shrink any failure, and return a :class:`Report`.

    ``progress(target, stage, config)`` is told before each training (``_search.Progress``)."""
    if timeout is not None and not timeout > 0:
        raise InvalidArgument(f"timeout={timeout!r}: must be a number of seconds > 0, or None.")
    if max_examples < 1:
        raise InvalidArgument(f"max_examples={max_examples!r}: must be >= 1.")
    if regime is not None and regime not in REGIMES:
        raise InvalidArgument(f"regime={regime!r}: allowed values are {list(REGIMES)}.")
    names = tuple(invariants)
    unknown = sorted(set(names) - set(INVARIANTS))
    if unknown:
        raise InvalidArgument(f"invariants={unknown!r}: allowed are {list(INVARIANTS)}.")
    prepare_tf_environment()
    from tfpcheck._search import check_target

    report = Report()
    for obj in targets:
        target = as_target(obj, task=task)
        tell = None if progress is None else functools.partial(progress, target.name)
        report.targets.append(
            check_target(
                target, max_examples=max_examples, seed=seed, regime=regime, steps=steps,
                invariants=names, database=database, timeout=timeout, progress=tell,
            )
        )
    return report

def reproduce(target: Any, config: dict[str, Any] | Config, *, task: str | None = None) -> list[Finding]:
    """Re-run exactly one configuration (as printed in a report) and return its findings."""
    prepare_tf_environment()
    from tfpcheck._search import run_once

    cfg = config if isinstance(config, Config) else Config.from_dict(dict(config))
    resolved = as_target(target, task=task or cfg.task)
    raise_if_invalid(resolved)
    return run_once(resolved, cfg)

def explain(findings: Iterable[Finding]) -> str:
    """Human-readable text for a list of findings."""
    return findings_text(list(findings))
