"""What the pytest-xdist controller does with the core its first finished worker frees.

Hypothesis' own pytest plugin imports Hypothesis in the controller at the terminal summary,
after every worker is done. That import costs ~0.5 s where pytest rewrites Hypothesis' asserts
on import and can't keep the result (``PYTHONDONTWRITEBYTECODE=1``, as in many CI images, or a
read-only site-packages), ~0.1 s where it can. Every ``-n`` run paid it at its end, where a
``-n 0`` process had imported Hypothesis in its first example. The controller now imports it in
a thread as soon as one worker is done, on the core that worker leaves while the others still
run.
"""

from __future__ import annotations

import importlib
import sys
import threading
from typing import Any

import pytest

__all__ = ["Prefetch"]

#: What Hypothesis' plugin imports at the terminal summary (and with it Hypothesis itself).
MODULE = "hypothesis.internal.observability"


class Prefetch:
    """Registered on a ``--tfpcheck`` run; its hooks fire only on an xdist controller."""

    def __init__(self) -> None:
        self.thread: threading.Thread | None = None

    @pytest.hookimpl(optionalhook=True)
    def pytest_testnodedown(self, node: Any, error: Any) -> None:
        if self.thread is None and MODULE not in sys.modules:
            self.thread = threading.Thread(target=_import, name="tfpcheck-prefetch", daemon=True)
            self.thread.start()

    def pytest_sessionfinish(self, session: Any) -> None:
        if self.thread is not None:
            self.thread.join()


def _import() -> None:
    try:
        importlib.import_module(MODULE)
    except Exception:  # noqa: BLE001 - only ahead of time: the plugin's own import says what is wrong
        pass
