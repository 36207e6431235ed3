"""Which values a distribution parameter may take, read from TFP itself.

``parameter_properties()`` is the single source of truth: each tensor
parameter has a default constraining bijector (Softplus for a scale, Sigmoid for
``probs``, FillScaleTriL for ``scale_tril``, ...). A value lies inside the
constraint exactly when that bijector can invert it to a finite number. One small
override table lists the parameters whose constraint includes its boundary
(a probability of exactly 0 or 1 is allowed; a scale of exactly 0 is not). TFP's own
bijectors also set the numerically safe edge: a scale's is softplus with ``low`` = float
eps, so a scale that underflowed to 1e-22 is reported too. One constraint is wider than its
bijector's image: FillScaleTriL makes a positive diagonal, but TFP's contract for a
lower-triangular scale is a non-zero diagonal (its log-determinant is the sum of log|diag|),
and TFP's own VariationalGaussianProcess layer trains the raw matrix from 1e-5 times the
identity, whose diagonal crosses zero in healthy training; so only a zero (or infinite)
diagonal is outside there.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import tensorflow as tf
import tensorflow_probability as tfp

tfd = tfp.distributions

__all__ = ["CLOSED_PARAMETERS", "ParamCheck", "family_name", "inner_family", "named_parameters",
           "parameter_checks", "probability_check", "unwrap"]

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

    @tf.autograph.experimental.do_not_convert  # plain TF ops: nothing to convert
    def bad_mask(self) -> tf.Tensor:
        """Elements outside the constraint (bools, in the bijector's inverse shape; for a
        lower-triangular scale, the diagonal's)."""
        if isinstance(self.bijector, tfp.bijectors.FillScaleTriL):  # a non-zero diagonal
            diag = tf.linalg.diag_part(self.value)
            return tf.logical_or(tf.equal(diag, 0.0), tf.math.is_inf(diag))
        inverse = self.bijector.inverse(self.value)
        outside = (
            tf.math.is_nan(inverse)
            if self.name in CLOSED_PARAMETERS
            else tf.logical_not(tf.math.is_finite(inverse))
        )
        # A NaN parameter comes from NaN weights: finite_loss/finite_gradients report that.
        nan_value = tf.math.is_nan(self.value)
        # Elementwise when the shapes agree (a batch of None, traced for any batch size, agrees
        # with itself); else reduced, e.g. FillScaleTriL: (n, n) -> n(n+1)/2.
        if inverse.shape.rank is None or inverse.shape != self.value.shape:
            nan_value = tf.reduce_any(nan_value)
        return tf.logical_and(outside, tf.logical_not(nan_value))

    @tf.autograph.experimental.do_not_convert  # plain TF ops: nothing to convert
    def summary(self) -> dict[str, tf.Tensor]:
        """Counts and range, as tensors (usable inside a ``tf.function``)."""
        value = tf.cast(self.value, tf.float32)
        nan = tf.math.is_nan(value)
        inf = tf.constant(float("inf"))
        return {
            "n_bad": tf.reduce_sum(tf.cast(self.bad_mask(), tf.int32)),
            "n_total": tf.size(self.value),
            # The range of the non-NaN values: an inf next to NaNs is still evidence.
            "min": tf.reduce_min(tf.where(nan, inf, value)),
            "max": tf.reduce_max(tf.where(nan, -inf, value)),
        }


@tf.autograph.experimental.do_not_convert  # plain TF ops: nothing to convert
def unwrap(dist: Any) -> Any:
    """The plain distribution behind a tfp.layers output (``_TensorCoercible``)."""
    while hasattr(dist, "tensor_distribution"):
        dist = dist.tensor_distribution
    return dist


def inner_family(dist: Any) -> Any:
    """The one family an ``Independent`` or a ``MixtureSameFamily`` wraps (its values' support
    is that family's); None for any other distribution."""
    if isinstance(dist, tfd.Independent):
        return unwrap(dist.distribution)
    if isinstance(dist, tfd.MixtureSameFamily):
        return unwrap(dist.components_distribution)
    return None


def family_name(dist: Any) -> str:
    """The family a user would name: ``Independent(Bernoulli)`` for tfpl.IndependentBernoulli,
    ``MixtureSameFamily(Normal)``; TFP's private auto-composite classes without their underscore."""
    dist = unwrap(dist)
    name = type(dist).__name__.lstrip("_")
    inner = inner_family(dist)
    return name if inner is None else f"{name}({family_name(inner)})"


def probability_check(value: Any, family: str) -> ParamCheck:
    """The output a Keras cross-entropy reads as ``family``'s ``probs`` (no distribution is
    built): each value must lie in [0, 1], the Sigmoid's closed image."""
    return ParamCheck("output", family, "probs", tf.convert_to_tensor(value), tfp.bijectors.Sigmoid())


def named_parameters(dist: Any) -> Iterator[tuple[str, Any]]:
    """``dist.parameters`` by name, None and classes left out, with the keyword dicts a
    wrapper keeps its inner distribution's parameters in opened: ZeroInflatedNegativeBinomial
    (an ``Inflated``) holds ``total_count`` and ``logits`` in ``kwargs``, and
    ``distribution_class``, a class, beside them."""
    for name, value in dist.parameters.items():
        if isinstance(value, Mapping):
            yield from ((k, v) for k, v in value.items() if v is not None and not isinstance(v, type))
        elif value is not None and not isinstance(value, type):
            yield name, value


def parameter_checks(dist: Any, prefix: str) -> Iterator[ParamCheck]:
    """Every constrained tensor parameter of ``dist``, recursing into nested distributions."""
    dist = unwrap(dist)
    try:
        properties = type(dist).parameter_properties()
    except (NotImplementedError, TypeError):
        properties = {}
    for name, value in named_parameters(dist):
        path = f"{prefix}.{name}"
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
        tensor = tf.convert_to_tensor(value)
    except (TypeError, ValueError):
        return None
    if not tensor.dtype.is_floating:
        return None
    try:
        bijector = fn()
        if getattr(bijector, "dtype", None) not in (None, tensor.dtype):
            # float64 models: ask TFP for the same constraint in the parameter's dtype.
            prop = type(dist).parameter_properties(dtype=tensor.dtype)[name]
            bijector = prop.default_constraining_bijector_fn()
    except (NotImplementedError, TypeError, KeyError):
        return None
    return ParamCheck(path, type(dist).__name__, name, tensor, bijector)
