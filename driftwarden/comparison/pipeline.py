"""Two data sets in, one `Comparison` out: columns chosen, the reference fitted, the current one compared.

`compare_frames` is the whole of `driftwarden check` after its files are read, and of the notebook
API; `compare` is the notebook's door: it warns (Python warnings) about the columns it left out.
Deterministic: the same frames give the same numbers, run after run (category ties are broken by
name, nothing is sampled).
"""

from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Collection, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import polars as pl

from driftwarden.collector.tables import Table, TableError, table_from_frame
from driftwarden.comparison.columns import plan_columns
from driftwarden.comparison.frames import as_polars
from driftwarden.comparison.result import Comparison
from driftwarden.core.errors import InputError
from driftwarden.detectors import drift
from driftwarden.detectors.reference import DEFAULT_BINS, ReferenceProfile
from driftwarden.detectors.vocabulary import OTHER
from driftwarden.params import DriftThresholds, EstimateParams

if TYPE_CHECKING:
    from driftwarden.detectors.estimation import QualityEstimate

__all__ = ["ComparisonError", "DriftwardenWarning", "compare", "compare_frames"]


class ComparisonError(InputError):
    """The two data sets cannot be compared; `side` names the one at fault ("reference", "current"), if one is."""

    def __init__(self, message: str, *, side: str | None = None) -> None:
        super().__init__(message, code="bad_comparison")
        self.side = side


class DriftwardenWarning(UserWarning):
    """A column left out of a comparison (ID-like, missing from a side, of another kind)."""


def compare(
    reference: Any,
    current: Any,
    *,
    features: Sequence[str] | None = None,
    exclude: Collection[str] = (),
    id_columns: Collection[str] = (),
    kinds: Mapping[str, str] | None = None,
    thresholds: DriftThresholds | Mapping[str, Any] | None = None,
    critical_features: Sequence[str] = (),
    bins: int = DEFAULT_BINS,
    skip_id_like: bool = True,
    title: str = "Drift report",
    estimate: EstimateParams | Mapping[str, Any] | None = None,
) -> Comparison:
    """Compare `current` with `reference` (polars or pandas DataFrames), feature by feature.

    `features`: the columns to compare (default: every column both frames have); `exclude` and
    `id_columns`: columns left out; `kinds`: column -> "numeric", "categorical" or "ignore" (as the
    config's `features:`); `thresholds`: a `DriftThresholds` or a mapping of its fields (`{"psi":
    0.25, "share": 0.3}`); `critical_features`: any of them drifting makes the whole verdict drift.
    ID-like columns (strings or integers nearly all distinct) are skipped unless `skip_id_like` is
    False or they are named in `features` or `kinds`. Columns left out for a reason you did not give
    raise a `DriftwardenWarning`, and are listed in `report.schema`. `estimate` (an `EstimateParams` or a
    mapping of its fields: `{"kind": "binary", "label": "label", "score": "prediction"}`): the reference
    carries the model's outputs and labels, and `current`'s quality is estimated (CBPE, DLE) into
    `estimated_quality`; when `current` has labels too, the quality they give is `realized_quality`, beside
    it. The label column is not compared.
    """
    result = compare_frames(
        reference,
        current,
        features=features,
        exclude=exclude,
        id_columns=id_columns,
        kinds=kinds,
        thresholds=thresholds,
        critical_features=critical_features,
        bins=bins,
        skip_id_like=skip_id_like,
        title=title,
        estimate=estimate,
    )
    for note in result.schema.notes():
        warnings.warn(str(note), DriftwardenWarning, stacklevel=2)
    return result


