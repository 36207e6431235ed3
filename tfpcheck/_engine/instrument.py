"""Build a target's model for one configuration and compile it so training is observable.

The user's loss and optimizer class are kept; tfpcheck only wraps them: the
loss records the distribution and the per-example loss it saw, the optimizer's
``apply_gradients`` records the gradients it was handed. A model with its own
``train_step`` therefore trains exactly as the user wrote it.
"""

from __future__ import annotations

import contextlib
import functools
import types
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import tensorflow as tf
import tensorflow_probability as tfp

from tfpcheck._checks import SIGN_MIN_LOG_PROB, SIGN_RTOL
from tfpcheck._config import Config
from tfpcheck._engine.constraints import unwrap
from tfpcheck._engine.domain import MEAN_LOSSES, PROBABILITY_LOSSES
from tfpcheck._engine.flavour import (
    compiled_loss,
    is_keras3_model,
    overrides_train_step,
    unreduced_loss,
    uses_own_compute_loss,
)
from tfpcheck._engine.inputs import feed
from tfpcheck._engine.optimizers import make_optimizer, rescaled, schedule_of
from tfpcheck._engine.owners import owners

__all__ = ["Recorder", "capture_distributions", "compile_for_check", "config_optimizer", "data_term",
           "compute_loss_likelihood", "evaluate_loss", "keras_builtin_loss", "likelihood",
           "loss_distribution", "loss_name", "model_loss", "nll", "predicts_mean", "probabilities_read",
           "record_likelihood", "refused_distribution",
           "scores_in_train_step", "squashed_name", "step_variables", "train_step_likelihood"]

tfd = tfp.distributions


@dataclass
class Recorder:
    """Tensors captured while a training step is traced (returned from the step function)."""

    tensors: dict[str, Any] = field(default_factory=dict)
    distribution: Any = None

    @tf.autograph.experimental.do_not_convert  # plain TF ops: nothing to convert
    def clear(self) -> None:
        self.tensors = {}
        self.distribution = None


def nll(y_true: Any, y_pred: Any) -> Any:
    """The negative log-likelihood loss tfpcheck compiles an uncompiled model with."""
    return -y_pred.log_prob(y_true)


def config_optimizer(config: Config, template: Any = None, keras_3: bool = False) -> Any:
    """A fresh optimizer: the template's class and settings, with the config's learning rate."""
    if template is not None:
        settings = dict(template.get_config())
        schedule = schedule_of(template)  # a schedule keeps its shape, started at the config's rate
        settings["learning_rate"] = config.learning_rate if schedule is None else rescaled(
            schedule, config.learning_rate)
        return type(template).from_config(settings)
    return make_optimizer(config.optimizer, config.learning_rate, momentum=config.momentum,
                          clipnorm=config.clipnorm, keras_3=keras_3)


def compile_for_check(model: Any, config: Config, recorder: Recorder) -> None:
    """(Re)compile ``model`` with its own loss and optimizer class (at the configuration's
    learning rate: the user's own in their first example), wrapped to record. A Keras 3 model
    with its own ``compute_loss`` keeps it (no compiled loss): the distribution it builds is
    recorded while the step runs."""
    keras_3 = is_keras3_model(model)
    compiled = getattr(model, "optimizer", None) is not None  # a loss too, or its own train_step's
    user_loss = compiled_loss(model)
    template = model.optimizer if compiled else None
    optimizer = config_optimizer(config, template, keras_3)
    _record_gradients(optimizer, recorder)
    own_loss = uses_own_compute_loss(model) and user_loss is None
    # Its own train_step and no loss to compile: the step computes the loss itself.
    own_step = user_loss is None and not own_loss and overrides_train_step(model)
    loss = None if own_loss else _recording_loss(user_loss, recorder, keras_3)
    metrics = _user_metrics(model) if compiled and not keras_3 else None
    # Keras 3 compiles the step with XLA where the user's jit_compile asks for it on this machine
    # (True; "auto" only on a GPU): the traced step of the check follows (engine/steps.py).
    xla = bool(keras_3 and model.jit_compile)
    model.compile(optimizer=optimizer, loss=loss, metrics=metrics,
                  **({"jit_compile": xla} if keras_3 else {}))
    model._tfpcheck_xla = xla
    model._tfpcheck_loss = user_loss
    model._tfpcheck_own_loss = own_loss
    model._tfpcheck_own_step = own_step
    model._tfpcheck_keras_3 = keras_3


