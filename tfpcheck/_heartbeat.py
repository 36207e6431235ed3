"""Signs of progress from a training that is still moving.

The engine beats after every window of training steps; a fuzz worker listens and passes the
beat on, so ``--timeout`` counts from the last sign of progress: a slow example on a loaded
machine is not taken for a training stuck in a TF kernel (which never finishes a window). No
TensorFlow here: the worker sets its listener before TensorFlow is imported.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

__all__ = ["beat", "listening"]

_listeners: list[Callable[[], None]] = []


def beat() -> None:
    """Tell whoever listens that training moved on."""
    for listener in _listeners:
        listener()


@contextmanager
def listening(listener: Callable[[], None]) -> Iterator[None]:
    """Call ``listener`` on every beat while the block runs."""
    _listeners.append(listener)
    try:
        yield
    finally:
        _listeners.remove(listener)
