"""Which targets a fuzz run covers: ``FILE.py::NAME``, every ``@tfpcheck.model`` in a FILE or
in a DIR's ``.py`` files, else ``[tool.tfpcheck] models`` in ``pyproject.toml``.

Files are read, not imported: the parent of the workers never imports TensorFlow (each
worker imports the target file itself), so a decorated factory is found by its decorator.
"""

from __future__ import annotations

import ast
from collections.abc import Sequence
from pathlib import Path

from tfpcheck.errors import UsageError

__all__ = ["decorated_names", "fuzz_targets"]


def fuzz_targets(args: Sequence[str], root: Path | None = None) -> list[str]:
    """Target specs (``path::name``) for ``args``, or the pyproject's models when none."""
    specs: list[str] = []
    for arg in args or _pyproject_models(root or Path.cwd()):
        specs.extend(_expand(arg))
    if not specs:
        where = ", ".join(args) if args else "[tool.tfpcheck] models in pyproject.toml"
        raise UsageError(
            f"no tfpcheck targets in {where}: name FILE.py::NAME, or a file or folder with "
            "@tfpcheck.model factories"
        )
    return list(dict.fromkeys(specs))


def _expand(arg: str) -> list[str]:
    if "::" in arg:
        return [arg]
    path = Path(arg)
    if path.is_dir():
        return [spec for file in sorted(path.rglob("*.py")) for spec in _file_targets(file, False)]
    if path.is_file():
        return _file_targets(path, True)
    raise UsageError(f"target {arg!r}: no such file or folder (expected FILE.py::NAME, FILE or DIR)")


def _file_targets(path: Path, named: bool) -> list[str]:
    names = decorated_names(path)
    if named and not names:
        raise UsageError(
            f"target {str(path)!r}: no @tfpcheck.model factory in it; name one as "
            f"{path}::factory_name"
        )
    return [f"{path.as_posix()}::{name}" for name in names]


def decorated_names(path: Path) -> list[str]:
    """Module-level functions decorated with ``@tfpcheck.model(...)`` / ``@model(...)``."""
    try:
        tree = ast.parse(path.read_text(), filename=str(path))
    except (SyntaxError, UnicodeDecodeError, OSError):
        return []
    return [
        node.name
        for node in tree.body
        if isinstance(node, ast.FunctionDef) and any(map(_is_model, node.decorator_list))
    ]


def _is_model(decorator: ast.expr) -> bool:
    func = decorator.func if isinstance(decorator, ast.Call) else decorator
    if isinstance(func, ast.Attribute):
        return func.attr == "model" and isinstance(func.value, ast.Name) and func.value.id == "tfpcheck"
    return isinstance(func, ast.Name) and func.id == "model"


def _pyproject_models(root: Path) -> list[str]:
    if root.resolve() != Path.cwd().resolve():
        raise UsageError(f"run tfpcheck fuzz from {root} to use its [tool.tfpcheck] models")
    from tfpcheck._target import pyproject_models

    return pyproject_models(root)  # paths relative to the project root, where fuzz runs
