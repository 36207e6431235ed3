"""Known defects, injected into an otherwise healthy :class:`ModelSpec`.

Each :class:`Defect` says which invariant(s) tfpcheck must report and which cause(s) it may
name, and how few training steps show it. ``benchmarks/detection.py`` measures how often
tfpcheck does; :data:`NOT_DETECTED` names the defects it does not catch yet, and why.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from hypothesis import strategies as st

from .architectures import HeadSpec, LayerSpec
from .modelspec import ModelSpec
from .optimizers import HEALTHY_LEARNING_RATES

__all__ = ["DEFECTS", "KERAS2_ONLY", "NOT_DETECTED", "NOT_DETECTED_KERAS3", "Defect", "inject"]


@dataclass(frozen=True)
class Defect:
    invariants: tuple[str, ...]
    causes: tuple[str, ...]
    steps: int
    description: str
    apply: Callable[[ModelSpec, Any], ModelSpec]


#: high_lr multiplies the healthy rate the spec drew by one of these.
HIGH_LR_FACTORS = (300.0, 100.0)


def _steps(spec: ModelSpec, steps: int) -> ModelSpec:
    return spec.replace(optimizer=dataclasses.replace(spec.optimizer, steps=min(steps, spec.optimizer.steps)))


def _regression(spec: ModelSpec, family: str = "normal") -> ModelSpec:
    """The spec on regression data with a ``family`` head (the defect lives in that head)."""
    data = spec.data
    if data.task != "regression":
        data = dataclasses.replace(data, task="regression", output_dim=1, y_scale=1.0)
    return spec.replace(data=data, head=HeadSpec(family))


def _head_defect(spec: ModelSpec, draw: Any) -> ModelSpec:
    return _regression(spec, "normal")


def _exp_scale(spec: ModelSpec, draw: Any) -> ModelSpec:
    # exp of an unbounded output overflows once the output is large: raw (unscaled) features,
    # through layers that do not saturate (a tanh hidden layer bounds the output: 2 of 10 drawn
    # specs trained through 20 steps with the loss falling, 4.5 -> 2.7, no defect to find).
    hidden = tuple(h if h.activation in ("relu", "elu") else dataclasses.replace(h, activation="relu")
                   for h in spec.hidden if h.kind == "Dense")
    spec = _regression(spec).replace(output_layer="Dense", hidden=hidden)
    scale = draw(st.sampled_from([1e3, 1e4]))
    return spec.replace(data=dataclasses.replace(spec.data, x_scale=scale))


def _normal_on_counts(spec: ModelSpec, draw: Any) -> ModelSpec:
    """The seed's example of a poor distribution choice: a Normal head on count data -- small
    counts (mean rate 0.8-1.7), where a Normal must put mass below zero. At y_scale 3 (rates
    1.5-30) a fitted Normal is a fair approximation of the counts: both misses among 20 drawn
    specs (tf_keras and Keras 3, benchmarks/detection.py --n 10) were counts at y_scale 3."""
    data = dataclasses.replace(spec.data, task="count", output_dim=1, y_offset=0.0,
                               heavy_tails=False, outlier_fraction=0.0,
                               y_scale=draw(st.sampled_from([1.0, 0.5])))
    return spec.replace(data=data, head=HeadSpec("normal"))


def _poisson_on_real(spec: ModelSpec, draw: Any) -> ModelSpec:
    return _regression(spec, "poisson")


def _poisson_on_fractional(spec: ModelSpec, draw: Any) -> ModelSpec:
    data = dataclasses.replace(spec.data, task="positive", output_dim=1, y_offset=0.0)
    return spec.replace(data=data, head=HeadSpec("poisson"))


def _variational(spec: ModelSpec, draw: Any) -> ModelSpec:
    """At least the output layer is variational (the defects below live in its KL or prior)."""
    if spec.output_layer == "Dense":
        kind = draw(st.sampled_from(["DenseFlipout", "DenseVariational", "DenseReparameterization",
                                     "DenseLocalReparameterization"]))
        spec = spec.replace(output_layer=kind)
    return spec


def _kl_not_divided(spec: ModelSpec, draw: Any) -> ModelSpec:
    # A real network: with a handful of weights the undivided KL is too small to matter.
    spec = _variational(spec, draw)
    if not any(h.kind != "Dense" and h.units >= 16 for h in spec.hidden):
        spec = spec.replace(hidden=(LayerSpec(spec.output_layer, 32, "tanh"), *spec.hidden))
    post = dataclasses.replace(spec.posterior, kl_weight=float(spec.data.n_train))
    return spec.replace(posterior=post, prior=dataclasses.replace(spec.prior, trainable=False))


def _narrow_prior(spec: ModelSpec, draw: Any) -> ModelSpec:
    spec = _variational(spec, draw)
    prior = dataclasses.replace(spec.prior, scale=draw(st.sampled_from([1e-3, 1e-4])),
                                trainable=False)
    return spec.replace(prior=prior)


def _high_lr(spec: ModelSpec, draw: Any) -> ModelSpec:
    """SGD at HIGH_LR_FACTORS times a rate it trains this spec with (the drawn rate, brought into
    SGD's healthy range), unclipped: relative to the model's healthy rate rather than a fixed
    number. Most drawn models diverge at it, not all (a linear head on unit-scale features
    trains at SGD 1.3): ``benchmarks/detection.py`` checks by training that the model measurably
    diverges and raises the rate where it does not. SGD, because its step grows with the gradient:
    Adam's is bounded by its rate, and Adam at 100x (0.3-1.4) trained 6 of 8 drawn specs without
    any invariant breaking -- no defect to find (measured on benchmarks/detection.py's draws)."""
    lo, hi = HEALTHY_LEARNING_RATES["sgd"]
    base = min(max(spec.optimizer.learning_rate, lo), hi)
    opt = dataclasses.replace(spec.optimizer, optimizer="sgd", clipnorm=None, clipvalue=None,
                              learning_rate=round(base * draw(st.sampled_from(HIGH_LR_FACTORS)), 6))
    return spec.replace(optimizer=opt)


def _mc_sampling(spec: ModelSpec, draw: Any) -> ModelSpec:
    """One weight draw per batch (no Flipout) from a posterior as wide as the prior (the TFP
    regression tutorial's initial scale, 1.0), and a one-sample KL: the noisiest estimator.
    Slow rather than always broken: trained to the cap, most such posteriors keep narrowing,
    and tfpcheck then reports posterior_not_collapsed as inconclusive (``_checks.NARROWING_SHARE``)
    rather than a failure, as it does where the draws stop swamping the predictions when the
    configuration is trained to LONGER_RUN times the cap; found are those still swamped then,
    or that fail learns. Measured (``benchmarks/detection.py --n 6 --kinds mc_sampling``, the
    specs' cap 400 steps): 1 of 6 found; 4 of 6 before the longer run, 3 of which held by step
    1600, the default cap."""
    spec = _regression(spec)
    kind = draw(st.sampled_from(["DenseReparameterization", "DenseVariational"]))
    post = dataclasses.replace(spec.posterior, family="mean_field", init_scale=1.0, mc_samples=1)
    return spec.replace(hidden=(LayerSpec(kind, 32, "tanh"),), output_layer=kind, posterior=post)


def _variational_family(spec: ModelSpec, draw: Any) -> ModelSpec:
    """A mean-field posterior where the true posterior is strongly correlated: every feature
    duplicated, so each pair of weights is only identified through its sum."""
    spec = _regression(spec)
    data = dataclasses.replace(spec.data, duplicated_features=spec.data.input_dim,
                               constant_features=0)
    post = dataclasses.replace(spec.posterior, family="mean_field")
    return spec.replace(data=data, output_layer="DenseVariational", posterior=post)


def _keras3_layer(spec: ModelSpec, draw: Any) -> ModelSpec:
    # build_model puts a Keras 3 Dense first into the tf_keras model; build_keras3_model a
    # tfp.layers head after the Keras 3 layers: the two ways Keras versions get mixed.
    return spec


def _wrong_signature(spec: ModelSpec, draw: Any) -> ModelSpec:
    if "DenseVariational" not in (spec.output_layer, *(h.kind for h in spec.hidden)):
        spec = spec.replace(output_layer="DenseVariational")
    return spec


DEFECTS: dict[str, Defect] = {
    "raw_scale": Defect(("positive_scales",), ("parameterization",), 20,
                        "a raw linear output used as the Normal scale", _head_defect),
    "relu_scale": Defect(("positive_scales",), ("parameterization",), 20,
                         "ReLU of an output used as the Normal scale (exactly 0 for half the inputs)",
                         _head_defect),
    "exp_scale": Defect(("positive_scales", "finite_loss"), ("numerical_instability",), 20,
                        "exp of an unbounded output as the scale, on raw features", _exp_scale),
    "broadcast_loc": Defect(("loss_shape",), ("shape_broadcast",), 20,
                            "loc sliced to (N,) against (N, 1) targets", _head_defect),
    "normal_on_counts": Defect(("predictive_in_domain", "learns"), ("distribution_choice",), 400,
                               "a Normal head on count data (negative counts predicted)",
                               _normal_on_counts),
    "poisson_on_real": Defect(("data_in_support",), ("distribution_choice",), 20,
                              "a Poisson head on real-valued (negative) targets", _poisson_on_real),
    "poisson_on_fractional": Defect(("data_in_support",), ("distribution_choice",), 20,
                                    "a Poisson head on positive fractional targets",
                                    _poisson_on_fractional),
    "kl_not_divided": Defect(("posterior_not_collapsed", "learns"), ("kl_scaling",), 400,
                             "the KL term not divided by n_train", _kl_not_divided),
    "high_lr": Defect(("no_divergence", "finite_loss", "finite_gradients", "positive_scales", "learns"),
                      ("optimizer_settings",),
                      400, "SGD at 100-300x a rate that trains the model", _high_lr),
    # positive_scales and finite_loss too: the KL of a 1e-4 prior can be the whole first loss and
    # its gradient throw the weights, a softplus head's scale to 0 at step 1 (measured, seed 228).
    "narrow_prior": Defect(("posterior_not_collapsed", "learns", "positive_scales", "finite_loss"),
                           ("prior_mismatch",), 400,
                           "a fixed prior far narrower (1e-3, 1e-4) than the weights the data need",
                           _narrow_prior),
    "keras3_layer": Defect(("builds",), ("keras_version",), 5,
                           "Keras versions mixed: a Keras 3 (tf.keras on TF >= 2.16) layer in a "
                           "tf_keras model, or a tfp.layers head in a Keras 3 model",
                           _keras3_layer),
    "wrong_signature": Defect(("builds",), ("tfp_layer_misuse",), 5,
                              "DenseVariational handed default_multivariate_normal_fn "
                              "(the Flipout family's posterior signature)", _wrong_signature),
    "mc_sampling": Defect(("posterior_not_collapsed", "learns", "no_divergence"), ("mc_sampling",),
                          400, "one weight draw per batch from a prior-wide posterior, one-sample KL",
                          _mc_sampling),
    "variational_family": Defect(("learns", "posterior_not_collapsed"), ("variational_family",), 400,
                                 "a mean-field posterior over duplicated (perfectly correlated) "
                                 "features", _variational_family),
}

#: Defects that live in a tfp.layers API, so a Keras 3 spec (no tfp.layers) cannot carry them.
KERAS2_ONLY = ("wrong_signature",)

#: Defects in :data:`DEFECTS` that tfpcheck does not detect yet, and why (measured by
#: ``benchmarks/detection.py``); they inject and train like the others.
NOT_DETECTED: dict[str, str] = {}


def inject(spec: ModelSpec, kind: str, draw: Any) -> ModelSpec:
    """``spec`` with defect ``kind`` injected and its expectations recorded."""
    d = DEFECTS[kind]
    spec = _steps(d.apply(spec, draw), d.steps)
    return spec.replace(defect=kind, expected_invariants=d.invariants, expected_causes=d.causes)

#: Defects detected in tf_keras specs but not (yet) in Keras 3 specs, and why (measured).
NOT_DETECTED_KERAS3: dict[str, str] = {
}
