"""Detection rates of tfpcheck on specs drawn by ``tfpcheck.strategies.model_specs``.

For every defect kind, N specs with that defect injected are trained through the engine and
checked: is the expected invariant violated, and is the expected cause named (after the
interventions of ``tfpcheck._confirm``, as ``tfpcheck check`` runs them)? A confusion matrix
(injected defect x named cause, confirmed counts) and per-cause precision/recall follow. N healthy specs
(every task) are trained too: any violation on them is a false alarm (printed in full, with its config).

    .venv/bin/python benchmarks/detection.py --n 5
    .venv/bin/python benchmarks/detection.py --n 2 --kinds raw_scale healthy
    .venv/bin/python benchmarks/detection.py --n 5 --keras 2 3   # a column per Keras

``--keras 3`` draws Keras 3 specs (``model_specs(keras=3)``: the distribution in the loss, a
hand-written variational layer); defects that need tfp.layers (``ts.KERAS2_ONLY``) are n/a there.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import sys
import time
from typing import Any

import hypothesis
import tfpcheck.strategies as ts
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from tfpcheck import TASKS


def draw_specs(kind: str, n: int, seed: int, keras: int = 2) -> list[Any]:
    """``n`` distinct specs of ``kind`` (``healthy`` or a defect), drawn deterministically."""
    strategy = (ts.model_specs(task=st.sampled_from(TASKS), keras=keras) if kind == "healthy"
                else ts.model_specs(defects=[kind], keras=keras))
    out: list[Any] = []

    @settings(max_examples=n, database=None, derandomize=True, phases=[Phase.generate],
              suppress_health_check=list(HealthCheck), deadline=None)
    @given(strategy)
    def collect(spec: Any) -> None:
        if len(out) < n and spec not in out:
            out.append(spec)

    hypothesis.seed(seed)(collect)()
    return out


def check(spec: Any) -> list[Any]:
    """The spec's findings as ``tfpcheck check`` reports them: each cause tested by
    intervention; a learns failure at the cap that none explains re-run longer (withdrawn if it
    then learns)."""
    from tfpcheck._confirm import settle
    from tfpcheck._engine import run_config
    from tfpcheck._invariants import INVARIANTS
    from tfpcheck._search import findings_for

    target, config = ts.spec_target(spec)
    trace = run_config(target, config)
    rerun = lambda c, adjust: run_config(target, c, adjust=adjust)  # noqa: E731
    return settle(findings_for(target, trace), trace, INVARIANTS, rerun)[0]


#: high_lr is "a rate at which this model measurably diverges". The defect draws SGD at 100-300x
#: a healthy rate, which does not make every model diverge (measured: a linear DenseFlipout head
#: on unit-scale features trained at SGD 1.302, its loss falling, 0.24 nats short of the healthy
#: rate's end). So the rate is checked by training before the spec counts as the defect: where
#: the loss stays finite and the whole-set data term ends no higher than it started, the rate is
#: tripled, at most HIGH_LR_ESCALATIONS times. Any rise counts as divergence here, however
#: small: no_divergence's own allowance (a nat) is what this measures, not what it assumes.
HIGH_LR_ESCALATIONS = 2
HIGH_LR_STEP = 3.0


def diverges(spec: Any) -> bool:
    """Training ``spec`` (the engine, no checks) ends with a non-finite loss or gradient, a
    parameter outside its constraint, or a data term above the one it started from."""
    from tfpcheck._engine import run_config

    t = run_config(*ts.spec_target(spec))
    if t.build_failure is not None or t.param_violations:
        return True
    if not all(math.isfinite(v) for v in t.losses) or not all(t.grad_finite):
        return True
    ev = t.evaluations
    return len(ev) >= 2 and not (ev[-1] <= ev[0])


def divergent_rate(spec: Any) -> Any:
    """``spec`` at its drawn rate if the model measurably diverges there, else at the first of
    HIGH_LR_ESCALATIONS tripled rates that does (None: none did)."""
    for k in range(HIGH_LR_ESCALATIONS + 1):
        rate = round(spec.optimizer.learning_rate * HIGH_LR_STEP ** k, 6)
        candidate = spec.replace(optimizer=dataclasses.replace(spec.optimizer, learning_rate=rate))
        if diverges(candidate):
            if k:
                print(f"  high_lr: {spec.optimizer.learning_rate:g} did not diverge (data seed "
                      f"{spec.data.seed}); checked at {rate:g}", file=sys.stderr)
            return candidate
    print(f"  high_lr: no divergent rate up to {rate:g} (data seed {spec.data.seed}): not counted",
          file=sys.stderr)
    return None


def named(spec: Any, findings: list[Any]) -> Any:
    """The finding that answers for the injected defect: the first on an expected invariant,
    else the first of all; None when nothing was found."""
    hits = [f for f in findings if f.invariant in spec.expected_invariants]
    return (hits or findings or [None])[0]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=5, help="specs per kind (default 5)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--kinds", nargs="*", default=["healthy", *ts.DEFECTS])
    parser.add_argument("--keras", nargs="*", type=int, default=[2], choices=ts.KERAS_VERSIONS,
                        help="which Keras the specs are built with (default 2: tf_keras)")
    args = parser.parse_args(argv)
    rows, alarms, outcomes = [], [], []
    rows_alarms: dict[int, int] = {}
    for keras, kind in ((k, kind) for kind in args.kinds for k in args.keras):
        if keras == 3 and kind in ts.KERAS2_ONLY:
            continue
        start = time.perf_counter()
        specs = draw_specs(kind, args.n, args.seed, keras)
        if kind == "high_lr":
            specs = [s for s in map(divergent_rate, specs) if s is not None]
        detected = right = 0
        for spec in specs:
            findings = check(spec)
            if kind == "healthy":
                if findings:
                    alarms.append((spec, findings))
                    rows_alarms[keras] = rows_alarms.get(keras, 0) + 1
                continue
            f = named(spec, findings)
            hit = f is not None and f.invariant in spec.expected_invariants
            ok = hit and f.cause in spec.expected_causes
            detected, right = detected + hit, right + ok
            outcomes.append((kind if keras == 2 else f"{kind} (keras 3)", spec.expected_causes[0],
                             f.cause if f else "missed", bool(f and f.confirmed), ok))
            if not ok:
                got = sorted({(g.invariant, g.cause, g.confirmed) for g in findings})
                print(f"  missed {kind}: {spec!r}\n    got {got}", file=sys.stderr)
        rows.append((kind, keras, len(specs), detected, right, time.perf_counter() - start))
        print(f"  {kind} (keras {keras}): done in {rows[-1][-1]:.0f}s", file=sys.stderr)
    _table(rows, alarms, rows_alarms, args.keras)
    if outcomes:
        _confusion(outcomes)
    return 1 if alarms else 0


def _confusion(outcomes: list[tuple[str, str, str, bool, bool]]) -> None:
    """Injected defect x named cause (``n (c confirmed)``), then per-cause precision/recall:
    a cause is right on a defect when the defect's expected causes include it."""
    causes = sorted({o[2] for o in outcomes})
    kinds = list(dict.fromkeys(o[0] for o in outcomes))
    print("\n| injected defect | " + " | ".join(causes) + " |")
    print("|---|" + "---|" * len(causes))
    for kind in kinds:
        cells = []
        for cause in causes:
            hits = [o for o in outcomes if o[0] == kind and o[2] == cause]
            confirmed = sum(o[3] for o in hits)
            cells.append(f"{len(hits)} ({confirmed}c)" if hits else "")
        print(f"| {kind} | " + " | ".join(cells) + " |")
    print("\n| cause | named | right (precision) | defects expecting it | found (recall) | confirmed |")
    print("|---|---|---|---|---|---|")
    for cause in sorted({o[1] for o in outcomes} | set(causes) - {"missed"}):
        as_named = [o for o in outcomes if o[2] == cause]
        right = sum(o[4] for o in as_named)
        expecting = [o for o in outcomes if o[1] == cause]
        found = sum(o[4] for o in expecting)
        print(f"| {cause} | {len(as_named)} | {right} ({_pct(right, len(as_named))}) | "
              f"{len(expecting)} | {found} ({_pct(found, len(expecting))}) | "
              f"{sum(o[3] for o in as_named)} |")


