"""``build_model(spec)``: a :class:`ModelSpec` as a tf_keras model whose output is a distribution.

TensorFlow, tf_keras and TFP are imported inside the functions, so importing
:mod:`tfpcheck.strategies` stays cheap. Injected defects are applied here, each in one
place, next to the healthy code it replaces.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from .modelspec import ModelSpec
from .priors import MIXTURE_NARROW, MIXTURE_WEIGHT, PriorSpec

__all__ = ["build_model", "distribution_fn", "head_size", "inv_softplus", "kl_divergence_fn",
           "weight_prior"]


def build_model(spec: ModelSpec) -> Any:
    """An uncompiled tf_keras model for ``spec`` (compiled only to carry a ``clipvalue``)."""
    import tf_keras

    layers = [_layer(spec, h.kind, h.units, h.activation) for h in spec.hidden]
    if spec.defect == "keras3_layer":
        import keras  # Keras 3: what `tf.keras` is on TF >= 2.16

        layers.insert(0, keras.layers.Dense(8, activation="tanh"))
    layers.append(_layer(spec, spec.output_layer, head_size(spec), None))
    layers.append(_head(spec))
    model = tf_keras.Sequential(layers)
    if spec.optimizer.clipvalue is not None:
        model.compile(optimizer=_optimizer(spec), loss=lambda y, d: -d.log_prob(y))
    return model


def _optimizer(spec: ModelSpec) -> Any:
    from tfpcheck._engine.optimizers import make_optimizer

    o = spec.optimizer
    return make_optimizer(o.optimizer, o.learning_rate, momentum=o.momentum, clipnorm=o.clipnorm,
                          clipvalue=o.clipvalue)


# --- layers ----------------------------------------------------------------------------------


def _layer(spec: ModelSpec, kind: str, units: int, activation: str | None) -> Any:
    import tensorflow_probability as tfp
    import tf_keras

    tfpl = tfp.layers
    if kind == "Dense":
        return tf_keras.layers.Dense(units, activation=activation)
    if kind == "DenseVariational":
        if spec.defect == "wrong_signature":  # the seed's Example 3
            return tfpl.DenseVariational(units, tfpl.default_multivariate_normal_fn,
                                         tfpl.default_multivariate_normal_fn, activation=activation)
        post = spec.posterior
        return tfpl.DenseVariational(
            units, _posterior_fn(post.family, post.init_scale), _prior_fn(spec.prior),
            kl_weight=post.kl_weight / spec.data.n_train, kl_use_exact=False,
            activation=activation,
        )
    cls = getattr(tfpl, kind)
    init = tf_keras.initializers.RandomNormal(mean=inv_softplus(spec.posterior.init_scale),
                                              stddev=0.1)
    return cls(
        units, activation=activation,
        kernel_posterior_fn=tfpl.default_mean_field_normal_fn(untransformed_scale_initializer=init),
        kernel_prior_fn=_prior_fn_v1(spec.prior),
        kernel_divergence_fn=kl_divergence_fn(spec),
    )


def inv_softplus(y: float) -> float:
    return float(math.log(math.expm1(y)))


def kl_divergence_fn(spec: ModelSpec) -> Callable[[Any, Any, Any], Any]:
    """KL(q || p) weighted by ``kl_weight / n_train``; Monte Carlo where no closed form exists."""
    import tensorflow as tf
    import tensorflow_probability as tfp

    weight = spec.posterior.kl_weight / spec.data.n_train
    samples = spec.posterior.mc_samples

    def divergence(q: Any, p: Any, _: Any) -> Any:
        try:
            kl = tfp.distributions.kl_divergence(q, p)
        except NotImplementedError:
            w = q.sample(samples)
            kl = tf.reduce_mean(q.log_prob(w) - p.log_prob(w), axis=0)
        return kl * tf.cast(weight, kl.dtype)

    return divergence


def weight_prior(prior: PriorSpec, loc: Any, dtype: Any) -> Any:
    """The per-weight prior distribution (batch shape = loc's shape)."""
    import tensorflow as tf
    import tensorflow_probability as tfp

    tfd = tfp.distributions
    scale = tf.cast(prior.scale, dtype)
    if prior.family == "laplace":
        return tfd.Laplace(loc, scale)
    if prior.family == "student_t":
        return tfd.StudentT(tf.cast(prior.df, dtype), loc, scale)
    if prior.family == "scale_mixture":
        locs = loc[..., None] + tf.zeros([2], dtype)
        scales = tf.stack([scale, scale * MIXTURE_NARROW])
        mix = tfd.Categorical(probs=tf.cast([MIXTURE_WEIGHT, 1 - MIXTURE_WEIGHT], dtype))
        return tfd.MixtureSameFamily(mix, tfd.Normal(locs, scales))
    return tfd.Normal(loc, scale)


def _prior_fn(prior: PriorSpec) -> Callable[..., Any]:
    """DenseVariational's ``make_prior_fn(kernel_size, bias_size, dtype)``."""

    def make(kernel_size: int, bias_size: int = 0, dtype: Any = None) -> Any:
        import tensorflow_probability as tfp
        import tf_keras

        tfpl, tfd = tfp.layers, tfp.distributions
        n = kernel_size + bias_size
        return tf_keras.Sequential([
            tfpl.VariableLayer(n, dtype=dtype, trainable=prior.trainable,
                               initializer=tf_keras.initializers.Constant(prior.loc)),
            tfpl.DistributionLambda(lambda t: tfd.Independent(weight_prior(prior, t, t.dtype), 1)),
        ])

    return make


def _prior_fn_v1(prior: PriorSpec) -> Callable[..., Any]:
    """The Flipout family's ``kernel_prior_fn(dtype, shape, name, trainable, add_variable_fn)``."""

    def make(dtype: Any, shape: Any, name: str, trainable: bool, add_variable_fn: Any) -> Any:
        import tensorflow as tf
        import tensorflow_probability as tfp
        import tf_keras

        if prior.trainable:
            loc = add_variable_fn(name=name + "_prior_loc", shape=shape, dtype=dtype, trainable=True,
                                  initializer=tf_keras.initializers.Constant(prior.loc))
        else:
            loc = tf.fill(shape, tf.cast(prior.loc, dtype))
        return tfp.distributions.Independent(weight_prior(prior, loc, dtype), len(shape))

    return make


def _posterior_fn(family: str, init_scale: float) -> Callable[..., Any]:
    """DenseVariational's ``make_posterior_fn``: mean-field Normals or one full-rank MVN."""
    c = inv_softplus(init_scale)

    def make(kernel_size: int, bias_size: int = 0, dtype: Any = None) -> Any:
        import tensorflow as tf
        import tensorflow_probability as tfp
        import tf_keras

        tfpl, tfd, tfb = tfp.layers, tfp.distributions, tfp.bijectors
        n = kernel_size + bias_size
        if family == "full_rank":
            tril = tfb.FillScaleTriL(
                diag_bijector=tfb.Chain([tfb.Shift(1e-5), tfb.Softplus(), tfb.Shift(c)]),
                diag_shift=None)
            return tf_keras.Sequential([
                tfpl.VariableLayer(n + n * (n + 1) // 2, dtype=dtype),
                tfpl.DistributionLambda(
                    lambda t: tfd.MultivariateNormalTriL(t[..., :n], tril(t[..., n:]))),
            ])
        return tf_keras.Sequential([
            tfpl.VariableLayer(2 * n, dtype=dtype),
            tfpl.DistributionLambda(lambda t: tfd.Independent(
                tfd.Normal(t[..., :n], 1e-5 + tf.nn.softplus(c + t[..., n:])), 1)),
        ])

    return make


# --- output heads ----------------------------------------------------------------------------

_SIZES = {"normal": 2, "normal_fixed_scale": 1, "laplace": 2, "student_t": 3, "poisson": 1,
          "negative_binomial": 2, "bernoulli": 1, "log_normal": 2}


def head_size(spec: ModelSpec) -> int:
    """Outputs the head's distribution takes (a Python int: Keras 3's Dense refuses NumPy's)."""
    return int(_head_size(spec))


def _head_size(spec: ModelSpec) -> Any:
    import tensorflow_probability as tfp

    tfpl = tfp.layers
    h = spec.head
    if h.family in _SIZES:
        return _SIZES[h.family]
    if h.family in ("categorical", "one_hot_categorical"):
        return spec.data.output_dim
    if h.family == "independent_normal":
        return tfpl.IndependentNormal.params_size(1)
    if h.family == "mixture_normal":
        return tfpl.MixtureNormal.params_size(h.components, [1])
    return tfpl.MultivariateNormalTriL.params_size(1)


def _scale(t: Any, defect: str | None) -> Any:
    """The head's scale from an unconstrained output: softplus with a floor (or the defect)."""
    import tensorflow as tf

    if defect == "raw_scale":
        return t
    if defect == "relu_scale":
        return tf.nn.relu(t)
    if defect == "exp_scale":
        return tf.exp(t)
    return 1e-3 + tf.math.softplus(0.05 * t)


def _head(spec: ModelSpec) -> Any:
    import tensorflow_probability as tfp

    tfpl, h = tfp.layers, spec.head
    if h.family == "independent_normal":
        return tfpl.IndependentNormal(1)
    if h.family == "mixture_normal":
        return tfpl.MixtureNormal(h.components, [1])
    if h.family == "multivariate_normal_tril":
        return tfpl.MultivariateNormalTriL(1)
    return tfpl.DistributionLambda(distribution_fn(spec))


def distribution_fn(spec: ModelSpec) -> Callable[[Any], Any]:
    """The head's distribution from the raw outputs ``t`` (the tf_keras head wraps it in a
    DistributionLambda; a Keras 3 model builds it in its loss)."""
    import tensorflow as tf
    import tensorflow_probability as tfp

    tfpl, tfd = tfp.layers, tfp.distributions
    h, d = spec.head, spec.defect
    if h.family in ("normal", "laplace", "log_normal"):
        cls = {"normal": tfd.Normal, "laplace": tfd.Laplace, "log_normal": tfd.LogNormal}[h.family]
        if d == "broadcast_loc":  # the seed's Example 2 slicing: (N,) against (N, 1) targets
            return lambda t: cls(t[:, 0], _scale(t[:, 1], None))
        return lambda t: cls(t[..., :1], _scale(t[..., 1:], d))
    if h.family == "normal_fixed_scale":
        return lambda t: tfd.Normal(t, h.fixed_scale)
    if h.family == "student_t":
        return lambda t: tfd.StudentT(2.0 + tf.math.softplus(t[..., 2:]), t[..., :1], _scale(t[..., 1:2], d))
    if h.family == "poisson":
        return lambda t: tfd.Poisson(log_rate=t)
    if h.family == "negative_binomial":
        return lambda t: tfd.NegativeBinomial(total_count=1e-3 + tf.math.softplus(t[..., :1]),
                                              logits=t[..., 1:])
    if h.family == "bernoulli":
        return lambda t: tfd.Bernoulli(logits=t, dtype=t.dtype)
    if h.family == "categorical":
        return lambda t: tfd.Categorical(logits=t, dtype=t.dtype)
    if h.family == "one_hot_categorical":
        return lambda t: tfd.OneHotCategorical(logits=t, dtype=t.dtype)
    if h.family == "independent_normal":
        return lambda t: tfpl.IndependentNormal.new(t, [1])
    if h.family == "mixture_normal":
        return lambda t: tfpl.MixtureNormal.new(t, h.components, [1])
    return lambda t: tfpl.MultivariateNormalTriL.new(t, 1)
