"""Argument checks shared by every strategy: ``InvalidArgument`` with ``name=value`` and the fix."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Any

from tfpcheck.errors import InvalidArgument

__all__ = ["check_choices", "check_int_range", "check_float_range", "check_type"]


def check_type(name: str, value: Any, kind: type | tuple[type, ...], hint: str) -> None:
    if not isinstance(value, kind) or isinstance(value, bool) and bool not in _as_tuple(kind):
        raise InvalidArgument(f"{name}={value!r} must be {hint}.")


def check_int_range(
    fn: str, lo_name: str, lo: Any, hi_name: str, hi: Any, *, minimum: int = 1
) -> None:
    """``lo`` and ``hi`` are integers with ``minimum <= lo <= hi``."""
    for name, value in ((lo_name, lo), (hi_name, hi)):
        if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
            raise InvalidArgument(
                f"{fn}({name}={value!r}): must be an integer >= {minimum}, e.g. {name}={minimum}."
            )
    if lo > hi:
        raise InvalidArgument(
            f"{fn}({lo_name}={lo!r}, {hi_name}={hi!r}): {lo_name} must be <= {hi_name}; "
            f"swap them or pass {hi_name}={lo!r}."
        )


def check_float_range(
    fn: str, lo_name: str, lo: Any, hi_name: str, hi: Any, *, positive: bool = False
) -> None:
    """``lo`` and ``hi`` are finite numbers with ``lo <= hi`` (and > 0 if ``positive``)."""
    for name, value in ((lo_name, lo), (hi_name, hi)):
        ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
        if not ok or (positive and value <= 0):
            allowed = "a finite number > 0" if positive else "a finite number"
            raise InvalidArgument(f"{fn}({name}={value!r}): must be {allowed}.")
    if lo > hi:
        raise InvalidArgument(
            f"{fn}({lo_name}={lo!r}, {hi_name}={hi!r}): {lo_name} must be <= {hi_name}; "
            "swap them."
        )


def check_choices(fn: str, name: str, values: Any, allowed: Sequence[str]) -> tuple[str, ...]:
    """``values`` is a non-empty collection of names from ``allowed``; returned as a tuple."""
    if isinstance(values, str) or not isinstance(values, Iterable):
        raise InvalidArgument(
            f"{fn}({name}={values!r}): must be a list of names from {list(allowed)}, "
            f"e.g. {name}={[allowed[0]]!r}."
        )
    chosen = tuple(values)
    unknown = [v for v in chosen if v not in allowed]
    if unknown or not chosen:
        what = f"unknown {unknown}" if unknown else "is empty"
        raise InvalidArgument(
            f"{fn}({name}={values!r}): {what}; allowed: {list(allowed)}."
        )
    return chosen


def ordered(chosen: tuple[str, ...], allowed: Sequence[str]) -> list[str]:
    """``chosen`` in ``allowed``'s order, so the simplest choice comes first (the shrink target)."""
    return [a for a in allowed if a in chosen]


def _as_tuple(kind: type | tuple[type, ...]) -> tuple[type, ...]:
    return kind if isinstance(kind, tuple) else (kind,)
