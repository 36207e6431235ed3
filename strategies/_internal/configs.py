"""The engine's search space: a :class:`tfpcheck.Config` per example, for the two regimes,
drawn from the same :func:`data_specs` and :func:`optimizers` a user composes by hand.

``default``: data as a pipeline hands it over after the usual preprocessing (standardised
features; targets near unit scale, mildly off-centre) and learning rates an ordinary healthy
model trains with. ``stress``: raw data (scales 1e-3 to 1e4, centres up to 1e3 spreads from
zero) and aggressive learning rates, SGD included. Every choice shrinks toward the simplest.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from hypothesis import strategies as st

from tfpcheck._config import DEFAULT_STEPS, OPTIMIZERS, REGIMES, Config

from .data import CATEGORICAL_OUTPUT_DIMS, data_specs, log_uniform, subsample_sizes
from .optimizers import optimizers
from .validation import check_choices

__all__ = ["DEFAULT_STEPS", "REGIME_BOUNDS", "STRESS_LEARNING_RATES", "USER_LR_FACTOR",
           "UserSetup", "configs"]


#: Stress learning rates per optimizer: from an ordinary value up to where BNNs diverge. Plain
#: SGD is stress-only: on a learned-scale NLL its first steps can drive a healthy model's
#: scale to its floor and the loss to inf (seen at lr 0.005, momentum 0.9).
STRESS_LEARNING_RATES = {"adam": (0.01, 1.0), "rmsprop": (0.01, 0.5), "sgd": (0.05, 1.0),
                         "adagrad": (0.1, 3.0)}
#: Per regime, the bounds handed to :func:`data_specs` and :func:`optimizers` (their defaults
#: are the default regime). Offsets are in units of the drawn scale.
REGIME_BOUNDS: dict[str, dict[str, dict[str, Any]]] = {
    "default": {"data": {}, "optimizer": {}},
    "stress": {
        "data": {"min_x_scale": 1e-3, "max_x_scale": 1e4, "min_x_offset": -1e3, "max_x_offset": 1e3,
                 "min_y_scale": 1e-3, "max_y_scale": 1e4, "min_y_offset": -1e3, "max_y_offset": 1e3},
        "optimizer": {"names": OPTIMIZERS, "learning_rates": STRESS_LEARNING_RATES},
    },
}


#: The default regime stays within a factor of this of the user's own learning rate.
USER_LR_FACTOR = 3.0
#: A user's data is subsampled to at least this share of its rows (the first example: all).
MIN_SUBSAMPLE = 0.5
_BATCH_SIZES = (32, 16, 64)


@dataclass(frozen=True)
class UserSetup:
    """What the user fixed: a compiled model's optimizer and learning rate, their own data's
    size and width, the batch size they declared. None fields were not fixed by the user
    (tfpcheck draws them)."""

    optimizer: str | None = None
    learning_rate: float | None = None
    n_train: int | None = None
    input_dim: int | None = None
    batch_size: int | None = None
    #: the model reads x as indices (an Embedding): no regime rescales or offsets them
    x_indices: bool = False
    #: the targets' width (classes, for categorical): the user's data's, or for generated data
    #: the model's own where its factory takes no ``output_dim`` (None: drawn)
    output_dim: int | None = None
    #: generated categorical targets as one-hot rows (the model takes them)
    one_hot: bool = False

    def config(self, task: str, steps: int) -> Config:
        """Exactly the user's setup (the first example searched), simplest choices elsewhere."""
        fields: dict[str, Any] = {"task": task, "steps": steps, "one_hot": self.one_hot,
                                  "output_dim": self.output_dim or _simplest_output_dim(task)}
        if self.optimizer is not None and self.learning_rate is not None:
            fields.update(optimizer=self.optimizer, learning_rate=self.learning_rate)
        if self.n_train is not None:
            fields.update(n_train=self.n_train, input_dim=self.input_dim or 1)
        if self.batch_size is not None:
            fields.update(batch_size=self.batch_size)
        return Config(**fields)

    def fields(self) -> dict[str, Any]:
        """The Config fields the user fixed, for reports ("learning_rate=0.01 (yours: 0.001)")."""
        out: dict[str, Any] = {}
        if self.optimizer is not None and self.learning_rate is not None:
            out.update(optimizer=self.optimizer, learning_rate=self.learning_rate)
        if self.n_train is not None:
            out.update(n_train=self.n_train, **UNSCALED)
        if self.batch_size is not None:
            out.update(batch_size=self.batch_size)
        return out


