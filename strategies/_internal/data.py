"""Training data: a :class:`DataSpec` per task, drawn by :func:`data_specs`; a user's fixed data,
rescaled and subsampled by :func:`from_data`.

A spec is plain values (printable, JSON-able); :func:`make_arrays` turns it into ``(x, y)``.
The task's generator is the engine's own (``make_data``); what a :class:`tfpcheck.Config` cannot
say (heavy tails, outliers, constant or duplicated features) is applied on top of it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from hypothesis import strategies as st

from tfpcheck._config import TASKS, Config, DataFields, field_values
from tfpcheck._data import make_data
from tfpcheck.errors import InvalidArgument

from .validation import check_choices, check_float_range, check_int_range

__all__ = ["CATEGORICAL_OUTPUT_DIMS", "SUBSAMPLE_FRACTIONS", "DataSpec", "data_specs", "make_arrays",
           "from_data", "log_uniform", "subsample_sizes"]

#: How far an outlier sits from the targets' centre, in target standard deviations.
OUTLIER_SDS = 10.0
_N_TRAIN = (256, 128, 512, 64, 1024)
#: Classes of generated categorical targets, the simplest (what shrinking reaches) first.
CATEGORICAL_OUTPUT_DIMS = (3, 2, 5)
#: The shares of a user's rows a subsample keeps: few sizes, so that successive examples share
#: ``n_train`` (a factory argument, so a new value is a new build and trace) and reuse one model
#: (``tfpcheck/_engine/reuse.py``); which rows are kept still varies with every draw. Measured
#: (``benchmarks/throughput.py --xdist``): any size in [n/2, n] rebuilt a user-data target's
#: model for nearly every example, a DenseFlipout example 2.3 s of which 1.5 s were tracing.
SUBSAMPLE_FRACTIONS = (1.0, 0.75, 0.5)


def subsample_sizes(n: int, min_fraction: float) -> st.SearchStrategy[int]:
    """Rows a subsample of ``n`` keeps: all of them (the simplest), or one of a few smaller sizes
    down to ``min_fraction`` of them."""
    least = max(1, math.ceil(min_fraction * n))
    sizes = [math.ceil(f * n) for f in SUBSAMPLE_FRACTIONS if f >= min_fraction] + [least]
    return st.sampled_from(list(dict.fromkeys(sizes)))


@dataclass(frozen=True)
class DataSpec(DataFields):
    """Generated training data: :class:`tfpcheck.Config`'s data fields (shared, not repeated)
    plus what a Config cannot say. Defaults are the simplest, most ordinary choice."""

    heavy_tails: bool = False
    outlier_fraction: float = 0.0
    constant_features: int = 0
    duplicated_features: int = 0
    nan_fraction: float = 0.0  # share of feature values replaced by NaN (missing data)

    @property
    def features(self) -> int:
        """Columns of ``x`` as the model sees them (drawn, constant and duplicated)."""
        return self.input_dim + self.constant_features + self.duplicated_features

    def config_fields(self) -> dict[str, Any]:
        """The :class:`tfpcheck.Config` fields this spec fixes."""
        return {**field_values(self, DataFields), "input_dim": self.features}


def log_uniform(lo: float, hi: float) -> st.SearchStrategy[float]:
    """Log-uniform on ``[lo, hi]`` to 3 significant digits; shrinks toward 1 (or the end nearer it)."""
    if lo == hi:
        return st.just(float(lo))
    return st.floats(math.log(lo), math.log(hi)).map(lambda v: _round3(min(max(math.exp(v), lo), hi)))


def _round3(v: float) -> float:
    return float(f"{v:.3g}")


def _offsets(lo: float, hi: float) -> st.SearchStrategy[float]:
    if lo == hi:
        return st.just(float(lo))
    return st.floats(lo, hi).map(lambda v: 0.0 if abs(v) < 1e-3 and lo <= 0 <= hi else _round3(v))


def _ints(lo: int, hi: int, ordinary: tuple[int, ...] = ()) -> st.SearchStrategy[int]:
    """Ordinary values inside ``[lo, hi]`` first (simplest first), else any integer in range."""
    inside = [v for v in ordinary if lo <= v <= hi]
    return st.sampled_from(inside) if inside else st.integers(lo, hi)


@st.composite
def data_specs(
    draw: Any,
    *,
    task: str | st.SearchStrategy[str] = "regression",
    min_n_train: int = 128,
    max_n_train: int = 512,
    min_input_dim: int = 1,
    max_input_dim: int = 8,
    min_x_scale: float = 1.0,
    max_x_scale: float = 1.0,
    min_x_offset: float = 0.0,
    max_x_offset: float = 0.0,
    min_y_scale: float = 0.5,
    max_y_scale: float = 2.0,
    min_y_offset: float = -0.5,
    max_y_offset: float = 0.5,
    min_noise: float = 0.1,
    max_noise: float = 0.5,
    heavy_tails: bool | st.SearchStrategy[bool] = False,
    max_outlier_fraction: float = 0.0,
    max_constant_features: int = 0,
    max_duplicated_features: int = 0,
    max_nan_fraction: float = 0.0,
) -> DataSpec:
    """Training data for ``task``. The defaults are data as a pipeline hands it over after the
    usual preprocessing; widen ``*_scale`` to 1e-3..1e4 and ``*_offset`` far from zero for raw data.
    Offsets are in units of the drawn scale (``max_x_offset=100`` puts the features' centre up
    to 100 spreads from zero): what breaks a fit is the centre relative to the spread.
    ``y_*`` apply to regression (and ``y_scale`` to count/positive rates). Data are finite
    unless ``max_nan_fraction`` > 0 asks for missing feature values."""
    _validate_data_args(locals())
    chosen = draw(task) if isinstance(task, st.SearchStrategy) else task
    check_choices("data_specs", "task", [chosen], TASKS)
    fields: dict[str, Any] = {
        "task": chosen,
        "seed": draw(st.integers(0, 2**16 - 1)),
        "n_train": draw(_ints(min_n_train, max_n_train, _N_TRAIN)),
        "input_dim": draw(_ints(min_input_dim, max_input_dim, (1, 2, 4, 8))),
        "output_dim": draw(st.sampled_from(CATEGORICAL_OUTPUT_DIMS)) if chosen == "categorical" else 1,
        "x_scale": draw(log_uniform(min_x_scale, max_x_scale)),
        "noise": draw(st.sampled_from(_inside((0.3, 0.1, 0.5), min_noise, max_noise))),
    }
    fields["x_offset"] = _round3(draw(_offsets(min_x_offset, max_x_offset)) * fields["x_scale"])
    if chosen in ("regression", "count", "positive"):
        lo, hi = (min_y_scale, max_y_scale) if chosen == "regression" else (0.5, 3.0)
        fields["y_scale"] = draw(log_uniform(lo, hi))
    if chosen == "regression":
        fields["y_offset"] = _round3(draw(_offsets(min_y_offset, max_y_offset)) * fields["y_scale"])
        fields["heavy_tails"] = draw(heavy_tails) if isinstance(heavy_tails, st.SearchStrategy) \
            else heavy_tails
        if max_outlier_fraction > 0:
            fields["outlier_fraction"] = draw(st.sampled_from([0.0, 0.01, 0.05, max_outlier_fraction]))
    if max_constant_features:
        fields["constant_features"] = draw(st.integers(0, max_constant_features))
    if max_duplicated_features:
        fields["duplicated_features"] = draw(st.integers(0, max_duplicated_features))
    if max_nan_fraction > 0:
        fields["nan_fraction"] = draw(st.sampled_from([0.0, 0.01, max_nan_fraction]))
    return DataSpec(**fields)


def _inside(values: tuple[float, ...], lo: float, hi: float) -> list[float]:
    inside = [v for v in values if lo <= v <= hi]
    return inside or [lo, hi]


def _validate_data_args(a: dict[str, Any]) -> None:
    fn = "data_specs"
    check_int_range(fn, "min_n_train", a["min_n_train"], "max_n_train", a["max_n_train"], minimum=2)
    check_int_range(fn, "min_input_dim", a["min_input_dim"], "max_input_dim", a["max_input_dim"])
    for name in ("x_scale", "y_scale"):
        check_float_range(fn, f"min_{name}", a[f"min_{name}"], f"max_{name}", a[f"max_{name}"],
                          positive=True)
    for name in ("x_offset", "y_offset"):
        check_float_range(fn, f"min_{name}", a[f"min_{name}"], f"max_{name}", a[f"max_{name}"])
    check_float_range(fn, "min_noise", a["min_noise"], "max_noise", a["max_noise"])
    if not 0 <= a["min_noise"] or not a["max_noise"] < 1:
        raise InvalidArgument(
            f"{fn}(min_noise={a['min_noise']!r}, max_noise={a['max_noise']!r}): noise is the share "
            "of the target's spread that is noise; allowed 0 <= noise < 1 (e.g. 0.3)."
        )
    if not 0 <= a["max_nan_fraction"] <= 0.5:
        raise InvalidArgument(f"{fn}(max_nan_fraction={a['max_nan_fraction']!r}): allowed 0 to 0.5.")
    if not 0 <= a["max_outlier_fraction"] <= 0.5:
        raise InvalidArgument(
            f"{fn}(max_outlier_fraction={a['max_outlier_fraction']!r}): allowed 0 to 0.5."
        )
    for name in ("max_constant_features", "max_duplicated_features"):
        if not isinstance(a[name], int) or a[name] < 0:
            raise InvalidArgument(f"{fn}({name}={a[name]!r}): must be an integer >= 0.")


def make_arrays(spec: DataSpec, dtype: str = "float32") -> tuple[np.ndarray, np.ndarray]:
    """``(x, y)`` for ``spec``: the engine's generator for the task, then the extras on top."""
    fields = {**spec.config_fields(), "input_dim": spec.input_dim}
    x, y = make_data(Config(**fields, dtype="float64"))
    rng = np.random.default_rng(spec.seed + 7)
    if spec.heavy_tails:
        y = y + spec.y_scale * spec.noise * rng.standard_t(2.0, size=y.shape)
    if spec.outlier_fraction:
        rows = rng.random(len(y)) < spec.outlier_fraction
        signs = rng.choice([-1.0, 1.0], size=(int(rows.sum()),) + y.shape[1:])
        y[rows] = spec.y_offset + OUTLIER_SDS * spec.y_scale * signs
    extra = [np.full((len(x), 1), spec.x_offset + spec.x_scale) for _ in range(spec.constant_features)]
    extra += [x[:, i % spec.input_dim : i % spec.input_dim + 1] for i in range(spec.duplicated_features)]
    x = np.concatenate([x, *extra], axis=1) if extra else x
    if spec.nan_fraction:
        x[rng.random(x.shape) < spec.nan_fraction] = np.nan
    return x.astype(dtype), y.astype(dtype)


