"""Training data for a configuration: generated per task, or the user's own, rescaled.

Generated targets always carry signal (``noise`` is the share of the target's
standard deviation that is noise, < 1), so a healthy model can beat the
x-denied twin of the ``learns`` invariant after a brief training.
"""

from __future__ import annotations

import numpy as np

from tfpcheck._config import Config
from tfpcheck.errors import TargetError

__all__ = ["Data", "data_output_dim", "make_data", "rescale_user_data"]

Data = tuple[np.ndarray, np.ndarray]


def make_data(config: Config) -> Data:
    """Draw ``(x, y)`` for ``config.task`` from ``config.seed``; float arrays of the config dtype."""
    rng = np.random.default_rng(config.seed)
    z = rng.standard_normal((config.n_train, config.input_dim))
    signal = _signal(rng, z, config.output_dim)
    y = _TASK_TARGETS[config.task](rng, signal, config)
    x = z * config.x_scale + config.x_offset
    return x.astype(config.dtype), y.astype(config.dtype)


def data_output_dim(y: np.ndarray, task: str | None) -> int:
    """What a factory's ``output_dim`` is on targets ``y``: the classes of categorical targets
    (one-hot rows' width, or the largest class index + 1), else the columns of each target row
    (1 for targets of shape (N,) or (N, 1))."""
    y = np.asarray(y)
    if y.ndim >= 2 and y.shape[-1] > 1:
        return int(y.shape[-1])
    if task == "categorical" and y.size:
        return max(int(np.nanmax(y)) + 1, 2)
    return 1


def rescale_user_data(x: np.ndarray, y: np.ndarray, config: Config) -> Data:
    """The user's fixed data, subsampled to ``n_train`` rows (all of them, in order, when it is
    the data's size) and scaled/shifted as ``config`` says: the identity unless the stress
    regime or ``vary=("data",)`` drew otherwise. Targets equal to the inputs (an autoencoder)
    get the features' transformation, so they stay equal."""
    x = np.asarray(x)
    y = np.asarray(y)
    if x.shape[0] != y.shape[0]:
        raise TargetError(
            f"data=(x, y) has x.shape={x.shape} and y.shape={y.shape}: "
            "they must have the same number of rows."
        )
    if not (np.all(np.isfinite(x)) and np.all(np.isfinite(y))):
        raise TargetError(
            "data=(x, y) contains NaN or inf: clean or impute it before checking the model."
        )
    autoencoder = x.shape == y.shape and np.array_equal(x, y)
    if config.n_train < x.shape[0]:
        rng = np.random.default_rng(config.seed)
        idx = np.sort(rng.choice(x.shape[0], size=config.n_train, replace=False))
        x, y = x[idx], y[idx]
    x = x * config.x_scale + config.x_offset
    if autoencoder:
        y = x
    else:
        y = _rescale_targets(y, config)
    return x.astype(config.dtype), y.astype(config.dtype)


def _rescale_targets(y: np.ndarray, c: Config) -> np.ndarray:
    """The user's targets under ``y_scale``/``y_offset``, kept inside their task's domain:
    real values are scaled and shifted; positive amounts scaled; counts multiplied by a whole
    factor, or thinned (each unit kept with probability ``y_scale``), so they stay counts with
    their mean scaled; 0/1 outcomes and class labels never change."""
    if c.task == "regression":
        return y * c.y_scale + c.y_offset
    if c.task == "positive":
        return y * c.y_scale
    if c.task == "count" and c.y_scale != 1.0:
        if c.y_scale >= 1.0:
            return y * round(c.y_scale)
        rng = np.random.default_rng(c.seed)
        return rng.binomial(np.rint(y).astype(np.int64), c.y_scale).astype(float)
    return y


def _signal(rng: np.random.Generator, z: np.ndarray, k: int) -> np.ndarray:
    """A mostly linear function of the features (a linear model explains >= 90% of it), with
    a mild non-linearity, standardised to unit variance per column."""
    d = z.shape[1]
    w = rng.standard_normal((d, k))
    v = rng.standard_normal((d, k))
    w /= np.linalg.norm(w, axis=0, keepdims=True)
    v /= np.linalg.norm(v, axis=0, keepdims=True)
    f = z @ w + 0.3 * np.sin(z @ v)
    return (f - f.mean(0)) / (f.std(0) + 1e-12)


def _regression(rng: np.random.Generator, f: np.ndarray, c: Config) -> np.ndarray:
    noise = min(max(c.noise, 0.0), 0.95)
    y = np.sqrt(1.0 - noise**2) * f + noise * rng.standard_normal(f.shape)
    return y * c.y_scale + c.y_offset


def _count(rng: np.random.Generator, f: np.ndarray, c: Config) -> np.ndarray:
    rate = c.y_scale * np.exp(0.5 + 0.6 * f)
    return rng.poisson(rate).astype(float)


def _binary(rng: np.random.Generator, f: np.ndarray, c: Config) -> np.ndarray:
    p = 1.0 / (1.0 + np.exp(-2.5 * f))  # a column per label: output_dim > 1 is multi-label
    return (rng.uniform(size=p.shape) < p).astype(float)


#: Class centres along the signal when there is one feature (spread so neighbours differ).
_CENTRE_SPAN = 1.5


def _categorical(rng: np.random.Generator, f: np.ndarray, c: Config) -> np.ndarray:
    k = max(c.output_dim, 2)
    if c.input_dim == 1:
        # One feature: every signal column is +-(the same function of it), so logits read from
        # them tie and the labels carry almost no signal (measured: a healthy 2-class spec
        # could not beat its x-denied twin, 0.680 vs 0.689 nats). Classes are ordered along the
        # signal instead: 1-D centres, a multinomial logit linear in the signal.
        centres = np.linspace(-_CENTRE_SPAN, _CENTRE_SPAN, k)
        z = f[:, :1] * centres - centres**2 / 2
    else:
        z = f if f.shape[1] >= k else np.concatenate([f, -f.sum(1, keepdims=True)], 1)[:, :k]
    logits = 2.5 * z + rng.gumbel(size=z.shape) * c.noise
    labels = np.argmax(logits, axis=1)
    return np.eye(k)[labels] if c.one_hot else labels.astype(float)  # one-hot rows, or indices (N,)


def _positive(rng: np.random.Generator, f: np.ndarray, c: Config) -> np.ndarray:
    log_y = 0.7 * f + c.noise * rng.standard_normal(f.shape)
    return c.y_scale * np.exp(log_y)


_TASK_TARGETS = {
    "regression": _regression,
    "count": _count,
    "binary": _binary,
    "categorical": _categorical,
    "positive": _positive,
}
