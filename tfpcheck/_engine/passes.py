"""Forward passes over the whole training set: the data term, the predictive's means and draws.

The data term is evaluated every WINDOW steps and the final evaluation takes EVAL_PASSES
weight draws; eagerly, one forward pass of a small variational network costs tens of
milliseconds, more than a window of training steps. So each pass is traced once per model
(the model is reused across examples: ``reuse.py``), after its first few calls on the model
(``tiered.py``), and computes everything the invariants read from it in one call: the
per-example data term, the predictive mean, whether every parameter is finite, and the
predictive draws of ``predictive_in_domain``, drawn only where the parameters are finite (TFP's
Poisson sampler never returns on a NaN rate). Where tracing fails the same pass runs eagerly.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import tensorflow as tf

from tfpcheck._confirm import AVERAGED_PASSES
from tfpcheck._engine.constraints import named_parameters, unwrap
from tfpcheck._engine.inputs import feed
from tfpcheck._engine.instrument import model_loss, predicts_mean
from tfpcheck._engine.tiered import traced as _traced
from tfpcheck._engine.tiered import untraceable as _untraceable

__all__ = ["AVERAGED_PASSES", "DOMAIN_DRAWS", "EVAL_PASSES", "Pass", "averaged", "data_terms", "evaluate",
           "finite_parameters", "mean_gaps", "per_example", "weights_finite"]

#: Forward passes averaged for the final NLL of a stochastic (variational) model.
EVAL_PASSES = 4
#: Eager data-term calls (two weight draws each) of a model before they are traced
#: (``tiered.py``): on ``benchmarks/throughput.py``'s network 56 ms a call eagerly (170 ms the
#: first), 0.46 s for the trace, 2 ms a call traced.
EAGER_TERMS = 5
#: Eager evaluations (EVAL_PASSES passes each) before they are traced: 114 ms a call eagerly,
#: 0.29 s for the trace, 3 ms a call traced.
EAGER_EVALUATIONS = 2
#: Predictive draws per training example per pass for ``predictive_in_domain`` (4 passes x 8
#: draws x n_train >= 4096 draws: a 1% share is measured to about +-0.15%).
DOMAIN_DRAWS = 8


@dataclass
class Pass:
    """One forward pass (one weight draw) over the training set."""

    values: np.ndarray  # the data term per example
    has_distribution: bool  # False: a plain Keras loss on tensor outputs
    mean: np.ndarray | None = None  # None: a family without a mean
    finite: bool = True  # every numeric parameter finite: drawing from it terminates
    draws: np.ndarray | None = None  # DOMAIN_DRAWS predictive draws (None: not drawn)
    sample_error: str | None = None
    stddev: np.ndarray | None = None  # None: a family without a standard deviation


def data_terms(model: Any, x: np.ndarray, y: np.ndarray, passes: int = 2,
               combine: Callable[[np.ndarray], np.ndarray] | None = None) -> np.ndarray:
    """The data term per example on the whole training set, averaged over ``passes`` forward
    passes (weight draws), or combined by ``combine`` (``averaged``); NaN when it can't be
    computed (a step raises it too, and classifies it)."""
    if not weights_finite(model):
        return np.full(len(y), np.nan)
    def term(x_: Any, y_: Any) -> Any:
        return model_loss(model, x_, y_, model(feed(model, x_), training=False))[0]

    for fn in (_traced(model, "_tfpcheck_terms", term, EAGER_TERMS), term):
        if fn is None:
            continue
        try:
            rows = [per_example(np.asarray(fn(tf.constant(x), tf.constant(y)), dtype=float), y)
                    for _ in range(passes)]
            return combine(np.asarray(rows)) if combine else np.mean(rows, axis=0)
        except Exception:  # noqa: BLE001
            _untraceable(model, "_tfpcheck_terms", fn)
    return np.full(len(y), np.nan)


def weights_finite(model: Any) -> bool:
    """Every weight of the model finite. A forward pass of NaN weights proves nothing, and can
    hang: a tfp.layers head draws a sample on every call, and TF's Poisson sampler (under
    Poisson and NegativeBinomial) never returns on a NaN rate (tensorflow/tensorflow#55243).
    finite_loss/finite_gradients report why the weights went NaN."""
    if not getattr(model, "_tfpcheck_weights", None):  # get_weights() walks the model: ~0.1 s a time
        object.__setattr__(model, "_tfpcheck_weights", list(model.weights))  # none yet: unbuilt
    return all(np.all(np.isfinite(np.asarray(w))) for w in model._tfpcheck_weights)


def evaluate(
    model: Any, x: np.ndarray, y: np.ndarray, seed: int, sample: bool, average: bool = False,
) -> tuple[list[float], list[Pass]]:
    """EVAL_PASSES forward passes: the data term per example averaged over them, and each pass
    (with DOMAIN_DRAWS predictive draws when ``sample``); with ``average``, AVERAGED_PASSES
    passes and the data term of their averaged predictive. Raises what an eager pass raises."""
    n_passes = AVERAGED_PASSES if average else EVAL_PASSES

    def terms(passes: list[Pass]) -> list[float]:
        rows = np.asarray([p.values for p in passes])
        return [float(v) for v in (averaged(rows) if average else rows.mean(0))]

    mean_output = predicts_mean(model._tfpcheck_loss)

    def one_pass(x_: Any, y_: Any, pass_seed: Any) -> dict[str, Any]:
        output = model(feed(model, x_), training=False)
        values, dist = model_loss(model, x_, y_, output)
        if dist is None:  # a plain Keras loss: its output is the mean under MEAN_LOSSES
            return {"values": values, "mean": output} if mean_output else {"values": values}
        d = unwrap(dist)
        out = {"values": values, "finite": _all_finite(d)}
        try:
            out["mean"] = d.mean()
        except (NotImplementedError, TypeError, ValueError):
            pass  # a family without a mean (a Sinh-transformed Normal): nothing to measure
        try:
            out["stddev"] = d.stddev()
        except (NotImplementedError, TypeError, ValueError):
            pass  # likewise: no draw_spread_ratio
        if sample:
            shape = tf.concat([[DOMAIN_DRAWS], d.batch_shape_tensor(), d.event_shape_tensor()], 0)
            out["draws"] = tf.cond(out["finite"], lambda: d.sample(DOMAIN_DRAWS, seed=pass_seed),
                                   lambda: tf.zeros(shape, d.dtype))
        return out

    traced = _traced(model, f"_tfpcheck_eval_{int(sample)}", one_pass, EAGER_EVALUATIONS)
    if traced is not None:
        try:
            passes = [_traced_pass(traced(tf.constant(x), tf.constant(y), tf.constant([seed, i])), y)
                      for i in range(n_passes)]
            return terms(passes), passes
        except Exception:  # noqa: BLE001 - the eager passes below raise or explain it
            _untraceable(model, f"_tfpcheck_eval_{int(sample)}", traced)
    passes = [_eager_pass(model, x, y, seed, sample, mean_output) for _ in range(n_passes)]
    return terms(passes), passes


def _traced_pass(out: dict[str, Any], y: np.ndarray) -> Pass:
    values = per_example(np.asarray(out["values"], dtype=float), y)
    mean = np.asarray(out["mean"], dtype=float) if "mean" in out else None
    if "finite" not in out:  # a plain Keras loss: its output as the mean, under MEAN_LOSSES
        return Pass(values, False, mean)
    finite = bool(out["finite"])
    draws = np.asarray(out["draws"]) if "draws" in out and finite else None
    stddev = np.asarray(out["stddev"], dtype=float) if "stddev" in out else None
    return Pass(values, True, mean, finite, draws, stddev=stddev)


def _eager_pass(model: Any, x: np.ndarray, y: np.ndarray, seed: int, sample: bool,
                mean_output: bool = False) -> Pass:
    output = model(feed(model, x), training=False)
    values, dist = model_loss(model, x, y, output)
    result = Pass(per_example(np.asarray(values, dtype=float), y), dist is not None)
    if dist is None:
        result.mean = np.asarray(output, dtype=float) if mean_output else None
        return result
    d = unwrap(dist)
    try:
        result.mean = np.asarray(d.mean(), dtype=float)
    except Exception:  # noqa: BLE001 - a family without a mean: nothing to measure
        result.mean = None
    try:
        result.stddev = np.asarray(d.stddev(), dtype=float)
    except Exception:  # noqa: BLE001 - a family without a stddev: no draw_spread_ratio
        result.stddev = None
    result.finite = finite_parameters(d)
    if sample and result.finite:
        try:
            result.draws = np.asarray(d.sample(DOMAIN_DRAWS, seed=seed))
        except Exception as exc:  # noqa: BLE001 - a distribution without sample(): nothing to judge
            result.sample_error = f"{type(exc).__name__}: {exc}"
    return result


def averaged(nll: np.ndarray) -> np.ndarray:
    """Per example, the negative log-likelihood of the predictive averaged over the passes
    (rows of per-pass NLLs): -log(mean_k exp(-nll_k)), computed stably."""
    low = nll.min(axis=0)
    return low - np.log(np.mean(np.exp(-(nll - low)), axis=0))


@tf.autograph.experimental.do_not_convert  # plain TF ops on distributions: nothing to convert
def _all_finite(dist: Any) -> Any:
    """Every numeric parameter of ``dist`` (and of the distributions nested in it) finite, as a
    boolean tensor: then drawing from it terminates. Families without a mean (a
    Sinh-transformed Normal) are sampled too; only non-finite parameters are not."""
    checks = [tf.constant(True)]
    for _, value in named_parameters(dist):
        if hasattr(value, "parameters") and hasattr(value, "sample"):
            checks.append(_all_finite(value))
        elif tf.is_tensor(value) or isinstance(value, (np.ndarray, float, int)):
            tensor = tf.convert_to_tensor(value)
            if tensor.dtype.is_floating or tensor.dtype.is_complex:
                checks.append(tf.reduce_all(tf.math.is_finite(tf.math.real(tensor))))
    return tf.reduce_all(tf.stack(checks))


def finite_parameters(dist: Any) -> bool:
    """:func:`_all_finite` of an eager distribution, as a bool."""
    return bool(_all_finite(unwrap(dist)))


def per_example(values: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Loss values as one number per example, summed over the target's event dims. A loss that
    broadcast to more elements than the targets have (``(N,)`` vs ``(N, 1)``) is averaged back to
    per-example units; ``loss_shape`` reports the bug itself."""
    n = len(y)
    per_row = int(np.prod(y.shape[1:])) if y.ndim > 1 else 1
    if values.size == n:
        return values.reshape(n)
    rows = values.reshape(n, -1) if values.ndim and values.shape[0] == n else values.reshape(1, -1)
    if rows.shape[0] == n and rows.shape[1] <= per_row:
        return rows.sum(1)
    return np.full(n, float(np.mean(values)) * per_row)


def mean_gaps(means: np.ndarray, y: np.ndarray) -> tuple[list[float], tuple[int, float, float, float]] | None:
    """Per target column, the targets' mean's gap to the range of ``means`` in the column's
    standard deviations, and the worst column's (index, targets' mean, predicted min and max);
    None where the means do not match the targets one for one."""
    n = len(y)
    if means.size != np.size(y):
        return None
    pred, obs = means.reshape(n, -1), np.asarray(y, dtype=float).reshape(n, -1)
    lo, hi, centre, sd = pred.min(0), pred.max(0), obs.mean(0), obs.std(0)
    gap = np.maximum(np.maximum(lo - centre, centre - hi), 0.0)
    gaps = np.where(sd > 0, gap / np.where(sd > 0, sd, 1.0), 0.0)
    j = int(np.argmax(gaps))
    return [float(g) for g in gaps], (j, float(centre[j]), float(lo[j]), float(hi[j]))
