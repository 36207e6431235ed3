"""From a violated invariant and its trace to a cause (the stable names of ``CAUSES``) and a fix.

A cause is named from evidence: what the model produced, at which step, on
which data. Each rule below serves one invariant (``_invariants`` pairs them) and
orders its evidence from the most specific to the most general.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from tfpcheck._checks import Verdict
from tfpcheck._trace import LayerSummary, Trace

__all__ = ["CAUSES", "Diagnosis", "Rule", "data_is_off_centre", "data_is_raw"]

CAUSES = (
    "prior_mismatch",
    "parameterization",
    "distribution_choice",
    "tfp_layer_misuse",
    "keras_version",
    "shape_broadcast",
    "data_scale",
    "optimizer_settings",
    "mc_sampling",
    "kl_scaling",
    "variational_family",
    "numerical_instability",
)
#: Data whose feature/target mean exceeds this (in absolute value) or whose spread is
#: outside [1/RAW_DATA_LIMIT, RAW_DATA_LIMIT] is "raw": not standardised.
RAW_DATA_LIMIT = 10.0
#: Data centred more than this many of its standard deviations from zero is off-centre: a
#: model initialised near zero must first travel there, which the brief training may not do.
OFF_CENTRE = 3.0
#: Adaptive-optimizer learning rates at or above this are "high" for a BNN (the seed: 0.1
#: diverges, 1e-3 is the usual advice); for SGD the bar is higher.
HIGH_LR = {"adam": 0.05, "rmsprop": 0.05, "adagrad": 0.5, "sgd": 0.5}
#: A fixed prior with stddev below this, on standardised data, holds the weights near its mean:
#: weights that map unit-scale features to unit-scale targets are O(1/sqrt(fan_in)) >= 0.05.
NARROW_PRIOR = 0.01
#: A parameter that is exactly 0 somewhere and above this elsewhere has under- and overflowed
#: (exp of an unbounded output), rather than been clipped at 0 (a ReLU).
OVERFLOWING = 1e30
#: A variational model whose predictive means move between weight draws by more than this
#: share of the targets' standard deviation is dominated by sampling noise (measured: healthy
#: specs <= 0.15, a narrowly initialised posterior <= 0.32, one as wide as the prior >= 1.2).
PREDICTION_NOISE = 0.5
#: The gradient norm growing this many times over the training is a blow-up.
GRAD_BLOWUP = 100.0


@dataclass(frozen=True)
class Diagnosis:
    cause: str
    fix: str
    evidence: dict[str, Any]


#: A diagnosis rule: (verdict, trace) -> (cause, fix, extra evidence).
Rule = Callable[[Verdict, Trace], tuple[str, str, dict[str, Any]]]


def data_is_raw(trace: Trace) -> bool:
    s = trace.data_stats
    if not s:
        return False
    lo, hi = 1.0 / RAW_DATA_LIMIT, RAW_DATA_LIMIT
    return (
        s["x_abs_mean"] > hi
        or s["y_abs_mean"] > hi
        or not lo <= s["x_std_min"] <= hi
        or not lo <= s["x_std_max"] <= hi
        or not lo <= s["y_std"] <= hi
    )


def data_is_off_centre(trace: Trace) -> bool:
    """Features (or regression targets: counts and amounts sit above zero by nature) centred
    more than OFF_CENTRE standard deviations from zero."""
    s = trace.data_stats
    if not s:
        return False
    y_off = trace.config.task == "regression" and s["y_abs_mean"] > OFF_CENTRE * s["y_std"]
    return s["x_abs_mean"] > OFF_CENTRE * s["x_std_min"] or y_off


def _over_or_underflowed(low: float, high: float) -> bool:
    """A parameter range that only over/underflow explains: an infinity, a value positive but
    below TFP's eps bound, or exact zeros beside values above OVERFLOWING."""
    return math.isinf(low) or math.isinf(high) or low > 0.0 or (low == 0.0 and high > OVERFLOWING)


def _lr_is_high(trace: Trace) -> bool:
    c = trace.config
    return c.learning_rate >= HIGH_LR.get(c.optimizer, 0.05)


def _grad_blew_up(trace: Trace, until: int | None = None) -> bool:
    norms = [g for g in trace.grad_norms[: until or None] if math.isfinite(g)]
    return len(norms) > 2 and max(norms[1:]) > GRAD_BLOWUP * max(norms[0], 1e-12)


