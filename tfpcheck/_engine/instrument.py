"""Build a target's model for one configuration and compile it so training is observable.

The user's loss and optimizer class are kept; tfpcheck only wraps them: the
loss records the distribution and the per-example loss it saw, the optimizer's
``apply_gradients`` records the gradients it was handed. A model with its own
``train_step`` therefore trains exactly as the user wrote it.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import tensorflow as tf
import tensorflow_probability as tfp
import tf_keras
from tf_keras.src.utils import losses_utils

from tfpcheck._config import Config
from tfpcheck._engine.constraints import unwrap
from tfpcheck._engine.optimizers import make_optimizer

__all__ = ["Recorder", "capture_distributions", "compile_for_check", "config_optimizer", "data_term",
           "evaluate_loss", "is_keras3_model", "loss_distribution", "loss_name", "nll"]

tfd = tfp.distributions


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


def config_optimizer(config: Config, template: Any = None) -> Any:
    """A fresh optimizer: the template's class and settings, with the config's learning rate."""
    if template is not None:
        settings = dict(template.get_config())
        settings["learning_rate"] = config.learning_rate
        return type(template).from_config(settings)
    return make_optimizer(config.optimizer, config.learning_rate, momentum=config.momentum,
                          clipnorm=config.clipnorm)


def compile_for_check(model: Any, config: Config, recorder: Recorder) -> None:
    """(Re)compile ``model`` with its own loss and optimizer class (at the configuration's
    learning rate: the user's own in their first example), wrapped to record."""
    compiled = getattr(model, "optimizer", None) is not None and getattr(model, "loss", None)
    user_loss = model.loss if compiled else None
    template = model.optimizer if compiled else None
    optimizer = config_optimizer(config, template)
    _record_gradients(optimizer, recorder)
    metrics = _user_metrics(model) if compiled else None
    model.compile(optimizer=optimizer, loss=_recording_loss(user_loss, recorder), metrics=metrics)
    model._tfpcheck_data_term = data_term(user_loss)
    model._tfpcheck_loss = user_loss


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

        def wrapped(y: Any, p: Any) -> Any:
            return fn(y, p, **kwargs)

        return wrapped
    if isinstance(loss, tf_keras.losses.Loss):
        return loss.call
    if callable(loss):
        return loss
    raise TypeError(
        f"loss={loss!r}: tfpcheck checks single-output models with one callable loss; "
        "compile with loss=lambda y, d: -d.log_prob(y)."
    )


def data_term(user_loss: Any) -> Callable[[Any, Any], Any]:
    """The user's loss per example, as Keras computes it before reducing: the data term of the
    training objective (the KL and regularisation terms of ``model.losses`` are not in it)."""
    inner = _unreduced(user_loss)

    @tf.autograph.experimental.do_not_convert  # plain Python around the user's loss
    def term(y_true: Any, y_pred: Any) -> Any:
        if tf.is_tensor(y_pred) and tf.is_tensor(y_true):
            y_pred, y_true = losses_utils.squeeze_or_expand_dimensions(y_pred, y_true)
        return inner(y_true, y_pred)

    return term


def loss_name(loss: Any) -> str:
    """A readable name for a compiled loss (string, function, Loss object)."""
    if isinstance(loss, str):
        return loss
    fn = getattr(loss, "fn", None)
    named = fn if fn is not None else loss
    return getattr(named, "__name__", None) or type(loss).__name__


def evaluate_loss(user_loss: Any, y_true: Any, y_pred: Any) -> tuple[Any, Any]:
    """``(per-example data term, distribution)`` of one evaluation of the loss: the output itself
    when it is a distribution, else the first ``tfd`` distribution whose ``log_prob``/``prob`` the
    loss calls on the raw outputs (None for a plain Keras loss)."""
    found: list[Any] = []
    with capture_distributions(found):
        values = data_term(user_loss)(tf.convert_to_tensor(y_true), y_pred)
    dist = y_pred if hasattr(unwrap(y_pred), "log_prob") else (found[0] if found else None)
    return values, dist


def loss_distribution(user_loss: Any, y_true: Any, y_pred: Any) -> Any:
    """The distribution the loss evaluates (see :func:`evaluate_loss`), or None."""
    return evaluate_loss(user_loss, y_true, y_pred)[1]


@contextlib.contextmanager
def capture_distributions(found: list[Any]) -> Iterator[None]:
    """Record every distribution whose ``log_prob`` or ``prob`` is called (outermost calls only:
    an Independent's inner Normal is not a distribution of its own)."""
    originals = {name: getattr(tfd.Distribution, name) for name in ("log_prob", "prob")}
    depth = [0]

    def wrap(original: Callable[..., Any]) -> Callable[..., Any]:
        # functools.wraps keeps the docstring: TFP builds distribution classes on the fly
        # (TransformedDistribution's composite-tensor subclass), and its metaclass copies
        # every base method's docstring, raising on one without.
        @functools.wraps(original)
        def method(self: Any, value: Any, *args: Any, **kwargs: Any) -> Any:
            if depth[0] == 0:
                found.append(self)
            depth[0] += 1
            try:
                return original(self, value, *args, **kwargs)
            finally:
                depth[0] -= 1

        return method

    for name, original in originals.items():
        setattr(tfd.Distribution, name, wrap(original))
    try:
        yield
    finally:
        for name, original in originals.items():
            setattr(tfd.Distribution, name, original)


def _recording_loss(user_loss: Any, recorder: Recorder) -> Callable[[Any, Any], Any]:
    term = data_term(user_loss)

    @tf.autograph.experimental.do_not_convert
    def loss(y_true: Any, y_pred: Any) -> Any:
        found: list[Any] = []
        with capture_distributions(found):
            values = term(y_true, y_pred)
        recorder.distribution = y_pred if hasattr(unwrap(y_pred), "log_prob") else (
            found[0] if found else None)
        recorder.tensors["loss_shape"] = tf.shape(values)
        return values

    loss.__name__ = getattr(user_loss, "__name__", None) or "loss"
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