@st.composite
def from_data(
    draw: Any,
    x: Any,
    y: Any,
    *,
    min_scale: float = 1.0,
    max_scale: float = 1.0,
    min_offset: float = 0.0,
    max_offset: float = 0.0,
    min_fraction: float = 0.5,
    rescale_targets: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """A user's fixed ``(x, y)``, subsampled (at least ``min_fraction`` of the rows, order kept)
    and its features (and targets, if ``rescale_targets``) scaled and shifted."""
    x, y = np.asarray(x), np.asarray(y)
    if x.ndim != 2 or y.shape[:1] != x.shape[:1]:
        raise InvalidArgument(
            f"from_data(x.shape={x.shape}, y.shape={y.shape}): x must be 2-D (rows, features) "
            "and y must have as many rows as x."
        )
    check_float_range("from_data", "min_scale", min_scale, "max_scale", max_scale, positive=True)
    check_float_range("from_data", "min_offset", min_offset, "max_offset", max_offset)
    if not 0 < min_fraction <= 1:
        raise InvalidArgument(f"from_data(min_fraction={min_fraction!r}): allowed 0 < fraction <= 1.")
    n = len(x)
    keep = draw(subsample_sizes(n, min_fraction))  # shrinks toward every row: no subsample at all
    rows = np.sort(np.random.default_rng(draw(st.integers(0, 2**16 - 1))).permutation(n)[:keep])
    scale, offset = draw(log_uniform(min_scale, max_scale)), draw(_offsets(min_offset, max_offset))
    xs, ys = x[rows] * scale + offset, y[rows]
    if rescale_targets:
        ys = ys * scale + offset
    return xs, ys
