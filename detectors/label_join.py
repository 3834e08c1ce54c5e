"""Delayed labels: sampled predictions wait for their ground truth, joined by request id.

Per model, predictions with a request id are kept for `label_ttl` (at most `max_pending`,
oldest dropped first); a label posted to /v1/labels that finds its prediction makes one
(prediction, label) outcome, and the last `window` outcomes give the model's realized
quality (accuracy and F1, or MAE and RMSE). A label sent inline with its record joins at
once. Pending predictions and outcomes are checkpointed with the windows.
"""

from __future__ import annotations

import time
from collections import OrderedDict, deque
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from driftwarden.core.records import PREDICTION, RecordBatch
from driftwarden.detectors.findings import QualityDegradedFinding, Severity
from driftwarden.detectors.outcomes import QualityChange, classification_metrics, quality_change, regression_metrics

__all__ = ["LabelJoin", "OutcomeCounts"]

# Quality is judged like drift: the first full window of outcomes is the baseline, each later full
# window is compared with it (detectors/outcomes.py `quality_change`), and a degradation is a finding.


@dataclass
class OutcomeCounts:
    matched: int = 0
    unmatched: int = 0  # no prediction waiting: never sampled, expired, or an unknown id


class LabelJoin:
    """One model's pending predictions and realized outcomes.

    >>> join = LabelJoin(ttl=60.0, window=100)
    >>> join.add_predictions(["a", "b", None], [0.9, 0.2, 0.5], now=0.0)
    >>> join.add_labels(["a", "b", "zz"], [1, 0, 1], now=10.0)
    OutcomeCounts(matched=2, unmatched=1)
    >>> join.metrics()
    {'accuracy': 1.0, 'f1': 1.0}
    """

    def __init__(self, *, ttl: float = 3600.0, window: int = 5000, max_pending: int = 100_000) -> None:
        self.ttl = ttl
        self.max_pending = max_pending
        self._pending: OrderedDict[str, tuple[Any, float]] = OrderedDict()
        self._outcomes: deque[tuple[Any, Any]] = deque(maxlen=window)
        self._baseline: list[tuple[Any, Any]] = []  # the first full window of outcomes: "quality as deployed"
        self._since_baseline = 0  # outcomes after the baseline: a fresh window is compared only when full
        self.totals = OutcomeCounts()
        self.touched = False  # changed since the last checkpoint

    @property
    def pending(self) -> int:
        return len(self._pending)

    def add_batch(self, batch: RecordBatch) -> None:
        """A batch's predictions: waiting by request id for their label, or paired with the label they carry."""
        if batch.request_ids is None and batch.labels is None:
            return
        if PREDICTION in batch.features:
            predictions = batch.values[:, batch.features.index(PREDICTION)].tolist()
        elif PREDICTION in batch.categorical and batch.categorical_values is not None:
            predictions = batch.categorical_values[:, batch.categorical.index(PREDICTION)].tolist()
        else:
            return
        labels = batch.labels.tolist() if batch.labels is not None else [None] * len(predictions)
        if batch.request_ids is not None:  # only those still waiting for their label
            ids = [i if label is None else None for i, label in zip(batch.request_ids.tolist(), labels, strict=True)]
            self.add_predictions(ids, predictions)
        if batch.labels is not None:
            self.add_outcomes(predictions, labels)

    def add_predictions(
        self, request_ids: Sequence[str | None], predictions: Sequence[Any], *, now: float | None = None
    ) -> None:
        now = time.time() if now is None else now
        for request_id, prediction in zip(request_ids, predictions, strict=True):
            if request_id is not None and _present(prediction):
                self._pending[request_id] = (prediction, now)
                self._pending.move_to_end(request_id)
                self.touched = True
        while len(self._pending) > self.max_pending:
            self._pending.popitem(last=False)
        self._expire(now)

    def add_outcomes(self, predictions: Sequence[Any], labels: Sequence[Any]) -> None:
        """Pairs whose label came with the prediction."""
        pairs = [(p, t) for p, t in zip(predictions, labels, strict=True) if _present(p) and _present(t)]
        self._extend(pairs)

    def add_labels(
        self, request_ids: Sequence[str], labels: Sequence[Any], *, now: float | None = None
    ) -> OutcomeCounts:
        now = time.time() if now is None else now
        self._expire(now)
        counts = OutcomeCounts()
        for request_id, label in zip(request_ids, labels, strict=True):
            waiting = self._pending.pop(request_id, None)
            if waiting is None:
                counts.unmatched += 1
                continue
            counts.matched += 1
            self._extend([(waiting[0], label)])
        self.totals.matched += counts.matched
        self.totals.unmatched += counts.unmatched
        self.touched = True
        return counts

    @property
    def baseline_metrics(self) -> dict[str, float]:
        return self._metrics(self._baseline)

    def quality_change(self, *, alpha: float = 0.05) -> QualityChange | None:
        """The current window's quality against the baseline's; None until both are full windows."""
        if not self._baseline or self._since_baseline < len(self._baseline):
            return None
        current = list(self._outcomes)
        classification = self._kind(self._baseline) != "regression"
        return quality_change(
            _pairs(self._baseline, classification),
            _pairs(current, classification),
            classification=classification,
            alpha=alpha,
        )

    def finding(self, model: str, *, alpha: float = 0.05) -> QualityDegradedFinding | None:
        """A finding when realized quality degraded from the baseline (alert ModelQualityDegraded)."""
        change = self.quality_change(alpha=alpha)
        if change is None or not change.degraded:
            return None
        return QualityDegradedFinding(
            model=model,
            severity=Severity.WARNING,
            value=change.current,
            threshold=change.baseline,
            metric=change.metric,
            pvalue=change.pvalue,
        )

    def metrics(self) -> dict[str, float]:
        """Realized quality over the last `window` outcomes; {} before the first."""
        return self._metrics(list(self._outcomes))

    def _metrics(self, outcomes: list[tuple[Any, Any]]) -> dict[str, float]:
        if not outcomes:
            return {}
        kind = self._kind(outcomes)
        predictions, labels = _pairs(outcomes, kind != "regression")
        if kind == "regression":
            return regression_metrics(predictions, labels)
        return classification_metrics(predictions, labels)

    @staticmethod
    def _kind(outcomes: list[tuple[Any, Any]]) -> str:
        """ "regression" for numbers against numbers, "binary" for scores against 0/1, else "classes"."""
        if all(_is_number(p) and _is_number(t) for p, t in outcomes):
            return "binary" if {float(t) for _, t in outcomes} <= {0.0, 1.0} else "regression"
        return "classes"

    def _extend(self, pairs: list[tuple[Any, Any]]) -> None:
        self._outcomes.extend(pairs)
        self.touched |= bool(pairs)
        if self._baseline:
            self._since_baseline += len(pairs)
        elif len(self._outcomes) == self._outcomes.maxlen:
            self._baseline = list(self._outcomes)

    def to_dict(self) -> dict[str, Any]:
        return {
            "pending": [[k, v[0], v[1]] for k, v in self._pending.items()],
            "outcomes": [list(pair) for pair in self._outcomes],
            "baseline": [list(pair) for pair in self._baseline],
            "since_baseline": self._since_baseline,
            "matched": self.totals.matched,
            "unmatched": self.totals.unmatched,
        }

    def restore(self, saved: dict[str, Any]) -> None:
        self._pending = OrderedDict((k, (p, at)) for k, p, at in saved.get("pending", []))
        self._outcomes.extend(tuple(pair) for pair in saved.get("outcomes", []))
        self._baseline = [tuple(pair) for pair in saved.get("baseline", [])]
        self._since_baseline = int(saved.get("since_baseline", 0))
        self.totals = OutcomeCounts(saved.get("matched", 0), saved.get("unmatched", 0))

    def _expire(self, now: float) -> None:
        while self._pending:
            _, (_, at) = next(iter(self._pending.items()))
            if now - at <= self.ttl:
                break
            self._pending.popitem(last=False)


def _pairs(outcomes: list[tuple[Any, Any]], classification: bool) -> tuple[np.ndarray, np.ndarray]:
    """(predictions, labels) arrays; for a binary class, scores thresholded at 0.5."""
    predictions, labels = zip(*outcomes, strict=True)
    if not classification:
        return np.asarray(predictions, dtype=np.float64), np.asarray(labels, dtype=np.float64)
    if all(_is_number(p) and _is_number(t) for p, t in outcomes):
        return np.asarray(predictions, dtype=np.float64) >= 0.5, np.asarray(labels, dtype=np.float64) >= 0.5
    return np.array([str(p) for p in predictions]), np.array([str(t) for t in labels])


def _present(x: Any) -> bool:
    return x is not None and not (isinstance(x, float) and x != x)


def _is_number(x: Any) -> bool:
    return isinstance(x, (int, float, np.integer, np.floating)) and not isinstance(x, bool)
