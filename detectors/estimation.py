"""Estimated model quality before labels arrive: what the estimators share.

An estimator (CBPE for classifiers, `detectors/cbpe.py`; DLE for regressors, `detectors/dle.py`) is
fitted once on the reference's rows, which carry the model's outputs and the labels, and then
estimates each window's quality from the window's rows alone. Every estimate has a band: the
sampling error of the metric at the window's size, measured on the reference as NannyML does (the
standard deviation of the realized metric over random reference chunks, scaled to the window's
rows), three of them either side (`BAND_SIGMAS`).

Columns are read through `Columns`, so the same estimator reads a daemon window (numbers and
category codes, `WindowColumns`) and a file (`FrameColumns`, a polars frame).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Protocol

import numpy as np
import polars as pl

from driftwarden.core.arrays import BoolArray, FloatArray, IntArray, ObjectArray
from driftwarden.core.records import number_label
from driftwarden.detectors.findings import QualityEstimatedFinding, Severity
from driftwarden.params import EstimateParams

__all__ = [
    "BAND_SIGMAS",
    "LOWER_IS_BETTER",
    "Columns",
    "Estimator",
    "FrameColumns",
    "MetricEstimate",
    "QualityEstimate",
    "SamplingError",
    "WindowColumns",
]

BAND_SIGMAS = 3.0  # the band is the estimate +- 3 sampling errors (NannyML's confidence band)
LOWER_IS_BETTER = frozenset({"mae", "rmse"})
SUBSETS = 60  # random reference chunks the sampling error is measured over
MAX_CHUNK = 5000  # rows per reference chunk (at most a quarter of the reference)


class Columns(Protocol):
    """Rows to estimate on, by column name."""

    @property
    def rows(self) -> int: ...

    def numbers(self, name: str) -> FloatArray | None:
        """A numeric column (NaN missing); None when there is no such numeric column."""

    def texts(self, name: str) -> ObjectArray | None:
        """A column as text (str, None missing): categories as they are, numbers as `number_label` names them."""


@dataclass(frozen=True)
class WindowColumns:
    """A window snapshot: `values` (rows, names), categorical columns holding codes into `categories[name]`."""

    names: Sequence[str]
    values: FloatArray
    categories: Mapping[str, Sequence[str]] = field(default_factory=dict)
    # a sliding window's rows in ring order: (the slot the next row goes to, rows ever appended, its
    # generation), so that what was computed per row can be kept across evaluations; None: not known
    ring: tuple[int, int, int] | None = None

    @property
    def rows(self) -> int:
        return int(self.values.shape[0])

    @cached_property
    def _position(self) -> dict[str, int]:
        return {name: j for j, name in reversed(list(enumerate(self.names)))}  # the first of a repeated name

    def numbers(self, name: str) -> FloatArray | None:
        j = self._position.get(name)
        if j is None or name in self.categories:
            return None
        return np.asarray(self.values[:, j], dtype=np.float64)

    def texts(self, name: str) -> ObjectArray | None:
        j = self._position.get(name)
        if j is None:
            return None
        column = self.values[:, j]
        out = np.full(column.shape[0], None, dtype=object)
        present = ~np.isnan(column)
        if name in self.categories:
            names = np.array([*self.categories[name], None], dtype=object)
            codes = column[present].astype(np.int64)
            out[present] = names[np.where((codes >= 0) & (codes < len(names) - 1), codes, len(names) - 1)]
        else:
            out[present] = [number_label(x) for x in column[present]]
        return out


@dataclass(frozen=True)
class FrameColumns:
    """A polars frame's columns."""

    frame: pl.DataFrame

    @property
    def rows(self) -> int:
        return self.frame.height

    def numbers(self, name: str) -> FloatArray | None:
        if name not in self.frame.columns:
            return None
        column = self.frame.get_column(name)
        if column.dtype == pl.Boolean:
            column = column.cast(pl.Float64)
        if not (column.dtype.is_numeric() or column.dtype == pl.Null):
            return None
        return column.cast(pl.Float64).fill_nan(None).to_numpy().astype(np.float64, copy=False)

    def texts(self, name: str) -> ObjectArray | None:
        if name not in self.frame.columns:
            return None
        column = self.frame.get_column(name)
        if column.dtype.is_numeric():
            values = column.cast(pl.Float64).to_numpy()
            out = np.full(values.shape[0], None, dtype=object)
            present = ~np.isnan(values)
            out[present] = [number_label(x) for x in values[present]]
            return out
        return np.asarray(column.cast(pl.String).to_list(), dtype=object)


@dataclass(frozen=True)
class MetricEstimate:
    value: float
    lower: float
    upper: float
    reference: float  # the realized metric on the reference
    sampling_error: float

    def to_dict(self) -> dict[str, float | None]:
        return {
            "value": _num(self.value),
            "lower": _num(self.lower),
            "upper": _num(self.upper),
            "reference": _num(self.reference),
            "sampling_error": _num(self.sampling_error),
        }


