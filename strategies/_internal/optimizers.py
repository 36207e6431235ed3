"""Optimizer settings: :class:`OptimizerSpec`, drawn by :func:`optimizers`.

Learning rates are drawn from the values people actually type (``1e-2``, ``3e-3``, ...)
first, then log-uniformly over the allowed range, so shrinking ends on a typed value.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from hypothesis import strategies as st

from tfpcheck._config import DEFAULT_STEPS, OPTIMIZERS, OptimizerFields, field_values
from tfpcheck.errors import InvalidArgument

from .data import log_uniform
from .validation import (
    check_choices,
    check_float_range,
    check_int_range,
    ordered,
)

__all__ = ["OptimizerSpec", "optimizers", "HEALTHY_LEARNING_RATES"]

#: Learning rates users train ordinary healthy models with, per optimizer (the engine's default
#: regime); the training runs until the loss settles, up to 1600 steps. Carve-out: Adam/RMSprop
#: start at 0.003, not 0.001: a sigmoid DenseVariational stack on 128 examples at 0.00129 sat on
#: its plateau for all 1600 steps (data term 1.36 vs its x-denied twin's 1.361; measured with
#: benchmarks/detection.py --n 20 --kinds healthy), which a brief check cannot tell from a
#: model that does not learn. Users' own compiled models keep their own rate (1e-3 included).
HEALTHY_LEARNING_RATES = {
    "adam": (0.003, 0.05),
    "rmsprop": (0.003, 0.05),
    "adagrad": (0.05, 0.3),
    "sgd": (0.001, 0.05),
}
#: What users type, simplest (most common) first.
_TYPED = (0.01, 0.001, 0.1, 0.005, 0.003, 0.02, 0.05, 0.2, 0.0003, 0.0001, 0.5, 1.0, 2.0)
_BATCH_SIZES = (32, 64, 16, 128, 8, 256)
#: SGD momentum, the usual 0.9 first.
MOMENTA = st.sampled_from([0.9, 0.0, 0.5])


@dataclass(frozen=True)
class OptimizerSpec(OptimizerFields):
    """:class:`tfpcheck.Config`'s optimizer fields plus ``clipvalue`` (set on the model's own
    optimizer, not a Config field); defaults are the simplest ordinary choice."""

    clipvalue: float | None = None

    def config_fields(self) -> dict[str, Any]:
        """The :class:`tfpcheck.Config` fields this spec fixes."""
        return field_values(self, OptimizerFields)


def typed_learning_rates(lo: float, hi: float) -> st.SearchStrategy[float]:
    """Typed values inside ``[lo, hi]`` first, then log-uniform."""
    typed = [v for v in _TYPED if lo <= v <= hi]
    rest = log_uniform(lo, hi)
    return st.one_of(st.sampled_from(typed), rest) if typed else rest


@st.composite
def optimizers(
    draw: Any,
    *,
    names: tuple[str, ...] | list[str] = ("adam", "rmsprop", "adagrad", "sgd"),
    min_learning_rate: float | None = None,
    max_learning_rate: float | None = None,
    momentum: float | st.SearchStrategy[float] = MOMENTA,
    clipnorm: float | None | st.SearchStrategy[float | None] = None,
    clipvalue: float | None | st.SearchStrategy[float | None] = None,
    min_batch_size: int = 16,
    max_batch_size: int = 64,
    min_steps: int = DEFAULT_STEPS,
    max_steps: int = DEFAULT_STEPS,
    learning_rates: dict[str, tuple[float, float]] | None = None,
) -> OptimizerSpec:
    """An optimizer from ``names`` (tf_keras Adam, RMSprop, Adagrad, SGD with ``momentum``).

    Without bounds the learning rate comes from the range an ordinary healthy model trains
    with for that optimizer (:data:`HEALTHY_LEARNING_RATES`); give ``min_/max_learning_rate``
    to widen it (``max_learning_rate=1.0`` reaches the rates that make BNNs diverge), or
    ``learning_rates={name: (lo, hi)}`` to set the range per optimizer.
    """
    chosen = check_choices("optimizers", "names", names, OPTIMIZERS)
    _validate(min_learning_rate, max_learning_rate, min_batch_size, max_batch_size, min_steps,
              max_steps)
    name = draw(st.sampled_from(ordered(chosen, ("adam", "rmsprop", "adagrad", "sgd"))))
    lo, hi = {**HEALTHY_LEARNING_RATES, **_checked_ranges(learning_rates)}[name]
    lo = lo if min_learning_rate is None else min_learning_rate
    hi = hi if max_learning_rate is None else max_learning_rate
    batch = [b for b in _BATCH_SIZES if min_batch_size <= b <= max_batch_size]
    return OptimizerSpec(
        optimizer=name,
        learning_rate=draw(typed_learning_rates(min(lo, hi), max(lo, hi))),
        momentum=_value(draw, momentum) if name == "sgd" else 0.0,
        clipnorm=_value(draw, clipnorm),
        clipvalue=_value(draw, clipvalue),
        batch_size=draw(st.sampled_from(batch) if batch else st.integers(min_batch_size, max_batch_size)),
        steps=draw(st.integers(min_steps, max_steps)),
    )


def _checked_ranges(ranges: dict[str, tuple[float, float]] | None) -> dict[str, tuple[float, float]]:
    for name, bounds in (ranges or {}).items():
        check_choices("optimizers", "learning_rates", [name], OPTIMIZERS)
        if not isinstance(bounds, tuple) or len(bounds) != 2:
            raise InvalidArgument(
                f"optimizers(learning_rates={{{name!r}: {bounds!r}}}): each value must be a "
                "(min, max) pair, e.g. learning_rates={'adam': (1e-3, 1e-1)}."
            )
        check_float_range("optimizers", f"learning_rates[{name!r}][0]", bounds[0],
                          f"learning_rates[{name!r}][1]", bounds[1], positive=True)
    return dict(ranges or {})


def _value(draw: Any, value: Any) -> Any:
    return draw(value) if isinstance(value, st.SearchStrategy) else value


def _validate(lo: Any, hi: Any, bmin: int, bmax: int, smin: int, smax: int) -> None:
    fn = "optimizers"
    if lo is not None or hi is not None:
        if lo is None or hi is None:
            given = "min_learning_rate" if lo is not None else "max_learning_rate"
            raise InvalidArgument(
                f"{fn}({given}={lo if lo is not None else hi!r}): give both min_learning_rate "
                "and max_learning_rate, e.g. min_learning_rate=1e-4, max_learning_rate=1e-1."
            )
        check_float_range(fn, "min_learning_rate", lo, "max_learning_rate", hi, positive=True)
    check_int_range(fn, "min_batch_size", bmin, "max_batch_size", bmax)
    check_int_range(fn, "min_steps", smin, "max_steps", smax)
