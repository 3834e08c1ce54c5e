"""A model's estimated quality and segments, wired to its reference and its evaluations.

What `models.<m>.estimate` and `models.<m>.segments` ask for is fitted once per reference, in a
worker thread: when a reference is uploaded, pinned or built (`Daemon.set_reference`, before it is
stored, so a reference the estimator cannot use is refused and nothing is stored), and for a
reference restored at start, at the model's first evaluation. Each evaluation then estimates the
current window's quality and judges each segment in the evaluation's worker thread; rows are routed
to the segments' windows as they are applied (`update`, on the loop). Rows applied between a restart
and that first evaluation, while a restored reference's segments await their fit (`await_fit`), are
held (at most `segmenting.min_rows` x (`segmenting.top` + 1) rows, the newest) and routed once they
are fitted, after the checkpointed segment windows are restored: they are the newest rows.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from driftwarden.config import Config
from driftwarden.core.errors import InputError
from driftwarden.core.records import RecordBatch
from driftwarden.detectors.detector import DriftDetector
from driftwarden.detectors.estimation import Estimator, QualityEstimate, WindowColumns
from driftwarden.detectors.estimators import fit_estimator
from driftwarden.detectors.findings import Finding
from driftwarden.detectors.reference import ReferenceProfile
from driftwarden.detectors.segments import SegmentResult, Segments
from driftwarden.params import drift_thresholds, estimate_params

__all__ = ["HISTORY_LENGTH", "Fitted", "ModelEstimation", "QualityPoint", "fit_extras"]

HISTORY_LENGTH = 720  # evaluations kept for the realized-vs-estimated chart, as the drift timelines


def _ignore(key: str, error: Exception) -> None:
    return None


def _route(segments: Segments, batch: RecordBatch) -> None:
    segments.update(
        batch.features, batch.values, batch.categorical, batch.categorical_values, batch.traces, batch.record_labels
    )


@dataclass(frozen=True)
class Fitted:
    """What was fitted for one reference (None: not asked for, or the reference keeps no rows)."""

    reference: ReferenceProfile
    estimator: Estimator | None = None
    segments: Segments | None = None

    def summary(self) -> dict[str, Any]:
        """What the reference upload answers about them."""
        out: dict[str, Any] = {}
        if self.estimator is not None:
            out["estimate"] = {
                "method": self.estimator.method,
                "kind": self.estimator.kind,
                "reference_metrics": dict(self.estimator.reference_metrics),
                **self.estimator.fit_quality,
            }
        if self.segments is not None:
            out["segments"] = len(self.segments)
        return out


def fit_extras(model: str, reference: ReferenceProfile, config: Config) -> Fitted:
    """Fit the model's estimator and segments on `reference` (slow: in a worker thread). Raises InputError
    (`bad_estimate_reference`) when the reference's rows cannot give the estimate the config asks for."""
    settings = config.model(model)
    if reference.sample is None:
        return Fitted(reference)
    estimator = fit_estimator(reference, estimate_params(settings.estimate)) if settings.estimate else None
    segments = None
    if settings.segments:
        absent = [column for column in settings.segments if column not in reference.sample.columns]
        if absent:
            raise InputError(
                f"segments: the reference has no column {', '.join(map(repr, absent))}: each segment is judged "
                "against the reference rows of its value (models.<model>.segments names the columns)",
                code="bad_segment_reference",
            )
        segments = Segments(
            model,
            reference,
            settings.segments,
            top=settings.segmenting.top,
            min_rows=settings.segmenting.min_rows,
            max_bytes=config.limits.max_window_bytes_per_model,
            thresholds=drift_thresholds(settings.drift),
            critical_features=settings.critical_features,
            hold=config.alerting.for_,
            kinds=settings.features,
            bins=settings.drift.bins,
            estimator=estimator,
        )
    return Fitted(reference, estimator, segments)


@dataclass(frozen=True)
class QualityPoint:
    """One evaluation's estimated quality (value, lower, upper per metric) and the realized quality then."""

    at: float
    estimated: dict[str, tuple[float, float, float]]
    realized: dict[str, float]


class ModelEstimation:
    def __init__(self) -> None:
        self.fitted: Fitted | None = None
        self.estimate: QualityEstimate | None = None
        self.segments: list[SegmentResult] = []
        self.history: deque[QualityPoint] = deque(maxlen=HISTORY_LENGTH)
        # segment windows read from the state file at start, restored when the segments are fitted
        self.saved_segments: dict[str, bytes] = {}
        self.skip_saved: Callable[[str, Exception], None] = _ignore
        # rows applied while a restored reference's segments await their fit (the newest, at most `pending_limit`)
        self.pending: deque[RecordBatch] = deque()
        self.pending_rows = 0
        self.pending_limit = 0

    def await_fit(self, limit: int) -> None:
        """A reference restored at start has segments to fit at the first evaluation: hold the rows applied
        meanwhile (the newest `limit` rows, whole batches) for them."""
        self.pending_limit = limit

    def needs_fit(self, reference: ReferenceProfile | None) -> bool:
        return reference is not None and (self.fitted is None or self.fitted.reference is not reference)

    def install(self, fitted: Fitted) -> None:
        """Use what was fitted for a new reference (on the loop); the last results go with the old one."""
        self.fitted = fitted
        self.estimate = None
        self.segments = []
        saved, self.saved_segments = self.saved_segments, {}
        pending, self.pending, self.pending_rows, self.pending_limit = self.pending, deque(), 0, 0
        if fitted.segments is not None:
            if saved:
                fitted.segments.restore(saved, self.skip_saved)
            for batch in pending:  # newer than what was checkpointed
                _route(fitted.segments, batch)

    @property
    def segmenting(self) -> Segments | None:
        """The fitted segments (None: none asked for, or not fitted yet)."""
        return self.fitted.segments if self.fitted is not None else None

    @property
    def estimator(self) -> Estimator | None:
        return self.fitted.estimator if self.fitted is not None else None

    def update(self, batch: RecordBatch) -> None:
        """A batch's rows into their segments' windows (on the loop); held while the segments await their fit."""
        if self.fitted is None:
            if self.pending_limit > 0 and batch.rows:
                self.pending.append(batch)
                self.pending_rows += batch.rows
                while len(self.pending) > 1 and self.pending_rows - self.pending[0].rows >= self.pending_limit:
                    self.pending_rows -= self.pending.popleft().rows
            return
        if self.fitted.segments is not None:
            _route(self.fitted.segments, batch)

    def evaluate(self, detector: DriftDetector, realized: dict[str, float], now: float | None = None) -> None:
        """Estimate the current window's quality and judge the segments (in a worker thread)."""
        fitted = self.fitted
        if fitted is None or fitted.reference is not detector.reference:
            return
        if fitted.estimator is not None:
            names, values = detector.window.snapshot()
            vocabulary = detector.vocabulary
            columns = WindowColumns(names, values, {n: vocabulary.names(n) for n in names if n in vocabulary})
            estimate = fitted.estimator.estimate(columns)
            if estimate is not None:
                self.estimate = estimate
                self.history.append(
                    QualityPoint(
                        time.time() if now is None else now,
                        {k: (m.value, m.lower, m.upper) for k, m in estimate.metrics.items()},
                        dict(realized),
                    )
                )
        if fitted.segments is not None:
            self.segments = fitted.segments.evaluate()

    def findings(self, model: str) -> list[Finding]:
        out: list[Finding] = []
        if self.estimate is not None and (found := self.estimate.finding(model)) is not None:
            out.append(found)
        for segment in self.segments:
            out += segment.findings()
        return out
