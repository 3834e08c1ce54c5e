"""Direct loss estimation (DLE, as NannyML defines it) for regression models.

Fitted on the reference: two loss models learn each row's absolute and squared error from its inputs
and the model's prediction (NannyML's DLE fits one LightGBM model per metric the same way). On a window
without labels, the mean predicted absolute error is the estimated MAE and the root of the mean predicted
squared error the estimated RMSE.

Each loss model is a trend plus trees. Trees predict a constant beyond their last split, so where the
inputs move past the reference's range (where an estimate matters most) a loss that grows with the distance
from the reference's centre is extrapolated flat and underestimated. The trend is a ridge regression on each
numeric input's (and the prediction's) offset z from the reference's median in robust standard deviations:
z and |z| (a loss rising on one side or on both), z² too for the squared error (the square of a linearly
growing error), z capped at twice the reference's largest |z|. scikit-learn's
`HistGradientBoostingRegressor` (100 trees of 31 leaves, LightGBM's defaults, as NannyML uses them) then
learns what the trend leaves, inside the reference's range. Over several reference draws of
benchmarks/estimation.py's regression stream this lowered the mean estimation error in every scenario, most
where the inputs moved 2 σ; a loss that stops growing beyond the reference is overestimated there instead
(where the inputs' drift verdict fires too). Both models are fitted on nine tenths of the rows first (the
held-out tenth gives their R²), then on all of them. Categorical inputs are passed to the trees as categories (the
reference's most frequent 254 per column; others and unseen ones count as missing). Like CBPE it holds
under covariate shift: the inputs may move, the error given the inputs must not.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.ensemble import HistGradientBoostingRegressor
from sklearn.linear_model import Ridge
from threadpoolctl import ThreadpoolController

from driftwarden.core.arrays import BoolArray, FloatArray, IntArray
from driftwarden.core.errors import InputError
from driftwarden.detectors.estimation import Columns, QualityEstimate, SamplingError, estimate_from
from driftwarden.params import EstimateParams

__all__ = ["DLE", "regression_metrics"]

MAX_CATEGORIES = 254  # HistGradientBoosting takes categories as codes below max_bins (255)
MIN_REFERENCE_ROWS = 100
TREND_REACH = 2.0  # the trend's |z| stops at this multiple of the reference's largest


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
    centre: FloatArray | None = None  # per trend column (the numeric ones, then the prediction): the median
    scale: FloatArray | None = None  # robust standard deviation (IQR / 1.349; 1 when it is 0)
    reach: FloatArray | None = None  # the largest |z| the trend follows

    @property
    def trend_columns(self) -> IntArray:
        """Columns of `matrix` the trend reads: the numeric inputs and the prediction."""
        return np.append(np.arange(len(self.numeric), dtype=np.int64), len(self.numeric) + len(self.categorical))

    def with_trend(self, x: FloatArray) -> Design:
        """This design with the trend's centre, scale and reach measured on the reference's `matrix` rows `x`."""
        t = x[:, self.trend_columns]
        with np.errstate(all="ignore"):  # an all-missing column: NaN centre, read as 0 below
            centre = np.nanmedian(t, axis=0) if t.shape[0] else np.zeros(t.shape[1])
            q75, q25 = np.nanpercentile(t, [75, 25], axis=0) if t.shape[0] else (centre, centre)
        centre = np.nan_to_num(centre)
        scale = np.nan_to_num((q75 - q25) / 1.349)
        scale[scale <= 0] = 1.0
        z = np.nan_to_num((t - centre) / scale)
        reach = TREND_REACH * np.maximum(np.abs(z).max(axis=0) if z.shape[0] else 0.0, 1.0)
        return Design(self.numeric, self.categorical, self.prediction, centre, scale, reach)

    def trend(self, x: FloatArray, *, squared: bool) -> FloatArray:
        """The trend's inputs for `matrix` rows `x`: z and |z| per trend column (z² too when `squared`), missing 0."""
        assert self.centre is not None and self.scale is not None and self.reach is not None
        z = np.clip(np.nan_to_num((x[:, self.trend_columns] - self.centre) / self.scale), -self.reach, self.reach)
        return np.hstack([z, np.abs(z), z * z] if squared else [z, np.abs(z)])

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
    absolute: LossModel
    squared: LossModel
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
        design = design.with_trend(x)
        error = np.abs(truth[kept] - prediction[kept])
        held_out = np.zeros(error.size, dtype=bool)
        held_out[np.random.default_rng(0).permutation(error.size)[: error.size // 10]] = True
        with _one_thread():
            r2 = (
                _r2(
                    LossModel.fit(design, x[~held_out], error[~held_out], squared=False).predict(x[held_out]),
                    error[held_out],
                ),
                _r2(
                    LossModel.fit(design, x[~held_out], error[~held_out] ** 2, squared=True).predict(x[held_out]),
                    error[held_out] ** 2,
                ),
            )
            absolute = LossModel.fit(design, x, error, squared=False)
            squared = LossModel.fit(design, x, error**2, squared=True)

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
            "loss_model": "ridge trend + HistGradientBoostingRegressor",
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
            absolute = self.absolute.predict(x)
            squared = self.squared.predict(x)
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


@dataclass(frozen=True)
class LossModel:
    """A row's loss from its inputs: a ridge trend on the distances from the reference's centre, and trees
    on what the trend leaves (the trend carries the loss past the reference's range, where trees are flat)."""

    design: Design
    squared: bool
    trend: Ridge
    trees: HistGradientBoostingRegressor

    @classmethod
    def fit(cls, design: Design, x: FloatArray, loss: FloatArray, *, squared: bool) -> LossModel:
        features = design.trend(x, squared=squared)
        trend = Ridge(alpha=1.0).fit(features, loss)
        trees = _trees(design).fit(x, loss - trend.predict(features))
        return cls(design, squared, trend, trees)

    def predict(self, x: FloatArray) -> FloatArray:
        """The expected loss of each row of `x` (`Design.matrix` rows), at least 0."""
        out = self.trend.predict(self.design.trend(x, squared=self.squared)) + self.trees.predict(x)
        return np.asarray(np.clip(out, 0.0, None), dtype=np.float64)


def _trees(design: Design) -> HistGradientBoostingRegressor:
    mask = design.categorical_mask
    return HistGradientBoostingRegressor(
        max_iter=100,
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
