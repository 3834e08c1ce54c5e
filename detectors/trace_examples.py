"""The traces behind a drift: for the worst drifted features of a report, a few current-window rows
from the bin that gained the most share of rows over the reference, named by their trace ids.

A feature's bins are the report's own (reference-quantile intervals, or categories with
`__unseen__`), plus "__missing__" for the rows without a value: the bin whose share of current rows
grew most over its share of reference rows is where the drift shows, and the rows in it are the
requests an engineer wants to open. Rows are picked with one vectorized mask per feature.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence

import numpy as np

from driftwarden.core.arrays import BoolArray, ByteArray, FloatArray
from driftwarden.core.records import trace_hex
from driftwarden.detectors.categorical import UNSEEN
from driftwarden.detectors.report import DriftReport, FeatureDrift, TraceExamples

__all__ = ["MAX_TRACED_FEATURES", "MAX_TRACES", "MISSING", "with_trace_examples"]

MAX_TRACED_FEATURES = 3  # the drifted features with the largest effect get examples
MAX_TRACES = 5  # trace ids shown per feature
MISSING = "__missing__"  # the label of the rows without a value, in the style of `__unseen__`


def with_trace_examples(
    report: DriftReport,
    names: Sequence[str],
    values: FloatArray,
    traces: ByteArray,
    categories: Callable[[str], list[str]],
) -> DriftReport:
    """`report` with `trace_examples` on its worst drifted features. `names` and `values` are the
    evaluated window (rows unsorted; categorical columns as codes into `categories(feature)`) and
    `traces` their packed trace ids, row for row."""
    traced = traces[:, :16].any(axis=1)
    column = {name: j for j, name in enumerate(names)}
    worst = sorted(
        (f for f in report.features if f.drifted and f.name in column),
        key=lambda f: -f.effect if np.isfinite(f.effect) else 0.0,
    )[:MAX_TRACED_FEATURES]
    examples = {}
    for f in worst:
        label, rows = _top_bin(f, values[:, column[f.name]], categories)
        picked = np.flatnonzero(rows & traced)[:MAX_TRACES]
        ids = [found for i in picked if (found := trace_hex(traces[i])) is not None]
        if ids:
            examples[f.name] = TraceExamples(label, tuple(ids))
    if not examples:
        return report
    features = tuple(
        dataclasses.replace(f, trace_examples=examples[f.name]) if f.name in examples else f for f in report.features
    )
    return dataclasses.replace(report, features=features)


def _top_bin(f: FeatureDrift, column: FloatArray, categories: Callable[[str], list[str]]) -> tuple[str, BoolArray]:
    """The label of the bin that gained the most share, and which rows of `column` fall in it."""
    reference = np.asarray(f.bins.get("reference", []), dtype=np.float64)
    current = np.asarray(f.bins.get("current", []), dtype=np.float64)[: len(reference)]
    missing_ref = f.missing_rate.get("reference") or 0.0
    missing_cur = f.missing_rate.get("current") or 0.0
    gain = np.append(_shares(current, missing_cur) - _shares(reference, missing_ref), missing_cur - missing_ref)
    k = int(np.argmax(gain))
    if k == len(reference):
        return MISSING, np.isnan(column)
    label = f.bin_labels[k] if k < len(f.bin_labels) else str(k)
    if f.kind != "categorical":
        edges = np.asarray(f.bin_edges, dtype=np.float64)
        low = edges[k - 1] if k > 0 else -np.inf  # bin k is edges[k-1] < x <= edges[k], as the counts are
        high = edges[k] if k < len(edges) else np.inf
        return label, (column > low) & (column <= high)
    codes = categories(f.name)  # position = the code the window holds
    if label == UNSEEN:
        known = set(f.bin_labels[:-1])
        wanted = [code for code, name in enumerate(codes) if name not in known]
    else:
        wanted = [codes.index(label)] if label in codes else []
    return label, np.isin(column, np.asarray(wanted, dtype=np.float64))


def _shares(counts: FloatArray, missing_rate: float) -> FloatArray:
    """Each bin's share of all rows, the missing ones included."""
    total = counts.sum()
    return counts * ((1.0 - missing_rate) / total) if total > 0 else np.zeros_like(counts)
