"""The Hypothesis search over configurations of one target, with a shrink budget.

Each example is one brief training (about a second), so shrinking is capped:
after the first failure, at most ``shrink_budget`` new configurations are
trained; past that, unseen configurations count as passing and Hypothesis
settles on the smallest failure it has already seen. Every result is cached,
so Hypothesis's final replay of the minimal example costs nothing and can't flake.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable, Mapping
from typing import Any

from hypothesis import Phase, example, given, settings
from hypothesis import seed as hypothesis_seed
from hypothesis import strategies as st
from hypothesis.database import ExampleDatabase

from tfpcheck._config import Config
from tfpcheck._confirm import settle
from tfpcheck._database import TargetDatabase
from tfpcheck._intent import resolve_task, user_setup
from tfpcheck._invariants import INVARIANTS, diagnose, evaluate, group
from tfpcheck._notes import Notes
from tfpcheck._profiles import profile
from tfpcheck._report import Finding, TargetReport, reproduce_snippet
from tfpcheck._target import Target, raise_if_invalid
from tfpcheck._timeout import ExampleTimeout, time_limit
from tfpcheck._trace import Trace
from tfpcheck.errors import TfpcheckError
from tfpcheck.strategies._internal.configs import DEFAULT_STEPS, UserSetup, configs

__all__ = ["Progress", "check_target", "curves", "findings_for", "run_once"]

#: Told before each training starts: (stage, configuration or None). Stages: "probe" (the build
#: that reads the task), "example" (a search or shrink example), "intervention"; and after each
#: example, ("outcome", {"signature": [...]}) (:func:`signature`). A fuzz worker forwards the
#: first as heartbeats (its parent kills an example that hangs) and counts new signatures.
Progress = Callable[[str, "dict[str, Any] | None"], None]


class _Violated(Exception):
    def __init__(self, findings: list[Finding]) -> None:
        super().__init__(findings[0].explain())
        self.findings = findings


def findings_for(
    target: Target, trace: Trace, invariants: tuple[str, ...] = INVARIANTS, *,
    user_config: dict[str, Any] | None = None,
) -> list[Finding]:
    """A :class:`Finding` for every root violation in the trace, its echoes as consequences.

    ``user_config`` is the user's own configuration, which the report marks differences from.
    """
    config = trace.config.to_dict()
    out = []
    for verdict, consequences in group(evaluate(trace, invariants)):
        d = diagnose(verdict, trace)
        out.append(
            Finding(
                invariant=verdict.invariant, cause=d.cause, message=verdict.message,
                step=verdict.step, config=config, evidence=d.evidence, fix=d.fix,
                reproduce=reproduce_snippet(target.name, config),
                consequences=consequences, user_config=user_config,
            )
        )
    return out


def run_once(
    target: Target, config: Config, invariants: tuple[str, ...] = INVARIANTS, *,
    with_curves: bool = False,
) -> list[Finding]:
    """Train one configuration and return its findings (empty when every invariant held),
    each with the training's :func:`curves` if ``with_curves``."""
    trace = _run(target, config)
    findings = findings_for(target, trace, invariants)
    return _with_curves(findings, trace) if with_curves else findings


def _run(target: Target, config: Config, adjust: frozenset[str] = frozenset()) -> Trace:
    from tfpcheck._engine import run_config

    return run_config(target, config, config.params, adjust=adjust)


def _start_run(target: Target) -> None:
    from tfpcheck._engine.reuse import start_run

    start_run(target.factory)


