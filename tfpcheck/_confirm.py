"""Confirming a cause by intervention: the minimal failure re-run with one factor changed.

A rule in ``_diagnose`` reads a cause from the trace; here that cause, and the others a
violated invariant can have that the trace holds some evidence for (all of them when the
rule found none), are tested on the final shrunk failure only. Each candidate
with an intervention is re-run with that one change (learning rate / 10, and at most the top of
its usual range; data standardised; KL divided by n_train; float64; targets reshaped to the
parameter's shape; the priors widened; the predictive averaged over weight draws); the first whose
change alone makes the failure go (its invariant and its echoes hold, nothing else newly
fails) is ``confirmed``. Causes that need a code change
(parameterization, distribution_choice, tfp_layer_misuse, keras_version) come from direct
evidence and are not re-run; neither is variational_family, which no change of a configuration
tests on a user's model.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tfpcheck._checks import LONGER_RUN, SAMPLING_NOISE_LIMIT, SLOWER_THAN_CAP, kl_weight
from tfpcheck._config import Config
from tfpcheck._diagnose import FIXES, KL_ALREADY_DIVIDED, grad_blew_up, has_evidence
from tfpcheck._invariants import evaluate
from tfpcheck._report import Finding
from tfpcheck._trace import Trace

__all__ = ["AVERAGED_PASSES", "Intervention", "LONGER_RUN", "MAX_INTERVENTIONS", "PRIOR_WIDENING",
           "confirm", "intervention_for", "outlasts", "settle"]

#: At most this many re-runs per finding: each costs one brief training of model and twin.
MAX_INTERVENTIONS = 3
#: The causes each violated invariant can have, tested after the rule's own, in order, where
#: the trace holds evidence for them (``_diagnose.has_evidence``), or all when it names none.
HYPOTHESES: dict[str, tuple[str, ...]] = {
    "finite_loss": ("optimizer_settings", "numerical_instability", "data_scale"),
    "finite_gradients": ("optimizer_settings", "numerical_instability", "data_scale"),
    "positive_scales": ("optimizer_settings", "numerical_instability"),
    "no_divergence": ("optimizer_settings", "data_scale"),
    "learns": ("optimizer_settings", "kl_scaling", "data_scale", "prior_mismatch", "mc_sampling"),
    "posterior_not_collapsed": ("kl_scaling", "prior_mismatch", "data_scale"),
    "loss_shape": ("shape_broadcast",),
}
#: Causes a rule names from direct evidence of a code defect: no configuration change tests them.
CODE_CAUSES = ("parameterization", "distribution_choice", "tfp_layer_misuse", "keras_version")
#: How much wider the prior_mismatch intervention makes every prior of the model's variational
#: layers: a 1e-3 prior becomes 0.1, a 1e-4 one 0.01 -- near the ~0.05 a default posterior starts
#: at, where the KL stops dragging it.
PRIOR_WIDENING = 100.0
#: Weight draws whose predictive the mc_sampling intervention averages (Bayesian model averaging,
#: ``engine/passes.py``): the data term becomes -log of the mean likelihood over this many draws.
AVERAGED_PASSES = 16
#: The optimizer_settings intervention lowers the rate tenfold, and at least to the top of the
#: range the optimizer is used in (the fix's 1e-3 to 1e-2 for Adam and the other adaptive ones,
#: 0.1 for SGD): Adam at 3 lowered to 0.3 still diverged, at 0.01 it trained (measured).
ADAPTIVE_RATE_CEILING = 1e-2
RATE_CEILING = {"sgd": 0.1}
#: Features whose means and spreads are this close to 0 and 1 are standardised already.
STANDARD_TOLERANCE = 0.1

@dataclass(frozen=True)
class Intervention:
    """One factor changed: the configuration (and engine adjustment) re-run, in the report's words."""

    config: Config
    adjust: frozenset[str]
    changed: dict[str, Any]