@tf.autograph.experimental.do_not_convert  # builds a function: nothing to convert
def data_term(user_loss: Any, keras_3: bool = False) -> Callable[[Any, Any], Any]:
    """The user's loss per example, as Keras computes it before reducing: the data term of the
    training objective (the KL and regularisation terms of ``model.losses`` are not in it)."""
    inner = nll if user_loss is None else unreduced_loss(user_loss, keras_3)

    @tf.autograph.experimental.do_not_convert  # plain Python around the user's loss
    def term(y_true: Any, y_pred: Any) -> Any:
        return inner(y_true, y_pred)

    return term


def loss_name(loss: Any) -> str:
    """A readable name for a compiled loss (string, function, Loss object)."""
    if isinstance(loss, str):
        return loss
    fn = getattr(loss, "fn", None)
    named = fn if fn is not None else loss
    return getattr(named, "__name__", None) or type(loss).__name__


def from_logits(loss: Any) -> bool:
    """A Keras cross-entropy told its inputs are logits (``from_logits=True``)."""
    kwargs = getattr(loss, "_fn_kwargs", None) or {}
    return bool(getattr(loss, "from_logits", kwargs.get("from_logits", False)))


def squashed_name(loss: Any) -> str:
    """``loss_name`` lower-cased without underscores: "sparse_categorical_crossentropy" and
    SparseCategoricalCrossentropy compare equal."""
    return loss_name(loss).lower().replace("_", "")  # a function's name, or a Loss class's


def keras_builtin_loss(loss: Any) -> bool:
    """A loss named by a string, or one of Keras's own functions and Loss classes (a wrapper's
    function counts, not the wrapper): they take tensors, and a distribution reaches them
    converted to one."""
    if isinstance(loss, str):
        return True
    inner = getattr(loss, "fn", None) or loss
    module = inner.__module__ if isinstance(inner, types.FunctionType) else type(inner).__module__
    return str(module).startswith(("tf_keras.", "keras."))


def predicts_mean(loss: Any) -> bool:
    """Whether a plain Keras ``loss`` makes the output a prediction of the targets' mean
    (``domain.MEAN_LOSSES``; a cross-entropy only on probabilities, not ``from_logits``)."""
    return squashed_name(loss) in {m.replace("_", "") for m in MEAN_LOSSES} and not from_logits(loss)


def probabilities_read(loss: Any) -> str | None:
    """The family whose ``probs`` a Keras cross-entropy reads the output as
    (``domain.PROBABILITY_LOSSES``); None for another loss, or one ``from_logits``."""
    if loss is None or from_logits(loss):
        return None
    families = {name.replace("_", ""): family for name, family in PROBABILITY_LOSSES.items()}
    return families.get(squashed_name(loss))


def evaluate_loss(user_loss: Any, y_true: Any, y_pred: Any, keras_3: bool = False) -> tuple[Any, Any]:
    """``(per-example data term, distribution)`` of one evaluation of the loss: the output itself
    when it is a distribution, else the first ``tfd`` distribution whose ``log_prob``/``prob`` the
    loss calls on the raw outputs (None for a plain Keras loss)."""
    found: list[Any] = []
    log_probs: list[Any] = []
    y_true = tf.convert_to_tensor(y_true)
    term = data_term(user_loss, keras_3)
    with capture_distributions(found, log_probs):
        values = term(y_true, y_pred)
    dist = y_pred if hasattr(unwrap(y_pred), "log_prob") else (found[0] if found else None)
    if tf.is_tensor(values) and values.shape.rank == 0:
        # The loss reduced the batch itself: its per-example terms are the log-probabilities of
        # the distribution it scored the targets with, where there is one.
        picked = likelihood(found, log_probs, y_true.shape[0])
        if picked is not None:
            dist, values = picked[0], _signed(values, picked[1])
        elif dist is None and tf.is_tensor(y_pred):
            values = _one_by_one(term, y_true, y_pred)
    return values, dist


