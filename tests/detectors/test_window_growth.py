"""A window's buffer grows with its rows (issue 14): the same contents, bins and statistics as the
window allocated whole at its first row, for any sequence of appends, new features and closes."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from driftwarden.detectors.detector import DriftDetector
from driftwarden.detectors.reference import ReferenceProfile
from driftwarden.detectors.windows import VALUE_BYTES, SlidingWindow, allocated_rows, window_bytes

NAMES = ("a", "b", "c", "d", "e")


class WholeWindow(SlidingWindow):
    """The behaviour before: every row of the window allocated with its first column."""

    def _allocation(self, rows: int) -> int:
        return self.capacity


appends = st.tuples(
    st.just("append"),
    st.lists(st.sampled_from(NAMES), min_size=1, max_size=len(NAMES), unique=True),
    st.integers(0, 70),
)
operations = st.lists(
    st.one_of(appends, appends, appends, st.just(("clear",)), st.just(("track",)), st.just(("transform",))),
    min_size=1,
    max_size=25,
)


def assert_same(growing: SlidingWindow, whole: SlidingWindow) -> None:
    names, values, bins = growing.binned()
    whole_names, whole_values, whole_bins = whole.binned()
    assert names == whole_names and growing.rows == whole.rows and growing.total_rows == whole.total_rows
    np.testing.assert_array_equal(values, whole_values)  # the same rows in the same ring positions
    np.testing.assert_array_equal(bins, whole_bins)


@settings(max_examples=150, deadline=None)
@given(st.integers(1, 40), operations, st.integers(0, 2**32 - 1))
def test_a_growing_window_holds_what_the_whole_one_did(capacity: int, ops: list[Any], seed: int) -> None:
    rng = np.random.default_rng(seed)
    growing, whole = SlidingWindow(capacity=capacity), WholeWindow(capacity=capacity)
    for op in ops:
        if op[0] == "append":
            _, names, rows = op
            values = rng.normal(size=(rows, len(names)))
            values[rng.random(values.shape) < 0.1] = np.nan
            growing.append(names, values)
            whole.append(names, values)
        elif op[0] == "clear":
            growing.clear()
            whole.clear()
        elif op[0] == "track":
            edges = np.sort(rng.normal(size=(3, 4)), axis=1)
            growing.track_bins(NAMES[:3], edges)
            whole.track_bins(NAMES[:3], edges)
        else:
            growing.transform("a", np.round)
            whole.transform("a", np.round)
        assert_same(growing, whole)
        assert growing.nbytes == window_bytes(growing.rows, growing.columns, capacity) <= whole.nbytes
        assert growing.bytes_after(0) == growing.nbytes


@settings(max_examples=25, deadline=None)
@given(st.lists(st.integers(1, 400), min_size=1, max_size=12), st.integers(0, 2**32 - 1))
def test_a_growing_window_gives_the_same_drift_statistics(batches: list[int], seed: int) -> None:
    rng = np.random.default_rng(seed)
    reference = ReferenceProfile.fit(["x", "y"], rng.normal(size=(2000, 2)))
    growing = DriftDetector("m", reference, window=500)
    whole = DriftDetector("m", None, window=500)
    whole.window = WholeWindow(capacity=500)
    whole.set_reference(reference)
    for rows in batches:
        values = rng.normal(size=(rows, 2)) + np.array([0.3, 0.0])
        growing.update(["x", "y"], values)
        whole.update(["x", "y"], values)
    growing.evaluate(now=0.0)
    whole.evaluate(now=0.0)
    assert growing.report is not None and whole.report is not None
    got, expected = growing.report.to_dict(), whole.report.to_dict()
    got.pop("evaluated_at")
    expected.pop("evaluated_at")
    assert got == expected


def test_one_wide_row_allocates_a_small_block_not_the_window() -> None:
    w = SlidingWindow(capacity=5000, max_features=1000)
    names = [f"f{j}" for j in range(1000)]
    w.append(names, np.ones((1, 1000)))
    assert w.nbytes == 16 * 1000 * VALUE_BYTES  # 128 KB, where the whole window took 40 MB
    w.append(names, np.ones((100, 1000)))
    assert w.nbytes == 128 * 1000 * VALUE_BYTES
    w.append(names, np.ones((6000, 1000)))
    assert w.nbytes == window_bytes(5000, 1000, 5000) == 5000 * 1000 * VALUE_BYTES  # full: the window, no more


def test_what_a_batch_would_add_is_known_before_it_is_appended() -> None:
    w = SlidingWindow(["a"], capacity=1000)
    assert w.nbytes == 0 and w.bytes_after(1, ["a"]) == 16 * VALUE_BYTES
    assert w.bytes_after(300, ["a", "b", "c", "b"]) == 512 * 3 * VALUE_BYTES
    w.append(["a", "b", "c"], np.ones((300, 3)))
    assert w.nbytes == 512 * 3 * VALUE_BYTES == w.bytes_after(0)
    assert w.bytes_after(5000, ["c", "d"]) == 1000 * 4 * VALUE_BYTES  # never past the window's rows


def test_closing_a_tumbling_window_gives_its_buffer_back() -> None:
    w = SlidingWindow(["a"], capacity=1000)
    w.append(["a"], np.ones((900, 1)))
    assert w.nbytes == 1000 * VALUE_BYTES
    w.clear()
    assert w.nbytes == 0 and w.features == ("a",) and w.rows == 0


@pytest.mark.parametrize(("rows", "capacity", "expected"), [(0, 10, 0), (1, 10, 10), (1, 100, 16), (33, 100, 64)])
def test_allocated_rows(rows: int, capacity: int, expected: int) -> None:
    assert allocated_rows(rows, capacity) == expected
