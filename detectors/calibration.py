"""Calibrating a classifier's scores on its reference: score -> probability that the class is right.

Isotonic regression (scikit-learn's `IsotonicRegression`) is fitted once, on the reference's scores
and labels; applying it is `np.interp` through its knots, so a window of thousands of rows costs
microseconds. A model whose scores are already calibrated keeps them: the calibration is kept only
when it lowers the Brier score out of sample (two-fold cross-fitting). NannyML's CBPE decides on the
expected calibration error instead; ECE over 10 bins is noisy and no proper score, so an isotonic fit
that overfits the reference can win it by chance (on scores that are exact probabilities it did, and its
estimates were then worse than the raw scores'). Its quality is reported either way: ECE and Brier score,
raw and calibrated.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from sklearn.isotonic import IsotonicRegression

from driftwarden.core.arrays import FloatArray

__all__ = ["Calibration", "CalibrationQuality", "brier", "ece", "fit_calibration"]

ECE_BINS = 10


@dataclass(frozen=True)
class Calibration:
    """A monotone map from scores to probabilities: linear between the knots (`x`, `y`), constant beyond
    them; the identity (clipped to [0, 1]) when there are none.

    >>> Calibration(np.array([0.0, 1.0]), np.array([0.2, 0.6]))(np.array([-1.0, 0.5, 2.0])).tolist()
    [0.2, 0.4, 0.6]
    """

    x: FloatArray
    y: FloatArray

    @classmethod
    def identity(cls) -> Calibration:
        return cls(np.empty(0), np.empty(0))

    @property
    def is_identity(self) -> bool:
        return self.x.size == 0

    def __call__(self, scores: npt.ArrayLike) -> FloatArray:
        s = np.asarray(scores, dtype=np.float64)
        if self.is_identity:
            return np.clip(s, 0.0, 1.0)
        return np.interp(s, self.x, self.y)


@dataclass(frozen=True)
class CalibrationQuality:
    """How well the probabilities match the outcomes on the reference (out of sample for the calibrated ones)."""

    ece_raw: float  # expected calibration error of the scores as they are (NaN when they are not in [0, 1])
    ece: float  # ... of the probabilities used: the calibrated ones (cross-fitted) or the raw scores
    brier_raw: float
    brier: float
    calibrated: bool  # False: the scores were already as good as the calibration, and are used as they are

    def to_dict(self) -> dict[str, float | bool | str | None]:
        return {
            "method": "isotonic" if self.calibrated else "none (scores already calibrated)",
            "ece": _num(self.ece),
            "ece_raw": _num(self.ece_raw),
            "brier": _num(self.brier),
            "brier_raw": _num(self.brier_raw),
            "calibrated": self.calibrated,
        }


def fit_isotonic(scores: FloatArray, outcomes: FloatArray) -> Calibration:
    """Isotonic regression of the outcomes (0/1) on the scores, as its knots."""
    iso = IsotonicRegression(y_min=0.0, y_max=1.0, increasing=True, out_of_bounds="clip")
    iso.fit(scores, outcomes)
    return Calibration(np.asarray(iso.X_thresholds_, dtype=np.float64), np.asarray(iso.y_thresholds_, dtype=np.float64))


def fit_calibration(
    scores: npt.ArrayLike, outcomes: npt.ArrayLike, *, seed: int = 0
) -> tuple[Calibration, CalibrationQuality]:
    """The calibration to use for these scores, and its quality.

    Two-fold cross-fitting gives every reference row a calibrated probability from a calibration that
    did not see it; when that is no better (Brier score, a proper scoring rule) than the raw scores
    (already probabilities), the raw scores are kept.

    >>> rng = np.random.default_rng(0)
    >>> s = rng.random(20_000)
    >>> y = (rng.random(20_000) < s**2).astype(float)   # the score overstates the probability
    >>> calibration, quality = fit_calibration(s, y)
    >>> quality.calibrated, quality.ece < 0.02 < quality.ece_raw
    (True, True)
    """
    s = np.asarray(scores, dtype=np.float64)
    y = np.asarray(outcomes, dtype=np.float64)
    order = np.random.default_rng(seed).permutation(s.size)
    half = order[: s.size // 2], order[s.size // 2 :]
    crossed = np.empty_like(s)
    for fit_on, apply_to in (half, half[::-1]):
        crossed[apply_to] = fit_isotonic(s[fit_on], y[fit_on])(s[apply_to])
    probabilities = (s >= 0).all() and (s <= 1).all()
    ece_raw = ece(s, y) if probabilities else float("nan")
    brier_raw = brier(s, y) if probabilities else float("nan")
    ece_crossed, brier_crossed = ece(crossed, y), brier(crossed, y)
    if probabilities and brier_raw <= brier_crossed:
        return Calibration.identity(), CalibrationQuality(ece_raw, ece_raw, brier_raw, brier_raw, False)
    return fit_isotonic(s, y), CalibrationQuality(ece_raw, ece_crossed, brier_raw, brier_crossed, True)


def ece(probabilities: npt.ArrayLike, outcomes: npt.ArrayLike, bins: int = ECE_BINS) -> float:
    """Expected calibration error: the row-weighted mean |mean outcome - mean probability| over equal-width bins.

    >>> ece(np.array([0.1, 0.1, 0.9, 0.9]), np.array([0.0, 0.0, 1.0, 1.0]))
    0.1
    """
    p = np.asarray(probabilities, dtype=np.float64)
    y = np.asarray(outcomes, dtype=np.float64)
    if p.size == 0:
        return float("nan")
    which = np.minimum((p * bins).astype(np.int64), bins - 1)
    gap = np.bincount(which, weights=y - p, minlength=bins)
    return float(round(np.abs(gap).sum() / p.size, 12))


def brier(probabilities: npt.ArrayLike, outcomes: npt.ArrayLike) -> float:
    """Mean squared difference between the probability and the 0/1 outcome."""
    p = np.asarray(probabilities, dtype=np.float64)
    return float(np.mean((p - np.asarray(outcomes, dtype=np.float64)) ** 2)) if p.size else float("nan")


def _num(x: float) -> float | None:
    return float(x) if np.isfinite(x) else None