def intervention_for(cause: str, trace: Trace) -> Intervention | None:
    """The change that tests ``cause`` on this failure; None where none applies (the change
    would do nothing here, or no configuration change tests the cause)."""
    c = trace.config
    if cause == "optimizer_settings":
        lr = min(c.learning_rate / 10, RATE_CEILING.get(c.optimizer, ADAPTIVE_RATE_CEILING))
        return Intervention(dataclasses.replace(c, learning_rate=lr), frozenset(),
                            {"learning_rate": f"{c.learning_rate:g} -> {lr:g}"})
    if cause == "numerical_instability" and c.dtype != "float64":
        return Intervention(dataclasses.replace(c, dtype="float64"), frozenset(),
                            {"dtype": f"{c.dtype} -> float64"})
    if cause == "data_scale" and not _standardised(trace):
        return Intervention(c, frozenset({"standardise"}),
                            {"data": "features (and real-valued targets) standardised"})
    if cause == "kl_scaling" and _kl_undivided(trace):
        return Intervention(c, frozenset({"kl_per_example"}),
                            {"kl_terms": f"divided by n_train={c.n_train}"})
    if cause == "prior_mismatch" and any(not layer.prior_trainable for layer in trace.layers_last):
        return Intervention(c, frozenset({"prior_widened"}),
                            {"priors": f"{PRIOR_WIDENING:g} times wider"})
    if cause == "mc_sampling" and trace.layers_end and trace.prediction_noise:
        return Intervention(c, frozenset({"predictive_averaged"}),
                            {"predictive": f"averaged over {AVERAGED_PASSES} weight draws"})
    if cause == "shape_broadcast" and trace.target_shape and trace.target_shape[-1:] == (1,):
        shape = trace.target_shape
        return Intervention(c, frozenset({"targets_as_parameter"}),
                            {"targets": f"{shape} -> {shape[:-1]}"})
    if cause == "shape_broadcast" and trace.target_shape and len(trace.target_shape) == 1:
        shape = trace.target_shape
        return Intervention(c, frozenset({"targets_as_column"}), {"targets": f"{shape} -> {(*shape, 1)}"})
    return None


def _zero_after_blow_up(finding: Finding, trace: Trace) -> bool:
    """A scale that was valid at step 0 and hit exactly 0 later, after the gradient blew up: a
    softplus head underflowing (its input below -100) once a rate too high blew the weights up
    (measured: SGD at 100x its rate, an IndependentNormal's scale exactly 0 at step 7), or a ReLU
    head thrown there. The parameterization rule cannot tell them apart, so the other candidates
    are tested too. Without a blow-up the zero is a ReLU's kink (measured on drawn specs: every
    high_lr zero came after the gradient norm grew 500-2e12 times, the scale's largest value
    1.6e4-4e13; ReLU heads hit 0 with gradients steady, largest values 0.4-1.5), and a lower rate
    that only delays it confirms nothing."""
    return (finding.invariant == "positive_scales" and (finding.step or 0) > 0
            and finding.evidence.get("min") == 0.0 and grad_blew_up(trace, finding.step))


def _kl_undivided(trace: Trace) -> bool:
    """The KL weighs more than KL_ALREADY_DIVIDED / n_train in the loss, or its weight could not
    be read while KL terms are there (then the intervention is the test); never where the model's
    own train_step or compute_loss weighs them (``Trace.kl_raw``): dividing them where Keras adds
    them changes nothing there."""
    if trace.kl_raw:
        return False
    weight = kl_weight(trace)
    if weight is None:
        return any(k != 0 for k in trace.kl_terms)
    return weight * trace.config.n_train > KL_ALREADY_DIVIDED


def _standardised(trace: Trace) -> bool:
    s = trace.data_stats
    if not s:
        return True
    near = lambda v, target: abs(v - target) <= STANDARD_TOLERANCE  # noqa: E731
    y_ok = trace.config.task != "regression" or (near(s["y_abs_mean"], 0) and near(s["y_std"], 1))
    return near(s["x_abs_mean"], 0) and near(s["x_std_min"], 1) and near(s["x_std_max"], 1) and y_ok


