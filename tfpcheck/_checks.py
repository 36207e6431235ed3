"""The checks of the ten invariants, each a small function from a Trace to a Verdict.

Every threshold is a module constant with the reason it has that value. A check
never raises and never imports TensorFlow, so the same rules judge a live training
and a stored trace. ``_invariants`` registers each check with its diagnosis and docs.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from tfpcheck._config import DEFAULT_STEPS
from tfpcheck._trace import Trace

__all__ = ["Verdict", "beats", "kl_weight", "paired_gain", "prior_conflict", "reaches", "sampling_dominated",
           "unreached_share"]

#: no_divergence: the median loss of the last tenth of training may exceed the median of
#: the first tenth by at most max(DIVERGENCE_MIN_NATS, DIVERGENCE_REL * |first|), and the
#: whole-set data term at the end its value at step 0 by as much. A healthy
#: brief training ends below where it started; minibatch noise moves a window median by far
#: less than a nat on per-example NLLs. A loss that rose by less than that still diverged where
#: its KL term (no minibatch noise in it) rose from step 0 by more than the same allowance: the
#: objective the optimizer minimises went up, and the posterior thrown off its prior is why
#: (measured: keras-io's probabilistic BNN at RMSprop's learning rate 1.0, KL 0.04 -> 95 per
#: example within 100 steps, the loss 75 -> 100 while the data term fell 70 -> 4; the recipe's
#: own rate 0.001 keeps KL at 0.04-0.05).
DIVERGENCE_MIN_NATS = 1.0
DIVERGENCE_REL = 0.5
#: learns: the model's data term (its loss without KL/regularisation) per example must beat the
#: x-denied twin's — the same model, loss and budget trained on features replaced by their
#: mean — by more than this many standard errors of the paired per-example gain. A paired
#: test is free of the loss's units (nats, squared error) and of a fixed scale: a model that
#: uses x is better on most examples, one that ignores x ties at z ~ N(0, 1).
LEARNS_Z = 2.0
#: Fewer training examples than this and ``learns`` is not applicable: a paired gain over a
#: handful of examples is no evidence either way (its standard error is itself a guess; one
#: example has none, and a one-row data set read as "no gain, cause data_scale").
LEARNS_MIN_EXAMPLES = 10
#: learns, a loss of the wrong sign: at initialisation the loss equals the distribution's
#: log_prob of the targets within this relative tolerance on every example, with log_prob at
#: least SIGN_MIN_LOG_PROB from 0 on average (at 0 the two signs can't be told apart).
SIGN_RTOL = 1e-3
SIGN_MIN_LOG_PROB = 1e-3
#: learns, the twin as a baseline: a target column whose mean lies more than UNREACHED_GAP of
#: its standard deviations outside the range of the trained model's predictive means is
#: unreached. A model that fits the targets' average (calibration in the large) covers it on
#: some input; one whose head confines its parameter (a sigmoid before logits=) cannot, and
#: neither can its x-denied twin, so beating that twin proves nothing. When more than
#: UNREACHED_SHARE of the columns are unreached, the model has not beaten the data-only
#: baseline (the targets' average), whatever the paired test says.
UNREACHED_GAP = 0.25
UNREACHED_SHARE = 0.5
#: learns, still closing in on the twin: on data as given (not the stress regime's rescaled
#: data, whose slowness is data_scale's to report), a model that has not beaten its twin at the
#: cap is inconclusive when, over the last CLOSING_SPAN of the steps, its whole-set data term
#: fell faster than its twin's (the least-squares slope of their difference) by enough that
#: CLOSING_HORIZON times as many steps again at that pace would make up what it still lacks
#: (the gap to the twin plus LEARNS_Z standard errors): it would learn by LONGER_RUN (4) times
#: the cap, where ``_confirm.outlasts`` looks too. ``schedule.settled`` measures the last window
#: against the progress since step 0, and a model started far off (raw features: TFP's
#: "Probabilistic Layers Regression" tutorial, x in [-20, 60]) made most of that in its first
#: windows: measured there (case 3), still falling 10 -> 5 nats per example between steps 1875
#: and 5000 under its own ``fit``, "settled" by that rule at 1600. A model that ignores x falls
#: as its twin falls (they are the same model) and closes nothing.
CLOSING_SPAN = 0.5
CLOSING_HORIZON = 3.0
#: learns, out of reach: a model stopped at the cap with its predictive means still short of
#: the targets' average (UNREACHED_GAP) is inconclusive only while the pace at which training
#: has closed that gap since step 0 (in the column's standard deviations per step) would close
#: the rest within REACH_HORIZON times the steps run, or the default cap where a user ran fewer
#: (a short --steps must not turn a slow start into a failure). Past that, on more than
#: UNREACHED_SHARE of the columns, learns fails: no longer run is what is missing. Measured:
#: house prices (mean 2.5e5, sd 6.3e4) under a fixed-scale Normal and Adam at 0.01 closed 4.0
#: sd by 2.6e-4 in 1600 steps (about 2.5e7 steps to go); a linear extrapolation flatters a
#: model whose pace falls as it nears (SGD's geometric approach), so the rule errs towards
#: inconclusive. Not read for variational models (``out_of_reach``).
REACH_HORIZON = 10.0
#: posterior_not_collapsed, onto the prior: KL(q || p) per weight below this many nats at the
#: end of training means q equals the prior: the data left no trace. Default tfp.layers
#: posteriors start near 2.5 nats per weight.
KL_COLLAPSE_NATS = 0.01
#: posterior_not_collapsed, pushed onto the prior: the KL term weighted in the loss by more than
#: this many times the ELBO's 1/n_train (an undivided KL is weighted n_train times too much).
KL_WEIGHT_FACTOR = 10.0
#: posterior_not_collapsed, onto a point: posterior stddev below this fraction of the prior's
#: means the variational layer has become a point estimate (default init is ~0.05).
POINT_COLLAPSE_RATIO = 1e-3
#: posterior_not_collapsed, onto a point along what the data cannot see: a factorised posterior's
#: spread along a direction of its kernel the inputs cannot see (exactly collinear features), at
#: most this fraction of the prior's, where the exact posterior is the prior itself (the
#: likelihood is flat along it). Structural: a mean-field family cannot widen there without
#: widening along the directions the data pin down. Measured on mean-field variational layers
#: over duplicated features (benchmarks/detection.py, 10 tf_keras specs): 0.016-0.29, all 20
#: tf_keras and Keras 3 specs found; inputs without collinear columns have no such direction,
#: and a full-rank posterior is not judged.
UNSEEN_SPREAD_LIMIT = 0.5
#: posterior_not_collapsed, pulled onto a prior that fights the data: a fixed prior whose stddev
#: is this many times below the posterior's when training starts, and still below it when it ends.
#: Against a fixed Gaussian prior the ELBO's optimum is never wider than the prior (the data only
#: narrow it), so such a posterior is in the middle of being dragged onto the prior by a KL of tens
#: to 1e5 nats per weight (measured on 1e-3/1e-4 priors: end ratios 7.8-500); trained on, the
#: weights end on the prior's mean and the data are ignored. Healthy priors (sd >= 0.1) sit above
#: default posteriors (sd ~0.05) from the start: ratio <= 0.5. A posterior that *grew* past its
#: prior (a rate that blew the scales up) is not counted: its prior was wider at the start.
PRIOR_CONFLICT_RATIO = 10.0
#: posterior_not_collapsed, left where sampling put it: the trained model's predictive means move
#: between weight draws by more than this many of the targets' standard deviations (a single
#: draw then predicts worse than the targets' mean would). Data that informed the weights narrow
#: their spread: measured <= 0.15 on healthy specs, <= 0.32 with a narrowly initialised posterior;
#: a posterior as wide as its prior, trained on one weight draw per step, 1.4-22 (the field guide's
#: "insufficient sampling ... can lead to the posterior collapsing to the prior").
SAMPLING_NOISE_LIMIT = 1.0
#: posterior_not_collapsed, confidently wrong on every draw: the predictive mean moves between
#: weight draws by more than this many of the predictive's own standard deviations
#: (``Trace.draw_spread_ratio``). Each draw then claims a certainty about the mean that the next
#: draw contradicts, even where the means move by less than SAMPLING_NOISE_LIMIT target sds
#: (measured: a prior-wide DenseReparameterization posterior trained on one draw per step, means
#: moving 0.69 target sds, ratio 2.5, single-draw data term 6.5 against 0.76 with a narrow
#: posterior). Measured on 60 healthy drawn specs: 0-0.32 (the most on Bernoulli heads); a
#: narrow (0.05) posterior under a fixed head scale of 0.1: 0.24-0.45; prior-wide one-draw
#: posteriors 0.71-2.8.
SAMPLING_SPREAD_RATIO = 1.0
#: ...unless a posterior ended more than this many times as wide as it started: then a rate blew
#: its scale up (measured: RMSprop at 1.0, posterior sd 0.05 -> 22; no_divergence reports it),
#: where training on one noisy draw per step leaves the initial spread (1.0 -> 0.7-0.98).
SPREAD_GROWN = 2.0
#: ...and unless the posterior is still narrowing when training stops: some layer's narrowest
#: tenth of weights (``Trace.posterior_path``) lost more than this share of its spread over the
#: last NARROWING_SPAN of the steps. Such a posterior is being informed by the
#: data, only slower than the cap: TFP's "Probabilistic Layers Regression" tutorial (raw x in
#: [-20, 60], posterior started at the prior's scale 1.0, Adam 1e-2) narrows its slope's spread
#: 0.22 -> 0.03 over its own 5000 steps, the draws' spread falling from 5.8 to 0.6-0.7 of the
#: predictive's (measured under its own ``fit``). Inconclusive, as ``learns`` is for a model
#: still improving at the cap.
NARROWING_SHARE = 0.1
#: The trailing share of the steps over which NARROWING_SHARE is judged.
NARROWING_SPAN = 0.25
#: A ``learns`` failure that ran to the step cap is re-run once with this many times the cap
#: before it is reported (``_confirm.outlasts``): healthy Bayesian networks can sit on the
#: uninformed solution (a Bernoulli at 0.5, a Flipout layer under a scale-mixture prior; plain
#: SGD at 1e-3) for 2000+ steps and then learn (measured: data term 0.693 until step 2000, 0.469
#: at step 4700), which at the cap looks exactly like a model that cannot use x. So is a
#: posterior whose weight draws still swamp the predictions at the cap: a DenseVariational
#: posterior started at softplus(0) = 0.69 under RMSprop at 0.00167 narrows 0.69 -> 0.56 by step
#: 1600 (draws moving the predictions 1.55 target sds), 0.28 by step 6400 (0.43 sds), and its
#: own ``fit`` at 0.005 learns the data by step 4000.
LONGER_RUN = 4
#: predictive_in_domain: the trained model may put at most this share of its predictive draws
#: on values the task's targets cannot take (negative counts, non-positive amounts, outcomes
#: outside [0, 1]). A family with the right support puts exactly 0 there; a Normal on counts
#: averaging 1-2 puts 5-20%, one on counts averaging 50 puts ~0 and passes, as it should.
OUTSIDE_DOMAIN_SHARE = 0.01

@dataclass(frozen=True)
class Verdict:
    """Whether one invariant held on one trace, and the evidence either way."""

    invariant: str
    holds: bool
    message: str = ""
    step: int | None = None
    evidence: dict[str, Any] = field(default_factory=dict)
    note: str | None = None  # set when the invariant could not be judged (not applicable)


def _ok(name: str) -> Verdict:
    return Verdict(name, True)


def _not_applicable(name: str, why: str) -> Verdict:
    """Held only in the sense that nothing was violated: the report carries ``why`` as a note."""
    return Verdict(name, True, note=f"{name}: {why}")


def builds(t: Trace) -> Verdict:
    """The factory, compile, one forward pass and every training step ran without raising."""
    f = t.build_failure
    if f is None:
        return _ok("builds")
    where = f"{f.stage}" + (f" at step {f.step}" if f.step is not None else "")
    return Verdict(
        "builds", False, f"{f.error_type} during {where}: {f.message}", f.step,
        {"stage": f.stage, "error_type": f.error_type, "error": f.message},
    )


def finite_loss(t: Trace) -> Verdict:
    """Every training step's loss is finite."""
    return _first_bad("finite_loss", [not math.isfinite(v) for v in t.losses], lambda s: (
        f"the loss became {t.losses[s]} at step {s}",
        {"loss": t.losses[s], "last_finite_loss": _last_finite(t.losses[:s])}))


