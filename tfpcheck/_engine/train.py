"""The engine: build one configuration's model, train it briefly, record a :class:`Trace`.

config -> data -> model -> traced training step -> trace. The training step is a
``tf.function`` around the model's own ``train_step``; what tfpcheck observes
(gradients, every distribution's parameters, the per-example loss shape, KL
terms) is returned from that same traced step, so observing costs no extra pass.
Training stops when the loss settles or at the configuration's step cap; ``learns`` then
compares the model's data term with an x-denied twin's (``twin``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import tensorflow as tf
import tf_keras

from tfpcheck._config import Config
from tfpcheck._data import make_data, rescale_user_data
from tfpcheck._engine.classify import classify_exception, keras3_failure, not_a_distribution
from tfpcheck._engine.constraints import parameter_checks, unwrap
from tfpcheck._engine.domain import DOMAINS, outside_domain
from tfpcheck._engine.instrument import (
    Recorder,
    compile_for_check,
    is_keras3_model,
    loss_distribution,
    loss_name,
)
from tfpcheck._engine.schedule import MIN_STEPS, settled
from tfpcheck._engine.variational import layer_distributions, summarise_layers, variational_layers
from tfpcheck._target import Target, factory_kwargs
from tfpcheck._trace import ParamViolation, Trace

__all__ = ["per_example", "run_config", "training_data"]

#: Consecutive non-finite losses after which training stops (the weights are NaN by then).
STOP_AFTER_NONFINITE = 5
#: Forward passes averaged for the final NLL of a stochastic (variational) model.
EVAL_PASSES = 4
#: Predictive draws per training example per pass for ``predictive_in_domain`` (4 passes x 8
#: draws x n_train >= 4096 draws: a 1% share is measured to about +-0.15%).
DOMAIN_DRAWS = 8


def training_data(target: Target, config: Config) -> tuple[np.ndarray, np.ndarray]:
    """Generated data for the task, or the target's own ``(x, y)``, subsampled (and rescaled
    only where the configuration says so: the stress regime or ``vary=("data",)``)."""
    if target.data is not None:
        return rescale_user_data(*target.data, config)
    return make_data(config)


def run_config(
    target: Target, config: Config, drawn: Mapping[str, Any] | None = None, *,
    fresh_session: bool = True, with_twin: bool = True,
) -> Trace:
    """Train ``target`` under ``config`` and return everything observed.

    ``fresh_session=False`` keeps the Keras session (for a model the user built already);
    ``with_twin=False`` skips the x-denied twin (``learns`` is then not applicable).
    """
    trace = Trace(config=config)
    x, y = training_data(target, config)
    trace.target_shape = tuple(y.shape)
    trace.data_stats = _data_stats(x, y)
    _reset_tf(config, fresh_session)
    try:
        model = _build_and_compile(target, config, x, y, drawn or {}, trace)
        if model is None:
            return trace
        _observe_initial(model, x, y, trace)
        if trace.build_failure is None:
            _train(model, x, y, trace)
        if trace.build_failure is None and trace.steps_run and _weights_finite(model):
            _observe_final(model, x, y, trace)
            if trace.data_terms is not None and with_twin:
                trace.twin_terms = _train_twin(target, config, x, y, drawn or {}, trace.steps_run)
    finally:
        tf_keras.backend.set_floatx("float32")
    return trace


def _weights_finite(model: Any) -> bool:
    """NaN weights make the final evaluation meaningless, and can hang it: TFP's Poisson
    sampler loops forever on a NaN rate. finite_loss/finite_gradients report why."""
    return all(np.all(np.isfinite(w)) for w in model.get_weights())


def _data_stats(x: np.ndarray, y: np.ndarray) -> dict[str, float]:
    """Centre and spread of features and targets: the evidence for ``data_scale``."""
    return {
        "x_abs_mean": float(np.max(np.abs(x.mean(0)))),
        "x_std_min": float(np.min(x.std(0))),
        "x_std_max": float(np.max(x.std(0))),
        "y_abs_mean": float(np.max(np.abs(np.mean(y, 0)))),
        "y_std": float(np.max(np.std(y, 0))),
    }


def _reset_tf(config: Config, fresh_session: bool = True) -> None:
    if fresh_session:
        tf_keras.backend.clear_session()
    tf_keras.backend.set_floatx(config.dtype)
    tf_keras.utils.set_random_seed(config.seed)


def _build_and_compile(
    target: Target, config: Config, x: np.ndarray, y: np.ndarray, drawn: Mapping[str, Any],
    trace: Trace,
) -> Any:
    available = {
        "input_dim": x.shape[1],
        "output_dim": config.output_dim,
        "n_train": x.shape[0],
        "x_train": x,
        "y_train": y,
    }
    try:
        model = target.factory(**factory_kwargs(target.factory, available, drawn))
    except Exception as exc:  # noqa: BLE001 - any factory error is a `builds` verdict
        trace.build_failure = classify_exception(exc, "factory")
        return None
    if is_keras3_model(model):
        trace.build_failure = keras3_failure(type(model).__name__)
        return None
    if not isinstance(model, tf_keras.Model):
        trace.build_failure = classify_exception(
            TypeError(f"the factory returned {type(model).__name__}, not a tf_keras.Model"),
            "factory",
        )
        return None
    recorder = Recorder()
    try:
        compile_for_check(model, config, recorder)
    except Exception as exc:  # noqa: BLE001
        trace.build_failure = classify_exception(exc, "compile")
        return None
    model._tfpcheck_recorder = recorder
    return model


def _observe_initial(model: Any, x: np.ndarray, y: np.ndarray, trace: Trace) -> None:
    """One eager forward pass: what the model outputs, and do the targets lie in its support."""
    try:
        output = model(x, training=False)
        if model._tfpcheck_loss is None and not hasattr(unwrap(output), "log_prob"):
            trace.build_failure = not_a_distribution(type(output).__name__)
            return
        dist = loss_distribution(model._tfpcheck_loss, y, output)
    except Exception as exc:  # noqa: BLE001
        trace.build_failure = classify_exception(exc, "forward")
        return
    trace.custom_train_step = type(model).train_step is not tf_keras.Model.train_step
    trace.layers_start = summarise_layers(model)
    if dist is None:
        trace.output_distribution = None
        trace.output_kind = f"a {type(output).__name__} under the loss {_loss_label(model)}"
        _check_loss_finite(model, x, y, output, trace)
        return
    dist = unwrap(dist)
    trace.output_distribution = type(dist).__name__
    trace.output_kind = "distribution" if hasattr(unwrap(output), "log_prob") else "loss_distribution"
    checks = list(parameter_checks(dist, "output"))
    if any(int(c.summary()["n_bad"]) for c in checks) or not all(
        bool(tf.reduce_all(tf.math.is_finite(tf.cast(c.value, tf.float32)))) for c in checks
    ):
        return  # parameters invalid or NaN already: support is moot, other invariants report it
    _check_support(dist, y, trace)


def _loss_label(model: Any) -> str:
    return loss_name(model._tfpcheck_loss)


def _check_loss_finite(model: Any, x: np.ndarray, y: np.ndarray, output: Any, trace: Trace) -> None:
    """For a plain Keras loss on tensor outputs the support question is: is every target's loss
    finite at initialisation (a label outside the classes raises or gives inf)."""
    try:
        values = np.asarray(model._tfpcheck_data_term(tf.constant(y), output))
    except Exception as exc:  # noqa: BLE001
        trace.support_error = " ".join(str(exc).split())[:300] or type(exc).__name__
        return
    bad = ~np.isfinite(values.reshape(len(y), -1)).all(1)
    trace.support_nonfinite = int(bad.sum())
    trace.support_examples = [float(np.ravel(y[r])[0]) for r in np.nonzero(bad)[0][:5]]


def _check_support(dist: Any, y: np.ndarray, trace: Trace) -> None:
    try:
        lp = np.asarray(dist.log_prob(tf.cast(y, dist.dtype)))
    except Exception as exc:  # noqa: BLE001
        trace.support_error = f"{type(exc).__name__}: {str(exc).splitlines()[0]}"
        return
    bad = ~np.isfinite(lp)
    trace.support_nonfinite = int(bad.sum())
    if bad.any():
        rows = np.unique(np.nonzero(bad)[0])[:5]
        trace.support_examples = [float(np.ravel(y[r])[0]) for r in rows if r < len(y)]
    try:
        dist.copy(validate_args=True).log_prob(tf.cast(y, dist.dtype))
    except Exception as exc:  # noqa: BLE001
        text = " ".join(str(exc).split()) or type(exc).__name__
        # A parameter assertion is positive_scales' business; a dtype complaint (a Categorical
        # with dtype=float32, as Keras hands float targets over) says nothing about the values.
        if "Argument `" not in text and "must be integer-type" not in text:
            trace.support_error = text[:300]


def make_step(model: Any) -> tuple[Callable[..., Any], dict[str, tuple[str, str, str]]]:
    """The traced training step and, filled at trace time, each checked parameter's metadata."""
    recorder: Recorder = model._tfpcheck_recorder
    layers = variational_layers(model)
    meta: dict[str, tuple[str, str, str]] = {}

    @tf.function(reduce_retracing=True)
    def step(x: Any, y: Any) -> dict[str, Any]:
        recorder.clear()
        # Posteriors and priors as this step's forward pass sees them (before the update).
        layer_checks = [
            (c, role)
            for layer in layers
            for label, role, d in layer_distributions(layer)
            for c in parameter_checks(d, label)
        ]
        layer_summaries = {c.path: c.summary() for c, _ in layer_checks}
        for metric in model.metrics:
            metric.reset_state()
        with tf.control_dependencies(tf.nest.flatten(layer_summaries)):
            logs = model.train_step((x, y))
        dist = recorder.distribution
        if dist is None and "loss_shape" not in recorder.tensors:
            # A custom train_step that bypasses the compiled loss: check what the model outputs.
            output = model(x, training=True)
            dist = output if hasattr(unwrap(output), "log_prob") else None
        output_checks = list(parameter_checks(dist, "output")) if dist is not None else []
        checks = [(c, "output") for c in output_checks] + layer_checks
        for c, role in checks:
            meta[c.path] = (role, c.distribution, type(c.bijector).__name__)
        out = {
            "loss": _step_loss(logs),
            "grad_norm": recorder.tensors.get("grad_norm", tf.constant(np.nan)),
            "grad_finite": recorder.tensors.get("grad_finite", tf.constant(True)),
            "loss_shape": recorder.tensors.get("loss_shape", tf.constant([-1])),
            "kl": tf.add_n([tf.reduce_sum(tf.cast(t, tf.float32)) for t in model.losses])
            if model.losses
            else tf.constant(0.0),
            "params": {
                **{c.path: c.summary() for c in output_checks},
                **layer_summaries,
            },
        }
        return out

    return step, meta