def check_target(
    target: Target,
    *,
    max_examples: int = 10,
    seed: int = 0,
    regime: str | None = None,
    steps: int | None = None,
    invariants: tuple[str, ...] = INVARIANTS,
    database: ExampleDatabase | None = None,
    shrink_budget: int = 12,
    timeout: float | None = None,
    progress: Progress | None = None,
    keep_models: bool = False,
) -> TargetReport:
    """Search ``max_examples`` configurations of ``target``; shrink and explain a failure.

    ``timeout`` (seconds) limits each example; a target that exceeds it, or whose data
    can't be used, ends with status "error" and a message saying what to change.
    ``progress`` is told before each training (see :data:`Progress`). The run starts from
    none of the target's models built before in this process, so that its verdicts depend on
    the run alone; ``keep_models`` (a fuzz worker's later rounds) keeps them, and their random
    streams, for speed.
    """
    start = time.perf_counter()
    report = TargetReport(target=target.name, status="passed")
    tell = progress or (lambda stage, config: None)
    state = _SearchState(target, invariants, shrink_budget, timeout, tell)
    try:
        raise_if_invalid(target)
        if not keep_models:
            _start_run(target)
        tell("probe", None)
        task, setup, how = _intent(target, timeout)
        report.task, report.notes = task, [f"task {how}"]
        state.user_config = setup.fields() or None
        cap = steps or DEFAULT_STEPS
        strategy = _strategy(target, task, regime or target.regime or "default", cap, setup)

        def search(config: Config) -> None:
            findings = state.evaluate(config)
            if findings:
                raise _Violated(findings)

        # The user's own setup first (Phase.explicit); given -> seed -> settings: @seed alone
        # would also switch the database off, and a failure must replay first on the next run.
        search = settings(
            profile("dev"), max_examples=max_examples,
            database=TargetDatabase(database, target.name) if database is not None else None,
            phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.shrink],
        )(hypothesis_seed(seed)(given(strategy)(_first(setup, task, cap, target)(search))))
        search()
    except _Violated as violated:
        report.violations = state.confirmed(violated.findings)
        if state.failing_trace is not None:
            report.violations = _with_curves(report.violations, state.failing_trace)
        report.status = "failed" if report.violations else "passed"
    except TfpcheckError as exc:
        text = str(exc)  # a deferred decorator error names the target already
        named = text.startswith(f"{target.name}: ")
        report.status, report.error = "error", text if named else f"{target.name}: {text}"
    except Exception as exc:  # noqa: BLE001 - one target's crash must not lose the others
        report.status = "error"
        report.error = f"{target.name}: tfpcheck itself failed with {type(exc).__name__}: {exc}"
    report.examples = state.trained
    report.notes += state.notes.lines()
    report.seconds = time.perf_counter() - start
    return report


def _intent(target: Target, timeout: float | None) -> tuple[str, UserSetup, str]:
    """The target's task (declared, else inferred from one build) and the user's own setup.
    The probe build runs under the per-example time limit: a factory that hangs hangs here first."""
    from tfpcheck._engine import probe_target

    try:
        with time_limit(timeout, "building the model to read its task and optimizer"):
            probe = probe_target(target)
    except ExampleTimeout as exc:
        raise exc.as_target_error() from None
    task, how = resolve_task(target, probe.task, probe.evidence)
    return task, user_setup(target, probe, task), how


def _first(setup: UserSetup, task: str, steps: int, target: Target) -> Any:
    """Decorator: the user's setup exactly, as the first example (it then replays first on every
    run without the database). Not for a target whose factory parameters are drawn (they have no
    value of the user's), nor when the user fixed nothing (uncompiled, generated data)."""
    if target.strategies or not setup.fields():
        return lambda f: f  # nothing of the user's to try first: the search starts as usual
    return example(setup.config(task, steps))


