"""Collecting tfpcheck targets as pytest items.

A target is any object in a collected test module's namespace that carries a
:class:`~tfpcheck.Target` (``@tfpcheck.model``), plus each ``--tfpcheck-model``.
Nothing here imports TensorFlow: only the user's own test modules may.
"""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any

import pytest

from tfpcheck._plugin.item import OPTIONS, SKIP_REASON, TargetItem
from tfpcheck._target import Target, get_target

__all__ = ["MODELS", "add_model_items", "items_for", "make_items", "sort_target_items"]

#: Targets loaded from ``--tfpcheck-model`` in ``pytest_configure``.
MODELS = pytest.StashKey[list[Target]]()


def make_items(collector: Any, name: str, obj: Any) -> list[TargetItem] | None:
    """Items for ``obj`` if it is a target, else None (pytest then collects it as usual)."""
    if inspect.ismodule(obj) or not callable(obj):
        return None  # never getattr on (lazily loading) modules
    target = get_target(obj)
    if not isinstance(target, Target):
        return None
    return items_for(collector, name, target)


def items_for(parent: Any, name: str, target: Target) -> list[TargetItem]:
    """One item per shard; skipped unless the plugin is enabled."""
    options = parent.config.stash[OPTIONS]
    n = options.shards
    names = [name] if n == 1 else [f"{name}[shard{i + 1}of{n}]" for i in range(n)]
    extra: dict[str, Any] = {}
    if parent.nodeid == "":  # directly under the session (--tfpcheck-model): nodeid is the spec
        extra = {"path": _source_path(target) or parent.path}
    items = [
        TargetItem.from_parent(
            parent, name=item_name, target=target, shard=i, shards=n,
            **(dict(extra, nodeid=item_name) if extra else {}),
        )
        for i, item_name in enumerate(names)
    ]
    if not options.enabled:
        for item in items:
            item.add_marker(pytest.mark.skip(reason=SKIP_REASON))
    return items


def _source_path(target: Target) -> Path | None:
    try:
        source = inspect.getsourcefile(target.factory)
    except TypeError:
        return None
    return Path(source) if source else None


def add_model_items(session: Any, items: list[Any]) -> None:
    """Append the ``--tfpcheck-model`` targets (as items directly under the session)."""
    for target in session.config.stash.get(MODELS, []):
        items.extend(items_for(session, target.name, target))


def sort_target_items(items: list[Any]) -> None:
    """Within each module, put its target items in name order (in their own slots)."""
    slots: dict[Any, list[int]] = {}
    for index, item in enumerate(items):
        if isinstance(item, TargetItem):
            slots.setdefault(item.parent, []).append(index)
    for indices in slots.values():
        ordered = sorted((items[i] for i in indices), key=lambda it: it.name)
        for i, item in zip(indices, ordered, strict=True):
            items[i] = item
