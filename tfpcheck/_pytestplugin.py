"""tfpcheck's pytest entry point (``pytest11``). Imports nothing heavy at start-up.

Only the options live here for now; collecting ``@tfpcheck.model`` targets as
test items comes with the plugin work. Importing TensorFlow is deferred until a
target is actually trained, after TF's thread pools have been capped.
"""

from __future__ import annotations

from typing import Any

from tfpcheck._env import prepare_tf_environment

__all__ = ["pytest_addoption", "pytest_configure"]


def pytest_addoption(parser: Any) -> None:
    group = parser.getgroup("tfpcheck", "property-based checks of TFP + Keras models")
    group.addoption(
        "--tfpcheck", action="store_true", default=False,
        help="train and check every tfpcheck target (without it, targets are skipped)",
    )


def pytest_configure(config: Any) -> None:
    if config.getoption("tfpcheck"):
        prepare_tf_environment()