#: Re-runs one intervention: (config, adjust) -> the new trace.
Runner = Callable[[Config, frozenset[str]], Trace]


def confirm(finding: Finding, trace: Trace, invariants: tuple[str, ...], run: Runner) -> Finding:
    """``finding`` with its cause confirmed by the first intervention that makes it go
    (its invariant and echoes hold, nothing new fails), or left suspected (``confirmed`` False)
    with what was tried; a finding whose rule found no evidence and no intervention confirmed
    stays ``unclassified``."""
    if (finding.cause in CODE_CAUSES and not _zero_after_blow_up(finding, trace)) or (
            finding.invariant not in HYPOTHESES):
        return finding
    before = {v.invariant for v in evaluate(trace, invariants) if not v.holds}
    others = before - {finding.invariant, *finding.consequences}  # other roots may stay
    tried: list[dict[str, Any]] = []
    # Candidates from evidence; with none (unclassified) every cause the invariant can have
    # is tried, since a change that alone makes the failure go is evidence in itself.
    open_minded = finding.cause == "unclassified"
    order = [finding.cause, *(h for h in HYPOTHESES[finding.invariant]
                              if open_minded or has_evidence(h, trace))]
    candidates = [c for i, c in enumerate(order) if c not in order[:i]]
    for cause in candidates:
        if len(tried) >= MAX_INTERVENTIONS:
            break
        iv = intervention_for(cause, trace)
        if iv is None:
            continue
        start = time.perf_counter()
        gone, result = _outcome(run, iv, invariants, finding.invariant, others)
        record = {"cause": cause, "changed": iv.changed, "result": result,
                  "seconds": round(time.perf_counter() - start, 2)}
        tried.append(record)
        if gone:
            verified = ", ".join(f"{k} {v}" for k, v in iv.changed.items())
            fix = finding.fix if cause == finding.cause else FIXES[cause]
            return dataclasses.replace(
                finding, cause=cause, confirmed=True, fix=f"{fix} [verified: with {verified} "
                f"{finding.invariant} holds]",
                intervention={"changed": iv.changed, "result": result, "tried": tried},
            )
    own = next((r for r in tried if r["cause"] == finding.cause), None)
    intervention = ({"changed": own["changed"], "result": own["result"], "tried": tried} if own
                    else {"changed": {}, "result": "no intervention made it pass", "tried": tried}
                    if tried else None)
    return dataclasses.replace(finding, confirmed=False, intervention=intervention)


def settle(
    findings: list[Finding], trace: Trace, invariants: tuple[str, ...], run: Runner,
) -> tuple[list[Finding], list[str]]:
    """The final failure's findings as reported, and the notes for those withdrawn: each cause
    tested by intervention (``confirm``); a failure of speed at the cap (``_slow_at_cap``) that
    none explains re-run longer (``outlasts``) and withdrawn when it then holds."""
    kept, notes = [], []
    for finding in findings:
        finding = confirm(finding, trace, invariants, run)
        note = None if finding.confirmed and not _speed_only(finding, trace) else outlasts(
            finding, trace, run)
        if note is None:
            kept.append(finding)
        else:
            notes.append(note)
    return kept, notes


def _speed_only(finding: Finding, trace: Trace) -> bool:
    """A confirmed cause that shows the model would get there sooner, not that it can't:
    data_scale on the data as they were given (not rescaled or offset by the stress regime),
    since standardising speeds Adam-like steps up on any data wider than unit scale (measured on
    a public Keras 3 Gaussian regression, targets' sd 14, lr 0.00045: learns fails at 1600 steps,
    standardising passes, and the data as given learn by 6400 steps; on raw data the stress
    regime made, the seed's Example 1, the confirmed failure stands); and weight draws that swamp
    the predictions unless averaged, since a posterior still narrowing stops swamping them."""
    c = trace.config
    given = (c.x_scale, c.x_offset, c.y_scale, c.y_offset) == (1.0, 0.0, 1.0, 0.0)
    return (finding.cause == "data_scale" and finding.invariant == "learns" and given) or (
        _swamped(finding))


