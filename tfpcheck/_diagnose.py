"""From a violated invariant and its trace to a cause (the stable names of ``CAUSES``) and a fix.

A cause is named from evidence: what the model produced, at which step, on
which data. Each rule below serves one invariant (``_invariants`` pairs them) and
orders its evidence from the most specific to the most general.
"""

from __future__ import annotations

import ast
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from tfpcheck import _checks as checks
from tfpcheck._checks import UNREACHED_SHARE, Verdict, unreached_share
from tfpcheck._trace import LayerSummary, Trace

__all__ = ["CAUSES", "Diagnosis", "Rule", "data_is_off_centre", "data_is_raw", "grad_blew_up", "has_evidence",
           "loss_sign"]

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
    "unclassified",
)
#: Data whose feature/target mean exceeds this (in absolute value), whose largest feature
#: spread or target spread exceeds it, or whose median feature spread (or target spread) is
#: below its inverse is "raw": not standardised. The median, not the minimum: near-constant
#: features (an image's background) carry no scale.
RAW_DATA_LIMIT = 10.0
#: Data centred more than this many of its standard deviations from zero is off-centre: a
#: model initialised near zero must first travel there, which the brief training may not do.
OFF_CENTRE = 3.0
#: A fixed prior with stddev below this, on standardised data, holds the weights near its mean:
#: weights that map unit-scale features to unit-scale targets are O(1/sqrt(fan_in)) >= 0.05.
NARROW_PRIOR = 0.01
#: A KL weighted at most this many times 1/n_train (the per-example ELBO's weight) is divided
#: already: dividing it again tests nothing about kl_scaling (it only switches the prior off).
KL_ALREADY_DIVIDED = 2.0
#: A parameter that is exactly 0 somewhere and above this elsewhere has under- and overflowed
#: (exp of an unbounded output), rather than been clipped at 0 (a ReLU).
OVERFLOWING = 1e30
#: A variational model whose predictive means move between weight draws by more than this
#: share of the targets' standard deviation is dominated by sampling noise (measured: healthy
#: specs <= 0.15, a narrowly initialised posterior <= 0.32, one as wide as the prior >= 1.2).
PREDICTION_NOISE = 0.5
#: KL over this share of the objective's magnitude (``_kl_share``) makes kl_scaling a candidate to
#: test by intervention, and names it for a posterior already collapsed onto its prior (a KL
#: weighted 10 n_train measured 0.50). Not evidence on its own: healthy 1/n_train-weighted layers
#: measured 0.06-0.35 (a regression's data term near zero makes any KL a visible share), which is
#: why learns names kl_scaling only above one half.
KL_CANDIDATE_SHARE = 0.2
#: The gradient norm growing this many times over the training is a blow-up.
GRAD_BLOWUP = 100.0


@dataclass(frozen=True)
class Diagnosis:
    cause: str
    fix: str
    evidence: dict[str, Any]


#: What a rule returns when the trace holds no evidence for any cause: interventions may still
#: confirm one (``_confirm``); if none does, the report says unclassified, never a guess.
UNCLASSIFIED = ("unclassified", "no cause could be read from the trace; see the evidence", {})

#: A diagnosis rule: (verdict, trace) -> (cause, fix, extra evidence).
Rule = Callable[[Verdict, Trace], tuple[str, str, dict[str, Any]]]


def data_is_raw(trace: Trace) -> bool:
    s = trace.data_stats
    if not s:
        return False
    lo, hi = 1.0 / RAW_DATA_LIMIT, RAW_DATA_LIMIT
    return _features_raw(s) or s["y_abs_mean"] > hi or not lo <= s["y_std"] <= hi


def _features_raw(s: dict[str, Any]) -> bool:
    lo, hi = 1.0 / RAW_DATA_LIMIT, RAW_DATA_LIMIT
    return s["x_abs_mean"] > hi or s["x_std_max"] > hi or s["x_std_median"] < lo


def data_is_off_centre(trace: Trace) -> bool:
    """A feature beyond unit scale centred more than OFF_CENTRE of its standard deviations from
    zero, or regression targets so centred (counts and amounts sit above zero by nature)."""
    s = trace.data_stats
    if not s:
        return False
    y_off = trace.config.task == "regression" and s["y_abs_mean"] > OFF_CENTRE * s["y_std"]
    return s["x_off_centre"] > OFF_CENTRE or y_off


def _over_or_underflowed(low: float, high: float) -> bool:
    """A parameter range that only over/underflow explains: an infinity, a value positive but
    below TFP's eps bound, or exact zeros beside values above OVERFLOWING."""
    return math.isinf(low) or math.isinf(high) or low > 0.0 or (low == 0.0 and high > OVERFLOWING)


def grad_blew_up(trace: Trace, until: int | None = None) -> bool:
    """A gradient norm GRAD_BLOWUP times the first (two norms suffice: SGD at 3.6, Keras 3, grew
    3.6 -> 7e12 in one step and the scale hit 0 at step 2)."""
    norms = [g for g in trace.grad_norms[: until or None] if math.isfinite(g)]
    return len(norms) >= 2 and max(norms[1:]) > GRAD_BLOWUP * max(norms[0], 1e-12)


def _grad_range(trace: Trace, until: int | None = None) -> list[float]:
    """First and largest finite gradient norm: the evidence of a blow-up."""
    norms = [g for g in trace.grad_norms[: until or None] if math.isfinite(g)]
    return [norms[0], max(norms)] if norms else []


