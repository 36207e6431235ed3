"""Detection rates of tfpcheck on specs drawn by ``tfpcheck.strategies.model_specs``.

For every defect kind, N specs with that defect injected are trained through the engine and
checked: is the expected invariant violated, and is the expected cause named? N healthy specs
(every task) are trained too: any violation on them is a false alarm (printed in full, with its config).

    .venv/bin/python benchmarks/detection.py --n 5
    .venv/bin/python benchmarks/detection.py --n 2 --kinds raw_scale healthy
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

import hypothesis
import tfpcheck.strategies as ts
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from tfpcheck import TASKS


def draw_specs(kind: str, n: int, seed: int) -> list[Any]:
    """``n`` distinct specs of ``kind`` (``healthy`` or a defect), drawn deterministically."""
    strategy = (ts.model_specs(task=st.sampled_from(TASKS)) if kind == "healthy"
                else ts.model_specs(defects=[kind]))
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
    from tfpcheck._engine import run_config
    from tfpcheck._search import findings_for

    target, config = ts.spec_target(spec)
    return findings_for(target, run_config(target, config))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=5, help="specs per kind (default 5)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--kinds", nargs="*", default=["healthy", *ts.DEFECTS])
    args = parser.parse_args(argv)
    rows, alarms = [], []
    for kind in args.kinds:
        start = time.perf_counter()
        specs = draw_specs(kind, args.n, args.seed)
        detected = named = 0
        for spec in specs:
            findings = check(spec)
            if kind == "healthy":
                if findings:
                    alarms.append((spec, findings))
                continue
            hits = [f for f in findings if f.invariant in spec.expected_invariants]
            detected += bool(hits)
            named += any(f.cause in spec.expected_causes for f in hits)
            if not hits or not any(f.cause in spec.expected_causes for f in hits):
                got = sorted({(f.invariant, f.cause) for f in findings})
                print(f"  missed {kind}: {spec!r}\n    got {got}", file=sys.stderr)
        rows.append((kind, len(specs), detected, named, time.perf_counter() - start))
        print(f"  {kind}: done in {rows[-1][-1]:.0f}s", file=sys.stderr)
    _table(rows, alarms)
    return 1 if alarms else 0


def _table(rows: list[tuple[str, int, int, int, float]], alarms: list[Any]) -> None:
    print(f"| {'defect':<22} | {'n':>2} | detected (expected invariant) | expected cause named "
          f"| false alarms | seconds |")
    print(f"|{'-' * 24}|----|-------------------------------|----------------------|"
          "--------------|---------|")
    for kind, n, detected, named, secs in rows:
        if kind == "healthy":
            print(f"| {kind:<22} | {n:>2} | {'-':>29} | {'-':>20} | {len(alarms):>12} | {secs:>7.0f} |")
        else:
            print(f"| {kind:<22} | {n:>2} | {f'{detected}/{n}':>29} | {f'{named}/{n}':>20} "
                  f"| {'-':>12} | {secs:>7.0f} |")
    for spec, findings in alarms:
        print(f"\nFALSE ALARM on healthy {spec!r}")
        for f in findings:
            print(f"  {f.invariant} ({f.cause}): {f.message}\n  config: {f.config}")


if __name__ == "__main__":
    sys.exit(main())