def finite_gradients(t: Trace) -> Verdict:
    """Every gradient of every step is finite."""
    return _first_bad("finite_gradients", [not ok for ok in t.grad_finite], lambda s: (
        f"a gradient was NaN or inf at step {s}",
        {"grad_norm": t.grad_norms[s], "previous_grad_norm": _last_finite(t.grad_norms[:s])}))


def _first_bad(
    name: str, bad: list[bool], describe: Callable[[int], tuple[str, dict[str, Any]]]
) -> Verdict:
    """The verdict of a per-step check: violated at the first bad step, described there."""
    if not any(bad):
        return _ok(name)
    step = bad.index(True)
    message, evidence = describe(step)
    return Verdict(name, False, message, step, evidence)


def positive_scales(t: Trace) -> Verdict:
    """Every distribution parameter stays inside its TFP constraint (parameter_properties)."""
    if not t.param_violations and t.output_distribution is None and t.output_kind and not t.probs_read:
        return _not_applicable("positive_scales", f"the model's output is {t.output_kind}, which "
                               "builds no distribution: only variational posteriors and priors "
                               "were checked")
    if not t.param_violations:
        return _ok("positive_scales")
    v = min(t.param_violations, key=lambda p: p.step)
    what = (f"{v.path} of {v.distribution} left its constraint ({v.constraint})" if v.role != "loss" else
            f"the outputs {t.probs_read} reads as {v.distribution} probabilities left [0, 1]")
    return Verdict(
        "positive_scales", False,
        f"{what} at step {v.step}: "
        f"{v.n_bad} of {v.n_total} values invalid, range [{v.min_value:.4g}, {v.max_value:.4g}]",
        v.step,
        {"parameter": v.path, "role": v.role, "distribution": v.distribution,
         "constraint": v.constraint, "n_bad": v.n_bad, "n_total": v.n_total,
         "min": v.min_value, "max": v.max_value, "source": v.source,
         "all": [p.path for p in t.param_violations]},
    )


