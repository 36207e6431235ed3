"""What the user's code passes a distribution's parameter, read from its source, for fixes that
quote it: ``scale=t[..., :1]`` in a ``DistributionLambda``, a loss, a ``compute_loss`` or a
``call``. A fix that says ``softplus(0.05 * u), u the raw outputs (e.g. t[..., 1:])`` next to a
head whose scale is ``t[..., :1]`` points at the wrong column; one that quotes the user's own
argument does not. Read from the source files with ``ast``: nothing runs, and where the source
is not there (a notebook cell, a ``tfpl.IndependentNormal`` whose call is TFP's own) nothing is
quoted.
"""

from __future__ import annotations

import ast
import functools
import inspect
from collections.abc import Callable, Iterator
from dataclasses import replace
from typing import Any

import tensorflow_probability as tfp

from tfpcheck._trace import Trace

__all__ = ["parameter_source", "quote_sources"]


def quote_sources(model: Any, trace: Trace) -> None:
    """Each output parameter that left its constraint gets the argument the code gives it."""
    if not any(p.role == "output" for p in trace.param_violations):
        return
    functions = list(_user_functions(model))
    trace.param_violations = [
        replace(p, source=parameter_source(functions, p.distribution, p.path.rsplit(".", 1)[-1]))
        if p.role == "output" else p
        for p in trace.param_violations
    ]


def parameter_source(functions: list[Callable[..., Any]], family: str, parameter: str) -> str | None:
    """The one argument text ``functions`` give ``parameter`` in calls of ``family`` (by keyword,
    or by position in the family's constructor); None where there is none, or several."""
    positions = _positions(family)
    found = {text for fn in functions for call in _calls(fn, family)
             if (text := _argument(call, parameter, positions)) is not None}
    return found.pop() if len(found) == 1 else None


def _user_functions(model: Any) -> Iterator[Callable[..., Any]]:
    """Where a model builds its output distribution: its DistributionLambda functions, its loss,
    and the methods its own class overrides."""
    for layer in getattr(model, "layers", []):
        fn = getattr(layer, "_make_distribution_fn", None)
        if fn is not None:
            yield fn
    loss = getattr(model, "_tfpcheck_loss", None)
    for fn in (getattr(loss, "fn", None), loss, getattr(type(loss), "call", None)):
        if callable(fn):
            yield fn
    for name in ("call", "compute_loss", "train_step"):
        method = getattr(type(model), name, None)
        if method is not None:
            yield method


def _calls(fn: Callable[..., Any], family: str) -> list[ast.Call]:
    """The calls of ``family`` (``tfd.Normal(...)``, ``Normal(...)``) on the lines of ``fn``."""
    code = getattr(inspect.unwrap(fn), "__code__", None)
    if code is None:
        return []
    tree = _module_tree(code.co_filename)
    if tree is None:
        return []
    lines = [line for _, _, line in code.co_lines() if line is not None]
    first, last = code.co_firstlineno, max(lines, default=code.co_firstlineno)
    return [node for node in ast.walk(tree) if isinstance(node, ast.Call)
            and first <= node.lineno <= last and _called_name(node.func) == family]


@functools.lru_cache(maxsize=64)
def _module_tree(filename: str) -> ast.Module | None:
    if "site-packages" in filename or "dist-packages" in filename:
        return None  # TFP's and Keras' own code: not what the user wrote
    try:
        with open(filename, encoding="utf-8") as f:
            return ast.parse(f.read())
    except (OSError, SyntaxError, ValueError):
        return None


def _called_name(func: ast.expr) -> str | None:
    if isinstance(func, ast.Attribute):
        return func.attr
    return func.id if isinstance(func, ast.Name) else None


@functools.lru_cache(maxsize=64)
def _positions(family: str) -> tuple[str, ...]:
    """The family's constructor parameters in order (``Normal``: loc, scale, ...)."""
    cls = getattr(tfp.distributions, family, None)
    try:
        return tuple(p for p in inspect.signature(cls).parameters) if cls is not None else ()
    except (TypeError, ValueError):
        return ()


def _argument(call: ast.Call, parameter: str, positions: tuple[str, ...]) -> str | None:
    for keyword in call.keywords:
        if keyword.arg == parameter:
            return ast.unparse(keyword.value)
    if parameter in positions:
        index = positions.index(parameter)
        if index < len(call.args) and not any(isinstance(a, ast.Starred) for a in call.args[:index + 1]):
            return ast.unparse(call.args[index])
    return None
