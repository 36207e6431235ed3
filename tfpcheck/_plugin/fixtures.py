"""Fixtures for users' own suites. Light at import; TensorFlow only when a fixture is used.

    def test_my_factory(tfpcheck_check):
        tfpcheck_check(my_factory, task="count")

    def test_my_model_on_my_data(tfpcheck_assert):
        tfpcheck_assert(build_model(), x, y, steps=100)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tfpcheck._plugin.item import OPTIONS, Options
from tfpcheck._render import findings_text

__all__ = ["tfpcheck_check", "tfpcheck_assert"]


@pytest.fixture(scope="session")
def tfpcheck_check(pytestconfig: pytest.Config) -> Callable[..., Any]:
    """``tfpcheck_check(factory, **options) -> Report``: search, shrink, and fail the test
    with the report if an invariant broke. Defaults come from the ``--tfpcheck-*`` options."""
    options = pytestconfig.stash.get(OPTIONS, Options())

    def run(factory: Any, **kwargs: Any) -> Any:
        from tfpcheck._api import check

        settings: dict[str, Any] = {
            "max_examples": options.max_examples, "seed": options.seed, "steps": options.steps,
            "regime": options.regime, "timeout": options.timeout,
        }
        settings.update(kwargs)
        report = check(factory, **settings)
        if not report.passed:
            pytest.fail(report.summary(), pytrace=False)
        return report

    return run


@pytest.fixture(scope="session")
def tfpcheck_assert() -> Callable[..., None]:
    """``tfpcheck_assert(model, x, y, steps=..., invariants=...)``: train on the user's own data
    and fail the test with an explanation of every violated invariant."""

    def run(model: Any, x: Any, y: Any, **kwargs: Any) -> None:
        from tfpcheck._assertions import train_and_check

        findings = train_and_check(model, x, y, **kwargs)
        if findings:
            pytest.fail(findings_text(findings), pytrace=False)

    return run