@dataclass(frozen=True)
class QualityEstimate:
    """One window's estimated quality: per metric its value, band and the reference's realized value."""

    method: str  # "cbpe" or "dle"
    kind: str  # "binary", "multiclass" or "regression"
    rows: int
    metrics: Mapping[str, MetricEstimate]
    alert_metric: str  # the metric the alert watches
    margin: float  # below the reference by this much (points; for mae/rmse: this share above it)

    @property
    def threshold(self) -> float:
        """The alert's line: the reference's value less the margin (or, lower being better, times 1 + margin)."""
        reference = self.metrics[self.alert_metric].reference
        if self.alert_metric in LOWER_IS_BETTER:
            return reference * (1.0 + self.margin)
        return reference - self.margin

    @property
    def degraded(self) -> bool:
        """The whole band is past the threshold: the estimate is worse than the reference by more than the
        margin even at the favourable end of its sampling error."""
        m = self.metrics.get(self.alert_metric)
        if m is None or not np.isfinite(m.reference):
            return False
        if self.alert_metric in LOWER_IS_BETTER:
            return bool(m.lower > self.threshold)
        return bool(m.upper < self.threshold)

    def finding(self, model: str, *, labels: Mapping[str, str] | None = None) -> QualityEstimatedFinding | None:
        """The `ModelQualityEstimatedDegraded` finding when `degraded`; None otherwise."""
        if not self.degraded:
            return None
        m = self.metrics[self.alert_metric]
        lower_better = self.alert_metric in LOWER_IS_BETTER
        return QualityEstimatedFinding(
            model=model,
            severity=Severity.WARNING,
            value=m.lower if lower_better else m.upper,
            threshold=self.threshold,
            metric=self.alert_metric,
            estimate=m.value,
            lower=m.lower,
            upper=m.upper,
            reference=m.reference,
            margin=self.margin,
            rows=self.rows,
            method=self.method,
            labels=dict(labels or {}),
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "kind": self.kind,
            "rows": self.rows,
            "alert": {
                "metric": self.alert_metric,
                "margin": self.margin,
                "threshold": _num(self.threshold) if self.alert_metric in self.metrics else None,
                "degraded": self.degraded,
            },
            "metrics": {name: m.to_dict() for name, m in self.metrics.items()},
        }


@dataclass(frozen=True)
class SamplingError:
    """The standard deviation of each metric over random reference chunks of `chunk` rows, and the rows
    they were drawn from; `at(n)` scales it to a window of n rows (1/sqrt(n), and the finite-population
    correction of chunks drawn without replacement from the reference)."""

    chunk: int
    reference_rows: int
    std: Mapping[str, float]

    @classmethod
    def measure(
        cls, metrics: Callable[[IntArray], Mapping[str, float]], reference_rows: int, *, seed: int = 0
    ) -> SamplingError:
        """`metrics(rows)`: the realized metrics of the reference rows at those positions."""
        chunk = max(2, min(MAX_CHUNK, reference_rows // 4))
        rng = np.random.default_rng(seed)
        draws = [metrics(np.sort(rng.choice(reference_rows, chunk, replace=False))) for _ in range(SUBSETS)]
        names = draws[0].keys() if draws else ()
        std = {name: float(np.nanstd([d[name] for d in draws], ddof=1)) for name in names}
        return cls(chunk, reference_rows, std)

    def at(self, rows: int) -> dict[str, float]:
        if rows <= 0:
            return {name: float("nan") for name in self.std}
        correction = np.sqrt(self.chunk / rows / max(1e-9, 1.0 - self.chunk / self.reference_rows))
        return {name: s * float(correction) for name, s in self.std.items()}


class Estimator(Protocol):
    """A fitted estimator of one model's quality."""

    @property
    def method(self) -> str:
        """ "cbpe" or "dle"."""

    @property
    def kind(self) -> str:
        """ "binary", "multiclass" or "regression"."""

    @property
    def params(self) -> EstimateParams: ...

    @property
    def reference_metrics(self) -> Mapping[str, float]:
        """The realized metrics on the reference rows it was fitted on."""

    @property
    def fit_quality(self) -> Mapping[str, Any]:
        """How well its own model fits the reference: the calibration's ECE and Brier (CBPE), the loss
        model's error (DLE)."""

    def estimate(self, columns: Columns) -> QualityEstimate | None:
        """The estimated quality of these rows; None without any usable row."""

    def reference_subset(self, mask: BoolArray) -> Mapping[str, float]:
        """The realized metrics of the reference rows where `mask` holds (a segment's reference)."""


def estimate_from(
    method: str,
    kind: str,
    rows: int,
    values: Mapping[str, float],
    reference: Mapping[str, float],
    sampling: SamplingError,
    *,
    alert_metric: str,
    margin: float,
) -> QualityEstimate:
    """A `QualityEstimate` of metric values, their reference values and the sampling error at `rows`."""
    errors = sampling.at(rows)
    metrics = {}
    for name, value in values.items():
        error = errors.get(name, float("nan"))
        spread = BAND_SIGMAS * error if np.isfinite(error) else 0.0
        low, high = (0.0, np.inf) if name in LOWER_IS_BETTER else (0.0, 1.0)
        metrics[name] = MetricEstimate(
            value=value,
            lower=float(np.clip(value - spread, low, high)) if np.isfinite(value) else float("nan"),
            upper=float(np.clip(value + spread, low, high)) if np.isfinite(value) else float("nan"),
            reference=float(reference.get(name, float("nan"))),
            sampling_error=error,
        )
    return QualityEstimate(method, kind, rows, metrics, alert_metric, margin)


def _num(x: float) -> float | None:
    return float(x) if np.isfinite(x) else None
