"""Find the variational layers of a model and read their posteriors and priors.

Two generations of tfp.layers are covered: ``DenseVariational`` (posterior and
prior are small Keras models built by ``make_posterior_fn``/``make_prior_fn``) and
the ``Dense{Flipout,Reparameterization,LocalReparameterization}`` family (and
their convolutional siblings), which keep ``kernel_posterior``, ``kernel_prior``,
``bias_posterior``, ``bias_prior`` as distributions.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

from tfpcheck._engine import tracing
from tfpcheck._engine.constraints import unwrap
from tfpcheck._engine.inputs import feed, inputs_of
from tfpcheck._engine.owners import owners
from tfpcheck._engine.tiered import due
from tfpcheck._trace import LayerSummary

tfd = tfp.distributions

__all__ = ["capture_kl", "kl_pairs", "layer_distributions", "posterior_lows", "summarise_layers",
           "variational_layers",
           "widen_priors", "widened", "widening_kl"]

_V1_ATTRS = (
    ("kernel_posterior", "posterior"),
    ("kernel_prior", "prior"),
    ("bias_posterior", "posterior"),
    ("bias_prior", "prior"),
)
_KL_SAMPLES = 16
#: Eager summaries of a model before they are traced (two an example; ``tiered.py``): 7 ms a
#: call for two tfp.layers eagerly, 0.4 s for the trace, 1 ms traced.
EAGER_SUMMARIES = 16


def variational_layers(model: Any) -> list[Any]:
    """Layers carrying a posterior (and usually a prior), in a stable order."""
    found = []
    for layer in _all_layers(model):
        if hasattr(layer, "_posterior") and hasattr(layer, "_prior"):
            found.append(layer)
        elif any(isinstance(getattr(layer, a, None), tfd.Distribution) for a, _ in _V1_ATTRS):
            found.append(layer)
    return found


def layer_distributions(layer: Any) -> Iterator[tuple[str, str, Any]]:
    """``(label, role, distribution)`` for each posterior and prior of ``layer``."""
    if hasattr(layer, "_posterior") and hasattr(layer, "_prior"):
        dummy = tf.zeros([1, 1], dtype=layer.dtype or tf.float32)
        yield f"{layer.name}/posterior", "posterior", layer._posterior(dummy)
        yield f"{layer.name}/prior", "prior", layer._prior(dummy)
        return
    for attr, role in _V1_ATTRS:
        dist = getattr(layer, attr, None)
        if isinstance(dist, tfd.Distribution):
            yield f"{layer.name}/{attr}", role, dist


def summarise_layers(model: Any, x: Any = None, pairs: list[tuple[Any, Any]] | None = None,
                     ) -> list[LayerSummary]:
    """KL per weight and posterior/prior spread of every variational layer, now. A model
    without tfp.layers (a Keras 3 model, a layer of the user's own) is summarised from the
    ``kl_divergence(q, p)`` calls one forward pass on ``x`` makes (``pairs``, where the caller
    has them already): each call is one layer's posterior and prior, as far as tfpcheck can see."""
    summaries = _traced_summaries(model)
    if summaries is None:
        summaries = []
        for layer in variational_layers(model):
            pairs = _posterior_prior_pairs(layer)
            if pairs:
                summaries.append(_summary(_layer_facts(layer, pairs), *_numbers(pairs, eager=True)))
    if summaries or x is None:
        return summaries
    for i, (q, p) in enumerate(kl_pairs(model, x) if pairs is None else pairs):
        facts = (f"kl_divergence#{i}", f"{type(unwrap(q)).__name__} posterior", _n_weights([(q, p)]),
                 bool(unwrap(p).trainable_variables))
        summaries.append(_summary(facts, *_numbers([(q, p)], eager=True)))
    return summaries


def posterior_lows(model: Any) -> tuple[float, ...]:
    """The tenth percentile of each tfp.layers posterior's per-weight stddev, now, from one
    traced call made once per model: no KL, so no random draw (a mixture prior's KL is sampled),
    and training's random streams are left as they were. Empty for a model without tfp.layers
    variational layers (a Keras 3 model's own layer) or where it can't be read."""
    traced = getattr(model, "_tfpcheck_lows", None)
    if traced is False:
        return ()
    if traced is None:
        layers = variational_layers(model)
        if not layers:
            object.__setattr__(model, "_tfpcheck_lows", False)
            return ()

        def lows() -> list[Any]:
            spreads = [tf.concat([tf.cast(_stddev(q), tf.float64) for q, _ in pairs], 0)
                       for pairs in map(_posterior_prior_pairs, layers) if pairs]
            return [_tenth(s[s > 0]) for s in spreads]

        traced = tracing.function(lows)
        object.__setattr__(model, "_tfpcheck_lows", traced)
    try:
        return tuple(float(v) for v in traced())
    except Exception:  # noqa: BLE001 - the path is evidence, not a requirement
        object.__setattr__(model, "_tfpcheck_lows", False)
        return ()


def _tenth(spreads: Any) -> Any:
    """The tenth percentile (lower) of ``spreads``, 0 where there are none (a tensor)."""
    n = tf.size(spreads)
    padded = tf.sort(tf.concat([tf.zeros([1], spreads.dtype), spreads], 0))  # the 0 first
    tenth = tf.cast(0.1 * tf.cast(tf.maximum(n - 1, 0), tf.float64), tf.int32)
    return tf.gather(padded, tf.minimum(n, 1) + tenth)


def _traced_summaries(model: Any) -> list[LayerSummary] | None:
    """The tfp.layers summaries from one traced call, made once per model (the model is reused
    across examples: eagerly, each layer's KL and spreads cost ~5 ms); None where it can't be
    traced, or not yet worth it (``tiered.py``): the eager loop then runs."""
    traced = getattr(model, "_tfpcheck_summaries", None)
    if traced is False or (traced is None and not due(model, "_tfpcheck_summaries", EAGER_SUMMARIES)):
        return None
    if traced is None:
        layers = variational_layers(model)
        if not layers:
            return []
        facts: list[tuple[str, str, int, bool]] = []  # filled at trace time

        def numbers() -> list[tuple[Any, Any, Any]]:
            facts.clear()
            out = []
            for layer in layers:
                pairs = _posterior_prior_pairs(layer)
                if pairs:
                    facts.append(_layer_facts(layer, pairs))
                    out.append(_numbers(pairs, eager=False))
            return out

        traced = (tracing.function(numbers), facts)
        object.__setattr__(model, "_tfpcheck_summaries", traced)  # untracked: Keras 3 wraps tuples
    function, facts = traced
    try:
        values = function()
    except Exception:  # noqa: BLE001 - the eager loop reads them (or says why it can't)
        object.__setattr__(model, "_tfpcheck_summaries", False)
        return None
    return [_summary(f, float(kl), np.asarray(post, float), np.asarray(prior, float),
                     np.asarray(centre, float))
            for f, (kl, post, prior, centre) in zip(facts, values, strict=True)]


@tf.autograph.experimental.do_not_convert  # plain TF ops on distributions: nothing to convert
def _layer_facts(layer: Any, pairs: list[tuple[Any, Any]]) -> tuple[str, str, int, bool]:
    return layer.name, type(layer).__name__, _n_weights(pairs), _prior_trainable(layer)


def _n_weights(pairs: list[tuple[Any, Any]]) -> int:
    return sum(max(int(np.prod(unwrap(q).event_shape) * np.prod(unwrap(q).batch_shape)), 1) for q, _ in pairs)


@tf.autograph.experimental.do_not_convert  # plain TF ops on distributions: nothing to convert
def _numbers(pairs: list[tuple[Any, Any]], eager: bool) -> tuple[Any, Any, Any, Any]:
    """The summed KL, the posterior and prior spreads and the prior's distance from 0 of
    ``pairs``, per weight (as floats and arrays when ``eager``, as tensors when traced)."""
    kl = tf.add_n([tf.cast(_kl(q, p), tf.float64) for q, p in pairs])
    post = tf.concat([tf.cast(_stddev(q), tf.float64) for q, _ in pairs], 0)
    prior = tf.concat([tf.cast(_stddev(p), tf.float64) for _, p in pairs], 0)
    centre = tf.concat([tf.abs(tf.cast(_mean(p), tf.float64)) for _, p in pairs], 0)
    if eager:
        return float(kl), np.asarray(post), np.asarray(prior), np.asarray(centre)
    return kl, post, prior, centre


def _summary(facts: tuple[str, str, int, bool], kl_total: float, post: np.ndarray,
             prior: np.ndarray, centre: np.ndarray) -> LayerSummary:
    name, kind, n_weights, prior_trainable = facts
    post = post[post > 0]
    return LayerSummary(
        name=name,
        kind=kind,
        n_weights=n_weights,
        kl_per_weight=kl_total / max(n_weights, 1),
        posterior_stddev=float(np.median(post)) if post.size else 0.0,
        prior_stddev=float(np.median(prior)) if prior.size else float("nan"),
        prior_trainable=prior_trainable,
        prior_centre=float(np.median(centre)) if centre.size else float("nan"),
    )


def kl_pairs(model: Any, x: Any) -> list[tuple[Any, Any]]:
    """The (posterior, prior) of every ``kl_divergence`` call in one forward pass on ``x``."""
    found: list[tuple[Any, Any]] = []
    try:
        with capture_kl(found):
            model(feed(model, x), training=False)
    except Exception:  # noqa: BLE001 - the final evaluation reports a failing forward pass
        return []
    return [(q, p) for q, p in found if not _is_point(q)]


#: The factor widening_kl widens the prior of every kl_divergence call by (1: not widening).
_KL_PRIOR_FACTOR = [1.0]


@contextlib.contextmanager
def widening_kl(factor: float) -> Iterator[None]:
    """The prior_mismatch intervention for priors tfpcheck cannot reach as layer attributes (a
    Keras 3 layer of the user's own, a KL handed to ``add_loss``): the prior ``p`` of every
    ``kl_divergence(q, p)`` call made inside is widened ``factor`` times about its location
    (priors widened already, by ``widen_priors``, are left as they are)."""
    _KL_PRIOR_FACTOR[0] = factor
    try:
        with capture_kl([]):
            yield
    finally:
        _KL_PRIOR_FACTOR[0] = 1.0


def _kl_prior(p: Any) -> Any:
    factor = _KL_PRIOR_FACTOR[0]
    if factor == 1.0 or getattr(p, "_tfpcheck_widened", False):
        return p
    return widened(p, factor)


@contextlib.contextmanager
def capture_kl(found: list[tuple[Any, Any]]) -> Iterator[None]:
    """Record ``(q, p)`` of every ``tfd.kl_divergence(q, p)`` / ``q.kl_divergence(p)`` call
    (outermost only; ``p`` as the call sees it under ``widening_kl``)."""
    depth = [0]

    def wrap(original: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(original)
        def kl(q: Any, p: Any, *args: Any, **kwargs: Any) -> Any:
            p = _kl_prior(p)
            if depth[0] == 0:
                found.append((q, p))
            depth[0] += 1
            try:
                return original(q, p, *args, **kwargs)
            finally:
                depth[0] -= 1

        return kl

    function = tfd.kl_divergence
    methods = {cls: vars(cls)["kl_divergence"] for cls in owners("kl_divergence")}
    tfd.kl_divergence = wrap(function)
    for cls, method in methods.items():
        cls.kl_divergence = wrap(method)
    try:
        yield
    finally:
        tfd.kl_divergence = function
        for cls, method in methods.items():
            cls.kl_divergence = method


def _posterior_prior_pairs(layer: Any) -> list[tuple[Any, Any]]:
    dists = {label.rsplit("/", 1)[1]: d for label, _, d in layer_distributions(layer)}
    pairs = []
    for post, prior in (("posterior", "prior"), ("kernel_posterior", "kernel_prior")):
        q, p = dists.get(post), dists.get(prior)
        if q is not None and p is not None and not _is_point(q):
            pairs.append((q, p))
    return pairs


@tf.autograph.experimental.do_not_convert  # plain TF ops on distributions: nothing to convert
def _is_point(dist: Any) -> bool:
    """A Deterministic (point-mass) posterior, e.g. the default bias posterior: not variational."""
    d = unwrap(dist)
    while isinstance(d, tfd.Independent):
        d = d.distribution
    return isinstance(d, tfd.Deterministic)


def _kl(q: Any, p: Any) -> Any:
    """The KL summed over the weights (a scalar tensor): exact where registered, else the mean
    over _KL_SAMPLES draws of the summed log-ratio."""
    q, p = unwrap(q), unwrap(p)
    try:
        return tf.reduce_sum(tfd.kl_divergence(q, p))
    except NotImplementedError:
        w = q.sample(_KL_SAMPLES)
        return tf.reduce_sum(tf.reduce_mean(q.log_prob(w) - p.log_prob(w), axis=0))


def _stddev(dist: Any) -> Any:
    """Per weight, flattened (a tensor)."""
    d = unwrap(dist)
    try:
        sd = d.stddev()
    except (NotImplementedError, ValueError, TypeError):
        sd = tf.math.reduce_std(d.sample(_KL_SAMPLES), axis=0)
    return tf.reshape(sd, [-1])


def _mean(dist: Any) -> Any:
    """Per weight, flattened (a tensor): :func:`_stddev`'s twin for the centre."""
    d = unwrap(dist)
    try:
        centre = d.mean()
    except (NotImplementedError, ValueError, TypeError):
        centre = tf.reduce_mean(d.sample(_KL_SAMPLES), axis=0)
    return tf.reshape(centre, [-1])


def _spread(dist: Any) -> np.ndarray:
    """:func:`_stddev` of an eager distribution, as floats."""
    return np.asarray(_stddev(dist), dtype=float)


def _prior_trainable(layer: Any) -> bool:
    prior = getattr(layer, "_prior", None)
    if prior is not None and hasattr(prior, "trainable_variables"):
        return bool(prior.trainable_variables)
    for attr in ("kernel_prior", "bias_prior"):
        dist = getattr(layer, attr, None)
        if isinstance(dist, tfd.Distribution) and dist.trainable_variables:
            return True
    return False


def _all_layers(model: Any) -> list[Any]:
    """Every layer of ``model``, nested ones included; walked once per model (``submodules``
    walks every attribute, ~25 ms for a small tfp.layers network, and a reused model is asked
    for its layers at every example)."""
    cached = getattr(model, "_tfpcheck_layers", None)
    if cached is not None:
        return cached
    seen: dict[int, Any] = {}
    for module in getattr(model, "submodules", ()):
        if hasattr(module, "call") and hasattr(module, "name"):
            seen.setdefault(id(module), module)
    layers = list(seen.values())
    if getattr(model, "built", False):
        object.__setattr__(model, "_tfpcheck_layers", layers)  # untracked: Keras 3 wraps lists
    return layers


def widen_priors(model: Any, factor: float) -> int:
    """Widen every prior of the model's tfp.layers variational layers ``factor`` times about
    its location (the prior_mismatch intervention); the number of priors widened. The Flipout
    family keeps its priors as attributes, read at every call; DenseVariational calls its prior
    model, whose output is widened."""
    count = 0
    for layer in variational_layers(model):
        if hasattr(layer, "_prior") and hasattr(layer, "_posterior"):
            object.__setattr__(layer, "_prior", _widening(layer._prior, factor))
            count += 1
            continue
        for attr in ("kernel_prior", "bias_prior"):
            dist = getattr(layer, attr, None)
            if isinstance(dist, tfd.Distribution):
                object.__setattr__(layer, attr, widened(dist, factor))
                count += 1
    return count


def _widening(prior: Callable[..., Any], factor: float) -> Callable[..., Any]:
    return lambda *args, **kwargs: widened(prior(*args, **kwargs), factor)


def widened(dist: Any, factor: float) -> Any:
    """``dist`` with its spread multiplied by ``factor`` about its location: the ``scale``-like
    parameter of a location-scale family (through Independent, Sample and mixtures) scaled,
    marked so that no later step widens it again. Raises ValueError for a family without one."""
    wide = _widened(unwrap(dist), factor)
    object.__setattr__(wide, "_tfpcheck_widened", True)
    return wide


def _widened(d: Any, factor: float) -> Any:
    if isinstance(d, (tfd.Independent, tfd.Sample)):
        return d.copy(distribution=_widened(unwrap(d.distribution), factor))
    if isinstance(d, tfd.MixtureSameFamily):
        return d.copy(components_distribution=_widened(unwrap(d.components_distribution), factor))
    names = type(d).parameter_properties()
    for name in ("scale", "scale_diag", "scale_tril"):
        if name in names and d.parameters.get(name) is not None:
            return d.copy(**{name: tf.convert_to_tensor(d.parameters[name]) * factor})
    raise ValueError(f"{type(d).__name__} has no scale parameter to widen")


#: A direction of weight space the training inputs cannot see: a right singular vector of the
#: features whose singular value is below this fraction of the largest (exactly collinear
#: columns: a duplicated feature, two constant ones; float32 duplicates sit near 1e-8).
NULL_TOLERANCE = 1e-5
#: ...that is oblique: no single feature carries more than this share of it. A dead column alone
#: is a direction a factorised posterior can represent (its own weights widen to the prior).
OBLIQUE_SHARE = 0.9


def unseen_spread(model: Any, x: np.ndarray) -> dict[str, Any] | None:
    """Along the directions of its kernel the inputs cannot see, how wide is the posterior of the
    model's first layer -- a tfp.layers variational layer fed the features -- against its prior?

    The likelihood is flat along ``v`` when ``x @ v == 0``: the exact posterior's spread there is
    the prior's. A factorised (mean-field) posterior cannot widen along an oblique ``v`` without
    widening along the directions the data pin down, so it stays as narrow as those. Returns the
    smallest posterior/prior spread ratio over such directions (median over units), the layer
    and the columns involved; None when the layer's posterior is not factorised, the layer is not
    first, or the inputs have no oblique unseen direction (or are several: no first layer reads
    every column)."""
    if inputs_of(model) is not None:
        return None
    xs = np.asarray(x).reshape(len(x), -1)
    unseen = _unseen_directions(xs)
    # The directions first: finding the first layer walks the model's weights (~25 ms), and a
    # layer of the user's own is read by calling it (a weight draw).
    layer = _first_layer(model) if unseen else None
    if layer is None:
        return None
    d = xs.shape[1]
    spreads = (_kernel_spreads(layer, d) if layer in variational_layers(model)
               else _called_kernel_spreads(layer, x[:1], d))
    if spreads is None:
        return None
    post, prior = spreads
    worst = None
    for v in unseen:
        w = v**2
        ratio = float(np.median(np.sqrt((w @ post**2) / np.maximum(w @ prior**2, 1e-300))))
        if worst is None or ratio < worst["ratio"]:
            worst = {"layer": layer.name, "ratio": ratio,
                     "columns": [int(i) for i in np.flatnonzero(w > 0.01)]}
    return worst


def _unseen_directions(xs: np.ndarray) -> list[np.ndarray]:
    """Unit ``v`` (over all columns) with ``xs @ v == 0`` that are oblique (OBLIQUE_SHARE). Columns
    that are zero throughout are set aside first: each is an axis-aligned unseen direction on its
    own, and mixed together they would read as oblique ones. From the Gram matrix of at most
    max(4d, 2000) evenly spaced rows (a wide image batch costs one d x d eigendecomposition)."""
    n, d = xs.shape
    rows = xs[:: max(1, n // max(4 * d, 2000))].astype(float)
    live = np.flatnonzero(np.any(rows != 0.0, axis=0))
    if live.size < 2:
        return []
    values, vectors = np.linalg.eigh(rows[:, live].T @ rows[:, live])
    if values[-1] <= 0:
        return []
    found = []
    for value, u in zip(values, vectors.T, strict=True):
        if value < NULL_TOLERANCE**2 * values[-1] and np.max(u**2) <= OBLIQUE_SHARE:
            v = np.zeros(d)
            v[live] = u
            found.append(v)
    return found


def _first_layer(model: Any) -> Any:
    layers = [layer for layer in getattr(model, "layers", []) if layer.weights]
    return layers[0] if layers else None


def _kernel_spreads(layer: Any, d: int) -> tuple[np.ndarray, np.ndarray] | None:
    """Per-weight posterior and prior stddev of the layer's (d, units) kernel, when its posterior
    is factorised (one scalar distribution per weight); else None. DenseVariational's posterior
    covers the kernel, row-major, then the bias; the Flipout family's the kernel alone."""
    dists = {label.rsplit("/", 1)[1]: dist for label, _, dist in layer_distributions(layer)}
    q = dists.get("kernel_posterior", dists.get("posterior"))
    p = dists.get("kernel_prior", dists.get("prior"))
    units = getattr(layer, "units", None)
    if q is None or p is None or not isinstance(units, int) or not _factorised(q):
        return None
    n = d * units
    post, prior = _spread(q), _spread(p)
    if post.size < n or (prior.size != 1 and prior.size < n):
        return None
    prior = np.full(n, prior[0]) if prior.size == 1 else prior[:n]
    return post[:n].reshape(d, units), prior.reshape(d, units)


def _called_kernel_spreads(layer: Any, x: Any, d: int) -> tuple[np.ndarray, np.ndarray] | None:
    """A layer of the user's own (a Keras 3 one): the first ``kl_divergence(q, p)`` its call on
    ``x`` makes over a factorised (d, units) posterior -- or (d + 1, units), the bias as the last
    row -- read as its kernel's."""
    found: list[tuple[Any, Any]] = []
    try:
        with capture_kl(found):
            layer(x)
    except Exception:  # noqa: BLE001 - no spread to read; the other checks see the failure
        return None
    for q, p in found:
        shape = _innermost(q).batch_shape
        if shape.rank == 2 and shape[0] in (d, d + 1) and _factorised(q):
            post, prior = _spread(q).reshape(shape), _spread(p)
            if prior.size not in (1, post.size):
                continue
            prior = np.broadcast_to(prior.reshape(-1)[0], shape) if prior.size == 1 else prior.reshape(shape)
            return post[:d], np.asarray(prior[:d])
    return None


def _factorised(dist: Any) -> bool:
    """One independent scalar distribution per weight (a mean-field posterior)."""
    return _innermost(dist).event_shape.rank == 0


def _innermost(dist: Any) -> Any:
    """The distribution inside Independent/Sample wrappers."""
    d = unwrap(dist)
    while isinstance(d, (tfd.Independent, tfd.Sample)):
        d = unwrap(d.distribution)
    return d
