"""What checking one configuration costs, against the loop a user would write by hand.

For each configuration: the naive loop (clear the session, build, compile, ``fit`` for the
same number of steps, check the loss history and the final NLL by hand) and tfpcheck's engine
(build, traced training step that also records gradients, every distribution's parameters,
the loss shape and KL terms, then all ten invariants). Both run in this process,
interleaved, on the same configurations; the ratio is what matters (absolute times on a
shared machine mean little).

    .venv/bin/python benchmarks/overhead.py --configs 6
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import time

from tfpcheck._env import prepare_tf_environment

prepare_tf_environment()

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
import tensorflow_probability as tfp  # noqa: E402
import tf_keras  # noqa: E402

from tfpcheck._config import Config  # noqa: E402
from tfpcheck._data import make_data  # noqa: E402
from tfpcheck._engine import run_config  # noqa: E402
from tfpcheck._invariants import evaluate  # noqa: E402
from tfpcheck._target import Target  # noqa: E402

tfd, tfpl = tfp.distributions, tfp.layers


def normal_head(input_dim: int) -> tf_keras.Model:
    return tf_keras.Sequential([
        tf_keras.layers.Dense(16, activation="tanh"),
        tf_keras.layers.Dense(2),
        tfpl.DistributionLambda(
            lambda t: tfd.Normal(loc=t[..., :1], scale=1e-3 + tf.math.softplus(0.05 * t[..., 1:]))
        ),
    ])


def flipout(input_dim: int, n_train: int) -> tf_keras.Model:
    kl = lambda q, p, _: tfd.kl_divergence(q, p) / n_train  # noqa: E731
    return tf_keras.Sequential([
        tfpl.DenseFlipout(16, activation="tanh", kernel_divergence_fn=kl),
        tfpl.DenseFlipout(2, kernel_divergence_fn=kl),
        tfpl.DistributionLambda(
            lambda t: tfd.Normal(loc=t[..., :1], scale=1e-3 + tf.math.softplus(0.05 * t[..., 1:]))
        ),
    ])


def naive(factory, config: Config) -> float:
    """Build, compile, fit, check by hand: what a user writes without tfpcheck."""
    start = time.perf_counter()
    tf_keras.backend.clear_session()
    tf_keras.utils.set_random_seed(config.seed)
    x, y = make_data(config)
    kwargs = {"input_dim": x.shape[1], "n_train": len(x)}
    model = factory(**{k: v for k, v in kwargs.items() if k in factory.__code__.co_varnames})
    model.compile(tf_keras.optimizers.Adam(config.learning_rate), loss=lambda y, d: -d.log_prob(y))
    per_epoch = len(x) // config.batch_size
    history = model.fit(x, y, batch_size=config.batch_size, epochs=math.ceil(config.steps / per_epoch),
                        steps_per_epoch=per_epoch, verbose=0, shuffle=True)
    assert all(np.isfinite(history.history["loss"]))
    float(-tf.reduce_mean(model(x).log_prob(y)))
    return time.perf_counter() - start


def engine(factory, config: Config) -> float:
    start = time.perf_counter()
    evaluate(run_config(Target(factory, factory.__name__), config))
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--configs", type=int, default=6, help="configurations per model")
    args = parser.parse_args(argv)
    print("| model | configs | naive s (median) | tfpcheck s (median) | ratio tfpcheck/naive |")
    print("|---|---|---|---|---|")
    for factory in (normal_head, flipout):
        configs = [Config(seed=s, input_dim=2) for s in range(args.configs)]
        engine(factory, configs[0]), naive(factory, configs[0])  # warm both paths up
        pairs = [(naive(factory, c), engine(factory, c)) for c in configs]
        n = statistics.median(p[0] for p in pairs)
        e = statistics.median(p[1] for p in pairs)
        ratios = statistics.median(p[1] / p[0] for p in pairs)
        print(f"| {factory.__name__} | {len(configs)} | {n:.2f} | {e:.2f} | {ratios:.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
