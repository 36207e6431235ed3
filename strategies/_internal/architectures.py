"""Network shape, output head and variational posterior: the model half of a spec.

- :class:`LayerSpec` / :func:`architectures`: depth, units, activations and layer kinds (Dense
  and the tfp.layers variational Dense family);
- :class:`HeadSpec` / :func:`heads`: the output distribution, with the parameterization TFP's
  constraints need (softplus scales with a floor, logits, log-rates);
- :class:`PosteriorSpec` / :func:`posteriors`: posterior family, initial scale, KL weighting,
  Monte Carlo samples of a KL that has no closed form.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from hypothesis import strategies as st

from tfpcheck._config import TASKS
from tfpcheck.errors import InvalidArgument

from .validation import check_choices, check_int_range, ordered

__all__ = [
    "ACTIVATIONS", "HEALTHY_ACTIVATIONS", "HEADS", "LAYER_KINDS", "VARIATIONAL_KINDS", "HeadSpec",
    "LayerSpec", "PosteriorSpec", "architectures", "heads", "posteriors", "without_dead_inputs",
]

LAYER_KINDS = (
    "Dense", "DenseFlipout", "DenseReparameterization", "DenseLocalReparameterization",
    "DenseVariational",
)
VARIATIONAL_KINDS = LAYER_KINDS[1:]
ACTIVATIONS = ("tanh", "relu", "elu", "sigmoid")
#: The healthy space's activations: a carve-out, measured. Sigmoid hidden units in front of
#: variational layers sat on their plateau for all 1600 steps in 4 of 176 drawn healthy specs
#: (data term within 0.005 nats of the x-denied twin's, at SGD 0.001, Adam 0.003, Adagrad
#: 0.05; benchmarks/detection.py --n 200 --kinds healthy); every false alarm of that run had
#: sigmoid units. A brief check cannot tell that plateau from a model that cannot learn.
#: ``activations=ACTIVATIONS`` draws sigmoid too.
HEALTHY_ACTIVATIONS = ("tanh", "relu", "elu")
#: Output heads per task, simplest first.
HEADS = {
    "regression": ("normal", "normal_fixed_scale", "laplace", "student_t", "independent_normal",
                   "mixture_normal", "multivariate_normal_tril"),
    "count": ("poisson", "negative_binomial"),
    "binary": ("bernoulli",),
    "categorical": ("categorical", "one_hot_categorical"),
    "positive": ("log_normal",),
}
ALL_HEADS = tuple(h for hs in HEADS.values() for h in hs)
POSTERIOR_FAMILIES = ("mean_field", "full_rank")
#: full_rank is opt-in: a full-rank DenseVariational posterior over a hidden layer's weights
#: does not reliably fit in the brief training (seen: NaN loss at step 27, or no better than the
#: constant baseline), so it is not a "healthy by default" draw.
DEFAULT_POSTERIOR_FAMILIES = ("mean_field",)
_UNITS = (8, 16, 32, 4, 64)


@dataclass(frozen=True)
class LayerSpec:
    """One hidden layer."""

    kind: str = "Dense"
    units: int = 8
    activation: str = "tanh"


@dataclass(frozen=True)
class HeadSpec:
    """The output distribution. ``fixed_scale`` (normal_fixed_scale only) is the known noise
    level; ``components`` is the number of mixture components (mixture_normal only)."""

    family: str = "normal"
    fixed_scale: float | None = None
    components: int = 1


@dataclass(frozen=True)
class PosteriorSpec:
    """The variational posterior of every variational layer.

    ``family``: mean_field (independent Normals) or full_rank (a MultivariateNormalTriL over a
    layer's weights; DenseVariational layers only: the Flipout family is mean-field by
    construction). ``init_scale``: the posterior's initial standard deviation. ``kl_weight``:
    the KL term's weight as a multiple of ``1 / n_train`` (1.0 is the ELBO per example).
    ``mc_samples``: samples of the KL when prior and posterior have no closed-form KL (the
    Flipout family; DenseVariational in TFP 0.25 always estimates it from its one draw).
    """

    family: str = "mean_field"
    init_scale: float = 0.05
    kl_weight: float = 1.0
    mc_samples: int = 1


@st.composite
def architectures(
    draw: Any,
    *,
    min_depth: int = 0,
    max_depth: int = 2,
    min_units: int = 4,
    max_units: int = 32,
    activations: tuple[str, ...] | list[str] = HEALTHY_ACTIVATIONS,
    layer_kinds: tuple[str, ...] | list[str] = LAYER_KINDS,
    max_variational_layers: int = 1,
) -> tuple[LayerSpec, ...]:
    """The hidden layers (``min_depth`` to ``max_depth`` of them); shrinks toward no hidden
    layer, then toward Dense, ``tanh`` and the fewest units.

    Variational layers past ``max_variational_layers`` become Dense (a carve-out of the healthy
    space, measured): a stack of them on a few hundred examples pays a KL that outweighs what
    the data can tell. With 2 hidden variational layers (3 with the output layer), 13 of 182
    drawn healthy specs did not beat their x-denied twin after 1600 steps (data terms within
    0.02 nats, benchmarks/detection.py --n 200 --kinds healthy); with 1, none did. That is the
    ELBO's honest answer for so little data, not a healthy fit.
    """
    check_int_range("architectures", "min_depth", min_depth, "max_depth", max_depth, minimum=0)
    if not isinstance(max_variational_layers, int) or max_variational_layers < 0:
        raise InvalidArgument(
            f"architectures(max_variational_layers={max_variational_layers!r}): must be an "
            "integer >= 0, e.g. max_variational_layers=1."
        )
    check_int_range("architectures", "min_units", min_units, "max_units", max_units)
    acts = ordered(check_choices("architectures", "activations", activations, ACTIVATIONS),
                   ACTIVATIONS)
    kinds = ordered(check_choices("architectures", "layer_kinds", layer_kinds, LAYER_KINDS),
                    LAYER_KINDS)
    units = sorted(u for u in _UNITS if min_units <= u <= max_units)
    layer = st.builds(
        LayerSpec,
        kind=st.sampled_from(kinds),
        units=st.sampled_from(units) if units else st.integers(min_units, max_units),
        activation=st.sampled_from(acts),
    )
    hidden = draw(st.lists(layer, min_size=min_depth, max_size=max_depth))
    variational = [i for i, h in enumerate(hidden) if h.kind in VARIATIONAL_KINDS]
    for i in variational[max_variational_layers:]:
        hidden[i] = dataclasses.replace(hidden[i], kind="Dense")
    return without_dead_inputs(tuple(hidden))


def without_dead_inputs(hidden: tuple[LayerSpec, ...], output_kind: str | None = None
                        ) -> tuple[LayerSpec, ...]:
    """``hidden`` with ELU instead of ReLU anywhere before a DenseLocalReparameterization layer.

    That layer's output scale is sqrt(x^2 . sigma^2): when every ReLU unit feeding it is dead
    for an example, the sqrt sits at 0, its gradient is inf and the step's gradients NaN (seen
    in a drawn spec at step 8). Dense layers in between do not help: their biases start at 0 and
    tanh(0) = elu(0) = 0, so an all-zero vector passes through them as zeros (seen: ReLU
    DenseLocalReparameterization(4) -> Dense(8, elu) -> DenseLocalReparameterization output, NaN
    gradients at step 0). A real pitfall, but not a healthy model.
    """
    kinds = [h.kind for h in hidden] + [output_kind]
    return tuple(
        dataclasses.replace(h, activation="elu")
        if h.activation == "relu" and "DenseLocalReparameterization" in kinds[i + 1:] else h
        for i, h in enumerate(hidden)
    )


@st.composite
def heads(
    draw: Any,
    *,
    task: str = "regression",
    families: tuple[str, ...] | list[str] | None = None,
    max_components: int = 3,
) -> HeadSpec:
    """An output distribution for ``task`` (see :data:`HEADS`), correctly parameterized."""
    check_choices("heads", "task", [task], TASKS)
    allowed = HEADS[task]
    chosen = allowed if families is None else check_choices("heads", "families", families, allowed)
    check_int_range("heads", "max_components", max_components, "max_components", max_components)
    family = draw(st.sampled_from(ordered(tuple(chosen), allowed)))
    if family == "mixture_normal":
        if max_components < 2:
            raise InvalidArgument(
                f"heads(max_components={max_components!r}): a mixture_normal head needs >= 2; "
                "raise it or leave mixture_normal out of families."
            )
        return HeadSpec(family, components=draw(st.integers(2, max_components)))
    return HeadSpec(family)


@st.composite
def posteriors(
    draw: Any,
    *,
    families: tuple[str, ...] | list[str] = DEFAULT_POSTERIOR_FAMILIES,
    init_scale: float | st.SearchStrategy[float] = 0.05,
    kl_weight: float | st.SearchStrategy[float] = 1.0,
    min_mc_samples: int = 1,
    max_mc_samples: int = 4,
) -> PosteriorSpec:
    """A posterior: ``families`` mean_field/full_rank; KL weight 1/n_train by default."""
    chosen = ordered(check_choices("posteriors", "families", families, POSTERIOR_FAMILIES),
                     POSTERIOR_FAMILIES)
    check_int_range("posteriors", "min_mc_samples", min_mc_samples, "max_mc_samples",
                    max_mc_samples)
    scale = draw(init_scale) if isinstance(init_scale, st.SearchStrategy) else init_scale
    weight = draw(kl_weight) if isinstance(kl_weight, st.SearchStrategy) else kl_weight
    for name, value in (("init_scale", scale), ("kl_weight", weight)):
        if not isinstance(value, (int, float)) or not value > 0:
            raise InvalidArgument(f"posteriors({name}={value!r}): must be a number > 0.")
    return PosteriorSpec(
        family=draw(st.sampled_from(chosen)),
        init_scale=float(scale),
        kl_weight=float(weight),
        mc_samples=draw(st.integers(min_mc_samples, max_mc_samples)),
    )
