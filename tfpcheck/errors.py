"""One exception hierarchy for tfpcheck, in the style of ``hypothesis.errors``.

``InvalidArgument`` is also Hypothesis' own, so that ``except hypothesis.errors.InvalidArgument``
catches it; it is made on first use (PEP 562), because importing Hypothesis costs ~0.3 s and the
pytest plugin imports this module at every pytest start-up.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__all__ = ["TfpcheckError", "InvalidArgument", "UsageError", "TargetError"]


class TfpcheckError(Exception):
    """Base class of every error tfpcheck raises on purpose."""


class UsageError(TfpcheckError):
    """The call itself was wrong (bad path, unknown option): exit code 2, a one-line message."""


class TargetError(TfpcheckError):
    """A target cannot be checked at all (factory missing, unknown parameter without a strategy)."""


if TYPE_CHECKING:
    from hypothesis.errors import InvalidArgument as _HypothesisInvalidArgument

    class InvalidArgument(TfpcheckError, _HypothesisInvalidArgument): ...  # made below, on first use


def __getattr__(name: str) -> Any:
    if name != "InvalidArgument":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from hypothesis.errors import InvalidArgument as _HypothesisInvalidArgument

    class InvalidArgument(TfpcheckError, _HypothesisInvalidArgument):
        """A strategy or API argument is out of range; the message shows ``name=value`` and the fix."""

    InvalidArgument.__module__, InvalidArgument.__qualname__ = __name__, "InvalidArgument"  # pickles by name
    globals()["InvalidArgument"] = InvalidArgument  # made once: every import gets this class
    return InvalidArgument
