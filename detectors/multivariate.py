"""Multivariate drift over a model's input features: what no one-feature-at-a-time test can see.

Two features whose relation flips (a correlation of +0.9 becoming -0.9) move no histogram. Two methods
look at the rows whole (`drift.multivariate`), both fitted once per reference on the rows the reference
keeps whole (`ReferenceProfile.sample`) and both vectorized over rows and features:

- `pca`: the reference's columns standardized, the principal components that explain `variance` of
  their variance (0.65 by default, as NannyML) kept; a row's error is the Euclidean distance between
  it and its reconstruction from those components, the window's score the mean error of its rows.
  The components are fitted on half the reference's rows; the null distribution is measured on the other
  half: the mean error of `RESAMPLES` windows of the current window's size drawn from those rows (with
  replacement, as a window is drawn
  from the population), cached per size; the threshold is their mean + z(1 - alpha) of their standard
  deviations, the p-value the normal tail there. The features named are those whose mean squared
  residual grew the most (in standard errors).
- `classifier`: a domain classifier (scikit-learn's `HistGradientBoostingClassifier`) told reference
  rows (as many as the window has, drawn from the reference) from the window's, `FOLDS`-fold
  cross-validated; the score is the mean held-out AUROC. Under no drift the held-out rows' labels are
  exchangeable with their scores, so each fold's AUROC follows the Mann-Whitney null (mean 1/2,
  variance (n1 + n2 + 1) / 12 n1 n2): the threshold is 1/2 + z(1 - alpha) of that, the p-value its
  tail. The features named are those with the largest total split gain over the folds' trees.

Columns: numeric ones as they are, categorical ones encoded by their reference frequencies (an
unseen category is 0); a missing value is imputed with the reference's mean of its encoded column.
Reading goes through `estimation.Columns`, so a daemon window and a file are encoded the same way.

A method past its `deadline` (`time.perf_counter()`) stops (`BudgetExceeded`) between steps; scikit-learn
is imported only when a classifier runs.
"""

from __future__ import annotations

import contextlib
import functools
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import polars as pl
from scipy.special import ndtri  # not scipy.stats: `check` and the daemon's start import no scipy.stats

from driftwarden.core.arrays import FloatArray, IntArray
from driftwarden.core.records import PREDICTION
from driftwarden.detectors.estimation import Columns, FrameColumns, WindowColumns
from driftwarden.detectors.findings import ModelMultivariateDriftFinding, Severity
from driftwarden.detectors.reference import ReferenceProfile
from driftwarden.params import MultivariateParams

__all__ = [
    "METHODS",
    "BudgetExceeded",
    "Encoder",
    "MultivariateDetector",
    "MultivariateResult",
    "PcaModel",
    "classifier_test",
]

METHODS = ("pca", "classifier")
RESAMPLES = 400  # reference windows the PCA's null distribution is measured over, per window size
FOLDS = 2  # each row held out once either way (the same null sd); 2 fits of half the rows cost 0.55x of 3 of two thirds
FEW_ROWS = 1000  # fewer rows: their product is left to BLAS as it is (no thread limit set)
MIN_ROWS = 50  # fewer current rows: no multivariate verdict
TOP_FEATURES = 5
CLASSIFIER_MAX_ROWS = 20_000  # rows per side the domain classifier is fitted on at most (a window's sample)


class BudgetExceeded(RuntimeError):
    """A method ran past its deadline (`drift.multivariate_budget`)."""


@dataclass(frozen=True)
class MultivariateResult:
    """One method's verdict on one window; `skipped` says why there is none (score NaN, not drifted)."""

    method: str
    score: float
    threshold: float
    pvalue: float
    drifted: bool
    top_features: tuple[str, ...] = ()
    rows: int = 0
    duration_seconds: float = 0.0
    skipped: str | None = None  # "budget", "running", "no_reference_rows", "too_few_rows", "too_few_features", "failed"

    @classmethod
    def skip(cls, method: str, reason: str, rows: int = 0, duration: float = 0.0) -> MultivariateResult:
        return cls(method, math.nan, math.nan, math.nan, False, rows=rows, duration_seconds=duration, skipped=reason)

    def to_dict(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "score": _num(self.score),
            "threshold": _num(self.threshold),
            "pvalue": _num(self.pvalue),
            "drifted": self.drifted,
            "top_features": list(self.top_features),
            "rows": self.rows,
            "skipped": self.skipped,
        }

    def finding(self, model: str, *, model_version: str | None = None, at: float | None = None) -> Any:
        """The `ModelMultivariateDrift` finding when drifted; None otherwise."""
        if not self.drifted:
            return None
        return ModelMultivariateDriftFinding(
            model=model,
            method=self.method,
            severity=Severity.WARNING,
            value=self.score,
            threshold=self.threshold,
            pvalue=self.pvalue,
            top_features=self.top_features,
            rows=self.rows,
            model_version=model_version,
            at=time.time() if at is None else at,
        )


