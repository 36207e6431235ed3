"""Which Keras a model is written for: tf_keras (Keras 2, where ``tfp.layers`` live) or Keras 3
on the TensorFlow backend (the distribution built in the loss, KL terms through ``add_loss``).

Both train through the model's own ``train_step`` and are observed the same way; they differ
where a user's model behaves differently: how a loss sees its targets (tf_keras expands
rank-1 targets to ``(N, 1)``, Keras 3 does not, so a ``(B, 1)`` location against ``(B,)``
targets silently broadcasts to ``(B, B)``), their optimizers, and their global state
(session, float type). Keras 3's own state is reset only once a Keras 3 model was built here,
and without the garbage collection its default ``clear_session`` runs (175 ms a model).
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import sys
from collections.abc import Callable, Iterator
from typing import Any

import tensorflow as tf
import tf_keras
from tf_keras.src.utils import losses_utils

from .tracing import as_keras_converts

__all__ = ["BACKEND_FIX", "backend_problem", "compiled_loss", "gpu_xla_note", "is_keras3_model", "keras3",
           "note_keras3_used", "overrides_train_step", "recording_jit_compile", "reset", "tf_keras_parts",
           "unreduced_loss", "uses_own_compute_loss"]

_KERAS3_USED = [False]


def is_keras3_model(obj: Any) -> bool:
    """A Keras 3 (``keras``) object rather than a ``tf_keras`` one."""
    return any(
        c.__module__ == "keras" or c.__module__.startswith("keras.") for c in type(obj).__mro__
    )


def keras3() -> Any:
    """The Keras 3 module (imported by TensorFlow already; never by tfpcheck for tf_keras)."""
    import keras

    return keras


def note_keras3_used() -> None:
    _KERAS3_USED[0] = True


def backend_problem(model: Any) -> str | None:
    """Why a Keras 3 model can't be checked here (a JAX or torch backend), or None."""
    backend = keras3().backend.backend()
    if backend == "tensorflow":
        return None
    return (f"the model runs on Keras 3's {backend!r} backend; tfpcheck trains Keras 3 models on the "
            "TensorFlow backend only (JAX and torch are not supported yet)")


#: The fix for a Keras 3 model on another backend.
BACKEND_FIX = ("run tfpcheck with KERAS_BACKEND=tensorflow in the environment (Keras reads it when it "
               "is first imported); the model code itself can stay backend-agnostic")


def tf_keras_parts(model: Any, depth: int = 4) -> list[str]:
    """Class names of the tf_keras layers (tfp.layers among them) held inside a Keras 3 model:
    Keras 3 calls them on its own symbolic tensors, where they can't work."""
    found: list[str] = []
    seen: set[int] = set()

    def visit(obj: Any, level: int) -> None:
        if id(obj) in seen or level > depth:
            return
        seen.add(id(obj))
        if isinstance(obj, tf_keras.layers.Layer):
            found.append(type(obj).__name__)
            return
        if isinstance(obj, (list, tuple)):
            for item in obj:
                visit(item, level + 1)
        elif is_keras3_model(obj):
            for value in vars(obj).values():
                visit(value, level + 1)

    visit(model, 0)
    return sorted(set(found))


def reset(dtype: str, seed: int | None, fresh_session: bool = True) -> None:
    """Fresh Keras state (session, float type, seeds) for one build; Keras 3's too once used."""
    if fresh_session:
        tf_keras.backend.clear_session()
    tf_keras.backend.set_floatx(dtype)
    if _KERAS3_USED[0] and "keras" in sys.modules:
        k = keras3()
        if fresh_session:
            k.backend.clear_session(free_memory=False)
        k.config.set_floatx(dtype)
    if seed is not None:
        tf_keras.utils.set_random_seed(seed)  # python, numpy and TF: Keras 3 draws from these


def compiled_loss(model: Any) -> Any:
    """The loss ``model`` was compiled with, out of a list or dict of one; None where it has none.
    tf_keras keeps ``{}`` for ``compile(optimizer=...)`` alone, the usual compile of a model with
    its own ``train_step``: that model is compiled (its optimizer is the user's) but has no loss."""
    loss = getattr(model, "loss", None)
    if loss is None or isinstance(loss, str) or callable(loss):
        return loss
    try:
        size = len(loss)
    except TypeError:  # not a collection: whatever it is, the compile step reads it
        return loss
    if size == 1:  # [loss] or {output_name: loss}: Keras trains the one output on it
        return next(iter(loss.values())) if hasattr(loss, "values") else loss[0]
    return loss if size else None


def overrides_train_step(model: Any) -> bool:
    """A model with a ``train_step`` of its own (tf_keras or Keras 3)."""
    base = keras3().Model if is_keras3_model(model) else tf_keras.Model
    return type(model).train_step is not base.train_step


def uses_own_compute_loss(model: Any) -> bool:
    """A Keras 3 model that overrides ``compute_loss`` (its loss need not be compiled)."""
    return is_keras3_model(model) and type(model).compute_loss is not keras3().Model.compute_loss


