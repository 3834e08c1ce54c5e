"""detectors.stats for categorical features and missing rates: chi-square, codes, counts, z-test."""

from __future__ import annotations

import math
from collections import Counter

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from scipy import stats as sps

from driftwarden.detectors import stats


def scipy_chi_square(ref: np.ndarray, cur: np.ndarray, smoothing: float = 0.5) -> tuple[float, float]:
    """scipy's goodness-of-fit on the same smoothed expectations, over the cells not empty on both sides."""
    used = (ref > 0) | (cur > 0)
    ref, cur = ref[used], cur[used]
    share = (ref + smoothing) / (ref + smoothing).sum()
    result = sps.chisquare(f_obs=cur, f_exp=share * cur.sum())
    return float(result.statistic), float(result.pvalue)


# -- chi-square ---------------------------------------------------------------------


@pytest.mark.parametrize("cells", [2, 3, 10, 40])
def test_chi_square_equals_scipy_chisquare_on_smoothed_reference_shares(cells: int) -> None:
    rng = np.random.default_rng(cells)
    shares = rng.dirichlet(np.ones(cells), size=20)
    ref = np.array([rng.multinomial(5000, s) for s in shares])
    cur = np.array([rng.multinomial(800, s) for s in shares])
    cur[10:] = [rng.multinomial(800, rng.dirichlet(np.ones(cells))) for _ in range(10)]  # drifted half
    ref[0, 0] = 0  # a category the reference never saw
    cur[0, 0] = 40
    statistic, pvalue = stats.chi_square(ref, cur)
    for j in range(20):
        want_stat, want_p = scipy_chi_square(ref[j], cur[j])
        assert statistic[j] == pytest.approx(want_stat, rel=1e-10), j
        assert pvalue[j] == pytest.approx(want_p, rel=1e-8, abs=1e-300), j


def test_chi_square_leaves_out_cells_empty_on_both_sides() -> None:
    rng = np.random.default_rng(21)
    n_cells = np.array([2, 5, 3, 8])
    width = 8
    ref = np.zeros((4, width), dtype=np.int64)
    cur = np.zeros((4, width), dtype=np.int64)
    for j, k in enumerate(n_cells):  # ragged category lists, zero-padded to one width
        ref[j, :k] = rng.integers(1, 300, k)
        cur[j, :k] = rng.integers(0, 300, k)
    statistic, pvalue = stats.chi_square(ref, cur)
    for j, k in enumerate(n_cells):
        want_stat, want_p = scipy_chi_square(ref[j, :k], cur[j, :k])
        assert statistic[j] == pytest.approx(want_stat, rel=1e-12)
        assert pvalue[j] == pytest.approx(want_p, rel=1e-10)
    wider = stats.chi_square(np.pad(ref, ((0, 0), (0, 5))), np.pad(cur, ((0, 0), (0, 5))))
    np.testing.assert_allclose(wider[0], statistic, rtol=1e-12)
    np.testing.assert_allclose(wider[1], pvalue, rtol=1e-12)
    # an empty unseen bin in the middle of the row changes nothing either
    gap = stats.chi_square(np.insert(ref, 1, 0, axis=1), np.insert(cur, 1, 0, axis=1))
    np.testing.assert_allclose(gap[0], statistic, rtol=1e-12)


def test_chi_square_edge_cases() -> None:
    statistic, pvalue = stats.chi_square(
        np.array([[0, 0, 0], [5, 5, 0], [7, 0, 0], [10, 10, 10], [0, 0, 0]]),
        np.array([[1, 2, 3], [0, 0, 0], [3, 0, 0], [10, 10, 10], [0, 0, 0]]),
    )
    assert np.isnan(statistic[[0, 1, 4]]).all() and np.isnan(pvalue[[0, 1, 4]]).all()  # an empty side
    assert (statistic[2], pvalue[2]) == (0.0, 1.0)  # one cell: nothing to compare (scipy: p NaN)
    assert statistic[3] == pytest.approx(0.0, abs=1e-12) and pvalue[3] == pytest.approx(1.0)
    with pytest.raises(ValueError, match="smoothing"):
        stats.chi_square(np.ones((1, 2)), np.ones((1, 2)), smoothing=0)
    with pytest.raises(ValueError, match="shape"):
        stats.chi_square(np.ones((1, 2)), np.ones((1, 3)))
    with pytest.raises(ValueError, match="negative"):
        stats.chi_square(np.ones((1, 2)), -np.ones((1, 2)))


