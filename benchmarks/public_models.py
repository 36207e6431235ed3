"""The public models of ``examples/`` through ``tfpcheck.check``, as a user runs them.

Every healthy target (a name without ``_buggy``) is checked over ``--seeds`` seeds with the
CLI's default budget and must pass; every ``*_buggy`` twin is checked once and must report the
invariant and cause its docstring's ``Expected: <invariant> / <cause>`` line names.

    .venv/bin/python benchmarks/public_models.py --seeds 5
    .venv/bin/python benchmarks/public_models.py --files examples/public_tfp.py --seeds 1
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from pathlib import Path

from tfpcheck._env import prepare_tf_environment

prepare_tf_environment()

import tfpcheck  # noqa: E402
from tfpcheck._profiles import PROFILES  # noqa: E402
from tfpcheck._target import _import_file, get_target, load_target  # noqa: E402

FILES = ("examples/public_dl_book.py", "examples/public_tfp.py", "examples/public_tfp_regression.py",
         "examples/public_keras3.py")
_EXPECTED = re.compile(r"Expected:\s*(\w+)\s*/\s*(\w+)")


def targets(path: str) -> list[str]:
    """``path::name`` of every ``@tfpcheck.model`` in ``path`` (imported as load_target does)."""
    module = _import_file(Path(path))
    return [f"{path}::{name}" for name, obj in vars(module).items() if get_target(obj) is not None]


def expected(spec: str) -> tuple[str, str] | None:
    factory = load_target(spec).factory
    match = _EXPECTED.search(factory.__doc__ or "")
    return (match.group(1), match.group(2)) if match else None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--files", nargs="*", default=list(FILES))
    args = parser.parse_args(argv)
    print("| target | seeds | result | invariant (cause) found | expected | seconds |")
    print("|---|---|---|---|---|---|")
    wrong, details = 0, []
    for path in args.files:
        for spec in targets(path):
            buggy = spec.endswith("_buggy")
            want = expected(spec) if buggy else None
            seeds = range(1) if buggy else range(args.seeds)
            start, statuses, found = time.perf_counter(), [], []
            for seed in seeds:
                report = tfpcheck.check(spec, seed=seed, max_examples=PROFILES["ci"])
                t = report.targets[0]
                statuses.append(t.status)
                found += [f"{v.invariant} ({v.cause})" for v in t.violations]
                if not buggy and t.violations:  # a healthy model flagged: what it was told
                    v = t.violations[0]
                    details.append(f"- {spec.split('::')[1]}, seed {seed}: {v.invariant} ({v.cause}): "
                                   f"{v.message}; config {v.config}")
                if t.error:
                    found.append(f"error: {t.error[:80]}")
            ok = (not buggy and set(statuses) == {"passed"}) or (
                buggy and want is not None and f"{want[0]} ({want[1]})" in found)
            wrong += not ok
            result = ("ok" if ok else "WRONG") + f" {statuses.count('passed')}/{len(statuses)} passed"
            print(f"| {spec.split('::')[1]} | {len(statuses)} | {result} | "
                  f"{', '.join(dict.fromkeys(found)) or '-'} | "
                  f"{' / '.join(want) if want else 'pass'} | {time.perf_counter() - start:.0f} |",
                  flush=True)
    if details:
        print("\nHealthy models flagged:\n" + "\n".join(details))
    return 1 if wrong else 0


if __name__ == "__main__":
    sys.exit(main())
