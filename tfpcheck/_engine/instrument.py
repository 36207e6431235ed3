"""Build a target's model for one configuration and compile it so training is observable.

The user's loss and optimizer class are kept; tfpcheck only wraps them: the
loss records the distribution and the per-example loss it saw, the optimizer's
``apply_gradients`` records the gradients it was handed. A model with its own
``train_step`` therefore trains exactly as the user wrote it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import tensorflow as tf
import tf_keras

from tfpcheck._config import Config
from tfpcheck._engine.optimizers import make_optimizer

__all__ = ["Recorder", "config_optimizer", "compile_for_check", "is_keras3_model", "nll"]


@dataclass
class Recorder:
    """Tensors captured while a training step is traced (returned from the step function)."""

    tensors: dict[str, Any] = field(default_factory=dict)
    distribution: Any = None

    def clear(self) -> None:
        self.tensors = {}
        self.distribution = None


def nll(y_true: Any, y_pred: Any) -> Any:
    """The negative log-likelihood loss tfpcheck compiles an uncompiled model with."""
    return -y_pred.log_prob(y_true)


def config_optimizer(config: Config, template: Any = None, vary: bool = True) -> Any:
    """A fresh optimizer: the template's class and settings, with the drawn learning rate."""
    if template is not None:
        settings = dict(template.get_config())
        if vary:
            settings["learning_rate"] = config.learning_rate
        return type(template).from_config(settings)
    return make_optimizer(config.optimizer, config.learning_rate, momentum=config.momentum,
                          clipnorm=config.clipnorm)


def compile_for_check(model: Any, config: Config, recorder: Recorder, vary_optimizer: bool) -> None:
    """(Re)compile ``model`` with its own loss and optimizer class, wrapped to record."""
    compiled = getattr(model, "optimizer", None) is not None and getattr(model, "loss", None)
    user_loss = model.loss if compiled else None
    template = model.optimizer if compiled else None
    optimizer = config_optimizer(config, template, vary=vary_optimizer or template is None)
    _record_gradients(optimizer, recorder)
    metrics = _user_metrics(model) if compiled else None
    model.compile(optimizer=optimizer, loss=_recording_loss(user_loss, recorder), metrics=metrics)


def is_keras3_model(obj: Any) -> bool:
    """A Keras 3 (``keras``) object rather than a ``tf_keras`` one."""
    return any(
        c.__module__ == "keras" or c.__module__.startswith("keras.") for c in type(obj).__mro__
    )


def _unreduced(loss: Any) -> Callable[[Any, Any], Any]:
    """The user's loss as a per-example function (Keras applies the reduction afterwards)."""
    if loss is None:
        return nll
    if isinstance(loss, str):
        return tf_keras.losses.get(loss)
    wrapper = getattr(tf_keras.losses, "LossFunctionWrapper", None)
    if wrapper is not None and isinstance(loss, wrapper):
        fn, kwargs = loss.fn, dict(getattr(loss, "_fn_kwargs", {}))
        return lambda y, p: fn(y, p, **kwargs)
    if isinstance(loss, tf_keras.losses.Loss):
        return loss.call
    if callable(loss):
        return loss
    raise TypeError(
        f"loss={loss!r}: tfpcheck checks single-output models with one callable loss; "
        "compile with loss=lambda y, d: -d.log_prob(y)."
    )


def _recording_loss(user_loss: Any, recorder: Recorder) -> Callable[[Any, Any], Any]:
    inner = _unreduced(user_loss)

    def loss(y_true: Any, y_pred: Any) -> Any:
        values = inner(y_true, y_pred)
        recorder.distribution = y_pred
        recorder.tensors["loss_shape"] = tf.shape(values)
        return values

    loss.__name__ = getattr(inner, "__name__", "loss")
    return loss


def _record_gradients(optimizer: Any, recorder: Recorder) -> None:
    original = optimizer.apply_gradients

    def apply_gradients(grads_and_vars: Any, *args: Any, **kwargs: Any) -> Any:
        pairs = list(grads_and_vars)
        grads = [tf.convert_to_tensor(g) for g, _ in pairs if g is not None]
        if grads:
            recorder.tensors["grad_norm"] = tf.linalg.global_norm(grads)
            recorder.tensors["grad_finite"] = tf.reduce_all(
                [tf.reduce_all(tf.math.is_finite(g)) for g in grads]
            )
        return original(pairs, *args, **kwargs)

    optimizer.apply_gradients = apply_gradients


def _user_metrics(model: Any) -> Any:
    container = getattr(model, "compiled_metrics", None)
    return getattr(container, "_user_metrics", None) if container is not None else None