# --- encoding ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Encoder:
    """Columns -> a (rows, features) float matrix: numbers as they are, categories as reference frequencies,
    missing values as the reference's mean of the encoded column."""

    numeric: tuple[str, ...]
    frequencies: dict[str, dict[str, float]]  # categorical column -> category -> reference share
    fill: FloatArray = field(default_factory=lambda: np.empty(0))

    @property
    def names(self) -> tuple[str, ...]:
        return (*self.numeric, *self.frequencies)

    @classmethod
    def fit(cls, reference: ReferenceProfile, columns: Columns) -> Encoder:
        """The reference's input features (its model output left out) that `columns` holds."""
        numeric = tuple(n for n in reference.features if n != PREDICTION and columns.numbers(n) is not None)
        frequencies: dict[str, dict[str, float]] = {}
        for name, counts in reference.categories.items():
            total = sum(counts.values())
            if name != PREDICTION and total and columns.texts(name) is not None:
                frequencies[name] = {k: v / total for k, v in counts.items()}
        raw = cls(numeric, frequencies, np.zeros(len(numeric) + len(frequencies))).encode(columns, impute=False)
        fill = np.nan_to_num(np.nanmean(raw, axis=0) if raw.shape[0] else np.zeros(raw.shape[1]))
        return cls(numeric, frequencies, fill)

    def encode(self, columns: Columns, *, impute: bool = True) -> FloatArray:
        rows = columns.rows
        out = np.empty((rows, len(self.names)), dtype=np.float64)
        for j, name in enumerate(self.numeric):
            column = columns.numbers(name)
            out[:, j] = np.nan if column is None else column
        for j, (name, freq) in enumerate(self.frequencies.items(), start=len(self.numeric)):
            if isinstance(columns, WindowColumns) and name in columns.categories and name in columns.names:
                out[:, j] = _by_code(columns, name, freq)  # a daemon window: codes into its vocabulary
                continue
            texts = columns.texts(name)
            if texts is None:
                out[:, j] = np.nan
                continue
            series = pl.Series(name, texts, dtype=pl.String)
            mapped = series.replace_strict(list(freq), list(freq.values()), default=0.0, return_dtype=pl.Float64)
            out[:, j] = mapped.to_numpy()
            out[series.is_null().to_numpy(), j] = np.nan
        if impute:
            missing = np.isnan(out)
            if missing.any():
                out[missing] = np.broadcast_to(self.fill, out.shape)[missing]
        return out


def _by_code(columns: WindowColumns, name: str, freq: dict[str, float]) -> FloatArray:
    """Reference shares of a window's category codes by one lookup table (NaN stays NaN: missing)."""
    codes = columns.values[:, list(columns.names).index(name)]
    table = np.array([*(freq.get(c, 0.0) for c in columns.categories[name]), 0.0, np.nan])
    index = np.where(np.isnan(codes), table.size - 1, np.clip(np.nan_to_num(codes), 0, table.size - 2))
    return table[index.astype(np.int64)]


# --- PCA reconstruction error --------------------------------------------------------------------


