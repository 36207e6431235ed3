"""How the engine traces its own functions: as written, with the user's layers inside converted as
Keras' ``fit`` converts them.

``tf.function`` hands a function to AutoGraph, which converts it and every function it calls
from a module AutoGraph does not know. Before this module, that meant the training window and
step and the data-term and evaluation passes, ~0.6 s of AutoGraph work in each process's first
example (six functions; measured by timing AutoGraph's transpiler over
``benchmarks/throughput.py``'s alternating file). They are written with TensorFlow's own control
flow (``tf.while_loop``, ``tf.cond``), so they are traced as written. They run under an
unspecified conversion status, as code outside any ``tf.function`` does. So Keras' own layers
and metrics still convert the user's ``call`` and metric functions, as they do under ``fit``. A
user's own ``train_step`` runs as ``fit`` runs it, unconverted: Python ``if``/``while`` on
tensors in it fails under both. A tf_keras model's compiled loss is called through tfpcheck's
recording wrappers (``instrument.py``, ``do_not_convert``), which would hide it from AutoGraph:
it is converted explicitly (:func:`as_keras_converts`), as tf_keras' ``LossFunctionWrapper``
converts it under ``fit``. Keras 3 calls a loss unconverted, and so does tfpcheck.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import tensorflow as tf

__all__ = ["as_keras_converts", "as_written", "function"]

#: The conversion status outside any ``tf.function``: read at import, which the engine's modules
#: do at their top level, outside any trace (read inside one, it would be that trace's status).
_UNSPECIFIED = tf.__internal__.autograph.control_status_ctx()


def as_written(fn: Callable[..., Any]) -> Callable[..., Any]:
    """``fn`` marked for AutoGraph to call unconverted, under an unspecified status (Keras layers
    and losses called in it convert the user's code by default)."""
    return tf.__internal__.autograph.tf_convert(fn, _UNSPECIFIED, convert_by_default=False)


def as_keras_converts(fn: Callable[..., Any]) -> Callable[..., Any]:
    """``fn`` converted by AutoGraph when called in a trace, whatever the status where it is
    called: what tf_keras does to a compiled loss (``tf_convert`` with ``fit``'s enabled status,
    recursive, the modules AutoGraph knows left alone)."""
    return tf.__internal__.autograph.tf_convert(fn, _UNSPECIFIED)


def function(fn: Callable[..., Any], **kwargs: Any) -> Any:
    """``tf.function`` of ``fn`` traced as written (see the module docstring)."""
    return tf.function(as_written(fn), **kwargs)