def test_chi_square_smoothing_is_a_parameter() -> None:
    ref, cur = np.array([[90, 10, 0]]), np.array([[50, 30, 20]])
    for smoothing in (0.5, 1.0, 1e-3):
        got = stats.chi_square(ref, cur, smoothing=smoothing)
        want = scipy_chi_square(ref[0], cur[0], smoothing)
        assert got[0][0] == pytest.approx(want[0], rel=1e-12) and got[1][0] == pytest.approx(want[1], rel=1e-9)


def test_chi_square_homogeneity_equals_scipy_chi2_contingency() -> None:
    rng = np.random.default_rng(22)
    ref = rng.integers(0, 400, size=(25, 7))
    cur = rng.integers(0, 100, size=(25, 7))
    ref[:5, 6] = 0  # a category only the current window has
    ref[5:10, 5:] = 0  # padding
    cur[5:10, 5:] = 0
    statistic, pvalue = stats.chi_square_homogeneity(ref, cur)
    for j in range(25):
        table = np.vstack([ref[j], cur[j]])
        want = sps.chi2_contingency(table[:, table.sum(axis=0) > 0], correction=False)
        assert statistic[j] == pytest.approx(want.statistic, rel=1e-10)
        assert pvalue[j] == pytest.approx(want.pvalue, rel=1e-8, abs=1e-300)
    one, empty = stats.chi_square_homogeneity(np.array([[4, 0], [0, 0]]), np.array([[9, 0], [3, 1]]))
    assert (one[0], empty[0]) == (0.0, 1.0) and np.isnan(one[1]) and np.isnan(empty[1])


def test_goodness_of_fit_approaches_contingency_when_the_reference_is_large() -> None:
    rng = np.random.default_rng(23)
    ref = rng.multinomial(2_000_000, [0.5, 0.3, 0.15, 0.05])[None]
    cur = rng.multinomial(2_000, [0.46, 0.31, 0.17, 0.06])[None]
    assert stats.chi_square(ref, cur)[0][0] == pytest.approx(stats.chi_square_homogeneity(ref, cur)[0][0], rel=2e-3)


def test_false_alarm_rates_without_drift_when_reference_and_window_are_equal_in_size() -> None:
    # 4000 no-drift replicates as 4000 "features": the contingency test holds alpha = 5 %; the
    # goodness-of-fit test, which takes the reference shares as exact, rings far more often.
    rng = np.random.default_rng(24)
    shares = [0.4, 0.25, 0.15, 0.1, 0.06, 0.04]
    ref = rng.multinomial(5000, shares, size=4000)
    cur = rng.multinomial(5000, shares, size=4000)
    homogeneity = (stats.chi_square_homogeneity(ref, cur)[1] < 0.05).mean()
    goodness_of_fit = (stats.chi_square(ref, cur)[1] < 0.05).mean()
    assert 0.04 <= homogeneity <= 0.06
    assert goodness_of_fit > 0.2


# -- codes and counts ---------------------------------------------------------------


def test_encode_categories_codes_unseen_and_missing() -> None:
    values = np.array(
        [
            ["red", True, 3, None],
            ["blue", False, 1, "x"],
            [None, np.nan, 2, "y"],
            ["green", True, 3.0, np.nan],
            ["red", "True", 7, "x"],
        ],
        dtype=object,
    )
    categories = [["red", "blue"], ["False", "True"], ["3", "1", "2"], []]
    codes = stats.encode_categories(values, categories)
    assert codes.dtype == np.int64
    assert codes.tolist() == [
        [0, 1, 0, -1],
        [1, 0, 1, 0],
        [-1, -1, 2, 0],
        [2, 1, 3, -1],  # "green" and "3.0" are unseen (str comparison); no categories: all unseen
        [0, 1, 3, 0],
    ]


