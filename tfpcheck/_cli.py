"""The ``tfpcheck`` command: ``tfpcheck check TARGET...`` over the same engine as the plugin.

Exit codes: 0 every invariant held, 1 a violation was found, 2 the call was wrong.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from tfpcheck._argtypes import positive_float, positive_int
from tfpcheck._config import TASKS
from tfpcheck._database import DEFAULT_DIRECTORY, directory_database
from tfpcheck._env import prepare_tf_environment
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
        "--database", metavar="DIR", default=str(DEFAULT_DIRECTORY),
        help="example database: failures found here replay first next run (default: %(default)s)",
    )
    check.add_argument("--no-database", action="store_true", help="neither read nor save examples")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    prepare_tf_environment()  # before a target file imports TensorFlow
    try:
        args = _parser().parse_args(argv)
        return _check(args)
    except (UsageError, InvalidArgument) as exc:
        print(f"tfpcheck: error: {exc}", file=sys.stderr)
        return 2


def _check(args: argparse.Namespace) -> int:
    from tfpcheck._api import as_target, check

    targets = [as_target(spec, task=args.task) for spec in args.targets]
    report = check(
        *targets,
        max_examples=args.max_examples or PROFILES[args.profile],
        seed=args.seed,
        regime="stress" if args.stress else None,
        steps=args.steps,
        invariants=tuple(args.invariants or INVARIANTS),
        database=None if args.no_database else directory_database(args.database),
        timeout=args.timeout,
    )
    print(report.summary())
    if args.json:
        report.write_json(args.json)
    return 0 if report.passed else 1


if __name__ == "__main__":
    sys.exit(main())
