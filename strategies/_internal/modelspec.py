"""The whole configuration of one check as a frozen, printable, JSON-able :class:`ModelSpec`."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from typing import Any

from tfpcheck._config import changed_fields

from .architectures import VARIATIONAL_KINDS, HeadSpec, LayerSpec, PosteriorSpec
from .data import DataSpec
from .optimizers import OptimizerSpec
from .priors import PriorSpec

__all__ = ["ModelSpec"]

_PARTS = {"data": DataSpec, "optimizer": OptimizerSpec, "head": HeadSpec, "prior": PriorSpec,
          "posterior": PosteriorSpec}


@dataclass(frozen=True)
class ModelSpec:
    """Data, optimizer, network, head, prior and posterior of one check, the Keras it is built
    with (``keras``: 2 or 3), plus the injected
    ``defect`` (None: healthy) and what tfpcheck should say about it. Frozen, printable (only
    the fields that differ from the defaults), JSON-serialisable (:meth:`to_json`)."""

    data: DataSpec = field(default_factory=DataSpec)
    optimizer: OptimizerSpec = field(default_factory=OptimizerSpec)
    hidden: tuple[LayerSpec, ...] = ()
    output_layer: str = "Dense"
    head: HeadSpec = field(default_factory=HeadSpec)
    prior: PriorSpec = field(default_factory=PriorSpec)
    posterior: PosteriorSpec = field(default_factory=PosteriorSpec)
    dtype: str = "float32"
    keras: int = 2  # 2: tf_keras with tfp.layers; 3: Keras 3, the distribution in the loss
    defect: str | None = None
    expected_invariants: tuple[str, ...] = ()
    expected_causes: tuple[str, ...] = ()

    @property
    def variational(self) -> bool:
        return any(k in VARIATIONAL_KINDS for k in (self.output_layer, *(h.kind for h in self.hidden)))

    def replace(self, **changes: Any) -> ModelSpec:
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ModelSpec:
        fields = dict(d)
        for name, kind in _PARTS.items():
            if name in fields:
                fields[name] = kind(**fields[name])
        fields["hidden"] = tuple(LayerSpec(**h) for h in fields.get("hidden", ()))
        for name in ("expected_invariants", "expected_causes"):
            fields[name] = tuple(fields.get(name, ()))
        return cls(**fields)

    def __repr__(self) -> str:
        return _short(self)


def _short(obj: Any) -> str:
    """``Name(field=value, ...)`` with only the fields that differ from the defaults."""
    if isinstance(obj, tuple) and obj and dataclasses.is_dataclass(obj[0]):
        return "(" + ", ".join(_short(v) for v in obj) + (",)" if len(obj) == 1 else ")")
    if not dataclasses.is_dataclass(obj):
        return repr(obj)
    parts = [f"{name}={_short(value)}" for name, value in changed_fields(obj).items()]
    return f"{type(obj).__name__}({', '.join(parts)})"
