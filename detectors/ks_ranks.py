"""The KS statistic of a sliding window from its values' ranks in the reference, kept across evaluations.

The statistic needs, for every reference value, how many current values lie below it and at or below
it: a merge of the sorted window with the sorted reference (`stats.ks_2samp`), the largest cost of a
model's evaluation (~0.2 ms a 5,000-row column). A sliding window changes by a few rows between
evaluations, so `WindowRanks` keeps each ring slot's ranks in the reference, `lower` = #ref < x and
`upper` = #ref <= x, and computes them only for the slots written since the last evaluation (a
binary search of those rows); the ranks sorted per feature (small integers: a fraction of a merge),
the two ECDF differences are then whole-array operations over every feature at once (`ks_statistic`).

`ks_statistic(...)` equals `stats.ks_2samp(...).statistic` bit for bit: the same integer differences
(F_ref - F_cur scaled by n_ref * n_cur), their extremes divided once. The ranks take 4 bytes a value
(two uint16) beside the window's 8 while the reference has fewer than 65,534 rows, 8 above.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from driftwarden.core.arrays import FloatArray, IntArray
from driftwarden.detectors import stats
from driftwarden.detectors.reference import ReferenceProfile

__all__ = ["Ties", "WindowRanks", "ks_statistic", "reference_ties"]


Ties = dict[int, tuple[IntArray, IntArray]]  # column -> (#ref < ref[k], #ref <= ref[k]) over its valid values


def reference_ties(reference_sorted: FloatArray) -> Ties:
    """The columns of a `stats.sort_columns` result with repeated values, and for each (#ref < ref[k],
    #ref <= ref[k]) over its valid values; a column without ties has k and k + 1 there (not stored)."""
    n_valid = stats.valid_counts(reference_sorted)
    out: Ties = {}
    for j in range(reference_sorted.shape[1]):
        column = reference_sorted[: int(n_valid[j]), j]
        if column.size > 1 and (column[1:] == column[:-1]).any():
            out[j] = (np.searchsorted(column, column, side="left"), np.searchsorted(column, column, side="right"))
    return out


def ks_statistic(
    reference_valid: IntArray,
    ties: Ties,
    lower: IntArray,
    upper: IntArray,
    missing: int,
    *,
    equal_ranks: bool | None = None,
) -> FloatArray:
    """KS D per feature from the current values' ranks in the reference, `lower` (#ref < x) and `upper`
    (#ref <= x), each (rows, features), a missing value ranked `missing` (past every valid rank); `ties`
    from `reference_ties`; `equal_ranks` whether `lower` equals `upper` when the caller knows (None: compared
    here). NaN where either side has no values.

    Scaled by n1 * n2, F_ref - F_cur is an integer that changes only at the pooled values. Between two
    current values it grows with the reference's count, so its largest values are just below a current
    value: with the valid `lower` ranks sorted, s_0 <= s_1 <= ..., those are A(s_i) n2 - i n1, A(s) the
    reference's count at or below its value s - 1 (s without ties). Likewise its smallest values are at
    a current value: with the `upper` ranks sorted, t_0 <= t_1 <= ..., B(t_i) n2 - (i + 1) n1, B(t) the
    reference's count below its value t (t without ties). Where current values repeat a rank, the other
    candidates are never more extreme than the true ones. 0 (before and after every value) bounds both.
    """
    n_features = reference_valid.size
    rows = lower.shape[0]
    out = np.full(n_features, np.nan)
    if rows == 0 or n_features == 0:
        return out
    ranks = np.sort(lower, axis=0)  # (rows, features), each column contiguous
    n1 = reference_valid.astype(np.int64)
    # no current value equal to a reference value and no ties in the reference (continuous features): t is s
    same = not ties and (np.array_equal(lower, upper) if equal_ranks is None else equal_ranks)
    if same and (n1 == rows).all() and not (ranks[-1] == missing).any():
        # n1 == n2 == rows (a window as large as its reference, no missing value): up = rows * (s_i - i), an
        # integer difference per value, no float array (below); the same extremes, so the same division
        gaps = np.subtract(ranks, np.arange(rows, dtype=np.int32)[:, None], dtype=np.int32)
        highest = gaps.max(axis=0).astype(np.float64) * rows
        lowest = gaps.min(axis=0).astype(np.float64) * rows - n1
        return _ks_from_extremes(highest, lowest, n1 * rows, out)
    # float64 (exact for integers below 2^53, so for n1 * n2 of any window): numpy multiplies int64 a value at a time
    s = ranks.T.astype(np.float64)  # (features, rows), each row contiguous
    t = s if same else np.sort(upper, axis=0).T.astype(np.float64)
    n2 = np.full(n_features, rows, dtype=np.int64)
    for j in np.flatnonzero(s[:, -1] == missing).tolist():  # missing values sort last
        n2[j] = np.searchsorted(s[j], missing)
    for j, (tied_below, tied_at_or_below) in ties.items():
        valid = int(n2[j])
        s[j, :valid] = np.concatenate([[0], tied_at_or_below])[s[j, :valid].astype(np.int64)]
        t[j, :valid] = np.concatenate([tied_below, [n1[j]]])[t[j, :valid].astype(np.int64)]
    index = np.arange(rows, dtype=np.float64)
    f1: npt.NDArray[np.float64] | float = n1[:, None].astype(np.float64)
    f2: npt.NDArray[np.float64] | float = n2[:, None].astype(np.float64)
    if (n1 == n1[0]).all() and (n2 == n2[0]).all():  # the usual case: one (n1, n2) for every feature
        f1, f2 = float(n1[0]), float(n2[0])
    # in place (s and t are this call's own): each temporary of a window's size costs as much as the arithmetic
    up = np.multiply(s, f2, out=s)
    up -= index * f1
    if same:  # down = up - n1: its minimum is up's minimum less n1, no array needed
        highest, lowest = up.max(axis=1), up.min(axis=1) - n1
    else:
        down = np.multiply(t, f2, out=t)
        down -= (index + 1.0) * f1
        highest, lowest = up.max(axis=1), down.min(axis=1)
    for j in np.flatnonzero(n2 < rows).tolist():  # the missing values' places left out
        valid = int(n2[j])
        highest[j] = up[j, :valid].max(initial=0.0)
        lowest[j] = (up[j, :valid].min(initial=n1[j]) - n1[j]) if same else down[j, :valid].min(initial=0.0)
    return _ks_from_extremes(highest, lowest, n1 * n2, out)


def _ks_from_extremes(highest: FloatArray, lowest: FloatArray, scale: IntArray, out: FloatArray) -> FloatArray:
    """D from the scaled extremes of F_ref - F_cur, as integers divided as the merge divides them; `out` (NaN)
    where `scale` (n1 * n2) is 0."""
    with np.errstate(invalid="ignore", divide="ignore"):
        max_s = np.maximum(highest, 0).astype(np.int64) / scale
        min_s = np.clip(-np.minimum(lowest, 0).astype(np.int64) / scale, 0.0, 1.0)
    return np.where(scale > 0, np.where(min_s > max_s, min_s, max_s), out)


class WindowRanks:
    """A sliding window's values ranked in its model's reference, per ring slot, reused across evaluations.

    `statistic()` takes what one atomic window snapshot gives (the values in ring order, where the next
    row goes, rows ever appended and the window's generation, which changes whenever its rows change
    other than by appending) and ranks only the slots written since its last call: all of them after a
    new reference, a changed generation, new columns or more new rows than the window holds.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._key: tuple[object, ...] | None = None
        self._total = 0
        self._lower: IntArray = np.zeros((0, 0), dtype=np.int64)
        self._upper: IntArray = np.zeros((0, 0), dtype=np.int64)
        self._filled = 0  # slots ranked
        self._missing = 0  # the rank of a missing value
        self._unequal = 0  # ranked values with lower != upper (equal to a reference value)
        self._ties: tuple[ReferenceProfile, Ties] | None = None

    def statistic(
        self,
        reference: ReferenceProfile,
        names: Sequence[str],
        values: FloatArray,
        next_slot: int,
        total: int,
        generation: int,
    ) -> FloatArray | None:
        """KS D per reference feature of `values` (the window's filled rows in ring order, named `names`);
        None when a reference feature is not among them (the caller merges as before)."""
        position = {name: j for j, name in enumerate(names)}
        if any(name not in position for name in reference.features):
            return None
        columns = [position[name] for name in reference.features]
        rows = values.shape[0]
        # id(): the profile compared by identity (its arrays make == ambiguous); `_ties` holds the previous
        # one until here, so a new profile cannot reuse its id
        key = (id(reference), tuple(names), generation)
        with self._lock:
            if self._ties is None or self._ties[0] is not reference:
                self._ties = (reference, reference_ties(reference.sorted_values))
            ties = self._ties[1]
            fresh = total - self._total
            if key != self._key or fresh >= rows or fresh < 0 or self._lower.shape != (rows, len(columns)):
                self._allocate(reference, rows, len(columns), keep=key == self._key)
                slots: IntArray | slice = slice(0, rows)
                if key == self._key and 0 <= fresh < rows and self._filled == rows - fresh:
                    slots = slice(rows - fresh, rows)  # the window grew: the new rows follow the old ones
            else:
                slots = (np.arange(next_slot - fresh, next_slot) % rows).astype(np.int64)
            self._rank(reference, ties, values, columns, slots)
            self._key, self._total, self._filled = key, total, rows
            return ks_statistic(
                reference.valid_counts,
                ties,
                self._lower,
                self._upper,
                self._missing,
                equal_ranks=self._unequal == 0,
            )

    def _allocate(self, reference: ReferenceProfile, rows: int, n_features: int, *, keep: bool) -> None:
        ref_rows = reference.sorted_values.shape[0]
        dtype = np.uint16 if ref_rows + 1 < np.iinfo(np.uint16).max else np.int32
        lower = np.empty((rows, n_features), dtype=dtype, order="F")
        upper = np.empty((rows, n_features), dtype=dtype, order="F")
        if keep and self._lower.dtype == dtype and self._lower.shape[1] == n_features:
            kept = min(self._filled, rows)
            lower[:kept], upper[:kept] = self._lower[:kept], self._upper[:kept]
        else:
            self._filled = 0
        self._lower, self._upper, self._missing = lower, upper, ref_rows + 1

    def _rank(
        self,
        reference: ReferenceProfile,
        ties: Ties,
        values: FloatArray,
        columns: list[int],
        slots: IntArray | slice,
    ) -> None:
        """Rank the rows at `slots` (every feature at once but the searches) and keep `_unequal` current."""
        n_valid = reference.valid_counts
        block = values[slots][:, columns]  # (new rows, features): one gather
        lower = np.empty(block.shape, dtype=np.int64)
        searched = []  # columns whose upper rank needs its own search: ties, or no reference values
        for j, n in enumerate(n_valid.tolist()):
            column = reference.sorted_values[:n, j]
            lower[:, j] = np.searchsorted(column, block[:, j], side="left")
            if j in ties or n == 0:
                searched.append(j)
        # no value repeats in a column: at most the one at `lower` equals x (half the searches), every column at once
        upper = lower.copy()
        if reference.sorted_values.shape[0]:  # a reference of no rows ranks everything 0
            at = reference.sorted_values[np.minimum(lower, np.maximum(n_valid - 1, 0)), np.arange(len(columns))]
            upper += at == block
        for j in searched:
            upper[:, j] = np.searchsorted(reference.sorted_values[: int(n_valid[j]), j], block[:, j], side="right")
        missing = np.isnan(block)
        if missing.any():
            lower[missing] = upper[missing] = self._missing
        everything = isinstance(slots, slice) and slots == slice(0, self._lower.shape[0])
        if not everything and self._filled > 0 and not isinstance(slots, slice):  # ring slots written before
            self._unequal -= int(np.count_nonzero(self._lower[slots] != self._upper[slots]))
        self._lower[slots] = lower
        self._upper[slots] = upper
        unequal = int(np.count_nonzero(lower != upper))
        self._unequal = unequal if everything else self._unequal + unequal