def loss_shape(t: Trace) -> Verdict:
    """The per-example loss has the batch's shape: leading dim = batch, no more elements than targets;
    and the output distribution holds as many values per example as a target row.

    Keras averages whatever the loss returns, so a ``(N,)`` loc against ``(N, 1)`` targets
    silently trains on an ``(N, N)`` matrix of mismatched pairs. ``IndependentNormal(2)`` on one
    target column gives a loss of the right shape, each target scored twice (log_prob broadcasts
    it across the event): only the distribution's shape per example shows it.
    """
    if t.loss_shape is None or t.batch_size is None or t.loss_shape == (-1,):
        return _ok("loss_shape")
    if int(np.prod(t.loss_shape)) == 1 and t.batch_size > 1:  # () or (1,): TFP's variational_loss
        return _not_applicable("loss_shape", f"the loss reduces the batch to one number itself "
                               f"(shape {t.loss_shape}) and builds no tfd distribution whose log_prob "
                               "shows the per-example shape")
    per_row = int(np.prod(t.target_shape[1:])) if t.target_shape and len(t.target_shape) > 1 else 1
    shape, n = t.loss_shape, t.batch_size
    size = int(np.prod(shape)) if shape else 1
    if shape and shape[0] == n and size <= n * per_row:
        return _example_shape_verdict(t)
    expected = f"({n},)" if per_row == 1 else f"({n}, ...) with at most {n * per_row} elements"
    keras_3 = t.keras == "keras 3" and t.target_shape is not None and len(t.target_shape) == 1
    return Verdict(
        "loss_shape", False,
        f"the per-example loss has shape {shape} for a batch of {n} targets shaped "
        f"{(n, *t.target_shape[1:]) if t.target_shape else '?'}; expected {expected}"
        + ("; Keras 3 averages it without error and, unlike tf_keras, does not expand (N,) "
           "targets to (N, 1) first" if keras_3 else ""),
        0, {"loss_shape": list(shape), "batch_size": n, "target_shape": list(t.target_shape or ()),
            "keras": t.keras},
    )