@dataclass
class PcaModel:
    """Standardize on the reference, keep the components explaining `variance`; rows' reconstruction errors."""

    mean: FloatArray
    scale: FloatArray
    components: FloatArray  # (features, kept), orthonormal columns
    reference_errors: FloatArray  # per held-out reference row
    reference_residuals: FloatArray  # (features,) mean squared residual per feature over the reference
    residual_sd: FloatArray  # (features,) their standard deviation over the reference rows
    alpha: float
    _null: dict[int, tuple[float, float]] = field(default_factory=dict)  # window rows -> (mean, sd)

    @classmethod
    def fit(cls, values: FloatArray, *, variance: float = 0.65, alpha: float = 0.001) -> PcaModel:
        """Fitted on half the reference's rows, its null measured on the other half: errors of rows the
        components were fitted on are smaller than those of new rows (the components chase that sample's
        noise, the more so the closer their variances), which made 9 % false alarms at alpha 1 %."""
        order = np.random.default_rng(0).permutation(values.shape[0])
        half = values.shape[0] // 2
        fit_rows, held = values[order[:half]], values[order[half:]]
        mean = fit_rows.mean(axis=0)
        scale = fit_rows.std(axis=0)
        scale = np.where(scale > 1e-12, scale, 1.0)
        z = (fit_rows - mean) / scale
        _, s, vt = np.linalg.svd(z, full_matrices=False)
        explained = s**2 / max(float((s**2).sum()), 1e-300)
        kept = int(np.searchsorted(np.cumsum(explained), variance) + 1)
        kept = min(max(kept, 1), vt.shape[0] - 1)  # one component at least left out: else no error to measure
        model = cls(mean, scale, np.ascontiguousarray(vt[:kept].T), np.empty(0), np.empty(0), np.empty(0), alpha)
        squared = model._residual((held - mean) / scale) ** 2
        model.reference_errors = np.sqrt(squared.sum(axis=1))
        model.reference_residuals = squared.mean(axis=0)
        model.residual_sd = squared.std(axis=0)
        return model

    @property
    def kept(self) -> int:
        return int(self.components.shape[1])

    def _residual(self, z: FloatArray) -> FloatArray:
        return z - (z @ self.components) @ self.components.T

    def null(self, rows: int) -> tuple[float, float]:
        """Mean and standard deviation of the mean error of `rows`-row windows drawn from the reference."""
        cached = self._null.get(rows)
        if cached is None:
            errors = self.reference_errors
            rng = np.random.default_rng(rows)
            means = np.empty(RESAMPLES)
            step = max(1, 2_000_000 // max(rows, 1))  # bounded memory: at most ~2 M indices at once
            for start in range(0, RESAMPLES, step):
                stop = min(RESAMPLES, start + step)
                means[start:stop] = errors[rng.integers(0, errors.size, size=(stop - start, rows))].mean(axis=1)
            cached = self._null[rows] = (float(means.mean()), float(means.std(ddof=1)))
        return cached

    def row_errors(self, values: FloatArray) -> FloatArray:
        """Each encoded row's reconstruction error, |z - s V'| (what `test` averages): a row's alone, so a
        window's can be kept per row across evaluations (daemon/multivariate.py)."""
        # a 5,000 x 50 product: BLAS threads cost more CPU than they save; a few new rows (`pca_rows`) never
        # reach BLAS's threading, and limiting its threads costs more than their product
        few = values.shape[0] < FEW_ROWS
        with contextlib.nullcontext() if few else _one_thread("blas"):
            z = values - self.mean
            z /= self.scale  # in place: a window-sized temporary costs as much as the arithmetic
            s = z @ self.components
            # |z - s V'|^2 = |z|^2 - |s|^2 (orthonormal V): no reconstruction built
            squared_error: FloatArray = np.einsum("ij,ij->i", z, z) - np.einsum("ij,ij->i", s, s)
            return np.sqrt(np.maximum(squared_error, 0.0))

    def test(self, values: FloatArray, names: Sequence[str]) -> MultivariateResult:
        """The verdict on an encoded window (`values`)."""
        return self.verdict(self.row_errors(values), names, lambda: values)

    def verdict(
        self, errors: FloatArray, names: Sequence[str], encoded: Callable[[], FloatArray]
    ) -> MultivariateResult:
        """The verdict on a window from its rows' `errors` (`row_errors`), which a caller may have kept
        across evaluations (`pca_rows`); `encoded()`, the window encoded, is read only for a drifted
        window's top features."""
        started = time.perf_counter()
        score = float(errors.mean())
        rows = int(errors.shape[0])
        mu, sd = self.null(rows)
        sd = max(sd, 1e-12)
        zcrit = float(-ndtri(self.alpha))
        threshold = mu + zcrit * sd
        pvalue = _normal_tail((score - mu) / sd)
        top: tuple[str, ...] = ()
        if score > threshold:  # where to look: only a drifted window needs the residuals per feature
            with _one_thread("blas"):
                z = (encoded() - self.mean) / self.scale
                residual = (z - (z @ self.components) @ self.components.T) ** 2
                scale = np.maximum(self.residual_sd / math.sqrt(rows), 1e-12)
                grew = (residual.mean(axis=0) - self.reference_residuals) / scale
            order = np.argsort(-grew, kind="stable")
            top = tuple(names[int(j)] for j in order[:TOP_FEATURES] if grew[j] > zcrit)
        return MultivariateResult(
            "pca",
            score,
            threshold,
            pvalue,
            score > threshold,
            top,
            rows=rows,
            duration_seconds=time.perf_counter() - started,
        )


# --- domain classifier ---------------------------------------------------------------------------


def classifier_test(
    reference: FloatArray,
    current: FloatArray,
    names: Sequence[str],
    *,
    alpha: float = 0.001,
    seed: int = 0,
    deadline: float = math.inf,
) -> MultivariateResult:
    """Cross-validated AUROC of a classifier telling `reference` rows from `current` ones, with the
    Mann-Whitney bound of held-out folds. `reference` is subsampled to the current window's rows."""
    from sklearn.ensemble import HistGradientBoostingClassifier

    started = time.perf_counter()
    rng = np.random.default_rng(seed)
    n = min(current.shape[0], CLASSIFIER_MAX_ROWS)
    if current.shape[0] > n:
        current = current[rng.choice(current.shape[0], n, replace=False)]
    m = min(reference.shape[0], n)
    reference = reference[rng.choice(reference.shape[0], m, replace=False)]
    x = np.vstack([reference, current])
    y = np.concatenate([np.zeros(m, dtype=np.int8), np.ones(n, dtype=np.int8)])
    folds = _stratified_folds(y, FOLDS, rng)
    aucs, variances = [], []
    gain = np.zeros(x.shape[1])
    with _one_thread():
        for k in range(FOLDS):
            if time.perf_counter() > deadline:
                raise BudgetExceeded(f"classifier: past its budget after {k} of {FOLDS} folds")
            test = folds == k
            model = HistGradientBoostingClassifier(
                max_iter=30,  # 60 trees at 0.2 found the same AUROC at 2x the time (a flip: 0.93 either way)
                learning_rate=0.3,
                max_leaf_nodes=15,
                max_bins=63,
                min_samples_leaf=40,
                early_stopping=False,
                random_state=seed + k,
            )
            model.fit(x[~test], y[~test])
            scores = model.predict_proba(x[test])[:, 1]
            n1, n0 = int(y[test].sum()), int((1 - y[test]).sum())
            aucs.append(_auroc(scores, y[test]))
            variances.append((n0 + n1 + 1) / (12.0 * n0 * n1))
            gain += _split_gain(model, x.shape[1])
    score = float(np.mean(aucs))
    sd = math.sqrt(sum(variances)) / FOLDS
    zcrit = float(-ndtri(alpha))
    threshold = 0.5 + zcrit * sd
    pvalue = _normal_tail((score - 0.5) / sd)
    order = np.argsort(-gain, kind="stable")
    total = gain.sum()
    top = tuple(names[int(j)] for j in order[:TOP_FEATURES] if total > 0 and gain[j] / total >= 0.05)
    return MultivariateResult(
        "classifier",
        score,
        threshold,
        pvalue,
        score > threshold,
        top,
        rows=int(current.shape[0]),
        duration_seconds=time.perf_counter() - started,
    )


def _stratified_folds(y: FloatArray | Any, k: int, rng: np.random.Generator) -> IntArray:
    out = np.empty(y.shape[0], dtype=np.int64)
    for label in (0, 1):
        idx = np.flatnonzero(y == label)
        out[rng.permutation(idx)] = np.arange(idx.size) % k
    return out


def _normal_tail(z: float) -> float:
    """P(Z > z) for a standard normal Z (scipy.stats.norm.sf)."""
    return 0.5 * math.erfc(z / math.sqrt(2.0))


def _mean_ranks(values: FloatArray) -> FloatArray:
    """1-based ranks, ties sharing their mean rank (scipy.stats.rankdata's "average")."""
    order = np.argsort(values, kind="stable")
    ordered = values[order]
    starts = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1]])
    ends = np.r_[starts[1:], ordered.size]
    mean_rank = (starts + ends + 1) / 2.0  # ranks starts+1 .. ends, averaged
    ranks = np.empty(values.size, dtype=np.float64)
    ranks[order] = np.repeat(mean_rank, ends - starts)
    return ranks


