"""How long the brief training runs: until the loss settles, or the configuration's cap.

A fixed length was either too short for a slow healthy model (a false ``learns``
failure) or wasted on a fast one. The loss is judged in windows of ``WINDOW`` steps:
it has settled when the last window's median improved on the one before by less than
``SETTLE_SHARE`` of the progress made since the first window, or by less than the
minibatch noise of a window median. Plain NumPy: no TensorFlow needed to decide.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["MIN_STEPS", "SETTLE_SHARE", "WINDOW", "settled"]

#: Steps per window; the decision is taken at window ends.
WINDOW = 100
#: Never stop before this many steps: the first windows of Adam are still warming up.
MIN_STEPS = 300
#: The last window's gain, as a share of the whole gain so far, below which the loss has
#: settled: a model still gaining 5 % of its progress per window would gain little more in the
#: remaining budget compared with what it has.
SETTLE_SHARE = 0.05
#: Standard errors of a window median that a gain must exceed to count as progress.
NOISE_SES = 2.0


def settled(losses: list[float], *, final: bool = False) -> bool:
    """Whether training may stop: at a window end (or, ``final``, at any length) the loss has
    stopped improving by more than SETTLE_SHARE of its progress and the noise."""
    n = len(losses)
    if not final and (n < MIN_STEPS or n % WINDOW):
        return False
    w = min(WINDOW, n // 3)
    if w < 3:
        return False
    values = np.asarray(losses, dtype=float)
    last, previous, first = values[-w:], values[-2 * w : -w], values[:w]
    if not np.all(np.isfinite(last)):
        return True  # non-finite: nothing more to learn; finite_loss reports it
    m_last, m_prev, m_first = (float(np.median(v)) for v in (last, previous, first))
    if not (math.isfinite(m_prev) and math.isfinite(m_first)):
        return True
    gain, progress = m_prev - m_last, m_first - m_last
    noise = NOISE_SES * 1.2533 * float(np.std(last)) / math.sqrt(w)
    return gain <= max(SETTLE_SHARE * max(progress, 0.0), noise)