def _example_shape_verdict(t: Trace) -> Verdict:
    """Fails where the distribution's values per example are more than a target row's, or several
    and another number (each target broadcast across them); one value for a row of several
    (repeated measurements of one quantity, or one output for several targets) is a note. Where
    its log_prob refused the targets (class indices under a OneHotCategorical), data_in_support
    reports that, with a fix for the values it saw."""
    example, target = t.example_shape, t.target_shape
    if example is None or not target or t.support_error or t.support_nonfinite:
        return _ok("loss_shape")  # a distribution that refused the targets: data_in_support says why
    if "loss_picks_targets" in t.notes:
        return _ok("loss_shape")  # the loss scores some of y's columns (initial._check_support)
    k, m = int(np.prod(example)), int(np.prod(target[1:]))
    if k == m:
        return _ok("loss_shape")
    family = t.output_distribution or "the output distribution"
    if k == 1:
        return Verdict("loss_shape", True, note=(
            f"loss_shape: {family} gives one value per example and each target row has {m} (shape "
            f"{target[1:]}): "
            f"every column is scored against the same prediction. Right for repeated measurements of one "
            f"quantity; for {m} different targets give the distribution {m} values per example"))
    if k == 0:
        return Verdict(
            "loss_shape", False,
            f"{family} holds no values per example (shape {example}) and each target row has {m} "
            f"(shape {target[1:]}): a parameter is an empty slice of the outputs, so log_prob scores "
            "nothing", 0, {"example_shape": list(example), "target_shape": list(target),
                           "batch_size": t.batch_size})
    return Verdict(
        "loss_shape", False,
        f"{family} holds {k} values per example (shape {example}) and each target row has {m} "
        f"(shape {target[1:]}): log_prob broadcasts every target across them, scoring it "
        f"{'several times' if k > m else 'against values meant for other targets'}; the loss has the "
        "batch's shape, so nothing else shows it",
        0, {"example_shape": list(example), "target_shape": list(target), "batch_size": t.batch_size},
    )


def data_in_support(t: Trace) -> Verdict:
    """At initialisation every training target has a finite log-probability under the model."""
    if not t.support_nonfinite and not t.support_error:
        return _ok("data_in_support")
    detail = t.support_error or f"{t.support_nonfinite} targets have log-prob -inf or NaN"
    if "loss_nonfinite_in_support" in t.notes:
        return Verdict(
            "data_in_support", False,
            f"the loss is not finite at initialisation on {t.support_nonfinite} examples, though "
            f"column {t.notes['loss_nonfinite_in_support']} of y, which it scores, lies in the "
            f"support of {t.output_distribution or 'its distribution'} throughout: another of its "
            "terms is not finite there", 0,
            {"distribution": t.output_distribution, "nonfinite_examples": t.support_nonfinite,
             "example_targets": t.support_examples})
    return Verdict(
        "data_in_support", False,
        f"targets outside the support of {t.output_distribution or 'the loss'} at initialisation: "
        f"{detail}", 0,
        {"distribution": t.output_distribution, "nonfinite_targets": t.support_nonfinite,
         "example_targets": t.support_examples, "tfp_says": t.support_error},
    )