def _signed(scalar: Any, log_prob: Any) -> Any:
    """The per-example terms a loss reduced to ``scalar`` from ``log_prob``: ``-log_prob``, or
    ``+log_prob`` where the scalar is their mean or sum (``tf.reduce_mean(d.log_prob(y))``, the
    minus forgotten: ``loss_is_log_prob`` then reads it as every other loss of that sign)."""
    lp = tf.cast(log_prob, scalar.dtype)

    def near(a: Any, b: Any) -> Any:
        return tf.abs(a - b) <= SIGN_RTOL * tf.abs(b)

    mean, total = tf.reduce_mean(lp), tf.reduce_sum(lp)
    flipped = (near(scalar, mean) | near(scalar, total)) & (tf.abs(mean) > SIGN_MIN_LOG_PROB)
    return tf.where(flipped, lp, -lp)


def _one_by_one(term: Callable[[Any, Any], Any], y_true: Any, y_pred: Any) -> Any:
    """A plain loss that reduced the batch itself (``tf.reduce_mean(tf.square(y - f))``, a Keras 3
    loss object on a tf_keras model), per example: its value on each example alone, which is
    that example's term whether it averages or sums over the batch."""
    return tf.vectorized_map(lambda pair: tf.reshape(term(pair[0][None], pair[1][None]), []),
                             (y_true, y_pred))


def model_loss(model: Any, x: Any, y: Any, y_pred: Any) -> tuple[Any, Any]:
    """:func:`evaluate_loss` for a compiled model; for a Keras 3 model with its own
    ``compute_loss``, or a tensor-output model whose own ``train_step`` computes its loss, the
    negative log-probability per example of the distribution that loss builds (the data term
    without the ``add_loss`` terms)."""
    own_step = scores_in_train_step(model, y_pred)
    if not getattr(model, "_tfpcheck_own_loss", False) and not own_step:
        return evaluate_loss(model._tfpcheck_loss, y, y_pred, model._tfpcheck_keras_3)
    picked = (train_step_likelihood if own_step else compute_loss_likelihood)(model, x, y, y_pred)
    if picked is None:
        where = "train_step" if own_step else "compute_loss"
        raise TypeError(f"the model's {where} evaluates no tfd distribution's log_prob on the "
                        "targets: its data term per example can't be read")
    dist, log_prob = picked
    return -log_prob, dist


def scores_in_train_step(model: Any, y_pred: Any = None) -> bool:
    """A model whose own ``train_step`` computes its loss (none compiled), on a tensor output
    (``y_pred``, or the output its first pass recorded): the data term is what that step scores."""
    if not getattr(model, "_tfpcheck_own_step", False):
        return False
    if y_pred is not None:
        return not hasattr(unwrap(y_pred), "log_prob")
    output = getattr(model, "_tfpcheck_output", None)
    return output is not None and not output[1]


def step_variables(model: Any) -> list[Any]:
    """Every variable a step can change: the model's (built by the engine's first forward pass)
    and the optimizer's."""
    optimizer = getattr(model, "optimizer", None)
    try:
        extra = getattr(optimizer, "variables", [])
        variables = list(model.variables) + list(extra() if callable(extra) else extra)
    except ValueError:  # not built yet: nothing a step has changed
        return []
    return list({id(v): v for v in variables}.values())


