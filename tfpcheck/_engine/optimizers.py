"""The one optimizer factory: a tf_keras (or Keras 3) optimizer from plain settings (engine and
strategies)."""

from __future__ import annotations

from typing import Any

import tf_keras

__all__ = ["make_optimizer"]

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