def compare_frames(
    reference: Any,
    current: Any,
    *,
    features: Sequence[str] | None = None,
    exclude: Collection[str] = (),
    id_columns: Collection[str] = (),
    kinds: Mapping[str, str] | None = None,
    thresholds: DriftThresholds | Mapping[str, Any] | None = None,
    critical_features: Sequence[str] = (),
    bins: int = DEFAULT_BINS,
    skip_id_like: bool = True,
    model: str = "compare",
    title: str = "Drift report",
    sources: Mapping[str, str] | None = None,
    estimate: EstimateParams | Mapping[str, Any] | None = None,
) -> Comparison:
    """`compare` without the warnings (the caller reports `schema.notes()` its own way); `model` names
    the report's model, `sources` what was compared. Raises ComparisonError."""
    ref, cur = as_polars(reference, "reference"), as_polars(current, "current")
    params = _estimate_params(estimate)
    if params is not None:
        exclude = [*exclude, params.label]  # the labels are the estimate's, not a feature to compare
    plan = plan_columns(
        ref, cur, features=features, exclude=exclude, id_columns=id_columns, kinds=kinds, skip_id_like=skip_id_like
    )
    if not plan.compared:
        notes = "; ".join(map(str, plan.schema.notes()))
        raise ComparisonError(
            f"none of the reference's columns ({_names(ref.columns)}) can be compared with it"
            + (f": {notes}" if notes else ""),
            side="current",
        )
    ref_table = _table(ref.select(plan.compared), plan.kinds, "reference")
    cur_table = _table(cur.select(plan.compared), plan.kinds, "current")
    try:
        profile = ReferenceProfile.fit(
            list(ref_table.numeric), ref_table.values, categories=ref_table.categories, bins=bins
        )
    except ValueError as exc:  # InputError too: values beyond what the statistics can square
        raise ComparisonError(str(exc), side="reference") from exc
    report = drift.compare(
        model,
        profile,
        cur_table.numeric,
        cur_table.values,
        current_categories=pooled_like(profile.categories, ref_table.categories, cur_table.categories),
        thresholds=_thresholds(thresholds),
        critical_features=critical_features,
    )
    estimated, realized = _estimated(profile, ref, cur, params) if params is not None else (None, None)
    return Comparison(
        report,
        plan.schema,
        title=title,
        sources=dict(sources or {}),
        estimated_quality=estimated,
        realized_quality=realized,
    )


def _estimated(
    profile: ReferenceProfile, reference: pl.DataFrame, current: pl.DataFrame, params: EstimateParams
) -> tuple[QualityEstimate | None, dict[str, float] | None]:
    """The current data's estimated quality, and the realized one when it has labels (else None)."""
    from driftwarden.detectors.estimation import FrameColumns  # only a model with an estimate pays for them
    from driftwarden.detectors.estimators import fit_estimator, realized_quality

    try:
        estimator = fit_estimator(dataclasses.replace(profile, sample=reference), params)
    except InputError as exc:
        raise ComparisonError(str(exc), side="reference") from exc
    columns = FrameColumns(current)
    labelled = params.label in current.columns and current.get_column(params.label).null_count() < current.height
    return estimator.estimate(columns), (realized_quality(columns, params) if labelled else None)


def _estimate_params(given: EstimateParams | Mapping[str, Any] | None) -> EstimateParams | None:
    if given is None or isinstance(given, EstimateParams):
        return given
    try:
        return EstimateParams(**given)
    except TypeError as exc:
        raise ComparisonError(f"estimate: {exc}") from exc


def pooled_like(
    kept: Mapping[str, Mapping[str, int]],
    reference: Mapping[str, Mapping[str, int]],
    current: Mapping[str, Mapping[str, int]],
) -> dict[str, dict[str, int]]:
    """`current`'s category counts, with the categories the reference has but pooled (beyond the
    categories a profile keeps) counted in the same pooled cell, `__other__`: they are not unseen.

    >>> pooled_like({"c": {"a": 9, "__other__": 2}}, {"c": {"a": 9, "b": 1, "d": 1}}, {"c": {"a": 5, "b": 3, "z": 1}})
    {'c': {'a': 5, '__other__': 3, 'z': 1}}
    """
    out = {}
    for name, counts in current.items():
        cells, known = kept.get(name, {}), reference.get(name, {})
        if OTHER not in cells:
            out[name] = dict(counts)
            continue
        pooled: dict[str, int] = {}
        for category, n in counts.items():
            cell = OTHER if category in known and category not in cells else category
            pooled[cell] = pooled.get(cell, 0) + n
        out[name] = pooled
    return out


def _table(frame: pl.DataFrame, kinds: dict[str, str], side: str) -> Table:
    try:
        return table_from_frame(frame, kinds)
    except TableError as exc:
        raise ComparisonError(str(exc), side=side) from exc


def _thresholds(given: DriftThresholds | Mapping[str, Any] | None) -> DriftThresholds:
    if given is None:
        return DriftThresholds()
    if isinstance(given, DriftThresholds):
        return given
    try:
        return DriftThresholds(**given)
    except TypeError as exc:
        raise ComparisonError(f"thresholds: {exc}") from exc


def _names(columns: Sequence[str]) -> str:
    return ", ".join(columns[:10]) + (f" and {len(columns) - 10} more" if len(columns) > 10 else "") or "no columns"
