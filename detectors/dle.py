"""Direct loss estimation (DLE, as NannyML defines it) for regression models.

Fitted on the reference: two loss models (scikit-learn's `HistGradientBoostingRegressor`, 200 trees
of 31 leaves, fitted on nine tenths of the rows; the held-out tenth gives their R²) learn each row's
absolute and squared error from its inputs and the model's prediction. (Early stopping stopped at a
few dozen trees and doubled the error of estimates where the inputs moved beyond the reference:
benchmarks/estimation.py.) On a window without labels, the mean predicted absolute error is the estimated
MAE and the root of the mean predicted squared error the estimated RMSE. Categorical inputs are
passed as categories (the reference's most frequent 254 per column; others and unseen ones count as
missing). Like CBPE it holds under covariate shift: the inputs may move, the error given the inputs
must not.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.ensemble import HistGradientBoostingRegressor
from threadpoolctl import ThreadpoolController

from driftwarden.core.arrays import BoolArray, FloatArray, IntArray
from driftwarden.core.errors import InputError
from driftwarden.detectors.estimation import Columns, QualityEstimate, SamplingError, estimate_from
from driftwarden.params import EstimateParams

__all__ = ["DLE", "regression_metrics"]

MAX_CATEGORIES = 254  # HistGradientBoosting takes categories as codes below max_bins (255)
MIN_REFERENCE_ROWS = 100


def regression_metrics(error: FloatArray, squared: FloatArray | None = None) -> dict[str, float]:
    """MAE and RMSE from absolute errors (and squared ones; by default the absolute ones squared).

    >>> regression_metrics(np.array([1.0, 3.0]))
    {'mae': 2.0, 'rmse': 2.23606797749979}
    """
    if error.size == 0:
        return {}
    sq = error**2 if squared is None else squared
    return {"mae": float(error.mean()), "rmse": float(np.sqrt(max(0.0, float(sq.mean()))))}


@dataclass(frozen=True)
class Design:
    """How a table's columns become the loss models' inputs: numeric columns as they are, categorical
    ones as codes of the reference's categories, the prediction last."""

    numeric: tuple[str, ...]
    categorical: tuple[tuple[str, tuple[str, ...]], ...]  # (column, its categories in code order)
    prediction: str

    @property
    def categorical_mask(self) -> BoolArray:
        return np.array([False] * len(self.numeric) + [True] * len(self.categorical) + [False])

    def matrix(self, columns: Columns) -> FloatArray:
        """(rows, inputs) of `columns`: a column they lack is missing throughout."""
        rows = columns.rows
        out = np.full((rows, len(self.numeric) + len(self.categorical) + 1), np.nan)
        for j, name in enumerate(self.numeric):
            values = columns.numbers(name)
            if values is not None:
                out[:, j] = values
        for k, (name, categories) in enumerate(self.categorical):
            texts = columns.texts(name)
            if texts is not None:
                code = {c: float(i) for i, c in enumerate(categories)}
                out[:, len(self.numeric) + k] = np.fromiter(
                    (code.get(t, np.nan) if t is not None else np.nan for t in texts), dtype=np.float64, count=rows
                )
        prediction = columns.numbers(self.prediction)
        if prediction is not None:
            out[:, -1] = prediction
        return out


