"""The user's intent for a target: which task, and the setup they fixed themselves.

The task is the declared one, else the one the model's output distribution (or its loss)
implies; a declared task the user's own targets contradict is a clear error naming both.
The setup is what the user wrote: a compiled model's optimizer and learning rate, their own
data's size. The search tries exactly that first and stays near it in the default regime.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tfpcheck._data import data_output_dim
from tfpcheck._target import takes_parameter
from tfpcheck.errors import TargetError
from tfpcheck.strategies._internal.configs import UserSetup

__all__ = ["COUNT_MIN_VALUES", "resolve_task", "user_setup"]

#: Distinct values the user's non-negative integer targets need to be taken for counts.
COUNT_MIN_VALUES = 3


def resolve_task(target: Any, inferred: str | None, evidence: str) -> tuple[str, str]:
    """``(task, how it was decided)``; TargetError if the data contradict a declared task."""
    if target.task is not None:
        if target.data is not None:
            _check_declared(target.name, target.task, np.asarray(target.data[1]))
        return target.task, "declared"
    if inferred is None:
        return "regression", f"inferred: regression (default; {evidence})"
    if inferred == "regression" and target.data is not None:
        # A real-valued family on count data or 0/1 outcomes is itself a finding
        # (predictive_in_domain): the domain is the data's, not the family's.
        y = np.asarray(target.data[1])
        if _counts(y):
            return "count", f"inferred: count (the targets are non-negative integers; {evidence})"
        if _outcomes(y):
            return "binary", f"inferred: binary (the targets are 0/1 outcomes; {evidence})"
    return inferred, f"inferred: {inferred} ({evidence})"


def _outcomes(y: np.ndarray) -> bool:
    """Every target 0 or 1, both present: outcomes, whatever family the model reads them with."""
    values = np.unique(y.astype(float))
    return values.size == 2 and bool(np.all(values == [0.0, 1.0]))


def _counts(y: np.ndarray) -> bool:
    """Non-negative integers with at least COUNT_MIN_VALUES distinct values (0/1 alone is binary),
    zero among them: counts start at 0, integer scores (wine quality 3-9, ratings) do not. A
    Normal on 4-8 scores was flagged predictive_in_domain before zero was required (keras-io's
    probabilistic BNN, benchmarks/public_models.py)."""
    y = y.astype(float)
    return bool(np.all(y >= 0) and np.all(np.mod(y, 1) == 0) and np.any(y == 0)
                and np.unique(y).size >= COUNT_MIN_VALUES)


def user_setup(target: Any, probe: Any, task: str) -> UserSetup:
    """What the user fixed: a compiled model's optimizer (read by ``probe``, an
    ``engine.Probe``), their data's size and width, the batch size they declared; whether the
    model reads x as indices (an Embedding). Generated targets take the shape the model scores
    (its classes, its labels, one-hot rows) unless its factory takes ``output_dim``."""
    n_train = input_dim = output_dim = None
    if target.data is not None:
        x = np.asarray(target.data[0])
        n_train, input_dim = int(x.shape[0]), int(np.prod(x.shape[1:]) or 1)
        output_dim = data_output_dim(target.data[1], task)
    elif not takes_parameter(target.factory, "output_dim"):
        output_dim = probe.width
    return UserSetup(optimizer=probe.user_optimizer, learning_rate=probe.user_learning_rate,
                     n_train=n_train, input_dim=input_dim, batch_size=target.batch_size,
                     x_indices=probe.index_layer is not None, output_dim=output_dim,
                     one_hot=target.data is None and task == "categorical" and probe.one_hot)


def _check_declared(name: str, task: str, y: np.ndarray) -> None:
    y = y.astype(float)
    problem = _contradiction(task, y)
    if problem:
        raise TargetError(
            f"{name}: task={task!r} was declared, but the data's targets {problem}. Fix: declare "
            "the task the targets belong to (regression, count, binary, categorical, positive) or "
            "leave task out to have it inferred from the model."
        )


def _contradiction(task: str, y: np.ndarray) -> str | None:
    values = np.unique(y)[:6]
    shown = ", ".join(f"{v:g}" for v in values)
    integer = np.all(np.equal(np.mod(y, 1), 0))
    if task == "binary" and not np.all(np.isin(y, (0.0, 1.0))):
        return f"are not all 0 or 1 (values {shown}, ...)"
    if task == "count" and (np.any(y < 0) or not integer):
        return f"are not non-negative integers (values {shown}, ...)"
    if task == "categorical" and y.ndim == 2 and y.shape[1] > 1:
        one_hot = np.all(np.isin(y, (0.0, 1.0))) and np.all(y.sum(1) == 1)
        return None if one_hot else "are neither class indices nor one-hot rows"
    if task == "categorical" and (np.any(y < 0) or not integer):
        return f"are not class indices 0, 1, ... (values {shown}, ...)"
    if task == "positive" and np.any(y <= 0):
        return f"are not all > 0 (smallest {float(np.min(y)):g})"
    return None
