"""Findings and reports: the JSON of PRODUCT.md, a terminal summary, a reproduce snippet."""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from tfpcheck._config import Config

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

    def explain(self) -> str:
        step = f" at step {self.step}" if self.step is not None else ""
        return (
            f"{self.invariant} violated{step} (cause: {self.cause})\n"
            f"  {self.message}\n  fix: {self.fix}"
        )


@dataclass
class TargetReport:
    target: str
    status: str  # "passed" | "failed" | "error"
    examples: int = 0
    seconds: float = 0.0
    violations: list[Finding] = field(default_factory=list)
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        out = {
            "target": self.target,
            "status": self.status,
            "examples": self.examples,
            "seconds": round(self.seconds, 3),
            "violations": [_jsonable(asdict(f)) for f in self.violations],
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
        from tfpcheck import __version__

        return {"tfpcheck_version": __version__, "targets": [t.to_dict() for t in self.targets]}

    def write_json(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.to_dict(), indent=2, allow_nan=False) + "\n")

    def summary(self) -> str:
        lines = []
        for t in self.targets:
            lines.append(f"{t.status.upper():7} {t.target}  ({t.examples} examples, {t.seconds:.1f}s)")
            if t.error:
                lines.append(f"        error: {t.error}")
            for f in t.violations:
                lines += ["        " + line for line in f.explain().splitlines()]
                lines.append(f"        minimal config: {_short_config(f.config)}")
                lines += ["        reproduce:"] + ["          " + s for s in f.reproduce.splitlines()]
        held = sum(t.status == "passed" for t in self.targets)
        lines.append(f"tfpcheck: {held} of {len(self.targets)} targets held every invariant")
        return "\n".join(lines)


def reproduce_snippet(target: str, config: dict[str, Any]) -> str:
    """Python a user can paste to re-run exactly this configuration (non-default fields only)."""
    default = Config().to_dict()
    minimal = {k: v for k, v in config.items() if k in ("seed", "task") or default.get(k) != v}
    return (
        "import tfpcheck\n"
        f"findings = tfpcheck.reproduce({target!r}, {_jsonable(minimal)!r})\n"
        "assert not findings, tfpcheck.explain(findings)"
    )


def _short_config(config: dict[str, Any]) -> str:
    try:
        return Config.from_dict(config).short()
    except Exception:  # noqa: BLE001 - a summary must never fail
        return repr(config)


def _jsonable(value: Any) -> Any:
    """JSON-safe copy: non-finite floats become strings ("nan", "inf"), tuples lists."""
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if hasattr(value, "item") and callable(value.item):
        return _jsonable(value.item())
    return value