def _step_loss(logs: Any) -> Any:
    if isinstance(logs, Mapping):
        if "loss" in logs:
            return tf.cast(tf.reduce_mean(logs["loss"]), tf.float32)
        for value in logs.values():
            return tf.cast(tf.reduce_mean(value), tf.float32)
    return tf.cast(tf.reduce_mean(logs), tf.float32)


def _batches(n: int, batch_size: int, steps: int, seed: int) -> list[np.ndarray]:
    rng = np.random.default_rng(seed + 1)
    b = min(batch_size, n)
    out: list[np.ndarray] = []
    while len(out) < steps:
        perm = rng.permutation(n)
        out += [perm[i : i + b] for i in range(0, n - b + 1, b)]
    return out[:steps]


def _train(
    model: Any, x: np.ndarray, y: np.ndarray, trace: Trace, steps: int | None = None
) -> None:
    """Train until the loss settles (``schedule.settled``) or the config's step cap; exactly
    ``steps`` steps when given (the twin trains as long as the model did)."""
    config = trace.config
    step_fn, meta = make_step(model)
    seen: set[str] = set()
    nonfinite_run = 0
    cap = steps or config.steps
    for i, idx in enumerate(_batches(len(x), config.batch_size, cap, config.seed)):
        try:
            out = step_fn(tf.constant(x[idx]), tf.constant(y[idx]))
        except Exception as exc:  # noqa: BLE001
            trace.build_failure = classify_exception(exc, "train_step", step=i)
            return
        _record_step(trace, i, out, meta, seen, batch=len(idx))
        nonfinite_run = 0 if np.isfinite(trace.losses[-1]) else nonfinite_run + 1
        if nonfinite_run >= STOP_AFTER_NONFINITE:
            break
        if steps is None and settled(trace.losses):
            break
    # Shorter than MIN_STEPS at the cap: too brief to tell a settled loss from a slow one.
    trace.settled = steps is None and len(trace.losses) >= MIN_STEPS and settled(
        trace.losses, final=True)


