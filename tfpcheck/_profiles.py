"""tfpcheck's Hypothesis settings profiles: ``tfpcheck-ci``, ``tfpcheck-dev``, ``tfpcheck-nightly``.

Registered with Hypothesis (``settings.get_profile("tfpcheck-nightly")``) rather than
sprinkled over calls. Each example is a brief training, so no deadline, and the health
checks about slow data generation do not apply. Registered when a profile is first asked for
(a search starts) and when ``tfpcheck.strategies`` is imported, not when this module is: the
pytest plugin reads PROFILES at every pytest start-up, and importing Hypothesis costs ~0.3 s.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from hypothesis import settings

__all__ = ["PROFILES", "profile", "register"]

#: Examples searched per target under each profile (``--tfpcheck-profile``).
PROFILES = {"ci": 3, "dev": 10, "nightly": 100}


@functools.cache
def register() -> None:
    """Register every profile with Hypothesis (once a process)."""
    from hypothesis import HealthCheck, settings

    for name, examples in PROFILES.items():
        settings.register_profile(
            f"tfpcheck-{name}",
            max_examples=examples,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            report_multiple_bugs=False,
            print_blob=False,
        )


def profile(name: str) -> settings:
    """The registered settings of profile ``name`` (``ci``, ``dev`` or ``nightly``)."""
    from hypothesis import settings

    register()
    return settings.get_profile(f"tfpcheck-{name}")
