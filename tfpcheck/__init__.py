"""tfpcheck: property-based checks that TFP + Keras models fit, and why they do not.

The public API. Importing it is cheap (no TensorFlow): TF is imported only when
a model is actually built, after its thread pools have been sized.
"""

from tfpcheck._api import check, explain, reproduce
from tfpcheck._assertions import assert_invariants, train_and_check
from tfpcheck._config import TASKS, Config
from tfpcheck._diagnose import CAUSES
from tfpcheck._invariants import INVARIANTS
from tfpcheck._report import Finding, Report, TargetReport
from tfpcheck._target import Target, model
from tfpcheck._version import __version__
from tfpcheck.errors import InvalidArgument, TargetError, TfpcheckError, UsageError

__all__ = [
    "CAUSES",
    "INVARIANTS",
    "TASKS",
    "Config",
    "Finding",
    "InvalidArgument",
    "Report",
    "Target",
    "TargetError",
    "TargetReport",
    "TfpcheckError",
    "UsageError",
    "__version__",
    "assert_invariants",
    "check",
    "explain",
    "model",
    "reproduce",
    "train_and_check",
]