def _record_step(
    trace: Trace, i: int, out: dict[str, Any], meta: dict[str, tuple[str, str, str]],
    seen: set[str], batch: int,
) -> None:
    trace.losses.append(float(out["loss"]))
    trace.grad_norms.append(float(out["grad_norm"]))
    trace.grad_finite.append(bool(out["grad_finite"]))
    trace.kl_terms.append(float(out["kl"]))
    if i == 0:
        trace.loss_shape = tuple(int(d) for d in np.asarray(out["loss_shape"]))
        trace.batch_size = batch
    for path, s in out["params"].items():
        n_bad = int(s["n_bad"])
        if n_bad and path not in seen:
            seen.add(path)
            role, dist_name, constraint = meta[path]
            trace.param_violations.append(
                ParamViolation(
                    path=path, role=role, distribution=dist_name, constraint=constraint, step=i,
                    n_bad=n_bad, n_total=int(s["n_total"]),
                    min_value=float(s["min"]), max_value=float(s["max"]),
                )
            )


def _observe_final(model: Any, x: np.ndarray, y: np.ndarray, trace: Trace) -> None:
    try:
        outputs = [model(x, training=False) for _ in range(EVAL_PASSES)]
        trace.data_terms = _data_terms(model, outputs, y)
        trace.layers_end = summarise_layers(model)
        dists = [loss_distribution(model._tfpcheck_loss, y, o) for o in outputs]
    except Exception as exc:  # noqa: BLE001 - reported: learns and the posterior checks need it
        trace.notes["final_evaluation_error"] = f"{type(exc).__name__}: {exc}"
        return
    if any(d is None for d in dists):
        return  # a plain Keras loss on tensor outputs: no predictive distribution to sample
    means = _predictive_means(dists)
    if means is None:
        return  # no finite predictive mean: sampling could hang (a Poisson with an inf rate)
    spread = float(np.std(y))
    if spread > 0:
        trace.prediction_noise = float(np.mean(means.std(0)) / spread)
    _observe_domain(dists, trace)


