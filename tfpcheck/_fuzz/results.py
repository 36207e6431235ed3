"""The morning's reading: one report from every round, replay and hang of a fuzz run, written
as ``report.json`` (PRODUCT.md's schema plus curves, replay labels and hangs), ``report.html``
and ``junit.xml``."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

from tfpcheck._fuzz import ledger
from tfpcheck._fuzz.schedule import TargetState
from tfpcheck._render import jsonable
from tfpcheck._version import __version__

__all__ = ["fuzz_report", "target_report", "write_reports"]

_WORST = {"passed": 0, "failed": 1, "error": 2}


def target_report(t: TargetState) -> dict[str, Any]:
    """One target's rounds merged: each (invariant, cause) once, the first found kept, each
    labelled by its replays; failures saved by earlier runs that reproduced are included."""
    violations: dict[tuple[str, str], dict[str, Any]] = {}
    for r in t.reports:
        for v in r["violations"]:
            violations.setdefault((v["invariant"], v["cause"]), dict(v))
    for rep in t.replays:
        entry, finding = rep["entry"], rep.get("finding")
        match = next((v for v in violations.values() if _same(v, entry)), None)
        if match is None and finding is not None and rep["failed"]:
            match = violations.setdefault((finding["invariant"], finding["cause"]), dict(finding))
            match["notes"] = ["saved by an earlier run; replayed first"]
        if match is not None:
            match["replay"] = {"runs": rep["runs"], "failed": rep["failed"],
                               "label": ledger.label(rep["failed"], rep["runs"])}
    errors = [r["error"] for r in t.reports if r.get("error")]
    if not t.reports and not violations and not t.hangs:
        # Never "passed" unchecked: every round it got was cut off or lost.
        errors.append("not checked: no search round finished within the budget ("
                      + ("; ".join(t.notes) or "none started") + "); give it a longer --budget")
    status = "failed" if violations or t.hangs else ("error" if errors else "passed")
    out: dict[str, Any] = {
        "target": t.spec, "status": status,
        "task": next((r["task"] for r in t.reports if r.get("task")), None),
        "examples": t.examples, "seconds": round(t.seconds, 3),
        "notes": _merged_notes([n for r in t.reports for n in r.get("notes", ())] + t.notes),
        "violations": list(violations.values()), "hangs": t.hangs,
        "replays": [{**rep["entry"], "runs": rep["runs"], "failed": rep["failed"],
                     "label": ledger.label(rep["failed"], rep["runs"])} for rep in t.replays],
        "rounds": t.rounds, "behaviours": len(t.signatures),
    }
    if errors:
        out["error"] = "; ".join(dict.fromkeys(errors))
    return jsonable(out)


def _merged_notes(notes: list[str]) -> list[str]:
    """Each note once: rounds repeat the same note with other numbers ("gain -0.4 standard
    errors", "-12 standard errors"), so notes equal but for their numbers are one, the first
    kept and how many rounds said it."""
    groups: dict[str, list[str]] = {}
    for note in notes:
        groups.setdefault(re.sub(r"-?\d+(\.\d+)?(e-?\d+)?", "#", note), []).append(note)
    return [g[0] + (f" [{len(g)} rounds, numbers differ]" if len(set(g)) > 1 else "")
            for g in groups.values()]


def _same(violation: dict[str, Any], entry: dict[str, Any]) -> bool:
    return violation["invariant"] == entry["invariant"] and violation["config"] == entry["config"]


def fuzz_report(targets: list[TargetState], facts: dict[str, Any]) -> dict[str, Any]:
    return {"tfpcheck_version": __version__, "fuzz": jsonable(facts),
            "targets": [target_report(t) for t in targets]}


def write_reports(report: dict[str, Any], directory: str | Path) -> list[Path]:
    """``report.json``, ``report.html`` and ``junit.xml`` in ``directory``."""
    from tfpcheck._html import write_html

    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    paths = [out / "report.json", out / "report.html", out / "junit.xml"]
    paths[0].write_text(json.dumps(report, indent=2, allow_nan=False) + "\n")
    write_html(report, paths[1], title="tfpcheck fuzz report")
    paths[2].write_bytes(junit_xml(report))
    return paths


def junit_xml(report: dict[str, Any]) -> bytes:
    """One testcase per target: a <failure> per finding, an <error> where it couldn't be checked."""
    targets = report["targets"]
    suite = ET.Element(
        "testsuite", name="tfpcheck", tests=str(len(targets)),
        failures=str(sum(t["status"] == "failed" for t in targets)),
        errors=str(sum(t["status"] == "error" for t in targets)),
        time=f"{sum(t['seconds'] for t in targets):.3f}",
    )
    for t in targets:
        path, _, name = t["target"].rpartition("::")
        case = ET.SubElement(suite, "testcase", classname=path or "tfpcheck", name=name or t["target"],
                             time=f"{t['seconds']:.3f}")
        for v in t["violations"]:
            label = f" [{v['replay']['label']}]" if v.get("replay") else ""
            failure = ET.SubElement(case, "failure", type=v["invariant"],
                                    message=f"{v['invariant']}: {v['cause']}{label}")
            failure.text = f"{v['message']}\n\nfix: {v['fix']}\n\nreproduce:\n{v['reproduce']}"
        for h in t.get("hangs", ()):
            failure = ET.SubElement(case, "failure", type="timeout", message=h["message"])
            failure.text = h.get("reproduce") or json.dumps(h["config"])
        if t["status"] == "error":
            ET.SubElement(case, "error", message=t.get("error") or "could not be checked")
    return ET.tostring(suite, encoding="utf-8", xml_declaration=True)
