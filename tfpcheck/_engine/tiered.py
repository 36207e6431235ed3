"""When the engine traces a helper it calls on a model: after as many eager calls as a trace costs.

Tracing one of the engine's per-model helpers (a data-term or evaluation pass, the variational
summaries, the twin's state swap) costs 0.1-0.5 s (traced as written: ``tracing.py``), and its
first traced call ~0.2 s more (the runtime instantiates it); an eager call costs 5-250 ms. A
model built for one example only (a factory whose arguments change: a user-data target's new
subsample size changes ``n_train``; a Keras 3 model; a legacy optimizer) calls each helper a few
times, a model reused across examples (``reuse.py``) up to hundreds. So each helper runs eagerly
for its first calls on a model, as many as one trace of it costs, and traced from then on (the
ski-rental rule: never much more than twice the cost of the better choice in hindsight). A
model's second example no longer traces every helper at once: that bet on a long search lost on
the short ones pytest runs (measured, ``pytest --tfpcheck -n 0`` on
``benchmarks/throughput.py``'s alternating file: ci profile 20.1 s twice against 18.9 and 19.4 s
without it, dev 46.8 and 47.2 s against 44.0 and 45.1 s) and saved ~3 ms a configuration over
the benchmark's 32 reused ones (0.089 s against 0.092 s, within its noise). Calls are counted,
not timed, so that a configuration runs the same way every time.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tfpcheck._engine import tracing

__all__ = ["count", "due", "traced", "untraceable"]


def count(owner: Any, name: str) -> int:
    """How many times ``owner``'s helper ``name`` has been asked for, this time included."""
    calls = getattr(owner, "_tfpcheck_calls", None)
    if calls is None:
        calls = {}
        object.__setattr__(owner, "_tfpcheck_calls", calls)  # untracked: Keras wraps what it is given
    calls[name] = calls.get(name, 0) + 1
    return calls[name]


def due(model: Any, name: str, eager_calls: int, keep_on: Any = None) -> bool:
    """Whether the helper ``name`` (counted on ``keep_on``, the model by default) is to be traced
    now: past its ``eager_calls`` eager calls."""
    return count(model if keep_on is None else keep_on, name) > eager_calls


def traced(model: Any, name: str, fn: Callable[..., Any], eager_calls: int, keep_on: Any = None) -> Any:
    """``fn`` traced once per model (kept on ``keep_on``, the model by default) from the call
    ``eager_calls + 1`` of ``name`` on; None (run it eagerly) before that, and once tracing it
    has failed."""
    owner = model if keep_on is None else keep_on
    kept = getattr(owner, name, None)
    if kept is None:
        if not due(model, name, eager_calls, keep_on):
            return None
        kept = tracing.function(fn, reduce_retracing=True)
        object.__setattr__(owner, name, kept)  # untracked: Keras 3 wraps what it is given
    return kept or None


def untraceable(model: Any, name: str, fn: Any) -> None:
    """``fn`` (kept as ``name``) failed traced: run eagerly from now on."""
    if getattr(model, name, None) is fn:
        object.__setattr__(model, name, False)
