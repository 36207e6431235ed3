"""The invariant registry: each invariant defined once — name, check, diagnosis, docs.

The check (``_checks``) turns a Trace into a Verdict; the diagnosis rule
(``_diagnose``) turns a violated Verdict into a cause and a fix. ``holds_when`` and
``threshold`` are the README's table row, rendered from the same constants the
checks use (a test keeps the README equal to :func:`readme_table`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from tfpcheck import _checks as c
from tfpcheck import _diagnose as d
from tfpcheck._checks import Verdict
from tfpcheck._diagnose import Diagnosis, Rule
from tfpcheck._trace import Trace

__all__ = ["INVARIANTS", "REGISTRY", "Invariant", "check_invariant", "diagnose", "evaluate",
           "group", "readme_table"]


@dataclass(frozen=True)
class Invariant:
    """One invariant: its stable name, how it is checked and diagnosed, and its docs."""

    name: str
    check: Callable[[Trace], Verdict]
    diagnose: Rule
    holds_when: str
    threshold: str = "—"
    #: The invariants whose failure this one's failure explains: reported as its
    #: consequences, never as findings of their own (see :func:`group`).
    explains: tuple[str, ...] = ()


REGISTRY: dict[str, Invariant] = {inv.name: inv for inv in (
    Invariant("builds", c.builds, d.builds,
              "factory, compile, a forward pass and every training step run"),
    Invariant("finite_loss", c.finite_loss, d.nonfinite, "every step's loss is finite",
              explains=(
                  "finite_gradients",  # the gradient of a NaN/inf loss is NaN/inf
                  "no_divergence",  # a non-finite loss is a blown-up loss
                  "learns",  # weights a NaN gradient reached are NaN: the NLL is too
              )),
    Invariant("finite_gradients", c.finite_gradients, d.nonfinite,
              "every gradient of every step is finite",
              explains=(
                  "finite_loss",  # a NaN/inf update makes the weights, then the loss, NaN
                  "no_divergence",  # the loss after a NaN update is NaN, not lower
                  "learns",  # NaN weights can't beat the baseline
              )),
    Invariant("positive_scales", c.positive_scales, d.positive_scales,
              "every parameter of every distribution (output head, posteriors, priors, nested) "
              "lies in its TFP constraint, read from `parameter_properties()`; a tensor output that a "
              "Keras cross-entropy reads as probabilities (not `from_logits`) lies in [0, 1]",
              "the constraining bijector inverts it to a finite value (`probs` may touch 0 and "
              "1; for a scale TFP's bijector is softplus with `low` = float eps, so a scale that "
              "underflowed below 1.2e-7 in float32 counts too; a lower-triangular scale needs a "
              "non-zero diagonal, TFP's contract, of either sign)",
              explains=(
                  "finite_loss",  # a scale <= 0 (or rate < 0) gives log-prob NaN/inf
                  "finite_gradients",  # ...and so NaN/inf gradients
                  "no_divergence",  # a scale collapsing to 0 sends the NLL to +inf
                  "learns",  # a model whose parameters left their domain can't fit
                  "predictive_in_domain",  # draws from an invalid parameter are NaN/invalid
              )),
    Invariant("loss_shape", c.loss_shape, d.loss_shape, "the per-example loss has the batch's shape",
              "leading dim = batch and no more elements than the targets (a loss of one number, "
              "shape () or (1,), with no per-example log_prob: not applicable); the output "
              "distribution's values per example (batch shape past the examples' axis, then event "
              "shape) as many as a target row's, or one (a note: each column scored against it)",
              explains=(
                  "learns",  # a broadcast (N, N) loss trains on mismatched pairs: no fit
                  "no_divergence",  # ...and its gradient can push the loss up
              )),
    Invariant("data_in_support", c.data_in_support, d.data_in_support,
              "every target has a finite log-prob at initialisation (and passes TFP's "
              "`validate_args`); under a plain Keras loss, a finite loss and a value the loss "
              "scores (`poisson`: >= 0; a non-sparse cross-entropy: in [0, 1])",
              explains=(
                  "finite_loss",  # log-prob of a target outside the support is -inf/NaN
                  "finite_gradients",  # ...and so is its gradient
                  "no_divergence",  # an infinite loss counts as a blown-up one
                  "learns",  # the model's NLL on such targets is infinite
              )),
    Invariant("no_divergence", c.no_divergence, d.no_divergence, "the loss does not blow up",
              f"last-tenth median ≤ first-tenth median + max({c.DIVERGENCE_MIN_NATS:g} nat, "
              f"{c.DIVERGENCE_REL:.0%}); the whole-set data term at the end ≤ its value at step 0 "
              "+ the same; a loss that rose less than that, with its KL term's last-tenth median "
              "above its step-0 value by more than the same, diverged too",
              explains=("learns",)),  # a loss that went up ends above where it began
    Invariant("learns", c.learns, d.learns,
              "the trained model's data term (its loss without KL/regularisation terms) beats "
              "its x-denied twin's: the same model, loss and budget trained on features replaced "
              "by their mean; works for any loss and head, fixed scales included",
              f"paired per-example gain > {c.LEARNS_Z:g} standard errors, and the predictive "
              "means (under a plain MSE, probability cross-entropy or poisson loss: the outputs) "
              f"reach the targets' average (within {c.UNREACHED_GAP:g} sd) on at least "
              f"{1 - c.UNREACHED_SHARE:.0%} of the target columns (a head confined like its twin "
              "beats it by nothing that counts); a data term still falling at the step cap and "
              "below its step-0 value, or on data "
              "as given a data term that fell faster than the twin's over the last "
              f"{c.CLOSING_SPAN:.0%} of the steps by enough to make up what it lacks within "
              f"{1 + c.CLOSING_HORIZON:g}× the cap, or a failure at the cap that no intervention "
              "explains and that learns when re-run at 4× the cap, is *inconclusive* (a note, not "
              "a failure), unless a model without variational layers, its predictive means short "
              "of the targets' average, closed that gap since step 0 at a pace that needs more "
              f"than {c.REACH_HORIZON:g}× the steps run (or the default cap, if more) to reach it "
              "on most columns; not applicable below "
              f"{c.LEARNS_MIN_EXAMPLES} training examples or where x carries nothing (no columns, "
              "or all constant: a density of y alone is its own twin); fails at step 0 where the "
              "loss is +log_prob of the targets (within a relative "
              f"{c.SIGN_RTOL:g}, on every example); costs a second training of the same length"),
    Invariant("posterior_not_collapsed", c.posterior_not_collapsed, d.collapsed,
              "no variational layer ends on its prior or on a point, nor is pushed onto its "
              "prior by an over-weighted KL term or dragged onto a fixed prior far narrower than "
              "it, nor left so wide that weight draws swamp the predictions, nor (factorised) "
              "narrow along a combination of weights collinear features hide from the data",
              f"KL < {c.KL_COLLAPSE_NATS:g} nats/weight (fixed prior), or posterior sd < "
              f"{c.POINT_COLLAPSE_RATIO:g} × prior sd, or a fixed prior's sd < posterior sd / "
              f"{c.PRIOR_CONFLICT_RATIO:g} at the first step and < posterior sd at the last, or the KL "
              "weighted in the loss > "
              f"{c.KL_WEIGHT_FACTOR:g} / n_train (read as KL in the loss ÷ the layers' KL), or the "
              f"predictive means' spread across weight draws > {c.SAMPLING_NOISE_LIMIT:g} × the "
              f"targets' sd or > {c.SAMPLING_SPREAD_RATIO:g} × the predictive's own sd (posteriors "
              f"not grown past {c.SPREAD_GROWN:g}× their initial sd; a model so swamped trains to "
              "the cap, and one whose posterior's narrowest tenth of weights lost more than "
              f"{c.NARROWING_SHARE:.0%} of its sd over the last {c.NARROWING_SPAN:.0%} of the steps "
              "is still narrowing: *inconclusive*, a note, as is one that holds when the same "
              f"configuration is trained to {c.LONGER_RUN}× the cap), or a "
              f"factorised first-layer posterior's sd along a direction x cannot see ≤ "
              f"{c.UNSEEN_SPREAD_LIMIT:g} × the prior's",
              explains=("learns",  # a posterior on its prior ignores the data
                        "no_divergence")),  # and loses the fit it had: its data term rises
    Invariant("predictive_in_domain", c.predictive_in_domain, d.in_domain,
              "the trained model predicts values the task's targets can take (count: ≥ 0, "
              "positive: > 0, binary: in [0, 1]; none for regression/categorical)",
              f"at most {c.OUTSIDE_DOMAIN_SHARE:.0%} of predictive draws (4 passes × 8 draws per "
              "example) outside"),
)}

#: The stable invariant names, in the order they are checked and reported.
INVARIANTS = tuple(REGISTRY)


def check_invariant(name: str, trace: Trace) -> Verdict:
    return REGISTRY[name].check(trace)


def evaluate(trace: Trace, names: tuple[str, ...] = INVARIANTS) -> list[Verdict]:
    """Verdicts for ``names``; if the model did not build, only ``builds`` is judged."""
    built = c.builds(trace)
    if not built.holds:
        return [built]
    return [REGISTRY[n].check(trace) for n in names]


def diagnose(verdict: Verdict, trace: Trace) -> Diagnosis:
    """The most likely cause of ``verdict`` given the whole ``trace``."""
    # A loss of the wrong sign runs all of training the wrong way: it is the cause of whatever
    # fails, ahead of every rule's reading of the evidence.
    named = d.loss_sign(trace)
    cause, fix, extra = named if named is not None else REGISTRY[verdict.invariant].diagnose(verdict, trace)
    return Diagnosis(cause, fix, {**verdict.evidence, **extra})


def group(verdicts: Iterable[Verdict]) -> list[tuple[Verdict, list[str]]]:
    """One root per independent failure, each with its echoes: ``(root, consequences)``.

    The violated verdicts are taken in the order they happened (step, None last; at the
    same step an invariant before those it explains one way, e.g. ``data_in_support`` before
    ``finite_loss`` at step 0; then registry order). Each one not yet claimed is a root, and
    claims every still-unclaimed violated invariant it ``explains``; a violation explained by
    an earlier root is never a root of its own. Consequences are listed in the same order.
    """
    violated = sorted((v for v in verdicts if not v.holds), key=_happened)
    claimed: set[str] = set()
    out: list[tuple[Verdict, list[str]]] = []
    for root in violated:
        if root.invariant in claimed:
            continue
        claimed.add(root.invariant)
        # A loss of the wrong sign (learns at step 0) runs all of training the wrong way:
        # whatever fails after it (a loss that falls to -inf, NaN) is its echo.
        wrong_sign = root.evidence.get("loss_equals_log_prob")
        explains = INVARIANTS if wrong_sign else REGISTRY[root.invariant].explains
        echoes = [v.invariant for v in violated
                  if v.invariant in explains and v.invariant not in claimed]
        claimed.update(echoes)
        out.append((root, echoes))
    return out


def _happened(v: Verdict) -> tuple[bool, int, int, int]:
    return (v.step is None, v.step or 0, _EXPLAINED_BY[v.invariant], INVARIANTS.index(v.invariant))


#: How many invariants explain each one without it explaining them back. ``explains`` is
#: transitive (a test keeps it so), so an invariant always has fewer than those it explains
#: one way: sorting by this puts a cause before its echoes at the same step.
_EXPLAINED_BY = {
    name: sum(name in i.explains and i.name not in REGISTRY[name].explains
              for i in REGISTRY.values())
    for name in INVARIANTS
}


def readme_table() -> str:
    """The README's invariant table, as Markdown."""
    rows = ["| name | holds when | threshold |", "| --- | --- | --- |"]
    rows += [f"| `{i.name}` | {i.holds_when} | {i.threshold} |" for i in REGISTRY.values()]
    return "\n".join(rows)
