"""A fuzz worker's resident memory over hundreds of examples: flat, or recycled.

One spawned worker process (``tfpcheck/_fuzz/local.py``, exactly as ``tfpcheck fuzz`` starts
it) is handed search rounds of ``--round`` examples of one target until ``--examples`` have
trained; after each round the worker reports its RSS. Two targets:

- ``fixed``: the seed's ``example2_fixed`` (one architecture: the model and its traced step are
  reused across examples, ``tfpcheck/_engine/reuse.py``);
- ``varying``: a network whose hidden width is drawn per example (a new model and a new trace
  almost every example: what grows a Keras process).

With ``--recycle N`` the worker is replaced after N examples (``--recycle-examples``), and the
table shows its memory start over.

    .venv/bin/python benchmarks/fuzz_rss.py --examples 300
    .venv/bin/python benchmarks/fuzz_rss.py --examples 300 --target varying --recycle 150
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tfpcheck._fuzz.jobs import Job, WorkerSettings  # noqa: E402
from tfpcheck._fuzz.local import LocalExecutor  # noqa: E402

TARGETS = {
    "fixed": "examples/seed_models.py::example2_fixed",
    "varying": "benchmarks/rss_models.py::varying_width",
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=300)
    parser.add_argument("--round", type=int, default=10)
    parser.add_argument("--target", choices=tuple(TARGETS), default="fixed")
    parser.add_argument("--recycle", type=int, default=10**9, help="replace the worker after N examples")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as db:
        settings = WorkerSettings(database=db, recycle_examples=args.recycle, recycle_rss_mb=10**6)
        executor = LocalExecutor(1, settings)
        rows, done, seed, start = [], 0, 0, time.monotonic()
        try:
            while done < args.examples:
                seed += 1
                executor.submit(0, Job(seed, "search", TARGETS[args.target], seed=seed,
                                       max_examples=args.round))
                result, retired = None, None
                while result is None:
                    for _, event in executor.events(1.0):
                        if event[0] == "done":
                            result, retired = event[2], event[3]
                        elif event[0] == "error":
                            raise SystemExit(f"worker error: {event[2]}")
                done += result["report"]["examples"]
                rows.append((done, result["rss_mb"], result["report"]["status"]))
                if retired:
                    rows.append((done, None, f"worker replaced ({retired})"))
        finally:
            executor.close()
    print(f"target {args.target} ({TARGETS[args.target]}), rounds of {args.round}, "
          f"{time.monotonic() - start:.0f}s")
    print(f"{'examples':>9} {'RSS MB':>8}")
    for examples, rss, note in rows:
        print(f"{examples:>9} {'-' if rss is None else round(rss):>8} {note if rss is None else ''}")
    measured = [(e, r) for e, r, _ in rows if r is not None]
    after_first = [r for e, r in measured if e > measured[0][0]]
    if after_first:
        print(f"growth after the first round: {max(after_first) - measured[0][1]:+.0f} MB "
              f"(peak {max(r for _, r in measured):.0f} MB)")


if __name__ == "__main__":
    main()
