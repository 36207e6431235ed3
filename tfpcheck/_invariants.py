"""The invariant registry: each invariant defined once — name, check, diagnosis, docs.

The check (``_checks``) turns a Trace into a Verdict; the diagnosis rule
(``_diagnose``) turns a violated Verdict into a cause and a fix. ``holds_when`` and
``threshold`` are the README's table row, rendered from the same constants the
checks use (a test keeps the README equal to :func:`readme_table`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from tfpcheck import _checks as c
from tfpcheck import _diagnose as d
from tfpcheck._checks import Verdict
from tfpcheck._diagnose import Diagnosis, Rule
from tfpcheck._trace import Trace

__all__ = ["INVARIANTS", "REGISTRY", "Invariant", "check_invariant", "diagnose", "evaluate",
           "readme_table"]


@dataclass(frozen=True)
class Invariant:
    """One invariant: its stable name, how it is checked and diagnosed, and its docs."""

    name: str
    check: Callable[[Trace], Verdict]
    diagnose: Rule
    holds_when: str
    threshold: str = "—"


REGISTRY: dict[str, Invariant] = {inv.name: inv for inv in (
    Invariant("builds", c.builds, d.builds,
              "factory, compile, a forward pass and every training step run"),
    Invariant("finite_loss", c.finite_loss, d.nonfinite, "every step's loss is finite"),
    Invariant("finite_gradients", c.finite_gradients, d.nonfinite,
              "every gradient of every step is finite"),
    Invariant("positive_scales", c.positive_scales, d.positive_scales,
              "every parameter of every distribution (output head, posteriors, priors, nested) "
              "lies in its TFP constraint, read from `parameter_properties()`",
              "the constraining bijector inverts it to a finite value (`probs` may touch 0 and "
              "1; for a scale TFP's bijector is softplus with `low` = float eps, so a scale that "
              "underflowed below 1.2e-7 in float32 counts too)"),
    Invariant("loss_shape", c.loss_shape, d.loss_shape, "the per-example loss has the batch's shape",
              "leading dim = batch and no more elements than the targets"),
    Invariant("data_in_support", c.data_in_support, d.data_in_support,
              "every target has a finite log-prob at initialisation (and passes TFP's "
              "`validate_args`)"),
    Invariant("no_divergence", c.no_divergence, d.no_divergence, "the loss does not blow up",
              f"last-tenth median ≤ first-tenth median + max({c.DIVERGENCE_MIN_NATS:g} nat, "
              f"{c.DIVERGENCE_REL:.0%})"),
    Invariant("learns", c.learns, d.learns,
              "the trained model beats the best constant predictive of the data "
              "(Normal/Laplace/LogNormal/Poisson/Bernoulli/Categorical, closed form)",
              "strictly lower NLL per example"),
    Invariant("posterior_not_collapsed", c.posterior_not_collapsed, d.collapsed,
              "no variational layer ends on its prior or on a point",
              f"KL < {c.KL_COLLAPSE_NATS:g} nats/weight (fixed prior), or posterior sd < "
              f"{c.POINT_COLLAPSE_RATIO:g} × prior sd"),
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
    cause, fix, extra = REGISTRY[verdict.invariant].diagnose(verdict, trace)
    return Diagnosis(cause, fix, {**verdict.evidence, **extra})


def readme_table() -> str:
    """The README's invariant table, as Markdown."""
    rows = ["| name | holds when | threshold |", "| --- | --- | --- |"]
    rows += [f"| `{i.name}` | {i.holds_when} | {i.threshold} |" for i in REGISTRY.values()]
    return "\n".join(rows)