def _kl_share(trace: Trace) -> float:
    """KL's share of the loss over the last quarter (means: a sampled KL is noisy per step)."""
    if not trace.losses or not trace.kl_terms:
        return 0.0
    q = max(1, len(trace.losses) // 4)
    loss, kl = float(np.mean(trace.losses[-q:])), float(np.mean(trace.kl_terms[-q:]))
    return kl / loss if math.isfinite(loss) and loss > 0 else 0.0


_FIX_SCALE = "scale = 1e-3 + tf.math.softplus(0.05 * t[..., 1:]) (a floor keeps it away from 0)"
_FIX_DATA = (
    "standardise features and targets (or adapt a tf_keras.layers.Normalization layer to "
    "x_train and initialise the output bias at y_train's mean)"
)
_FAMILIES_BY_SUPPORT = (
    "(Normal/StudentT for real values, Poisson/NegativeBinomial for counts, Gamma/LogNormal "
    "for positive amounts, Bernoulli for 0/1 outcomes)"
)
_FIX_MC = (
    "Start the posterior narrow (untransformed scale near -3: softplus -> 0.05), draw weights "
    "per example (DenseFlipout, DenseLocalReparameterization), or average several Monte Carlo "
    "samples of the loss"
)
_FIX_LR = "lower the learning rate (1e-3 to 1e-2 with Adam), or clip gradients (clipnorm=1.0)"
_FIX_MID_TRAINING = f"the parameter went invalid mid-training: {_FIX_LR}"


def builds(v: Verdict, t: Trace) -> tuple[str, str, dict[str, Any]]:
    assert t.build_failure is not None
    return t.build_failure.cause, t.build_failure.fix, {}


def positive_scales(v: Verdict, t: Trace) -> tuple[str, str, dict[str, Any]]:
    e = v.evidence
    where = "output head" if e["role"] == "output" else f"variational {e['role']}"
    mid_training = (v.step or 0) > 0
    if mid_training and _lr_is_high(t):
        return "optimizer_settings", _FIX_MID_TRAINING, {}
    if _over_or_underflowed(e["min"], e["max"]):
        return "numerical_instability", (
            f"the {where} parameter over- or underflowed (range [{e['min']:.3g}, {e['max']:.3g}]; "
            "exp of an unbounded output?): TFP keeps scales above float eps and below inf; use "
            f"softplus instead of exp, {_FIX_SCALE}"
        ), {}
    if mid_training and _grad_blew_up(t, v.step):
        return "optimizer_settings", _FIX_MID_TRAINING, {}
    if e["min"] == 0.0 and e["max"] >= 0.0:
        return "parameterization", (
            f"the {where} parameter hit exactly 0 (a ReLU or an underflow): {_FIX_SCALE}"
        ), {}
    return "parameterization", (
        f"the {where} takes {e['parameter']} straight from an unconstrained output; map it into "
        f"its domain with the constraining bijector ({e['constraint']}), e.g. {_FIX_SCALE}"
    ), {}


def loss_shape(v: Verdict, t: Trace) -> tuple[str, str, dict[str, Any]]:
    return "shape_broadcast", (
        "keep the distribution's batch shape equal to the targets': slice with t[..., :1] "
        "instead of t[:, 0], or reshape y to (N,); tfd.Independent(..., 1) for vector targets"
    ), {}


def data_in_support(v: Verdict, t: Trace) -> tuple[str, str, dict[str, Any]]:
    family = t.output_distribution or "the output distribution"
    return "distribution_choice", (
        f"{family} cannot produce these targets: choose a family whose support holds the data "
        f"{_FAMILIES_BY_SUPPORT}"
    ), {}


def in_domain(v: Verdict, t: Trace) -> tuple[str, str, dict[str, Any]]:
    family = t.output_distribution or "the output distribution"
    return "distribution_choice", (
        f"{family} predicts values that {t.domain} never take: choose a family with the data's "
        f"support {_FAMILIES_BY_SUPPORT}"
    ), {}


def nonfinite(v: Verdict, t: Trace) -> tuple[str, str, dict[str, Any]]:
    step = v.step if v.step is not None else 0
    if step > 0 and _lr_is_high(t):  # overflow after steps too large is the steps' doing
        return "optimizer_settings", _FIX_LR, {"learning_rate": t.config.learning_rate}
    early = [p for p in t.param_violations if p.step <= step]
    if early:
        first = min(early, key=lambda p: p.step)
        if _over_or_underflowed(first.min_value, first.max_value):
            return "numerical_instability", (
                f"{first.path} over- or underflowed at step {first.step} (exp of an unbounded "
                f"output?) before the loss went non-finite: use softplus, {_FIX_SCALE}"
            ), {"parameter": first.path, "parameter_step": first.step}
        return "parameterization", (
            f"{first.path} left its constraint at step {first.step} before the loss went "
            f"non-finite: {_FIX_SCALE}"
        ), {"parameter": first.path, "parameter_step": first.step}
    if t.support_nonfinite or t.support_error:
        return "distribution_choice", "the targets lie outside the distribution's support", {}
    if data_is_raw(t):
        return "data_scale", f"the data are far from unit scale: {_FIX_DATA}", {"data": t.data_stats}
    if _grad_blew_up(t, step + 1) or _lr_is_high(t):
        return "optimizer_settings", _FIX_LR, {"learning_rate": t.config.learning_rate}
    return "numerical_instability", (
        "compute the likelihood in log space (logits= instead of probs=, softplus instead of "
        "exp), or train in float64"
    ), {}


def no_divergence(v: Verdict, t: Trace) -> tuple[str, str, dict[str, Any]]:
    if data_is_raw(t):
        return "data_scale", f"the data are far from unit scale: {_FIX_DATA}", {"data": t.data_stats}
    if t.layers_end and not _lr_is_high(t) and _loss_noise(t) > 1.0:
        return "mc_sampling", (
            f"single-sample gradients of the variational layers are too noisy. {_FIX_MC}"
        ), {"loss_noise": _loss_noise(t)}
    return "optimizer_settings", _FIX_LR, {"learning_rate": t.config.learning_rate,
                                          "optimizer": t.config.optimizer}


def learns(v: Verdict, t: Trace) -> tuple[str, str, dict[str, Any]]:
    if data_is_raw(t) or data_is_off_centre(t):
        return "data_scale", (
            f"the model starts far from data that is far from zero or unit scale: {_FIX_DATA}"
        ), {"data": t.data_stats}
    narrow = _narrow_prior(t)
    if narrow is not None:
        return "prior_mismatch", (
            f"the prior of '{narrow.name}' (stddev {narrow.prior_stddev:.2g}) pins the weights "
            "near its mean, far from what the data need: widen it (stddev ~1 on standardised "
            "data) or make it trainable"
        ), {"layer": narrow.name, "prior_stddev": narrow.prior_stddev}
    if _lr_is_high(t):
        return "optimizer_settings", f"the learning rate is too high to settle: {_FIX_LR}", {
            "learning_rate": t.config.learning_rate, "optimizer": t.config.optimizer}
    share = _kl_share(t)
    if share > 0.5:
        return "kl_scaling", (
            "the KL term dominates the loss: divide it by the number of training examples "
            "(kl_weight=1/n_train, or kernel_divergence_fn=lambda q, p, _: kl(q, p) / n)"
        ), {"kl_share_of_loss": share}
    noise = t.prediction_noise
    if t.layers_end and noise is not None and noise > PREDICTION_NOISE:
        return "mc_sampling", (
            f"the predictions move by {noise:.2g} target standard deviations between weight "
            f"draws: one noisy sample per step drowns the signal. {_FIX_MC}"
        ), {"prediction_noise": noise}
    if t.config.learning_rate < 1e-3:
        return "optimizer_settings", "the learning rate is too low to learn in time", {}
    return "distribution_choice", (
        "the output distribution (its family or a fixed parameter such as a constant scale) "
        "cannot fit these targets: learn the scale, or pick a family that matches the data"
    ), {"output_distribution": t.output_distribution}


def collapsed(v: Verdict, t: Trace) -> tuple[str, str, dict[str, Any]]:
    if v.evidence.get("collapse") == "kl_weight":
        return "kl_scaling", (
            f"the KL term is weighted {v.evidence['kl_weight']:.3g} in a per-example loss: divide it "
            f"by the number of training examples (kl_weight=1/n_train, or kernel_divergence_fn="
            "lambda q, p, _: tfd.kl_divergence(q, p) / n_train)"
        ), {}
    if v.evidence.get("collapse") == "point":
        return "variational_family", (
            "the posterior scale shrank to ~0: initialise its untransformed scale near -3 "
            "(softplus -> 0.05), keep a 1e-5 floor, and check the posterior family"
        ), {}
    if _kl_share(t) > 0.5:
        return "kl_scaling", (
            "the KL term swamps the likelihood: weight it by 1/n_train"
        ), {"kl_share_of_loss": _kl_share(t)}
    return "prior_mismatch", (
        "the posterior stayed on the prior: the prior is too narrow (or the likelihood too "
        "weak) for the data to move the weights; widen the prior or standardise the data"
    ), {}


def _narrow_prior(t: Trace) -> LayerSummary | None:
    """A variational layer whose fixed prior is narrower than NARROW_PRIOR."""
    for layer in t.layers_end:
        if not layer.prior_trainable and layer.prior_stddev < NARROW_PRIOR:
            return layer
    return None


def _loss_noise(t: Trace) -> float:
    """Spread of step-to-step loss changes relative to the loss level (second half)."""
    half = np.asarray(t.losses[len(t.losses) // 2 :], dtype=float)
    if half.size < 4:
        return 0.0
    return float(np.std(np.diff(half)) / (abs(np.median(half)) + 1e-12))
