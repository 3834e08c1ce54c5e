"""The ring-buffer window and reference profiles."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from driftwarden.detectors.reference import ReferenceProfile
from driftwarden.detectors.windows import SlidingWindow, TooManyFeatures


def test_window_keeps_the_last_rows_across_wraps() -> None:
    w = SlidingWindow(["a"], capacity=4)
    for start in range(0, 10, 3):
        w.append(["a"], np.arange(start, start + 3, dtype=float)[:, None])
    _, values = w.snapshot()
    assert sorted(values[:, 0].tolist()) == [8.0, 9.0, 10.0, 11.0]
    assert w.rows == 4 and w.total_rows == 12


def test_a_batch_larger_than_the_window_keeps_its_tail() -> None:
    w = SlidingWindow(["a"], capacity=3)
    w.append(["a"], np.arange(10, dtype=float)[:, None])
    assert sorted(w.snapshot()[1][:, 0].tolist()) == [7.0, 8.0, 9.0]


def test_columns_follow_names_not_positions() -> None:
    w = SlidingWindow(["a", "b"], capacity=5)
    w.append(["b", "a"], np.array([[2.0, 1.0]]))
    w.append(["c"], np.array([[3.0]]))
    names, values = w.snapshot()
    assert names == ("a", "b", "c")
    assert values[0].tolist()[:2] == [1.0, 2.0] and np.isnan(values[0, 2])
    assert np.isnan(values[1, :2]).all() and values[1, 2] == 3.0


def test_feature_limit_refuses_without_changing_the_window() -> None:
    w = SlidingWindow(["a"], capacity=5, max_features=2)
    with pytest.raises(TooManyFeatures, match="max_features"):
        w.append(["b", "c"], np.ones((1, 2)))
    assert w.features == ("a",) and w.rows == 0


@settings(max_examples=50, deadline=None)
@given(st.integers(1, 20), st.lists(st.integers(0, 15), min_size=1, max_size=12))
def test_window_holds_exactly_the_most_recent_rows(capacity: int, batch_sizes: list[int]) -> None:
    w = SlidingWindow(["x"], capacity=capacity)
    stream = np.arange(sum(batch_sizes), dtype=float)
    start = 0
    for size in batch_sizes:
        w.append(["x"], stream[start : start + size, None])
        start += size
    _, values = w.snapshot()
    assert sorted(values[:, 0].tolist()) == stream[-capacity:].tolist() if stream.size else values.size == 0


def test_profile_fit_summary_and_round_trip() -> None:
    rng = np.random.default_rng(0)
    values = rng.normal(size=(1000, 2))
    values[:100, 1] = np.nan
    profile = ReferenceProfile.fit(["x", "y"], values, categories={"country": {"DE": 3, "FR": 1}})
    assert profile.rows == 1000
    np.testing.assert_allclose(profile.missing_rate, [0.0, 0.1])
    assert profile.bin_counts.sum(axis=1).tolist() == [1000, 900]
    summary = profile.summary()
    assert [f["name"] for f in summary["features"]] == ["x", "y", "country"]
    assert summary["features"][1]["missing_rate"] == pytest.approx(0.1)
    back = ReferenceProfile.from_bytes(profile.to_bytes())
    assert back.features == profile.features and back.categories == profile.categories
    np.testing.assert_array_equal(back.sorted_values, profile.sorted_values)
    np.testing.assert_array_equal(back.edges, profile.edges)


def test_profile_refuses_infinite_values_naming_the_column() -> None:
    with pytest.raises(ValueError, match="amount"):
        ReferenceProfile.fit(["age", "amount"], np.array([[1.0, np.inf], [2.0, 3.0]]))


def test_profile_caps_category_count() -> None:
    many = {f"c{i}": i + 1 for i in range(1500)}
    profile = ReferenceProfile.fit([], np.empty((5, 0)), categories={"id": many})
    assert len(profile.categories["id"]) == 1001 and "__other__" in profile.categories["id"]


def test_profile_samples_beyond_max_rows_reproducibly() -> None:
    values = np.arange(10_000, dtype=float)[:, None]
    a = ReferenceProfile.fit(["x"], values, max_rows=500)
    b = ReferenceProfile.fit(["x"], values, max_rows=500)
    assert a.rows == 500 and np.array_equal(a.sorted_values, b.sorted_values)
    assert 4000 < np.median(a.sorted_values) < 6000  # spread over the whole range, not the first rows


def test_window_checkpoint_round_trip_keeps_rows_and_names() -> None:
    w = SlidingWindow(["a", "b"], capacity=4)
    w.append(["a", "b"], np.arange(12, dtype=float).reshape(6, 2))
    restored = SlidingWindow(capacity=3)
    restored.restore(w.to_bytes())
    names, values = restored.snapshot()
    assert names == ("a", "b") and restored.total_rows == 6
    assert sorted(values[:, 0].tolist()) == [6.0, 8.0, 10.0]  # the most recent within the new capacity
