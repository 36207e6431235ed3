"""The engine: build one configuration's model, train it briefly, record a :class:`Trace`.

config -> data -> model -> traced training steps -> trace. The steps (``steps.py``) run the
model's own ``train_step`` a window at a time, and what tfpcheck observes (gradients, every
distribution's parameters, the per-example loss shape, KL terms) is returned from those same
traced steps, so observing costs no extra pass. The x-denied twin of ``learns`` trains first;
the model then trains until its loss settles and beats the twin, or to the configuration's step
cap. The untrained model's output and the targets' support are ``initial.py``'s.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager, nullcontext, suppress
from typing import Any

import numpy as np
import tf_keras

from tfpcheck import _heartbeat
from tfpcheck._checks import beats, reaches, sampling_dominated
from tfpcheck._config import Config
from tfpcheck._confirm import PRIOR_WIDENING
from tfpcheck._data import make_data, rescale_user_data
from tfpcheck._engine import reuse
from tfpcheck._engine.classify import classify_exception, keras3_failure
from tfpcheck._engine.domain import DOMAINS, outside_domain
from tfpcheck._engine.flavour import (
    BACKEND_FIX,
    backend_problem,
    gpu_xla_note,
    is_keras3_model,
    keras3,
    note_keras3_used,
    recording_jit_compile,
    reset,
    tf_keras_parts,
)
from tfpcheck._engine.initial import observe_initial
from tfpcheck._engine.inputs import feed, set_inputs
from tfpcheck._engine.instrument import (
    Recorder,
    compile_for_check,
)
from tfpcheck._engine.passes import (
    AVERAGED_PASSES,
    EVAL_PASSES,
    Pass,
    averaged,
    data_terms,
    evaluate,
    mean_gaps,
    weights_finite,
)
from tfpcheck._engine.probe import with_article
from tfpcheck._engine.retained import forget_traced_tensors
from tfpcheck._engine.samplers import terminating_samplers
from tfpcheck._engine.schedule import WINDOW, settled
from tfpcheck._engine.source import quote_sources
from tfpcheck._engine.steps import STOP_AFTER_NONFINITE, StepFailed, stepper
from tfpcheck._engine.variational import (
    kl_pairs,
    posterior_lows,
    summarise_layers,
    unseen_spread,
    widen_priors,
    widening_kl,
)
from tfpcheck._target import Target, factory_kwargs, filled_parameters
from tfpcheck._trace import BuildFailure, ParamViolation, Trace

__all__ = ["run_config", "training_data"]

def training_data(target: Target, config: Config) -> tuple[np.ndarray, np.ndarray]:
    """Generated data for the task, or the target's own ``(x, y)``, subsampled (and rescaled
    only where the configuration says so: the stress regime or ``vary=("data",)``)."""
    if target.data is not None:
        return rescale_user_data(*target.data, config)
    return make_data(config)


def run_config(
    target: Target, config: Config, drawn: Mapping[str, Any] | None = None, *,
    fresh_session: bool = True, with_twin: bool = True, adjust: frozenset[str] = frozenset(),
) -> Trace:
    """Train ``target`` under ``config`` and return everything observed.

    ``fresh_session=False`` keeps the Keras session (for a model the user built already);
    ``with_twin=False`` skips the x-denied twin (``learns`` is then not applicable);
    ``adjust`` names the interventions of a confirmation run (``ADJUSTMENTS``), applied to the
    model and its twin alike.
    """
    unknown = set(adjust) - set(ADJUSTMENTS)
    if unknown:
        raise ValueError(f"adjust={sorted(unknown)}: allowed are {sorted(ADJUSTMENTS)}")
    trace = Trace(config=config)
    x, y = _adjusted_data(*training_data(target, config), config.task, adjust)
    trace.target_shape = tuple(y.shape)
    trace.data_stats = _data_stats(x, y)
    blind = uninformative(x)
    if blind:
        trace.notes["x_uninformative"] = blind
    widening = widening_kl(PRIOR_WIDENING) if "prior_widened" in adjust else nullcontext()
    with widening, terminating_samplers():  # widening: a no-op unless prior_widened
        try:
            # The twin first: the model may only stop early once it beats what the twin reached,
            # so a plateau (sigmoid units, a slow rate) is trained through rather than judged.
            twin = _Twin(target, config, x, y, drawn or {}, adjust) if with_twin and not blind else None
            model = _model_for(target, config, x, y, drawn or {}, trace, adjust, fresh_session)
            if model is None:
                return trace
            observe_initial(model, x, y, trace)
            while trace.build_failure is None:
                _train(model, x, y, trace, beat=twin.terms(0) if twin else None)
                if trace.build_failure is not None or not trace.steps_run or not weights_finite(model):
                    break
                _observe_with_twin(model, x, y, trace, twin, adjust)
                if sampling_dominated(trace) and trace.steps_run < config.steps:
                    # Stopped early on a settled loss while the weights' draws still swamp the
                    # predictions: the posterior may still be narrowing. Judged at the cap.
                    _train(model, x, y, trace, until=config.steps)
                    if trace.build_failure is None and weights_finite(model):
                        _observe_with_twin(model, x, y, trace, twin, adjust)
                    break
                if not _train_on(trace, config):
                    break
            quote_sources(model, trace)
        finally:
            reset("float32", None, fresh_session=False)
            forget_traced_tensors()  # else TFP's bijector cache keeps this example's graphs
    return trace


def _observe_with_twin(model: Any, x: np.ndarray, y: np.ndarray, trace: Trace, twin: _Twin | None,
                       adjust: frozenset[str]) -> None:
    """The final observation of the model and its x-denied twin at the same step."""
    _observe_final(model, x, y, trace, "predictive_averaged" in adjust)
    trace.twin_terms = twin.terms(trace.steps_run) if twin else None
    trace.twin_evaluations = twin.evaluations if twin else []


def _train_on(trace: Trace, config: Config) -> bool:
    """Stopped early, but the final evaluation (more passes than a window's) does not show the
    model beating its twin and reaching the targets' average: a noisy window ended it on a
    plateau, or it is still travelling towards off-centre targets. Train on, to the cap at most."""
    return (trace.steps_run < config.steps and trace.data_terms is not None
            and trace.twin_terms is not None
            and not (beats(trace.data_terms, trace.twin_terms) and reaches(trace))
            and not _nan_stop(trace))


def uninformative(x: np.ndarray) -> str | None:
    """Why x tells the model nothing (no columns, or every column constant: an unconditional
    density fitted to y alone, TFP's AutoregressiveTransform docstring on ``np.zeros((n, 0))``),
    else None. Its x-denied twin would be the model itself, so there is no twin to beat."""
    flat = np.asarray(x).reshape(len(x), -1)
    if flat.shape[1] == 0:
        return "x has no columns"
    if np.all(np.ptp(flat, axis=0) == 0):
        return "every column of x is constant"
    return None


def _data_stats(x: np.ndarray, y: np.ndarray) -> dict[str, Any]:
    """Centre and spread of features and targets: the evidence for ``data_scale``. Judged on the
    features that carry variance: an image's background pixels (almost always 0, tiny spread)
    say nothing about the scale of the data, so the median spread stands for the features, and
    a feature counts as off-centre only when its mean is also beyond unit scale."""
    return {
        **_feature_stats(x),
        "y_abs_mean": float(np.max(np.abs(np.mean(y, 0)))),
        "y_std": float(np.max(np.std(y, 0))),
        "y_min": float(np.min(y)),
        "y_max": float(np.max(y)),
        "y_grid_step": grid_step(y),
        "y_values": [float(v) for v in np.unique(y)[:3]],  # the first three: labels' encodings
    }


#: The feature statistics of x that tells nothing (an unconditional density): nothing off scale.
_NO_FEATURES = {"x_abs_mean": 0.0, "x_std_min": 1.0, "x_std_median": 1.0, "x_std_max": 1.0,
                "x_off_centre": 0.0}


def _feature_stats(x: np.ndarray) -> dict[str, float]:
    if uninformative(x):
        return dict(_NO_FEATURES)
    mean, std = np.abs(x.mean(0)), x.std(0)
    beyond_unit = (mean > 1.0) & (std > 0)
    return {
        "x_abs_mean": float(np.max(mean)),
        "x_std_min": float(np.min(std)),
        "x_std_median": float(np.median(std)),
        "x_std_max": float(np.max(std)),
        "x_off_centre": float(np.max(mean[beyond_unit] / std[beyond_unit])) if beyond_unit.any() else 0.0,
    }


#: The most distinct target values ``grid_step`` reads as a grid (counts, ratings).
GRID_VALUES = 200


def grid_step(y: np.ndarray) -> float:
    """The step of the evenly spaced grid the targets' distinct values lie on (1.0 for counts as
    counted; 1/sd for counts standardised), or 0.0 where they take fewer than 3 or more than
    GRID_VALUES values, or lie on no grid: the evidence that counts were rescaled."""
    values = np.unique(np.asarray(y, dtype=float))
    if not 3 <= values.size <= GRID_VALUES or not np.all(np.isfinite(values)):
        return 0.0
    step = float(np.min(np.diff(values)))
    multiples = (values - values[0]) / step
    return step if np.allclose(multiples, np.round(multiples), atol=1e-3) else 0.0


def _model_for(
    target: Target, config: Config, x: np.ndarray, y: np.ndarray, drawn: Mapping[str, Any],
    trace: Trace, adjust: frozenset[str], fresh_session: bool = True,
) -> Any:
    """The compiled model for this example, in the state a fresh build has for its seed: the
    one built for an earlier example with the same architecture and shapes when there is one
    (``reuse``), else a new one (kept for the next). None when it can't be built."""
    kwargs = _kwargs(target, config, x, y, drawn)
    if not fresh_session:  # the user's own instance: built once by them, nothing to reuse
        reset(config.dtype, config.seed, fresh_session=False)
        return _build_and_compile(target, config, x, kwargs, trace, adjust)
    key = reuse.cache_key(target.factory, kwargs, x, y, config, adjust)
    model = reuse.lookup(key, target.factory)
    if model is not None:
        reset(config.dtype, None, fresh_session=False)
        reuse.seed_host(config.seed)
        reuse.reinitialise(model, config.seed, config.learning_rate)
        return model
    reset(config.dtype, config.seed, fresh_session=True)
    with reuse.capture() as created:
        model = _build_and_compile(target, config, x, kwargs, trace, adjust)
        if model is None or model._tfpcheck_keras_3:
            return model
        try:
            reuse.materialise(model, x)
        except Exception:  # noqa: BLE001 - not reusable; the first forward pass reports why
            return model
    if reuse.store(key, target.factory, model, created):
        reuse.reinitialise(model, config.seed, config.learning_rate)
    return model


def _kwargs(target: Target, config: Config, x: np.ndarray, y: np.ndarray,
            drawn: Mapping[str, Any]) -> dict[str, Any]:
    available = filled_parameters(x, y, output_dim=config.output_dim, batch_size=config.batch_size,
                                  inputs=target.inputs)
    return factory_kwargs(target.factory, available, drawn)


def _build_and_compile(
    target: Target, config: Config, x: np.ndarray, kwargs: Mapping[str, Any], trace: Trace,
    adjust: frozenset[str] = frozenset(),
) -> Any:
    try:
        with recording_jit_compile():
            model = target.factory(**kwargs)
    except Exception as exc:  # noqa: BLE001 - any factory error is a `builds` verdict
        trace.build_failure = classify_exception(exc, "factory")
        return None
    keras_3 = is_keras3_model(model)
    if keras_3:
        trace.build_failure = _keras3_refusal(model)
        if trace.build_failure is not None:
            return None
        trace.keras = "keras 3"
        xla_note = gpu_xla_note(model)
        if xla_note:
            trace.notes["gpu_xla"] = xla_note
    elif not isinstance(model, tf_keras.Model):
        trace.build_failure = BuildFailure(
            "factory", "TypeError", f"the factory returned {type(model).__name__}, not a tf_keras.Model "
            "or a Keras 3 keras.Model", "unclassified",
            "return the model from the factory (a factory without `return model` returns None); it may "
            "build it any way, and compile it or not" if model is None else
            f"return the Keras model itself from the factory, not {with_article(type(model).__name__)}")
        return None
    set_inputs(model, target.inputs)
    recorder = Recorder()
    try:
        compile_for_check(model, config, recorder)
    except Exception as exc:  # noqa: BLE001
        trace.build_failure = classify_exception(exc, "compile", keras_3=keras_3)
        return None
    model._tfpcheck_recorder = recorder
    model._tfpcheck_kl_factor = 1.0
    if "kl_per_example" in adjust:
        model._tfpcheck_kl_factor = 1.0 / len(x)
        _scale_regularisation(model, 1.0 / len(x))
    if "prior_widened" in adjust:
        _widen_priors(model, x)
    return model


def _widen_priors(model: Any, x: np.ndarray) -> None:
    """The prior_mismatch intervention: tfp.layers build their priors with the model; any
    other prior is widened where a ``kl_divergence`` call meets it (run_config's
    ``widening_kl``), so it must meet one."""
    if not getattr(model, "built", False):
        model(feed(model, x[:1]))
    if not widen_priors(model, PRIOR_WIDENING) and not kl_pairs(model, x[:1]):
        raise ValueError("prior_widened: the model has no tfp.layers prior and makes no "
                         "kl_divergence call whose prior could be widened")


def _keras3_refusal(model: Any) -> Any:
    """Why a Keras 3 model can't be trained here (another backend, tf_keras layers inside, not a
    keras.Model), as a ``builds`` failure; None when it can."""
    note_keras3_used()
    name = type(model).__name__
    problem = backend_problem(model)
    if problem is not None:
        return keras3_failure(name, problem, BACKEND_FIX)
    parts = tf_keras_parts(model)
    if parts:
        return keras3_failure(name, f"the Keras 3 model {name} holds tf_keras layers "
                              f"({', '.join(parts)}): tfp.layers need tf_keras (Keras 2)")
    return None if isinstance(model, keras3().Model) else keras3_failure(name)


def _scale_regularisation(model: Any, factor: float) -> None:
    """Multiply the KL/regularisation terms by ``factor`` where the model's loss adds them:
    tf_keras's compiled loss container, Keras 3's ``_aggregate_additional_loss``."""
    if model._tfpcheck_keras_3:
        aggregate = model._aggregate_additional_loss
        object.__setattr__(model, "_aggregate_additional_loss", lambda loss: aggregate(loss) * factor)
    else:
        model.compiled_loss = _ScaledRegularisation(model.compiled_loss, factor)


#: The interventions a confirmation run can apply beside a changed Config (a lower learning
#: rate, float64): each changes one factor of the data or the loss.
ADJUSTMENTS = {
    "standardise": "features (and real-valued or positive targets) standardised",
    "kl_per_example": "KL/regularisation terms divided by n_train",
    "targets_as_parameter": "targets reshaped to the distribution parameter's shape",
    "targets_as_column": "rank-1 targets reshaped to (N, 1), as tf_keras does before the loss",
    "prior_widened": "every prior PRIOR_WIDENING times wider: those of tfp.layers variational layers, "
                     "and the prior of every kl_divergence(q, p) call (a Keras 3 layer's own)",
    "predictive_averaged": "the final data terms (model and twin) scored on the predictive "
                           "averaged over AVERAGED_PASSES weight draws",
}


def _adjusted_data(x: np.ndarray, y: np.ndarray, task: str, adjust: frozenset[str]) -> tuple[
        np.ndarray, np.ndarray]:
    if "standardise" in adjust:
        sd = x.std(0)
        x = ((x - x.mean(0)) / np.where(sd > 0, sd, 1.0)).astype(x.dtype)
        if task == "regression":
            y_sd = y.std(0)
            y = ((y - y.mean(0)) / np.where(y_sd > 0, y_sd, 1.0)).astype(y.dtype)
        elif task == "positive":
            y = (y / y.mean()).astype(y.dtype)  # scaled, still positive
    if "targets_as_parameter" in adjust and y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if "targets_as_column" in adjust and y.ndim == 1:
        y = y[:, None]
    return x, y


class _ScaledRegularisation:
    """The compiled loss with its regularisation (KL) terms multiplied by ``factor``: what
    ``kl_weight=1/n_train`` would have done. Everything else is the wrapped container's."""

    def __init__(self, container: Any, factor: float) -> None:
        self._container, self._factor = container, factor

    def __call__(self, y_true: Any, y_pred: Any, sample_weight: Any = None,
                 regularization_losses: Any = None) -> Any:
        if regularization_losses:
            regularization_losses = [r * self._factor for r in regularization_losses]
        return self._container(y_true, y_pred, sample_weight, regularization_losses)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._container, name)


