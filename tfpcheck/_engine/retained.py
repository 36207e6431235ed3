"""What TFP keeps of a finished trace, given back after each example.

TFP's bijectors remember each ``forward``/``inverse`` in one dictionary shared by every bijector
(``Bijector._cache``), so that ``log_prob`` of a sample need not invert it: the input held
strongly, the output weakly, the entry gone once the output is. Inside a traced function both are
tensors of the same graph, and a graph holds its tensors: the output never goes, and the cache
keeps every graph traced through a bijector (a model's whole training step, a softplus scale is
enough) for the life of the process. Measured on a two-layer DenseFlipout network whose input
width changes at every example (a new model each, two kept): +15 MB and 11,000 Python objects a
model, never given back; with these entries dropped after each example (and tf_keras' gradient
all-reduce skipped, ``instrument.py``), flat.

An entry whose tensors belong to a graph is only of use while that graph is being traced, so
they are dropped when no trace is in progress; eager entries go on their own, as TFP meant.
"""

from __future__ import annotations

from typing import Any

import tensorflow as tf
from tensorflow_probability.python.bijectors.bijector import Bijector

__all__ = ["forget_traced_tensors"]


def forget_traced_tensors() -> int:
    """Drop the bijector cache's entries that hold graph tensors; how many were dropped (0
    inside a trace, or where TFP keeps its cache some other way)."""
    storage = getattr(vars(Bijector).get("_cache"), "storage", None)
    if not isinstance(storage, dict) or not tf.executing_eagerly():
        return 0
    stale = [key for key in list(storage) if _holds_graph_tensor(key)]
    for key in stale:
        getattr(key, "cancel", lambda: None)()  # its weakref callback would delete it again
        storage.pop(key, None)
    return len(stale)


def _holds_graph_tensor(key: Any) -> bool:
    try:
        referents = key() if callable(key) else None
    except Exception:  # noqa: BLE001 - an entry of another shape: left alone
        return False
    return any(tf.is_symbolic_tensor(t) for t in tf.nest.flatten(referents))
