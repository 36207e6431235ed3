"""Targets: a user's model factory, how to call it, and where it came from.

Light on purpose: the pytest plugin imports this at collection time, so nothing
here may import TensorFlow.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import inspect
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tfpcheck import errors  # errors.InvalidArgument imports Hypothesis when first raised
from tfpcheck._config import REGIMES, TASKS
from tfpcheck.errors import UsageError

if TYPE_CHECKING:
    import numpy as np

    from tfpcheck._inputs import InputLayout

__all__ = ["pyproject_models", "KNOWN_PARAMETERS", "VARY", "Target", "model", "load_target", "factory_kwargs",
           "filled_parameters",
           "raise_if_invalid", "renamed"]

#: Factory parameters tfpcheck fills from what it draws.
KNOWN_PARAMETERS = ("input_dim", "output_dim", "n_train", "batch_size", "x_train", "y_train")
#: What a target may ask to vary beyond its user's own setup in the default regime (the stress
#: regime varies both): "data" rescales and offsets the user's data, "optimizer" draws learning
#: rates beyond a factor of 3 of a compiled model's own.
VARY = ("data", "optimizer")
_ATTR = "__tfpcheck_target__"


@dataclass(frozen=True)
class Target:
    """A model factory plus the knobs that say how to check it."""

    factory: Callable[..., Any]
    name: str
    task: str | None = None  # None: inferred from the model's output distribution or loss
    strategies: Mapping[str, Any] = field(default_factory=dict)
    data: Any = None
    regime: str | None = None
    vary: frozenset[str] = frozenset()
    #: The batch size the user's ``fit`` trains with (a fit argument, which no model records):
    #: their first example's, and the centre of the batch sizes further examples draw.
    batch_size: int | None = None
    #: For a model of several inputs, where each input's array lies in the one packed x of
    #: ``data`` (set from ``data``; None for one input).
    inputs: InputLayout | None = None
    #: Why the decorator's arguments can't be used (without the target's name, which may change):
    #: raised when the target is checked, not when its file is imported, so that one bad target
    #: costs neither its file's other targets nor a plain ``pytest`` run (Hypothesis' ``@given``
    #: reports a bad strategy the same way).
    invalid: str | None = None

    def __post_init__(self) -> None:
        if self.invalid is not None:
            return
        if self.task is not None and self.task not in TASKS:
            raise errors.InvalidArgument(
                f"{self.name}: task={self.task!r} is not one of {list(TASKS)}. "
                "Fix: pick the task that matches your targets."
            )
        if self.regime is not None and self.regime not in REGIMES:
            raise errors.InvalidArgument(f"{self.name}: regime={self.regime!r}; allowed: {list(REGIMES)}.")
        size = self.batch_size
        if size is not None and (isinstance(size, bool) or not isinstance(size, int) or size < 1):
            raise errors.InvalidArgument(
                f"{self.name}: batch_size={self.batch_size!r}; allowed: a positive int, the batch size "
                "your fit uses (model.fit(x, y, batch_size=128) -> @tfpcheck.model(batch_size=128)). "
                "A factory parameter named batch_size is filled with each example's batch size.")
        unknown = sorted(set(self.vary) - set(VARY))
        if unknown:
            raise errors.InvalidArgument(f"{self.name}: vary={sorted(self.vary)}; allowed: {list(VARY)}.")
        if self.data is not None:
            # Normalised to a tuple of arrays, so the engine sees exactly one form.
            x, y, inputs = _checked_data(self.name, self.data)
            object.__setattr__(self, "data", (x, y))
            object.__setattr__(self, "inputs", inputs or self.inputs)  # replace() passes x packed
        missing = unfilled_parameters(self.factory, self.strategies)
        if missing:
            raise errors.InvalidArgument(
                f"{self.name}: the factory's parameter(s) {missing} are not ones tfpcheck "
                f"fills ({', '.join(KNOWN_PARAMETERS)}). Fix: give each a Hypothesis strategy, e.g. "
                f"@tfpcheck.model(task={self.task!r}, {missing[0]}=st.floats(0.1, 10.0)), "
                "or a default value."
            )


def model(
    fn: Callable[..., Any] | None = None,
    *,
    task: str | None = None,
    data: Any = None,
    regime: str | None = None,
    vary: tuple[str, ...] | frozenset[str] = (),
    batch_size: int | None = None,
    **strategies: Any,
) -> Any:
    """Mark a model factory as a tfpcheck target; the factory is returned unchanged.

    ``batch_size`` is the one your ``fit`` uses (the model does not record it): the first
    example trains with it, further ones with half or twice it. ``strategies`` give Hypothesis
    strategies for factory parameters tfpcheck does not fill itself (anything beyond
    ``input_dim``, ``output_dim``, ``n_train``, ``batch_size``, ``x_train``, ``y_train``).
    """

    def mark(factory: Callable[..., Any]) -> Callable[..., Any]:
        name = _default_name(factory)
        try:
            target = Target(factory=factory, name=name, task=task, strategies=dict(strategies),
                            data=data, regime=regime, vary=frozenset(vary), batch_size=batch_size)
        except errors.InvalidArgument as exc:
            target = Target(factory=factory, name=name, invalid=str(exc).removeprefix(f"{name}: "))
        setattr(factory, _ATTR, target)
        return factory

    return mark(fn) if fn is not None else mark


def get_target(obj: Any) -> Target | None:
    """The :class:`Target` a decorated factory carries, or None."""
    return getattr(obj, _ATTR, None)


def load_target(spec: str, *, task: str | None = None) -> Target:
    """Resolve ``path/to/file.py::name`` to a Target; UsageError (one line) if it cannot."""
    path_text, sep, name = spec.partition("::")
    if not sep or not name:
        raise UsageError(f"target {spec!r} must look like path/to/file.py::factory_name")
    path = Path(path_text)
    if not path.is_file():
        raise UsageError(f"target {spec!r}: no such file {path_text!r}")
    module = _import_file(path)
    factory = getattr(module, name, None)
    if factory is None or not callable(factory):
        names = sorted(n for n, v in vars(module).items() if get_target(v) is not None)
        raise UsageError(
            f"target {spec!r}: {path_text} has no callable {name!r}"
            + (f" (its targets: {', '.join(names)})" if names else "")
        )
    found = get_target(factory)
    label = f"{path_text}::{name}"
    if found is None:
        return Target(factory=factory, name=label, task=task)
    return renamed(found, label, task or found.task)


def renamed(target: Target, name: str, task: str | None) -> Target:
    """``target`` under another name or task (a refused one keeps no task: it may be the bad one)."""
    return dataclasses.replace(target, name=name, task=None if target.invalid else task)


def raise_if_invalid(target: Target) -> None:
    """The decorator's deferred InvalidArgument, naming the target, raised where it is checked."""
    if target.invalid is not None:
        raise errors.InvalidArgument(f"{target.name}: {target.invalid}")


