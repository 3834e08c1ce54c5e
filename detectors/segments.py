"""Drift where it happens: a model's rows judged per value of a segment column (country, app version).

For each segment column, the values with the most reference rows (`top`) are judged apart and the
rest pooled as `other`. Each segment has its own reference (the model's reference rows of that
value, fitted like any profile) and its own `DriftDetector`, whose window holds `min_rows` rows: a
segment is judged once its window is full, so a small segment is judged on as many rows as a large
one. Rows are routed by their segment value as they are appended; a row without one joins no segment.
A segment column is a categorical or integer feature, or a record label (`labels.app_version`: the records'
`labels`, and the reference's column of that name, which is no feature).
Memory: segments x `min_rows` x columns x 8 bytes, bounded by `max_bytes` (the segments with the
fewest reference rows are pooled into `other` until it fits). Each segment's window checkpoints as a
model's does (`checkpoint_states`, `restore`), keyed by its segment.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl

from driftwarden.core.arrays import BoolArray, ByteArray, FloatArray, ObjectArray
from driftwarden.core.records import RECORD_LABELS, TRACE_BYTES, number_label
from driftwarden.detectors.detector import DriftDetector
from driftwarden.detectors.estimation import (
    Columns,
    Estimator,
    FrameColumns,
    MetricEstimate,
    QualityEstimate,
    WindowColumns,
)
from driftwarden.detectors.findings import Finding, ModelDriftFinding
from driftwarden.detectors.reference import ReferenceProfile
from driftwarden.detectors.report import DriftReport
from driftwarden.detectors.windows import VALUE_BYTES
from driftwarden.params import DEFAULT_THRESHOLDS, DriftThresholds

__all__ = ["OTHER_SEGMENT", "SegmentResult", "Segments", "segment_key"]

OTHER_SEGMENT = "other"  # the values beyond a column's top ones, pooled
MIN_REFERENCE_ROWS = 50  # reference rows a value needs to be judged on its own
MAX_VALUE_CHARS = 64  # a segment value is cut to this in its key (it becomes a label value)


def segment_key(column: str, value: str) -> str:
    """The `segment` label of one segment: `column=value`.

    >>> segment_key("country", "BR")
    'country=BR'
    """
    return f"{column}={value[:MAX_VALUE_CHARS]}"


@dataclass(frozen=True)
class SegmentResult:
    """One segment's latest judgement: its drift report (None until its window holds `min_rows`) and
    estimated quality."""

    column: str
    value: str
    window_rows: int
    reference_rows: int
    min_rows: int
    report: DriftReport | None
    estimate: QualityEstimate | None

    @property
    def key(self) -> str:
        return segment_key(self.column, self.value)

    @property
    def drifted(self) -> bool:
        return self.report is not None and self.report.drifted

    @property
    def severity_order(self) -> tuple[bool, float, bool, str]:
        """Worst first: drifted, then by drift share, then judged before not yet judged."""
        share = self.report.drift_share if self.report is not None else -1.0
        return (not self.drifted, -share, self.report is None, self.key)

    def findings(self) -> list[Finding]:
        """The segment's model drift finding, labelled with its segment, and its estimated-quality one."""
        labels = {"segment": self.key}
        out: list[Finding] = []
        if self.report is not None:
            for f in self.report.findings():
                if isinstance(f, ModelDriftFinding):
                    out.append(_relabelled(f, labels))
        if self.estimate is not None and (found := self.estimate.finding(self._model, labels=labels)) is not None:
            out.append(found)
        return out

    @property
    def _model(self) -> str:
        return self.report.model if self.report is not None else ""

    def to_dict(self) -> dict[str, Any]:
        report = self.report
        return {
            "segment": self.key,
            "column": self.column,
            "value": self.value,
            "judged": report is not None,
            "drifted": self.drifted,
            "drifted_stable": report is not None and report.stable,
            "drift_share": report.drift_share if report is not None else None,
            "reasons": [r.to_dict() for r in report.reasons] if report is not None else [],
            "drifted_features": [f.name for f in report.drifted_features] if report is not None else [],
            "rows": {"reference": self.reference_rows, "current": self.window_rows, "min_rows": self.min_rows},
            "estimated_quality": self.estimate.to_dict() if self.estimate is not None else None,
        }


def _relabelled(f: ModelDriftFinding, labels: Mapping[str, str]) -> ModelDriftFinding:
    return ModelDriftFinding(
        model=f.model,
        severity=f.severity,
        value=f.value,
        threshold=f.threshold,
        labels={**f.labels, **labels},
        at=f.at,
        drifted_features=f.drifted_features,
        prediction_drifted=f.prediction_drifted,
        critical_drifted=f.critical_drifted,
        model_version=f.model_version,
        reasons=f.reasons,
        top_features=f.top_features,
    )


