"""The seed's models ported to Keras 3 as pytest targets: ``pytest --tfpcheck examples/``.

Each ``*_k3`` model keeps its seed bug and must fail with the cause its module docstring
names; each ``*_k3_fixed`` twin must pass.
"""

from seed_models_keras3 import (
    example1_k3,
    example1_k3_fixed,
    example2_k3,
    example2_k3_fixed,
    example3_k3,
    example3_k3_fixed,
)

__all__ = [
    "example1_k3",
    "example1_k3_fixed",
    "example2_k3",
    "example2_k3_fixed",
    "example3_k3",
    "example3_k3_fixed",
]
