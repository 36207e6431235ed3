"""tfpcheck.strategies: Hypothesis strategies for TFP + Keras model configurations.

Installed as ``tfpcheck.strategies`` (there is no top-level ``strategies`` module). Importing
it does not import TensorFlow; :func:`build_model` does, when called.

    import tfpcheck.strategies as ts
    from tfpcheck._engine import run_config

    @given(ts.model_specs())
    def test_fits(spec):
        trace = run_config(*ts.spec_target(spec))

Importing it registers the ``tfpcheck-ci|dev|nightly`` Hypothesis profiles, for a user's own
``@given`` tests (``settings.get_profile("tfpcheck-dev")``).
"""

from tfpcheck._profiles import register as _register_profiles

from ._internal.architectures import (
    HeadSpec,
    LayerSpec,
    PosteriorSpec,
    architectures,
    heads,
    posteriors,
)
from ._internal.build import build_model
from ._internal.build_keras3 import build_keras3_model
from ._internal.configs import REGIME_BOUNDS, configs
from ._internal.data import DataSpec, data_specs, from_data, make_arrays
from ._internal.defects import DEFECTS, KERAS2_ONLY, NOT_DETECTED, NOT_DETECTED_KERAS3, Defect
from ._internal.modelspec import ModelSpec
from ._internal.optimizers import OptimizerSpec, optimizers
from ._internal.priors import PriorSpec, priors
from ._internal.specs import KERAS_VERSIONS, model_specs, spec_arrays, spec_target

_register_profiles()

__all__ = [
    "DEFECTS",
    "KERAS2_ONLY",
    "KERAS_VERSIONS",
    "NOT_DETECTED",
    "NOT_DETECTED_KERAS3",
    "DataSpec",
    "Defect",
    "HeadSpec",
    "LayerSpec",
    "ModelSpec",
    "OptimizerSpec",
    "PosteriorSpec",
    "PriorSpec",
    "REGIME_BOUNDS",
    "architectures",
    "build_keras3_model",
    "build_model",
    "configs",
    "data_specs",
    "from_data",
    "heads",
    "make_arrays",
    "model_specs",
    "optimizers",
    "posteriors",
    "priors",
    "spec_arrays",
    "spec_target",
]