def test_encode_categories_on_a_big_column_matches_a_dictionary() -> None:
    rng = np.random.default_rng(23)
    names = [f"cat{i}" for i in range(50)]
    raw = rng.choice([*names, "new", None], size=(20_000, 2)).astype(object)
    categories = [names[::-1], names[:10]]
    codes = stats.encode_categories(raw, categories)
    for j, known in enumerate(categories):
        lookup = {name: k for k, name in enumerate(known)}
        want = [-1 if v is None else lookup.get(v, len(known)) for v in raw[:, j]]
        assert codes[:, j].tolist() == want


def test_encode_categories_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="twice"):
        stats.encode_categories(np.array([["a"]], dtype=object), [["a", "a"]])
    with pytest.raises(ValueError, match="features"):
        stats.encode_categories(np.array([["a"]], dtype=object), [["a"], ["b"]])
    with pytest.raises(ValueError, match="2-D"):
        stats.encode_categories(np.array(["a"], dtype=object), [["a"]])


def test_category_counts_per_feature_with_unseen_bin_and_padding() -> None:
    rng = np.random.default_rng(24)
    n_categories = np.array([3, 1, 6])
    codes = np.column_stack([rng.integers(-1, k + 1, 1000) for k in n_categories])
    counts = stats.category_counts(codes, n_categories)
    assert counts.shape == (3, 7)
    for j, k in enumerate(n_categories):
        tally = Counter(codes[:, j].tolist())
        assert counts[j, : k + 1].tolist() == [tally[c] for c in range(k + 1)]
        assert (counts[j, k + 1 :] == 0).all()
    assert stats.category_counts(np.empty((0, 2), dtype=np.int64), np.array([2, 2])).tolist() == [[0, 0, 0]] * 2
    with pytest.raises(ValueError, match="codes"):
        stats.category_counts(np.array([[4]]), np.array([3]))


def test_a_category_present_only_in_current_drives_chi_square() -> None:
    rng = np.random.default_rng(25)
    categories = [["a", "b", "c"]]
    ref = rng.choice(["a", "b", "c"], p=[0.6, 0.3, 0.1], size=(5000, 1)).astype(object)
    cur = rng.choice(["a", "b", "c", "new"], p=[0.54, 0.27, 0.09, 0.1], size=(2000, 1)).astype(object)
    n_categories = np.array([3])
    ref_counts = stats.category_counts(stats.encode_categories(ref, categories), n_categories)
    cur_counts = stats.category_counts(stats.encode_categories(cur, categories), n_categories)
    assert ref_counts[0, 3] == 0 and cur_counts[0, 3] > 150
    statistic, pvalue = stats.chi_square(ref_counts, cur_counts)
    assert statistic[0] == pytest.approx(scipy_chi_square(ref_counts[0], cur_counts[0])[0], rel=1e-12)
    assert pvalue[0] < 1e-12
    assert stats.chi_square_homogeneity(ref_counts, cur_counts)[1][0] < 1e-12
    same = stats.chi_square(ref_counts, ref_counts)  # the empty unseen bin adds no degree of freedom
    assert same[1][0] > 0.999


# -- missing-rate z-test ---------------------------------------------------------------


def pooled_z(k1: int, n1: int, k2: int, n2: int) -> tuple[float, float]:
    pooled = (k1 + k2) / (n1 + n2)
    z = (k2 / n2 - k1 / n1) / math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    return z, math.erfc(abs(z) / math.sqrt(2))


def test_proportions_ztest_hand_computed() -> None:
    # 10 % vs 30 % missing of 100 rows: pooled 0.2, se = sqrt(0.2 * 0.8 * 0.02), z = 0.2 / se = 3.5355...
    z, p = stats.proportions_ztest(np.array([10]), np.array([100]), np.array([30]), np.array([100]))
    assert z[0] == pytest.approx(0.2 / math.sqrt(0.0032), rel=1e-12)
    assert p[0] == pytest.approx(math.erfc(z[0] / math.sqrt(2)), rel=1e-10)
    assert p[0] == pytest.approx(4.07e-4, rel=1e-2)


