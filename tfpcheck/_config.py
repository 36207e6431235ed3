"""The configuration of one check: what data, which optimizer, how long, which seed.

A :class:`Config` is the unit Hypothesis draws and shrinks, so it is a frozen,
printable, JSON-serialisable record of plain values; everything TensorFlow-side
is derived from it, and a report can print it back as a reproduce snippet.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from tfpcheck.errors import InvalidArgument

__all__ = ["TASKS", "OPTIMIZERS", "REGIMES", "Config"]

TASKS = ("regression", "count", "binary", "categorical", "positive")
OPTIMIZERS = ("adam", "sgd", "rmsprop", "adagrad")
REGIMES = ("default", "stress")


@dataclass(frozen=True)
class Config:
    """One drawn configuration; defaults are the simplest, most ordinary choice (shrink targets)."""

    seed: int = 0
    task: str = "regression"
    n_train: int = 256
    input_dim: int = 1
    output_dim: int = 1
    # Data: features ~ x_scale * N(0, 1) + x_offset; targets likewise after the task's link.
    x_scale: float = 1.0
    x_offset: float = 0.0
    y_scale: float = 1.0
    y_offset: float = 0.0
    noise: float = 0.3
    # Optimizer.
    optimizer: str = "adam"
    learning_rate: float = 0.01
    momentum: float = 0.0
    clipnorm: float | None = None
    batch_size: int = 32
    steps: int = 400
    dtype: str = "float32"
    # Named factory parameters drawn from user strategies (JSON-able values only).
    params: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        _check_choice("task", self.task, TASKS)
        _check_choice("optimizer", self.optimizer, OPTIMIZERS)
        for name in ("n_train", "input_dim", "output_dim", "batch_size", "steps"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise InvalidArgument(f"Config({name}={value!r}): must be an integer >= 1.")
        if not self.learning_rate > 0:
            raise InvalidArgument(
                f"Config(learning_rate={self.learning_rate!r}): must be > 0, e.g. 1e-3."
            )

    def replace(self, **changes: Any) -> Config:
        """A copy with ``changes`` applied (used by interventions: one factor at a time)."""
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Config:
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise InvalidArgument(f"Config: unknown fields {unknown}; allowed: {sorted(known)}.")
        return cls(**data)

    def short(self) -> str:
        """The fields that differ from the defaults, as ``name=value`` pairs."""
        default = Config()
        parts = [
            f"{f.name}={getattr(self, f.name)!r}"
            for f in dataclasses.fields(self)
            if getattr(self, f.name) != getattr(default, f.name)
        ]
        return ", ".join(parts) or "defaults"


def _check_choice(name: str, value: object, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise InvalidArgument(f"Config({name}={value!r}): allowed values are {list(allowed)}.")