def _batches(n: int, batch_size: int, steps: int, seed: int) -> list[np.ndarray]:
    rng = np.random.default_rng(seed + 1)
    b = min(batch_size, n)
    out: list[np.ndarray] = []
    while len(out) < steps:
        perm = rng.permutation(n)
        out += [perm[i : i + b] for i in range(0, n - b + 1, b)]
    return out[:steps]


def _built(model: Any, x: np.ndarray) -> None:
    """Build a model not yet built (a Keras 3 subclass or a Sequential without an Input that no
    forward pass has run: the x-denied twin's) with one eager pass on one example, before its
    stepper builds the optimizer on its variables: built on none, Keras 3's optimizer refuses
    every variable of the first step ("Unknown variable"), and ``learns`` had no twin."""
    if not getattr(model, "built", True):
        with suppress(Exception):  # the first step raises it again and says why
            model(feed(model, x[:1]), training=False)


def _train(
    model: Any, x: np.ndarray, y: np.ndarray, trace: Trace, *, beat: list[float] | None = None,
    until: int | None = None,
) -> None:
    """Train on from ``trace.steps_run`` until the loss settles (``schedule.settled``, judged on
    the whole-set data term every WINDOW steps) or the config's step cap; with ``until``, to
    exactly that many steps. With ``beat`` (the x-denied twin's data term per example) a settled
    loss that does not beat it as ``learns`` asks trains on to the cap: it may be a plateau."""
    config = trace.config
    _built(model, x)
    run = stepper(model)
    seen = {v.path for v in trace.param_violations}
    evaluations = trace.evaluations
    if not evaluations:
        evaluations.append(float(np.mean(data_terms(model, x, y))))
        trace.evaluation_steps.append(trace.steps_run)
    batches = _batches(len(x), config.batch_size, until or config.steps, config.seed)
    i = trace.steps_run
    while i < len(batches):
        end = min(len(batches), (i // WINDOW + 1) * WINDOW)  # a window ends where the loss is judged
        try:
            for out in run.run(x, y, batches[i:end], i):
                _record_step(trace, i, out, run.meta, seen, batch=len(batches[i]))
                i += 1
                if _nan_stop(trace):
                    break  # the weights are NaN by now
        except StepFailed as failed:
            trace.build_failure = classify_exception(failed.error, "train_step", step=failed.step,
                                                     keras_3=model._tfpcheck_keras_3)
            return
        if not trace.output_parameters:
            trace.output_parameters = sorted(p for p, m in run.meta.items() if m[0] == "output")
        if i < end:
            break  # stopped on non-finite losses
        _heartbeat.beat()  # a window trained: this example is slow, not stuck
        if i % WINDOW == 0:
            terms = data_terms(model, x, y)
            evaluations.append(float(np.mean(terms)))
            trace.evaluation_steps.append(i)
            _record_posterior(model, trace, i)
            if until is None and settled(evaluations, i) and (beat is None or beats(terms, beat)):
                break
    if trace.steps_run % WINDOW:
        evaluations.append(float(np.mean(data_terms(model, x, y))))
        trace.evaluation_steps.append(trace.steps_run)
        _record_posterior(model, trace, trace.steps_run)
    trace.settled = settled(evaluations, trace.steps_run)
    weighed_by_the_step(trace)


#: The KL terms' weight in a loss the model's own train_step or compute_loss assembles is read where its
#: loss less its mean data term is one multiple of the KL terms on every step: the ratios' spread
#: (median absolute deviation) at most this share of their median. A loss that sums the data term
#: over the batch, or anneals the KL's weight, leaves no one multiple: the weight is then not read.
OWN_STEP_KL_SPREAD = 0.05


def weighed_by_the_step(trace: Trace) -> None:
    """For a model whose own train_step or compute_loss weighs the KL terms: keep ``kl_terms`` as
    its loss holds them where that is one multiple of their sum (OWN_STEP_KL_SPREAD), else record
    them as unread (zeros, and a note): a weight assumed to be 1 (as Keras adds ``add_loss``
    terms) named a healthy ELBO's KL / n_train an unscaled KL, and an intervention that changed
    only that reading "confirmed" it."""
    if not trace.kl_raw or len(trace.kl_raw) != len(trace.kl_terms):
        return
    raw, in_loss = np.asarray(trace.kl_raw, dtype=float), np.asarray(trace.kl_terms, dtype=float)
    keep = np.isfinite(raw) & np.isfinite(in_loss) & (raw != 0)
    ratios = in_loss[keep] / raw[keep]
    if ratios.size and np.median(np.abs(ratios - np.median(ratios))) <= OWN_STEP_KL_SPREAD * abs(
            np.median(ratios)):
        return
    trace.kl_terms = [0.0] * len(trace.kl_terms)
    if ratios.size:
        trace.notes["kl_weight"] = (
            "posterior_not_collapsed: the KL terms' weight in the loss was not read: the model's own "
            "train_step or compute_loss adds them, and its loss less its mean data term is no one "
            "multiple of them (a data term summed over the batch, or a KL weight that changes "
            "between steps)")


def _record_posterior(model: Any, trace: Trace, step: int) -> None:
    """Each variational layer's narrowest weights' spread now (``Trace.posterior_path``)."""
    if trace.layers_start:
        lows = posterior_lows(model)
        if lows:
            trace.posterior_path.append((step, lows))


def _nan_stop(trace: Trace) -> bool:
    """Training is over: STOP_AFTER_NONFINITE non-finite losses in a row, or a step whose
    gradients were not finite (its update made the weights NaN), as a window stops."""
    recent = trace.losses[-STOP_AFTER_NONFINITE:]
    return (len(recent) == STOP_AFTER_NONFINITE and not np.any(np.isfinite(recent))) or (
        bool(trace.grad_finite) and not trace.grad_finite[-1])


def _record_step(
    trace: Trace, i: int, out: dict[str, Any], meta: dict[str, tuple[str, str, str]],
    seen: set[str], batch: int,
) -> None:
    trace.losses.append(float(out["loss"]))
    trace.grad_norms.append(float(out["grad_norm"]))
    trace.grad_finite.append(bool(out["grad_finite"]))
    trace.kl_terms.append(float(out["kl"]))
    if "kl_raw" in out:
        trace.kl_raw.append(float(out["kl_raw"]))
    trace.loss_terms_rank = max(trace.loss_terms_rank, int(out["loss_terms_rank"]))
    if i == 0:
        trace.loss_shape = tuple(int(d) for d in np.asarray(out["loss_shape"]))
        trace.batch_size = batch
    if trace.nonfinite_ranges is None and not (np.isfinite(trace.losses[-1]) and trace.grad_finite[-1]):
        trace.nonfinite_ranges = {p: (float(r["min"]), float(r["max"])) for p, r in out["params"].items()}
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


def _observe_final(model: Any, x: np.ndarray, y: np.ndarray, trace: Trace,
                   average: bool = False) -> None:
    try:
        trace.layers_end = summarise_layers(model, x if model._tfpcheck_keras_3 else None)
        trace.unseen_spread = unseen_spread(model, x)
    except Exception as exc:  # noqa: BLE001 - reported: the posterior checks need it
        trace.notes["final_evaluation_error"] = f"{type(exc).__name__}: {exc}"
    try:
        trace.data_terms, passes = evaluate(model, x, y, trace.config.seed, trace.config.task in DOMAINS,
                                            average)
    except Exception as exc:  # noqa: BLE001 - reported: learns and the domain check need it
        trace.notes["final_evaluation_error"] = f"{type(exc).__name__}: {exc}"
        return
    # The predictive means of each pass (weight draw); their spread across passes, in units of
    # the targets' spread, is prediction_noise: 0 for a deterministic model.
    means = np.stack([p.mean for p in passes]) if all(p.mean is not None for p in passes) else None
    finite_means = means is None or bool(np.all(np.isfinite(means)))
    if not all(p.has_distribution for p in passes):
        # A plain Keras loss on tensor outputs: no predictive distribution to sample; under a
        # loss whose output predicts the mean (domain.MEAN_LOSSES), that output's range is read.
        if means is not None and finite_means:
            _observe_mean_gaps(means.mean(0), y, trace)
        return
    if means is not None and finite_means:
        spread = float(np.std(y))
        if spread > 0:
            trace.prediction_noise = float(np.mean(means.std(0)) / spread)
        _observe_mean_gaps(means.mean(0), y, trace)
        trace.draw_spread_ratio = _draw_spread_ratio(means, passes)
    if finite_means and all(p.finite for p in passes):
        _observe_domain(passes, trace)
    elif trace.config.task in DOMAINS:  # sampling could hang (TFP's Poisson on an inf rate)
        trace.notes["predictive_sample_error"] = "the predictive distribution's parameters are not finite"


def _draw_spread_ratio(means: np.ndarray, passes: list[Pass]) -> float | None:
    """How far the predictive mean moves between weight draws, in units of the predictive's own
    standard deviation (each averaged over the examples): above 1, every draw is confident about
    a mean the next draw moves. None where a pass has no finite standard deviation."""
    if any(p.stddev is None for p in passes):
        return None
    own = float(np.mean(np.stack([p.stddev for p in passes])))
    return float(np.mean(means.std(0)) / own) if np.isfinite(own) and own > 0 else None


def _observe_mean_gaps(means: np.ndarray, y: np.ndarray, trace: Trace) -> None:
    """Can the trained model predict the targets' average at all? Per target column, the gap
    between the targets' mean and the range the model's predictive means span, in the column's
    standard deviations: a head whose parameter is confined (a sigmoid before ``logits=``, a ReLU
    before ``loc=``) cannot reach it, on any input."""
    found = mean_gaps(means, y)
    if found is None:
        return
    gaps, (j, centre, lo, hi) = found
    trace.mean_gaps = gaps
    trace.worst_mean_gap = {"column": j, "target_mean": centre, "predicted_min": lo, "predicted_max": hi}



class _Twin:
    """The same model, loss, seed and step cap, trained on features replaced by their mean: what
    the model could reach without the information in x. Trained first, until its loss settles;
    trained on later as long as the model was, so that both have had the same budget."""

    def __init__(
        self, target: Target, config: Config, x: np.ndarray, y: np.ndarray,
        drawn: Mapping[str, Any], adjust: frozenset[str] = frozenset(),
    ) -> None:
        self.x = np.repeat(x.mean(0, keepdims=True), len(x), axis=0).astype(x.dtype)
        self.y = y
        self.average = "predictive_averaged" in adjust
        self.trace = Trace(config=config)
        self.model = _model_for(target, config, self.x, y, drawn, self.trace, adjust)
        # No initial observation: only the model's is reported, and a twin whose first step
        # raises is not ok all the same (an eager forward pass saved: ~40 ms of a reused example).
        if self.ok:
            _train(self.model, self.x, y, self.trace)
        # Where the model can be reused, the model itself is the twin's (one build, one trace):
        # the twin's state is kept aside while the model trains, and swapped in to train on.
        self._aside = self.model is not None and reuse.set_aside(self.model)

    @property
    def ok(self) -> bool:
        return self.model is not None and self.trace.build_failure is None

    @property
    def evaluations(self) -> list[tuple[int, float]]:
        """(step, whole-set data term) at each of its evaluations."""
        return list(zip(self.trace.evaluation_steps, self.trace.evaluations, strict=False))

    def terms(self, steps: int) -> list[float] | None:
        """Its data term per example after at least ``steps`` steps; None if it can't be had."""
        with self._swapped_in():
            if self.ok and self.trace.steps_run < steps:
                _train(self.model, self.x, self.y, self.trace, until=steps)
            if not self.ok or not weights_finite(self.model):
                return None
            passes = AVERAGED_PASSES if self.average else EVAL_PASSES
            terms = data_terms(self.model, self.x, self.y, passes, averaged if self.average else None)
            return [float(v) for v in terms]

    @contextmanager
    def _swapped_in(self) -> Iterator[None]:
        if not self._aside:
            yield
            return
        reuse.swap(self.model)
        try:
            yield
        finally:
            reuse.swap(self.model)


def _observe_domain(passes: list[Pass], trace: Trace) -> None:
    """Share of the trained model's predictive draws outside the task's domain."""
    errors = [p.sample_error for p in passes if p.sample_error]
    if errors:  # a distribution without sample(): nothing to judge
        trace.notes["predictive_sample_error"] = errors[0]
        return
    draws = [p.draws for p in passes if p.draws is not None]
    if not draws:
        return
    measured = outside_domain(trace.config.task, np.concatenate([np.ravel(d) for d in draws]))
    if measured is not None:
        trace.outside_domain, trace.domain = measured
