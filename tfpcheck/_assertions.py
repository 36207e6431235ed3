"""Assertion helpers for users' own test suites: train *this* model on *my* data, check it.

    def test_my_bnn_fits():
        tfpcheck.assert_invariants(build_bnn(), x_train, y_train, steps=100)
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from tfpcheck._config import Config
from tfpcheck._data import data_output_dim
from tfpcheck._env import prepare_tf_environment
from tfpcheck._intent import resolve_task
from tfpcheck._invariants import INVARIANTS
from tfpcheck._render import findings_text
from tfpcheck._report import Finding
from tfpcheck._target import Target
from tfpcheck.errors import InvalidArgument

__all__ = ["assert_invariants", "train_and_check"]


def train_and_check(
    model: Any,
    x: Any,
    y: Any,
    *,
    task: str | None = None,
    steps: int = 100,
    invariants: Iterable[str] = INVARIANTS,
    optimizer: str = "adam",
    learning_rate: float = 0.01,
    batch_size: int = 32,
    seed: int = 0,
) -> list[Finding]:
    """Train ``model`` (a tf_keras model, or a factory of one) on ``(x, y)`` for ``steps``.

    A compiled model keeps its loss, optimizer and learning rate; an uncompiled one is
    compiled with the negative log-likelihood and ``optimizer``/``learning_rate``. The data
    is used as given (no rescaling). ``task`` None: inferred as :func:`check` infers it (the
    output distribution's family or the loss, and the targets). ``learns`` needs a factory (its
    x-denied twin is a second build); for a model built already it is reported as not
    applicable. Returns the findings (empty when every invariant held).
    """
    names = tuple(invariants)
    unknown = sorted(set(names) - set(INVARIANTS))
    if unknown:
        raise InvalidArgument(f"invariants={unknown!r}: allowed are {list(INVARIANTS)}.")
    prepare_tf_environment()
    from tfpcheck._engine import probe_target, read_model, run_config
    from tfpcheck._search import findings_for

    built_already = not callable(model) or hasattr(model, "fit")
    factory = (lambda: model) if built_already else model
    name = getattr(model, "name", None) or getattr(model, "__name__", "model")
    target = Target(factory, name, task=task, data=(x, y), vary=frozenset())
    x, y = target.data  # arrays, x of shape (N,) made (N, 1), as for a decorated target
    probe = read_model(model, x, y, target.inputs) if built_already else probe_target(target)
    learning_rate = probe.user_learning_rate or learning_rate
    task = resolve_task(target, probe.task, probe.evidence)[0]  # a declared one checked on y
    config = Config(
        seed=seed, task=task, n_train=len(x), input_dim=int(x.shape[1]), steps=steps,
        output_dim=data_output_dim(y, task),
        optimizer=optimizer, learning_rate=learning_rate, batch_size=batch_size,
        dtype=str(x.dtype) if x.dtype in (np.float32, np.float64) else "float32",
    )
    trace = run_config(target, config, fresh_session=not built_already,
                       with_twin=not built_already)
    return findings_for(target, trace, names)


def assert_invariants(model: Any, x: Any, y: Any, **kwargs: Any) -> None:
    """Like :func:`train_and_check`, but raise ``AssertionError`` explaining every finding."""
    findings = train_and_check(model, x, y, **kwargs)
    if findings:
        raise AssertionError(findings_text(findings))