class _SearchState:
    def __init__(
        self, target: Target, invariants: tuple[str, ...], budget: int, timeout: float | None,
        tell: Progress,
    ) -> None:
        self.target, self.invariants, self.budget = target, invariants, budget
        self.timeout, self.tell = timeout, tell
        self.user_config: dict[str, Any] | None = None  # what the user fixed, for the report
        self.notes = Notes()
        self.cache: dict[str, list[Finding]] = {}
        self.traces: dict[str, Trace] = {}  # of the failing configurations only
        self.failing_trace: Trace | None = None  # of the last configuration that failed
        self.trained = 0
        self.failed_at: int | None = None
        self.fatal: TfpcheckError | None = None

    def evaluate(self, config: Config) -> list[Finding]:
        if self.fatal is not None:
            raise self.fatal  # the target can't be checked: don't retrain it while shrinking
        key = repr(config)
        if key in self.cache:
            if self.cache[key]:
                self.failing_trace = self.traces[key]
            return self.cache[key]
        if self.failed_at is not None and self.trained - self.failed_at >= self.budget:
            return []  # shrink budget spent: unseen configurations count as passing
        self.tell("example", config.to_dict())
        try:
            with time_limit(self.timeout, f"the example with {config.short()}"):
                trace = _run(self.target, config)
        except ExampleTimeout as exc:
            if self.failed_at is not None:
                # Shrinking: a smaller candidate that runs too long is no smaller failure;
                # the failure already found stays the report, with this said beside it.
                self.notes.add(f"an example timed out while shrinking ({exc}); the smallest "
                               "failure found before it is reported")
                self.cache[key] = []
                self.trained += 1  # it counts against the shrink budget like any other
                return []
            self.fatal = exc.as_target_error()
            raise self.fatal from None
        except TfpcheckError as exc:
            self.fatal = exc
            raise
        findings = findings_for(self.target, trace, self.invariants, user_config=self.user_config)
        self.notes.update(v.note for v in evaluate(trace, self.invariants) if v.note)
        self.notes.update(trace.notes[k] for k in ("gpu_xla", "kl_weight", "sampled_by_the_loss",
                                                         "logits_squashed", "head_confined")
                          if k in trace.notes)
        self.trained += 1
        self.cache[key] = findings
        self.tell("outcome", {"signature": signature(trace, findings)})
        if findings:
            self.traces[key] = self.failing_trace = trace
        if findings and self.failed_at is None:
            self.failed_at = self.trained
        return findings

    def confirmed(self, findings: list[Finding]) -> list[Finding]:
        """The final minimal failure's findings, each cause tested by intervention; a learns
        failure at the cap that no intervention explains is re-run longer, and withdrawn (with
        a note) when it then learns."""
        trace = self.failing_trace
        if trace is None:
            return findings

        def rerun(config: Config, adjust: frozenset[str]) -> Trace:
            self.tell("intervention", config.to_dict())
            try:
                with time_limit(self.timeout, f"the intervention on {config.short()}"):
                    return _run(self.target, config, adjust)
            except ExampleTimeout as exc:
                raise RuntimeError(str(exc)) from None

        kept, notes = settle(findings, trace, self.invariants, rerun)
        self.notes.update(notes)  # late learners with no cause: withdrawn, and said so
        return kept


def signature(trace: Trace, findings: list[Finding]) -> list[Any]:
    """What kind of behaviour one example showed: its violated invariants, their causes and
    its loss regime. A fuzz run gives more time to a target still showing new ones."""
    return [sorted(f.invariant for f in findings), sorted({f.cause for f in findings}),
            loss_regime(trace.losses)]


def loss_regime(losses: list[float]) -> str:
    """``none``, ``non-finite``, ``rising``, ``falling`` or ``flat`` (first vs last quarter)."""
    if not losses:
        return "none"
    if not all(math.isfinite(v) for v in losses):
        return "non-finite"
    q = max(1, len(losses) // 4)
    first, last = sum(losses[:q]) / q, sum(losses[-q:]) / q
    spread = max(abs(first), abs(last), 1e-12)
    if last > first + 0.1 * spread:
        return "rising"
    return "falling" if last < first - 0.1 * spread else "flat"


def curves(trace: Trace) -> dict[str, Any]:
    """What the report draws for a failure: per-step loss and gradient norm (non-finite values
    kept, as the strings "nan"/"inf" in JSON) and the parameter ranges that left their
    constraint."""
    return {
        "loss": list(trace.losses),
        "grad_norm": list(trace.grad_norms),
        "parameter_ranges": [dataclasses.asdict(v) for v in trace.param_violations],
    }


def _with_curves(findings: list[Finding], trace: Trace) -> list[Finding]:
    drawn = curves(trace)
    return [dataclasses.replace(f, curves=drawn) for f in findings]


def _strategy(
    target: Target, task: str, regime: str, steps: int, setup: UserSetup
) -> st.SearchStrategy[Config]:
    base = configs(task=task, regime=regime, steps=steps, vary=target.vary, user=setup)
    params: Mapping[str, Any] = target.strategies
    if not params:
        return base
    return st.builds(
        lambda c, p: c.replace(params=p), base, st.fixed_dictionaries(dict(params))
    )
