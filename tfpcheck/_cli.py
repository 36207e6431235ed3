"""The ``tfpcheck`` command: ``tfpcheck check TARGET...`` over the same engine as the plugin.

Exit codes: 0 every invariant held, 1 a violation was found, 2 the call was wrong.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from typing import Any

from tfpcheck._argtypes import positive_float, positive_int
from tfpcheck._config import TASKS
from tfpcheck._database import DEFAULT_DIRECTORY, open_database
from tfpcheck._env import prepare_tf_environment
from tfpcheck._heap import freeze_survivors
from tfpcheck._invariants import INVARIANTS
from tfpcheck._profiles import PROFILES
from tfpcheck.errors import InvalidArgument, UsageError

__all__ = ["main"]


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(message)


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="tfpcheck", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    check = sub.add_parser("check", help="check targets: FILE.py::NAME ...")
    check.add_argument("targets", nargs="+", metavar="FILE.py::NAME")
    check.add_argument("--task", choices=TASKS, help="task of undecorated factories")
    check.add_argument(
        "--profile", choices=tuple(PROFILES), default="ci",
        help="examples per target, as pytest's --tfpcheck-profile (default: ci): "
        + ", ".join(f"{k}={v}" for k, v in PROFILES.items()),
    )
    check.add_argument("--max-examples", type=positive_int, default=None,
                       help="examples per target (overrides --profile)")
    check.add_argument("--seed", type=int, default=0)
    check.add_argument("--steps", type=positive_int, default=None, help="training steps per example")
    check.add_argument("--stress", action="store_true", help="raw data and aggressive learning rates")
    check.add_argument(
        "--invariant", action="append", choices=INVARIANTS, dest="invariants",
        help="check only these invariants (repeatable)",
    )
    check.add_argument("--json", metavar="PATH", help="write the JSON report here")
    check.add_argument(
        "--timeout", type=positive_float, default=None, metavar="SECONDS",
        help="time limit per example (build + brief training)",
    )
    check.add_argument(
        "--database", metavar="DIR|redis://HOST:PORT/DB", default=str(DEFAULT_DIRECTORY),
        help="example database: failures found here replay first next run (default: %(default)s)",
    )
    check.add_argument("--no-database", action="store_true", help="neither read nor save examples")
    _fuzz_parser(sub)
    return parser


def _fuzz_parser(sub: argparse._SubParsersAction) -> None:
    fuzz = sub.add_parser(
        "fuzz", help="search for a time budget in worker processes; reports in --report-dir",
        description="Every target gets time until the budget is spent; failures are saved to the "
        "database (replayed first next time) and written to report.json, report.html, junit.xml.",
    )
    fuzz.add_argument("targets", nargs="*", metavar="TARGET|FILE|DIR",
                      help="FILE.py::NAME, a file or folder of @tfpcheck.model factories "
                      "(default: [tool.tfpcheck] models)")
    fuzz.add_argument("--budget", required=True, metavar="DURATION", help="e.g. 30m, 8h, 1h30m, 90s")
    fuzz.add_argument("--workers", type=positive_int, default=2, metavar="N")
    fuzz.add_argument("--timeout", type=positive_float, default=300.0, metavar="SECONDS",
                      help="a training without progress this long (no 100 steps done) is killed and "
                      "reported (default: %(default)s)")
    fuzz.add_argument("--database", default=str(DEFAULT_DIRECTORY), metavar="DIR|redis://HOST:PORT/DB",
                      help="saved failures, shared with pytest --tfpcheck and check (default: %(default)s)")
    fuzz.add_argument("--report-dir", default="tfpcheck-report", metavar="DIR")
    fuzz.add_argument("--executor", choices=("local", "ray"), default="local")
    fuzz.add_argument("--address", default=None, metavar="ADDR",
                      help="the Ray cluster to join (default: start a local one)")
    fuzz.add_argument("--seed", type=int, default=None, help="search seed (default: from the clock)")
    fuzz.add_argument("--task", choices=TASKS, help="task of undecorated factories")
    fuzz.add_argument("--steps", type=positive_int, default=None, help="training steps per example")
    fuzz.add_argument("--recycle-examples", type=positive_int, default=1000, metavar="N",
                      help="replace a worker after N examples (default: %(default)s)")
    fuzz.add_argument("--recycle-rss", type=positive_int, default=2000, metavar="MB",
                      help="replace a worker past this resident memory (default: %(default)s)")


def main(argv: Sequence[str] | None = None) -> int:
    prepare_tf_environment()  # before a target file imports TensorFlow
    try:
        args = _parser().parse_args(argv)
        return _fuzz(args) if args.command == "fuzz" else _check(args)
    except (UsageError, InvalidArgument) as exc:
        print(f"tfpcheck: error: {exc}", file=sys.stderr)
        return 2


def _check(args: argparse.Namespace) -> int:
    from tfpcheck._api import as_target, check

    targets = [as_target(spec, task=args.task) for spec in args.targets]
    freeze_survivors()  # TensorFlow and the targets live to the end (``_heap.py``)
    report = check(
        *targets,
        max_examples=args.max_examples or PROFILES[args.profile],
        seed=args.seed,
        regime="stress" if args.stress else None,
        steps=args.steps,
        invariants=tuple(args.invariants or INVARIANTS),
        database=None if args.no_database else open_database(args.database),
        timeout=args.timeout,
        progress=_Progress(sys.stderr),
    )
    print(report.summary())
    if args.json:
        report.write_json(args.json)
    freeze_survivors(collect=False)  # no last scan of every TensorFlow object at exit
    return 0 if report.passed else 1


class _Progress:
    """One line per training on stderr, so a long target is never silent."""

    def __init__(self, stream: Any) -> None:
        self.stream, self.count, self.start = stream, 0, time.monotonic()

    def __call__(self, target: str, stage: str, config: dict[str, Any] | None) -> None:
        if stage == "outcome":
            return
        if stage == "probe":
            self.count, self.start = 0, time.monotonic()
            text = "building the model to read its task"
        else:
            self.count += stage == "example"
            shown = {k: config[k] for k in ("optimizer", "learning_rate", "batch_size", "seed")
                     if config and k in config}
            text = f"{stage} {self.count}: " + ", ".join(f"{k}={v}" for k, v in shown.items())
        self.stream.write(f"tfpcheck: {target} [{time.monotonic() - self.start:6.1f}s] {text}\n")
        self.stream.flush()


def _fuzz(args: argparse.Namespace) -> int:
    from tfpcheck._fuzz import FuzzOptions, fuzz, fuzz_targets, parse_budget

    if args.address and args.executor != "ray":
        raise UsageError(f"--address={args.address}: only with --executor ray")
    options = FuzzOptions(
        targets=tuple(fuzz_targets(args.targets)), budget=parse_budget(args.budget),
        workers=args.workers, timeout=args.timeout, database=args.database,
        report_dir=args.report_dir, executor=args.executor, address=args.address,
        seed=int(time.time()) % 2**31 if args.seed is None else args.seed, task=args.task,
        steps=args.steps, recycle_examples=args.recycle_examples, recycle_rss_mb=args.recycle_rss,
    )
    return fuzz(options)


if __name__ == "__main__":
    sys.exit(main())
