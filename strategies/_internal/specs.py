"""Whole configurations drawn by :func:`model_specs`; :func:`spec_target` turns a
:class:`ModelSpec` into what the engine trains: ``run_config(*spec_target(spec))``.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from hypothesis import strategies as st

from tfpcheck._config import TASKS, Config
from tfpcheck._target import Target
from tfpcheck.errors import InvalidArgument

from . import architectures as arch
from .architectures import HEADS, LAYER_KINDS, architectures, heads, posteriors, without_dead_inputs
from .build import build_model
from .build_keras3 import build_keras3_model
from .data import DataSpec, data_specs, make_arrays
from .defects import DEFECTS, KERAS2_ONLY, inject
from .modelspec import ModelSpec
from .optimizers import OptimizerSpec, optimizers
from .priors import PriorSpec, priors
from .validation import check_choices, ordered

__all__ = ["KERAS_VERSIONS", "model_specs", "spec_arrays", "spec_target"]

#: 2: tf_keras with tfp.layers (the distribution is the model's output); 3: Keras 3 on the
#: TensorFlow backend (the distribution built in the loss, a hand-written variational layer).
KERAS_VERSIONS = (2, 3)

DTYPES = ("float32", "float64")
#: float64 is opt-in (``dtypes=DTYPES``): with a full-rank DenseVariational posterior the built
#: model mixes float32 into a float64 forward pass ("Tensor conversion requested dtype float32").
DEFAULT_DTYPES = ("float32",)
#: Carve-out of the default healthy space, measured: SGD's heavy-ball step is lr / (1 - momentum),
#: so its healthy rates (optimizers.HEALTHY_LEARNING_RATES, up to 0.05) bound that effective rate.
#: Drawn at 0.0198 with momentum 0.9 (0.198 effective), a ReLU -> DenseReparameterization ->
#: MultivariateNormalTriL spec diverged for 8 of 8 initial draws, for 0 of 8 at 0.005 (0.05).
SGD_MAX_EFFECTIVE_RATE = 0.05
#: TFP's own heads whose scale is softplus of an unscaled output with no floor (IndependentNormal,
#: MixtureNormal; MultivariateNormalTriL's diag shift is 1e-5): a Glorot-initialised Dense can
#: start some examples' scale near 1e-4 (initial loss 84 per example instead of 1.4), and SGD's
#: step follows the 1/scale^3 gradient. Measured on a Dense -> IndependentNormal spec, plain SGD,
#: batch 16: 2 of 10 initial draws blew up at step 2-3 at 0.01, 0.02 and 0.04; 0 of 10 at 0.005
#: and 0.002 (Adam's bounded step survives). tfpcheck reports those blow-ups (positive_scales); the
#: default healthy space keeps SGD's effective rate at or below FLOORLESS_SGD_MAX_EFFECTIVE_RATE
#: for these heads.
FLOORLESS_SCALE_HEADS = ("independent_normal", "mixture_normal", "multivariate_normal_tril")
FLOORLESS_SGD_MAX_EFFECTIVE_RATE = 0.005
#: The adaptive optimizers' rates under FLOORLESS_SCALE_HEADS: with no floor a mixture component's
#: scale can shrink onto a few targets until the loss is NaN. Measured with plain tf_keras ``fit``
#: (no tfpcheck; 400 steps, 20 seeds a cell) on a drawn healthy spec (DenseLocalReparameterization
#: 32 relu -> DenseLocalReparameterization -> MixtureNormal(3), scale-mixture prior, 128 examples,
#: batch 64), runs that went NaN: Adam 0.01 0/20, 0.02 0/20, 0.03 5/20, 0.04 2/20, 0.0476 10/30;
#: RMSprop 0.01 0/20, 0.02 2/20, 0.0476 4/20; Adagrad 0.15 0/20, 0.3 1/20; an IndependentNormal
#: head, Adam 0.02 0/20, 0.0476 1/20. tfpcheck reports those NaNs (finite_gradients); the default
#: healthy space keeps these optimizers at or below these rates for these heads.
FLOORLESS_ADAPTIVE_MAX_RATES = {"adam": 0.02, "rmsprop": 0.01, "adagrad": 0.15}


@st.composite
def model_specs(
    draw: Any,
    *,
    task: str | st.SearchStrategy[str] = "regression",
    data: st.SearchStrategy[DataSpec] | None = None,
    optimizer: st.SearchStrategy[OptimizerSpec] | None = None,
    hidden: st.SearchStrategy[tuple[arch.LayerSpec, ...]] | None = None,
    output_layers: tuple[str, ...] | list[str] = LAYER_KINDS,
    head: st.SearchStrategy[arch.HeadSpec] | None = None,
    prior: st.SearchStrategy[PriorSpec] | None = None,
    posterior: st.SearchStrategy[arch.PosteriorSpec] | None = None,
    dtypes: tuple[str, ...] | list[str] = DEFAULT_DTYPES,
    defects: tuple[str, ...] | list[str] = (),
    keras: int | st.SearchStrategy[int] = 2,
) -> ModelSpec:
    """A whole configuration. With no ``defects`` every draw is a healthy model that passes all
    ten invariants; with ``defects`` one of them is injected into an otherwise healthy draw and
    ``expected_invariants``/``expected_causes`` say what tfpcheck must report. ``keras=3`` builds
    Keras 3 models (:mod:`build_keras3`); defects that exist only in tfp.layers
    (``KERAS2_ONLY``) are not drawn for them."""
    outs = ordered(check_choices("model_specs", "output_layers", output_layers, LAYER_KINDS),
                   LAYER_KINDS)
    dts = ordered(check_choices("model_specs", "dtypes", dtypes, DTYPES), DTYPES)
    kinds = check_choices("model_specs", "defects", defects, tuple(DEFECTS)) if defects else ()
    chosen_task = draw(task) if isinstance(task, st.SearchStrategy) else task
    check_choices("model_specs", "task", [chosen_task], TASKS)
    version = draw(keras) if isinstance(keras, st.SearchStrategy) else keras
    check_choices("model_specs", "keras", [version], KERAS_VERSIONS)
    if version == 3 and kinds:
        kinds = tuple(k for k in kinds if k not in KERAS2_ONLY)
        if not kinds:
            raise InvalidArgument(f"model_specs: defects={list(defects)!r} exist only in tfp.layers "
                                  "(tf_keras); with keras=3 pick others, or keras=2")
    spec = ModelSpec(
        data=draw(data if data is not None else data_specs(task=chosen_task)),
        optimizer=draw(optimizer if optimizer is not None else optimizers()),
        hidden=draw(hidden if hidden is not None else architectures()),
        output_layer=draw(st.sampled_from(outs)),
        head=draw(head if head is not None else heads(task=chosen_task)),
        prior=draw(prior if prior is not None else priors()),
        posterior=draw(posterior if posterior is not None else posteriors()),
        dtype=draw(st.sampled_from(dts)),
        keras=version,
    )
    spec = _consistent(spec)
    if optimizer is None:  # the default healthy rates: asked-for ones are drawn as asked
        spec = _floorless_within_reach(_sgd_within_reach(spec))
    if kinds:
        spec = inject(spec, draw(st.sampled_from(list(kinds))), draw)
    return spec


def _consistent(spec: ModelSpec) -> ModelSpec:
    """Tie a head's fixed scale to the data (a user who fixes the scale knows the noise level);
    no ReLU in front of a DenseLocalReparameterization output layer (see without_dead_inputs)."""
    spec = spec.replace(hidden=without_dead_inputs(spec.hidden, spec.output_layer))
    if spec.head.family == "normal_fixed_scale" and spec.head.fixed_scale is None:
        head = dataclasses.replace(spec.head, fixed_scale=round(0.5 * spec.data.y_scale, 4))
        spec = spec.replace(head=head)
    if spec.head.family not in HEADS[spec.data.task]:
        spec = spec.replace(head=arch.HeadSpec(HEADS[spec.data.task][0]))
    return spec


def _floorless_within_reach(spec: ModelSpec) -> ModelSpec:
    """An adaptive optimizer's rate capped at FLOORLESS_ADAPTIVE_MAX_RATES under
    FLOORLESS_SCALE_HEADS (measured reasons above)."""
    o = spec.optimizer
    cap = FLOORLESS_ADAPTIVE_MAX_RATES.get(o.optimizer)
    if cap is None or spec.head.family not in FLOORLESS_SCALE_HEADS or o.learning_rate <= cap:
        return spec
    return spec.replace(optimizer=dataclasses.replace(o, learning_rate=cap))


def _sgd_within_reach(spec: ModelSpec) -> ModelSpec:
    """SGD's effective rate lr / (1 - momentum) capped at SGD_MAX_EFFECTIVE_RATE, or at
    FLOORLESS_SGD_MAX_EFFECTIVE_RATE for FLOORLESS_SCALE_HEADS (measured reasons above)."""
    o = spec.optimizer
    if o.optimizer != "sgd":
        return spec
    floorless = spec.head.family in FLOORLESS_SCALE_HEADS
    cap = (FLOORLESS_SGD_MAX_EFFECTIVE_RATE if floorless else SGD_MAX_EFFECTIVE_RATE) * (1 - o.momentum)
    if o.learning_rate <= cap:
        return spec
    return spec.replace(optimizer=dataclasses.replace(o, learning_rate=round(cap, 6)))


def spec_arrays(spec: ModelSpec) -> tuple[Any, Any]:
    """The training ``(x, y)`` of ``spec`` (one-hot targets for a one_hot_categorical head)."""
    import numpy as np

    x, y = make_arrays(spec.data, spec.dtype)
    if spec.head.family == "one_hot_categorical":
        y = np.eye(spec.data.output_dim, dtype=spec.dtype)[y.astype(int)]
    return x, y


def spec_target(spec: ModelSpec) -> tuple[Target, Config]:
    """``(Target, Config)`` for the engine: ``run_config(*spec_target(spec))`` trains ``spec``."""
    def factory() -> Any:
        return build_keras3_model(spec) if spec.keras == 3 else build_model(spec)

    factory.__name__ = factory.__qualname__ = "build_model"
    target = Target(
        factory=factory, name=f"tfpcheck.strategies::{spec!r}", task=spec.data.task,
        data=spec_arrays(spec), vary=frozenset({"optimizer"}),
    )
    config = Config(**spec.data.config_fields(), **spec.optimizer.config_fields(), dtype=spec.dtype)
    return target, config
