"""`Layout`: where a device array's elements lie, rearranged by arithmetic; checked on numpy views,
whose memory can be read back (the layouts come from `__array_interface__`, as on the simulator)."""

from __future__ import annotations

import ctypes

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from fastweights.io._device_layout import Layout

try:
    from numpy.lib.array_utils import byte_bounds
except ImportError:  # numpy < 2
    from numpy import byte_bounds  # type: ignore[attr-defined,no-redef]


def elements(layout: Layout) -> np.ndarray:
    """The elements a layout with non-negative strides describes, read from memory."""
    memory = (ctypes.c_char * max(1, layout.extent)).from_address(layout.address)
    return np.ndarray(layout.shape, layout.dtype, buffer=memoryview(memory), strides=layout.strides).reshape(-1)


views = st.tuples(
    st.lists(st.integers(1, 5), min_size=1, max_size=4),  # shape
    st.data(),
)


@settings(max_examples=200, deadline=None)
@given(views)
def test_normalized_layouts_hold_the_same_elements(case) -> None:  # type: ignore[no-untyped-def]
    shape, data = case
    base = np.arange(int(np.prod(shape)), dtype=np.int32).reshape(shape)
    steps = tuple(data.draw(st.sampled_from([1, 2, -1, -2])) for _ in shape)
    view = base[tuple(slice(None, None, step) for step in steps)]
    view = view.transpose(data.draw(st.permutations(range(view.ndim))))
    layout = Layout.of(view).normalized()
    assert all(stride >= 0 for stride in layout.strides)
    assert np.array_equal(np.sort(elements(layout)), np.sort(view.reshape(-1)))
    low, high = byte_bounds(view)
    dense = high - low == view.nbytes  # distinct elements filling their memory span
    assert layout.is_dense() == dense
    if dense:
        assert np.array_equal(np.sort(elements(layout.flat())), np.sort(view.reshape(-1)))


def test_slices_rows_and_broadcasts() -> None:
    base = np.arange(60, dtype=np.int16).reshape(3, 4, 5)
    layout = Layout.of(base)
    assert layout.strides == (40, 10, 2) and layout.is_dense() and layout.extent == 120
    assert np.array_equal(elements(layout.index(1, 2)), base[:, 2].reshape(-1))
    assert np.array_equal(elements(layout.rows(1, 9)), base[1:].reshape(-1))
    broadcast = Layout.of(np.broadcast_to(base[:1], (4, 4, 5))).normalized()
    assert not broadcast.is_dense() and broadcast.strides[0] == 10  # the stride-0 axis goes last
    assert np.array_equal(np.sort(elements(broadcast)), np.sort(np.tile(base[0].reshape(-1), 4)))
    single = Layout.of(base[1:2, 2:3, 3:4]).normalized()
    assert single.shape == (1,) and single.is_dense() and elements(single).tolist() == [33]