def unfilled_parameters(factory: Callable[..., Any], strategies: Mapping[str, Any]) -> list[str]:
    """Required factory parameters that neither tfpcheck nor a strategy fills."""
    return [
        p.name
        for p in _parameters(factory)
        if p.default is inspect.Parameter.empty
        and p.name not in KNOWN_PARAMETERS
        and p.name not in strategies
    ]


def filled_parameters(
    x: Any, y: Any, *, output_dim: int, batch_size: int, inputs: InputLayout | None = None,
) -> dict[str, Any]:
    """The value of each of KNOWN_PARAMETERS for training on ``(x, y)`` (a batch no larger than
    the data): what the factory's parameters of those names get. A model of several inputs gets
    its ``x_train`` as the user gave it (one array per input), and ``input_dim`` is their columns
    in all."""
    if inputs is not None:
        from tfpcheck._inputs import unpack

    return {"input_dim": x.shape[1], "output_dim": output_dim, "n_train": x.shape[0],
            "batch_size": min(batch_size, x.shape[0]), "y_train": y,
            "x_train": x if inputs is None else unpack(x, inputs)}


def factory_kwargs(
    factory: Callable[..., Any], available: Mapping[str, Any], drawn: Mapping[str, Any]
) -> dict[str, Any]:
    """Fill the factory's parameters by name from ``available`` and ``drawn`` values."""
    kwargs: dict[str, Any] = {}
    for p in _parameters(factory):
        if p.name in drawn:
            kwargs[p.name] = drawn[p.name]
        elif p.name in available:
            kwargs[p.name] = available[p.name]
    return kwargs