def _swamped(finding: Finding) -> bool:
    """posterior_not_collapsed for weight draws that swamp the predictions (``_checks._sampling_noise``)."""
    return (finding.invariant == "posterior_not_collapsed"
            and finding.evidence.get("collapse") == "sampling_noise")


def _draws_moved(record: dict[str, Any], ratio: bool) -> str:
    """How far weight draws move the predictions, from a sampling_noise finding's evidence or a
    trace: in target sds, or (``ratio``) in the predictive's own sds."""
    if ratio:
        return f"{record.get('draw_spread_ratio') or 0:.3g} times the predictive's own standard deviation"
    return f"{record.get('prediction_noise') or 0:.3g} target standard deviations"


def _slow_at_cap(finding: Finding, trace: Trace) -> bool:
    """A failure that more steps may undo, found at the step cap: learns, or a posterior whose
    draws still swamp the predictions."""
    return (finding.invariant == "learns" or _swamped(finding)) and trace.steps_run >= trace.config.steps


def outlasts(finding: Finding, trace: Trace, run: Runner) -> str | None:
    """For a failure of speed at the step cap that no intervention explained: the note to
    report instead when the same configuration, trained up to LONGER_RUN times the cap, holds
    the invariant; None when it still fails (or the failure is not of that kind) and the finding
    stands. A confirmed cause keeps its finding: raw data that need 3x the steps (the field
    guide's Example 1) is a data_scale failure, not a late learner."""
    c = trace.config
    if not _slow_at_cap(finding, trace):
        return None
    try:
        longer = run(dataclasses.replace(c, steps=LONGER_RUN * c.steps), frozenset())
    except Exception:  # noqa: BLE001 - the finding stands when the longer run can't be had
        return None
    if any(not v.holds for v in evaluate(longer, (finding.invariant,))):
        return None
    sooner = (f"; with {', '.join(f'{k} {v}' for k, v in finding.intervention['changed'].items())} "
              f"it {'learned' if finding.invariant == 'learns' else 'held'} within the cap "
              f"({finding.cause})") if finding.confirmed else ""
    if finding.invariant == "learns":
        late = (f"after {c.steps} steps the model did not yet beat its x-denied twin, but trained "
                f"on it did by step {longer.steps_run} (it sat on the uninformed solution first)")
    else:
        ratio = not (finding.evidence.get("prediction_noise") or 0) > SAMPLING_NOISE_LIMIT
        late = (f"after {c.steps} steps the weights' draws still moved the predictions by "
                f"{_draws_moved(finding.evidence, ratio)}, but trained on, the posterior narrowed and "
                f"by step {longer.steps_run} by {_draws_moved(vars(longer), ratio)}: {SLOWER_THAN_CAP}")
    return (f"{finding.invariant}: inconclusive at the cap: {late}{sooner}; raise the cap with "
            "--tfpcheck-steps / --steps")


def _outcome(
    run: Runner, iv: Intervention, invariants: tuple[str, ...], invariant: str, others: set[str],
) -> tuple[bool, str]:
    """Whether the change alone made the failure go: ``invariant`` (and its echoes) hold and
    nothing fails that did not fail before, apart from the other roots it leaves alone."""
    try:
        trace = run(iv.config, iv.adjust)
    except Exception as exc:  # noqa: BLE001 - a failed re-run confirms nothing
        return False, f"could not be re-run ({type(exc).__name__}: {exc})"
    verdicts = evaluate(trace, invariants)
    unsure = next((v.note for v in verdicts if v.invariant == invariant and v.holds and v.note), None)
    if unsure:  # inconclusive or not applicable after the change: that is not the failure gone
        return False, f"not settled: {unsure}"
    failing = [v.invariant for v in verdicts if not v.holds]
    if not failing:
        return True, "passes"
    if invariant not in failing and set(failing) <= others:
        return True, f"{invariant} holds (still failing, as before: {', '.join(failing)})"
    return False, "still fails: " + ", ".join(failing)
