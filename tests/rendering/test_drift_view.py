"""The drift view: thresholds per statistic (per-feature overrides first), pass/fail and the fired tests,
on hand-made features whose every number is chosen, then against compare()'s own verdicts."""

from __future__ import annotations

import math

import numpy as np
import pytest

from driftwarden.detectors.drift import compare
from driftwarden.detectors.reference import ReferenceProfile
from driftwarden.detectors.report import DriftReport, FeatureDrift
from driftwarden.params import DriftThresholds
from driftwarden.rendering.drift_view import FeatureView, feature_views

DEFAULTS = DriftThresholds()  # psi 0.2, ks 0.1, wasserstein 0.1, missing 0.05, alpha 0.05


def numeric(
    name: str = "amount",
    *,
    psi: float,
    ks: float,
    p: float,
    missing: float = 0.0,
    missing_p: float = 1.0,
    drifted: bool = False,
    **scores: float,
) -> FeatureDrift:
    """A numeric feature; `p` and `missing_p` are the BH-adjusted p-values (the raw ones half of them)."""
    return FeatureDrift(
        name=name,
        drifted=drifted,
        missing_rate={"reference": 0.0, "current": missing},
        scores={"psi": psi, "ks": ks, "missing": missing, **scores},
        pvalues={"ks": p / 2, "missing": missing_p / 2},
        pvalues_adjusted={"ks": p, "missing": missing_p},
        rows={"reference": 5000, "current": 3000},
    )


def categorical(name: str = "country", *, psi: float, chi2: float, p: float, drifted: bool = False) -> FeatureDrift:
    return FeatureDrift(
        name=name,
        drifted=drifted,
        missing_rate={"reference": 0.0, "current": 0.0},
        scores={"chi2": chi2, "psi": psi, "jensenshannon": 0.1, "missing": 0.0},
        pvalues={"chi2": p / 2, "missing": 0.5},
        pvalues_adjusted={"chi2": p, "missing": 1.0},
        rows={"reference": 5000, "current": 3000},
        kind="categorical",
    )


def test_over_the_psi_threshold_but_not_significant_is_not_drifted() -> None:
    view = FeatureView(numeric(psi=0.35, ks=0.12, p=0.2), DEFAULTS)  # both effects over, adjusted p 0.2 > 0.05
    psi, ks = view.statistic("psi"), view.statistic("ks")
    assert (psi.threshold, psi.over) == (0.2, True)
    assert (ks.threshold, ks.over) == (0.1, True)
    test = view.check("ks")
    assert (test.adjusted, test.pvalue, test.alpha) == (0.2, 0.1, 0.05)
    assert test.effect and not test.significant and not test.fired
    assert view.fired == () and not view.missing_drifted


def test_significant_without_an_effect_is_not_drifted_either() -> None:
    view = FeatureView(numeric(psi=0.15, ks=0.06, p=1e-12), DEFAULTS)  # a huge window: tiny shifts are significant
    assert not view.statistic("psi").over and not view.statistic("ks").over
    assert view.check("ks").significant and not view.check("ks").fired
    assert view.fired == ()


def test_a_per_feature_override_applies_to_its_feature_only() -> None:
    thresholds = DriftThresholds(per_feature={"amount": {"psi": 0.5, "ks": 0.3}})
    amount = FeatureView(numeric("amount", psi=0.35, ks=0.2, p=1e-6), thresholds)
    age = FeatureView(numeric("age", psi=0.35, ks=0.2, p=1e-6), thresholds)
    assert (amount.threshold("psi"), amount.threshold("ks"), amount.threshold("missing")) == (0.5, 0.3, 0.05)
    assert (age.threshold("psi"), age.threshold("ks")) == (0.2, 0.1)
    assert not amount.statistic("psi").over and not amount.statistic("ks").over
    assert amount.fired == ()  # significant, but under its own thresholds
    assert [t.key for t in age.fired] == ["ks"]  # the same numbers drift under the defaults


def test_an_override_can_also_lower_a_threshold() -> None:
    thresholds = DriftThresholds(per_feature={"amount": {"psi": 0.1}})
    view = FeatureView(numeric(psi=0.15, ks=0.05, p=0.001), thresholds)
    assert view.statistic("psi").over and not view.statistic("ks").over
    assert [t.name for t in view.fired] == ["KS"]  # KS's p gates PSI's effect too


def test_missing_rate_drift_fires_the_missing_rate_test() -> None:
    view = FeatureView(numeric(psi=0.01, ks=0.02, p=0.9, missing=0.2, missing_p=1e-30), DEFAULTS)
    missing = view.statistic("missing")
    assert (missing.value, missing.threshold, missing.over) == (0.2, 0.05, True)
    assert view.missing_drifted
    assert [(t.key, t.name) for t in view.fired] == [("missing", "missing-rate")]
    assert not view.check("ks").fired


def test_missing_rate_change_under_its_threshold_does_not_fire() -> None:
    small = FeatureView(numeric(psi=0.0, ks=0.0, p=1.0, missing=0.03, missing_p=1e-9), DEFAULTS)  # 3 % < 5 %
    assert not small.missing_drifted and small.fired == ()
    raised = DriftThresholds(per_feature={"amount": {"missing": 0.25}})
    big = FeatureView(numeric(psi=0.0, ks=0.0, p=1.0, missing=0.2, missing_p=1e-9), raised)
    assert big.threshold("missing") == 0.25 and not big.missing_drifted