@st.composite
def configs(
    draw: Any,
    *,
    task: str = "regression",
    regime: str = "default",
    steps: int = DEFAULT_STEPS,
    vary: frozenset[str] | set[str] = frozenset(),
    user: UserSetup = UserSetup(),
) -> Config:
    """A :class:`tfpcheck.Config` for ``task`` in ``regime``. What the ``user`` fixed stays
    theirs in the default regime: their data unscaled (subsampled), their optimizer at a
    learning rate within USER_LR_FACTOR of theirs. The stress regime, or ``vary`` ("data",
    "optimizer"), widens those to the regime's bounds. What the user did not fix (generated
    data, the optimizer of an uncompiled model) is drawn from the regime's bounds."""
    check_choices("configs", "regime", [regime], REGIMES)
    bounds = REGIME_BOUNDS[regime]
    vary_data = regime == "stress" or "data" in vary
    vary_optimizer = regime == "stress" or "optimizer" in vary
    users_data = user.n_train is not None and not vary_data
    data_bounds = _FIXED_DATA if users_data else bounds["data"]
    if user.x_indices:  # category ids rescaled are no ids: the data's targets may still vary
        data_bounds = {**data_bounds, **_FIXED_X}
    data = draw(data_specs(task=task, **data_bounds))
    fields = data.config_fields()
    if users_data:  # count and positive rates draw y_scale from a range of their own
        fields.update(UNSCALED)
    if user.n_train is not None:
        fields.update(n_train=draw(subsample_sizes(user.n_train, MIN_SUBSAMPLE)),
                      input_dim=user.input_dim or 1)
    if user.output_dim is not None:
        fields.update(output_dim=user.output_dim)
    fields.update(one_hot=user.one_hot)
    if user.optimizer is None or vary_optimizer:
        opt = draw(optimizers(**bounds["optimizer"], min_steps=steps, max_steps=steps))
        opt_fields = opt.config_fields()
        opt_fields.pop("clipnorm")  # gradient clipping is the user's choice, not the space's
        if user.optimizer is not None:  # a compiled model keeps its optimizer class
            opt_fields["optimizer"] = user.optimizer
    else:
        factor = draw(st.sampled_from([1.0, 1 / USER_LR_FACTOR, USER_LR_FACTOR]) |
                      log_uniform(1 / USER_LR_FACTOR, USER_LR_FACTOR))
        opt_fields = {"optimizer": user.optimizer, "steps": steps,
                      "learning_rate": float(f"{user.learning_rate * factor:.3g}"),
                      "batch_size": draw(st.sampled_from(_BATCH_SIZES))}
    if user.batch_size is not None and regime != "stress":  # theirs, half or twice it
        opt_fields["batch_size"] = draw(st.sampled_from(
            [user.batch_size, max(1, user.batch_size // 2), 2 * user.batch_size]))
    return Config(**fields, **opt_fields)


def _simplest_output_dim(task: str) -> int:
    """The output_dim data_specs shrinks to for ``task`` (a categorical task's: 3 classes)."""
    return CATEGORICAL_OUTPUT_DIMS[0] if task == "categorical" else 1


#: The user's own data as they gave it: neither rescaled nor offset.
UNSCALED = {"x_scale": 1.0, "x_offset": 0.0, "y_scale": 1.0, "y_offset": 0.0}
#: Bounds for data the user fixed: each pinned to its UNSCALED value.
_FIXED_DATA = {f"{bound}_{name}": value for name, value in UNSCALED.items() for bound in ("min", "max")}
#: The features' bounds alone: inputs a model reads as indices (UserSetup.x_indices).
_FIXED_X = {key: value for key, value in _FIXED_DATA.items() if "_x_" in key}
