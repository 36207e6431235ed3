"""What a fuzz run shows while it runs: a live table on a terminal, plain lines otherwise.

Plain lines (CI logs) come every :data:`LINE_EVERY` seconds and at each finding, so a log
says what happened without a line per example.
"""

from __future__ import annotations

import sys
import time
from typing import Any, TextIO

from tfpcheck._fuzz.schedule import TargetState

__all__ = ["LINE_EVERY", "Progress"]

LINE_EVERY = 15.0
REDRAW_EVERY = 0.5


class Progress:
    def __init__(self, budget: float, stream: TextIO | None = None, live: bool | None = None) -> None:
        self.stream = stream or sys.stderr
        self.live = self.stream.isatty() if live is None else live
        self.budget = budget
        self.start = time.monotonic()
        self._last = 0.0
        self._drawn = 0

    def event(self, text: str) -> None:
        """A finding, a hang, a replaced worker: always its own line."""
        self._clear()
        self.stream.write(f"tfpcheck fuzz [{self._clock()}] {text}\n")
        self.stream.flush()

    def update(self, targets: list[TargetState], busy: dict[int, Any], force: bool = False) -> None:
        now = time.monotonic()
        every = REDRAW_EVERY if self.live else LINE_EVERY
        if not force and now - self._last < every:
            return
        self._last = now
        if self.live:
            self._clear()
            lines = self._table(targets, busy)
            self.stream.write("\n".join(lines) + "\n")
            self._drawn = len(lines)
        else:
            examples = sum(t.examples for t in targets)
            failing = sum(t.failed for t in targets)
            self.stream.write(
                f"tfpcheck fuzz [{self._clock()}] {examples} examples "
                f"({examples / max(now - self.start, 1e-9):.2f}/s), {failing} of {len(targets)} "
                f"targets failing, {len(busy)} workers busy, {self._left():.0f}s left\n"
            )
        self.stream.flush()

    def _table(self, targets: list[TargetState], busy: dict[int, Any]) -> list[str]:
        elapsed = max(time.monotonic() - self.start, 1e-9)
        lines = [f"tfpcheck fuzz  {self._clock()}  {self._left():.0f}s left  {len(busy)} busy"]
        for t in targets:
            status = "FAILED" if t.failed else (t.retired or ("running" if t.running else "ok"))
            lines.append(
                f"  {t.spec[-48:]:<48} {t.examples:>5} ex {t.examples / elapsed:>6.2f}/s "
                f"{len(t.signatures):>3} kinds  {status}"
            )
        return lines

    def _clear(self) -> None:
        if self.live and self._drawn:
            self.stream.write(f"\x1b[{self._drawn}F\x1b[J")
            self._drawn = 0

    def _clock(self) -> str:
        s = int(time.monotonic() - self.start)
        return f"{s // 60:02d}:{s % 60:02d}"

    def _left(self) -> float:
        return max(0.0, self.budget - (time.monotonic() - self.start))
