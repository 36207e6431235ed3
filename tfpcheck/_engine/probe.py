"""Look at a target once before searching: its task and the user's own training settings.

One build and one forward pass on the target's data (or a small generated set): the
output distribution's family (or, for a tensor output, the compiled loss) says which
task the model is for; a compiled model's optimizer and learning rate are the user's
configuration, which the search tries first and stays near in the default regime.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import tf_keras

from tfpcheck._config import Config
from tfpcheck._data import data_output_dim, make_data
from tfpcheck._engine.constraints import family_name, unwrap
from tfpcheck._engine.flavour import (
    compiled_loss,
    is_keras3_model,
    note_keras3_used,
    overrides_train_step,
    uses_own_compute_loss,
)
from tfpcheck._engine.inputs import feed, set_inputs, takes
from tfpcheck._engine.instrument import (
    compute_loss_likelihood,
    loss_distribution,
    loss_name,
    refused_distribution,
    train_step_likelihood,
)
from tfpcheck._engine.optimizers import initial_rate, schedule_of
from tfpcheck._engine.samplers import terminating_samplers
from tfpcheck._inputs import InputLayout
from tfpcheck._target import Target, factory_kwargs, filled_parameters
from tfpcheck.errors import TargetError

__all__ = ["INDEX_LAYERS", "Probe", "probe_target", "read_model", "task_of_family", "task_of_loss",
           "with_article"]

#: Distribution families (after unwrapping Independent/Sample/mixtures) and the task they
#: model; anything else is real-valued regression.
_FAMILY_TASKS = {
    "count": ("Poisson", "NegativeBinomial", "Binomial", "GeneralizedPoisson", "ZeroInflatedPoisson"),
    "binary": ("Bernoulli",),
    "categorical": ("Categorical", "OneHotCategorical", "RelaxedOneHotCategorical"),
    "positive": ("Gamma", "LogNormal", "Exponential", "Weibull", "InverseGaussian", "HalfNormal",
                 "Chi2", "HalfCauchy", "LogLogistic"),
}
#: Components of a tfd.Mixture that say nothing of the task: the point mass of a zero-inflated model.
_POINT_MASSES = ("Deterministic", "VectorDeterministic")
#: Families whose targets are one-hot rows (event shape (K,)), not class indices.
_ONE_HOT_FAMILIES = ("OneHotCategorical", "RelaxedOneHotCategorical")
#: Keras loss names (or class names, lower-cased) and the task they model.
_LOSS_TASKS = (
    ("sparse_categorical_crossentropy", "categorical"),
    ("categorical_crossentropy", "categorical"),
    ("categoricalcrossentropy", "categorical"),
    ("kl_divergence", "categorical"),
    ("binary_crossentropy", "binary"),
    ("binarycrossentropy", "binary"),
    ("binary_focal", "binary"),
    ("poisson", "count"),
)


#: Layers that read their input as indices (category ids), not as measurements.
INDEX_LAYERS = ("Embedding", "CategoryEncoding", "IntegerLookup", "Hashing")


@dataclasses.dataclass(frozen=True)
class Probe:
    """What one build of the target showed (``task`` None: it could not be told)."""

    task: str | None
    evidence: str
    user_optimizer: str | None = None
    user_learning_rate: float | None = None
    #: the model reads x (or part of it) as indices: an INDEX_LAYERS layer, named here
    index_layer: str | None = None
    #: the targets' width per example the model scores (a categorical model's: its classes), and
    #: whether it takes one-hot rows: the shape generated targets must have (None: not told)
    width: int | None = None
    one_hot: bool = False


def task_of_family(dist: Any) -> str | None:
    """The task a distribution family models, looking through wrappers and mixtures; a
    ``tfd.Mixture``'s is its components', point masses aside (a zero-inflated Poisson counts)."""
    d = _innermost(dist)
    name = type(d).__name__
    if name == "Mixture":
        tasks = {task_of_family(c) for c in d.components if type(unwrap(c)).__name__ not in _POINT_MASSES}
        if len(tasks) == 1:
            return tasks.pop()
    for task, families in _FAMILY_TASKS.items():
        if name in families:
            return task
    return "regression" if hasattr(d, "log_prob") else None


def _innermost(dist: Any) -> Any:
    """``dist`` without its Independent/Sample/MixtureSameFamily wrappers."""
    d = unwrap(dist)
    for _ in range(5):
        # ``is None``, never ``or``: the inner distribution of a tfp.layers output converts to a
        # tensor, and its truth value is a graph error (TFP's AutoregressiveTransform docstring).
        inner = getattr(d, "distribution", None)
        if inner is None:
            inner = getattr(d, "components_distribution", None)
        if inner is None or type(d).__name__ not in ("Independent", "Sample", "MixtureSameFamily"):
            break
        d = unwrap(inner)
    return d


def _distribution_width(dist: Any) -> dict[str, Any]:
    """Probe's ``width`` and ``one_hot`` for the targets ``dist`` scores: their width per example
    (a Categorical's: its classes), and whether they are one-hot rows; no width where a shape is
    unknown."""
    inner = _innermost(dist)
    name = type(inner).__name__.lstrip("_")
    try:
        if name == "Categorical":
            return {"width": int(inner.logits_parameter().shape[-1])}
        outer = unwrap(dist)
        shape = [*outer.batch_shape[1:], *outer.event_shape]
        return {"width": int(shape[-1]) if shape else 1, "one_hot": name in _ONE_HOT_FAMILIES}
    except (TypeError, ValueError, NotImplementedError):  # an unknown dimension
        return {}


def _tensor_width(output: Any, loss: Any) -> dict[str, Any]:
    """Probe's ``width`` and ``one_hot`` for a tensor ``output`` under a Keras cross-entropy
    ``loss``: the classes (or 0/1 labels) per example, one-hot rows under every categorical loss
    but the sparse one; nothing under other losses, whose outputs are parameters."""
    task = task_of_loss(loss)
    shape = getattr(output, "shape", ())
    if task not in ("categorical", "binary") or len(shape) < 1:
        return {}
    width = int(shape[-1]) if len(shape) >= 2 and shape[-1] is not None else 1
    return {"width": width, "one_hot": task == "categorical" and "sparse" not in loss_name(loss).lower()}


def task_of_loss(loss: Any) -> str:
    """The task a Keras loss on tensor outputs implies (regression for MSE/MAE/Huber/custom)."""
    name = loss_name(loss).lower()
    for key, task in _LOSS_TASKS:
        if key in name:
            return task
    return "regression"


def probe_target(target: Target) -> Probe:
    """Build ``target`` once: its task (from the output or the loss) and the user's optimizer."""
    x, y = _probe_data(target)
    tf_keras.backend.clear_session()
    available = filled_parameters(x, y, output_dim=data_output_dim(y, target.task),
                                  batch_size=target.batch_size or Config.batch_size, inputs=target.inputs)
    try:
        model = target.factory(**factory_kwargs(target.factory, available, {}))
    except Exception as exc:  # noqa: BLE001 - the search reports it as a `builds` failure
        return Probe(None, f"the model did not build ({type(exc).__name__})")
    _check_inputs(target, model)
    index_layer = _index_layer(model)
    if index_layer is not None and target.data is None:
        raise TargetError(
            f"{target.name}: the model reads x as indices (its {index_layer} layer), and the target "
            "has no data=: tfpcheck generates real-valued features, which are no valid indices. "
            "Check it on your own data: @tfpcheck.model(data=(x_train, y_train))."
        )
    try:
        probe = read_model(model, x, y, target.inputs)
    except TargetError as exc:
        raise TargetError(f"{target.name}: {exc}.") from None
    return dataclasses.replace(probe, index_layer=index_layer)


def read_model(model: Any, x: np.ndarray, y: np.ndarray, inputs: InputLayout | None = None) -> Probe:
    """One forward pass of a built ``model`` on ``x[:8]`` (split into its ``inputs`` where it has
    several): the task its output (or loss) implies, and its compiled optimizer."""
    set_inputs(model, inputs)
    try:
        with terminating_samplers():  # a NegativeBinomial head of negative total_count hangs it
            output = model(feed(model, x[:8]), training=False)
    except Exception as exc:  # noqa: BLE001 - the search reports it as a `builds` failure
        return Probe(None, f"the model did not build ({type(exc).__name__})")
    keras_3 = is_keras3_model(model)
    if keras_3:
        note_keras3_used()
    optimizer, lr = _user_optimizer(model)
    if hasattr(unwrap(output), "log_prob"):
        family = family_name(output)
        return Probe(task_of_family(output), f"the output distribution is {family}", optimizer, lr,
                     **_distribution_width(output))
    loss = compiled_loss(model)
    own = "compute_loss" if uses_own_compute_loss(model) else "train_step" if overrides_train_step(
        model) else None
    if loss is None and own is not None:
        dist = _own_loss_distribution(model, x[:8], y[:8], output, own)
        if dist is None:
            return Probe(None, f"its {own} builds no tfd distribution", optimizer, lr)
        if dist is _SCORES_NOTHING:
            raise TargetError(_UNREAD_STEP)
        return Probe(task_of_family(dist), f"its {own} builds {with_article(family_name(dist))}",
                     optimizer, lr, **_distribution_width(dist))
    if loss is None:
        return Probe(None, "a tensor output and no compiled loss", optimizer, lr)
    try:
        dist = loss_distribution(loss, y[:8], output, keras_3)
    except Exception:  # noqa: BLE001 - targets the loss refuses: training's first pass says why
        dist = refused_distribution(loss, y[:8], output, keras_3)
    if dist is not None:
        return Probe(task_of_family(dist), f"the loss builds {with_article(family_name(dist))}", optimizer,
                     lr, **_distribution_width(dist))
    return Probe(task_of_loss(loss), f"the loss is {loss_name(loss)}", optimizer, lr,
                 **_tensor_width(output, loss))


def _check_inputs(target: Target, model: Any) -> None:
    """TargetError where the model's inputs and the data's x disagree in number (a model declaring
    none, a subclass, says so at its first call instead)."""
    declared, given = takes(model), len(target.inputs.keys) if target.inputs else 1
    if declared is None or declared == given:
        return
    if target.data is None:
        problem = (f"the model takes {declared} inputs, and tfpcheck generates one array x for a target "
                   "without data=")
        fix = "check it on your own data, one array per input: @tfpcheck.model(data=({'a': xa, 'b': xb}, y))"
    elif target.inputs is None:
        problem = f"the model takes {declared} inputs, and data= gives x as one array"
        fix = ("give x as one array per input, in a dict keyed by the inputs' names or a list in "
               "their order: data=([x1, x2], y)")
    else:
        problem = (f"data= gives x as {given} arrays, one per input ({target.inputs.describe()}), and the "
                   f"model takes {declared}")
        fix = ("give one array per model input, or, for a model of one input, one array: "
               "np.concatenate(xs, axis=1)")
    raise TargetError(f"{target.name}: {problem}. Fix: {fix}.")


def _index_layer(model: Any) -> str | None:
    """The class name of the first layer of ``model`` that reads indices, or None."""
    flatten = getattr(model, "_flatten_layers", None)  # tf_keras and Keras 3 alike
    for layer in flatten(include_self=False) if flatten is not None else ():
        if type(layer).__name__ in INDEX_LAYERS:
            return type(layer).__name__
    return None


#: A train_step that ran and scored the targets with no tfd distribution.
_SCORES_NOTHING = object()
_UNREAD_STEP = (
    "its own train_step computes the loss with no tfd distribution (no distribution's log_prob is "
    "called on the targets) and no loss is compiled, so tfpcheck cannot read the data term per "
    "example that learns, data_in_support and loss_shape judge. Fix: compile the model with that "
    "loss, model.compile(optimizer, loss=...), and compute it in train_step with "
    "self.compute_loss(x, y, y_pred) (Keras 3) or self.compiled_loss(y, y_pred) (tf_keras); or "
    "score the targets with a tfd distribution's log_prob there"
)


def _own_loss_distribution(model: Any, x: np.ndarray, y: np.ndarray, output: Any, own: str) -> Any:
    """The distribution the model's own ``compute_loss`` (Keras 3) or ``train_step`` (``own``)
    scores the targets with; _SCORES_NOTHING for a train_step that ran and scored them with none;
    None where it raised (training reports why)."""
    likelihood = compute_loss_likelihood if own == "compute_loss" else train_step_likelihood
    try:
        picked = likelihood(model, x, y, output)
        if picked is None and own == "train_step":
            return _SCORES_NOTHING
    except Exception:  # noqa: BLE001 - training reports it with its cause
        return None
    return picked[0] if picked else None


def _probe_data(target: Target) -> tuple[np.ndarray, np.ndarray]:
    if target.data is not None:
        x, y = (np.asarray(a) for a in target.data)
        return x.astype("float32"), y.astype("float32")
    return make_data(Config(task=target.task or "regression"))


def _user_optimizer(model: Any) -> tuple[str | None, float | None]:
    """The compiled optimizer's name and learning rate (None for an uncompiled model; a model
    compiled with an optimizer alone, for its own train_step, has the user's)."""
    opt = getattr(model, "optimizer", None)
    if opt is None:
        return None, None
    name = type(opt).__name__.lower()
    schedule = schedule_of(opt)
    lr = initial_rate(schedule) if schedule is not None else opt.get_config().get("learning_rate")
    lr = float(f"{float(lr):.6g}") if isinstance(lr, (int, float, np.floating)) else None
    return name, lr


def with_article(name: str) -> str:
    """``name`` with its article: "a Normal", "an OrderedLogistic"."""
    return f"{'an' if name[:1].lower() in 'aeiou' else 'a'} {name}"

