"""The one renderer of findings and reports, for the CLI, the plugin and the fixtures.

Duck-typed over :mod:`tfpcheck._report`'s records (which import this module), so it
stays a leaf: a finding reads the same wherever it is printed.
"""

from __future__ import annotations

import json
import math
from typing import TYPE_CHECKING, Any

from tfpcheck._config import Config

if TYPE_CHECKING:
    from tfpcheck._report import Finding, Report, TargetReport

__all__ = ["config_text", "finding_text", "findings_text", "jsonable", "note_lines",
           "report_text", "status_line", "target_text"]

_INDENT = "    "


def jsonable(value: Any) -> Any:
    """JSON-safe copy: non-finite floats become strings ("nan", "inf"), tuples lists."""
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if hasattr(value, "item") and callable(value.item):
        return jsonable(value.item())
    return value


def finding_text(f: Finding, *, full: bool = False) -> str:
    """The invariant, cause, message, consequences and fix; with ``full`` the configuration,
    evidence and the reproduce snippet too.

    With the user's own configuration known, the whole configuration is shown and every field
    that differs from theirs is marked (``learning_rate=0.01 (yours: 0.001)``); without it, the
    fields that differ from the defaults.
    """
    step = f" at step {f.step}" if f.step is not None else ""
    lines = [f"{f.invariant} violated{step} (cause: {f.cause}, {_standing(f)})", f"  {f.message}"]
    if f.consequences:
        lines.append(f"  consequences: {', '.join(f.consequences)}")
    lines.append(f"  fix: {f.fix}")
    if f.intervention and f.intervention.get("tried"):
        lines += [f"  re-run with {_changed(r['changed'])}: {r['result']}"
                  for r in f.intervention["tried"]]
    if full:
        if f.user_config is not None:
            lines.append(f"  config: {config_text(f.config, f.user_config)}")
        else:
            lines.append(f"  minimal config: {_short_config(f.config)}")
            lines.append(f"  config: {_dumps(f.config)}")
        lines.append(f"  evidence: {_dumps(f.evidence)}")
        lines.append("  reproduce:")
        lines += ["    " + s for s in f.reproduce.splitlines()]
    return "\n".join(lines)


def _standing(f: Finding) -> str:
    if f.confirmed:
        return "confirmed"
    return "no evidence" if f.cause == "unclassified" else "suspected"


def _changed(changed: dict[str, Any]) -> str:
    return ", ".join(f"{k} {v}" for k, v in changed.items()) or "nothing changed"


def findings_text(findings: list[Finding], *, full: bool = False) -> str:
    """Numbered findings under one heading (what a failing assertion prints)."""
    if not findings:
        return "every invariant held"
    return "tfpcheck: invariants violated\n" + "\n".join(
        f"[{i}] " + finding_text(f, full=full).replace("\n", "\n" + _INDENT)
        for i, f in enumerate(findings, 1)
    )


#: Config fields that draw generated data: on the user's own data (``n_train`` among what the
#: user fixed) ``noise`` means nothing, and the rescaling fields only where they changed it.
_GENERATED_ONLY = ("noise",)
_RESCALING = ("x_scale", "x_offset", "y_scale", "y_offset")


def config_text(config: dict[str, Any], user_config: dict[str, Any]) -> str:
    """Every field of ``config`` that applies as ``name=value``, each one that differs from the
    user's own marked ``(yours: value)``."""
    def differs(key: str) -> bool:
        return key in user_config and jsonable(user_config[key]) != jsonable(config[key])

    def applies(key: str) -> bool:
        if "n_train" not in user_config:
            return True
        return key not in _GENERATED_ONLY and (key not in _RESCALING or differs(key))

    return ", ".join(
        f"{k}={v!r}" + (f" (yours: {user_config[k]!r})" if differs(k) else "")
        for k, v in config.items() if applies(k)
    )


def note_lines(t: TargetReport) -> list[str]:
    """A target's notes, one indented ``note:`` line each, printed under its status line."""
    return [f"{_INDENT}note: {n}" for n in t.notes]


def status_line(t: TargetReport) -> str:
    """One line per target: status, name, examples, time, and the invariants and causes found."""
    found = ", ".join(dict.fromkeys(f"{f.invariant} ({f.cause})" for f in t.violations))
    line = f"{t.status.upper():7} {t.target}  {t.examples} examples, {t.seconds:.1f}s"
    return f"{line}  {found}" if found else line


def target_text(t: TargetReport) -> str:
    """A target's status line, its error, and every finding in full."""
    lines = [status_line(t), *note_lines(t)]
    if t.error:
        lines.append(f"{_INDENT}error: {t.error}")
        if "Fix:" not in t.error and "allowed:" not in t.error:  # the error's own fix is the specific one
            lines.append(f"{_INDENT}Fix the factory so that it builds and returns a model tfpcheck "
                         "can train, then rerun.")
    if t.violations:
        lines += [_INDENT + s for s in findings_text(t.violations, full=True).splitlines()[1:]]
    return "\n".join(lines)


def report_text(report: Report) -> str:
    """Every target in full, then the count of targets that held."""
    held = sum(t.status == "passed" for t in report.targets)
    body = [target_text(t) for t in report.targets]
    return "\n".join([*body, f"tfpcheck: {held} of {len(report.targets)} targets held every invariant"])


def _short_config(config: dict[str, Any]) -> str:
    try:
        return Config.from_dict(config).short()
    except Exception:  # noqa: BLE001 - a summary must never fail
        return repr(config)


def _dumps(value: Any) -> str:
    return json.dumps(jsonable(value), sort_keys=True, default=repr)
