"""The example database, one namespace per target, so a failure replays first next run.

Every target's search is the same Hypothesis test function (one ``search`` in
``_search.py``), so Hypothesis would file every target's failures under one key
and replay one target's failure against all the others. This view prefixes
every key with a digest of the target's name.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from pathlib import Path

from hypothesis.database import DirectoryBasedExampleDatabase, ExampleDatabase

__all__ = ["DEFAULT_DIRECTORY", "TargetDatabase", "directory_database"]

#: Where the pytest plugin and the CLI keep failing examples (beside Hypothesis's own).
DEFAULT_DIRECTORY = Path(".hypothesis") / "tfpcheck"


class TargetDatabase(ExampleDatabase):
    """A view of ``inner`` holding only ``target``'s examples."""

    def __init__(self, inner: ExampleDatabase, target: str) -> None:
        super().__init__()
        self.inner = inner
        self.prefix = hashlib.sha256(target.encode()).digest()[:8]

    def save(self, key: bytes, value: bytes) -> None:
        self.inner.save(self.prefix + key, value)

    def fetch(self, key: bytes) -> Iterable[bytes]:
        return self.inner.fetch(self.prefix + key)

    def delete(self, key: bytes, value: bytes) -> None:
        self.inner.delete(self.prefix + key, value)

    def move(self, src: bytes, dest: bytes, value: bytes) -> None:
        self.inner.move(self.prefix + src, self.prefix + dest, value)

    def __repr__(self) -> str:
        return f"TargetDatabase({self.inner!r}, prefix={self.prefix.hex()})"


def directory_database(directory: str | Path) -> ExampleDatabase:
    return DirectoryBasedExampleDatabase(str(directory))
