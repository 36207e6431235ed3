"""The built-in space of configurations Hypothesis searches, for the two regimes.

``default``: data as a pipeline hands it over after the usual preprocessing
(standardised features; targets near unit scale, mildly off-centre) and learning rates an ordinary healthy
model trains with. ``stress``: raw data (scales 1e-3 to 1e4, offsets far from
zero) and aggressive learning rates. Every choice lists its simplest value
first, which is where shrinking goes.
"""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from tfpcheck._config import Config

__all__ = ["configs", "DEFAULT_STEPS"]

#: Steps of the brief training: enough for an ordinary healthy model at the slowest default
#: learning rate to beat the constant baseline from an unlucky initialisation.
DEFAULT_STEPS = 400

_LR = {
    "default": {
        "adam": [0.01, 0.005, 0.02],
        "rmsprop": [0.005, 0.01],
        "adagrad": [0.1, 0.2],
    },
    "stress": {
        "adam": [0.01, 0.1, 0.3, 1.0],
        "rmsprop": [0.01, 0.1, 0.5],
        "sgd": [0.05, 0.5, 1.0],
        "adagrad": [0.1, 1.0, 3.0],
    },
}
_X_SCALES = {"default": [1.0], "stress": [1.0, 1e-3, 1e-2, 10.0, 100.0, 1e3, 1e4]}
_X_OFFSETS = {"default": [0.0], "stress": [0.0, 100.0, -100.0, 1e3]}
_SCALES = {"default": [1.0, 0.5, 2.0], "stress": [1.0, 1e-3, 1e-2, 10.0, 100.0, 1e3, 1e4]}
_OFFSETS = {"default": [0.0, 0.5, -0.5], "stress": [0.0, 100.0, -100.0, 1e3]}
_OUTPUT_DIMS = {"categorical": [3, 2, 5]}


@st.composite
def _optimizer(draw: Any, regime: str) -> dict[str, Any]:
    # Plain SGD is stress-only: on a learned-scale NLL its first steps can drive the scale
    # to its floor and the loss to inf (seen at lr 0.005, momentum 0.9) in healthy models.
    name = draw(st.sampled_from(list(_LR[regime])))
    lr = draw(st.sampled_from(_LR[regime][name]))
    return {
        "optimizer": name,
        "learning_rate": lr,
        "momentum": 0.9 if name == "sgd" else 0.0,
    }


@st.composite
def configs(
    draw: Any,
    *,
    task: str = "regression",
    regime: str = "default",
    steps: int = DEFAULT_STEPS,
    vary: frozenset[str] = frozenset({"data", "optimizer"}),
) -> Config:
    """Draw a :class:`Config` for ``task`` in ``regime``; ``vary`` says which factors move."""
    fields: dict[str, Any] = {
        "seed": draw(st.integers(0, 2**16 - 1)),
        "task": task,
        "steps": steps,
        "n_train": draw(st.sampled_from([256, 128, 512])),
        "input_dim": draw(st.sampled_from([1, 2, 4, 8])),
        "output_dim": draw(st.sampled_from(_OUTPUT_DIMS.get(task, [1]))),
        "noise": draw(st.sampled_from([0.3, 0.1, 0.5])),
        "batch_size": draw(st.sampled_from([32, 64, 16])),
    }
    if "data" in vary:
        fields["x_scale"] = draw(st.sampled_from(_X_SCALES[regime]))
        fields["x_offset"] = draw(st.sampled_from(_X_OFFSETS[regime])) * fields["x_scale"]
        if task == "regression":
            fields["y_scale"] = draw(st.sampled_from(_SCALES[regime]))
            fields["y_offset"] = draw(st.sampled_from(_OFFSETS[regime])) * fields["y_scale"]
        elif task in ("count", "positive"):
            fields["y_scale"] = draw(st.sampled_from([1.0, 3.0, 0.5]))
    if "optimizer" in vary:
        fields.update(draw(_optimizer(regime)))
    return Config(**fields)
