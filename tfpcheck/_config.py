"""The configuration of one check: what data, which optimizer, how long, which seed.

A :class:`Config` is the unit Hypothesis draws and shrinks, so it is a frozen,
printable, JSON-serialisable record of plain values; everything TensorFlow-side
is derived from it, and a report can print it back as a reproduce snippet.
The data and optimizer fields are defined once (:class:`DataFields`,
:class:`OptimizerFields`) and shared with the strategies' ``DataSpec``/``OptimizerSpec``.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from tfpcheck import errors  # errors.InvalidArgument imports Hypothesis when first raised

__all__ = ["DEFAULT_STEPS", "TASKS", "OPTIMIZERS", "REGIMES", "Config", "DataFields", "OptimizerFields",
           "changed_fields", "field_values"]

TASKS = ("regression", "count", "binary", "categorical", "positive")
OPTIMIZERS = ("adam", "sgd", "rmsprop", "adagrad")
REGIMES = ("default", "stress")
#: The cap of the brief training, which usually stops earlier, when the loss settles
#: (tfpcheck/_engine/schedule.py). A healthy DenseVariational tutorial model needed 1600 steps
#: at a learning rate of 1e-3; a model still improving at the cap is inconclusive for learns.
DEFAULT_STEPS = 1600


@dataclass(frozen=True)
class DataFields:
    """Generated data: features ~ x_scale * N(0, 1) + x_offset; targets likewise after the
    task's link. Defaults are the simplest, most ordinary choice (shrink targets)."""

    seed: int = 0
    task: str = "regression"
    n_train: int = 256
    input_dim: int = 1
    output_dim: int = 1
    x_scale: float = 1.0
    x_offset: float = 0.0
    y_scale: float = 1.0
    y_offset: float = 0.0
    noise: float = 0.3
    #: categorical targets as one-hot rows (N, output_dim) rather than class indices (N,): what a
    #: OneHotCategorical head or categorical_crossentropy takes
    one_hot: bool = False


@dataclass(frozen=True)
class OptimizerFields:
    """The optimizer and the length of the brief training."""

    optimizer: str = "adam"
    learning_rate: float = 0.01
    momentum: float = 0.0
    clipnorm: float | None = None
    batch_size: int = 32
    steps: int = DEFAULT_STEPS  # the cap: training stops earlier once the loss settles


@dataclass(frozen=True)
class Config(OptimizerFields, DataFields):
    """One drawn configuration: data fields, optimizer fields, dtype and drawn factory params."""

    dtype: str = "float32"
    # Named factory parameters drawn from user strategies (JSON-able values only).
    params: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        _check_choice("task", self.task, TASKS)
        if not isinstance(self.optimizer, str) or not self.optimizer:
            # Any name: a compiled model's own optimizer class (e.g. "nadam") is kept as it is.
            raise errors.InvalidArgument(f"Config(optimizer={self.optimizer!r}): a name such as "
                                         f"{list(OPTIMIZERS)}.")
        for name in ("n_train", "input_dim", "output_dim", "batch_size", "steps"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise errors.InvalidArgument(f"Config({name}={value!r}): must be an integer >= 1.")
        if not self.learning_rate > 0:
            raise errors.InvalidArgument(
                f"Config(learning_rate={self.learning_rate!r}): must be > 0, e.g. 1e-3."
            )

    def replace(self, **changes: Any) -> Config:
        """A copy with ``changes`` applied."""
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Config:
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise errors.InvalidArgument(f"Config: unknown fields {unknown}; allowed: {sorted(known)}.")
        return cls(**data)

    def short(self) -> str:
        """The fields that differ from the defaults, as ``name=value`` pairs."""
        return ", ".join(f"{k}={v!r}" for k, v in changed_fields(self).items()) or "defaults"


def field_values(obj: Any, fields_of: type) -> dict[str, Any]:
    """``obj``'s values of the dataclass fields ``fields_of`` declares (e.g. DataFields)."""
    return {f.name: getattr(obj, f.name) for f in dataclasses.fields(fields_of)}


def changed_fields(obj: Any) -> dict[str, Any]:
    """The fields of dataclass ``obj`` that differ from a default instance, in field order:
    the one "what is not default" rule behind every printout of a config or a spec."""
    default = type(obj)()
    return {
        f.name: getattr(obj, f.name)
        for f in dataclasses.fields(obj)
        if getattr(obj, f.name) != getattr(default, f.name)
    }


def _check_choice(name: str, value: object, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise errors.InvalidArgument(f"Config({name}={value!r}): allowed values are {list(allowed)}.")
