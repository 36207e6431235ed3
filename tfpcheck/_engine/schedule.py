"""How long the brief training runs: until the loss settles, or the configuration's cap.

A fixed length was either too short for a slow healthy model (a false ``learns``
failure) or wasted on a fast one. Every ``WINDOW`` steps the engine evaluates the data term
on the whole training set (no minibatch noise: a slow, steady fit is told from a flat one);
the loss has settled when the last window gained less than ``SETTLE_SHARE`` of the progress
made since step 0. The engine stops early only once the model also beats its x-denied twin
(``train.py``): a flat loss that does not may be a plateau, and trains on to the cap.
Plain Python: no TensorFlow needed to decide.
"""

from __future__ import annotations

import math

__all__ = ["MIN_STEPS", "SETTLE_SHARE", "WINDOW", "settled"]

#: Steps between two evaluations of the whole-set data term.
WINDOW = 100
#: Never stop before this many steps: the first windows of Adam are still warming up.
MIN_STEPS = 300
#: The last window's gain, as a share of the progress since step 0, below which the loss has
#: settled: a model still gaining 5 % of its progress per window would gain little more in the
#: rest of the budget compared with what it has.
SETTLE_SHARE = 0.05


def settled(evaluations: list[float], steps: int) -> bool:
    """Whether the loss has settled after ``steps`` steps, given the whole-set data term at
    step 0 and at every window end since (``evaluations``)."""
    if steps < MIN_STEPS or len(evaluations) < 3:
        return False
    first, previous, last = evaluations[0], evaluations[-2], evaluations[-1]
    if not (math.isfinite(last) and math.isfinite(previous) and math.isfinite(first)):
        return True  # non-finite: nothing more to learn; finite_loss reports it
    return previous - last <= SETTLE_SHARE * max(first - last, 0.0)
