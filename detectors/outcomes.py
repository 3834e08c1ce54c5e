"""Realized model quality from (prediction, label) pairs: pure, vectorized functions.

Classification (labels are classes): accuracy and macro F1. Regression (labels are
numbers and so are predictions): MAE and RMSE. A score prediction (a number) against a
class label is compared after thresholding at 0.5, the common case of a binary scorer.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from driftwarden.detectors import stats

__all__ = ["QualityChange", "classification_metrics", "quality_change", "regression_metrics"]


def classification_metrics(predictions: npt.ArrayLike, labels: npt.ArrayLike) -> dict[str, float]:
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


def regression_metrics(predictions: npt.ArrayLike, labels: npt.ArrayLike) -> dict[str, float]:
    """Mean absolute and root-mean-square error.

    >>> regression_metrics(np.array([1.0, 2.0, 4.0]), np.array([1.0, 3.0, 2.0]))
    {'mae': 1.0, 'rmse': 1.2909944487358056}
    """
    error = np.asarray(predictions, dtype=np.float64) - np.asarray(labels, dtype=np.float64)
    if error.size == 0:
        return {}
    return {"mae": float(np.abs(error).mean()), "rmse": float(np.sqrt((error**2).mean()))}


@dataclass(frozen=True)
class QualityChange:
    metric: str  # "accuracy" (classification) or "mae" (regression)
    baseline: float
    current: float
    pvalue: float
    degraded: bool


def quality_change(
    baseline: tuple[npt.ArrayLike, npt.ArrayLike],
    current: tuple[npt.ArrayLike, npt.ArrayLike],
    *,
    classification: bool,
    min_drop: float = 0.05,
    min_ratio: float = 1.2,
    alpha: float = 0.05,
) -> QualityChange:
    """Has realized quality degraded from the baseline window to the current one? Effect AND significance,
    as for drift: accuracy down by `min_drop` with a two-proportion z-test on the error rates, or mean
    absolute error up by `min_ratio` with KS on the absolute errors.

    >>> rng = np.random.default_rng(0)
    >>> y = rng.integers(0, 2, 2000)
    >>> good, bad = y.copy(), y.copy()
    >>> bad[:400] = 1 - bad[:400]
    >>> quality_change((good, y), (bad, y), classification=True).degraded
    True
    """
    (p0, t0), (p1, t1) = baseline, current
    if classification:
        wrong0 = np.asarray(p0).astype(str) != np.asarray(t0).astype(str)
        wrong1 = np.asarray(p1).astype(str) != np.asarray(t1).astype(str)
        _, error_rate_p = stats.proportions_ztest(wrong0.sum(), wrong0.size, wrong1.sum(), wrong1.size)
        acc0, acc1 = 1.0 - wrong0.mean(), 1.0 - wrong1.mean()
        degraded = acc0 - acc1 >= min_drop and error_rate_p < alpha
        return QualityChange("accuracy", float(acc0), float(acc1), float(error_rate_p), bool(degraded))
    err0 = np.abs(np.asarray(p0, dtype=np.float64) - np.asarray(t0, dtype=np.float64))
    err1 = np.abs(np.asarray(p1, dtype=np.float64) - np.asarray(t1, dtype=np.float64))
    ks = stats.ks_2samp(stats.sort_columns(err0[:, None]), stats.sort_columns(err1[:, None]))
    mae0, mae1 = float(err0.mean()), float(err1.mean())
    pvalue = float(ks.pvalue[0])
    degraded = mae1 >= min_ratio * mae0 and mae1 > mae0 and pvalue < alpha
    return QualityChange("mae", mae0, mae1, pvalue, bool(degraded))
