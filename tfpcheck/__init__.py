"""tfpcheck: property-based checks that TFP + Keras models fit, and why they do not.

The public API. Importing it is cheap: each name is imported where it is first used (PEP 562),
so that the pytest plugin, which pytest imports at every start-up, pulls in neither Hypothesis
nor NumPy, and TensorFlow is imported only when a model is built, after its thread pools have
been sized.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from tfpcheck._version import __version__

if TYPE_CHECKING:
    from tfpcheck._api import check, explain, reproduce
    from tfpcheck._assertions import assert_invariants, train_and_check
    from tfpcheck._config import TASKS, Config
    from tfpcheck._diagnose import CAUSES
    from tfpcheck._invariants import INVARIANTS
    from tfpcheck._report import Finding, Report, TargetReport
    from tfpcheck._target import Target, model
    from tfpcheck.errors import InvalidArgument, TargetError, TfpcheckError, UsageError

__all__ = [
    "CAUSES",
    "INVARIANTS",
    "TASKS",
    "Config",
    "Finding",
    "InvalidArgument",
    "Report",
    "Target",
    "TargetError",
    "TargetReport",
    "TfpcheckError",
    "UsageError",
    "__version__",
    "assert_invariants",
    "check",
    "explain",
    "model",
    "reproduce",
    "train_and_check",
]

#: Where each public name lives.
_HOMES = {
    "check": "_api", "explain": "_api", "reproduce": "_api",
    "assert_invariants": "_assertions", "train_and_check": "_assertions",
    "TASKS": "_config", "Config": "_config",
    "CAUSES": "_diagnose",
    "INVARIANTS": "_invariants",
    "Finding": "_report", "Report": "_report", "TargetReport": "_report",
    "Target": "_target", "model": "_target",
    "InvalidArgument": "errors", "TargetError": "errors", "TfpcheckError": "errors", "UsageError": "errors",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'tfpcheck' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"tfpcheck.{home}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
