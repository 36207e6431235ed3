"""The data-only baseline of the ``learns`` invariant, and the model's NLL to compare.

The baseline is the best *constant* predictive for the task's data, fitted in
closed form to the training targets while ignoring the features. A model that
cannot beat it after the brief training has learnt nothing from ``x``.
All values are negative log-likelihoods per example, in nats, summed over the
target's event dimensions.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

from tfpcheck._engine.constraints import unwrap

tfd = tfp.distributions

__all__ = ["baseline_nll", "per_example_nll"]

_EPS = 1e-6


def baseline_nll(task: str, y: np.ndarray) -> tuple[float, str]:
    """``(nll_per_example, family)`` of the best constant predictive among the task's families."""
    y = np.asarray(y, dtype=np.float64)
    candidates = _CANDIDATES[task](y)
    family, value = min(candidates.items(), key=lambda kv: kv[1])
    return float(value), family


def per_example_nll(dist: Any, y: Any) -> float:
    """Mean over examples of ``-log p(y_i)``, summed over event dims of the target.

    A log-prob that broadcast to more elements than the targets have (the
    ``(N,)`` vs ``(N, 1)`` bug) is averaged back to the target's size so the
    comparison stays in per-example units; ``loss_shape`` reports the bug itself.
    """
    y = tf.convert_to_tensor(y)
    lp = tf.cast(unwrap(dist).log_prob(tf.cast(y, unwrap(dist).dtype)), tf.float64)
    n = int(y.shape[0])
    per_row = int(np.prod(y.shape[1:])) if len(y.shape) > 1 else 1
    size = int(tf.size(lp))
    if size > n * per_row:
        return float(-tf.reduce_mean(lp) * per_row)
    return float(-tf.reduce_sum(lp) / n)


def _regression(y: np.ndarray) -> dict[str, float]:
    y = y.reshape(len(y), -1)
    sd = y.std(0) + _EPS
    normal = 0.5 * np.log(2 * np.pi * sd**2) + 0.5
    b = np.mean(np.abs(y - np.median(y, 0)), 0) + _EPS
    laplace = np.log(2 * b) + 1.0
    return {"Normal": float(normal.sum()), "Laplace": float(laplace.sum())}


def _positive(y: np.ndarray) -> dict[str, float]:
    out = _regression(y)
    if np.all(y > 0):
        logs = np.log(y.reshape(len(y), -1))
        sd = logs.std(0) + _EPS
        lognormal = 0.5 * np.log(2 * np.pi * sd**2) + 0.5 + logs.mean(0)
        out["LogNormal"] = float(lognormal.sum())
    return out


def _count(y: np.ndarray) -> dict[str, float]:
    rate = max(float(y.mean()), _EPS)
    lp = tfd.Poisson(rate=tf.constant(rate, tf.float64)).log_prob(y.reshape(-1))
    return {"Poisson": float(-tf.reduce_mean(lp))}


def _binary(y: np.ndarray) -> dict[str, float]:
    p = float(np.clip(y.mean(), _EPS, 1 - _EPS))
    yy = y.reshape(-1)
    return {"Bernoulli": float(-np.mean(yy * np.log(p) + (1 - yy) * np.log(1 - p)))}


def _categorical(y: np.ndarray) -> dict[str, float]:
    labels = y.reshape(len(y), -1)
    if labels.shape[1] > 1:  # one-hot
        freq = labels.mean(0)
        nll = -np.mean(np.sum(labels * np.log(np.clip(freq, _EPS, 1)), 1))
    else:
        idx = labels[:, 0].astype(int)
        freq = np.bincount(idx) / len(idx)
        nll = -np.mean(np.log(np.clip(freq[idx], _EPS, 1)))
    return {"Categorical": float(nll)}


_CANDIDATES = {
    "regression": _regression,
    "positive": _positive,
    "count": _count,
    "binary": _binary,
    "categorical": _categorical,
}
