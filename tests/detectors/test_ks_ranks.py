"""The KS statistic from a window's ranks kept across evaluations equals the merge's (`stats.ks_2samp`)
bit for bit, whatever the window went through between evaluations."""

from __future__ import annotations

import numpy as np
import pytest

from driftwarden.detectors import stats
from driftwarden.detectors.detector import DriftDetector
from driftwarden.detectors.ks_ranks import WindowRanks
from driftwarden.detectors.reference import ReferenceProfile
from driftwarden.detectors.windows import SlidingWindow

FEATURES = ["a", "b", "c", "d"]


def _reference(rng: np.random.Generator, rows: int = 700) -> ReferenceProfile:
    values = np.column_stack(
        [
            rng.normal(size=rows),
            rng.integers(0, 6, rows).astype(float),  # heavy ties, shared with the window
            rng.normal(size=rows).round(1),  # some ties
            rng.normal(size=rows),
        ]
    )
    values[rng.random(rows) < 0.1, 3] = np.nan  # a reference column with missing values
    return ReferenceProfile.fit(FEATURES, values)


def _rows(rng: np.random.Generator, n: int, shift: float) -> np.ndarray:
    rows = np.column_stack(
        [
            rng.normal(shift, 1.0, n),
            rng.integers(0, 7, n).astype(float),
            rng.normal(shift, 1.0, n).round(1),
            rng.normal(size=n),
        ]
    )
    rows[rng.random(n) < 0.05] = np.nan  # missing values in every column
    return rows


def _merged(reference: ReferenceProfile, values: np.ndarray) -> np.ndarray:
    return stats.ks_2samp(reference.sorted_values, stats.sort_columns(values)).statistic


@pytest.mark.parametrize("capacity", [1, 37, 500])
def test_statistic_equals_the_merge_over_a_stream_of_appends(capacity: int) -> None:
    rng = np.random.default_rng(capacity)
    reference = _reference(rng)
    window = SlidingWindow(FEATURES, capacity=capacity)
    ranks = WindowRanks()
    for step, n in enumerate([5, 0, 30, 1, 200, 3, 499, 500, 1200, 7, 60]):  # growing, wrapping, whole refills
        if n:
            window.append(FEATURES, _rows(rng, n, shift=step / 10))
        names, values, _, _, (next_slot, total, generation) = window.ring_snapshot()
        got = ranks.statistic(reference, names, values, next_slot, total, generation)
        assert got is not None
        np.testing.assert_array_equal(got, _merged(reference, values))


def test_new_reference_new_columns_transform_clear_and_restore_start_afresh() -> None:
    rng = np.random.default_rng(5)
    reference, other = _reference(rng), _reference(rng, rows=300)
    window = SlidingWindow(FEATURES[:3], capacity=100)
    ranks = WindowRanks()

    def check(profile: ReferenceProfile) -> None:
        names, values, _, _, (next_slot, total, generation) = window.ring_snapshot()
        got = ranks.statistic(profile, names, values, next_slot, total, generation)
        assert got is not None
        aligned = values[:, [names.index(f) for f in FEATURES]]
        np.testing.assert_array_equal(got, _merged(profile, aligned))

    window.append(FEATURES[:3], _rows(rng, 80, 0.0)[:, :3])
    names, values, _, _, ring = window.ring_snapshot()
    assert ranks.statistic(reference, names, values, *ring) is None  # a reference feature not in the window
    window.append(FEATURES, _rows(rng, 50, 0.2))  # a new column
    check(reference)
    window.append(FEATURES, _rows(rng, 10, 0.2))
    check(other)  # another reference
    window.transform("b", lambda column: column + 1.0)
    check(other)
    blob = window.to_bytes()
    window.clear()
    window.append(FEATURES, _rows(rng, 20, 0.0))
    check(other)
    window.restore(blob)
    check(other)


def test_a_detector_reports_the_same_as_a_fresh_comparison_at_every_evaluation() -> None:
    rng = np.random.default_rng(9)
    reference = _reference(rng)
    kept, fresh = DriftDetector("m", reference, window=300), DriftDetector("m", reference, window=300)
    for step in range(8):
        batch = _rows(rng, 70, shift=step / 8)
        kept.update(FEATURES, batch)
        fresh.update(FEATURES, batch)
        kept.evaluate()
        fresh._ranks = WindowRanks()  # nothing kept: every rank computed again
        fresh.evaluate()
        assert kept.report is not None and fresh.report is not None
        for a, b in zip(kept.report.features, fresh.report.features, strict=True):
            assert (a.scores, a.pvalues, a.drifted) == (b.scores, b.pvalues, b.drifted)
        _, values = kept.window.snapshot()
        want = _merged(reference, values)
        got = np.array([f.scores.get("ks", np.nan) for f in kept.report.features])
        np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("repeat_reference_values", [False, True])
def test_continuous_features_with_and_without_values_equal_to_the_reference(repeat_reference_values: bool) -> None:
    rng = np.random.default_rng(13)
    values = rng.normal(size=(400, 3))
    values[rng.random(400) < 0.05, 2] = np.nan
    reference = ReferenceProfile.fit(FEATURES[:3], values)  # no ties: the shortcut when no value repeats one
    window = SlidingWindow(FEATURES[:3], capacity=250)
    ranks = WindowRanks()
    for step in range(6):
        rows = rng.normal(step / 6, 1.0, size=(90, 3))
        rows[rng.random(90) < 0.05, 1] = np.nan
        if repeat_reference_values and step in (0, 1, 4):  # a few current values equal to reference values
            rows[:5, 0] = values[:5, 0]  # (those of steps 0 and 1 slide out of the window by step 4)
        window.append(FEATURES[:3], rows)
        names, snapshot, _, _, (next_slot, total, generation) = window.ring_snapshot()
        got = ranks.statistic(reference, names, snapshot, next_slot, total, generation)
        assert got is not None
        np.testing.assert_array_equal(got, _merged(reference, snapshot))
        assert ranks._unequal == np.count_nonzero(ranks._lower != ranks._upper)  # the shortcut's count kept


def test_a_reference_without_rows_or_without_a_columns_values_gives_the_merges_nan() -> None:
    rng = np.random.default_rng(5)
    window = _rows(rng, 40, 0.0)
    empty = ReferenceProfile.fit(FEATURES, np.empty((0, len(FEATURES))))
    assert np.isnan(WindowRanks().statistic(empty, FEATURES, window, 0, 40, 0)).all()
    values = _rows(rng, 300, 0.0)
    values[:, 1] = np.nan  # a reference column with no value at all
    reference = ReferenceProfile.fit(FEATURES, values)
    np.testing.assert_array_equal(
        WindowRanks().statistic(reference, FEATURES, window, 0, 40, 0), _merged(reference, window)
    )