def train_step_likelihood(model: Any, x: Any, y: Any, y_pred: Any = None) -> tuple[Any, Any] | None:
    """(distribution, log_prob values) the model's own ``train_step`` scores the targets with:
    the step runs (its forward pass in training mode, as ``fit`` runs it) and every variable it
    changed, the optimizer's included, is set back."""
    found: list[Any] = []
    values: list[Any] = []
    y = tf.convert_to_tensor(y)
    _build_slots(model.optimizer, model.trainable_variables)
    variables = step_variables(model)
    saved = [tf.identity(v) for v in variables]
    with capture_distributions(found, values):
        model.train_step((feed(model, tf.convert_to_tensor(x)), y))
    picked = likelihood(found, values, y.shape[0])
    with tf.control_dependencies([] if picked is None else [picked[1]]):
        for variable, value in zip(variables, saved, strict=True):
            variable.assign(value)
    return picked


def _build_slots(optimizer: Any, variables: list[Any]) -> None:
    """Build ``optimizer``'s slots before a step's state is saved, so that none is created by the
    step and left behind: Keras 3 says whether it is built; a tf_keras optimizer holds only its
    iteration count until it is (a legacy one builds its own way, and is left to it)."""
    held = getattr(optimizer, "variables", ())
    try:
        unbuilt = not optimizer.built if hasattr(optimizer, "built") else len(held) <= 1
        if unbuilt:
            optimizer.build(variables)
    except (AttributeError, TypeError):  # a legacy optimizer: variables() and no build(var_list)
        return


def compute_loss_likelihood(model: Any, x: Any, y: Any, y_pred: Any) -> tuple[Any, Any] | None:
    """(distribution, log_prob values) the model's own ``compute_loss`` scores the targets with."""
    found: list[Any] = []
    values: list[Any] = []
    y = tf.convert_to_tensor(y)
    with capture_distributions(found, values):
        model.compute_loss(x=feed(model, tf.convert_to_tensor(x)), y=y, y_pred=y_pred, training=False)
    return likelihood(found, values, y.shape[0])


def record_likelihood(recorder: Recorder, found: list[Any], values: list[Any], batch: Any) -> None:
    """Record the captured likelihood as the step's distribution and per-example loss shape
    (for a loss that reduced the batch itself, or a ``compute_loss`` of the model's own)."""
    picked = likelihood(found, values, batch)
    if picked is not None:
        recorder.distribution = picked[0]
        recorder.tensors["loss_shape"] = tf.shape(picked[1])
        recorder.tensors["data_term"] = -tf.reduce_mean(tf.cast(picked[1], tf.float32))


def likelihood(found: list[Any], values: list[Any], batch: int | None) -> tuple[Any, Any] | None:
    """The (distribution, log_prob values) among those captured that scores the targets: the
    last whose values lead with the batch dimension (a KL estimated by sampling in a layer
    evaluates the posterior's and prior's log_prob on weights, earlier in the forward pass).
    ``batch`` is the targets' static leading dimension: None in a step traced for any batch
    size, where the targets' log-probabilities lead with None and the weights' with their size."""
    pairs = list(zip(found, values, strict=False))  # a call that raised has no value
    for dist, value in reversed(pairs):
        shape = value.shape
        if shape.rank and shape[0] == batch:
            return dist, value
    return pairs[-1] if pairs else None


def loss_distribution(user_loss: Any, y_true: Any, y_pred: Any, keras_3: bool = False) -> Any:
    """The distribution the loss evaluates (see :func:`evaluate_loss`), or None."""
    return evaluate_loss(user_loss, y_true, y_pred, keras_3)[1]


def refused_distribution(user_loss: Any, y_true: Any, y_pred: Any, keras_3: bool = False) -> Any:
    """The first distribution whose ``log_prob``/``prob`` the loss called where the call raised on
    these targets (a Categorical asked about the real-valued targets a probe generates), or None."""
    found: list[Any] = []
    with capture_distributions(found):
        try:
            data_term(user_loss, keras_3)(tf.convert_to_tensor(y_true), y_pred)
        except Exception:  # noqa: BLE001 - the call's refusal is expected: only who was asked matters
            pass
    return found[0] if found else None


