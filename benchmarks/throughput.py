"""Configurations per minute: tfpcheck's engine against the loop a user writes, in one process.

Three ways to train the same configurations (a small DenseFlipout network whose architecture
does not vary; seeds, learning rate and data differ), each a block over all configurations, the
blocks run forwards then backwards so that drift hits all alike:

- **naive**: what a user writes by hand: clear the session, build, compile, ``fit`` the same
  number of steps, check the loss history and the final NLL;
- **fit**: one plain ``model.fit`` of the same steps on a model built and traced once (the
  floor: Keras' own loop, no checking at all);
- **tfpcheck**: ``run_config`` + every invariant, as ``tfpcheck check`` runs one example
  (the model reused across examples: ``tfpcheck/_engine/reuse.py``; its x-denied twin trained
  too, so tfpcheck trains twice the steps of the other two).

Then the resident memory of this process over ``--rss-configs`` configurations of one
architecture, and over two cycles of more architectures than are cached (growth over the
second, the cache full); with ``--xdist`` the wall time of ``pytest --tfpcheck -n 0`` against
``-n 2`` on four healthy targets (subprocesses).

    .venv/bin/python benchmarks/throughput.py --configs 32 --steps 50
    .venv/bin/python benchmarks/throughput.py --configs 6 --rss-configs 300 --xdist
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

from tfpcheck._env import prepare_tf_environment

prepare_tf_environment()

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
import tensorflow_probability as tfp  # noqa: E402
import tf_keras  # noqa: E402

from tfpcheck._config import Config  # noqa: E402
from tfpcheck._data import make_data  # noqa: E402
from tfpcheck._engine import run_config  # noqa: E402
from tfpcheck._engine.reuse import MAX_CACHED  # noqa: E402
from tfpcheck._invariants import evaluate  # noqa: E402
from tfpcheck._target import Target  # noqa: E402

tfd, tfpl = tfp.distributions, tfp.layers


def flipout(n_train: int) -> tf_keras.Model:
    """A small Bayesian regression network (two DenseFlipout layers, a Normal head)."""
    kl = lambda q, p, _: tfd.kl_divergence(q, p) / n_train  # noqa: E731
    model = tf_keras.Sequential([
        tfpl.DenseFlipout(16, activation="tanh", kernel_divergence_fn=kl),
        tfpl.DenseFlipout(2, kernel_divergence_fn=kl),
        tfpl.DistributionLambda(
            lambda t: tfd.Normal(loc=t[..., :1], scale=1e-3 + tf.math.softplus(0.05 * t[..., 1:]))
        ),
    ])
    model.compile(tf_keras.optimizers.Adam(1e-2), loss=lambda y, d: -d.log_prob(y))
    return model


def _fit(model: tf_keras.Model, x: np.ndarray, y: np.ndarray, config: Config) -> None:
    per_epoch = len(x) // config.batch_size
    history = model.fit(x, y, batch_size=config.batch_size, epochs=math.ceil(config.steps / per_epoch),
                        steps_per_epoch=per_epoch, verbose=0, shuffle=True)
    assert all(np.isfinite(history.history["loss"]))


def naive(config: Config) -> float:
    """Build, compile, fit, check by hand: a user's loop without tfpcheck."""
    start = time.perf_counter()
    tf_keras.backend.clear_session()
    tf_keras.utils.set_random_seed(config.seed)
    x, y = make_data(config)
    model = flipout(len(x))
    model.optimizer.learning_rate = config.learning_rate
    _fit(model, x, y, config)
    float(-tf.reduce_mean(model(x).log_prob(y)))
    return time.perf_counter() - start


class PlainFit:
    """``fit`` on one model built and traced once: Keras' own loop and nothing else."""

    def __init__(self, config: Config) -> None:
        x, y = make_data(config)
        self.model = flipout(len(x))
        _fit(self.model, x, y, config)  # traces its train function

    def __call__(self, config: Config) -> float:
        start = time.perf_counter()
        x, y = make_data(config)
        _fit(self.model, x, y, config)
        return time.perf_counter() - start


TARGET = Target(flipout, "flipout")


def engine(config: Config) -> float:
    start = time.perf_counter()
    verdicts = evaluate(run_config(TARGET, config))
    assert verdicts, "no verdicts"
    return time.perf_counter() - start


