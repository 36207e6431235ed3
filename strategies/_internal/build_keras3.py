"""``build_keras3_model(spec)``: a :class:`ModelSpec` as a Keras 3 model (TensorFlow backend),
written the way a Keras 3 user writes one without tfp.layers (which need tf_keras).

- Dense layers are ``keras.layers.Dense``.
- Every variational kind is one hand-written mean-field layer (:func:`variational_dense`):
  Normal posteriors over kernel and bias, one weight draw per call (as
  ``DenseReparameterization`` does), the spec's prior, and the KL (closed form, else
  ``mc_samples`` draws) times ``kl_weight / n_train`` handed to ``add_loss``. A ``full_rank``
  posterior is built mean-field here: Keras 3 has no ``DenseVariational`` to take one.
- The head's distribution is built in the loss from the raw outputs (the same families and
  parameterisations as the tf_keras heads, injected defects included).

Keras 3, TensorFlow and TFP are imported inside the functions.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from .build import distribution_fn, head_size, inv_softplus, kl_divergence_fn, weight_prior
from .modelspec import ModelSpec

__all__ = ["build_keras3_model", "variational_dense"]


def build_keras3_model(spec: ModelSpec) -> Any:
    """A Keras 3 model for ``spec``, compiled with its optimizer and the negative log-likelihood
    of the head's distribution (built in the loss)."""
    import keras

    from tfpcheck._engine.optimizers import make_optimizer

    layers = [_layer(spec, h.kind, h.units, h.activation) for h in spec.hidden]
    layers.append(_layer(spec, spec.output_layer, head_size(spec), None))
    if spec.defect == "keras3_layer":  # the mirror image: a tfp.layers head in a Keras 3 model
        import tensorflow_probability as tfp

        layers.append(tfp.layers.DistributionLambda(distribution_fn(spec)))
    model = keras.Sequential(layers)
    o = spec.optimizer
    optimizer = make_optimizer(o.optimizer, o.learning_rate, momentum=o.momentum, clipnorm=o.clipnorm,
                               clipvalue=o.clipvalue, keras_3=True)
    model.compile(optimizer=optimizer, loss=_negative_log_likelihood(distribution_fn(spec)))
    return model


def _negative_log_likelihood(make: Callable[[Any], Any]) -> Callable[[Any, Any], Any]:
    def loss(y_true: Any, outputs: Any) -> Any:
        return -make(outputs).log_prob(y_true)

    return loss


def _layer(spec: ModelSpec, kind: str, units: int, activation: str | None) -> Any:
    import keras

    if kind == "Dense":
        return keras.layers.Dense(units, activation=activation)
    return variational_dense()(units, activation, spec)


@functools.cache
def variational_dense() -> type:
    """The hand-written Keras 3 variational Dense layer class (defined once Keras is imported)."""
    import keras
    import tensorflow as tf
    import tensorflow_probability as tfp

    tfd = tfp.distributions

    class VariationalDense(keras.layers.Layer):
        """Mean-field Normal posterior over kernel and bias (row -1), KL through ``add_loss``."""

        def __init__(self, units: int, activation: str | None, spec: ModelSpec, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            self.units, self.activation = units, keras.activations.get(activation)
            self.spec = spec
            self.divergence = kl_divergence_fn(spec)

        def build(self, input_shape: Any) -> None:
            shape = (int(input_shape[-1]) + 1, self.units)
            post, prior = self.spec.posterior, self.spec.prior
            self.loc = self.add_weight(shape=shape, initializer=keras.initializers.RandomNormal(stddev=0.1))
            self.raw_scale = self.add_weight(shape=shape, initializer=keras.initializers.RandomNormal(
                mean=inv_softplus(post.init_scale), stddev=0.1))
            self.prior_loc = self.add_weight(shape=shape, trainable=prior.trainable,
                                             initializer=keras.initializers.Constant(prior.loc))

        def call(self, x: Any) -> Any:
            q = tfd.Normal(self.loc, 1e-5 + tf.math.softplus(self.raw_scale))
            p = weight_prior(self.spec.prior, tf.convert_to_tensor(self.prior_loc), self.loc.dtype)
            w = q.sample()
            self.add_loss(tf.reduce_sum(self.divergence(q, p, w)))
            return self.activation(tf.matmul(x, w[:-1]) + w[-1])

    return VariationalDense
