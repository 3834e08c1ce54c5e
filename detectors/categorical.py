"""Categorical drift of every categorical feature at once, from category counts.

Counts are all a categorical test needs, so the same function serves the daemon (counts
from the window's codes) and `driftwarden check` (counts from a file). Per feature the
cells are the reference's categories plus one `__unseen__` cell pooling every category
the reference never saw; features with fewer categories are zero-padded to a common
width, which no statistic here is changed by.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from driftwarden.core.arrays import FloatArray, IntArray
from driftwarden.detectors import stats

__all__ = ["UNSEEN", "CategoricalComparison", "compare_categories"]

UNSEEN = "__unseen__"
TOP_UNSEEN = 5  # unseen categories named in a report


@dataclass(frozen=True)
class CategoricalComparison:
    features: tuple[str, ...]
    labels: tuple[tuple[str, ...], ...]  # per feature: its cells (reference categories, then __unseen__)
    reference_counts: IntArray  # (features, width)
    current_counts: IntArray  # (features, width)
    chi2: FloatArray  # homogeneity statistic per feature (NaN when a side is empty)
    pvalue: FloatArray
    psi: FloatArray
    jensenshannon: FloatArray
    unseen: tuple[tuple[tuple[str, int], ...], ...]  # per feature: the most frequent unseen categories

    @property
    def valid_counts(self) -> tuple[IntArray, IntArray]:
        return self.reference_counts.sum(axis=1), self.current_counts.sum(axis=1)


def compare_categories(
    reference: Mapping[str, Mapping[str, int]], current: Mapping[str, Mapping[str, int]]
) -> CategoricalComparison:
    """Chi-square homogeneity, PSI and Jensen-Shannon per feature of `reference`.

    >>> r = compare_categories({"c": {"a": 50, "b": 50}}, {"c": {"a": 45, "b": 45, "new": 10}})
    >>> r.labels[0], r.current_counts[0].tolist(), r.unseen[0]
    (('a', 'b', '__unseen__'), [45, 45, 10], (('new', 10),))
    >>> round(float(r.pvalue[0]), 4) < 0.01
    True
    """
    features = tuple(reference)
    labels = tuple((*reference[f], UNSEEN) for f in features)
    width = max((len(cells) for cells in labels), default=1)
    ref = np.zeros((len(features), width), dtype=np.int64)
    cur = np.zeros((len(features), width), dtype=np.int64)
    unseen: list[tuple[tuple[str, int], ...]] = []
    for j, name in enumerate(features):
        known = reference[name]
        ref[j, : len(known)] = list(known.values())
        counts = current.get(name, {})
        cur[j, : len(known)] = [counts.get(category, 0) for category in known]
        extra = sorted(((c, n) for c, n in counts.items() if c not in known and n), key=lambda cn: (-cn[1], cn[0]))
        cur[j, len(known)] = sum(n for _, n in extra)
        unseen.append(tuple(extra[:TOP_UNSEEN]))
    chi2, pvalue = stats.chi_square_homogeneity(ref, cur) if features else (np.empty(0), np.empty(0))
    return CategoricalComparison(
        features=features,
        labels=labels,
        reference_counts=ref,
        current_counts=cur,
        chi2=chi2,
        pvalue=pvalue,
        psi=stats.psi(ref, cur) if features else np.empty(0),
        jensenshannon=stats.jensen_shannon(ref, cur) if features else np.empty(0),
        unseen=tuple(unseen),
    )