def _data_terms(model: Any, outputs: list[Any], y: np.ndarray) -> list[float]:
    """The data term (the user's loss, without KL/regularisation) per training example,
    averaged over the evaluation passes (weight draws of a variational model)."""
    term = model._tfpcheck_data_term
    rows = [per_example(np.asarray(term(tf.constant(y), o), dtype=float), y) for o in outputs]
    return [float(v) for v in np.mean(rows, axis=0)]


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


def _train_twin(
    target: Target, config: Config, x: np.ndarray, y: np.ndarray, drawn: Mapping[str, Any],
    steps: int,
) -> list[float] | None:
    """The same model, loss and budget, trained on features replaced by their mean: what the
    model could reach without the information in x. Its data term per example, or None when
    the twin itself cannot be evaluated."""
    x_denied = np.repeat(x.mean(0, keepdims=True), len(x), axis=0).astype(x.dtype)
    twin = Trace(config=config)
    _reset_tf(config)
    model = _build_and_compile(target, config, x_denied, y, drawn, twin)
    if model is None:
        return None
    _train(model, x_denied, y, twin, steps=steps)
    if twin.build_failure is not None or not _weights_finite(model):
        return None
    outputs = [model(x_denied, training=False) for _ in range(EVAL_PASSES)]
    return _data_terms(model, outputs, y)


def _predictive_means(outputs: list[Any]) -> np.ndarray | None:
    """The predictive means of each forward pass (weight draw), stacked; None when a family
    has no mean or a mean is not finite. Their spread across passes, in units of the targets'
    spread, is ``prediction_noise``: 0 for a deterministic model, small for a settled posterior."""
    if len(outputs) < 2:
        return None
    try:
        means = np.stack([np.asarray(unwrap(d).mean(), dtype=float) for d in outputs])
    except Exception:  # noqa: BLE001 - a family without a mean: nothing to measure
        return None
    return means if np.all(np.isfinite(means)) else None


def _observe_domain(outputs: list[Any], trace: Trace) -> None:
    """Share of the trained model's predictive draws outside the task's domain."""
    if trace.config.task not in DOMAINS:
        return
    try:
        draws = [np.asarray(unwrap(d).sample(DOMAIN_DRAWS, seed=trace.config.seed)) for d in outputs]
    except Exception as exc:  # noqa: BLE001 - a distribution without sample(): nothing to judge
        trace.notes["predictive_sample_error"] = f"{type(exc).__name__}: {exc}"
        return
    measured = outside_domain(trace.config.task, np.concatenate([np.ravel(d) for d in draws]))
    if measured is not None:
        trace.outside_domain, trace.domain = measured
