"""The engine's search space: a :class:`tfpcheck.Config` per example, for the two regimes,
drawn from the same :func:`data_specs` and :func:`optimizers` a user composes by hand.

``default``: data as a pipeline hands it over after the usual preprocessing (standardised
features; targets near unit scale, mildly off-centre) and learning rates an ordinary healthy
model trains with. ``stress``: raw data (scales 1e-3 to 1e4, centres up to 1e3 spreads from
zero) and aggressive learning rates, SGD included. Every choice shrinks toward the simplest.
"""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from tfpcheck._config import OPTIMIZERS, REGIMES, Config

from .data import data_specs
from .optimizers import optimizers
from .validation import check_choices

__all__ = ["DEFAULT_STEPS", "REGIME_BOUNDS", "STRESS_LEARNING_RATES", "configs"]

#: Steps of the brief training: enough for an ordinary healthy model at the slowest default
#: learning rate to beat the constant baseline from an unlucky initialisation (200 was not).
DEFAULT_STEPS = 400

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


#: Bounds when ``vary`` excludes "data": unit-scale, centred targets (features are already).
_FIXED_DATA = {"min_y_scale": 1.0, "max_y_scale": 1.0, "min_y_offset": 0.0, "max_y_offset": 0.0}


@st.composite
def configs(
    draw: Any,
    *,
    task: str = "regression",
    regime: str = "default",
    steps: int = DEFAULT_STEPS,
    vary: frozenset[str] | set[str] = frozenset({"data", "optimizer"}),
) -> Config:
    """A :class:`tfpcheck.Config` for ``task`` in ``regime``; ``vary`` says which factors move
    ("data": scales and offsets; "optimizer": optimizer class and learning rate)."""
    check_choices("configs", "regime", [regime], REGIMES)
    bounds = REGIME_BOUNDS[regime]
    data = draw(data_specs(task=task, **(bounds["data"] if "data" in vary else _FIXED_DATA)))
    opt = draw(optimizers(**bounds["optimizer"], min_steps=steps, max_steps=steps))
    fields = data.config_fields()
    if "data" not in vary and task in ("count", "positive"):
        fields["y_scale"] = 1.0
    if "optimizer" not in vary:  # the user's own optimizer runs; only the batching is drawn
        opt_fields = {"batch_size": opt.batch_size, "steps": opt.steps}
    else:
        opt_fields = opt.config_fields()
        opt_fields.pop("clipnorm")  # gradient clipping is the user's choice, not the space's
    return Config(**fields, **opt_fields)
