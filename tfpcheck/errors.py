"""One exception hierarchy for tfpcheck, in the style of ``hypothesis.errors``."""

from __future__ import annotations

from hypothesis.errors import InvalidArgument as _HypothesisInvalidArgument

__all__ = ["TfpcheckError", "InvalidArgument", "UsageError", "TargetError"]


class TfpcheckError(Exception):
    """Base class of every error tfpcheck raises on purpose."""


class InvalidArgument(TfpcheckError, _HypothesisInvalidArgument):
    """A strategy or API argument is out of range; the message shows ``name=value`` and the fix."""


class UsageError(TfpcheckError):
    """The call itself was wrong (bad path, unknown option): exit code 2, a one-line message."""


class TargetError(TfpcheckError):
    """A target cannot be checked at all (factory missing, unknown parameter without a strategy)."""