def _kl_share(trace: Trace, first: bool = False) -> float:
    """The KL term's share of the objective's magnitude over the last quarter (the first with
    ``first``): mean |KL| / (mean |data term| + mean |KL|). Magnitudes, not signed means: a
    sampled (MC) KL of a posterior sitting on its prior averages near zero, or below, while its
    noise, weighted n_train times too much, swamps the data term (measured: last-quarter mean KL
    -47.7 against a loss of 22.7, steps swinging by +-100)."""
    if not trace.losses or not trace.kl_terms:
        return 0.0
    q = max(1, min(len(trace.losses), len(trace.kl_terms)) // 4)
    part = slice(None, q) if first else slice(-q, None)
    loss, kl = np.asarray(trace.losses[part], dtype=float), np.asarray(trace.kl_terms[part], dtype=float)
    kl_size, data_size = float(np.mean(np.abs(kl))), float(np.mean(np.abs(loss - kl)))
    total = kl_size + data_size
    return kl_size / total if math.isfinite(total) and total > 0 else 0.0


#: Families whose support is the open interval (0, 1): proportions, not 0/1 outcomes.
_OPEN_UNIT_INTERVAL = ("Beta", "Kumaraswamy", "LogitNormal")
_FAMILIES_BY_SUPPORT = (
    "(Normal/StudentT for real values, Poisson/NegativeBinomial for counts, Gamma/LogNormal "
    "for positive amounts, Bernoulli for 0/1 outcomes, Beta for proportions in (0, 1))"
)
#: The fix for each cause a configuration change can test, as the rules and ``_confirm`` say it.
FIXES = {
    "data_scale": "standardise features and targets (or adapt a tf_keras.layers.Normalization "
                  "layer to x_train and initialise the output bias at y_train's mean)",
    "optimizer_settings": "lower the learning rate (1e-3 to 1e-2 with Adam), or clip gradients "
                          "(clipnorm=1.0)",
    "kl_scaling": "divide the KL term by the number of training examples (kl_weight=1/n_train, "
                  "or kernel_divergence_fn=lambda q, p, _: tfd.kl_divergence(q, p) / n_train)",
    "numerical_instability": "compute the likelihood in log space (softplus instead of exp, "
                             "logits= instead of probs=), or train in float64 "
                             "(tf_keras.backend.set_floatx('float64'))",
    "shape_broadcast": "keep the distribution's batch shape equal to the targets': slice with "
                       "t[..., :1] instead of t[:, 0], or reshape y to (N,); tfd.Independent(..., "
                       "1) for vector targets",
    "prior_mismatch": "widen the prior (stddev ~1 on standardised data, never below the "
                      "posterior's initial stddev) or make it trainable",
    "mc_sampling": "start the posterior narrow (untransformed scale near -3: softplus -> 0.05), "
                   "draw weights per example (DenseFlipout, DenseLocalReparameterization), or "
                   "average several Monte Carlo samples of the loss",
}
_FIX_MID_TRAINING = f"the parameter went invalid mid-training: {FIXES['optimizer_settings']}"


#: A finite loss whose gradient is NaN, with every parameter inside its constraint: backprop met
#: an infinite derivative times 0 (the chain rule of sqrt(relu(t)) where t < 0 is inf * 0).
_FIX_NAN_GRADIENT = (
    "the loss was finite but its gradient was not: an operation in the model or loss has an "
    "infinite derivative at a value it reaches (tf.sqrt or x ** 0.5 at 0, tf.math.log inside a "
    "tf.where that masks it, tf.norm of a zero vector), and backprop multiplies that inf by 0. "
    "Map through a function that is smooth there (tf.math.softplus), or keep the argument off "
    "the point (tf.sqrt(x + 1e-6))")


def has_evidence(cause: str, t: Trace) -> bool:
    """Whether the trace holds any evidence for ``cause`` (weaker than a rule's: enough to make
    it a candidate that an intervention then tests)."""
    if cause == "data_scale":
        return data_is_raw(t) or data_is_off_centre(t)
    if cause == "optimizer_settings":
        return grad_blew_up(t) or any(p.step > 0 for p in t.param_violations) or _loss_rose(t)
    if cause == "kl_scaling":
        return _kl_share(t) > KL_CANDIDATE_SHARE
    if cause == "numerical_instability":
        return any(_over_or_underflowed(p.min_value, p.max_value) for p in t.param_violations) or (
            not all(math.isfinite(v) for v in t.losses))
    if cause == "shape_broadcast":
        return not checks.loss_shape(t).holds
    if cause == "prior_mismatch":
        return _narrow_prior(t) is not None
    if cause == "mc_sampling":
        return _sampled_noisily(t)
    return False


def _loss_rose(t: Trace) -> bool:
    """The loss of the last tenth above that of the first tenth (medians)."""
    losses = np.asarray([v for v in t.losses if math.isfinite(v)], dtype=float)
    w = max(3, losses.size // 10)
    return losses.size >= 10 and float(np.median(losses[-w:])) > float(np.median(losses[:w]))


def parameter_fix(path: str, constraint: str = "", source: str | None = None, role: str = "output") -> str:
    """The fix for one parameter of one family: what its TFP constraint asks of the layer
    that feeds it (parameter names as in ``parameter_properties()``), in terms of what the
    user's code passes it now (``source``, ``_engine/source.py``) where that is known; a
    posterior's or prior's positive parameter is fed by a weight, not by an output."""
    name = path.rsplit(".", 1)[-1]
    if role in ("posterior", "prior") and constraint == "Softplus" and source is None:
        return (f"a {role}'s {name} taken as it is from a weight can be negative: map the weight "
                f"through softplus, {name} = 1e-5 + tf.math.softplus(rho), with rho initialised near -3 "
                "(softplus -> 0.05), as Bayes-by-backprop layers and tfp.layers do")
    raw = source is not None and _is_raw(source)
    now = f" ({name}={source} now)" if source is not None and not raw else ""
    if name == "probs":
        logits = (f"logits={source} instead of probs={source}" if raw
                  else f"logits= (the raw outputs) instead of probs={now}")
        return (f"parameterise with {logits}: log_prob is then "
                "computed in log space and cannot reach log(0) when a probability saturates")
    if name == "rate":
        if raw:
            return f"parameterise with log_rate={source} instead of rate={source}"
        return f"parameterise with log_rate= (the raw outputs) instead of rate=exp(...) or rate=t{now}"
    if name == "scale_tril":
        return ("build scale_tril with tfp.bijectors.FillScaleTriL() (softplus on the diagonal), "
                "or use tfpl.MultivariateNormalTriL")
    if name in ("scale", "scale_diag", "concentration", "concentration0", "concentration1",
                "total_count", "df") or constraint == "Softplus":
        if raw:
            return (f"{name}=1e-3 + tf.math.softplus(0.05 * {source}) instead of {name}={source}; "
                    "the floor keeps it away from 0")
        return (f"{name} = 1e-3 + tf.math.softplus(0.05 * u), u the raw outputs that feed it now"
                f"{now or ' (e.g. t[..., 1:])'}; the floor keeps it away from 0")
    bijector = constraint or "see parameter_properties()"
    return f"map {name} into its domain with its constraining bijector ({bijector})"


def _is_raw(source: str) -> bool:
    """An argument that passes the raw outputs as they are: a name, a slice of one (``t``,
    ``t[..., 1:]``, ``outputs[:, 0]``), not a function of them."""
    try:
        node = ast.parse(source, mode="eval").body
    except SyntaxError:
        return False
    while isinstance(node, ast.Subscript):
        node = node.value
    return isinstance(node, ast.Name)


def builds(v: Verdict, t: Trace) -> tuple[str, str, dict[str, Any]]:
    assert t.build_failure is not None
    return t.build_failure.cause, t.build_failure.fix, {}


def positive_scales(v: Verdict, t: Trace) -> tuple[str, str, dict[str, Any]]:
    e = v.evidence
    if e["role"] == "loss":  # a softmax or sigmoid keeps them inside on every step: the head lacks it
        activation = "sigmoid" if e["distribution"] == "Bernoulli" else "softmax"
        return "parameterization", (
            f"the last layer gives raw scores and {t.probs_read} reads them as probabilities; Keras "
            "clips them into [1e-7, 1 - 1e-7], so it trains without an error while predict() returns "
            f"values that are not probabilities: end the model with activation=\"{activation}\", or "
            f"keep the raw scores and compile with from_logits=True"), {}
    where = "output head" if e["role"] == "output" else f"variational {e['role']}"
    mid_training = (v.step or 0) > 0
    fix = parameter_fix(e["parameter"], e["constraint"], e.get("source"), e["role"])
    # A valid parameter that left its constraint mid-training on data of unit scale, after a
    # gradient blow-up or by underflowing towards 0 (a softplus of weights the steps blew up; an
    # exp overflows to inf instead), was taken there by the training: the rate, not the head
    # (measured: SGD at 100-300x its rate, scales of 8e-10 at step 2-3 with too few steps to see
    # the gradient grow). On raw data the features blow the gradient up as well (exp_scale).
    underflowed = _over_or_underflowed(e["min"], e["max"]) and e["min"] >= 0 and math.isfinite(e["max"])
    narrow = _narrow_prior(t) if mid_training else None
    if narrow is not None:
        return "prior_mismatch", _thrown_by_prior(narrow, t, where, v.step), {
            "layer": narrow.name, "prior_stddev": narrow.prior_stddev}
    if mid_training and not data_is_raw(t) and (grad_blew_up(t, v.step) or underflowed):
        return "optimizer_settings", _FIX_MID_TRAINING, {"grad_norms": _grad_range(t, v.step)}
    if _over_or_underflowed(e["min"], e["max"]):
        return "numerical_instability", (
            f"the {where} parameter over- or underflowed (range [{e['min']:.3g}, {e['max']:.3g}]; "
            f"exp of an unbounded output?): TFP keeps it above float eps and below inf: {fix}"
        ), {}
    if e["min"] == 0.0 and e["max"] >= 0.0:
        return "parameterization", (
            f"the {where} parameter hit exactly 0 (a ReLU or an underflow): {fix}"
        ), {}
    return "parameterization", (
        f"the {where} takes {e['parameter']} straight from an unconstrained "
        f"{'output' if e['role'] == 'output' else 'value'} ({e['constraint']} "
        f"constraint): {fix}"
    ), {}


def _thrown_by_prior(narrow: LayerSummary, t: Trace, where: str, step: int | None) -> str:
    """Why a parameter valid at initialisation left its constraint once training began, under a
    fixed prior far narrower than the posterior: the KL term's gradient threw the weights (the
    narrow_prior specs: 99.99% of the first step's loss, gradient norm 5.6e4, NaN at step 1)."""
    share = ""
    if t.kl_terms and t.losses and math.isfinite(t.losses[0]) and t.losses[0] > 0:
        share = f" (the KL term was {t.kl_terms[0] / t.losses[0]:.0%} of the first step's loss)"
    return (f"the {where} parameter was valid at initialisation and left its constraint at step {step}: "
            f"the fixed prior of '{narrow.name}' (stddev {narrow.prior_stddev:.2g}) is far narrower than "
            f"its posterior, and the KL term's gradient threw the weights{share}: "
            f"{FIXES['prior_mismatch']}")


#: Rank-1 targets against a (B, 1) parameter: Keras 3 passes them to the loss as they are.
_FIX_RANK1_TARGETS = ("give the targets the distribution's batch shape: y.reshape(-1, 1) (tf_keras "
                      "expanded (N,) targets to (N, 1) before the loss; Keras 3 does not), or build "
                      "the distribution from t[..., 0] for (N,) targets")


def loss_shape(v: Verdict, t: Trace) -> tuple[str, str, dict[str, Any]]:
    if "example_shape" in v.evidence and not all(v.evidence["example_shape"]):
        return "shape_broadcast", (
            "the outputs have fewer columns than the parameters sliced from them (from a Dense(1), "
            "t[..., 1:] is empty): give the layer before the distribution one unit per parameter "
            "(Dense(2) for a Normal's loc and scale; with tfp.layers, Dense(tfpl.IndependentNormal."
            "params_size(1)))"), {}
    if "example_shape" in v.evidence:
        m = int(np.prod(t.target_shape[1:])) if t.target_shape else 1
        return "shape_broadcast", (
            f"give the distribution the targets' shape per example, {tuple(t.target_shape[1:])}: with "
            f"tfp.layers, IndependentNormal({m}) (or another family's layer of event size {m}) after "
            f"Dense(tfpl.IndependentNormal.params_size({m})); in a DistributionLambda or a loss, slice "
            f"its parameters to {m} column{'s' if m > 1 else ''} each"), {}
    if t.target_shape is not None and len(t.target_shape) == 1:
        return "shape_broadcast", _FIX_RANK1_TARGETS, {}
    return "shape_broadcast", FIXES["shape_broadcast"], {}


def data_in_support(v: Verdict, t: Trace) -> tuple[str, str, dict[str, Any]]:
    family = t.output_distribution or "the output distribution"
    if "loss_nonfinite_in_support" in t.notes:
        return "numerical_instability", (
            f"a term of the loss besides {family}'s log_prob is -inf or NaN: a survival function "
            "or cdf in float32 underflows to log(0) = -inf far in the tail (TFP's Weibull "
            "log_survival_function is -inf once (t / scale) ** concentration > 87), and a mask "
            "that multiplies it by 0 (e * log_prob + (1 - e) * log_sf) makes NaN. Write the tail "
            "in closed form (a Weibull's log survival is -(t / scale) ** concentration), pick "
            "the terms with tf.where instead of multiplying by the mask, or train in float64"
        ), {}
    s, task = t.data_stats, t.config.task
    step = s.get("y_grid_step", 0.0)
    if task == "count" and step > 0 and not math.isclose(step, 1.0, rel_tol=1e-3):
        return "data_scale", (
            f"the targets lie on an evenly spaced grid (step {step:.4g}, from {s['y_min']:.4g}): "
            f"counts rescaled or standardised before the model, which {family} cannot produce. "
            "Give it the counts as counted (standardise the features only); from standardised "
            f"ones, y * sd + mean (with the smallest count 0: (y {'+' if s['y_min'] < 0 else '-'} "
            f"{abs(s['y_min']):.4g}) / {step:.4g})"
        ), {"y_grid_step": step, "y_min": s["y_min"]}
    if t.support_loss:  # before the standardised reading: balanced -1/1 labels have mean 0, sd 1
        return "distribution_choice", _loss_domain_fix(t.support_loss, t.support_examples, s), {}
    if task == "binary" and s.get("y_values") == [-1.0, 1.0]:
        # -1/1 labels (an SVM's or hinge loss's) have mean ~0 and sd 1 too: not standardised data
        return "distribution_choice", (
            f"the labels are -1/1 and {family} takes 0/1: give it (y + 1) / 2"), {"y_min": -1.0, "y_max": 1.0}
    if task in ("count", "positive", "binary") and _standardised_targets(s):
        return "data_scale", (
            f"the targets have mean {s['y_abs_mean']:.2g} (in absolute value) and standard deviation "
            f"{s['y_std']:.3g}: standardised before the model, which moves them out of {family}'s "
            "support. Give it the targets on their own scale (standardise the features only)"
        ), {"data": s}
    if family == "OneHotCategorical" and step == 1.0 and s.get("y_min") == 0.0:
        return "shape_broadcast", (
            "the targets are class indices (0, 1, 2, ...) and OneHotCategorical takes one-hot rows: "
            "encode them (tf_keras.utils.to_categorical(y)), or read indices with tfd.Categorical"
        ), {"y_grid_step": step}
    trials = t.support_bounds.get("total_count")
    if trials is not None and s.get("y_max", 0.0) > trials:
        return "distribution_choice", (
            f"the targets count up to {s['y_max']:.4g} successes and {family}'s total_count is "
            f"{trials:g}: total_count is the number of trials behind each count, never fewer than "
            f"the count itself; give the real number (total_count={s['y_max']:g} or more, or each "
            "example's own trials as a column of x fed to the head)"
        ), {"support_bounds": t.support_bounds, "y_max": s["y_max"]}
    if t.support_bounds and "y_max" in s:
        b = t.support_bounds
        held = f"[{b.get('low', -math.inf):g}, {b.get('high', math.inf):g}]"
        return "distribution_choice", (
            f"{family}'s support is {held}, set by its own {' and '.join(f'{k}=' for k in b)}, and "
            f"the targets run from {s['y_min']:.4g} to {s['y_max']:.4g}: set the bounds to values "
            "the targets cannot leave (their known limits), or drop them for a family without "
            f"bounds {_FAMILIES_BY_SUPPORT}"
        ), {"support_bounds": b}
    if task == "binary" and s.get("y_min") == 0.0 and s.get("y_max", 0.0) > 1.0:
        # 0/255 pixels (a VAE's binarised images kept as bytes): the family is right, the scale
        # is not; a two-valued 0/c is c for the 1s, anything more is an intensity scale.
        top = s["y_max"]
        two = len(s.get("y_values", [])) == 2
        return "data_scale", (
            f"the targets are {'0 and' if two else 'between 0 and'} {top:.4g}, and {family} takes "
            f"0/1 outcomes: divide them by {top:.4g} (y / {top:.4g}) before the model sees them"
            + ("" if two else "; for grey levels, a continuous family on [0, 1] "
               f"(tfd.ContinuousBernoulli, Beta) or binarise them (y > {top / 2:.4g})")
        ), {"y_min": 0.0, "y_max": top}
    fractions = not set(s.get("y_values", [])) <= {0.0, 1.0}
    if "Bernoulli" in family and fractions and 0.0 <= s.get("y_min", -1.0) and s.get("y_max", 2.0) <= 1.0:
        # Grey levels in [0, 1] (images scaled by 1/255 but not binarised): a Bernoulli's log_prob
        # of a fraction is no likelihood at all (it does not normalise over [0, 1]).
        return "distribution_choice", (
            f"the targets are fractions in [0, 1] (grey levels, shares), and {family} takes 0/1 "
            "outcomes: binarise them (y > 0.5, or y > tf.random.uniform(tf.shape(y)) as TFP's "
            "VAE example does), or model the fractions with a density on [0, 1] "
            "(tfd.ContinuousBernoulli(logits=t), or tfd.Beta for values inside (0, 1))"
        ), {"y_min": s["y_min"], "y_max": s["y_max"]}
    ends = t.support_examples and all(e in (0.0, 1.0) for e in t.support_examples)
    if ends and any(name in family for name in _OPEN_UNIT_INTERVAL) and 0.0 <= s.get("y_min", -1.0) \
            and s.get("y_max", 2.0) <= 1.0:
        return "distribution_choice", (
            f"{t.support_nonfinite} targets are exactly 0 or 1, the ends of {family}'s support (0, 1), "
            "where its density is 0 or infinite: squeeze the proportions inside, (y * (n - 1) + 0.5) / n "
            "for n targets (Smithson and Verkuilen), or if the 0s and 1s are outcomes of their own, "
            f"model them apart (a zero/one-inflated {family})"
        ), {"support_examples": t.support_examples}
    zeros = t.support_examples and all(e == 0 for e in t.support_examples)
    if task == "positive" and zeros:
        return "distribution_choice", (
            f"{t.support_nonfinite} targets are exactly 0, outside {family}'s support (0, inf): "
            "model the zeros apart (a hurdle: a Bernoulli for y > 0 times "
            f"{family} on the positive targets), or if they are small amounts rounded down, add "
            "a small offset to every target"
        ), {}
    return "distribution_choice", (
        f"{family} cannot produce these targets: choose a family whose support holds the data "
        f"{_FAMILIES_BY_SUPPORT}"
    ), {}


def _loss_domain_fix(loss: str, outside: list[float], s: dict[str, float]) -> str:
    """A plain Keras loss given targets it does not score: -1/1 and 1/2 labels mapped, else
    another loss."""
    if outside and all(v == -1 for v in outside) and "crossentropy" in loss.lower():
        return f"the labels are -1/1 and {loss} takes 0/1: give it (y + 1) / 2"
    if outside and all(v == 2 for v in outside) and s.get("y_min") == 1.0 and "binary" in loss.lower():
        return f"the labels are 1/2 and {loss} takes 0/1: give it y - 1"
    return (
        f"{loss} is the negative log-likelihood of a family these targets do not belong to: "
        "train on a loss whose distribution holds these (mean_squared_error, or a tfd.Normal's "
        "negative log-likelihood, for real values; a Gamma or LogNormal one for positive amounts)"
    )


#: Targets whose column mean is within STANDARDISED_TOL of 0 and whose spread is within it of
#: 1 were standardised (z-scores): no raw data set lands there by chance.
STANDARDISED_TOL = 0.02


def _standardised_targets(s: dict[str, float]) -> bool:
    return bool(s) and s["y_abs_mean"] < STANDARDISED_TOL and abs(s["y_std"] - 1.0) < STANDARDISED_TOL


def in_domain(v: Verdict, t: Trace) -> tuple[str, str, dict[str, Any]]:
    family = t.output_distribution or "the output distribution"
    return "distribution_choice", (
        f"{family} predicts values that {t.domain} never take: choose a family with the data's "
        f"support {_FAMILIES_BY_SUPPORT}"
    ), {}


def _raw_data(t: Trace) -> tuple[str, str, dict[str, Any]]:
    s, task = t.data_stats, t.config.task
    if task == "regression":
        return "data_scale", f"the data are far from unit scale: {FIXES['data_scale']}", {"data": s}
    # Counts, amounts, labels: the family needs the targets as they are; only the features move.
    family = t.output_distribution or "the family"
    said = []
    if _features_raw(s):
        said.append("the features are far from unit scale: standardise them (or adapt a "
                    "tf_keras.layers.Normalization layer to x_train)")
    mean = s["y_abs_mean"]
    if task in ("count", "positive") and mean > RAW_DATA_LIMIT:
        log_mean = f"{math.log(mean):.3g}"
        said.append(f"the targets (mean {mean:.4g}) stay as they are, which {family} needs: start the "
                    f"output at their mean in log space, log_rate=t + {log_mean} (or "
                    f"bias_initializer=Constant({log_mean}) on the layer that feeds a log-link "
                    "parameter), so that the first steps do not chase it")
    else:
        said.append(f"keep the targets as they are, which {family} needs")
    return "data_scale", "; ".join(said), {"data": s}


def _log_is_infinite(path: str, value_range: tuple[float, float] | None) -> bool:
    """A probs or rate that reached exactly 0 (a probs also 1), where log(p) or log1p(-p) is
    -inf: the evidence that a head in probability space saturated or underflowed (a small but
    positive value has a finite log, and is no such evidence)."""
    name = path.rsplit(".", 1)[-1]
    if value_range is None or name not in ("probs", "rate"):
        return False
    low, high = value_range
    return low == 0.0 or (name == "probs" and high == 1.0)


#: The loss tfp.layers train on is the negative log-likelihood; a loss equal to +log_prob
#: (``checks.SIGN_RTOL``) minimises the likelihood, and whatever then fails follows from that.
_FIX_LOSS_SIGN = ("the loss must be the negative log-likelihood: {written} (the minus sign is "
                  "missing: the optimizer is making the targets less likely)")


def loss_sign(t: Trace) -> tuple[str, str, dict[str, Any]] | None:
    """The cause of every violation of a trace whose loss is +log_prob (``loss_is_log_prob``),
    whichever invariant reports it; None for any other trace."""
    kind = t.notes.get("loss_is_log_prob")
    if not kind:
        return None
    written = ("loss=lambda y, rv_y: -rv_y.log_prob(y)" if kind == "distribution" else
               f"return -{t.output_distribution or 'dist'}(...).log_prob(y) from the loss function")
    return "tfp_layer_misuse", _FIX_LOSS_SIGN.format(written=written), {"loss_equals_log_prob": True}


def nonfinite(v: Verdict, t: Trace) -> tuple[str, str, dict[str, Any]]:
    step = v.step if v.step is not None else 0
    early = [p for p in t.param_violations if p.step <= step]
    if early:
        first = min(early, key=lambda p: p.step)
        if _over_or_underflowed(first.min_value, first.max_value):
            return "numerical_instability", (
                f"{first.path} over- or underflowed at step {first.step} (exp of an unbounded "
                f"output?) before the loss went non-finite: "
                f"{parameter_fix(first.path, first.constraint, first.source, first.role)}"
            ), {"parameter": first.path, "parameter_step": first.step}
        return "parameterization", (
            f"{first.path} left its constraint at step {first.step} before the loss went "
            f"non-finite: {parameter_fix(first.path, first.constraint, first.source, first.role)}"
        ), {"parameter": first.path, "parameter_step": first.step}
    if t.support_nonfinite or t.support_error:
        return "distribution_choice", "the targets lie outside the distribution's support", {}
    # A probs or rate at exactly 0 (or 1) is the mechanism itself, and its log-space parameter
    # cures it at any data scale (measured: probs=tf.sigmoid(t) on features of spread 20 saturated
    # to 1 at step 4; standardising the features did not make the NaN go).
    ranges = t.nonfinite_ranges or {}
    at_log_zero = [p for p in t.output_parameters if _log_is_infinite(p, ranges.get(p))]
    if data_is_raw(t) and not at_log_zero:
        return _raw_data(t)
    if grad_blew_up(t, step + 1):
        return "optimizer_settings", FIXES["optimizer_settings"], {
            "grad_norms": _grad_range(t, step + 1)}
    if at_log_zero:
        low, high = ranges[at_log_zero[0]]
        return "numerical_instability", (
            f"{at_log_zero[0]} reached {0.0 if low == 0.0 else 1.0:g} at step {step} (range "
            f"[{low:.3g}, {high:.3g}]), where its log is -inf: {parameter_fix(at_log_zero[0])}"
        ), {"output_parameters": t.output_parameters, "parameter": at_log_zero[0],
            "range": [low, high]}
    if v.invariant == "finite_gradients" and step < len(t.losses) and math.isfinite(t.losses[step]):
        return "numerical_instability", _FIX_NAN_GRADIENT, {"loss": t.losses[step]}
    return "numerical_instability", FIXES["numerical_instability"], {
        "output_parameters": t.output_parameters}


def no_divergence(v: Verdict, t: Trace) -> tuple[str, str, dict[str, Any]]:
    if "kl_start" in v.evidence:  # the optimizer raised the KL it minimises: its steps are too big
        return "optimizer_settings", (
            f"the KL term rose {v.evidence['kl_end'] / max(abs(v.evidence['kl_start']), 1e-12):.3g}-fold "
            f"while training minimised it: {FIXES['optimizer_settings']}"
        ), {}
    if data_is_raw(t):
        return _raw_data(t)
    traded = _kl_traded(t, v)
    if traded is not None:
        return traded
    if grad_blew_up(t):
        return "optimizer_settings", FIXES["optimizer_settings"], {"grad_norms": _grad_range(t)}
    # Evidence of sampling noise is the weight draws' (predictions that move between draws), not
    # the loss's step-to-step spread: a minibatch's own noise is in that too, in every model.
    if _sampled_noisily(t):
        return "mc_sampling", (
            "single-sample gradients of the variational layers are too noisy: "
            f"{FIXES['mc_sampling']}"
        ), {"prediction_noise": t.prediction_noise}
    return UNCLASSIFIED


def _kl_traded(t: Trace, v: Verdict) -> tuple[str, str, dict[str, Any]] | None:
    """The data term rose while the KL term, the larger part of the loss (over one half, as
    ``learns`` asks, in the first or the last quarter), fell by more: the optimizer did its job on
    an objective that prices the KL above the fit, and bought a smaller KL with a worse fit. That
    is the KL's weight, not the rate (measured: a hand-written Bayes-by-backprop layer with its KL
    added unscaled, KL 577 -> 6.4, data term 1.31 -> 2.69; a lower rate only slowed the trade
    down) -- or, where the KL is divided by n_train already, the prior's place (measured: a
    DenseVariational prior N(5, 0.01), KL 625 -> 142 within 100 steps, data term 10 -> 199; the
    KL's share of the loss 0.55 over the first quarter and 0.47 over the last)."""
    rose = v.evidence.get("last_data_term", math.nan) - v.evidence.get("first_data_term", math.nan)
    kl = [k for k in t.kl_terms if math.isfinite(k)]
    w, share = max(1, len(kl) // 10), max(_kl_share(t), _kl_share(t, first=True))
    if not (rose > 0 and len(kl) >= 10 and share > 0.5):
        return None
    # The start over the first hundredth too: a trade can be over within a tenth of the steps.
    first = max(3, len(kl) // 100)
    start = max(float(np.median(kl[:w])), float(np.median(kl[:first])))
    end = float(np.median(kl[-w:]))
    if start - end <= rose:
        return None
    traded = (f"the KL term fell from {start:.3g} to {end:.3g} while the data term rose by {rose:.3g}: the "
              "training traded the fit for a smaller KL")
    evidence = {"kl_start": start, "kl_end": end, "kl_share_of_loss": share}
    weight = checks.kl_weight(t)
    far = max(t.layers_start, key=lambda layer: layer.kl_per_weight, default=None)
    if weight is None or weight * t.config.n_train > KL_ALREADY_DIVIDED or far is None:
        return "kl_scaling", f"{traded}, which outweighs the data: {FIXES['kl_scaling']}", evidence
    return "prior_mismatch", (
        f"{traded}, with the KL already weighted 1/n_train: the prior itself fights the likelihood. "
        f"{_prior_words(far)} sat {far.kl_per_weight:.3g} nats per weight from the posterior at the "
        f"start: {_prior_fix(far)}"), {**evidence, "layer": far.name, "kl_weight": weight}


def _prior_words(layer: LayerSummary) -> str:
    centre = "" if math.isnan(layer.prior_centre) else f"centred at +-{layer.prior_centre:.3g}, "
    kind = "trainable" if layer.prior_trainable else "fixed"
    return f"The {kind} prior of '{layer.name}' ({centre}stddev {layer.prior_stddev:.2g})"


def _prior_fix(layer: LayerSummary) -> str:
    """Centre a prior that sits off 0 by more than its own spread; else the usual widening."""
    if layer.prior_centre > layer.prior_stddev:
        return ("centre the prior at 0 (the weights of a model on standardised data sit near it) "
                "with stddev ~1, or make it trainable (a tfpl.VariableLayer prior, as in TFP's "
                "regression tutorial)")
    return FIXES["prior_mismatch"]


def learns(v: Verdict, t: Trace) -> tuple[str, str, dict[str, Any]]:
    if data_is_raw(t) or data_is_off_centre(t):
        return "data_scale", (
            "the model starts far from data that is far from zero or unit scale: "
            f"{FIXES['data_scale']}"
        ), {"data": t.data_stats}
    narrow = _narrow_prior(t)
    if narrow is not None:
        return "prior_mismatch", (
            f"the prior of '{narrow.name}' (stddev {narrow.prior_stddev:.2g}) pins the weights "
            f"near its mean, far from what the data need: {FIXES['prior_mismatch']}"
        ), {"layer": narrow.name, "prior_stddev": narrow.prior_stddev}
    unreached = _unreached(t)
    if unreached is not None:
        return unreached
    share = _kl_share(t)
    if share > 0.5:
        return "kl_scaling", f"the KL term dominates the loss: {FIXES['kl_scaling']}", {
            "kl_share_of_loss": share}
    if _sampled_noisily(t):
        noise = t.prediction_noise or 0.0
        moved = (f"the predictions move by {noise:.2g} target standard deviations between weight draws"
                 if noise > PREDICTION_NOISE else f"the predictive mean moves between weight draws by "
                 f"{t.draw_spread_ratio:.2g} times the predictive's own spread")
        return "mc_sampling", (
            f"{moved}: one noisy sample per step drowns the signal. {FIXES['mc_sampling']}"
        ), {"prediction_noise": t.prediction_noise, "draw_spread_ratio": t.draw_spread_ratio}
    if _ignores_x(t):
        return "unclassified", (
            "the model's data term equals its x-denied twin's on every example: its output never "
            "depends on x. If it should (a regression on x), connect the input to the layers that "
            "feed the distribution; a model of y alone (an unconditional density) has no x to learn "
            "from, and learns does not apply to it"
        ), {"output_depends_on_x": False}
    return UNCLASSIFIED


def _ignores_x(t: Trace) -> bool:
    """The trained model and its twin, trained alike without x, score every example the same."""
    if not t.data_terms or not t.twin_terms or len(t.data_terms) != len(t.twin_terms):
        return False
    return bool(np.allclose(t.data_terms, t.twin_terms, rtol=1e-5, atol=1e-6))


def _sampled_noisily(t: Trace) -> bool:
    """Evidence of mc_sampling: predictions that move between weight draws by more than
    PREDICTION_NOISE target sds, or that the sampling-noise check calls dominated."""
    return bool(t.layers_end) and ((t.prediction_noise or 0.0) > PREDICTION_NOISE
                                   or checks.sampling_dominated(t))


def _unreached(t: Trace) -> tuple[str, str, dict[str, Any]] | None:
    """The trained model cannot predict the targets' average on most columns (UNREACHED_GAP,
    UNREACHED_SHARE): its output parameter is confined before the distribution reads it."""
    share = unreached_share(t)
    if share is None or share <= UNREACHED_SHARE or t.worst_mean_gap is None:
        return None
    w = t.worst_mean_gap
    seen = (f"the model cannot predict the targets' average: on {share:.0%} of the target columns "
            f"its predictive means never reach it (column {w['column']}: targets average "
            f"{w['target_mean']:.3g}, predicted means span [{w['predicted_min']:.3g}, "
            f"{w['predicted_max']:.3g}] on every input). ")
    evidence = {"unreached_share": share, "worst_column": w}
    if t.output_distribution is not None:
        return "parameterization", seen + (
            "The layer feeding the distribution confines its parameter: a sigmoid/softmax before "
            "logits=, a ReLU before loc= or rate=. Let that Dense be linear; constrain only what the "
            "family needs (softplus for a scale)"), evidence
    if w["predicted_min"] == w["predicted_max"] == 1.0:
        return "parameterization", seen + (
            "The output is 1 on every input: a softmax over a single unit. For 0/1 targets use "
            "Dense(1, activation='sigmoid'); softmax needs one unit per class"), evidence
    return "parameterization", seen + (
        f"The output is the prediction itself (the loss is {t.output_kind.rpartition(' ')[2]}), and "
        "the last layer's activation confines it: a sigmoid or softmax to [0, 1], a ReLU or "
        "softplus to >= 0. Give the last Dense the activation the targets need (linear for real "
        "values), or rescale the targets into its range"), evidence


def collapsed(v: Verdict, t: Trace) -> tuple[str, str, dict[str, Any]]:
    if v.evidence.get("collapse") == "prior_conflict":
        e = v.evidence
        return "prior_mismatch", (
            f"the fixed prior of '{e['layer']}' (stddev {e['prior_stddev']:.2g}) is far narrower "
            f"than the posterior (stddev {e['posterior_stddev']:.2g}) the data keep: "
            f"{FIXES['prior_mismatch']}"
        ), {}
    if v.evidence.get("collapse") == "kl_weight":
        return "kl_scaling", (
            f"the KL term is weighted about {v.evidence['kl_weight']:.2g} in a per-example loss: "
            f"{FIXES['kl_scaling']}"
        ), {}
    if v.evidence.get("collapse") == "sampling_noise" and t.data_stats and _features_raw(t.data_stats):
        return "data_scale", (
            f"the features are far from unit scale (spread up to {t.data_stats['x_std_max']:.3g}), and "
            "each weight draw's noise is multiplied by them: the predictions move between draws by "
            f"{v.evidence['prediction_noise']:.3g} target standard deviations however narrow the "
            "posterior starts. Standardise the features (or adapt a tf_keras.layers.Normalization "
            "layer to x_train)"), {"data": t.data_stats}
    if v.evidence.get("collapse") == "sampling_noise":
        return "mc_sampling", (
            "one weight draw per step from a wide posterior gives gradients too noisy for the data "
            f"to narrow it: {FIXES['mc_sampling']}"
        ), {}
    if v.evidence.get("collapse") == "factorised":
        return "variational_family", (
            f"columns {v.evidence['collinear_columns']} of the inputs are exactly collinear, so "
            "the weights that read them are correlated in the posterior, which a factorised "
            "(mean-field) posterior cannot represent: drop the redundant columns, or give the layer "
            "a full-covariance posterior (a make_posterior_fn returning "
            "tfpl.MultivariateNormalTriL(n) instead of a mean-field Independent Normal)"
        ), {}
    if v.evidence.get("collapse") == "point":
        return "variational_family", (
            "the posterior scale shrank to ~0: initialise its untransformed scale near -3 "
            "(softplus -> 0.05), keep a 1e-5 floor, and check the posterior family"
        ), {}
    if _kl_share(t) > KL_CANDIDATE_SHARE:  # the posterior is on its prior: a KL this large put it there
        return "kl_scaling", f"the KL term swamps the likelihood: {FIXES['kl_scaling']}", {
            "kl_share_of_loss": _kl_share(t)}
    narrow = _narrow_prior(t)
    if narrow is not None:
        return "prior_mismatch", (
            f"the posterior stayed on the prior of '{narrow.name}' (stddev "
            f"{narrow.prior_stddev:.2g}), too narrow for the data to move the weights: "
            f"{FIXES['prior_mismatch']}"
        ), {"layer": narrow.name, "prior_stddev": narrow.prior_stddev}
    return UNCLASSIFIED


def _narrow_prior(t: Trace) -> LayerSummary | None:
    """A variational layer whose fixed prior is narrower than NARROW_PRIOR, or than its
    posterior was at the start by PRIOR_CONFLICT_RATIO."""
    start = {layer.name: layer.posterior_stddev for layer in t.layers_start}
    for layer in t.layers_last:
        wide = start.get(layer.name, 0.0) / checks.PRIOR_CONFLICT_RATIO
        if not layer.prior_trainable and layer.prior_stddev < max(NARROW_PRIOR, wide):
            return layer
    return None
