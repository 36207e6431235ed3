"""A per-example time limit, so a hanging factory or training fails one target, not the run.

POSIX interval timers interrupt Python code (a loop, a sleep, between TF ops) in
the main thread, which is where pytest, pytest-xdist workers and the CLI run
tests. Elsewhere (another thread, Windows) the limit is not enforced, and says so.
"""

from __future__ import annotations

import contextlib
import signal
import threading
import warnings
from collections.abc import Iterator
from types import FrameType

from tfpcheck.errors import TargetError

__all__ = ["ExampleTimeout", "time_limit"]


class ExampleTimeout(BaseException):
    """One example (build + brief training) ran past its time limit.

    A BaseException, like KeyboardInterrupt, so that the engine's ``except Exception``
    (which turns a user's error into a ``builds`` verdict) lets it through; the search
    turns it into a :class:`TargetError` for the target.
    """

    def as_target_error(self) -> TargetError:
        return TargetError(str(self))


def _can_interrupt() -> bool:
    return hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread()


@contextlib.contextmanager
def time_limit(seconds: float | None, what: str) -> Iterator[None]:
    """Raise :class:`ExampleTimeout` in the body if it runs longer than ``seconds``."""
    if not seconds:
        yield
        return
    if not _can_interrupt():
        warnings.warn(
            f"tfpcheck: timeout={seconds}s not enforced for {what} (needs the main thread on POSIX)",
            RuntimeWarning,
            stacklevel=3,
        )
        yield
        return

    def expire(signum: int, frame: FrameType | None) -> None:
        raise ExampleTimeout(
            f"{what} ran past the time limit of {seconds:g}s (building and training one "
            "configuration). Make the factory return promptly, or raise the limit "
            "(--tfpcheck-timeout / timeout=)."
        )

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
