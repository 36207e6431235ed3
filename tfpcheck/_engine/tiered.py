"""When the engine traces a helper it calls on a model: after as many eager calls as a trace costs.

Tracing one of the engine's per-model helpers (a data-term or evaluation pass, the variational
summaries, the twin's state swap) costs 0.1-0.5 s, more the first time in a process (AutoGraph
converts tfpcheck's own code); an eager call costs 5-250 ms. A model built for one example only
(a factory whose arguments change: a user-data target's subsample changes ``n_train``; a Keras 3
model; a legacy optimizer) calls each helper a few times, a model reused across examples
(``reuse.py``) hundreds. So each helper runs eagerly for its first calls on a model, as many as
one trace of it costs (the ski-rental rule: never much more than twice the cost of the better
choice in hindsight), and traced from then on, or from the model's second example, whichever
comes first: a model handed out again is a model a search keeps reusing (measured on
``benchmarks/throughput.py``'s reused network: eager summaries, swaps and initial passes until
their counts ran out cost +55 ms an example, 0.148 s against 0.093 s). Calls and uses are
counted, not timed, so that a configuration runs the same way every time.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import tensorflow as tf

__all__ = ["EAGER_USES", "count", "due", "note_use", "reused", "traced", "untraceable"]

#: Uses of a model (``reuse.reinitialise``: one example's x-denied twin and model are two) after
#: which every helper of it is traced.
EAGER_USES = 2


def note_use(model: Any) -> None:
    """``model`` handed out for one more training (``reuse.py``)."""
    object.__setattr__(model, "_tfpcheck_uses", getattr(model, "_tfpcheck_uses", 0) + 1)


def reused(model: Any) -> bool:
    """Whether ``model`` is past its first example (EAGER_USES)."""
    return getattr(model, "_tfpcheck_uses", 0) > EAGER_USES


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
    now: past its ``eager_calls`` eager calls, or ``model`` is :func:`reused`."""
    return count(model if keep_on is None else keep_on, name) > eager_calls or reused(model)


def traced(model: Any, name: str, fn: Callable[..., Any], eager_calls: int, keep_on: Any = None) -> Any:
    """``fn`` traced once per model (kept on ``keep_on``, the model by default) from the call
    ``eager_calls + 1`` of ``name`` on, or once the model is :func:`reused`; None (run it
    eagerly) before that, and once tracing it has failed."""
    owner = model if keep_on is None else keep_on
    kept = getattr(owner, name, None)
    if kept is None:
        if not due(model, name, eager_calls, keep_on):
            return None
        kept = tf.function(fn, reduce_retracing=True)
        object.__setattr__(owner, name, kept)  # untracked: Keras 3 wraps what it is given
    return kept or None


def untraceable(model: Any, name: str, fn: Any) -> None:
    """``fn`` (kept as ``name``) failed traced: run eagerly from now on."""
    if getattr(model, name, None) is fn:
        object.__setattr__(model, name, False)