@dataclass
class _Segment:
    column: str
    value: str
    detector: DriftDetector
    reference_rows: int
    reference_mask: BoolArray  # which rows of the reference sample are this segment's


class Segments:
    """A model's segments: routing rows to their windows and judging each."""

    def __init__(
        self,
        model: str,
        reference: ReferenceProfile,
        columns: Sequence[str],
        *,
        top: int = 20,
        min_rows: int = 1000,
        max_bytes: int = 256 * 1024 * 1024,
        thresholds: DriftThresholds = DEFAULT_THRESHOLDS,
        critical_features: Sequence[str] = (),
        hold: int = 1,
        kinds: Mapping[str, str] | None = None,
        bins: int = 10,
        estimator: Estimator | None = None,
    ) -> None:
        """Plan the segments from `reference.sample` and fit each one's reference (slow: call it off the loop)."""
        if reference.sample is None:
            raise ValueError("segments need the reference's rows (ReferenceProfile.sample)")
        self.model = model
        self.min_rows = min_rows
        self.estimator = estimator
        sample = reference.sample
        per_segment = min_rows * (
            max(1, len(reference.features) + len(reference.categories)) * VALUE_BYTES + TRACE_BYTES
        )
        budget = max(1, max_bytes // per_segment)
        self._values: dict[str, dict[str, str]] = {}  # column -> value -> its segment's value (itself or other)
        self._segments: dict[str, _Segment] = {}
        planned = [(column, _plan(sample, column, top)) for column in columns]
        ranked = sorted(((n, c, v) for c, plan in planned for v, n in plan.items()), reverse=True)
        allowed = {(c, v) for _, c, v in ranked[: max(0, budget - len(planned))]}  # room for each column's other
        for column, plan in planned:
            texts = FrameColumns(sample).texts(column)
            if texts is None:
                continue
            own = [v for v in plan if (column, v) in allowed]
            self._values[column] = {v: v for v in own}
            groups = {v: np.asarray(texts == v, dtype=bool) for v in own}
            rest = np.asarray([t is not None and t not in self._values[column] for t in texts], dtype=bool)
            if rest.sum() >= MIN_REFERENCE_ROWS:
                groups[OTHER_SEGMENT] = rest
            for value, mask in groups.items():
                profile = _profile(sample.filter(pl.Series(mask)), reference, bins)
                detector = DriftDetector(
                    model,
                    profile,
                    window=min_rows,
                    thresholds=thresholds,
                    critical_features=critical_features,
                    hold=hold,
                    kinds=kinds,
                    bins=bins,
                )
                self._segments[segment_key(column, value)] = _Segment(column, value, detector, int(mask.sum()), mask)
        self._pooled = {
            column: OTHER_SEGMENT in {s.value for s in self._segments.values() if s.column == column}
            for column in self._values
        }

    def __len__(self) -> int:
        return len(self._segments)

    @property
    def nbytes(self) -> int:
        return sum(s.detector.window.nbytes for s in self._segments.values())

    def update(
        self,
        names: Sequence[str],
        values: FloatArray,
        categorical: Sequence[str] = (),
        categorical_values: ObjectArray | None = None,
        traces: ByteArray | None = None,
        record_labels: ObjectArray | None = None,
    ) -> None:
        """Route a batch's rows (as `DriftDetector.update` takes them, and their records' labels) to their
        segments' windows."""
        for column, known in self._values.items():
            texts = _column_texts(column, names, values, categorical, categorical_values, record_labels)
            if texts is None:
                continue
            pooled = self._pooled[column]
            target = np.array(
                [known.get(t, OTHER_SEGMENT if pooled else None) if t is not None else None for t in texts],
                dtype=object,
            )
            for value in {t for t in target.tolist() if t is not None}:
                rows = target == value
                self._segments[segment_key(column, value)].detector.update(
                    names,
                    values[rows],
                    categorical,
                    None if categorical_values is None else categorical_values[rows],
                    None if traces is None else traces[rows],
                )

    @property
    def total_rows(self) -> int:
        """Rows ever routed to a segment: what changed since a checkpoint."""
        return sum(s.detector.window.total_rows for s in self._segments.values())

    def checkpoint_states(self) -> dict[str, tuple[tuple[str, ...], FloatArray, int, bytes, ByteArray | None]]:
        """Each segment's `DriftDetector.checkpoint_state()` (copies, cheap), by segment key; empty ones left out."""
        return {key: s.detector.checkpoint_state() for key, s in self._segments.items() if s.detector.window.rows}

    def restore(self, blobs: Mapping[str, bytes], skip: Callable[[str, Exception], None]) -> None:
        """Segment windows from their checkpoints, by key; one that no longer loads (or whose segment is no
        longer planned, as after a new reference) is passed to `skip` and its segment starts empty."""
        for key, blob in blobs.items():
            segment = self._segments.get(key)
            if segment is None:
                skip(key, KeyError(f"segment {key!r} is not among this reference's segments"))
                continue
            try:
                segment.detector.restore(blob)
            except Exception as exc:  # a damaged checkpoint
                skip(key, exc)

    def evaluate(self) -> list[SegmentResult]:
        """Judge every segment whose window holds `min_rows` rows; worst first."""
        results = []
        for segment in self._segments.values():
            detector = segment.detector
            report = None
            if detector.window.rows >= self.min_rows:
                detector.evaluate()
                report = detector.report
            results.append(
                SegmentResult(
                    segment.column,
                    segment.value,
                    detector.window.rows,
                    segment.reference_rows,
                    self.min_rows,
                    report,
                    self._estimate(segment) if report is not None else None,
                )
            )
        return sorted(results, key=lambda r: r.severity_order)

    def _estimate(self, segment: _Segment) -> QualityEstimate | None:
        if self.estimator is None:
            return None
        names, values = segment.detector.window.snapshot()
        vocabulary = segment.detector.vocabulary
        columns: Columns = WindowColumns(names, values, {n: vocabulary.names(n) for n in names if n in vocabulary})
        estimate = self.estimator.estimate(columns)
        if estimate is None:
            return None
        reference = self.estimator.reference_subset(segment.reference_mask)
        metrics = {
            name: MetricEstimate(m.value, m.lower, m.upper, float(reference.get(name, np.nan)), m.sampling_error)
            for name, m in estimate.metrics.items()
        }
        return QualityEstimate(
            estimate.method, estimate.kind, estimate.rows, metrics, estimate.alert_metric, estimate.margin
        )


def _plan(sample: pl.DataFrame, column: str, top: int) -> dict[str, int]:
    """The column's `top` values with the most reference rows (at least MIN_REFERENCE_ROWS), with their rows."""
    texts = FrameColumns(sample).texts(column)
    if texts is None:
        return {}
    present = np.array([t for t in texts if t is not None], dtype=str)
    if present.size == 0:
        return {}
    values, counts = np.unique(present, return_counts=True)
    order = np.lexsort((values, -counts))[:top]
    return {str(values[k]): int(counts[k]) for k in order if counts[k] >= MIN_REFERENCE_ROWS}


def _profile(rows: pl.DataFrame, reference: ReferenceProfile, bins: int) -> ReferenceProfile:
    """The reference profile of some of the reference's rows, with the model's columns and kinds."""
    columns = FrameColumns(rows)
    numeric = [name for name in reference.features if name in rows.columns]
    missing = np.full(rows.height, np.nan)
    found = [columns.numbers(name) for name in numeric]
    values = np.column_stack([missing if c is None else c for c in found]) if numeric else np.empty((rows.height, 0))
    categories: dict[str, dict[str, int]] = {}
    for name in reference.categories:
        texts = columns.texts(name)
        if texts is None:
            continue
        present = np.array([t for t in texts if t is not None], dtype=str)
        seen, counts = np.unique(present, return_counts=True)
        categories[name] = {str(v): int(n) for v, n in zip(seen, counts, strict=True)}
    return ReferenceProfile.fit(numeric, values, categories=categories, bins=bins)


def _column_texts(
    column: str,
    names: Sequence[str],
    values: FloatArray,
    categorical: Sequence[str],
    categorical_values: ObjectArray | None,
    record_labels: ObjectArray | None = None,
) -> ObjectArray | None:
    if column.startswith(RECORD_LABELS):
        if record_labels is None:
            return None
        name = column[len(RECORD_LABELS) :]
        out = np.full(record_labels.shape[0], None, dtype=object)
        out[:] = [None if tags is None else tags.get(name) for tags in record_labels.tolist()]
        return out
    if column in categorical and categorical_values is not None:
        return categorical_values[:, list(categorical).index(column)]
    if column in names:
        numbers = np.asarray(values, dtype=np.float64)[:, list(names).index(column)]
        out = np.full(numbers.shape[0], None, dtype=object)
        present = ~np.isnan(numbers)
        out[present] = [number_label(x) for x in numbers[present]]
        return out
    return None
