"""detectors.stats against scipy and hand-computed cases, plus properties with hypothesis."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from scipy import stats as sps
from scipy.spatial import distance

from driftwarden.detectors import stats


def ks(ref: np.ndarray, cur: np.ndarray) -> stats.KSResult:
    return stats.ks_2samp(stats.sort_columns(ref), stats.sort_columns(cur))


def assert_matches_scipy(ref: np.ndarray, cur: np.ndarray) -> None:
    got = ks(ref, cur)
    for j in range(ref.shape[1]):
        r, c = ref[:, j], cur[:, j]
        r, c = r[~np.isnan(r)], c[~np.isnan(c)]
        want = sps.ks_2samp(r, c)
        assert got.statistic[j] == pytest.approx(want.statistic, abs=1e-12), j
        assert got.pvalue[j] == pytest.approx(want.pvalue, abs=1e-6), j


@pytest.mark.parametrize(
    ("n_ref", "n_cur"),
    [(5, 7), (100, 100), (300, 1000), (5000, 5000), (4000, 10000), (20000, 3000), (30000, 30000)],
)
def test_ks_equals_scipy_on_random_data_with_shifts(n_ref: int, n_cur: int) -> None:
    rng = np.random.default_rng(n_ref * 31 + n_cur)
    shifts = np.array([0.0, 0.02, 0.05, 0.1, 0.3, 1.0])
    ref = rng.normal(size=(n_ref, shifts.size))
    cur = rng.normal(size=(n_cur, shifts.size)) + shifts
    assert_matches_scipy(ref, cur)


def test_ks_equals_scipy_with_ties_constant_columns_and_unequal_sizes() -> None:
    rng = np.random.default_rng(3)
    ref = np.column_stack(
        [
            rng.integers(0, 5, 2000),  # heavy ties
            np.full(2000, 7.0),  # constant
            np.full(2000, 7.0),  # constant in both, same value
            rng.normal(size=2000).round(1),
        ]
    ).astype(float)
    cur = np.column_stack(
        [
            rng.integers(0, 6, 1500),
            rng.normal(7, 1, 1500),
            np.full(1500, 7.0),
            rng.normal(0.2, 1, 1500).round(1),
        ]
    ).astype(float)
    assert_matches_scipy(ref, cur)
    assert ks(ref, cur).statistic[2] == 0.0


def test_ks_skips_missing_values_and_reports_nan_for_empty_columns() -> None:
    rng = np.random.default_rng(4)
    ref = rng.normal(size=(500, 3))
    cur = rng.normal(0.5, 1, size=(400, 3))
    ref[rng.random(500) < 0.2, 0] = np.nan
    cur[rng.random(400) < 0.3, 1] = np.nan
    cur[:, 2] = np.nan
    got = ks(ref, cur)
    assert_matches_scipy(ref[:, :2], cur[:, :2])
    assert np.isnan(got.statistic[2]) and np.isnan(got.pvalue[2])


def test_ks_one_row_each() -> None:
    got = ks(np.array([[1.0]]), np.array([[2.0]]))
    want = sps.ks_2samp([1.0], [2.0])
    assert got.statistic[0] == want.statistic and got.pvalue[0] == pytest.approx(want.pvalue)


def test_ks_rejects_mismatched_features() -> None:
    with pytest.raises(ValueError, match="features"):
        ks(np.zeros((3, 2)), np.zeros((3, 3)))


@pytest.mark.parametrize("n", [141, 500, 2500, 25000, 50000])
def test_kolmogorov_sf_equals_scipy_kstwo_over_its_branches(n: int) -> None:
    d = np.array([1e-4, 0.3 / n, 0.8 / n, 0.002, 0.005, 0.01, 0.02, 0.03, 0.05, 0.08, 0.2, 0.5, 0.7, 0.999])
    want = sps.kstwo.sf(d, n)
    got = stats.kolmogorov_sf(d, np.full(d.size, float(n)))
    np.testing.assert_allclose(got, want, rtol=1e-8, atol=1e-12)


def test_psi_hand_computed_case() -> None:
    # shares r = (.5, .3, .2), c = (.3, .3, .4):
    # (.3-.5)ln(.3/.5) + 0 + (.4-.2)ln(.4/.2) = 0.2*ln(5/3) + 0.2*ln 2 = 0.240794...
    got = stats.psi(np.array([[50, 30, 20]]), np.array([[30, 30, 40]]))
    assert got[0] == pytest.approx(0.2 * np.log(5 / 3) + 0.2 * np.log(2), rel=1e-12)


def test_psi_empty_bin_uses_epsilon() -> None:
    got = stats.psi(np.array([[100, 0]]), np.array([[50, 50]]))
    r, c = np.array([1.0, 1e-4]), np.array([0.5, 0.5])
    assert got[0] == pytest.approx(((c - r) * np.log(c / r)).sum())


def test_psi_nan_without_data() -> None:
    assert np.isnan(stats.psi(np.array([[0, 0]]), np.array([[1, 2]]))[0])


def test_quantile_edges_and_bin_counts_on_a_known_column() -> None:
    values = np.arange(1.0, 101.0)[:, None]  # 1..100
    ordered = stats.sort_columns(values)
    edges = stats.quantile_edges(ordered, bins=4)
    np.testing.assert_allclose(edges[0], np.quantile(values[:, 0], [0.25, 0.5, 0.75]))
    counts = stats.bin_counts(ordered, edges)
    assert counts.tolist() == [[25, 25, 25, 25]]
    cur = stats.sort_columns(np.array([[0.0], [30.0], [60.0], [1000.0], [np.nan]]))
    assert stats.bin_counts(cur, edges).tolist() == [[1, 1, 1, 1]]


def test_ten_bins_on_reference_are_deciles() -> None:
    rng = np.random.default_rng(5)
    ordered = stats.sort_columns(rng.normal(size=(10_000, 3)))
    counts = stats.bin_counts(ordered, stats.quantile_edges(ordered))
    assert counts.shape == (3, 10)
    assert (counts == 1000).all()


def test_benjamini_hochberg_equals_scipy() -> None:
    rng = np.random.default_rng(6)
    p = rng.random(40) ** 3
    np.testing.assert_allclose(stats.benjamini_hochberg(p), sps.false_discovery_control(p), rtol=1e-12)
    with_nan = np.array([0.01, np.nan, 0.04, 0.03])
    got = stats.benjamini_hochberg(with_nan)
    assert np.isnan(got[1])
    np.testing.assert_allclose(got[[0, 2, 3]], sps.false_discovery_control([0.01, 0.04, 0.03]))


# -- properties -----------------------------------------------------------------

finite = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False, allow_infinity=False)
columns = hnp.arrays(np.float64, st.tuples(st.integers(1, 60), st.integers(1, 4)), elements=finite)
counts = hnp.arrays(np.int64, st.tuples(st.integers(1, 5), st.integers(2, 12)), elements=st.integers(0, 1000))


@settings(max_examples=60, deadline=None)
@given(counts, st.data())
def test_psi_is_non_negative_and_zero_on_identical_bins(ref: np.ndarray, data: st.DataObject) -> None:
    cur = data.draw(hnp.arrays(np.int64, ref.shape, elements=st.integers(0, 1000)))
    value = stats.psi(ref, cur)
    assert np.all((value >= 0) | np.isnan(value))
    same = stats.psi(ref, ref)
    assert np.all((same == 0) | np.isnan(same))


@pytest.mark.filterwarnings("ignore:ks_2samp. Exact calculation unsuccessful")  # scipy's, as the reference
@settings(max_examples=60, deadline=None)
@given(columns, st.data())
def test_ks_is_symmetric_and_invariant_to_row_order(ref: np.ndarray, data: st.DataObject) -> None:
    n_cur = data.draw(st.integers(1, 60))
    cur = data.draw(hnp.arrays(np.float64, (n_cur, ref.shape[1]), elements=finite))
    forward, backward = ks(ref, cur), ks(cur, ref)
    np.testing.assert_allclose(forward.statistic, backward.statistic, rtol=0, atol=1e-12)
    np.testing.assert_allclose(forward.pvalue, backward.pvalue, rtol=1e-9, atol=1e-12)
    perm = data.draw(st.permutations(range(n_cur)))
    shuffled = ks(ref, cur[list(perm)])
    np.testing.assert_array_equal(forward.statistic, shuffled.statistic)
    for j in range(ref.shape[1]):
        assert forward.statistic[j] == pytest.approx(sps.ks_2samp(ref[:, j], cur[:, j]).statistic, abs=1e-12)


@settings(max_examples=40, deadline=None)
@given(columns)
def test_ks_of_a_sample_against_itself_is_zero(ref: np.ndarray) -> None:
    got = ks(ref, ref)
    assert (got.statistic == 0).all() and (got.pvalue == 1).all()


# -- Wasserstein ------------------------------------------------------------------


def wd(ref: np.ndarray, cur: np.ndarray) -> np.ndarray:
    return stats.wasserstein(stats.sort_columns(ref), stats.sort_columns(cur))


def scipy_wasserstein(ref: np.ndarray, cur: np.ndarray) -> np.ndarray:
    out = []
    for j in range(ref.shape[1]):
        r, c = ref[:, j], cur[:, j]
        r, c = r[~np.isnan(r)], c[~np.isnan(c)]
        out.append(sps.wasserstein_distance(r, c) if r.size and c.size else np.nan)
    return np.array(out)


@pytest.mark.parametrize(
    ("n_ref", "n_cur"), [(1, 1), (1, 50), (5, 7), (100, 100), (300, 1000), (7919, 7907), (20000, 3000)]
)
def test_wasserstein_equals_scipy_on_random_data_with_shifts(n_ref: int, n_cur: int) -> None:
    rng = np.random.default_rng(n_ref * 17 + n_cur)
    shifts = np.array([0.0, 0.01, 0.1, 1.0, 10.0])
    ref = rng.normal(size=(n_ref, shifts.size)) * [1, 1, 2, 1, 1e3]
    cur = rng.standard_t(3, size=(n_cur, shifts.size)) * [1, 1, 2, 1, 1e3] + shifts
    np.testing.assert_allclose(wd(ref, cur), scipy_wasserstein(ref, cur), rtol=1e-9, atol=0)


def test_wasserstein_equals_scipy_with_ties_constant_columns_and_large_offsets() -> None:
    rng = np.random.default_rng(7)
    ref = np.column_stack(
        [
            rng.integers(0, 5, 2000),  # heavy ties
            np.full(2000, 7.0),  # constant
            np.full(2000, 7.0),  # constant in both, same value
            rng.normal(size=2000).round(1),
            1e6 + rng.normal(size=2000) * 1e-3,  # small spread far from 0
        ]
    ).astype(float)
    cur = np.column_stack(
        [
            rng.integers(0, 6, 1500),
            rng.normal(7, 1, 1500),
            np.full(1500, 7.0),
            rng.normal(0.2, 1, 1500).round(1),
            1e6 + rng.normal(1e-4, 1, 1500) * 1e-3,
        ]
    ).astype(float)
    got = wd(ref, cur)
    np.testing.assert_allclose(got, scipy_wasserstein(ref, cur), rtol=1e-9, atol=0)
    assert got[2] == 0.0


def test_wasserstein_skips_missing_values_and_reports_nan_for_empty_columns() -> None:
    rng = np.random.default_rng(8)
    ref = rng.normal(size=(500, 4))
    cur = rng.normal(0.5, 1, size=(400, 4))
    ref[rng.random(500) < 0.2, 0] = np.nan
    cur[rng.random(400) < 0.3, 1] = np.nan
    cur[:, 2] = np.nan
    ref[:, 3] = np.nan
    got = wd(ref, cur)
    np.testing.assert_allclose(got[:2], scipy_wasserstein(ref[:, :2], cur[:, :2]), rtol=1e-9)
    assert np.isnan(got[2:]).all()
    assert np.isnan(wd(np.empty((0, 2)), cur[:, :2])).all()  # an empty window


def test_wasserstein_one_row_each_and_repeated_samples() -> None:
    assert wd(np.array([[1.0]]), np.array([[3.5]])).tolist() == [2.5]
    x = np.random.default_rng(9).normal(size=(37, 2))
    assert (wd(x, np.concatenate([x, x, x])) == 0).all()  # same distribution, other size: exactly 0


def test_wasserstein_rejects_mismatched_features() -> None:
    with pytest.raises(ValueError, match="features"):
        wd(np.zeros((3, 2)), np.zeros((3, 3)))


def test_column_std_is_numpy_std_ddof0_and_exactly_zero_when_constant() -> None:
    rng = np.random.default_rng(10)
    values = np.column_stack([rng.normal(3, 2, 300), np.full(300, 0.1), np.full(300, np.nan)])
    values[::7, 0] = np.nan
    got = stats.column_std(stats.sort_columns(values))
    assert got[0] == pytest.approx(np.nanstd(values[:, 0]), rel=1e-12)
    assert got[1] == 0.0  # np.std gives ~1e-17 here: the mean of 300 x 0.1 is not exactly 0.1
    assert np.isnan(got[2])


def test_wasserstein_normed_divides_by_reference_std_ddof0() -> None:
    rng = np.random.default_rng(11)
    ref = np.column_stack([rng.normal(0, 3, 800), rng.exponential(2, 800), np.full(800, 5.0), np.full(800, 5.0)])
    cur = np.column_stack([rng.normal(1, 3, 600), rng.exponential(2.5, 600), np.full(600, 5.0), np.full(600, 6.0)])
    ref_sorted, cur_sorted = stats.sort_columns(ref), stats.sort_columns(cur)
    got = stats.wasserstein_normed(ref_sorted, cur_sorted)
    want = scipy_wasserstein(ref[:, :2], cur[:, :2]) / np.std(ref[:, :2], axis=0)
    np.testing.assert_allclose(got[:2], want, rtol=1e-9)
    assert got[2] == 0.0 and got[3] == np.inf  # constant reference: unchanged -> 0, moved -> inf
    cached = stats.wasserstein_normed(ref_sorted, cur_sorted, reference_std=stats.column_std(ref_sorted))
    np.testing.assert_array_equal(cached, got)
    empty = stats.sort_columns(np.full((4, 4), np.nan))
    assert np.isnan(stats.wasserstein_normed(ref_sorted, empty)).all()
    assert np.isnan(stats.wasserstein_normed(empty, cur_sorted)).all()
    with pytest.raises(ValueError, match="reference_std"):
        stats.wasserstein_normed(ref_sorted, cur_sorted, reference_std=np.ones(3))


# -- Jensen-Shannon -----------------------------------------------------------------


def scipy_js(ref: np.ndarray, cur: np.ndarray) -> np.ndarray:
    return np.array([distance.jensenshannon(r, c, base=2) for r, c in zip(ref, cur, strict=True)])


def test_jensen_shannon_equals_scipy_base_2() -> None:
    rng = np.random.default_rng(12)
    ref = rng.integers(0, 500, size=(30, 10))
    cur = rng.integers(0, 500, size=(30, 10))
    cur[:5, :3] = 0  # bins empty on one side
    ref[5:8, 7:] = 0
    np.testing.assert_allclose(stats.jensen_shannon(ref, cur), scipy_js(ref, cur), rtol=1e-10, atol=1e-12)


def test_jensen_shannon_bounds_padding_and_empty_sides() -> None:
    assert stats.jensen_shannon(np.array([[5, 0]]), np.array([[0, 9]]))[0] == pytest.approx(1.0, abs=1e-12)
    assert stats.jensen_shannon(np.array([[3, 6]]), np.array([[1, 2]]))[0] == 0.0
    ref, cur = np.array([[10, 20, 30]]), np.array([[30, 20, 10]])
    padded = stats.jensen_shannon(np.pad(ref, ((0, 0), (0, 4))), np.pad(cur, ((0, 0), (0, 4))))
    assert padded[0] == pytest.approx(stats.jensen_shannon(ref, cur)[0], rel=1e-12)
    got = stats.jensen_shannon(np.array([[0, 0], [1, 2], [0, 0]]), np.array([[1, 1], [0, 0], [0, 0]]))
    assert np.isnan(got).all()
    with pytest.raises(ValueError, match="shape"):
        stats.jensen_shannon(np.ones((2, 3)), np.ones((2, 4)))


# -- properties: Wasserstein and Jensen-Shannon ------------------------------------


@settings(max_examples=60, deadline=None)
@given(columns, st.data())
def test_wasserstein_is_non_negative_symmetric_order_free_and_equals_scipy(
    ref: np.ndarray, data: st.DataObject
) -> None:
    n_cur = data.draw(st.integers(1, 60))
    cur = data.draw(hnp.arrays(np.float64, (n_cur, ref.shape[1]), elements=finite))
    forward = wd(ref, cur)
    assert (forward >= 0).all()
    np.testing.assert_array_equal(forward, wd(cur, ref))
    perm = list(data.draw(st.permutations(range(n_cur))))
    np.testing.assert_array_equal(forward, wd(ref, cur[perm]))
    np.testing.assert_allclose(forward, scipy_wasserstein(ref, cur), rtol=1e-9, atol=1e-9)


@settings(max_examples=40, deadline=None)
@given(columns)
def test_wasserstein_of_a_sample_against_itself_is_zero(ref: np.ndarray) -> None:
    assert (wd(ref, ref) == 0).all()
    assert (stats.wasserstein_normed(stats.sort_columns(ref), stats.sort_columns(ref)) == 0).all()


@settings(max_examples=60, deadline=None)
@given(counts, st.data())
def test_jensen_shannon_is_a_symmetric_distance_in_unit_interval(ref: np.ndarray, data: st.DataObject) -> None:
    cur = data.draw(hnp.arrays(np.int64, ref.shape, elements=st.integers(0, 1000)))
    value = stats.jensen_shannon(ref, cur)
    present = ~np.isnan(value)
    assert (present == ((ref.sum(axis=1) > 0) & (cur.sum(axis=1) > 0))).all()
    assert ((value[present] >= 0) & (value[present] <= 1)).all()
    np.testing.assert_array_equal(value, stats.jensen_shannon(cur, ref))
    same = stats.jensen_shannon(ref, ref)
    assert ((same == 0) | np.isnan(same)).all()
