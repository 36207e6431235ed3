"""The plugin's reporting: a "tfpcheck" terminal section and the JSON report.

Items hand their TargetReport (as JSON) on through ``user_properties``, so the
results reach the controller under pytest-xdist too; only the controller (never a
worker) prints the section and writes the file.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tfpcheck._plugin.item import REPORT_PROPERTY
from tfpcheck._render import note_lines, status_line
from tfpcheck._report import Finding, Report, TargetReport

__all__ = ["TfpcheckReporter", "merge"]

_WORST = {"passed": 0, "failed": 1, "error": 2}


class TfpcheckReporter:
    """Registered as a plugin when ``--tfpcheck`` is on."""

    def __init__(self, config: Any, report_path: Path | None, html_path: Path | None = None) -> None:
        self.config = config
        self.report_path = report_path
        self.html_path = html_path
        self.results: dict[str, list[dict[str, Any]]] = {}

    @property
    def is_worker(self) -> bool:
        return hasattr(self.config, "workerinput")

    def pytest_runtest_logreport(self, report: Any) -> None:
        if report.when != "call":
            return  # setup and teardown reports carry the same user_properties
        for key, value in getattr(report, "user_properties", ()) or ():
            if key == REPORT_PROPERTY:
                result = json.loads(value)
                self.results.setdefault(result["target"], []).append(result)

    def report(self) -> Report:
        return Report(targets=[merge(self.results[name]) for name in sorted(self.results)])

    def pytest_sessionfinish(self, session: Any) -> None:
        if self.is_worker:
            return
        if self.report_path is not None:
            self.report_path.parent.mkdir(parents=True, exist_ok=True)
            self.report().write_json(self.report_path)
        if self.html_path is not None:
            from tfpcheck._html import write_html

            write_html(self.report().to_dict(), self.html_path, title="tfpcheck report")

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if self.is_worker or not (self.results or self.report_path or self.html_path):
            return
        tr = terminalreporter
        tr.write_sep("=", "tfpcheck")
        report = self.report()
        for t in report.targets:
            tr.write_line(status_line(t), red=t.status != "passed", green=t.status == "passed")
            for line in note_lines(t):
                tr.write_line(line)
            if t.error:
                tr.write_line(f"        error: {t.error}")
        held = sum(t.status == "passed" for t in report.targets)
        tr.write_line(f"tfpcheck: {held} of {len(report.targets)} targets held every invariant")
        if self.report_path is not None:
            tr.write_line(f"tfpcheck: JSON report written to {self.report_path}")
        if self.html_path is not None:
            tr.write_line(f"tfpcheck: HTML report written to {self.html_path}")


def merge(results: list[dict[str, Any]]) -> TargetReport:
    """One TargetReport from the reports of a target's shards."""
    status = max((r["status"] for r in results), key=lambda s: _WORST.get(s, 2))
    errors = [r["error"] for r in results if r.get("error")]
    return TargetReport(
        target=results[0]["target"],
        status=status,
        examples=sum(r["examples"] for r in results),
        seconds=sum(r["seconds"] for r in results),
        violations=[Finding(**v) for r in results for v in r["violations"]],
        error="; ".join(dict.fromkeys(errors)) or None,
        task=next((r["task"] for r in results if r.get("task")), None),
        notes=list(dict.fromkeys(n for r in results for n in r.get("notes", ()))),
    )
