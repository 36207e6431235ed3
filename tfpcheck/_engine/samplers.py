"""Poisson draws that return on a NaN rate, while tfpcheck runs a model.

TF's Poisson sampler never returns when a rate is NaN (tensorflow/tensorflow#55243, closed
unfixed), and a tfp.layers head draws a sample on every forward pass (its tensor value). So a
Poisson head whose rate went NaN, or a NegativeBinomial whose total_count went negative (its
Gamma draw is NaN, and the Poisson draw of that), hangs the first forward pass that meets it:
the user's own ``fit`` as much as tfpcheck's probe, step or evaluation, and no time limit can
interrupt a TF kernel. While a check runs, TFP's two Poisson samplers (``random_poisson`` under
Poisson, Skellam and NoncentralChi2, ``samplers.poisson`` under NegativeBinomial) draw with NaN
rates replaced and put NaN back where they were: every other draw is the same op on the same
value, so a healthy model trains as it does without tfpcheck, and a broken one is reported
(finite_loss, positive_scales) instead of hanging the run.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Iterator
from typing import Any

import tensorflow as tf
from tensorflow_probability.python.distributions import poisson as poisson_lib
from tensorflow_probability.python.internal import samplers as samplers_lib

__all__ = ["terminating_samplers"]


@contextlib.contextmanager
def terminating_samplers() -> Iterator[None]:
    """TFP's Poisson samplers made to return NaN for a NaN rate, inside the block (and in any
    function traced inside it, which keeps the guarded op)."""
    originals = (poisson_lib.random_poisson, samplers_lib.poisson)
    if getattr(originals[0], "_tfpcheck_guarded", False):  # nested: already guarded
        yield
        return
    poisson_lib.random_poisson = _guard_random_poisson(originals[0])
    samplers_lib.poisson = _guard_poisson(originals[1])
    try:
        yield
    finally:
        poisson_lib.random_poisson, samplers_lib.poisson = originals


def _without_nan(rate: Any) -> tuple[Any, Any]:
    """Where ``rate`` is not NaN, and the rate with 0 in the NaN places (0 draws 0 at once)."""
    rate = tf.convert_to_tensor(rate)
    ok = tf.logical_not(tf.math.is_nan(rate))
    return ok, tf.where(ok, rate, tf.zeros_like(rate))


def _nan_where(ok: Any, samples: Any) -> Any:
    """``samples`` where ``ok`` (broadcast from the right, as the rate is), NaN (0 for an integer
    dtype, which has no NaN) elsewhere."""
    fill = float("nan") if samples.dtype.is_floating else 0
    return tf.where(ok, samples, tf.cast(fill, samples.dtype))


def _guard_random_poisson(original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    def random_poisson(shape: Any, rates: Any = None, log_rates: Any = None, **kwargs: Any) -> Any:
        which = "rates" if rates is not None else "log_rates"
        ok, safe = _without_nan(rates if rates is not None else log_rates)
        samples, runtime = original(shape, **{which: safe}, **kwargs)
        return _nan_where(ok, samples), runtime

    random_poisson._tfpcheck_guarded = True  # type: ignore[attr-defined]
    return random_poisson


def _guard_poisson(original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    def poisson(shape: Any, lam: Any, *args: Any, **kwargs: Any) -> Any:
        ok, safe = _without_nan(lam)
        return _nan_where(ok, original(shape, safe, *args, **kwargs))

    return poisson
