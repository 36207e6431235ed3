"""Models of several inputs: their arrays packed into the one x the engine subsamples, rescales
and batches, and split back into what the model takes at each call.

Light on purpose (NumPy only, imported lazily by ``_target``): the pytest plugin imports that at
collection time.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["InputLayout", "pack", "unpack"]


@dataclass(frozen=True)
class InputLayout:
    """Where each input's array lies in the packed x: its key (a dict's key, or a position in a
    list or tuple), its shape per example and its dtype."""

    kind: str  # "dict", "list" or "tuple": the container the model is given
    keys: tuple[Any, ...]
    shapes: tuple[tuple[int, ...], ...]
    dtypes: tuple[str, ...]

    def spans(self) -> list[tuple[int, int]]:
        """Each input's columns of the packed x, as (start, stop)."""
        spans, start = [], 0
        for shape in self.shapes:
            width = int(np.prod(shape, dtype=np.int64))
            spans.append((start, start + width))
            start += width
        return spans

    def assemble(self, parts: list[Any]) -> Any:
        """``parts`` (one per input, in order) in the container the user's data came in."""
        if self.kind == "dict":
            return dict(zip(self.keys, parts, strict=True))
        return list(parts) if self.kind == "list" else tuple(parts)

    def describe(self) -> str:
        """The inputs as a user would name them: ``'a': (N, 3) float32, 'ids': (N,) int64``."""
        return ", ".join(f"{k!r}: ({', '.join(['N', *map(str, s)])}{',' if not s else ''}) {d}"
                         for k, s, d in zip(self.keys, self.shapes, self.dtypes, strict=True))


def pack(x: Any) -> tuple[np.ndarray, InputLayout]:
    """One 2-D array of every input's columns, side by side, and the layout that splits it.

    Integer inputs (ids for an Embedding) travel as exact floats: float32 holds integers up to
    2**24, float64 (used where a part is float64 or an id exceeds that) up to 2**53.
    """
    kind = "dict" if isinstance(x, dict) else "list" if isinstance(x, list) else "tuple"
    keys = tuple(x) if kind == "dict" else tuple(range(len(x)))
    arrays = [np.asarray(x[k]) for k in keys]
    wide = any(a.dtype == np.float64 or (a.dtype.kind in "iu" and a.size and np.abs(a).max() > 2**24)
               for a in arrays)
    dtype = np.float64 if wide else np.float32
    columns = [a.reshape(len(a), -1).astype(dtype) for a in arrays]
    layout = InputLayout(kind, keys, tuple(a.shape[1:] for a in arrays), tuple(str(a.dtype) for a in arrays))
    return np.concatenate(columns, axis=1), layout


def unpack(x: np.ndarray, layout: InputLayout) -> Any:
    """The packed ``x`` split back into the user's arrays (integer inputs as integers again)."""
    parts = []
    for (start, stop), shape, dtype in zip(layout.spans(), layout.shapes, layout.dtypes, strict=True):
        part = np.asarray(x)[:, start:stop].reshape(len(x), *shape)
        parts.append(np.rint(part).astype(dtype) if np.dtype(dtype).kind in "iub" else part)
    return layout.assemble(parts)