def _auroc(scores: FloatArray, y: Any) -> float:
    """The Mann-Whitney U of the positives' ranks over n0 n1 (ties share their mean rank)."""
    ranks = _mean_ranks(scores)
    positive = y == 1
    n1 = int(positive.sum())
    n0 = y.shape[0] - n1
    return float((ranks[positive].sum() - n1 * (n1 + 1) / 2) / (n0 * n1))


def _split_gain(model: Any, features: int) -> FloatArray:
    """Total split gain per feature over a fitted HistGradientBoosting's trees (0 when not readable)."""
    gain = np.zeros(features)
    try:
        for predictors in model._predictors:
            for tree in predictors:
                nodes = tree.nodes
                split = nodes["is_leaf"] == 0
                np.add.at(gain, nodes["feature_idx"][split].astype(np.int64), np.maximum(nodes["gain"][split], 0.0))
    except (AttributeError, KeyError, ValueError):  # another scikit-learn layout: no ranking, still a verdict
        return np.zeros(features)
    return gain


@functools.cache
def _threadpools(api: str) -> Any:
    """One controller per API, made at its first use: one made before scikit-learn is imported (the PCA runs
    first) may not see scikit-learn's OpenMP runtime."""
    from threadpoolctl import ThreadpoolController

    return ThreadpoolController()


