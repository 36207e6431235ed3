"""Several inputs packed into one x and split back (NumPy only: no TensorFlow here)."""

from __future__ import annotations

import numpy as np
import pytest

from tfpcheck._inputs import pack, unpack


@pytest.mark.parametrize("container", [dict, list, tuple])
def test_inputs_round_trip_with_their_shapes_and_integer_dtypes(container):
    rng = np.random.default_rng(0)
    arrays = [rng.integers(0, 50, size=(6, 1)), rng.normal(size=(6, 3)).astype("float32"),
              rng.normal(size=(6,)).astype("float32"), rng.normal(size=(6, 2, 4)).astype("float32")]
    x = {f"k{i}": a for i, a in enumerate(arrays)} if container is dict else container(arrays)
    packed, layout = pack(x)
    assert packed.shape == (6, 1 + 3 + 1 + 8) and packed.dtype == np.float32
    back = unpack(packed, layout)
    assert type(back) is container
    for got, want in zip(back.values() if container is dict else back, arrays, strict=True):
        assert got.shape == want.shape and got.dtype == want.dtype
        np.testing.assert_array_equal(got, want)


def test_ids_beyond_float32s_exact_integers_travel_as_float64():
    ids = np.array([[2**24 + 1], [3]])
    packed, layout = pack([ids, np.zeros((2, 1), "float32")])
    assert packed.dtype == np.float64
    np.testing.assert_array_equal(unpack(packed, layout)[0], ids)


def test_the_layout_describes_each_input():
    _, layout = pack({"ids": np.zeros((4, 1), "int64"), "x": np.zeros((4,), "float32")})
    assert layout.describe() == "'ids': (N, 1) int64, 'x': (N,) float32"
