"""Which values a distribution parameter may take, read from TFP itself.

``parameter_properties()`` is the single source of truth: each tensor
parameter has a default constraining bijector (Softplus for a scale, Sigmoid for
``probs``, FillScaleTriL for ``scale_tril``, ...). A value lies inside the
constraint exactly when that bijector can invert it to a finite number. One small
override table lists the parameters whose constraint includes its boundary
(a probability of exactly 0 or 1 is allowed; a scale of exactly 0 is not).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import tensorflow as tf
import tensorflow_probability as tfp

tfd = tfp.distributions

__all__ = ["CLOSED_PARAMETERS", "ParamCheck", "unwrap", "parameter_checks"]

#: Parameters whose constraint is a closed set: the boundary values are valid.
CLOSED_PARAMETERS = frozenset({"probs"})


@dataclass(frozen=True)
class ParamCheck:
    """One tensor parameter of one (possibly nested) distribution, with its constraint."""

    path: str
    distribution: str
    name: str
    value: tf.Tensor
    bijector: Any

    def bad_mask(self) -> tf.Tensor:
        """Elements outside the constraint (a tensor of bools, in the bijector's event shape)."""
        inverse = self.bijector.inverse(self.value)
        outside = (
            tf.math.is_nan(inverse)
            if self.name in CLOSED_PARAMETERS
            else tf.logical_not(tf.math.is_finite(inverse))
        )
        # A NaN parameter comes from NaN weights: finite_loss/finite_gradients report that.
        nan_value = tf.math.is_nan(self.value)
        return tf.logical_and(outside, tf.logical_not(_broadcast_like(nan_value, outside)))

    def summary(self) -> dict[str, tf.Tensor]:
        """Counts and range, as tensors (usable inside a ``tf.function``)."""
        value = tf.cast(self.value, tf.float32)
        return {
            "n_bad": tf.reduce_sum(tf.cast(self.bad_mask(), tf.int32)),
            "n_total": tf.size(self.value),
            "min": tf.reduce_min(value),
            "max": tf.reduce_max(value),
        }


def _broadcast_like(mask: tf.Tensor, other: tf.Tensor) -> tf.Tensor:
    """Reduce an element mask to the bijector's (possibly smaller) event shape."""
    while mask.shape.rank is not None and other.shape.rank is not None and (
        mask.shape.rank > other.shape.rank
    ):
        mask = tf.reduce_any(mask, axis=-1)
    return mask


def unwrap(dist: Any) -> Any:
    """The plain distribution behind a tfp.layers output (``_TensorCoercible``)."""
    while hasattr(dist, "tensor_distribution"):
        dist = dist.tensor_distribution
    return dist


def parameter_checks(dist: Any, prefix: str) -> Iterator[ParamCheck]:
    """Every constrained tensor parameter of ``dist``, recursing into nested distributions."""
    dist = unwrap(dist)
    try:
        properties = type(dist).parameter_properties()
    except (NotImplementedError, TypeError):
        properties = {}
    for name, value in dist.parameters.items():
        path = f"{prefix}.{name}"
        if value is None:
            continue
        if isinstance(unwrap(value), tfd.Distribution):
            yield from parameter_checks(value, path)
            continue
        if isinstance(value, (list, tuple)):
            for i, item in enumerate(value):
                if isinstance(unwrap(item), tfd.Distribution):
                    yield from parameter_checks(item, f"{path}[{i}]")
            continue
        check = _check_for(dist, name, value, properties.get(name), path)
        if check is not None:
            yield check


def _check_for(dist: Any, name: str, value: Any, prop: Any, path: str) -> ParamCheck | None:
    if prop is None or not getattr(prop, "is_tensor", False) or prop.specifies_shape:
        return None
    fn = prop.default_constraining_bijector_fn
    if fn is None:
        return None
    try:
        bijector = fn()
    except (NotImplementedError, TypeError):
        return None
    try:
        tensor = tf.convert_to_tensor(value)
    except (TypeError, ValueError):
        return None
    if not tensor.dtype.is_floating:
        return None
    return ParamCheck(path, type(dist).__name__, name, tensor, bijector)
