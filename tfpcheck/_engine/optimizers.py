"""The one optimizer factory: a tf_keras (or Keras 3) optimizer from plain settings (engine and
strategies)."""

from __future__ import annotations

from typing import Any

import tf_keras

__all__ = ["initial_rate", "make_optimizer", "rescaled", "schedule_of"]

_CLASSES = {
    "adam": tf_keras.optimizers.Adam,
    "sgd": tf_keras.optimizers.SGD,
    "rmsprop": tf_keras.optimizers.RMSprop,
    "adagrad": tf_keras.optimizers.Adagrad,
}


def make_optimizer(
    name: str, learning_rate: float, *, momentum: float = 0.0, clipnorm: float | None = None,
    clipvalue: float | None = None, keras_3: bool = False,
) -> Any:
    """``name``'s tf_keras optimizer (Keras 3's with ``keras_3``); ``momentum`` applies to SGD
    only, clipping when given."""
    kwargs: dict[str, Any] = {"learning_rate": learning_rate}
    if name == "sgd":
        kwargs["momentum"] = momentum
    if clipnorm is not None:
        kwargs["clipnorm"] = clipnorm
    if clipvalue is not None:
        kwargs["clipvalue"] = clipvalue
    if keras_3:
        import keras

        return getattr(keras.optimizers, _CLASSES[name].__name__)(**kwargs)
    return _CLASSES[name](**kwargs)


def schedule_of(optimizer: Any) -> Any:
    """The optimizer's learning-rate schedule (a tf_keras or Keras 3 ``LearningRateSchedule``),
    or None where its rate is a number."""
    rate = getattr(optimizer, "_learning_rate", None)
    return rate if callable(rate) and hasattr(rate, "get_config") else None


def initial_rate(schedule: Any) -> float | None:
    """The rate a schedule starts from: its ``initial_learning_rate`` (a piecewise-constant
    schedule's first value); None where its config names neither."""
    config = schedule.get_config()
    rate = config.get("initial_learning_rate", (config.get("values") or [None])[0])
    return float(rate) if isinstance(rate, (int, float)) else None


def rescaled(schedule: Any, rate: float) -> Any:
    """The same schedule started at ``rate``: every rate in its config scaled alike (the end rate
    of a polynomial decay, a warm-up's target, a piecewise schedule's values), its shape kept."""
    config = dict(schedule.get_config())
    factor = rate / initial_rate(schedule)
    for key in ("initial_learning_rate", "end_learning_rate", "warmup_target"):
        if isinstance(config.get(key), (int, float)):
            config[key] = config[key] * factor
    if isinstance(config.get("values"), list):
        config["values"] = [v * factor for v in config["values"]]
    return type(schedule).from_config(config)
