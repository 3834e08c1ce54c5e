"""The estimator a model's settings call for, fitted on its reference's rows (`ReferenceProfile.sample`)."""

from __future__ import annotations

import numpy as np

from driftwarden.core.errors import InputError
from driftwarden.detectors.estimation import Columns, Estimator, FrameColumns
from driftwarden.detectors.reference import ReferenceProfile
from driftwarden.params import EstimateParams

__all__ = ["fit_estimator", "realized_quality"]


def fit_estimator(reference: ReferenceProfile, params: EstimateParams) -> Estimator:
    """CBPE (binary, multiclass) or DLE (regression) fitted on the reference's rows; InputError
    (`bad_estimate_reference`) when they lack the columns or labels it needs. Slow: call it off the loop."""
    if reference.sample is None:
        raise InputError(
            "estimate: the reference keeps no rows whole (a pinned window or `reference: previous` has no labels)",
            code="bad_estimate_reference",
        )
    # imported here: scikit-learn costs ~60 MB and a second of start-up, paid only by a model that estimates
    from driftwarden.detectors.cbpe import BinaryCBPE, MulticlassCBPE
    from driftwarden.detectors.dle import DLE

    columns = FrameColumns(reference.sample)
    if params.kind == "binary":
        return BinaryCBPE.fit(columns, params)
    if params.kind == "multiclass":
        return MulticlassCBPE.fit(columns, params)
    return DLE.fit(columns, params, numeric=reference.features, categorical=list(reference.categories))


def realized_quality(columns: Columns, params: EstimateParams) -> dict[str, float]:
    """The quality the labels in `columns` give (the metrics an estimate of the same kind estimates), over
    the rows with a label and the model's output; {} when there are none (or one class only, multiclass)."""
    from driftwarden.detectors.cbpe import MulticlassCBPE, binary_labels, binary_metrics
    from driftwarden.detectors.dle import regression_metrics

    if params.kind == "binary":
        score = columns.numbers(params.score)
        if score is None:
            return {}
        positive = binary_labels(columns, params.label)
        kept = ~np.isnan(score) & ~np.isnan(positive)
        if not kept.any():
            return {}
        return binary_metrics(positive[kept], score[kept], score[kept] >= params.threshold)
    if params.kind == "multiclass":
        try:
            return dict(MulticlassCBPE.fit(columns, params).reference_metrics)
        except InputError:
            return {}
    truth, prediction = columns.numbers(params.label), columns.numbers(params.prediction)
    if truth is None or prediction is None:
        return {}
    kept = ~np.isnan(truth) & ~np.isnan(prediction)
    return regression_metrics(np.abs(truth[kept] - prediction[kept]))
