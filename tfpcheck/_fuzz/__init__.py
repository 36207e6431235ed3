"""``tfpcheck fuzz``: nightly fuzzing in worker processes (or Ray actors), with a shared
example database and reports to read in the morning.

config (``options``, ``collect``) → scheduling (``schedule``) → workers (``local``,
``rayexec``, ``worker``, ``jobs``) → saved failures (``ledger``) → reports (``results``,
``progress``); ``run`` ties them together.
"""

from tfpcheck._fuzz.collect import fuzz_targets
from tfpcheck._fuzz.options import FuzzOptions, parse_budget
from tfpcheck._fuzz.run import fuzz

__all__ = ["FuzzOptions", "fuzz", "fuzz_targets", "parse_budget"]
