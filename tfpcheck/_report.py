"""Findings and reports: the records behind the JSON report, and the reproduce snippet.

How they read on a terminal is :mod:`tfpcheck._render`'s job.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from tfpcheck._config import Config, changed_fields
from tfpcheck._render import finding_text, jsonable, report_text
from tfpcheck._version import __version__

__all__ = ["Finding", "TargetReport", "Report", "reproduce_snippet"]


@dataclass(frozen=True)
class Finding:
    """One violated invariant on a (minimal) configuration, with its cause and fix."""

    invariant: str
    cause: str
    message: str
    step: int | None
    config: dict[str, Any]
    evidence: dict[str, Any]
    fix: str
    reproduce: str
    #: Invariants that failed only because this one did (not findings of their own).
    consequences: list[str] = field(default_factory=list)
    #: Whether a re-run with the suggested change confirmed the cause.
    confirmed: bool = False
    #: ``{"changed": {...}, "result": str}``: the re-run that tested the cause, if any.
    intervention: dict[str, Any] | None = None
    #: The user's own configuration, which the report marks differences from.
    user_config: dict[str, Any] | None = None
    #: The failing training's per-step ``loss`` and ``grad_norm`` and its ``parameter_ranges``
    #: (``_search.curves``), which the HTML page draws.
    curves: dict[str, Any] | None = None

    def explain(self) -> str:
        return finding_text(self)


@dataclass
class TargetReport:
    target: str
    status: str  # "passed" | "failed" | "error"
    examples: int = 0
    seconds: float = 0.0
    violations: list[Finding] = field(default_factory=list)
    error: str | None = None
    task: str | None = None
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        out = {
            "target": self.target,
            "status": self.status,
            "task": self.task,
            "examples": self.examples,
            "seconds": round(self.seconds, 3),
            "notes": list(self.notes),
            "violations": [jsonable(asdict(f)) for f in self.violations],
        }
        if self.error:
            out["error"] = self.error
        return out


@dataclass
class Report:
    targets: list[TargetReport] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return all(t.status == "passed" for t in self.targets)

    def to_dict(self) -> dict[str, Any]:
        return {"tfpcheck_version": __version__, "targets": [t.to_dict() for t in self.targets]}

    def write_json(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.to_dict(), indent=2, allow_nan=False) + "\n")

    def summary(self) -> str:
        return report_text(self)


def reproduce_snippet(target: str, config: dict[str, Any]) -> str:
    """Python a user can paste to re-run exactly this configuration (non-default fields only)."""
    changed = changed_fields(Config.from_dict(config))
    minimal = {k: v for k, v in config.items() if k in ("seed", "task") or k in changed}
    return (
        "import tfpcheck\n"
        f"findings = tfpcheck.reproduce({target!r}, {jsonable(minimal)!r})\n"
        "assert not findings, tfpcheck.explain(findings)"
    )