@tf.autograph.experimental.do_not_convert  # builds a function: nothing to convert
def unreduced_loss(loss: Any, keras_3: bool) -> Callable[[Any, Any], Any]:
    """The user's loss per example, with the target handling of the Keras it was compiled with."""
    if keras_3:
        return _keras3_unreduced(loss)
    inner = _tf_keras_unreduced(loss)

    def term(y_true: Any, y_pred: Any) -> Any:
        if tf.is_tensor(y_true):
            # tf_keras's loss container expands (N,) targets against rank-2 outputs (a
            # distribution's too) before any loss sees them; a model is judged as it trained.
            y_true = _tf_keras_matched_rank(y_true, y_pred)
        if tf.is_tensor(y_pred) and tf.is_tensor(y_true):
            y_pred, y_true = losses_utils.squeeze_or_expand_dimensions(y_pred, y_true)
        return inner(y_true, y_pred)

    return term


def _tf_keras_matched_rank(y_true: Any, y_pred: Any) -> Any:
    try:
        rank = y_pred.shape.rank
    except (AttributeError, TypeError, ValueError):  # a distribution without a tensor shape
        return y_true
    return tf_keras_targets(y_true, rank)


def tf_keras_targets(y_true: Any, output_rank: int | None) -> Any:
    """The targets as tf_keras's loss container hands them to the loss: (N,) expanded to (N, 1)
    against an output of rank 2."""
    return tf.expand_dims(y_true, -1) if y_true.shape.rank == 1 and output_rank == 2 else y_true


@tf.autograph.experimental.do_not_convert  # builds a function: nothing to convert
def _tf_keras_unreduced(loss: Any) -> Callable[[Any, Any], Any]:
    # Converted as tf_keras' ``Loss.__call__`` and ``LossFunctionWrapper`` convert them under
    # ``fit``: a user's loss with a Python ``if`` on a tensor trains there, so it trains here.
    if isinstance(loss, str):
        return as_keras_converts(tf_keras.losses.get(loss))
    wrapper = getattr(tf_keras.losses, "LossFunctionWrapper", None)
    if wrapper is not None and isinstance(loss, wrapper):
        return _bound(as_keras_converts(loss.fn), dict(getattr(loss, "_fn_kwargs", {})))
    if isinstance(loss, tf_keras.losses.Loss):
        return as_keras_converts(loss.call)
    if callable(loss):
        return as_keras_converts(loss)
    raise TypeError(_ONE_LOSS.format(loss=loss))


@tf.autograph.experimental.do_not_convert  # builds a function: nothing to convert
def _keras3_unreduced(loss: Any) -> Callable[[Any, Any], Any]:
    """Keras 3 squeezes a trailing 1 to match ranks (``squeeze_or_expand_to_same_rank``) but
    never expands ``(B,)`` targets against ``(B, k)`` outputs: the same is done here."""
    k = keras3()
    from keras.src.losses.loss import squeeze_or_expand_to_same_rank

    if isinstance(loss, str):
        loss = k.losses.get(loss)
    from keras.src.losses.losses import LossFunctionWrapper

    if isinstance(loss, LossFunctionWrapper):
        inner = _bound(loss.fn, dict(getattr(loss, "_fn_kwargs", {})))
    elif isinstance(loss, k.losses.Loss):
        return loss.call
    elif callable(loss):
        inner = loss
    else:
        raise TypeError(_ONE_LOSS.format(loss=loss))

    def term(y_true: Any, y_pred: Any) -> Any:
        if tf.is_tensor(y_pred) and tf.is_tensor(y_true):
            y_true, y_pred = squeeze_or_expand_to_same_rank(y_true, y_pred)
        return inner(y_true, y_pred)

    return term


def _bound(fn: Callable[..., Any], kwargs: dict[str, Any]) -> Callable[[Any, Any], Any]:
    def wrapped(y: Any, p: Any) -> Any:
        return fn(y, p, **kwargs)

    return wrapped


_ONE_LOSS = ("loss={loss!r}: tfpcheck checks single-output models with one callable loss; "
             "compile with loss=lambda y, d: -d.log_prob(y).")


@contextlib.contextmanager
def recording_jit_compile() -> Iterator[None]:
    """While a factory runs, record on each Keras 3 model the ``jit_compile`` its ``compile`` was
    given ("auto", Keras 3's default, unless set): Keras resolves it to a bool at once -- XLA on a
    GPU, none on a CPU -- and keeps only the result."""
    if "keras" not in sys.modules or not hasattr(sys.modules["keras"], "Model"):
        yield
        return
    model_class = sys.modules["keras"].Model
    original = model_class.compile

    @functools.wraps(original)
    def compile(self: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            bound = inspect.signature(original).bind(self, *args, **kwargs)
            self._tfpcheck_jit_compile = bound.arguments.get("jit_compile", "auto")
        except TypeError:
            pass  # the call itself raises below, as the user wrote it
        return original(self, *args, **kwargs)

    model_class.compile = compile
    try:
        yield
    finally:
        model_class.compile = original


def gpu_xla_note(model: Any) -> str | None:
    """Where ``jit_compile="auto"`` makes a GPU and this CPU machine train different code."""
    if getattr(model, "_tfpcheck_jit_compile", None) != "auto" or model.jit_compile:
        return None
    from keras.src.trainers.trainer import model_supports_jit

    if not model_supports_jit(model):
        return None
    return (f"jit_compile='auto' ({type(model).__name__}): checked without XLA, as fit trains on this "
            "CPU; on a GPU Keras 3 would use XLA. jit_compile=True checks the XLA step here, False "
            "trains the same step everywhere")