def _checked_data(name: str, data: Any) -> tuple[np.ndarray, np.ndarray, InputLayout | None]:
    """``data`` as a pair of NumPy arrays (one array per input of a model of several inputs packed
    into one x, with its layout), or InvalidArgument saying what was given and the fix."""
    import numpy as np  # here, not at import: the pytest plugin imports this module at start-up

    problem = None
    fix = "pass data=(x_train, y_train) as NumPy arrays with one row per example"
    arrays: list[np.ndarray] = []
    inputs = None
    if not isinstance(data, (tuple, list)) or len(data) != 2:
        problem = "it is not a pair (x, y)"
    else:
        parts = _several_inputs(*data)
        if parts is not None:
            problem = _unreadable_inputs(parts)
            if problem is None:
                from tfpcheck._inputs import pack

                packed, inputs = pack(data[0])
                data = (packed, data[1])
    if problem is None and isinstance(data[1], dict):
        problem = (f"y is a dict of targets, one per output ({sorted(data[1])}): tfpcheck checks a "
                   "model against one target array")
        fix = ("check each output as a target of its own: a factory that returns "
               "Model(inputs, outputs[name]) compiled with that output's loss, with "
               "data=(x_train, y_train[name])")
    if problem is None:
        for label, part in zip("xy", data, strict=True):
            try:
                arr = np.asarray(part)
            except Exception as exc:  # noqa: BLE001 - ragged lists, objects numpy refuses
                problem = f"{label} can't be read as an array ({type(exc).__name__}: {exc})"
                break
            if arr.dtype.kind not in "biuf":
                problem = f"{label} has dtype {arr.dtype}, not a numeric one"
                break
            if arr.ndim == 0 or arr.shape[0] == 0:
                problem = f"{label} has shape {arr.shape}: it needs at least one row"
                break
            arrays.append(arr)
        if problem is None and arrays[0].shape[0] != arrays[1].shape[0]:
            problem = (f"x has {arrays[0].shape[0]} rows and y has {arrays[1].shape[0]}: "
                       "they must have one row per example each")
    if problem is None:
        # x of shape (N,): N examples of one feature, as Keras feeds an Input((1,))
        x = arrays[0][:, None] if arrays[0].ndim == 1 else arrays[0]
        return x, arrays[1], inputs
    raise errors.InvalidArgument(
        f"{name}: data={_describe(data)} can't be used because {problem}. data= takes None "
        "(tfpcheck generates data for the task) or a pair (x, y) of numeric array-likes "
        "(NumPy arrays, lists, tensors) with the same number of rows, x at least 1-D; "
        f"anything else is refused rather than replaced by generated data. Fix: {fix}."
    )


def _several_inputs(x: Any, y: Any) -> dict[Any, Any] | None:
    """``x``'s arrays by key when it is one array per input of a model of several inputs (a dict
    of arrays, or a list or tuple of arrays each with y's rows), not a list of rows; else None."""
    if isinstance(x, dict):
        return x
    rows = getattr(y, "shape", (len(y),) if isinstance(y, (list, tuple)) else ())[:1]
    if not isinstance(x, (list, tuple)) or not x or not rows or len(x) == rows[0]:
        return None
    if all(len(getattr(p, "shape", ())) >= 1 and p.shape[0] == rows[0] for p in x):
        return dict(enumerate(x))
    return None


