"""Realized model quality from (prediction, label) pairs: pure, vectorized functions.

Classification (labels are classes): accuracy and macro F1. Regression (labels are
numbers and so are predictions): MAE and RMSE. A score prediction (a number) against a
class label is compared after thresholding at 0.5, the common case of a binary scorer.
"""

from __future__ import annotations

import numpy as np

__all__ = ["classification_metrics", "regression_metrics"]


def classification_metrics(predictions: np.ndarray, labels: np.ndarray) -> dict[str, float]:
    """Accuracy and macro-averaged F1 over the classes seen in either array (as sklearn's).

    >>> classification_metrics(np.array(["a", "b", "a", "a"]), np.array(["a", "b", "b", "a"]))
    {'accuracy': 0.75, 'f1': 0.7333333333333334}
    """
    predictions = np.asarray(predictions).astype(str)
    labels = np.asarray(labels).astype(str)
    if predictions.size == 0:
        return {}
    classes, codes = np.unique(np.concatenate([predictions, labels]), return_inverse=True)
    p, t = codes[: predictions.size], codes[predictions.size :]
    k = len(classes)
    confusion = np.bincount(t * k + p, minlength=k * k).reshape(k, k)
    true_positive = np.diag(confusion).astype(np.float64)
    predicted, actual = confusion.sum(axis=0), confusion.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        f1 = np.where(predicted + actual > 0, 2 * true_positive / (predicted + actual), 0.0)
    return {"accuracy": float(true_positive.sum() / predictions.size), "f1": float(f1.mean())}


def regression_metrics(predictions: np.ndarray, labels: np.ndarray) -> dict[str, float]:
    """Mean absolute and root-mean-square error.

    >>> regression_metrics(np.array([1.0, 2.0, 4.0]), np.array([1.0, 3.0, 2.0]))
    {'mae': 1.0, 'rmse': 1.2909944487358056}
    """
    error = np.asarray(predictions, dtype=np.float64) - np.asarray(labels, dtype=np.float64)
    if error.size == 0:
        return {}
    return {"mae": float(np.abs(error).mean()), "rmse": float(np.sqrt((error**2).mean()))}