def _pct(a: int, b: int) -> str:
    return f"{100 * a / b:.0f}%" if b else "-"


def _table(rows: list[tuple[str, int, int, int, int, float]], alarms: list[Any],
           alarms_by_keras: dict[int, int], versions: list[int]) -> None:
    """One row per defect, a column per Keras: ``detected/n (expected cause named)``; for
    ``healthy``, the false alarms."""
    cells: dict[tuple[str, int], str] = {}
    seconds: dict[str, float] = {}
    for kind, keras, n, detected, named_right, secs in rows:
        cells[kind, keras] = (f"{alarms_by_keras.get(keras, 0)} false alarms / {n}" if kind == "healthy"
                              else f"{detected}/{n} ({named_right}/{n} cause)")
        seconds[kind] = seconds.get(kind, 0.0) + secs
    heads = [f"keras {k}: detected (cause named)" for k in versions]
    print("| defect | " + " | ".join(heads) + " | seconds |")
    print("|---|" + "---|" * len(versions) + "---|")
    for kind in dict.fromkeys(r[0] for r in rows):
        row = [cells.get((kind, k), "n/a") for k in versions]
        print(f"| {kind} | " + " | ".join(row) + f" | {seconds[kind]:.0f} |")
    for spec, findings in alarms:
        print(f"\nFALSE ALARM on healthy {spec!r}")
        for f in findings:
            print(f"  {f.invariant} ({f.cause}): {f.message}\n  config: {f.config}")


if __name__ == "__main__":
    sys.exit(main())