@dataclass(frozen=True)
class DLE:
    params: EstimateParams
    design: Design
    absolute: HistGradientBoostingRegressor
    squared: HistGradientBoostingRegressor
    reference_metrics: Mapping[str, float]
    sampling: SamplingError
    _error: FloatArray
    _kept: IntArray
    _r2: tuple[float, float]

    method = "dle"
    kind = "regression"

    @classmethod
    def fit(
        cls, columns: Columns, params: EstimateParams, *, numeric: Sequence[str], categorical: Sequence[str]
    ) -> DLE:
        """`numeric`, `categorical`: the model's input features (the prediction and the label are left out of them)."""
        truth, prediction = columns.numbers(params.label), columns.numbers(params.prediction)
        for name, values in ((params.label, truth), (params.prediction, prediction)):
            if values is None:
                raise InputError(
                    f"estimate: the reference has no numeric column {name!r}: a regression's estimate needs the "
                    "model's predictions and the labels (models.<model>.estimate names the columns)",
                    code="bad_estimate_reference",
                )
        assert truth is not None and prediction is not None
        skip = {params.label, params.prediction}
        design = Design(
            tuple(n for n in numeric if n not in skip),
            tuple((n, _categories(columns, n)) for n in categorical if n not in skip),
            params.prediction,
        )
        kept = np.flatnonzero(~np.isnan(truth) & ~np.isnan(prediction))
        if kept.size < MIN_REFERENCE_ROWS:
            raise InputError(
                f"estimate: {kept.size} reference rows have both a prediction and a label in {params.label!r}; "
                f"at least {MIN_REFERENCE_ROWS} are needed",
                code="bad_estimate_reference",
            )
        x = design.matrix(columns)[kept]
        error = np.abs(truth[kept] - prediction[kept])
        held_out = np.zeros(error.size, dtype=bool)
        held_out[np.random.default_rng(0).permutation(error.size)[: error.size // 10]] = True
        absolute, squared = _loss_model(design), _loss_model(design)
        with _one_thread():
            absolute.fit(x[~held_out], error[~held_out])
            squared.fit(x[~held_out], error[~held_out] ** 2)
            r2 = (
                _r2(absolute.predict(x[held_out]), error[held_out]),
                _r2(squared.predict(x[held_out]), error[held_out] ** 2),
            )

        def realized(rows: IntArray) -> dict[str, float]:
            return regression_metrics(error[rows])

        return cls(
            params,
            design,
            absolute,
            squared,
            regression_metrics(error),
            SamplingError.measure(realized, error.size),
            error,
            kept,
            r2,
        )

    @property
    def fit_quality(self) -> dict[str, Any]:
        return {
            "loss_model": "HistGradientBoostingRegressor",
            "r2_absolute_error": self._r2[0],  # on the held-out tenth of the reference
            "r2_squared_error": self._r2[1],
            "reference_rows": int(self._error.size),
        }

    def estimate(self, columns: Columns) -> QualityEstimate | None:
        prediction = columns.numbers(self.params.prediction)
        if prediction is None:
            return None
        x = self.design.matrix(columns)[~np.isnan(prediction)]
        if x.shape[0] == 0:
            return None
        with _one_thread():
            absolute = np.clip(self.absolute.predict(x), 0.0, None)
            squared = np.clip(self.squared.predict(x), 0.0, None)
        return estimate_from(
            self.method,
            self.kind,
            x.shape[0],
            regression_metrics(absolute, squared),
            self.reference_metrics,
            self.sampling,
            alert_metric=self.params.metric,
            margin=self.params.margin,
        )

    def reference_subset(self, mask: BoolArray) -> dict[str, float]:
        return regression_metrics(self._error[mask[self._kept]])


@functools.cache
def _threadpools() -> ThreadpoolController:
    return ThreadpoolController()  # inspects the loaded libraries: milliseconds, so once


def _one_thread() -> Any:
    """OpenMP on one thread: on a sidecar's shared cores a thread per core made fitting and predicting
    twenty to forty times slower (measured on a loaded 2-core machine), and the evaluation has its thread."""
    return _threadpools().limit(limits=1, user_api="openmp")


def _loss_model(design: Design) -> HistGradientBoostingRegressor:
    mask = design.categorical_mask
    return HistGradientBoostingRegressor(
        max_iter=200,
        learning_rate=0.1,
        max_leaf_nodes=31,
        early_stopping=False,
        categorical_features=mask if mask.any() else None,
        random_state=0,
    )


def _r2(predicted: FloatArray, actual: FloatArray) -> float:
    total = float(((actual - actual.mean()) ** 2).sum()) if actual.size else 0.0
    return 1.0 - float(((actual - predicted) ** 2).sum()) / total if total > 0 else float("nan")


def _categories(columns: Columns, name: str) -> tuple[str, ...]:
    texts = columns.texts(name)
    if texts is None:
        return ()
    values, counts = np.unique(np.array([t for t in texts if t is not None], dtype=str), return_counts=True)
    order = np.lexsort((values, -counts))  # most frequent first, ties by name
    return tuple(values[order][:MAX_CATEGORIES].tolist())