def _one_thread(api: str = "openmp") -> Any:
    """OpenMP (or BLAS) on one thread, as detectors/dle.py: the evaluation has its own thread on a sidecar's
    shared cores."""
    return _threadpools(api).limit(limits=1, user_api=api)


# --- a model's multivariate detector -------------------------------------------------------------


class MultivariateDetector:
    """What a reference fits for `drift.multivariate` (slow part once per reference: `fit`), then one
    `evaluate` per method and window."""

    def __init__(self, reference: ReferenceProfile, params: MultivariateParams) -> None:
        self.reference = reference
        self.params = params
        self.encoder: Encoder | None = None
        self.values: FloatArray = np.empty((0, 0))
        self.pca: PcaModel | None = None
        sample = reference.sample
        if sample is None or sample.height < MIN_ROWS:
            return
        columns = FrameColumns(sample)
        self.encoder = Encoder.fit(reference, columns)
        if not self.encoder.names:
            self.encoder = None
            return
        self.values = self.encoder.encode(columns)
        if "pca" in params.methods and len(self.encoder.names) >= 2:
            self.pca = PcaModel.fit(self.values, variance=params.variance, alpha=params.alpha)
        if "classifier" not in params.methods:  # only the classifier reads reference rows again: free them
            self.values = np.empty((0, self.values.shape[1]))

    @property
    def usable(self) -> bool:
        return self.encoder is not None

    def encode(self, columns: Columns) -> FloatArray:
        if self.encoder is None:
            raise ValueError("no reference rows to compare with")
        return self.encoder.encode(columns)

    def evaluate(self, method: str, current: FloatArray, *, deadline: float = math.inf) -> MultivariateResult:
        """One method's verdict on an encoded window (`encode`)."""
        skipped = self._skipped(method, current.shape[0])
        if skipped is not None:
            return skipped
        assert self.encoder is not None
        names = self.encoder.names
        if method == "pca" and self.pca is not None:
            return self.pca.test(current, names)
        if method == "classifier" and self.values.shape[0]:
            return classifier_test(
                self.values, current, names, alpha=self.params.alpha, seed=current.shape[0], deadline=deadline
            )
        raise ValueError(f"multivariate method {method!r} was not fitted: one of {', '.join(self.params.methods)}")

    def evaluate_pca(self, errors: FloatArray, encoded: Callable[[], FloatArray]) -> MultivariateResult:
        """`evaluate("pca", encoded())` from the window's rows' errors (`PcaModel.row_errors`) kept by the
        caller; the window is encoded whole only when it drifted (its top features)."""
        skipped = self._skipped("pca", errors.shape[0])
        if skipped is not None:
            return skipped
        assert self.encoder is not None
        if self.pca is None:
            raise ValueError(f"multivariate method 'pca' was not fitted: one of {', '.join(self.params.methods)}")
        return self.pca.verdict(errors, self.encoder.names, encoded)

    def _skipped(self, method: str, rows: int) -> MultivariateResult | None:
        if self.encoder is None:
            return MultivariateResult.skip(method, "no_reference_rows", rows)
        if rows < MIN_ROWS:
            return MultivariateResult.skip(method, "too_few_rows", rows)
        if len(self.encoder.names) < 2:
            return MultivariateResult.skip(method, "too_few_features", rows)
        return None


def _num(x: float) -> float | None:
    return float(x) if math.isfinite(x) else None