def test_proportions_ztest_vectorized_matches_the_formula_and_is_antisymmetric() -> None:
    rng = np.random.default_rng(26)
    n1, n2 = rng.integers(1, 10_000, 50), rng.integers(1, 10_000, 50)
    k1, k2 = rng.integers(0, n1 + 1), rng.integers(0, n2 + 1)
    k1[0], k2[0] = 0, 0  # nothing missing on either side
    z, p = stats.proportions_ztest(k1, n1, k2, n2)
    for j in range(1, 50):
        want_z, want_p = pooled_z(int(k1[j]), int(n1[j]), int(k2[j]), int(n2[j]))
        assert z[j] == pytest.approx(want_z, rel=1e-10) and p[j] == pytest.approx(want_p, rel=1e-8, abs=1e-300)
    assert (z[0], p[0]) == (0.0, 1.0)
    back_z, back_p = stats.proportions_ztest(k2, n2, k1, n1)
    np.testing.assert_array_equal(back_z, -z)
    np.testing.assert_array_equal(back_p, p)


def test_proportions_ztest_edge_cases() -> None:
    z, p = stats.proportions_ztest(np.array([5, 0, 0]), np.array([5, 0, 10]), np.array([8, 3, 0]), np.array([8, 3, 0]))
    assert (z[0], p[0]) == (0.0, 1.0)  # everything missing on both sides
    assert np.isnan(z[1:]).all() and np.isnan(p[1:]).all()  # a side without rows
    with pytest.raises(ValueError, match=r"0\.\.n"):
        stats.proportions_ztest(np.array([6]), np.array([5]), np.array([1]), np.array([5]))


def test_proportions_ztest_equals_statsmodels() -> None:
    proportion = pytest.importorskip("statsmodels.stats.proportion")
    z, p = stats.proportions_ztest(np.array([12]), np.array([400]), np.array([31]), np.array([350]))
    want_z, want_p = proportion.proportions_ztest([31, 12], [350, 400])
    assert z[0] == pytest.approx(want_z, rel=1e-12) and p[0] == pytest.approx(want_p, rel=1e-10)


# -- properties -----------------------------------------------------------------------

cell_counts = hnp.arrays(np.int64, st.tuples(st.integers(1, 5), st.integers(1, 12)), elements=st.integers(0, 1000))


@settings(max_examples=80, deadline=None)
@given(cell_counts, st.data())
def test_chi_square_p_values_are_probabilities_and_padding_changes_nothing(
    ref: np.ndarray, data: st.DataObject
) -> None:
    cur = data.draw(hnp.arrays(np.int64, ref.shape, elements=st.integers(0, 1000)))
    empty = (ref.sum(axis=1) == 0) | (cur.sum(axis=1) == 0)
    for test in (stats.chi_square, stats.chi_square_homogeneity):
        statistic, pvalue = test(ref, cur)
        assert (np.isnan(pvalue) == empty).all()
        assert ((pvalue[~empty] >= 0) & (pvalue[~empty] <= 1)).all() and (statistic[~empty] >= 0).all()
        padded = test(np.pad(ref, ((0, 0), (0, 3))), np.pad(cur, ((0, 0), (0, 3))))
        np.testing.assert_allclose(padded[0], statistic, rtol=1e-12)
        np.testing.assert_allclose(padded[1], pvalue, rtol=1e-9)
    np.testing.assert_allclose(stats.chi_square_homogeneity(cur, ref)[0], stats.chi_square_homogeneity(ref, cur)[0])


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 500), st.integers(0, 500), st.integers(1, 500), st.integers(1, 500))))
def test_proportions_ztest_p_value_is_a_probability(rows: list[tuple[int, int, int, int]]) -> None:
    k1 = np.array([min(r[0], r[2]) for r in rows], dtype=np.int64)
    k2 = np.array([min(r[1], r[3]) for r in rows], dtype=np.int64)
    n1 = np.array([r[2] for r in rows], dtype=np.int64)
    n2 = np.array([r[3] for r in rows], dtype=np.int64)
    z, p = stats.proportions_ztest(k1, n1, k2, n2)
    assert ((p >= 0) & (p <= 1)).all() and np.isfinite(z).all()
