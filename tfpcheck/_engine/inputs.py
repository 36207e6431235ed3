"""What a model of several inputs is given at each call: the engine's one packed x (columns of
every input side by side, ``tfpcheck._inputs``) split back into one tensor per input."""

from __future__ import annotations

from contextlib import suppress
from typing import Any

import tensorflow as tf

from tfpcheck._inputs import InputLayout

__all__ = ["feed", "inputs_of", "set_inputs", "takes"]

_ATTR = "_tfpcheck_inputs"


def set_inputs(model: Any, inputs: InputLayout | None) -> None:
    """Mark ``model`` as one fed ``inputs`` (None: one input, fed x itself)."""
    with suppress(AttributeError, TypeError):  # not a model at all: refused where it is checked
        object.__setattr__(model, _ATTR, inputs)  # not tracked by Keras: a plain attribute


def inputs_of(model: Any) -> InputLayout | None:
    """The layout of ``model``'s several inputs in x; None for a model of one input."""
    return getattr(model, _ATTR, None)


def feed(model: Any, x: Any) -> Any:
    """``x`` as ``model`` takes it: itself, or split into the arrays of its several inputs (in the
    dict, list or tuple the user's data came in), each of its own shape and integer dtype."""
    inputs = inputs_of(model)
    if inputs is None:
        return x
    x = tf.convert_to_tensor(x)
    parts = []
    for (start, stop), shape, dtype in zip(inputs.spans(), inputs.shapes, inputs.dtypes, strict=True):
        part = tf.reshape(x[:, start:stop], (-1, *shape))
        parts.append(tf.cast(tf.round(part), dtype) if tf.as_dtype(dtype).is_integer or dtype == "bool"
                     else part)
    return inputs.assemble(parts)


def takes(model: Any) -> int | None:
    """How many inputs ``model`` declares: a Sequential one (tf_keras or Keras 3, built or not),
    a functional model its ``inputs``; None where it declares none yet (a subclassed model)."""
    if any(cls.__name__ == "Sequential" for cls in type(model).__mro__):
        return 1
    try:
        declared = model.inputs
    except (AttributeError, ValueError):  # Keras 3 raises for a model not yet called
        return None
    return len(declared) if declared else None
