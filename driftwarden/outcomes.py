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

from detectors.outcomes import classification_metrics, regression_metrics

__all__ = ["LabelJoin", "OutcomeCounts"]


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
        self.totals = OutcomeCounts()
        self.touched = False  # changed since the last checkpoint

    @property
    def pending(self) -> int:
        return len(self._pending)

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
        self._outcomes.extend(pairs)
        self.touched |= bool(pairs)

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
            self._outcomes.append((waiting[0], label))
        self.totals.matched += counts.matched
        self.totals.unmatched += counts.unmatched
        self.touched = True
        return counts

    def metrics(self) -> dict[str, float]:
        """Realized quality over the last `window` outcomes; {} before the first."""
        if not self._outcomes:
            return {}
        predictions, labels = zip(*self._outcomes, strict=True)
        if all(_is_number(p) for p in predictions) and all(_is_number(t) for t in labels):
            numeric_labels = np.asarray(labels, dtype=np.float64)
            if set(np.unique(numeric_labels)) <= {0.0, 1.0}:  # a binary class: scores thresholded at 0.5
                return classification_metrics(np.asarray(predictions, dtype=np.float64) >= 0.5, numeric_labels >= 0.5)
            return regression_metrics(np.asarray(predictions, dtype=np.float64), numeric_labels)
        return classification_metrics(np.array([str(p) for p in predictions]), np.array([str(t) for t in labels]))

    def to_dict(self) -> dict[str, Any]:
        return {
            "pending": [[k, v[0], v[1]] for k, v in self._pending.items()],
            "outcomes": [list(pair) for pair in self._outcomes],
            "matched": self.totals.matched,
            "unmatched": self.totals.unmatched,
        }

    def restore(self, saved: dict[str, Any]) -> None:
        self._pending = OrderedDict((k, (p, at)) for k, p, at in saved.get("pending", []))
        self._outcomes.extend(tuple(pair) for pair in saved.get("outcomes", []))
        self.totals = OutcomeCounts(saved.get("matched", 0), saved.get("unmatched", 0))

    def _expire(self, now: float) -> None:
        while self._pending:
            _, (_, at) = next(iter(self._pending.items()))
            if now - at <= self.ttl:
                break
            self._pending.popitem(last=False)


def _present(x: Any) -> bool:
    return x is not None and not (isinstance(x, float) and x != x)


def _is_number(x: Any) -> bool:
    return isinstance(x, (int, float, np.integer, np.floating)) and not isinstance(x, bool)