def rss_mb() -> float:
    """This process's resident set size (Linux ``/proc``), in MB."""
    pages = int(Path("/proc/self/statm").read_text().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 1e6


def configs(n: int, steps: int, start: int = 0) -> list[Config]:
    """Same architecture and shapes; seed, data seed and learning rate differ."""
    return [Config(seed=start + i, input_dim=2, steps=steps, learning_rate=(0.003, 0.01, 0.02)[i % 3])
            for i in range(n)]


def per_minute(seconds: list[float]) -> float:
    return 60.0 / statistics.median(seconds)


def throughput(n: int, steps: int) -> None:
    cs = configs(n, steps)
    engine(cs[0]), naive(cs[0])  # noqa: B018 - warm both paths (imports, first traces)
    fit = PlainFit(cs[0])
    # In blocks (a loop over every configuration, then the next loop), forwards then backwards:
    # what a run of tfpcheck does, one example after the other, and drift hits all alike.
    naive_s: list[float] = []
    fit_s: list[float] = []
    engine_s: list[float] = []
    loops = [(naive, naive_s), (fit, fit_s), (engine, engine_s)]
    for run, times in loops + loops[::-1]:
        times += [run(c) for c in cs]
    print(f"## Throughput ({n} configurations, {steps} steps each, median per configuration)\n")
    print("| loop | s / configuration | configurations / minute | tfpcheck speed-up |")
    print("|---|---|---|---|")
    loops = (("naive (clear, build, compile, fit, check)", naive_s), ("plain fit, model traced once", fit_s),
             ("tfpcheck (model + twin, every invariant)", engine_s))
    for name, s in loops:
        speedup = statistics.median(s) / statistics.median(engine_s)
        print(f"| {name} | {statistics.median(s):.3f} | {per_minute(s):.0f} | {speedup:.2f}x |")
    vs_naive = per_minute(engine_s) / per_minute(naive_s)
    vs_fit = statistics.median(engine_s) / statistics.median(fit_s)
    print(f"\ntfpcheck / naive configurations per minute: {vs_naive:.2f}x; "
          f"tfpcheck time per configuration / plain fit: {vs_fit:.2f}x (tfpcheck trains the model "
          "and its twin: twice the steps)")
    # The forwards block is a model's configurations 2 to n+1: its first ones call the engine's
    # helpers eagerly (tiered.py), what a short pytest run pays; the backwards block, all traced.
    early, late = statistics.mean(engine_s[:min(n, 10)]), statistics.median(engine_s[n:])
    naive_s_ = statistics.median(naive_s)
    print(f"tfpcheck on a model's configurations 2-{min(n, 10) + 1} (helpers eager): {early:.3f} s each, "
          f"{naive_s_ / early:.2f}x naive; once traced: {late:.3f} s, {naive_s_ / late:.2f}x naive\n")


def memory(n: int, steps: int) -> None:
    """RSS over ``n`` configurations of one architecture (the model reused); then with a new
    architecture each (the feature count cycles through more widths than ``reuse.MAX_CACHED``
    keeps: every one rebuilt, the least recently used given back), growth over a second cycle,
    once the cache is full; and the naive loop over the same configurations."""
    widths = MAX_CACHED + 8
    cycled = [c.replace(input_dim=1 + i % widths)
              for i, c in enumerate(configs(2 * widths, steps, start=5000))]
    runs = (("tfpcheck, one architecture (reused)", engine, configs(n, steps, start=1000), max(1, n // 10)),
            ("tfpcheck, a new architecture each", engine, cycled, widths),
            ("naive loop, a new architecture each", naive, cycled, widths))
    for label, run, cs, first in runs:
        for c in cs[:first]:
            run(c)
        base = rss_mb()
        for c in cs[first:]:
            run(c)
        end = rss_mb()
        print(f"Memory, {label}: RSS {base:.0f} MB after {first} configurations, {end:.0f} MB after "
              f"{len(cs)}: {end - base:+.0f} MB over {len(cs) - first} "
              f"({(end - base) / (len(cs) - first):+.2f} MB each)")
    print()


XDIST_HEAD = """
import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp
import tf_keras

import tfpcheck

tfd, tfpl = tfp.distributions, tfp.layers
rng = np.random.default_rng(0)
X = rng.normal(size=(256, 2)).astype("float32")
Y = (X[:, :1] - 0.5 * X[:, 1:] + 0.3 * rng.normal(size=(256, 1))).astype("float32")


def _net(units, n_train, flipout):
    kl = lambda q, p, _: tfd.kl_divergence(q, p) / n_train
    layer = (lambda u, **kw: tfpl.DenseFlipout(u, kernel_divergence_fn=kl, **kw)) if flipout else (
        lambda u, **kw: tf_keras.layers.Dense(u, **kw))
    model = tf_keras.Sequential([
        layer(units, activation="tanh"), layer(2),
        tfpl.DistributionLambda(lambda t: tfd.Normal(t[..., :1], 1e-3 + tf.math.softplus(t[..., 1:]))),
    ])
    model.compile(tf_keras.optimizers.Adam(1e-2), loss=lambda y, d: -d.log_prob(y))
    return model
"""

XDIST_TARGET = """

@tfpcheck.model(data=(X, Y))
def {name}(n_train):
    return _net({units}, n_train, {flipout})
"""

#: Four targets in one file: two Dense and two DenseFlipout (the latter cost about twice as
#: much), side by side or alternating, and four DenseFlipout ones (equal cost).
XDIST_FILES = {
    "mixed": [("dense_16", 16, False), ("dense_32", 32, False), ("flipout_8", 8, True),
              ("flipout_16", 16, True)],
    "alternating": [("a_flipout_8", 8, True), ("b_dense_16", 16, False), ("c_flipout_16", 16, True),
                    ("d_dense_32", 32, False)],
    "equal": [("flipout_8", 8, True), ("flipout_12", 12, True), ("flipout_16", 16, True),
              ("flipout_24", 24, True)],
}


def xdist(profile: str = "ci", repeats: int = 3, shards: int = 1, files: list[str] | None = None) -> None:
    """``pytest --tfpcheck -n 0`` against ``-n 2`` on a file of four targets, in a fresh folder
    each: ``-n 0`` first, so that ``-n 2`` finds its durations in pytest's cache, as a rerun
    does (``tfpcheck/_plugin/schedule.py`` spreads the costly targets over the workers); and
    ``-n 2`` on a first run (no cache), where the items are dealt out in turn. The three runs
    are repeated ``repeats`` times in turn and the median wall time of each is compared (one
    run varies by ~10% on these machines). ``shards`` > 1 passes ``--tfpcheck-shards`` to every
    run (each target's examples split over that many items, in ``-n 0`` as in ``-n 2``)."""
    runs = {"-n 0": ["-n", "0", "--tfpcheck-report=n0.json"], "-n 2": ["-n", "2"],
            "-n 2, first run": ["-n", "2", "-p", "no:cacheprovider"]}
    for order, targets in XDIST_FILES.items():
        if files is not None and order not in files:
            continue
        source = XDIST_HEAD + "".join(XDIST_TARGET.format(name=n, units=u, flipout=f) for n, u, f in targets)
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "test_four_targets.py"
            path.write_text(textwrap.dedent(source))
            times: dict[str, list[float]] = {name: [] for name in runs}
            bounds: list[float] = []
            for _ in range(repeats):
                for name, args in runs.items():
                    start = time.perf_counter()
                    command = [sys.executable, "-m", "pytest", "--tfpcheck", "-q",
                               f"--tfpcheck-profile={profile}", f"--tfpcheck-shards={shards}", *args,
                               str(path)]
                    done = subprocess.run(command, cwd=tmp, capture_output=True, text=True)
                    times[name].append(time.perf_counter() - start)
                    print(f"{order}, profile {profile}: pytest --tfpcheck {name}: {times[name][-1]:.1f} s "
                          f"({done.stdout.strip().splitlines()[-1]})")
                bounds.append(_bound(times["-n 0"][-1], Path(tmp) / "n0.json"))
            median = {name: statistics.median(t) for name, t in times.items()}
            print(f"{order}: -n 2 speed-up over -n 0 on four targets (medians of {repeats}): "
                  f"{median['-n 0'] / median['-n 2']:.2f}x (first run, no durations: "
                  f"{median['-n 0'] / median['-n 2, first run']:.2f}x; {os.cpu_count()} cores); "
                  f"the most two workers could give: {statistics.median(bounds):.2f}x\n")


def _bound(wall: float, report: Path) -> float:
    """The speed-up two workers would give if each started as fast as ``-n 0`` did and the
    items' ``-n 0`` durations (the JSON report's ``seconds``) were split as evenly as any
    assignment splits them: what is not an item's (start-up, importing TensorFlow in each
    process, collection) is paid once either way."""
    seconds = [t["seconds"] for t in json.loads(report.read_text())["targets"]]
    total = sum(seconds)
    shares = (sum(s for s, first in zip(seconds, pick, strict=True) if first)
              for pick in itertools.product((True, False), repeat=len(seconds)))
    return wall / (wall - total + min(max(share, total - share) for share in shares))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--configs", type=int, default=12, help="configurations timed per loop (0: skip)")
    parser.add_argument("--steps", type=int, default=50, help="training steps per configuration")
    parser.add_argument("--rss-configs", type=int, default=0, help="configurations for the memory run")
    parser.add_argument("--xdist", action="store_true", help="also time pytest --tfpcheck -n 0 vs -n 2")
    parser.add_argument("--xdist-profile", default="ci", choices=("ci", "dev", "nightly"),
                        help="examples per target in the --xdist runs (default: ci, 3)")
    parser.add_argument("--xdist-repeats", type=int, default=3, help="runs of each, medians compared")
    parser.add_argument("--xdist-shards", type=int, default=1, help="--tfpcheck-shards of every run")
    parser.add_argument("--xdist-files", nargs="*", default=list(XDIST_FILES), choices=list(XDIST_FILES))
    args = parser.parse_args(argv)
    if args.configs:
        throughput(args.configs, args.steps)
    if args.rss_configs:
        memory(args.rss_configs, args.steps)
    if args.xdist:
        xdist(args.xdist_profile, args.xdist_repeats, args.xdist_shards, args.xdist_files)
    return 0


if __name__ == "__main__":
    sys.exit(main())
