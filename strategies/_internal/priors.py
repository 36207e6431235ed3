"""Priors over the weights of variational layers: :class:`PriorSpec`, drawn by :func:`priors`.

Families: Normal, Laplace, StudentT and a two-component scale mixture of Normals (Blundell et
al.'s "spike and slab"-like prior); narrow to wide, centred on or off zero, fixed or with a
trainable location. :mod:`strategies._internal.build` turns a spec into the prior functions
each tfp.layers API expects.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from hypothesis import strategies as st

from .data import log_uniform
from .validation import check_choices, check_float_range, ordered

__all__ = ["PRIOR_FAMILIES", "PriorSpec", "priors"]

PRIOR_FAMILIES = ("normal", "laplace", "student_t", "scale_mixture")
#: The scale mixture's narrow component, as a fraction of ``scale``, and its weight.
MIXTURE_NARROW = 0.1
MIXTURE_WEIGHT = 0.5
_FIXED_OR_TRAINABLE = st.booleans()


@dataclass(frozen=True)
class PriorSpec:
    """A prior over each weight; defaults: the standard Normal, fixed."""

    family: str = "normal"
    loc: float = 0.0
    scale: float = 1.0
    df: float = 5.0
    trainable: bool = False


@st.composite
def priors(
    draw: Any,
    *,
    families: tuple[str, ...] | list[str] = PRIOR_FAMILIES,
    min_scale: float = 0.5,
    max_scale: float = 5.0,
    min_loc: float = 0.0,
    max_loc: float = 0.0,
    trainable: bool | st.SearchStrategy[bool] = _FIXED_OR_TRAINABLE,
) -> PriorSpec:
    """A weight prior from ``families``; ``scale`` log-uniform in ``[min_scale, max_scale]``.

    The defaults are priors a healthy model fits with; ``min_scale=1e-3`` or
    ``min_loc``/``max_loc`` far from zero reach the priors that fight the data.
    """
    chosen = check_choices("priors", "families", families, PRIOR_FAMILIES)
    check_float_range("priors", "min_scale", min_scale, "max_scale", max_scale, positive=True)
    check_float_range("priors", "min_loc", min_loc, "max_loc", max_loc)
    family = draw(st.sampled_from(ordered(chosen, PRIOR_FAMILIES)))
    loc = 0.0 if min_loc == max_loc == 0 else draw(st.floats(min_loc, max_loc).map(lambda v: round(v, 3)))
    return PriorSpec(
        family=family,
        loc=loc,
        scale=draw(log_uniform(min_scale, max_scale)),
        df=draw(st.sampled_from([5.0, 3.0])) if family == "student_t" else 5.0,
        trainable=draw(trainable) if isinstance(trainable, st.SearchStrategy) else trainable,
    )
