"""Feature drift of one model: a reference profile against the current window.

`compare()` is the whole decision for one evaluation and has no state (`DriftDetector`,
in detectors/detector.py, wraps it with the model's window). The rule (design.md, "Drift
defaults"): a feature drifts when an effect size passes its threshold (PSI, KS D or normed
Wasserstein; PSI for categorical features) **and** its KS or chi-square p-value,
Benjamini-Hochberg-adjusted across the model's features, is below alpha — or its missing
rate moved. The effect-size gate keeps large windows from turning negligible shifts into
alarms; the p-value gate keeps small windows from alarming on noise.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from driftwarden.core.arrays import FloatArray, IntArray
from driftwarden.detectors import stats
from driftwarden.detectors.categorical import CategoricalComparison, compare_categories
from driftwarden.detectors.reasons import Reason, ordered
from driftwarden.detectors.reference import ReferenceProfile
from driftwarden.detectors.report import (
    PREDICTION,
    DriftReport,
    FeatureDrift,
    _num,
    interval_labels,
)
from driftwarden.params import DEFAULT_THRESHOLDS, DriftThresholds

__all__ = ["PREDICTION", "DriftReport", "FeatureDrift", "compare", "interval_labels"]


def compare(
    model: str,
    reference: ReferenceProfile,
    names: Sequence[str],
    current: npt.ArrayLike,
    *,
    current_categories: Mapping[str, Mapping[str, int]] | None = None,
    current_bins: IntArray | None = None,
    thresholds: DriftThresholds = DEFAULT_THRESHOLDS,
    critical_features: Sequence[str] = (),
    model_version: str | None = None,
    scratch: bool = False,
    current_ks: FloatArray | None = None,
) -> DriftReport:
    """Evaluate every reference feature at once.

    `current` is (rows x len(names)) floats, NaN missing, for the numeric features;
    `current_categories` the category counts of the same rows for the categorical ones
    (a row missing a categorical feature is simply not counted); `current_bins` the counts of
    `current` per reference bin (features, bins) when a streaming window kept them; `scratch`
    lets it sort `current` in place (the caller's own copy: one window's worth of memory saved);
    `current_ks` the KS statistic per reference feature when the caller kept it (`detectors.ks_ranks`).
    """
    started = time.perf_counter()
    numeric = _numeric_scores(reference, names, current, thresholds, current_bins, scratch, current_ks)
    categorical = compare_categories(reference.categories, current_categories or {})
    rows_cur = int(np.asarray(current).shape[0])

    # one row per feature: numeric ones first, then categorical, all of them vectorized
    feature_names = reference.features + categorical.features
    cat_ref_valid, cat_cur_valid = categorical.valid_counts
    n_ref = np.concatenate([reference.valid_counts, cat_ref_valid]).astype(np.float64)
    n_cur = np.concatenate([numeric.valid, cat_cur_valid]).astype(np.float64)
    # rows behind each feature's counts: category counts may cover more rows than the sampled values
    base_ref = np.concatenate(
        [np.full(len(reference.features), reference.rows), np.full(len(categorical.features), reference.category_rows)]
    ).astype(np.float64)
    base_ref = np.maximum(base_ref, n_ref)
    base_cur = np.maximum(float(rows_cur), n_cur)
    pvalue = np.concatenate([numeric.pvalue, categorical.pvalue])
    evaluated = ~np.isnan(pvalue)
    adjusted = stats.benjamini_hochberg(pvalue)
    categorical_effect = categorical.psi / thresholds.vector("psi", categorical.features)
    effect = np.concatenate([numeric.effect, categorical_effect])

    # missing-rate drift: a two-proportion test, gated by the size of the change like every other test
    with np.errstate(invalid="ignore", divide="ignore"):
        missing_ref = np.where(base_ref > 0, (base_ref - n_ref) / base_ref, np.nan)  # 150 / 5000 is 0.03 exactly
        missing_cur = np.where(base_cur > 0, (base_cur - n_cur) / base_cur, np.nan)
    _, missing_p = stats.proportions_ztest(base_ref - n_ref, base_ref, base_cur - n_cur, base_cur)
    missing_adjusted = stats.benjamini_hochberg(missing_p)
    missing_change = np.abs(missing_cur - missing_ref)
    missing_effect = missing_change / thresholds.vector("missing", feature_names)
    missing_drift = (missing_effect >= 1.0) & (missing_adjusted < thresholds.alpha)

    with np.errstate(invalid="ignore"):
        drifted = ((effect >= 1.0) & (adjusted < thresholds.alpha)) | missing_drift  # NaN compares False
    effect = np.fmax(effect, missing_effect)
    missing = _Missing(missing_ref, missing_cur, missing_change, missing_p, missing_adjusted, missing_drift)
    reasons = _reasons(reference.features, numeric, categorical, pvalue, adjusted, missing, thresholds)

    # per-feature values as Python lists once: indexing numpy scalars a feature at a time cost more than the tests
    score_lists = {m: v.tolist() for m, v in numeric.scores.items()}
    current_bins = numeric.bins.tolist()
    reference_bins, reference_edges = reference.bin_lists
    drifted_list, effect_list, evaluated_list = drifted.tolist(), effect.tolist(), evaluated.tolist()
    pvalue_list, adjusted_list = pvalue.tolist(), adjusted.tolist()
    missing_p_list, missing_adjusted_list = missing_p.tolist(), missing_adjusted.tolist()
    missing_ref_list, missing_cur_list = missing_ref.tolist(), missing_cur.tolist()
    change_list = missing_change.tolist()
    n_ref_list, n_cur_list = n_ref.astype(np.int64).tolist(), n_cur.astype(np.int64).tolist()
    reference_labels = reference.bin_labels
    score_items = list(score_lists.items())
    n_numeric = len(reference.features)
    features = []
    for j, name in enumerate(feature_names):
        is_numeric = j < n_numeric
        k = j if is_numeric else j - n_numeric
        if is_numeric:
            scores = {m: v[j] for m, v in score_items}
            test = "ks"
            bins = {"reference": reference_bins[j], "current": current_bins[j]}
            edges = reference_edges[j]
            labels = reference_labels[j]
        else:
            width = len(categorical.labels[k])
            scores = {
                "chi2": float(categorical.chi2[k]),
                "psi": float(categorical.psi[k]),
                "jensenshannon": float(categorical.jensenshannon[k]),
            }
            test = "chi2"
            bins = {
                "reference": categorical.reference_counts[k, :width].tolist(),
                "current": categorical.current_counts[k, :width].tolist(),
            }
            labels = categorical.labels[k]
            edges = ()
        change = change_list[j]
        if evaluated_list[j]:
            pvalues, pvalues_adjusted = {test: pvalue_list[j]}, {test: adjusted_list[j]}
        else:
            scores, pvalues, pvalues_adjusted = {}, {}, {}
        if math.isfinite(change):
            scores["missing"] = change
        if math.isfinite(missing_p_list[j]):
            pvalues["missing"] = missing_p_list[j]
            pvalues_adjusted["missing"] = missing_adjusted_list[j]
        features.append(
            FeatureDrift(
                name=name,
                drifted=drifted_list[j],
                missing_rate={"reference": _num(missing_ref_list[j]), "current": _num(missing_cur_list[j])},
                scores=scores,
                pvalues=pvalues,
                pvalues_adjusted=pvalues_adjusted,
                rows={"reference": n_ref_list[j], "current": n_cur_list[j]},
                bins=bins,
                kind="numeric" if is_numeric else "categorical",
                bin_labels=labels,
                bin_edges=edges,
                role=PREDICTION if name == PREDICTION else "feature",
                effect=effect_list[j],
                unseen=() if is_numeric else categorical.unseen[k],
                reasons=reasons[j],
            )
        )
    inputs = [f for f in features if f.role != PREDICTION and (f.scores or f.drifted)]
    share = sum(f.drifted for f in inputs) / len(inputs) if inputs else 0.0
    critical_hit = any(f.drifted and f.name in critical_features for f in features)
    return DriftReport(
        model=model,
        drifted=bool(inputs and (share >= thresholds.share or critical_hit)),
        drift_share=share,
        rows={"reference": reference.rows, "current": rows_cur},
        features=tuple(features),
        thresholds=thresholds,
        critical_features=tuple(critical_features),
        model_version=model_version,
        duration_seconds=time.perf_counter() - started,
    )


@dataclass(frozen=True)
class _Missing:
    """Per feature (numeric, then categorical): the missing-rate test."""

    reference: FloatArray
    current: FloatArray
    change: FloatArray
    pvalue: FloatArray
    adjusted: FloatArray
    fired: npt.NDArray[np.bool_]


def _reasons(
    numeric_features: Sequence[str],
    numeric: _NumericScores,
    categorical: CategoricalComparison,
    pvalue: FloatArray,
    adjusted: FloatArray,
    missing: _Missing,
    thresholds: DriftThresholds,
) -> list[tuple[Reason, ...]]:
    """Per feature, the tests that fired, by the very comparisons that made the verdict (ratio ≥ 1 of
    an effect size, BH-adjusted p < alpha): a drifted feature always has one, a clean one none."""
    n_numeric = len(numeric_features)
    features = [*numeric_features, *categorical.features]
    effect_sizes = [
        (stat, numeric.scores[stat], "ks") for stat in ("psi", "ks", "wasserstein") if stat in numeric.scores
    ]
    limits = {stat: thresholds.vector(stat, numeric_features) for stat, _, _ in effect_sizes}
    categorical_psi = thresholds.vector("psi", categorical.features)
    missing_limit = thresholds.vector("missing", features)
    out: list[tuple[Reason, ...]] = []
    for j in range(len(features)):
        found: list[Reason] = []
        if adjusted[j] < thresholds.alpha:  # NaN (not evaluated) compares False
            p, p_bh = float(pvalue[j]), float(adjusted[j])
            if j < n_numeric:
                candidates = [(stat, v[j], limits[stat][j], test) for stat, v, test in effect_sizes]
            else:
                k = j - n_numeric
                candidates = [("psi", categorical.psi[k], categorical_psi[k], "chi2")]
            with np.errstate(invalid="ignore", divide="ignore"):
                found += [
                    Reason(stat, float(value), float(limit), pvalue=p, pvalue_bh=p_bh, pvalue_test=test)
                    for stat, value, limit, test in candidates
                    if value / limit >= 1.0  # numpy scalars: the very division the verdict made
                ]
        if missing.fired[j]:
            found.append(
                Reason(
                    "missing",
                    float(missing.change[j]),
                    float(missing_limit[j]),
                    pvalue=float(missing.pvalue[j]),
                    pvalue_bh=float(missing.adjusted[j]),
                    pvalue_test="missing",
                    from_=float(missing.reference[j]),
                    to=float(missing.current[j]),
                )
            )
        out.append(ordered(found))
    return out


@dataclass(frozen=True)
class _NumericScores:
    """Per numeric reference feature, in its order: what `compare()` reads of the numeric tests."""

    scores: dict[str, FloatArray]  # statistic name -> value per feature
    pvalue: FloatArray  # KS, before adjustment
    effect: FloatArray  # largest score / threshold
    bins: IntArray  # (features, bins) current counts per reference bin
    valid: IntArray  # current non-missing values per feature


def _numeric_scores(
    reference: ReferenceProfile,
    names: Sequence[str],
    current: npt.ArrayLike,
    thresholds: DriftThresholds,
    current_bins: IntArray | None,
    scratch: bool,
    current_ks: FloatArray | None = None,
) -> _NumericScores:
    """KS, PSI and the optional numeric statistics of every numeric reference feature."""
    aligned = _aligned(reference.features, names, current)
    cur_sorted = stats.sort_columns(aligned, in_place=scratch or aligned is not current)
    ks = stats.ks_2samp(reference.sorted_values, cur_sorted, statistic=current_ks)
    cur_bins = stats.bin_counts(cur_sorted, reference.edges) if current_bins is None else current_bins
    features = reference.features
    scores = {"ks": ks.statistic, "psi": stats.psi(reference.bin_counts, cur_bins)}
    effect = np.fmax(
        scores["psi"] / thresholds.vector("psi", features), ks.statistic / thresholds.vector("ks", features)
    )
    if "wasserstein" in thresholds.methods:
        scores["wasserstein"] = stats.wasserstein_normed(
            reference.sorted_values, cur_sorted, reference_std=reference.std
        )
        effect = np.fmax(effect, scores["wasserstein"] / thresholds.vector("wasserstein", features))
    if "jensenshannon" in thresholds.methods:
        scores["jensenshannon"] = stats.jensen_shannon(reference.bin_counts, cur_bins)
    return _NumericScores(
        scores=scores, pvalue=ks.pvalue, effect=effect, bins=cur_bins, valid=stats.valid_counts(cur_sorted)
    )


def _aligned(features: Sequence[str], names: Sequence[str], current: npt.ArrayLike) -> FloatArray:
    """`current`'s columns in the reference's feature order; NaN for features it lacks."""
    current = np.asarray(current, dtype=np.float64)
    if tuple(names) == tuple(features):
        return current
    position = {name: j for j, name in enumerate(names)}
    aligned = np.full((current.shape[0], len(features)), np.nan, order="F")
    for j, name in enumerate(features):
        if name in position:
            aligned[:, j] = current[:, position[name]]
    return aligned
