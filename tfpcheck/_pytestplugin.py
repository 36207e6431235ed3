"""tfpcheck's pytest entry point (``pytest11``). Imports nothing heavy at start-up.

``@tfpcheck.model`` targets in collected test modules (and ``--tfpcheck-model``
ones) become test items, skipped unless ``--tfpcheck`` is given. Collection lives
in ``_plugin/collect.py``, running an item in ``_plugin/item.py``, the terminal section
and JSON report in ``_plugin/report.py``. TensorFlow is imported only when an item
runs, after TF's thread pools have been capped here.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from tfpcheck._argtypes import integer, positive_float, positive_int
from tfpcheck._config import REGIMES, TASKS
from tfpcheck._env import prepare_tf_environment
from tfpcheck._heap import freeze_survivors
from tfpcheck._plugin.collect import MODELS, add_model_items, make_items, sort_target_items
from tfpcheck._plugin.item import OPTIONS, Options
from tfpcheck._profiles import PROFILES

#: Fixtures for users' own suites (``tfpcheck_check``, ``tfpcheck_assert``).
pytest_plugins = ["tfpcheck._plugin.fixtures"]

__all__ = [
    "pytest_addoption", "pytest_collection_finish", "pytest_collection_modifyitems", "pytest_configure",
    "pytest_load_initial_conftests", "pytest_pycollect_makeitem", "pytest_unconfigure",
]


def pytest_addoption(parser: Any) -> None:
    group = parser.getgroup("tfpcheck", "property-based checks of TFP + Keras models")
    add = group.addoption
    add("--tfpcheck", action="store_true", default=False,
        help="train and check every tfpcheck target (without it, targets are skipped)")
    add("--tfpcheck-model", action="append", default=[], metavar="FILE::NAME",
        help="also check this model factory (repeatable; implies --tfpcheck)")
    add("--tfpcheck-task", choices=TASKS, default=None,
        help="the task of --tfpcheck-model factories (default: theirs, else regression)")
    add("--tfpcheck-profile", choices=tuple(PROFILES), default="ci",
        help="Hypothesis profile tfpcheck-ci|dev|nightly: "
        + ", ".join(f"{k}={v}" for k, v in PROFILES.items()) + " examples per target (default: ci)")
    add("--tfpcheck-max-examples", type=positive_int, default=None, metavar="N",
        help="examples per target (overrides the profile)")
    add("--tfpcheck-steps", type=positive_int, default=None, metavar="N",
        help="training steps per example (default: tfpcheck's brief training)")
    add("--tfpcheck-seed", type=integer, default=0, metavar="N", help="search seed (default 0)")
    add("--tfpcheck-regime", choices=REGIMES, default=None,
        help="default: data a healthy model handles; stress: raw scales, aggressive rates")
    add("--tfpcheck-report", default=None, metavar="PATH.json",
        help="write the JSON report of every target that ran")
    add("--tfpcheck-html", default=None, metavar="PATH.html",
        help="write report.html: each finding with its curves, configuration, cause and fix")
    add("--tfpcheck-timeout", type=positive_float, default=None, metavar="SECONDS",
        help="time limit per example (build + brief training); past it the target errors")
    add("--tfpcheck-shards", type=positive_int, default=1, metavar="N",
        help="split each target's examples over N items (for pytest -n)")


@pytest.hookimpl(tryfirst=True)
def pytest_load_initial_conftests(early_config: Any, parser: Any, args: list[str]) -> None:
    """Cap TF's threads before a conftest.py can import TensorFlow (then it is too late)."""
    if any(a == "--tfpcheck" or a.startswith("--tfpcheck-model") for a in args):
        prepare_tf_environment()


def pytest_configure(config: Any) -> None:
    models = config.getoption("tfpcheck_model") or []
    enabled = bool(config.getoption("tfpcheck") or models)
    max_examples = config.getoption("tfpcheck_max_examples")
    config.stash[OPTIONS] = Options(
        enabled=enabled,
        max_examples=max_examples or PROFILES[config.getoption("tfpcheck_profile")],
        steps=config.getoption("tfpcheck_steps"),
        seed=config.getoption("tfpcheck_seed"),
        regime=config.getoption("tfpcheck_regime"),
        shards=config.getoption("tfpcheck_shards"),
        timeout=config.getoption("tfpcheck_timeout"),
        database_dir=Path(config.rootpath) / ".hypothesis" / "tfpcheck",
    )
    if not enabled:
        return
    prepare_tf_environment()
    from tfpcheck._target import load_target
    from tfpcheck.errors import TfpcheckError

    loaded = []
    for spec in models + _pyproject_models(Path(config.rootpath), config.invocation_params.dir):
        try:
            loaded.append(load_target(spec, task=config.getoption("tfpcheck_task")))
        except TfpcheckError as exc:
            raise pytest.UsageError(f"--tfpcheck-model={spec}: {exc}") from None
    config.stash[MODELS] = loaded

    from tfpcheck._plugin.idle import Prefetch
    from tfpcheck._plugin.report import TfpcheckReporter
    from tfpcheck._plugin.schedule import Durations

    config.pluginmanager.register(Durations(config), "tfpcheck-durations")
    config.pluginmanager.register(Prefetch(), "tfpcheck-prefetch")

    report, html = config.getoption("tfpcheck_report"), config.getoption("tfpcheck_html")
    path = Path(config.invocation_params.dir, report) if report else None
    html_path = Path(config.invocation_params.dir, html) if html else None
    config.pluginmanager.register(TfpcheckReporter(config, path, html_path), "tfpcheck-reporter")


def _pyproject_models(root: Path, cwd: Path) -> list[str]:
    """The rootdir's ``[tool.tfpcheck] models``, as paths relative to where pytest runs."""
    from tfpcheck._target import pyproject_models
    from tfpcheck.errors import UsageError

    try:
        models = pyproject_models(root)
    except UsageError as exc:
        raise pytest.UsageError(str(exc)) from None
    specs = []
    for spec in models:
        file, sep, name = spec.partition("::")
        full = Path(file) if Path(file).is_absolute() else root / file
        specs.append(f"{os.path.relpath(full, cwd)}{sep}{name}")
    return specs


@pytest.hookimpl(tryfirst=True)
def pytest_pycollect_makeitem(collector: Any, name: str, obj: Any) -> Any:
    return make_items(collector, name, obj)


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(session: Any, config: Any, items: list[Any]) -> None:
    add_model_items(session, items)
    sort_target_items(items)


@pytest.hookimpl(trylast=True)
def pytest_collection_finish(session: Any) -> None:
    """What collection imported (TensorFlow with the targets' modules) lives to the end of a
    ``--tfpcheck`` session: the garbage collector need not scan it again (``_heap.py``)."""
    if session.config.stash[OPTIONS].enabled:
        freeze_survivors()


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config: Any) -> None:
    """Exit without a last scan of every TensorFlow object (1-2 s a process, each xdist worker's
    paid before the run can end)."""
    if OPTIONS in config.stash and config.stash[OPTIONS].enabled:
        freeze_survivors(collect=False)
