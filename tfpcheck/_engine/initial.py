"""What the untrained model outputs, and whether the targets lie in its support.

One forward pass on the whole training set before the first step. The first example a model
sees runs it eagerly and learns what the model outputs (a distribution, a tensor under a plain
Keras loss); a model reused for later examples (``reuse.py``) keeps those facts, and its pass is
traced (after EAGER_FORWARDS eager passes: ``tiered.py``) and returns the distribution
itself (TFP distributions are composite tensors): an eager pass of a small DenseFlipout network
costs ~22 ms, the traced one ~1.5 ms, its trace ~0.2 s.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import re
from typing import Any

import numpy as np
import tensorflow as tf

from tfpcheck._checks import SIGN_MIN_LOG_PROB, SIGN_RTOL
from tfpcheck._engine.classify import classify_exception, not_a_distribution
from tfpcheck._engine.constraints import family_name, inner_family, parameter_checks, unwrap
from tfpcheck._engine.domain import LOSS_DOMAINS
from tfpcheck._engine.flavour import overrides_train_step, tf_keras_targets
from tfpcheck._engine.heads import confined_heads
from tfpcheck._engine.inputs import feed
from tfpcheck._engine.instrument import (
    from_logits,
    keras_builtin_loss,
    loss_name,
    model_loss,
    probabilities_read,
    squashed_name,
)
from tfpcheck._engine.passes import mean_gaps
from tfpcheck._engine.probe import task_of_loss, with_article
from tfpcheck._engine.tiered import traced, untraceable
from tfpcheck._engine.variational import kl_pairs, summarise_layers, variational_layers
from tfpcheck._trace import ParamViolation, Trace

__all__ = ["EAGER_FORWARDS", "observe_initial"]

#: Eager initial passes of a model before its pass is traced (one a reused example).
EAGER_FORWARDS = 8


def observe_initial(model: Any, x: np.ndarray, y: np.ndarray, trace: Trace) -> None:
    """Record what the model outputs (or why it can't be trained) and the targets' support."""
    keras_3 = model._tfpcheck_keras_3
    forward = _forward(model, x, y)
    if forward is None:
        output = None
        try:
            output = model(feed(model, x), training=False)
            if (model._tfpcheck_loss is None and not model._tfpcheck_own_loss
                    and not model._tfpcheck_own_step and not hasattr(unwrap(output), "log_prob")):
                trace.build_failure = not_a_distribution(type(output).__name__, keras_3)
                return
            values, dist = model_loss(model, x, y, output)
        except Exception as exc:  # noqa: BLE001
            failure = classify_exception(exc, "forward", keras_3=keras_3, target_shape=np.shape(y)[1:],
                                         dist_shape=_full_shape(output))
            named = _targets_fix(model, output, y, failure.message)
            trace.build_failure = failure if named is None else dataclasses.replace(
                failure, cause=named[0], fix=named[1])
            return
        object.__setattr__(model, "_tfpcheck_output", (type(output).__name__,
                                                        hasattr(unwrap(output), "log_prob")))
    else:
        values, dist = forward
    output_type, output_is_distribution = model._tfpcheck_output
    trace.custom_train_step = overrides_train_step(model)
    pairs = _own_kl_pairs(model, x)
    trace.layers_start = summarise_layers(model, x if keras_3 else None, pairs if keras_3 else None)
    _check_own_layers(pairs, trace)
    if dist is None:
        # A plain Keras loss on tensor outputs: the support question is whether every target's
        # loss is finite at initialisation (a label outside the classes gives inf).
        trace.output_kind = f"{with_article(output_type)} under the loss {loss_name(model._tfpcheck_loss)}"
        if probabilities_read(model._tfpcheck_loss) is not None:
            trace.probs_read = loss_name(model._tfpcheck_loss)
        _record_nonfinite(np.asarray(values).reshape(len(y), -1), y, trace)
        _check_loss_domain(model._tfpcheck_loss, y, trace)
        if from_logits(model._tfpcheck_loss):
            _note_squashed_logits(model, x, trace)
        return
    dist = unwrap(dist)
    trace.output_distribution = family_name(dist)
    trace.example_shape = _example_shape(dist, len(y))
    trace.output_kind = "distribution" if output_is_distribution else "loss_distribution"
    if output_is_distribution and keras_builtin_loss(model._tfpcheck_loss):
        trace.notes["sampled_by_the_loss"] = _SAMPLED_NOTE.format(
            family=trace.output_distribution, loss=loss_name(model._tfpcheck_loss))
    confined = confined_heads(model) if output_is_distribution else []
    if confined:
        trace.notes["head_confined"] = confined[0]
    checks = list(parameter_checks(dist, "output"))
    if any(int(c.summary()["n_bad"]) for c in checks) or not all(
        bool(tf.reduce_all(tf.math.is_finite(tf.cast(c.value, tf.float32)))) for c in checks
    ):
        return  # parameters invalid or NaN already: support is moot, other invariants report it
    _observe_start_gaps(dist, y, trace)
    lp = _check_support(dist, y, trace, values if trace.output_kind == "loss_distribution" else None,
                        keras_3)
    if lp is not None and model._tfpcheck_loss is not None and loss_is_log_prob(values, lp):
        trace.notes["loss_is_log_prob"] = trace.output_kind




def _own_kl_pairs(model: Any, x: np.ndarray) -> list[tuple[Any, Any]]:
    """The (posterior, prior) of each ``kl_divergence`` call one forward pass makes, for a model
    without tfp.layers (a Keras 3 layer of the user's own that adds its KL with ``add_loss``); a
    model with tfp.layers, or whose forward pass made no such call, is not asked again."""
    if getattr(model, "_tfpcheck_own_kl", None) is None:
        object.__setattr__(model, "_tfpcheck_own_kl", not variational_layers(model))
    if not model._tfpcheck_own_kl:
        return []
    pairs = kl_pairs(model, x)
    object.__setattr__(model, "_tfpcheck_own_kl", bool(pairs))
    return pairs


def _check_own_layers(pairs: list[tuple[Any, Any]], trace: Trace) -> None:
    """The parameters of those posteriors and priors, which the training step cannot reach as
    layer attributes: checked at initialisation (a posterior scale taken raw from its weights is
    negative from the start)."""
    for i, (q, p) in enumerate(pairs):
        for role, dist in (("posterior", q), ("prior", p)):
            for c in parameter_checks(dist, f"kl_divergence#{i}/{role}"):
                s = {k: float(v) for k, v in c.summary().items()}
                if s["n_bad"]:
                    trace.param_violations.append(ParamViolation(
                        path=c.path, role=role, distribution=c.distribution,
                        constraint=type(c.bijector).__name__, step=0, n_bad=int(s["n_bad"]),
                        n_total=int(s["n_total"]), min_value=s["min"], max_value=s["max"]))


def _shapes(dist: Any) -> tuple[list[int], list[int]] | None:
    """``(batch shape, event shape)`` of a distribution; None for a tensor or an unknown shape."""
    try:
        return [int(d) for d in dist.batch_shape], [int(d) for d in dist.event_shape]
    except (AttributeError, TypeError, ValueError):
        return None


def _full_shape(output: Any) -> tuple[int, ...] | None:
    """The output distribution's batch + event shape past the batch axis; None for a tensor."""
    shapes = _shapes(unwrap(output))
    return None if shapes is None else tuple(shapes[0] + shapes[1])[1:]


def _example_shape(dist: Any, n: int) -> tuple[int, ...] | None:
    """``dist``'s batch shape past its first axis, then its event shape, where that first axis is
    the ``n`` examples; None where it is not, or a shape is unknown."""
    shapes = _shapes(dist)
    if shapes is None or not shapes[0] or shapes[0][0] != n:
        return None
    return tuple(shapes[0][1:] + shapes[1])


def _targets_fix(model: Any, output: Any, y: np.ndarray, message: str) -> tuple[str, str] | None:
    """``(cause, fix)`` where the forward pass failed on targets the output cannot take as they
    are encoded: the first of these that recognises them."""
    found = [("tfp_layer_misuse", _fewer_categories(output, y)),
             ("distribution_choice", _labels_past_the_classes(message, y)),
             ("shape_broadcast", _one_hot_into_categorical(output, y)
              or _labels_for_the_other_loss(model, output, y))]
    return next(((cause, fix) for cause, fix in found if fix is not None), None)


_SAMPLED_NOTE = (
    "the model outputs a {family} and is compiled with {loss}, a Keras loss on tensors: Keras hands it "
    "the tensor the distribution converts to (its convert_to_tensor_fn, one sample by default), so "
    "the {family}'s other parameters (its spread) are never fit to the data's noise. To fit the "
    "distribution, compile with loss=lambda y, d: -d.log_prob(y)")


#: Outputs read as logits that every one lies in [0, 1] (and, with several columns, whose rows
#: sum to 1 within this): an activation squashed them first (Keras warns about a softmax).
SQUASHED_ROW_SUM_TOL = 1e-4
_SQUASHED_NOTE = (
    "the model's outputs are probabilities ({how}) and {loss} reads them as logits "
    "(from_logits=True): the probabilities it then predicts {bound}, so it can never be "
    "confident. Drop the output activation (a linear Dense gives logits) or compile "
    "with from_logits=False")


def _note_squashed_logits(model: Any, x: np.ndarray, trace: Trace) -> None:
    """Note outputs a softmax or sigmoid squashed into [0, 1] under a from_logits=True loss: it
    trains (and learns), but the logits are confined to [0, 1], capping every probability."""
    out = np.asarray(model(feed(model, x[:256]), training=False), dtype=float)
    out = out.reshape(len(out), -1)
    if out.size == 0 or not np.all(np.isfinite(out)) or out.min() < 0.0 or out.max() > 1.0:
        return
    k = out.shape[1]
    rows = k > 1 and bool(np.allclose(out.sum(1), 1.0, atol=SQUASHED_ROW_SUM_TOL))
    if rows:  # softmax of values in [0, 1]: at most e / (e + k - 1)
        how, bound = "each row sums to 1: a softmax", f"can't pass {math.e / (math.e + k - 1):.2g}"
    else:  # sigmoid of values in [0, 1]: between 0.5 and 1 / (1 + 1/e)
        how = "every value in [0, 1]: a sigmoid"
        bound = f"stay between 0.5 and {1 / (1 + math.exp(-1.0)):.2g}"
    trace.notes["logits_squashed"] = _SQUASHED_NOTE.format(
        how=how, loss=loss_name(model._tfpcheck_loss), bound=bound)


def _one_hot_into_categorical(output: Any, y: np.ndarray) -> str | None:
    """The fix where a Categorical's log_prob was handed one-hot rows: it takes class indices."""
    if type(unwrap(output)).__name__ != "Categorical" or np.ndim(y) != 2 or np.shape(y)[1] < 2:
        return None
    rows = np.asarray(y, dtype=float)
    if not (np.isin(rows, (0.0, 1.0)).all() and np.all(rows.sum(1) == 1.0)):
        return None
    return (f"the targets are one-hot rows (shape {np.shape(y)}) and Categorical's log_prob takes "
            f"class indices: use tfpl.OneHotCategorical({np.shape(y)[1]}) (tfd.OneHotCategorical) "
            "for one-hot targets, or give Categorical np.argmax(y, axis=-1).")


#: What TF's sparse softmax cross-entropy (tfd.Categorical's log_prob, Keras's sparse loss) raises
#: on CPU for a class index outside the logits; on a GPU it returns NaN instead.
_LABEL_OUTSIDE = re.compile(r"label value of (-?\d+) which is outside the valid range of \[0, (\d+)\)")


def _labels_past_the_classes(message: str, y: np.ndarray) -> str | None:
    """The fix where class indices fall outside the model's classes: labels numbered from 1
    (1..k for k classes, numbered 0..k-1), or more classes in the data than the layer has units."""
    found = _LABEL_OUTSIDE.search(message)
    if found is None:
        return None
    k = int(found.group(2))
    labels = np.unique(np.asarray(y, dtype=float))
    low, high = int(labels.min()), int(labels.max())
    said = f"the labels run from {low} to {high} and the model has {k} classes, numbered 0 to {k - 1}"
    if low == 1 and high == k:
        return f"{said}: labels counted from 1. Give it y - 1 (the class numbers from 0)"
    if low >= 0:
        return (f"{said}: give the layer before the distribution (or the loss) {high + 1} units, one per "
                f"class 0 to {high}, or relabel the classes 0 to {k - 1}")
    return f"{said}: number the classes 0 to {k - 1} (np.unique(y, return_inverse=True)[1])"


def _fewer_categories(output: Any, y: np.ndarray) -> str | None:
    """The fix where a OneHotCategorical's rows are not as wide as the one-hot targets: the layer
    before tfpl.OneHotCategorical(k) gave it another number of logits than k."""
    dist = unwrap(output)
    if type(dist).__name__ != "OneHotCategorical" or np.ndim(y) != 2:
        return None
    try:
        width = int(dist.event_shape[-1])
    except (TypeError, ValueError, IndexError):
        return None
    k = np.shape(y)[1]
    if width == k:
        return None
    return (f"the distribution has {width} categories and the one-hot targets {k}: the layer before "
            f"tfpl.OneHotCategorical({k}) must give it tfpl.OneHotCategorical.params_size({k}) = {k} "
            f"logits (tf_keras.layers.Dense(tfpl.OneHotCategorical.params_size({k}))), not {width}.")


def _labels_for_the_other_loss(model: Any, output: Any, y: np.ndarray) -> str | None:
    """The fix where a plain cross-entropy was handed the other label encoding: class indices
    under categorical_crossentropy (one-hot rows), one-hot rows under the sparse one (indices),
    one 0/1 column under binary_crossentropy against one column per class."""
    name = squashed_name(model._tfpcheck_loss)
    width = np.shape(output)[-1] if np.ndim(output) >= 2 else 1
    rows = np.asarray(y, dtype=float).reshape(len(y), -1)
    if "binarycrossentropy" in name and width >= 2 and rows.shape[1] == 1 and np.isin(rows, (0.0, 1.0)).all():
        return (f"the targets are one 0/1 column and the model gives {width} columns: "
                f"{loss_name(model._tfpcheck_loss)} scores one probability per target, so end the model "
                "with Dense(1, activation='sigmoid'); or keep one unit per class with a softmax and "
                "compile with loss='sparse_categorical_crossentropy'")
    if "categoricalcrossentropy" not in name or width < 2:
        return None
    one_hot = rows.shape[1] == width and np.isin(rows, (0.0, 1.0)).all() and np.all(rows.sum(1) == 1.0)
    indices = rows.shape[1] == 1 and np.all(np.mod(rows, 1) == 0) and rows.min() >= 0 and rows.max() < width
    if name.startswith("sparse") and one_hot:
        return (f"the targets are one-hot rows (shape {np.shape(y)}) and sparse_categorical_crossentropy "
                "takes class indices: compile with loss='categorical_crossentropy', or give it "
                "np.argmax(y, axis=-1)")
    if not name.startswith("sparse") and indices:
        return (f"the targets are class indices (shape {np.shape(y)}, values 0 to {int(rows.max())}) and "
                "categorical_crossentropy takes one-hot rows: compile with "
                "loss='sparse_categorical_crossentropy', or give it "
                f"to_categorical(y, {width}) (tf_keras.utils, or keras.utils under Keras 3)")
    return None


def _observe_start_gaps(dist: Any, y: np.ndarray, trace: Trace) -> None:
    """The untrained model's mean gaps (``passes.mean_gaps``): ``learns`` reads how fast
    training closes them."""
    try:
        means = np.asarray(dist.mean(), dtype=float)
    except Exception:  # noqa: BLE001 - a family without a mean, or one TFP can't compute here
        return
    found = mean_gaps(means, y) if np.all(np.isfinite(means)) else None
    if found is not None:
        trace.mean_gaps_start = found[0]


def _forward(model: Any, x: np.ndarray, y: np.ndarray) -> tuple[Any, Any] | None:
    """The per-example loss values and the distribution they were scored with, from the traced
    pass; None where the eager pass must run (the model's first example, or a pass that can't be
    traced or raises: the eager one then classifies the error)."""
    if not hasattr(model, "_tfpcheck_output"):
        return None

    def pass_(x_: Any, y_: Any) -> tuple[Any, Any]:
        values, dist = model_loss(model, x_, y_, model(feed(model, x_), training=False))
        return values, None if dist is None else unwrap(dist)

    forward = traced(model, "_tfpcheck_forward", pass_, EAGER_FORWARDS)
    if forward is None:
        return None
    try:
        values, dist = forward(tf.constant(x), tf.constant(y))
    except Exception:  # noqa: BLE001 - not a composite tensor, or it raises: the eager pass says why
        untraceable(model, "_tfpcheck_forward", forward)
        return None
    if dist is not None and _holds_graph_tensors(dist):
        untraceable(model, "_tfpcheck_forward", forward)
        return None
    return values, dist


def _holds_graph_tensors(obj: Any, depth: int = 0) -> bool:
    """A distribution the traced pass returned that still holds tensors of its graph outside
    its composite-tensor spec (a VariationalGaussianProcess's Cholesky function closes over the
    ``jitter`` its layer converted inside the trace), unusable outside it: its log_prob raised
    "out of scope", which data_in_support reported as the targets' fault (TFP regression case
    5, from the ninth example of one model on). Walks what the distribution holds: attributes,
    the distributions, bijectors and kernels among them, and the closures of its functions."""
    if depth > 6:
        return False
    return any(_is_graph_tensor(item) or (_holder(item) and _holds_graph_tensors(item, depth + 1))
               for item in _held(obj))


def _held(obj: Any) -> list[Any]:
    """What ``obj`` holds: a partial's arguments, a closure's cells, an object's attributes."""
    if isinstance(obj, functools.partial):
        return [*obj.args, *obj.keywords.values(), obj.func]
    cells = getattr(obj, "__closure__", None)
    if cells is not None:
        return [value for value in map(_cell, cells) if value is not obj]
    found: list[Any] = []
    for value in getattr(obj, "__dict__", {}).values():
        found += list(value) if isinstance(value, (list, tuple)) else [value]
    return found


def _cell(cell: Any) -> Any:
    try:
        return cell.cell_contents
    except ValueError:  # an empty cell (a name not yet bound)
        return None


def _holder(item: Any) -> bool:
    """A distribution, bijector or kernel (they have ``parameters``), or a function."""
    return (hasattr(item, "parameters") and hasattr(item, "__dict__")) or isinstance(
        item, functools.partial) or getattr(item, "__closure__", None) is not None


def _is_graph_tensor(item: Any) -> bool:
    return tf.is_tensor(item) and tf.is_symbolic_tensor(item)


def _record_nonfinite(values: np.ndarray, y: np.ndarray, trace: Trace) -> None:
    """How many targets have a non-finite log-prob (or loss), and the first few of them."""
    bad = ~np.isfinite(np.atleast_1d(values))  # 0-d: one joint log-prob (a Gaussian process)
    trace.support_nonfinite = int(bad.sum())
    rows = np.unique(np.nonzero(bad)[0])[:5]
    trace.support_examples = [float(np.ravel(y[r])[0]) for r in rows if r < len(y)]


def _check_loss_domain(loss: Any, y: np.ndarray, trace: Trace) -> None:
    """Targets a plain Keras loss does not score (engine/domain.py's LOSS_DOMAINS): its values
    stay finite, so only their range tells (a poisson loss on real-valued targets, a binary
    cross-entropy on -1/1 labels)."""
    name = loss_name(loss)
    task = task_of_loss(loss)
    if task not in LOSS_DOMAINS or "sparse" in name.lower():
        return
    words, outside = LOSS_DOMAINS[task]
    bad = outside(np.asarray(y, dtype=float)).reshape(len(y), -1).any(axis=1)
    if not bad.any():
        return
    shown = np.unique(np.asarray(y, dtype=float)[bad])
    trace.support_loss = name
    trace.support_examples = [float(v) for v in shown[:5]]
    trace.support_error = (
        f"the loss {name} scores {words}, and {int(bad.sum())} of {len(y)} targets are not (values "
        f"{', '.join(f'{v:.4g}' for v in shown[:5])}{', ...' if shown.size > 5 else ''}); on them it "
        "keeps falling as the predictions run to 0 or to its clip instead of failing"
    )


def loss_is_log_prob(values: Any, lp: Any) -> bool:
    """The loss is +log_prob of the targets, example by example: the minus of the negative
    log-likelihood forgotten (``loss=lambda y, d: d.log_prob(y)``), so every step makes the
    targets less likely while the loss falls (to -inf for a density that can spread)."""
    v, lp = np.asarray(values, dtype=float).reshape(-1), np.asarray(lp, dtype=float).reshape(-1)
    if not v.size or v.size != lp.size or not (np.all(np.isfinite(v)) and np.all(np.isfinite(lp))):
        return False
    return bool(np.mean(np.abs(lp)) > SIGN_MIN_LOG_PROB
                and np.allclose(v, lp, rtol=SIGN_RTOL, atol=SIGN_RTOL * np.mean(np.abs(lp))))


def _check_support(dist: Any, y: np.ndarray, trace: Trace, loss_values: Any = None,
                   keras_3: bool = False) -> np.ndarray | None:
    """Every target's log-probability finite (returned; None where it can't be had)? A
    distribution the loss builds is asked about the targets as the loss hands them over where
    they don't fit it as given (a loss that reshapes (N,) targets to (N, 1) itself): its own
    per-example terms then answer. Targets that fit only as tf_keras hands them to the loss (a
    VariationalGaussianProcess of event shape [1] takes (N,) as (N, 1)) are asked that way too:
    a shape error is no evidence about support."""
    per_example = None if loss_values is None else np.asarray(loss_values)
    if per_example is not None and not (per_example.size and per_example.size % len(y) == 0):
        per_example = None  # not one or more terms per example: nothing to read them as
    shapes = [y]
    if not keras_3:
        output_rank = dist.batch_shape.concatenate(dist.event_shape).rank
        handed = np.asarray(tf_keras_targets(tf.constant(y), output_rank))
        shapes += [handed] if handed.shape != y.shape else []
    for targets in shapes:
        try:
            lp = np.asarray(dist.log_prob(tf.cast(targets, dist.dtype)))
            break
        except Exception as exc:  # noqa: BLE001
            error = exc
    else:
        if per_example is not None:
            _record_nonfinite(per_example.reshape(len(y), -1), y, trace)
            return None
        trace.support_error = f"{type(error).__name__}: {str(error).splitlines()[0]}"
        return None
    if per_example is not None and per_example.size < np.size(lp):
        # The loss scored fewer values than log_prob gives the whole target row: it picked its
        # targets out of y (survival times beside a censoring indicator), so its own terms say
        # whether they are in the support, and y's other columns are not the family's targets.
        trace.notes["loss_picks_targets"] = f"{per_example.size // len(y)} of {np.size(lp) // len(y)}"
        _record_nonfinite(per_example.reshape(len(y), -1), y, trace)
        in_support = np.all(np.isfinite(np.asarray(lp).reshape(len(y), -1)), axis=0)
        if trace.support_nonfinite and in_support.any():
            # A column of y the family holds throughout, and still a non-finite loss: another of
            # its terms is (TFP's Weibull log_survival_function is -inf once the survival is
            # below float32's smallest number, and a censoring mask multiplies it by 0: NaN).
            trace.notes["loss_nonfinite_in_support"] = int(np.argmax(in_support))
        return None
    _record_nonfinite(lp, y, trace)
    error_text = _value_assertion(dist, _as_values(targets, dist.dtype))
    if error_text:
        trace.support_error = error_text[:300]
    if trace.support_nonfinite or trace.support_error:
        trace.support_bounds = _bounds(dist)
    return lp


def _bounds(dist: Any) -> dict[str, float]:
    """The outermost ``low``/``high`` a family's own parameters put on its support (a
    TruncatedNormal's, a Uniform's): where the targets fall outside them, those set it."""
    found: dict[str, float] = {}
    picks = [("low", np.min), ("high", np.max)]
    if _TRIALS_FAMILIES.search(family_name(dist)):  # a count of successes is at most the trials
        picks.append(("total_count", np.min))
    for name, pick in picks:
        value = _parameter(dist, name)
        if value is not None:
            found[name] = float(pick(np.asarray(value, dtype=float)))
    return found


#: Families whose ``total_count`` bounds the targets (a NegativeBinomial's does not).
_TRIALS_FAMILIES = re.compile(r"(?<![A-Za-z])(Binomial|BetaBinomial|Multinomial|DirichletMultinomial)\b")


def _parameter(dist: Any, name: str) -> Any:
    """``dist``'s parameter ``name``, looking through Independent/Sample wrappers."""
    for _ in range(4):
        value = dist.parameters.get(name)
        if value is not None:
            return value
        inner = dist.parameters.get("distribution")
        if inner is None:
            return None
        dist = inner
    return None


def _as_values(targets: np.ndarray, dtype: Any) -> Any:
    """The targets in the family's dtype, except fractions for an integer family (a Bernoulli's
    int32): the cast would make 0.3 a 0, and the fraction the loss scores would go unseen."""
    fractional = dtype.is_integer and np.any(np.mod(np.asarray(targets, dtype=float), 1) != 0)
    return tf.constant(targets) if fractional else tf.cast(targets, dtype)


def _value_assertion(dist: Any, value: Any) -> str | None:
    """What TFP's ``validate_args`` says about the *values* (integer counts, 0/1 outcomes, ...):
    its ``_sample_control_dependencies``, which assert on a value alone (in eager mode they
    raise). Parameter assertions (a fractional NegativeBinomial ``total_count``, a float
    Categorical dtype) are left out: parameters are positive_scales' business. An
    ``Independent`` (tfpl.IndependentBernoulli) asserts nothing on values itself, nor does a
    ``MixtureSameFamily``: the family inside them is asked."""
    try:
        checked = dist.copy(validate_args=True)
    except Exception:  # noqa: BLE001 - a parameter assertion at construction
        return None
    try:
        checked._sample_control_dependencies(value)
    except Exception as exc:  # noqa: BLE001
        text = " ".join(str(exc).split())  # TFP's message opens with every target, quoted
        return re.sub(r"`\[[^`]*\]`", "the targets", text) or type(exc).__name__
    inner = inner_family(dist)
    return None if inner is None else _value_assertion(inner, value)


