"""The seed's models as pytest targets: ``pytest --tfpcheck examples/``.

Without ``--tfpcheck`` each is collected and skipped. ``examples/`` has no
``__init__.py``, so pytest puts it on ``sys.path`` and ``seed_models`` imports.
"""

from seed_models import (
    example1,
    example1_fixed,
    example1_keras3,
    example2,
    example2_fixed,
    example2_keras3,
    example3,
    example3_fixed,
    example3_keras3,
    example3_posterior_fixed,
)

__all__ = [
    "example1",
    "example1_fixed",
    "example1_keras3",
    "example2",
    "example2_fixed",
    "example2_keras3",
    "example3",
    "example3_fixed",
    "example3_keras3",
    "example3_posterior_fixed",
]
