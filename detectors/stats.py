"""Pure, vectorized drift statistics over 2-D arrays (rows x features).

Every function takes whole matrices and returns one value per feature (column):
no I/O, no state. Missing values are NaN and are left out of every distribution.

Columns are passed *sorted* along axis 0 with NaN last (see `sort_columns`), so a
fitted reference profile is sorted once and every evaluation only sorts the
current window. Work that numpy can only do one column at a time (merging two
sorted columns) is spread over a small thread pool: numpy releases the GIL in
sorting, so both cores of a sidecar work.

`ks_2samp` reproduces `scipy.stats.ks_2samp` (two-sided, method="auto"): the same
statistic bit for bit and the same p-value, from the exact distribution when both
samples have at most 10,000 values and Smirnov's asymptotic one above (both in `detectors.kolmogorov`,
so that neither this module nor a `driftwarden check` imports `scipy.stats`, a second of start-up). Likewise
`wasserstein`, `jensen_shannon`, `chi_square` and `chi_square_homogeneity` equal scipy's
`wasserstein_distance`, `jensenshannon(base=2)`, `chisquare` (on smoothed reference shares) and
`chi2_contingency(correction=False)`, feature by feature.

One module past 400 lines on purpose: one abstraction, every statistic over the same sorted-column,
NaN-last convention and the same thread pool; apart, they would drift from that contract.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from itertools import repeat
from typing import TypeVar

import numpy as np
import numpy.typing as npt

from driftwarden.core.arrays import BoolArray, FloatArray, IntArray
from driftwarden.detectors import kolmogorov

__all__ = [
    "KSResult",
    "benjamini_hochberg",
    "bin_counts",
    "category_counts",
    "chi_square",
    "chi_square_homogeneity",
    "column_std",
    "encode_categories",
    "jensen_shannon",
    "kolmogorov_sf",
    "ks_2samp",
    "proportions_ztest",
    "psi",
    "quantile_edges",
    "sort_columns",
    "unsorted_bin_counts",
    "valid_counts",
    "wasserstein",
    "wasserstein_normed",
]

EXACT_MAX_N = 10_000  # scipy's MAX_AUTO_N: method="auto" is exact up to this size
PSI_EPSILON = 1e-4  # share given to an empty bin, as Evidently and most PSI write-ups do

_WORKERS = max(1, min(4, os.cpu_count() or 1))
PARALLEL_MIN_ROWS = 50_000  # values in a column's task below which the pool costs more than it saves
_pool = ThreadPoolExecutor(max_workers=_WORKERS, thread_name_prefix="driftwarden-stats")

_T = TypeVar("_T")


@dataclass(frozen=True)
class KSResult:
    statistic: FloatArray  # (features,) D; NaN where either sample is empty
    pvalue: FloatArray  # (features,)


def _map_columns(fn: Callable[[int], _T], n_columns: int, rows: int | None = None) -> list[_T]:
    """`fn` over the columns, in the pool when a column's work (`rows` values; None: always) is worth a hand-off:
    below `PARALLEL_MIN_ROWS` handing 20 small columns to two threads cost more CPU than the work (a 5,000-row
    window's statistics took ~1.8x the CPU time in the pool), which a sidecar of many models pays every cycle."""
    if n_columns <= 1 or _WORKERS == 1 or (rows is not None and rows < PARALLEL_MIN_ROWS):
        return [fn(j) for j in range(n_columns)]
    return list(_pool.map(fn, range(n_columns)))


def sort_columns(values: npt.ArrayLike, *, in_place: bool = False) -> FloatArray:
    """Each column sorted ascending, NaN last, as float64 (Fortran order: columns contiguous).

    `in_place=True` sorts `values` itself when it is already a Fortran-ordered float64 array
    (a window snapshot the caller owns), saving a copy of the whole window.
    """
    x = np.asarray(values, dtype=np.float64)
    if x.ndim != 2:
        raise ValueError(f"expected a 2-D array (rows x features), got {x.ndim}-D")
    reuse = in_place and x.flags.f_contiguous and x.flags.writeable
    out = x if reuse else np.array(x, order="F")  # sorted in place below
    n_features = x.shape[1]
    chunk = max(1, math.ceil(n_features / _WORKERS))

    def sort_chunk(i: int) -> None:
        out[:, i * chunk : (i + 1) * chunk].sort(axis=0)  # in place: contiguous columns

    # a column's rows decide the hand-off (as for every other statistic): a chunk of 20 short columns is not worth it
    _map_columns(sort_chunk, math.ceil(n_features / chunk) if n_features else 0, x.shape[0])
    return out


def valid_counts(sorted_values: FloatArray) -> IntArray:
    """Number of non-NaN values per column of a `sort_columns` result: where its NaN tail starts
    (a binary search per column, no rows x features mask)."""
    rows, n_features = sorted_values.shape
    counts = np.full(n_features, rows, dtype=np.int64)
    if rows:  # only a column whose last value is NaN has a NaN tail to find (most windows have none)
        for j in np.flatnonzero(np.isnan(sorted_values[-1])).tolist():
            counts[j] = np.searchsorted(sorted_values[:, j], np.nan)
    return counts


def _ks_statistic(reference: FloatArray, current: FloatArray) -> float:
    """max |F_ref - F_cur| over the pooled sample of two sorted, NaN-free 1-D arrays.

    One stable argsort merges the two sorted runs (timsort: linear); a running count of
    reference values then gives both ECDFs. In integers, F_ref - F_cur at pooled
    position k is (ref_below * (n1 + n2) - k * n1) / (n1 * n2), evaluated only where a
    run of equal values ends (the ECDFs are right-continuous).
    """
    n1, n2 = reference.size, current.size
    pooled = np.concatenate([reference, current])
    order = np.argsort(pooled, kind="stable")
    scaled = np.cumsum(order < n1, dtype=np.int64)
    scaled *= n1 + n2
    scaled -= np.arange(n1, n1 * (n1 + n2) + 1, n1, dtype=np.int64)
    ordered = pooled[order]
    ties = ordered[1:] == ordered[:-1]
    if ties.any():
        scaled = scaled[np.append(~ties, True)]
    max_s = scaled.max() / (n1 * n2)
    min_s = min(max(-scaled.min() / (n1 * n2), 0.0), 1.0)
    return float(min_s if min_s > max_s else max_s)


def ks_2samp(
    reference_sorted: FloatArray, current_sorted: FloatArray, *, statistic: FloatArray | None = None
) -> KSResult:
    """Two-sample, two-sided Kolmogorov-Smirnov test on every column.

    Both inputs come from `sort_columns` and have the same number of columns. `statistic`: D per column
    when the caller has it already (`detectors.ks_ranks`, from a window's ranks kept across evaluations);
    only the p-values are computed then.
    """
    _check_same_features(reference_sorted, current_sorted)
    n_ref = valid_counts(reference_sorted)
    n_cur = valid_counts(current_sorted)
    n_features = reference_sorted.shape[1]

    def column(j: int) -> tuple[float, float]:
        n1, n2 = int(n_ref[j]), int(n_cur[j])
        if n1 == 0 or n2 == 0:
            return math.nan, math.nan
        d = (
            _ks_statistic(reference_sorted[:n1, j], current_sorted[:n2, j])
            if statistic is None
            else float(statistic[j])
        )
        if max(n1, n2) <= EXACT_MAX_N:
            exact = kolmogorov.two_sample_exact(n1, n2, d)
            if exact is not None:
                return exact
            d = _rounded_to_lattice(n1, n2, d)
        m, n = max(n1, n2), min(n1, n2)
        return d, kolmogorov.kolmogorov_sf(d, round(m * n / (m + n)))

    pairs = _map_columns(column, n_features, reference_sorted.shape[0] + current_sorted.shape[0])
    statistic = np.array([p[0] for p in pairs], dtype=np.float64)
    pvalue = np.array([p[1] for p in pairs], dtype=np.float64)
    return KSResult(statistic=statistic, pvalue=np.clip(pvalue, 0.0, 1.0))


def _rounded_to_lattice(n1: int, n2: int, d: float) -> float:
    lcm = (n1 // math.gcd(n1, n2)) * n2
    return round(d * lcm) / lcm


def kolmogorov_sf(d: npt.ArrayLike, n: npt.ArrayLike) -> FloatArray:
    """`scipy.stats.kstwo.sf(d, n)` for arrays (`detectors.kolmogorov`: without importing scipy.stats,
    and fast where scipy is slow: its Smirnov tail costs ~60 ms a value at n = 50,000)."""
    distances = np.asarray(d, dtype=np.float64)
    sizes = np.broadcast_to(np.asarray(n, dtype=np.float64), distances.shape)
    flat = _map_columns(
        lambda k: kolmogorov.kolmogorov_sf(float(distances.flat[k]), float(sizes.flat[k])), distances.size
    )
    return np.array(flat, dtype=np.float64).reshape(distances.shape)


def quantile_edges(sorted_values: FloatArray, bins: int = 10) -> FloatArray:
    """Interior bin edges at the reference's 1/bins, ..., (bins-1)/bins quantiles: (features, bins-1).

    Repeated edges (heavy ties) are kept: the bins between them stay empty in every
    window and so add nothing to PSI. A column with no values gets NaN edges.
    """
    if bins < 2:
        raise ValueError("bins must be at least 2")
    n_valid = valid_counts(sorted_values)
    q = np.arange(1, bins) / bins
    edges = np.full((sorted_values.shape[1], bins - 1), np.nan)
    for j in np.flatnonzero(n_valid):  # bins-1 look-ups per column
        edges[j] = np.quantile(sorted_values[: n_valid[j], j], q, method="linear")
    return edges


def bin_counts(sorted_values: FloatArray, edges: FloatArray) -> IntArray:
    """Counts per bin (features, bins): bin k holds edges[k-1] < x <= edges[k]."""
    _, n_features = sorted_values.shape
    if edges.shape[0] != n_features:
        raise ValueError(f"edges describe {edges.shape[0]} features, values have {n_features}")
    n_valid = valid_counts(sorted_values)
    at_or_below = np.empty((n_features, edges.shape[1] + 2), dtype=np.int64)
    at_or_below[:, 0] = 0
    at_or_below[:, -1] = n_valid
    for j in range(n_features):  # searchsorted of the few edges into a sorted column
        col = sorted_values[: n_valid[j], j]
        at_or_below[j, 1:-1] = np.searchsorted(col, edges[j], side="right") if n_valid[j] else 0
    return np.diff(at_or_below, axis=1)


def unsorted_bin_counts(values: FloatArray, edges: FloatArray) -> IntArray:
    """`bin_counts` of values in any order (rows, features), vectorized across features.

    The streaming form: a window adds the counts of the rows it takes in and subtracts those
    of the rows it evicts, so PSI and JS need no pass over the window at evaluation. Per edge,
    one comparison of the whole batch counts the values above it (NaN is above nothing); bin k
    is then "above edge k-1" minus "above edge k" — no per-row codes, no per-column search.

    >>> edges = np.array([[0.0, 1.0]])
    >>> unsorted_bin_counts(np.array([[0.5], [-1.0], [1.0], [np.nan], [3.0]]), edges).tolist()
    [[1, 2, 1]]
    """
    values = np.asarray(values, dtype=np.float64)
    if values.ndim == 2 and values.shape[0] > 1 and values.strides[0] != values.itemsize:
        values = np.asfortranarray(values)  # each column contiguous (a window's rows are already): 2x faster counts
    n_features = values.shape[1]
    if edges.shape[0] != n_features:
        raise ValueError(f"edges describe {edges.shape[0]} features, values have {n_features}")
    above = np.zeros((n_features, edges.shape[1] + 2), dtype=np.int64)
    above[:, 0] = values.shape[0] - np.count_nonzero(np.isnan(values), axis=0)
    for k in range(edges.shape[1]):
        above[:, k + 1] = np.count_nonzero(values > edges[:, k], axis=0)
    return above[:, :-1] - above[:, 1:]


def psi(reference_counts: npt.ArrayLike, current_counts: npt.ArrayLike, epsilon: float = PSI_EPSILON) -> FloatArray:
    """Population stability index per feature: sum_k (c_k - r_k) * ln(c_k / r_k).

    Shares below `epsilon` are raised to it so that an empty bin gives a large but
    finite term. NaN for a feature with no values on either side.
    """
    ref, cur = _paired_counts(reference_counts, current_counts)
    ref_total, cur_total = ref.sum(axis=-1, keepdims=True), cur.sum(axis=-1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        r = np.maximum(ref / ref_total, epsilon)
        c = np.maximum(cur / cur_total, epsilon)
        value = ((c - r) * np.log(c / r)).sum(axis=-1)
    empty = (ref_total[..., 0] == 0) | (cur_total[..., 0] == 0)
    return np.where(empty, np.nan, value)


def benjamini_hochberg(pvalues: npt.ArrayLike) -> FloatArray:
    """Benjamini-Hochberg adjusted p-values (as `scipy.stats.false_discovery_control`); NaN stays NaN."""
    p = np.asarray(pvalues, dtype=np.float64)
    out = np.full(p.shape, np.nan)
    present = np.flatnonzero(~np.isnan(p))
    m = present.size
    if m == 0:
        return out
    order = np.argsort(p[present])
    ranked = p[present][order] * m / np.arange(1, m + 1)
    adjusted = np.minimum.accumulate(ranked[::-1])[::-1]
    out[present[order]] = np.clip(adjusted, 0.0, 1.0)
    return out


# -- distances between numeric distributions ------------------------------------------------


def column_std(sorted_values: FloatArray) -> FloatArray:
    """Population standard deviation (ddof=0, as `np.std`) per column of a `sort_columns` result.

    Exactly 0 for a constant column (first value == last value), where `np.std` can leave ~1e-17
    of rounding; NaN for a column with no values.
    """
    n_valid = valid_counts(sorted_values)

    def column(j: int) -> float:
        values = sorted_values[: n_valid[j], j]
        if values.size == 0:
            return math.nan
        return 0.0 if values[0] == values[-1] else float(np.std(values))

    return np.array(_map_columns(column, sorted_values.shape[1], sorted_values.shape[0]), dtype=np.float64)


def _quantile_coupling(n1: int, n2: int) -> tuple[IntArray, IntArray, FloatArray]:
    """Row indices and weights that pair the quantile functions of samples of n1 and n2 values.

    On the unit interval the quantile functions of two sorted samples are step functions with
    steps at i/n1 and j/n2. Measured in units of 1/(n1*n2) those steps are the integers i*n2
    and j*n1; between consecutive steps b' < b the samples sit at rows (b-1)//n2 and
    (b-1)//n1. Returns (reference rows, current rows, interval widths in those units). The
    steps merge without a sort: below step i*n2 lie i-1 reference steps and (i*n2-1)//n1
    current ones; at or below step j*n1 lie j-1 other current steps and (j*n1)//n2 reference
    ones. A step common to both samples gives an interval of width 0, which adds nothing: where one
    size divides the other (equal windows and references, the usual case) those are left out.
    """
    i = np.arange(1, n1 + 1, dtype=np.int64)
    j = np.arange(1, n2 + 1, dtype=np.int64)
    steps = np.empty(n1 + n2, dtype=np.int64)
    steps[i - 1 + (i * n2 - 1) // n1] = i * n2
    steps[j - 1 + (j * n1) // n2] = j * n1
    widths = np.empty(n1 + n2, dtype=np.float64)
    widths[0] = steps[0]
    np.subtract(steps[1:], steps[:-1], out=widths[1:], casting="unsafe")  # np.diff(prepend=) is 10x slower
    steps -= 1
    if n1 == n2 or n2 % n1 == 0 or n1 % n2 == 0:  # every step of the smaller sample is common: half the widths are 0
        kept = np.flatnonzero(widths)
        steps, widths = steps[kept], widths[kept]
    return steps // n2, steps // n1, widths


def wasserstein(reference_sorted: FloatArray, current_sorted: FloatArray) -> FloatArray:
    """Wasserstein-1 (earth mover's) distance per column, as `scipy.stats.wasserstein_distance`.

    Both inputs come from `sort_columns`; NaN is left out, and a column with no values on
    either side gives NaN. The distance is in the feature's own units.

    scipy integrates |F_ref - F_cur| over the pooled values; this integrates the same area as
    |Q_ref(t) - Q_cur(t)| over t in [0, 1], where the quantile functions Q are the sorted
    columns themselves. The steps of Q depend only on the two sample sizes (see
    `_quantile_coupling`), so columns with the same counts share one coupling and each column
    costs two gathers and a dot product: no merge, no search. Samples of equal size (a window as large
    as its reference) pair row i with row i: the mean absolute gap, over all such columns at once.
    Agrees with scipy to ~1e-14 relative.

    >>> wasserstein(sort_columns([[0.0], [1.0]]), sort_columns([[1.0], [2.0], [3.0]]))
    array([1.5])
    """
    _check_same_features(reference_sorted, current_sorted)
    n_ref = valid_counts(reference_sorted)
    n_cur = valid_counts(current_sorted)
    out = np.full(reference_sorted.shape[1], np.nan)

    def distance(columns: list[int], coupling: tuple[IntArray, IntArray, FloatArray] | None, k: int) -> None:
        j = columns[k]
        n1, n2 = int(n_ref[j]), int(n_cur[j])
        ref_rows, cur_rows, widths = _quantile_coupling(n1, n2) if coupling is None else coupling
        gaps = reference_sorted[:n1, j][ref_rows]
        gaps -= current_sorted[:n2, j][cur_rows]
        np.abs(gaps, out=gaps)
        out[j] = float(gaps @ widths) / (n1 * n2)

    by_sizes: dict[tuple[int, int], list[int]] = {}
    for j in np.flatnonzero((n_ref > 0) & (n_cur > 0)):
        by_sizes.setdefault((int(n_ref[j]), int(n_cur[j])), []).append(int(j))
    alone = [columns[0] for columns in by_sizes.values() if len(columns) == 1]
    for (n1, n2), columns in by_sizes.items():  # usually one group: every column without NaN
        if n1 == n2:  # the coupling pairs row i with row i: the mean gap, every column of the group at once
            where = _columns_index(columns, reference_sorted.shape[1])
            gaps = reference_sorted[:n1, where] - current_sorted[:n2, where]
            np.abs(gaps, out=gaps)
            out[where] = gaps.sum(axis=0) / n1
        elif len(columns) > 1:
            _map_columns(partial(distance, columns, _quantile_coupling(n1, n2)), len(columns), n1 + n2)
    alone = [j for j in alone if n_ref[j] != n_cur[j]]
    _map_columns(partial(distance, alone, None), len(alone), reference_sorted.shape[0] + current_sorted.shape[0])
    return out


def _columns_index(columns: list[int], n_columns: int) -> slice | list[int]:
    """`columns` (ascending) as a slice when they are all of them (a view, not a copy)."""
    return slice(None) if len(columns) == n_columns else columns


def wasserstein_normed(
    reference_sorted: FloatArray, current_sorted: FloatArray, *, reference_std: npt.ArrayLike | None = None
) -> FloatArray:
    """`wasserstein` divided by the reference's standard deviation (ddof=0): unit-free, as Evidently.

    `reference_std` is `column_std(reference_sorted)` unless given (a fitted profile can store
    it). A constant reference (std 0) gives 0 when the current matches it exactly and +inf when
    it does not: any movement is infinitely many reference deviations. NaN where either side
    has no values.

    >>> ref = sort_columns([[0.0, 5.0], [2.0, 5.0]])
    >>> wasserstein_normed(ref, sort_columns([[1.0, 5.0], [3.0, 6.0]]))
    array([ 1., inf])
    """
    distance = wasserstein(reference_sorted, current_sorted)
    std = column_std(reference_sorted) if reference_std is None else np.asarray(reference_std, dtype=np.float64)
    if std.shape != distance.shape:
        raise ValueError(f"reference_std has shape {std.shape}, expected {distance.shape}")
    with np.errstate(divide="ignore", invalid="ignore"):
        normed = distance / std
    return np.where((std == 0) & (distance == 0), 0.0, normed)


def jensen_shannon(reference_counts: npt.ArrayLike, current_counts: npt.ArrayLike) -> FloatArray:
    """Jensen-Shannon *distance* (base 2, so in [0, 1]) per feature between bin or category counts.

    Equal to `scipy.spatial.distance.jensenshannon(ref, cur, base=2)` row by row: the square
    root of the JS divergence of the two normalised count vectors. Counts are (features, bins);
    bins empty on both sides (padding) change nothing. NaN where either side has no counts.
    """
    ref, cur = _paired_counts(reference_counts, current_counts)
    ref_total, cur_total = ref.sum(axis=-1, keepdims=True), cur.sum(axis=-1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        p, q = ref / ref_total, cur / cur_total
        m = (p + q) / 2.0
        divergence = _relative_entropy(p, m).sum(axis=-1) + _relative_entropy(q, m).sum(axis=-1)
    distance = np.sqrt(np.clip(divergence / math.log(2.0) / 2.0, 0.0, 1.0))  # clip: rounding only
    empty = (ref_total[..., 0] == 0) | (cur_total[..., 0] == 0)
    return np.where(empty, np.nan, distance)


def _relative_entropy(p: FloatArray, m: FloatArray) -> FloatArray:
    """`scipy.special.rel_entr(p, m)` where m >= p / 2, as in a Jensen-Shannon mixture: p log(p/m), 0 where p is 0."""
    return np.where(p > 0, p * np.log(np.where(p > 0, p, 1.0) / m), p)  # p: 0 stays 0, NaN stays NaN


# -- categorical features --------------------------------------------------------------------

CHI2_SMOOTHING = 0.5  # added to every reference count, so no expected count is 0


def encode_categories(values: npt.ArrayLike, categories: list[list[str]]) -> IntArray:
    """Category codes (rows, features), int64: the position of each value in `categories[j]`.

    Values are compared as `str(value)` (so True matches "True" and 3 matches "3"); a value
    not in `categories[j]` gets `len(categories[j])`, the "__unseen__" code; None and NaN get
    -1 (missing). Each column is one dict lookup per value driven from C (`map` into
    `np.fromiter`, no Python frame per row), about 3x faster on string columns than
    `astype(str)` + `searchsorted`; only the values that miss (unseen, missing, or not a str)
    take a second pass through `str`.
    """
    array = np.asarray(values, dtype=object)
    if array.ndim != 2:
        raise ValueError(f"expected a 2-D array (rows x features), got {array.ndim}-D")
    if len(categories) != array.shape[1]:
        raise ValueError(f"categories describe {len(categories)} features, values have {array.shape[1]}")
    codes = np.empty(array.shape, dtype=np.int64)
    for j, names in enumerate(categories):  # one pass per feature, none per row
        lookup = {str(name): k for k, name in enumerate(names)}
        if len(lookup) != len(names):
            raise ValueError(f"feature {j} lists a category twice")
        unseen = len(lookup)
        column = array[:, j]
        code = codes[:, j]
        code[:] = np.fromiter(map(lookup.get, column, repeat(unseen)), dtype=np.int64, count=column.size)
        miss = np.flatnonzero(code == unseen)
        if miss.size:
            other = column[miss]
            missing = np.equal(other, np.array(None)) | (other != other)  # None, or NaN (the only x != x)
            code[miss[missing]] = -1
            retry = miss[~missing]
            as_text = map(str, column[retry])
            code[retry] = np.fromiter(map(lookup.get, as_text, repeat(unseen)), dtype=np.int64, count=retry.size)
    return codes


def category_counts(codes: npt.ArrayLike, n_categories: npt.ArrayLike) -> IntArray:
    """Counts per category (features, max(n_categories) + 1) from `encode_categories` codes.

    Column k < n_categories[j] counts category k, column n_categories[j] the unseen values,
    and columns beyond it are zero padding; missing values (-1) are not counted. One
    `np.bincount` over all features.
    """
    codes = np.asarray(codes, dtype=np.int64)
    n_categories = np.asarray(n_categories, dtype=np.int64)
    if codes.ndim != 2 or n_categories.shape != (codes.shape[1],):
        raise ValueError(f"need codes (rows x features) and one category count per feature, got {n_categories.shape}")
    if (codes < -1).any() or (codes > n_categories).any():
        raise ValueError("codes must lie in -1..n_categories[j]")
    n_features = codes.shape[1]
    width = int(n_categories.max(initial=-1)) + 1
    present = codes >= 0
    flat = (codes + np.arange(n_features, dtype=np.int64) * width)[present]
    return np.bincount(flat, minlength=n_features * width).reshape(n_features, width)


def chi_square(
    reference_counts: npt.ArrayLike, current_counts: npt.ArrayLike, *, smoothing: float = CHI2_SMOOTHING
) -> tuple[FloatArray, FloatArray]:
    """Pearson chi-square goodness-of-fit of the current counts to the reference shares: (statistic, p).

    Per feature, the expected count of cell k is cur_total * (ref_k + smoothing) / sum(ref + smoothing),
    so a category the reference never saw (the unseen bin) still has a small expected count; the
    result is `scipy.stats.chisquare(cur, f_exp=expected)`. Cells empty on both sides (zero padding
    to a common width, an unseen bin nobody hit) are left out: they get no smoothing and no degree
    of freedom, so ragged category lists padded with zeros give the same answer as unpadded ones.

    The reference shares are taken as exact. When the reference is not much larger than the window
    its own sampling noise inflates the statistic (about by 1 + n_cur/n_ref); `chi_square_homogeneity`
    accounts for both samples.

    NaN where either side has no counts; a single non-empty cell (nothing to compare) gives (0, 1).
    """
    ref, cur = _paired_counts(reference_counts, current_counts)
    if smoothing <= 0:
        raise ValueError("smoothing must be positive: an expected count of 0 has no chi-square term")
    used = (ref > 0) | (cur > 0)
    cur_total = cur.sum(axis=-1)
    smoothed = np.where(used, ref + smoothing, 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        expected = smoothed / smoothed.sum(axis=-1, keepdims=True) * cur_total[:, None]
        terms = np.where(used, (cur - expected) ** 2 / expected, 0.0)
    return _chi2_result(terms.sum(axis=-1), used.sum(axis=-1) - 1, (ref.sum(axis=-1) == 0) | (cur_total == 0))


def chi_square_homogeneity(
    reference_counts: npt.ArrayLike, current_counts: npt.ArrayLike
) -> tuple[FloatArray, FloatArray]:
    """Pearson chi-square test that both samples share one distribution, per feature: (statistic, p).

    The 2 x k contingency test, `scipy.stats.chi2_contingency([ref, cur], correction=False)` on the
    cells that are not empty on both sides; unlike `chi_square` it counts the reference's sampling
    noise, so it holds its false-alarm rate when the reference is no bigger than the window. No
    smoothing is needed: a category seen only in the current window still has a positive expected
    count. NaN where either side has no counts; a single non-empty cell gives (0, 1).
    """
    ref, cur = _paired_counts(reference_counts, current_counts)
    used = (ref > 0) | (cur > 0)
    ref_total, cur_total = ref.sum(axis=-1, keepdims=True), cur.sum(axis=-1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        share = (ref + cur) / (ref_total + cur_total)
        terms = np.where(used, (ref - share * ref_total) ** 2 / (share * ref_total), 0.0)
        terms += np.where(used, (cur - share * cur_total) ** 2 / (share * cur_total), 0.0)
    empty = (ref_total[:, 0] == 0) | (cur_total[:, 0] == 0)
    return _chi2_result(terms.sum(axis=-1), used.sum(axis=-1) - 1, empty)


def _paired_counts(reference_counts: npt.ArrayLike, current_counts: npt.ArrayLike) -> tuple[FloatArray, FloatArray]:
    ref = np.asarray(reference_counts, dtype=np.float64)
    cur = np.asarray(current_counts, dtype=np.float64)
    if ref.ndim != 2 or ref.shape != cur.shape:
        raise ValueError(f"counts must be 2-D (features x cells) and of one shape: {ref.shape} vs {cur.shape}")
    if (ref < 0).any() or (cur < 0).any():
        raise ValueError("counts must not be negative")
    return ref, cur


def _chi2_result(statistic: FloatArray, dof: IntArray, empty: BoolArray) -> tuple[FloatArray, FloatArray]:
    """p = chi2.sf(statistic, dof); (0, 1) where dof is 0 (one cell), NaN where a side is empty.

    `scipy.special.chdtrc` is what `scipy.stats.chi2.sf` calls, imported here, when a categorical
    feature is compared: scipy.special takes a third of a second to import, scipy.stats a second."""
    from scipy.special import chdtrc

    pvalue = np.clip(chdtrc(np.maximum(dof, 1), statistic), 0.0, 1.0)
    statistic = np.where(dof > 0, statistic, 0.0)
    pvalue = np.where(dof > 0, pvalue, 1.0)
    return np.where(empty, np.nan, statistic), np.where(empty, np.nan, pvalue)


def proportions_ztest(
    missing_ref: npt.ArrayLike, n_ref: npt.ArrayLike, missing_cur: npt.ArrayLike, n_cur: npt.ArrayLike
) -> tuple[FloatArray, FloatArray]:
    """Pooled two-proportion z-test per feature, for missing-rate drift: (z, two-sided p).

    z = (p_cur - p_ref) / sqrt(p_pool * (1 - p_pool) * (1/n_ref + 1/n_cur)) with p_pool the
    missing rate of both samples together, so z > 0 means the current window misses more; the
    same as statsmodels' `proportions_ztest([missing_cur, missing_ref], [n_cur, n_ref])`. Where
    nothing or everything is missing on both sides (p_pool 0 or 1) the rates are equal and this
    gives z = 0, p = 1 (statsmodels: NaN). NaN where a side has no rows.
    """
    k1, n1, k2, n2 = np.broadcast_arrays(
        *(np.asarray(a, dtype=np.float64) for a in (missing_ref, n_ref, missing_cur, n_cur))
    )
    if (k1 < 0).any() or (k2 < 0).any() or (k1 > n1).any() or (k2 > n2).any():
        raise ValueError("missing counts must lie in 0..n")
    with np.errstate(invalid="ignore", divide="ignore"):
        pooled = (k1 + k2) / (n1 + n2)
        se = np.sqrt(pooled * (1.0 - pooled) * (1.0 / n1 + 1.0 / n2))
        z = (k2 / n2 - k1 / n1) / se
    z = np.where(se == 0, 0.0, z)
    z = np.where((n1 == 0) | (n2 == 0), np.nan, z)
    return z, _two_sided_normal_p(z)


def _two_sided_normal_p(z: FloatArray) -> FloatArray:
    """2 * `scipy.stats.norm.sf(|z|)` = erfc(|z| / sqrt 2); NaN stays NaN."""
    return np.array([math.erfc(abs(x) / math.sqrt(2.0)) for x in np.ravel(z).tolist()]).reshape(np.shape(z))


def _check_same_features(a: FloatArray, b: FloatArray) -> None:
    if a.ndim != 2 or b.ndim != 2:
        raise ValueError("expected 2-D arrays (rows x features)")
    if a.shape[1] != b.shape[1]:
        raise ValueError(f"reference has {a.shape[1]} features, current has {b.shape[1]}")
