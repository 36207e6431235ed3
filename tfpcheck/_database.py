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

from tfpcheck.errors import UsageError

__all__ = ["DEFAULT_DIRECTORY", "REDIS_EXPIRY_DAYS", "TargetDatabase", "WriteOnlyDatabase",
           "directory_database", "open_database"]

#: Redis entries outlive this many days without a write (Hypothesis's default is 8: a weekly
#: fuzz job would find last week's failures gone).
REDIS_EXPIRY_DAYS = 90

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


class WriteOnlyDatabase(ExampleDatabase):
    """Saves go through, nothing is read back (so nothing is deleted on a failed replay).

    A fuzz round searches for new failures: replaying the saved ones first would fail every
    round on the same example, and Hypothesis deletes a saved example that does not fail on
    replay, which TF's run-to-run noise would do to another worker's failure. Saved failures
    are replayed, several times and never deleted, by the fuzz run's own replay jobs.
    """

    def __init__(self, inner: ExampleDatabase) -> None:
        super().__init__()
        self.inner = inner

    def save(self, key: bytes, value: bytes) -> None:
        self.inner.save(key, value)

    def fetch(self, key: bytes) -> Iterable[bytes]:
        return iter(())

    def delete(self, key: bytes, value: bytes) -> None:
        pass  # nothing was read, so nothing this run wrote is known to be stale

    def move(self, src: bytes, dest: bytes, value: bytes) -> None:
        self.inner.move(src, dest, value)  # shrinking demotes its own larger examples

    def __repr__(self) -> str:
        return f"WriteOnlyDatabase({self.inner!r})"


def open_database(spec: str | Path) -> ExampleDatabase:
    """A directory, or ``redis://HOST:PORT/DB`` (shared by machines; needs ``redis``)."""
    text = str(spec)
    if not text.startswith(("redis://", "rediss://")):
        return directory_database(text)
    try:
        import redis
        from hypothesis.extra.redis import RedisExampleDatabase
    except ImportError:
        raise UsageError(
            f"--database={text}: a Redis database needs the redis package: "
            "pip install 'tfpcheck[redis]'"
        ) from None
    from datetime import timedelta

    try:
        client = redis.Redis.from_url(text)
    except ValueError as exc:
        raise UsageError(f"--database={text}: {exc}; expected redis://HOST:PORT/DB") from None
    return RedisExampleDatabase(client, expire_after=timedelta(days=REDIS_EXPIRY_DAYS))