def _unreadable_inputs(parts: dict[Any, Any]) -> str | None:
    """Why one array per input can't be packed into one x: not numeric arrays of one length."""
    import numpy as np

    lengths = set()
    for key, part in parts.items():
        try:
            arr = np.asarray(part)
        except Exception as exc:  # noqa: BLE001 - ragged lists, objects numpy refuses
            return f"its input {key!r} can't be read as an array ({type(exc).__name__}: {exc})"
        if arr.dtype.kind not in "biuf" or arr.ndim == 0:
            return f"its input {key!r} is {_describe(part)}, not a numeric array with one row per example"
        lengths.add(arr.shape[0])
    if len(lengths) > 1:
        return f"its inputs have different numbers of rows ({sorted(lengths)})"
    return None if parts else "x is an empty dict"


def _describe(value: Any, depth: int = 0) -> str:
    """A short picture of ``value``: its type, and its shape and dtype where it has them."""
    shape, dtype = getattr(value, "shape", None), getattr(value, "dtype", None)
    if shape is not None and dtype is not None:
        return f"{type(value).__name__}(shape={tuple(shape)}, dtype={dtype})"
    if isinstance(value, (tuple, list)):
        if depth or len(value) > 3:
            return f"{type(value).__name__} of {len(value)} items"
        inner = ", ".join(_describe(v, depth + 1) for v in value)
        return f"({inner})" if isinstance(value, tuple) else f"[{inner}]"
    if isinstance(value, dict):
        return f"dict with keys {sorted(map(str, value))[:4]}"
    text = repr(value)
    return f"{type(value).__name__} {text[:40] + '...' if len(text) > 40 else text}"


def takes_parameter(factory: Callable[..., Any], name: str) -> bool:
    """Whether the factory has a parameter ``name`` (filled by name when it is called)."""
    return any(p.name == name for p in _parameters(factory))


def _parameters(factory: Callable[..., Any]) -> list[inspect.Parameter]:
    kinds = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    return [p for p in inspect.signature(factory).parameters.values() if p.kind in kinds]


def _default_name(factory: Callable[..., Any]) -> str:
    try:
        path = Path(inspect.getfile(factory))
        try:
            path = path.resolve().relative_to(Path.cwd().resolve())
        except ValueError:
            pass
        return f"{path.as_posix()}::{factory.__name__}"
    except (TypeError, OSError):
        return getattr(factory, "__qualname__", repr(factory))


def _import_file(path: Path) -> Any:
    """Import a user's file as a module, once per resolved path."""
    resolved = path.resolve()
    module_name = "_tfpcheck_target_" + str(abs(hash(str(resolved))))
    if module_name in sys.modules:
        return sys.modules[module_name]
    spec = importlib.util.spec_from_file_location(module_name, resolved)
    if spec is None or spec.loader is None:
        raise UsageError(f"target file {str(path)!r} cannot be imported as Python")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    sys.path.insert(0, str(resolved.parent))
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        del sys.modules[module_name]
        raise UsageError(
            f"target file {str(path)!r} raised {type(exc).__name__}: {exc} while being imported"
        ) from exc
    finally:
        sys.path.remove(str(resolved.parent))
    return module


def pyproject_models(root: Path) -> list[str]:
    """``[tool.tfpcheck] models = ["path/file.py::name", ...]`` from ``root``'s pyproject.toml,
    paths as written (relative to ``root``); [] without one (or on Python 3.10: no TOML reader)."""
    path = root / "pyproject.toml"
    if not path.is_file():
        return []
    try:
        import tomllib
    except ImportError:  # Python 3.10: no TOML reader in the standard library
        return []
    with path.open("rb") as f:
        models = tomllib.load(f).get("tool", {}).get("tfpcheck", {}).get("models", [])
    if not isinstance(models, list) or not all(isinstance(m, str) for m in models):
        raise UsageError(f"{path}: [tool.tfpcheck] models={models!r} must be a list of 'path/file.py::name'")
    return list(models)