@contextlib.contextmanager
def capture_distributions(found: list[Any], values: list[Any] | None = None) -> Iterator[None]:
    """Record every distribution whose ``log_prob`` or ``prob`` is called (outermost calls only:
    an Independent's inner Normal is not a distribution of its own), and into ``values`` what
    each call returned (as a log-probability)."""
    originals = {(cls, name): vars(cls)[name] for name in ("log_prob", "prob")
                 for cls in owners(name)}
    depth = [0]

    def wrap(original: Callable[..., Any]) -> Callable[..., Any]:
        # functools.wraps keeps the docstring: TFP builds distribution classes on the fly
        # (TransformedDistribution's composite-tensor subclass), and its metaclass copies
        # every base method's docstring, raising on one without.
        @functools.wraps(original)
        def method(self: Any, value: Any, *args: Any, **kwargs: Any) -> Any:
            if depth[0] == 0:
                found.append(self)
            outermost = depth[0] == 0
            depth[0] += 1
            try:
                result = original(self, value, *args, **kwargs)
            finally:
                depth[0] -= 1
            if outermost and values is not None:
                values.append(result if method.__name__ == "log_prob" else tf.math.log(result))
            return result

        return method

    for (cls, name), original in originals.items():
        setattr(cls, name, wrap(original))
    try:
        yield
    finally:
        for (cls, name), original in originals.items():
            setattr(cls, name, original)


def _recording_loss(user_loss: Any, recorder: Recorder, keras_3: bool = False) -> Callable[[Any, Any], Any]:
    term = data_term(user_loss, keras_3)
    reads_probs = probabilities_read(user_loss) is not None

    @tf.autograph.experimental.do_not_convert
    def loss(y_true: Any, y_pred: Any) -> Any:
        found: list[Any] = []
        log_probs: list[Any] = []
        with capture_distributions(found, log_probs):
            values = term(y_true, y_pred)
        recorder.distribution = y_pred if hasattr(unwrap(y_pred), "log_prob") else (
            found[0] if found else None)
        if recorder.distribution is None and reads_probs:  # its parameters: positive_scales'
            recorder.tensors["probs"] = y_pred
        recorder.tensors["loss_shape"] = tf.shape(values)
        if values.shape.num_elements() == 1:  # reduced by the loss itself (a scalar, or (1,) from
            # tfd.VariationalGaussianProcess.variational_loss): the shape it reduced is the evidence
            record_likelihood(recorder, found, log_probs, y_true.shape[0])
        return values

    loss.__name__ = getattr(user_loss, "__name__", None) or "loss"
    return loss


def _record_gradients(optimizer: Any, recorder: Recorder) -> None:
    original = optimizer.apply_gradients
    _sum_one_replica_as_is(optimizer)

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


#: Where each optimizer sums the gradients over replicas: tf_keras' method, tf_keras' legacy
#: optimizers' ``gradient_aggregator`` (a constructor argument), Keras 3's on TensorFlow.
_AGGREGATORS = ("aggregate_gradients", "gradient_aggregator", "_all_reduce_sum_gradients")


def _sum_one_replica_as_is(optimizer: Any) -> None:
    """The optimizer without its sum of the gradients over one replica. That sum changes nothing,
    and it goes through a ``tf.custom_gradient``, which in a traced step registers a gradient
    function in TensorFlow's global registry for good: it holds the whole traced graph (a model's
    training step, ~4-15 MB, never given back; the naive loop a user writes leaks it too)."""
    for name in _AGGREGATORS:
        aggregate = getattr(optimizer, name, None)
        if callable(aggregate):
            setattr(optimizer, name, _unless_one_replica(aggregate))
            return


def _unless_one_replica(aggregate: Callable[[Any], Any]) -> Callable[[Any], Any]:
    def aggregated(grads_and_vars: Any) -> Any:
        context = tf.distribute.get_replica_context()
        if context is not None and context.num_replicas_in_sync == 1:
            return list(grads_and_vars)
        return aggregate(grads_and_vars)

    return aggregated


def _user_metrics(model: Any) -> Any:
    container = getattr(model, "compiled_metrics", None)
    return getattr(container, "_user_metrics", None) if container is not None else None
