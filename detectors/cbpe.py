"""Confidence-based performance estimation (CBPE, as NannyML defines it) for binary and multiclass classifiers.

Fitted on the reference: the model's scores calibrated against the labels (`detectors/calibration.py`;
multiclass: one-vs-rest per class, the calibrated probabilities normalised to sum to 1). On a window
without labels, each row's calibrated probability is the chance that its true class is each class,
so the expected confusion matrix is a sum of probabilities, and accuracy, precision, recall, F1 and
ROC AUC follow from it. The estimate holds as long as the calibration does (the inputs may move,
P(label | score) must not): covariate shift, not concept shift.

The same metric functions give the realized metrics when the "probabilities" are the labels
themselves (0/1, one-hot), which is how the reference's values and the sampling error are measured.
Binary precision and recall are the positive class's; F1 is macro-averaged over the classes, like
the realized `driftwarden_model_quality{metric="f1"}`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from driftwarden.core.arrays import BoolArray, FloatArray, IntArray, ObjectArray
from driftwarden.core.errors import InputError
from driftwarden.detectors.calibration import Calibration, CalibrationQuality, fit_calibration
from driftwarden.detectors.estimation import Columns, QualityEstimate, SamplingError, estimate_from
from driftwarden.params import EstimateParams

__all__ = ["MIN_REFERENCE_ROWS", "BinaryCBPE", "MulticlassCBPE", "binary_metrics", "expected_auc", "multiclass_metrics"]

MIN_REFERENCE_ROWS = 100  # labelled reference rows an estimator needs
_POSITIVE = frozenset({"1", "1.0", "true", "True", "TRUE", "yes", "positive"})


def expected_auc(positive: FloatArray, score: FloatArray) -> float:
    """ROC AUC with each row counted `positive` (its probability of being class 1; a 0/1 label gives the
    realized AUC) as a positive and 1 - `positive` as a negative: P(a positive outscores a negative),
    ties counted half. One sort.

    >>> expected_auc(np.array([0.0, 0.0, 1.0, 1.0]), np.array([0.1, 0.4, 0.35, 0.8]))
    0.75
    """
    if positive.size == 0:
        return float("nan")
    order = np.argsort(score, kind="stable")
    s, pos = score[order], positive[order]
    neg = 1.0 - pos
    starts = np.concatenate(([0], np.flatnonzero(np.diff(s)) + 1))
    pos_g, neg_g = np.add.reduceat(pos, starts), np.add.reduceat(neg, starts)
    below = np.cumsum(neg_g) - neg_g
    denominator = pos.sum() * neg.sum()
    return float((pos_g * (below + 0.5 * neg_g)).sum() / denominator) if denominator > 0 else float("nan")


def binary_metrics(positive: FloatArray, score: FloatArray, predicted: BoolArray) -> dict[str, float]:
    """Accuracy, precision, recall (class 1), macro F1 and ROC AUC from each row's probability of class 1
    (expected; realized when `positive` is the 0/1 label).

    >>> binary_metrics(np.array([1.0, 0.0, 1.0, 0.0]), np.array([0.9, 0.8, 0.3, 0.1]), np.array([1, 1, 0, 0], bool))
    {'accuracy': 0.5, 'precision': 0.5, 'recall': 0.5, 'f1': 0.5, 'roc_auc': 0.75}
    """
    n = positive.size
    if n == 0:
        return {}
    tp = float(positive[predicted].sum())
    fp = float(predicted.sum()) - tp
    fn = float(positive[~predicted].sum())
    tn = float((~predicted).sum()) - fn
    return {
        "accuracy": (tp + tn) / n,
        "precision": tp / (tp + fp) if tp + fp > 0 else float("nan"),
        "recall": tp / (tp + fn) if tp + fn > 0 else float("nan"),
        "f1": _macro_f1(np.array([tp, tn]), np.array([tp + fp, tn + fn]), np.array([tp + fn, tn + fp])),
        "roc_auc": expected_auc(positive, score),
    }


def multiclass_metrics(probabilities: FloatArray, scores: FloatArray, predicted: IntArray) -> dict[str, float]:
    """Accuracy and macro precision, recall, F1 and one-vs-rest ROC AUC from each row's probability of
    each class (rows x classes; expected, or one-hot labels for the realized metrics) and the predicted
    class's index (-1: a class the model was not fitted with, never right). Macro averages run over the
    classes predicted or present, as the realized metrics' do.

    >>> onehot = np.eye(3)[[0, 1, 2, 2]]
    >>> multiclass_metrics(onehot, onehot, np.array([0, 1, 2, 1]))["accuracy"]
    0.75
    """
    n, k = probabilities.shape
    if n == 0:
        return {}
    chosen = predicted[:, None] == np.arange(k)
    tp = (probabilities * chosen).sum(axis=0)
    predicted_count = chosen.sum(axis=0).astype(np.float64)
    actual = probabilities.sum(axis=0)
    seen = (predicted_count + actual) > 1e-12
    with np.errstate(invalid="ignore", divide="ignore"):
        precision = np.where(predicted_count > 0, tp / predicted_count, 0.0)
        recall = np.where(actual > 0, tp / actual, 0.0)
    aucs = [expected_auc(probabilities[:, j], scores[:, j]) for j in range(k)]
    return {
        "accuracy": float(tp.sum() / n),
        "precision": float(precision[seen].mean()) if seen.any() else float("nan"),
        "recall": float(recall[seen].mean()) if seen.any() else float("nan"),
        "f1": _macro_f1(tp, predicted_count, actual),
        "roc_auc": float(np.nanmean(aucs)) if not np.isnan(aucs).all() else float("nan"),
    }


def _macro_f1(tp: FloatArray, predicted: FloatArray, actual: FloatArray) -> float:
    seen = (predicted + actual) > 1e-12
    if not seen.any():
        return float("nan")
    return float((2 * tp[seen] / (predicted[seen] + actual[seen])).mean())


@dataclass(frozen=True)
class BinaryCBPE:
    """CBPE of a binary classifier whose score (class 1 at or above `params.threshold`) is one column."""

    params: EstimateParams
    calibration: Calibration
    quality: CalibrationQuality
    reference_metrics: Mapping[str, float]
    sampling: SamplingError
    _positive: FloatArray  # the reference's labels (0/1) and scores, kept for segments' reference values
    _score: FloatArray
    _kept: IntArray  # the reference sample's rows they came from

    method = "cbpe"
    kind = "binary"

    @classmethod
    def fit(cls, columns: Columns, params: EstimateParams) -> BinaryCBPE:
        score = _required_numbers(columns, params.score, "score")
        positive = binary_labels(columns, params.label)
        kept = np.flatnonzero(~np.isnan(score) & ~np.isnan(positive))
        score, positive = score[kept], positive[kept]
        _enough(positive.size, params.label)
        if positive.min() == positive.max():
            raise InputError(
                f"estimate: every labelled reference row is of class {int(positive[0])} in column "
                f"{params.label!r}: a classifier's quality cannot be estimated from one class",
                code="bad_estimate_reference",
            )
        calibration, quality = fit_calibration(score, positive)
        predicted = score >= params.threshold

        def realized(rows: IntArray) -> dict[str, float]:
            return binary_metrics(positive[rows], score[rows], predicted[rows])

        return cls(
            params,
            calibration,
            quality,
            binary_metrics(positive, score, predicted),
            SamplingError.measure(realized, positive.size),
            positive,
            score,
            kept,
        )

    @property
    def fit_quality(self) -> dict[str, Any]:
        return {"calibration": self.quality.to_dict(), "reference_rows": int(self._positive.size)}

    def estimate(self, columns: Columns) -> QualityEstimate | None:
        score = columns.numbers(self.params.score)
        if score is None:
            return None
        score = score[~np.isnan(score)]
        if score.size == 0:
            return None
        values = binary_metrics(self.calibration(score), score, score >= self.params.threshold)
        return self._estimate(values, score.size)

    def _estimate(self, values: Mapping[str, float], rows: int) -> QualityEstimate:
        return estimate_from(
            self.method,
            self.kind,
            rows,
            values,
            self.reference_metrics,
            self.sampling,
            alert_metric=self.params.metric,
            margin=self.params.margin,
        )

    def reference_subset(self, mask: BoolArray) -> dict[str, float]:
        rows = mask[self._kept]
        return binary_metrics(self._positive[rows], self._score[rows], self._score[rows] >= self.params.threshold)


@dataclass(frozen=True)
class MulticlassCBPE:
    """CBPE of a multiclass classifier: a score column per class, the predicted class in `params.prediction`
    (the class of the highest score where that column is absent)."""

    params: EstimateParams
    classes: tuple[str, ...]
    calibrations: tuple[Calibration, ...]
    qualities: tuple[CalibrationQuality, ...]
    reference_metrics: Mapping[str, float]
    sampling: SamplingError
    _onehot: FloatArray
    _scores: FloatArray
    _predicted: IntArray
    _kept: IntArray

    method = "cbpe"
    kind = "multiclass"

    @classmethod
    def fit(cls, columns: Columns, params: EstimateParams) -> MulticlassCBPE:
        classes = tuple(name for name, _ in params.class_scores)
        scores = np.column_stack([_required_numbers(columns, column, "score") for _, column in params.class_scores])
        labels = columns.texts(params.label)
        if labels is None:
            raise _no_column(params.label, "label")
        truth = _class_index(labels, classes)
        predicted = _predicted(columns, params.prediction, classes, scores)
        kept = np.flatnonzero(~np.isnan(scores).any(axis=1) & (truth >= 0))
        scores, truth, predicted = scores[kept], truth[kept], predicted[kept]
        _enough(truth.size, params.label)
        onehot = np.eye(len(classes))[truth]
        fitted = [fit_calibration(scores[:, j], onehot[:, j]) for j in range(len(classes))]

        def realized(rows: IntArray) -> dict[str, float]:
            return multiclass_metrics(onehot[rows], scores[rows], predicted[rows])

        return cls(
            params,
            classes,
            tuple(c for c, _ in fitted),
            tuple(q for _, q in fitted),
            multiclass_metrics(onehot, scores, predicted),
            SamplingError.measure(realized, truth.size),
            onehot,
            scores,
            predicted,
            kept,
        )

    @property
    def fit_quality(self) -> dict[str, Any]:
        per_class = {c: q.to_dict() for c, q in zip(self.classes, self.qualities, strict=True)}
        ece = [q.ece for q in self.qualities]
        brier = [q.brier for q in self.qualities]
        return {
            "calibration": {
                "method": "isotonic, one-vs-rest",
                "ece": float(np.mean(ece)),
                "brier": float(np.mean(brier)),
            },
            "per_class": per_class,
            "reference_rows": int(self._predicted.size),
        }

    def probabilities(self, scores: FloatArray) -> FloatArray:
        """Calibrated one-vs-rest probabilities, normalised to sum to 1 per row."""
        p = np.column_stack([c(scores[:, j]) for j, c in enumerate(self.calibrations)])
        total = p.sum(axis=1, keepdims=True)
        out: FloatArray = np.divide(p, total, out=np.full_like(p, 1.0 / p.shape[1]), where=total > 0)
        return out

    def estimate(self, columns: Columns) -> QualityEstimate | None:
        found = [columns.numbers(column) for _, column in self.params.class_scores]
        if any(c is None for c in found):
            return None
        scores = np.column_stack([c for c in found if c is not None])
        predicted = _predicted(columns, self.params.prediction, self.classes, scores)
        keep = ~np.isnan(scores).any(axis=1)
        scores, predicted = scores[keep], predicted[keep]
        if scores.shape[0] == 0:
            return None
        values = multiclass_metrics(self.probabilities(scores), scores, predicted)
        return estimate_from(
            self.method,
            self.kind,
            scores.shape[0],
            values,
            self.reference_metrics,
            self.sampling,
            alert_metric=self.params.metric,
            margin=self.params.margin,
        )

    def reference_subset(self, mask: BoolArray) -> dict[str, float]:
        rows = mask[self._kept]
        return multiclass_metrics(self._onehot[rows], self._scores[rows], self._predicted[rows])


def binary_labels(columns: Columns, name: str) -> FloatArray:
    """0/1 labels (NaN missing): numbers (>= 0.5 is class 1), booleans, or text ("1", "true", "yes")."""
    numbers = columns.numbers(name)
    if numbers is not None:
        return np.where(np.isnan(numbers), np.nan, (numbers >= 0.5).astype(np.float64))
    texts = columns.texts(name)
    if texts is None:
        raise _no_column(name, "label")
    return np.array([np.nan if t is None else float(t in _POSITIVE) for t in texts], dtype=np.float64)


def _predicted(columns: Columns, name: str, classes: tuple[str, ...], scores: FloatArray) -> IntArray:
    texts = columns.texts(name)
    if texts is None:  # no predicted class column: the class of the highest score
        best: IntArray = np.argmax(np.nan_to_num(scores, nan=-np.inf), axis=1).astype(np.int64)
        return best
    return _class_index(texts, classes)


def _class_index(texts: ObjectArray, classes: tuple[str, ...]) -> IntArray:
    index = {c: j for j, c in enumerate(classes)}
    return np.fromiter((index.get(t, -1) if t is not None else -1 for t in texts), dtype=np.int64, count=len(texts))


def _required_numbers(columns: Columns, name: str, what: str) -> FloatArray:
    numbers = columns.numbers(name)
    if numbers is None:
        raise _no_column(name, f"numeric {what}")
    return numbers


def _no_column(name: str, what: str) -> InputError:
    return InputError(
        f"estimate: the reference has no {what} column {name!r}: it needs the model's outputs and the labels "
        "(models.<model>.estimate names the columns)",
        code="bad_estimate_reference",
    )


def _enough(rows: int, label: str) -> None:
    if rows < MIN_REFERENCE_ROWS:
        raise InputError(
            f"estimate: {rows} reference rows have both the model's output and a label in {label!r}; "
            f"at least {MIN_REFERENCE_ROWS} are needed",
            code="bad_estimate_reference",
        )
