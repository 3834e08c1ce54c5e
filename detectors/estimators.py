"""The estimator a model's settings call for, fitted on its reference's rows (`ReferenceProfile.sample`)."""

from __future__ import annotations

from driftwarden.core.errors import InputError
from driftwarden.detectors.estimation import Estimator, FrameColumns
from driftwarden.detectors.reference import ReferenceProfile
from driftwarden.params import EstimateParams

__all__ = ["fit_estimator"]


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
