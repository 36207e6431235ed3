"""tfpcheck's Hypothesis settings profiles: ``tfpcheck-ci``, ``tfpcheck-dev``, ``tfpcheck-nightly``.

Registered with Hypothesis (``settings.get_profile("tfpcheck-nightly")``) rather than
sprinkled over calls. Each example is a brief training, so no deadline, and the health
checks about slow data generation do not apply.
"""

from __future__ import annotations

from hypothesis import HealthCheck, settings

__all__ = ["PROFILES", "profile"]

#: Examples searched per target under each profile (``--tfpcheck-profile``).
PROFILES = {"ci": 3, "dev": 10, "nightly": 100}


def _register() -> None:
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
    return settings.get_profile(f"tfpcheck-{name}")


_register()