def no_divergence(t: Trace) -> Verdict:
    """The loss does not blow up: see DIVERGENCE_MIN_NATS and DIVERGENCE_REL."""
    losses = np.asarray(t.losses, dtype=float)
    if len(losses) < 10 or not np.all(np.isfinite(losses)):
        return _ok("no_divergence")  # too short to judge, or finite_loss already failed
    rose = _data_term_rose(t)
    if rose is not None:
        return rose
    w = max(3, len(losses) // 10)
    first, last = float(np.median(losses[:w])), float(np.median(losses[-w:]))
    allowed = max(DIVERGENCE_MIN_NATS, DIVERGENCE_REL * abs(first))
    if last - first <= allowed:
        return _kl_blew_up(t, first, last, allowed) if last > first else _ok("no_divergence")
    peak = int(np.argmax(losses))
    return Verdict(
        "no_divergence", False,
        f"the loss rose from {first:.4g} to {last:.4g} (allowed rise {allowed:.3g}); "
        f"peak {losses[peak]:.4g} at step {peak}", peak,
        {"first_loss": first, "last_loss": last, "peak_loss": float(losses[peak]),
         "first_grad_norm": _median(t.grad_norms[:w]), "last_grad_norm": _median(t.grad_norms[-w:])},
    )


def _kl_blew_up(t: Trace, first: float, last: float, allowed: float) -> Verdict:
    """The loss rose, within the allowance, but its KL term rose from step 0 by more than it."""
    kl = np.asarray(t.kl_terms, dtype=float)
    if len(kl) < 10 or not np.all(np.isfinite(kl)):
        return _ok("no_divergence")
    w = max(3, len(kl) // 10)
    start, end = float(kl[0]), float(np.median(kl[-w:]))
    if end - start <= allowed:
        return _ok("no_divergence")
    crossed = int(np.argmax(kl - start > allowed))
    return Verdict(
        "no_divergence", False,
        f"the loss rose from {first:.4g} to {last:.4g} because its KL term rose from {start:.4g} at "
        f"step 0 to {end:.4g} (allowed rise {allowed:.3g}, passed at step {crossed}): the optimizer "
        "threw the variational posteriors far from their priors", crossed,
        {"first_loss": first, "last_loss": last, "kl_start": start, "kl_end": end,
         "first_grad_norm": _median(t.grad_norms[:w]), "last_grad_norm": _median(t.grad_norms[-w:])},
    )


def _data_term_rose(t: Trace) -> Verdict | None:
    """The whole-set data term (no minibatch noise, no KL) ended above its value at step 0 by
    more than the allowed rise: a blow-up inside the first tenth of training, which the loss
    medians compare with itself (measured: SGD at 300x its rate, 1.65 at step 0, 1.7e5 from
    step 100 on, slowly falling: the loss medians of the first and last tenths agreed)."""
    ev = [v for v in t.evaluations if math.isfinite(v)]
    if len(ev) < 2 or len(ev) < len(t.evaluations):
        return None
    start, end = ev[0], ev[-1]
    allowed = max(DIVERGENCE_MIN_NATS, DIVERGENCE_REL * abs(start))
    if end - start <= allowed:
        return None
    return Verdict(
        "no_divergence", False,
        f"the data term on the whole training set rose from {start:.4g} at step 0 to {end:.4g} "
        f"at step {t.steps_run} (allowed rise {allowed:.3g}); peak {max(ev):.4g}", t.steps_run,
        {"first_data_term": start, "last_data_term": end, "peak_data_term": max(ev),
         "first_grad_norm": _median(t.grad_norms[:3]), "last_grad_norm": _median(t.grad_norms[-3:])},
    )


def learns(t: Trace) -> Verdict:
    """The model's data term beats its x-denied twin's by more than LEARNS_Z standard errors."""
    if t.notes.get("loss_is_log_prob"):
        return Verdict("learns", False, "the loss is the distribution's log_prob of the targets, "
                       "not its negative (the two agree on every example at step 0): each step "
                       "that lowers it makes the targets less likely", 0, {"loss_equals_log_prob": True})
    if t.data_terms is None:
        return _not_applicable("learns", "the trained model could not be evaluated" + (
            f" ({t.notes['final_evaluation_error']})" if "final_evaluation_error" in t.notes else ""))
    model = np.asarray(t.data_terms, dtype=float)
    if not np.all(np.isfinite(model)):
        return Verdict("learns", False, f"after {t.steps_run} steps the data term is not finite "
                       f"for {int(np.sum(~np.isfinite(model)))} of {model.size} examples",
                       t.steps_run, {"model_data_term": float(np.mean(model))})
    if "x_uninformative" in t.notes:
        return _not_applicable("learns", f"{t.notes['x_uninformative']}: the model is a density of "
                               "the targets alone, and its data-only baseline (the same model "
                               "trained without x) is the model itself; a loss that rose is "
                               "no_divergence's to report")
    if t.twin_terms is None:
        return _not_applicable("learns", "the x-denied twin could not be trained or evaluated")
    if model.size < LEARNS_MIN_EXAMPLES:
        return _not_applicable("learns", f"too few training examples ({model.size}) to tell a gain "
                               f"over the x-denied twin from noise (at least {LEARNS_MIN_EXAMPLES})")
    mean, z = paired_gain(model, t.twin_terms)
    evidence = {"model_data_term": float(np.mean(model)), "twin_data_term": float(np.mean(
        t.twin_terms)), "gain_per_example": mean, "gain_z": z, "steps": t.steps_run,
        "settled": t.settled}
    unreached = unreached_share(t)
    far = out_of_reach(t) if t.settled is False else None
    if far is not None:
        return far
    if beats(model, t.twin_terms):
        if unreached is None or unreached <= UNREACHED_SHARE:
            return _ok("learns")
        if t.settled is False:
            return _not_applicable("learns", f"inconclusive: after {t.steps_run} steps (the cap) "
                                   "the loss was still improving and the model's predictive means "
                                   f"did not yet reach the targets' average on {unreached:.0%} of "
                                   "the target columns; raise the cap with --tfpcheck-steps / --steps")
        return Verdict(
            "learns", False,
            f"after {t.steps_run} steps the model's predictive means miss the targets' average on "
            f"{unreached:.0%} of the target columns (by more than {UNREACHED_GAP:g} standard "
            f"deviations, on every input): it beats its x-denied twin by {mean:.3g} per example "
            "only because the twin is confined the same way",
            t.steps_run, {**evidence, "unreached_share": unreached},
        )
    if t.settled is False and _gained(t):
        return _not_applicable("learns", f"inconclusive: after {t.steps_run} steps (the cap) the "
                               "loss was still improving and the model did not yet beat its "
                               f"x-denied twin (gain {z:.2g} standard errors); raise the cap with "
                               "--tfpcheck-steps / --steps")
    pace = closing(t, model, t.twin_terms)
    if pace is not None:
        per_step, lacks, since = pace
        return _not_applicable("learns", f"inconclusive: after {t.steps_run} steps (the cap) the "
                               f"model did not yet beat its x-denied twin, but since step {since} "
                               f"its data term fell {100 * per_step:.3g} per example every 100 "
                               "steps more than the twin's: "
                               f"at that pace {1 + CLOSING_HORIZON:g} times the cap would make up "
                               f"the {lacks:.3g} it lacks; raise the cap with --tfpcheck-steps / "
                               "--steps")
    return Verdict(
        "learns", False,
        f"after {t.steps_run} steps the model's data term is {np.mean(model):.4g} per example, "
        f"no better than {np.mean(t.twin_terms):.4g} for the same model trained without x "
        f"(gain {mean:.3g} per example, {z:.2g} standard errors; needed > {LEARNS_Z:g})",
        t.steps_run, evidence,
    )


def _gained(t: Trace) -> bool:
    """The whole-set data term ended below its value at step 0. A last window that fell is "still
    improving" only then: a data term that training made worse (a KL that outweighs it, bought
    with the fit: 1.31 at step 0, 1.97 at the cap, its last window 0.02 lower) is not on its way
    to beating the twin, however the last window moved."""
    ev = t.evaluations
    return len(ev) >= 2 and math.isfinite(ev[0]) and math.isfinite(ev[-1]) and ev[-1] < ev[0]


def closing(t: Trace, model: Any, twin: Any) -> tuple[float, float, int] | None:
    """``(how much faster than its twin's the model's whole-set data term fell per step over the
    last CLOSING_SPAN of the steps (the least-squares slope of their difference: single
    evaluations of a variational model are noisy), what the model lacks to beat its twin, the
    step the span starts)`` where that pace, kept up for CLOSING_HORIZON times as many steps
    again, makes up what it lacks; None otherwise, on rescaled data, and where the twin's own
    evaluations over the span are unread."""
    c = t.config
    if (c.x_scale, c.x_offset, c.y_scale, c.y_offset) != (1.0, 0.0, 1.0, 0.0) or not t.evaluation_steps:
        return None
    end_step = t.evaluation_steps[-1]
    twin_at = dict(t.twin_evaluations)
    span = [(s, v - twin_at[s]) for s, v in zip(t.evaluation_steps, t.evaluations, strict=False)
            if s >= end_step * (1 - CLOSING_SPAN) and s in twin_at]
    if len(span) < 3 or not all(math.isfinite(d) for _, d in span):
        return None
    pace = -float(np.polyfit([s for s, _ in span], [d for _, d in span], 1)[0])
    gain = np.asarray(twin, dtype=float) - np.asarray(model, dtype=float)
    if gain.size < 2 or not np.all(np.isfinite(gain)):
        return None
    lacks = float(-np.mean(gain) + LEARNS_Z * np.std(gain, ddof=1) / math.sqrt(gain.size))
    if not pace > 0 or pace * CLOSING_HORIZON * end_step < lacks:
        return None
    return pace, lacks, span[0][0]


def out_of_reach(t: Trace) -> Verdict | None:
    """learns' failure where training has been closing the predictive means' gap to the targets'
    average so slowly that REACH_HORIZON times the steps run would not close it (on more than
    UNREACHED_SHARE of the columns); None otherwise, where the untrained gaps are unread, and for
    a variational model: its untrained gap is one weight draw's, the trained one the mean over
    draws, and a wide draw at step 0 spans the average by chance (TFP's regression tutorial's
    case 4 went 0.6 -> 0.67 sd and learns by 4x the cap)."""
    end, start = t.mean_gaps, t.mean_gaps_start
    if not end or not start or len(end) != len(start) or not t.steps_run or t.layers_start:
        return None
    steps = t.steps_run
    to_go = {j: (g1 - UNREACHED_GAP) / ((g0 - g1) / steps) if g0 > g1 else math.inf
             for j, (g0, g1) in enumerate(zip(start, end, strict=True)) if g1 > UNREACHED_GAP}
    beyond = [j for j, n in to_go.items() if n > REACH_HORIZON * max(steps, DEFAULT_STEPS)]
    if len(beyond) <= UNREACHED_SHARE * len(end):
        return None
    j = max(beyond, key=lambda k: end[k])  # the farthest of the columns out of reach
    need = to_go[j]
    pace = ("training has brought them no closer" if math.isinf(need) else
            f"at the pace training has closed the gap it would need about {need:.2g} more steps, "
            f"over {REACH_HORIZON:g} times {max(steps, DEFAULT_STEPS)}")
    return Verdict(
        "learns", False,
        f"after {steps} steps (the cap) the model's predictive means are still {end[j]:.3g} target "
        f"standard deviations from the targets' average (column {j}; {start[j]:.3g} at step 0): {pace}",
        steps, {"mean_gap_start": start[j], "mean_gap_end": end[j], "steps_to_reach": need,
                "unreached_share": unreached_share(t), "steps": steps},
    )


def unreached_share(t: Trace) -> float | None:
    """Share of target columns whose mean the model's predictive means never reach
    (UNREACHED_GAP); None when there is no predictive mean to compare."""
    if not t.mean_gaps:
        return None
    return float(np.mean(np.asarray(t.mean_gaps) > UNREACHED_GAP))


def reaches(t: Trace) -> bool:
    """The model's predictive means reach the targets' average on all but UNREACHED_SHARE of the
    columns (or there is no predictive mean to compare)."""
    share = unreached_share(t)
    return share is None or share <= UNREACHED_SHARE  # learns' own test, for the engine


def paired_gain(model: Any, twin: Any) -> tuple[float, float]:
    """``(mean, z)`` of the per-example gain ``twin - model``: how much better the model's data
    term is, and in how many standard errors of that mean."""
    with np.errstate(invalid="ignore"):  # inf - inf: a NaN gain, which beats nothing
        gain = np.asarray(twin, dtype=float) - np.asarray(model, dtype=float)
        mean, se = float(np.mean(gain)), float(np.std(gain, ddof=1) / math.sqrt(gain.size))
    return mean, mean / se if se > 0 else (math.inf if mean > 0 else 0.0)


def beats(model: Any, twin: Any) -> bool:
    """The model's per-example data term beats its x-denied twin's (LEARNS_Z)."""
    mean, z = paired_gain(model, twin)
    return mean > 0 and z > LEARNS_Z


def posterior_not_collapsed(t: Trace) -> Verdict:
    """No variational layer ends on its prior (KL_COLLAPSE_NATS) or on a point (POINT_COLLAPSE_RATIO)."""
    if t.layers_start and not t.layers_end and "final_evaluation_error" in t.notes:
        return _not_applicable("posterior_not_collapsed", "the trained variational layers could "
                               f"not be read ({t.notes['final_evaluation_error']})")
    conflict = prior_conflict(t)
    if conflict is not None:
        return conflict
    unseen = t.unseen_spread
    if unseen is not None and unseen["ratio"] <= UNSEEN_SPREAD_LIMIT:
        return Verdict(
            "posterior_not_collapsed", False,
            f"the factorised posterior of '{unseen['layer']}' is {unseen['ratio']:.3g} times the "
            f"prior's spread along a combination of its weights the inputs cannot see (columns "
            f"{unseen['columns']} are exactly collinear), where the data leave the prior's spread "
            f"(at most {UNSEEN_SPREAD_LIMIT:g} allowed): it claims a certainty the data do not "
            "give", t.steps_run,
            {"collapse": "factorised", "layer": unseen["layer"], "unseen_spread_ratio": unseen["ratio"],
             "collinear_columns": unseen["columns"]},
        )
    for layer in t.layers_end:
        onto_prior = layer.kl_per_weight < KL_COLLAPSE_NATS and not layer.prior_trainable
        onto_point = _spread_ratio(layer) < POINT_COLLAPSE_RATIO
        if onto_prior or onto_point:
            kind = "onto its prior" if onto_prior else "onto a point"
            return Verdict(
                "posterior_not_collapsed", False,
                f"{layer.kind} '{layer.name}' collapsed {kind}: KL {layer.kl_per_weight:.3g} nats "
                f"per weight, posterior stddev {layer.posterior_stddev:.3g} vs prior "
                f"{layer.prior_stddev:.3g}", t.steps_run,
                {"layer": layer.name, "collapse": "prior" if onto_prior else "point",
                 "kl_per_weight": layer.kl_per_weight, "posterior_stddev": layer.posterior_stddev,
                 "prior_stddev": layer.prior_stddev, "n_weights": layer.n_weights},
            )
    return _kl_weight(t)


def _spread_ratio(layer: Any) -> float:
    """The layer's posterior stddev over its prior's (inf for a point prior)."""
    return layer.posterior_stddev / layer.prior_stddev if layer.prior_stddev > 0 else math.inf


def prior_conflict(t: Trace) -> Verdict | None:
    """A fixed prior PRIOR_CONFLICT_RATIO times narrower than its posterior at the first step and
    still narrower at the last: the violation, else None."""
    start = {layer.name: layer for layer in t.layers_start}
    for layer in t.layers_end:
        first = start.get(layer.name)
        if layer.prior_trainable or first is None or not math.isfinite(_spread_ratio(layer)):
            continue
        if _spread_ratio(first) > PRIOR_CONFLICT_RATIO and _spread_ratio(layer) > 1.0:
            return Verdict(
                "posterior_not_collapsed", False,
                f"{layer.kind} '{layer.name}' is being pulled onto a prior that fights the data: "
                f"its fixed prior (stddev {layer.prior_stddev:.3g}) is {_spread_ratio(layer):.3g} "
                f"times narrower than the trained posterior (stddev {layer.posterior_stddev:.3g}; "
                f"{_spread_ratio(first):.3g} times at the start), at a KL of "
                f"{layer.kl_per_weight:.3g} nats per weight: trained on, the weights end on the "
                "prior's mean", t.steps_run,
                {"layer": layer.name, "collapse": "prior_conflict",
                 "prior_stddev": layer.prior_stddev, "posterior_stddev": layer.posterior_stddev,
                 "posterior_stddev_start": first.posterior_stddev,
                 "kl_per_weight": layer.kl_per_weight, "n_weights": layer.n_weights},
            )
    return None


def _kl_parts(t: Trace) -> tuple[float, float] | None:
    """(KL terms in the loss, mean over the last quarter; KL of the layers' posteriors to their
    priors); None where either is unread."""
    of_layers = sum(layer.kl_per_weight * layer.n_weights for layer in t.layers_end)
    if not t.layers_end or not t.kl_terms or not of_layers > 0:
        return None
    q = max(1, len(t.kl_terms) // 4)
    return float(np.mean(t.kl_terms[-q:])), of_layers


def kl_weight(t: Trace) -> float | None:
    """The KL term's weight in the loss (the per-example ELBO's is 1/n_train); None if unread."""
    parts = _kl_parts(t)
    weight = parts[0] / parts[1] if parts else None
    return weight if weight is not None and math.isfinite(weight) else None


def _kl_weight(t: Trace) -> Verdict:
    """An over-weighted KL term (KL_WEIGHT_FACTOR times the per-example ELBO's 1/n_train)."""
    weight, n = kl_weight(t), t.config.n_train
    if weight is None or weight <= KL_WEIGHT_FACTOR / n:
        return _sampling_noise(t)
    in_loss, of_layers = _kl_parts(t) or (math.nan, math.nan)
    return Verdict(
        "posterior_not_collapsed", False,
        f"the KL term enters the loss with weight about {weight:.2g} (its share of the loss over the last "
        f"quarter of the steps, per unit of the layers' KL at the end), {weight * n:.2g} times the 1/n_train "
        f"= {1 / n:.3g} of the per-example ELBO: the prior outweighs the data and pushes the "
        "posterior onto it" + (f" (an add_loss term of rank {t.loss_terms_rank}: Keras 3 sums its "
                               "elements silently, where tf_keras raised)" if t.loss_terms_rank else ""),
        t.steps_run,
        {"collapse": "kl_weight", "kl_weight": weight, "expected_kl_weight": 1 / n,
         "kl_in_loss": in_loss, "kl_of_layers": of_layers,
         **({"add_loss_rank": t.loss_terms_rank} if t.loss_terms_rank else {})},
    )


def _grew(t: Trace) -> bool:
    """A posterior that ended SPREAD_GROWN times as wide as it started."""
    start = {layer.name: layer.posterior_stddev for layer in t.layers_start}
    return any(layer.posterior_stddev > SPREAD_GROWN * start.get(layer.name, math.inf)
               for layer in t.layers_end)


def sampling_dominated(t: Trace) -> bool:
    """The trained model's predictions are dominated by its weights' sampling noise: they move
    between draws by more than SAMPLING_NOISE_LIMIT target sds or SAMPLING_SPREAD_RATIO of the
    predictive's own sd."""
    noise, ratio = t.prediction_noise, t.draw_spread_ratio
    return bool(t.layers_end) and ((noise is not None and noise > SAMPLING_NOISE_LIMIT)
                                   or (ratio is not None and ratio > SAMPLING_SPREAD_RATIO))


def narrowing(t: Trace) -> tuple[str, float, float, int] | None:
    """``(layer, spread before, spread now, step before)`` for a variational layer whose
    narrowest weights lost more than NARROWING_SHARE of their spread over the last
    NARROWING_SPAN of the steps; None when none did (or the path was not recorded)."""
    path = t.posterior_path
    if len(path) < 2 or not t.layers_end or len(path[-1][1]) != len(t.layers_end):
        return None
    end_step, end = path[-1]
    since = end_step * (1 - NARROWING_SPAN)
    step, before = next((p for p in path if p[0] >= since and p[0] < end_step), path[-2])
    for layer, b, a in zip(t.layers_end, before, end, strict=False):
        if b > 0 and a < (1 - NARROWING_SHARE) * b:
            return layer.name, b, a, step
    return None


#: Why weight draws that still swamp the predictions while the posterior narrows are
#: inconclusive, and what makes such a posterior learn within the cap.
SLOWER_THAN_CAP = ("the data inform the weights, slower than the cap. A posterior started narrow "
                   "(untransformed scale near -3: softplus -> 0.05) or weights drawn per example "
                   "(DenseFlipout) learn within it")


def _sampling_noise(t: Trace) -> Verdict:
    """Predictions dominated by the weights' sampling noise (SAMPLING_NOISE_LIMIT, SAMPLING_SPREAD_RATIO)."""
    if not sampling_dominated(t) or _grew(t):
        return _ok("posterior_not_collapsed")
    noise, ratio = t.prediction_noise, t.draw_spread_ratio
    still = narrowing(t)
    if still is not None:
        layer, before, after, since = still
        swamped = noise is not None and noise > SAMPLING_NOISE_LIMIT
        moves = (f"{noise:.3g} target standard deviations" if swamped
                 else f"{ratio:.3g} times the predictive's own standard deviation")
        return _not_applicable(
            "posterior_not_collapsed",
            f"inconclusive: after {t.steps_run} steps (the cap) the weights' draws still move the "
            f"predictions by {moves}, but the posterior is still narrowing ('{layer}': its "
            f"narrowest weights' stddev {before:.3g} at step {since} -> {after:.3g}): "
            f"{SLOWER_THAN_CAP}; or raise the cap with --tfpcheck-steps / --steps")
    widest = max(t.layers_end, key=_spread_ratio)
    if noise is not None and noise > SAMPLING_NOISE_LIMIT:
        symptom = (f"the predictions move by {noise:.3g} target standard deviations between weight "
                   f"draws (at most {SAMPLING_NOISE_LIMIT:g})")
    else:
        symptom = (f"the predictive mean moves between weight draws by {ratio:.3g} times the "
                   f"predictive's own standard deviation (at most {SAMPLING_SPREAD_RATIO:g}): each "
                   "draw is confident about a mean the next draw moves")
    return Verdict(
        "posterior_not_collapsed", False,
        f"after {t.steps_run} steps {symptom}: the posterior kept the spread "
        f"it started with ('{widest.name}': stddev {widest.posterior_stddev:.3g}, prior "
        f"{widest.prior_stddev:.3g}), so the data have not informed the weights", t.steps_run,
        {"collapse": "sampling_noise", "prediction_noise": noise, "draw_spread_ratio": ratio,
         "layer": widest.name, "posterior_stddev": widest.posterior_stddev,
         "prior_stddev": widest.prior_stddev},
    )


#: The tasks whose targets bound what a prediction may be (engine/domain.py's DOMAINS).
_BOUNDED_TASKS = ("count", "positive", "binary")


def predictive_in_domain(t: Trace) -> Verdict:
    """The trained model predicts values the targets can take (OUTSIDE_DOMAIN_SHARE)."""
    share = t.outside_domain
    if share is None and t.config.task in _BOUNDED_TASKS:
        why = _domain_unjudged(t)
        if why is not None:
            return _not_applicable("predictive_in_domain", why)
    if share is None or share <= OUTSIDE_DOMAIN_SHARE:
        return _ok("predictive_in_domain")
    return Verdict(
        "predictive_in_domain", False,
        f"after {t.steps_run} steps {share:.1%} of {t.output_distribution}'s predictive draws "
        f"are values the targets cannot take (the targets are {t.domain}; allowed "
        f"{OUTSIDE_DOMAIN_SHARE:.0%})", t.steps_run,
        {"outside_domain_share": share, "domain": t.domain,
         "distribution": t.output_distribution},
    )


def _domain_unjudged(t: Trace) -> str | None:
    """Why no predictive draws were judged on a bounded task, or None when nothing stopped it
    (a failed training is reported by finite_loss and friends)."""
    if "final_evaluation_error" in t.notes:
        return f"the trained model could not be evaluated ({t.notes['final_evaluation_error']})"
    if "predictive_sample_error" in t.notes:
        return f"no predictive draws could be taken ({t.notes['predictive_sample_error']})"
    if t.data_terms is not None and t.output_distribution is None:
        return f"the model's output is {t.output_kind}: no predictive distribution to draw from"
    return None


def _last_finite(values: list[float]) -> float | None:
    finite = [v for v in values if math.isfinite(v)]
    return finite[-1] if finite else None


def _median(values: list[float]) -> float | None:
    arr = np.asarray([v for v in values if math.isfinite(v)], dtype=float)
    return float(np.median(arr)) if arr.size else None