def test_the_fired_tests_are_named_distribution_test_first() -> None:
    both = FeatureView(numeric(psi=0.4, ks=0.3, p=1e-9, missing=0.1, missing_p=1e-9), DEFAULTS)
    assert [t.name for t in both.fired] == ["KS", "missing-rate"]
    country = FeatureView(categorical(psi=0.4, chi2=480.5, p=1e-6), DEFAULTS)
    assert [(t.key, t.name) for t in country.fired] == [("chi2", "χ²")]
    assert country.test == "chi2" and both.test == "ks"


def test_categorical_features_are_gated_by_psi_alone() -> None:
    view = FeatureView(categorical(psi=0.1, chi2=9999.0, p=1e-50), DEFAULTS)
    assert view.threshold("chi2") is None and view.threshold("jensenshannon") is None
    assert view.threshold("ks") is None and view.threshold("wasserstein") is None
    assert not view.statistic("chi2").over  # a chi-square statistic is never "over": it grows with the window
    assert view.fired == ()
    assert [s.name for s in view.statistics] == ["PSI", "Jensen–Shannon", "χ²", "missing-rate change"]


def test_wasserstein_gates_numeric_features_and_jensen_shannon_is_reported_only() -> None:
    view = FeatureView(numeric(psi=0.05, ks=0.05, p=1e-4, wasserstein=0.25, jensenshannon=0.9), DEFAULTS)
    assert view.statistic("wasserstein").over and view.statistic("jensenshannon").threshold is None
    assert [t.key for t in view.fired] == ["ks"]
    assert [s.key for s in view.statistics] == ["psi", "ks", "wasserstein", "jensenshannon", "missing"]


@pytest.mark.parametrize(("value", "over"), [(math.nan, False), (math.inf, True), (0.2, True), (0.19999, False)])
def test_a_value_at_its_threshold_is_over_nan_never(value: float, over: bool) -> None:
    view = FeatureView(numeric(psi=value, ks=0.0, p=1.0), DEFAULTS)
    assert view.statistic("psi").over is over


def test_a_statistic_or_test_the_feature_lacks_has_no_value() -> None:
    f = FeatureDrift(name="empty", drifted=False, missing_rate={}, scores={}, pvalues={}, pvalues_adjusted={}, rows={})
    view = FeatureView(f, DEFAULTS)
    assert view.statistic("psi").value is None and not view.statistic("psi").over
    assert view.check("ks").adjusted is None and not view.check("ks").significant
    assert view.tests == () and view.statistics == () and view.fired == ()


def test_feature_views_follow_the_report_and_its_thresholds() -> None:
    thresholds = DriftThresholds(per_feature={"age": {"psi": 0.5}})
    features = (numeric("amount", psi=0.3, ks=0.2, p=1e-5, drifted=True), numeric("age", psi=0.3, ks=0.05, p=1e-5))
    report = DriftReport(
        model="fraud",
        drifted=True,
        drift_share=0.5,
        rows={"reference": 5000, "current": 3000},
        features=features,
        thresholds=thresholds,
    )
    views = feature_views(report)
    assert [v.name for v in views] == ["amount", "age"]
    assert [v.threshold("psi") for v in views] == [0.2, 0.5]
    assert [v.drifted for v in views] == [True, False] == [bool(v.fired) for v in views]


def test_the_view_agrees_with_compare_on_every_feature() -> None:
    """A feature drifted exactly when a test of the view fired: same rule, decided once for renderers."""
    rng = np.random.default_rng(3)
    names = ["a", "b", "c", "d", "prediction"]
    reference = ReferenceProfile.fit(
        names, rng.normal(size=(4000, 5)), categories={"country": {"DE": 2000, "FR": 1500, "IT": 500}}
    )
    thresholds = DriftThresholds(per_feature={"b": {"psi": 5.0, "ks": 5.0, "wasserstein": 5.0}, "c": {"missing": 0.5}})
    checked = 0
    for rows in (40, 400, 4000):
        current = rng.normal(size=(rows, 5)) + np.array([0.0, 0.8, 0.05, 0.3, 0.5])
        current[: rows // 4, 2] = np.nan  # c: 25 % missing, under its own 50 % threshold
        current[: rows // 5, 3] = np.nan  # d: 20 % missing, over the default 5 %
        report = compare(
            "fraud",
            reference,
            names,
            current,
            current_categories={"country": {"DE": rows // 4, "FR": rows // 4, "IT": rows // 2}},
            thresholds=thresholds,
        )
        for view in feature_views(report):
            assert bool(view.fired) == view.drifted, (rows, view.name, view.feature.scores)
            checked += view.drifted
        by_name = {v.name: v for v in feature_views(report)}
        assert not by_name["b"].check("ks").fired  # its raised thresholds hold back a large shift
        assert not by_name["c"].missing_drifted
    assert checked >= 5  # drifted features were among those compared, not only quiet ones
    assert by_name["d"].missing_drifted and "missing" in [t.key for t in by_name["d"].fired]
