"""A target's notes, one per kind: each example measures its own numbers, and the same note with
other numbers (``learns: inconclusive ... fell 0.3 ...`` and ``... fell 0.5 ...``) is one note
to a reader, counted rather than repeated. Plain Python."""

from __future__ import annotations

import re
from collections.abc import Iterable

__all__ = ["Notes"]

#: A number as notes print them (1600, 0.237, 1.2e-07, 40%): what differs between examples.
_NUMBER = re.compile(r"\d+(?:\.\d+)?(?:e[-+]?\d+)?")


class Notes:
    """The first note of each kind, and how many other texts of that kind came after it."""

    def __init__(self) -> None:
        self._texts: dict[str, set[str]] = {}
        self._first: dict[str, str] = {}

    def add(self, note: str) -> None:
        kind = _NUMBER.sub("#", note)
        self._first.setdefault(kind, note)
        self._texts.setdefault(kind, set()).add(note)

    def update(self, notes: Iterable[str]) -> None:
        for note in notes:
            self.add(note)

    def lines(self) -> list[str]:
        """Sorted, each with the count of the others of its kind where there are any."""
        out = []
        for kind, first in self._first.items():
            others = len(self._texts[kind]) - 1
            out.append(first if not others else
                       f"{first} (and {others} more like it in other examples, with other numbers)")
        return sorted(out)
