"""Every verdict carries its reasons: the tests that fired, with value, threshold and p-values,
checked against statistics computed here by hand (scipy, the formulas) for the same data."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from driftwarden.detectors.drift import compare
from driftwarden.detectors.reference import ReferenceProfile
from driftwarden.params import DriftThresholds


def normal_quantiles(n: int, shift: float = 0.0) -> np.ndarray:
    """n evenly spaced quantiles of N(shift, 1): the same data on every run, no sampling noise."""
    return stats.norm.ppf((np.arange(n) + 0.5) / n) + shift


def bh(pvalues: list[float]) -> list[float]:
    """Benjamini-Hochberg by its definition: min over j >= i of p_(j) * m / j, capped at 1."""
    p = np.asarray(pvalues)
    m = len(p)
    order = np.argsort(p)
    ranked = p[order] * m / np.arange(1, m + 1)
    adjusted = np.minimum.accumulate(ranked[::-1])[::-1].clip(max=1.0)
    out = np.empty(m)
    out[order] = adjusted
    return out.tolist()


def test_a_missing_rate_drift_is_named_as_the_missing_rate_with_its_rates_threshold_and_p() -> None:
    """age: 3.0 % missing in the reference, 9.3 % now, the values themselves as before; x unchanged."""
    n = 10_000
    age_ref = normal_quantiles(n)
    age_ref[:300] = np.nan  # 3.0 %
    age_cur = normal_quantiles(n)
    age_cur[:: n // 930][:930] = np.nan  # 9.3 %, spread over the distribution so its shape stays
    x = normal_quantiles(n)
    ref = ReferenceProfile.fit(["age", "x"], np.column_stack([np.random.default_rng(0).permutation(age_ref), x]))
    report = compare("churn", ref, ["age", "x"], np.column_stack([age_cur, x]))
    age, x_feature = report.features

    # by hand: the pooled two-proportion z-test, BH across the two features (x's rates are equal: p = 1)
    pooled = (300 + 930) / (2 * n)
    z = (0.093 - 0.03) / np.sqrt(pooled * (1 - pooled) * (2 / n))
    p = 2 * stats.norm.sf(z)
    p_bh = bh([p, 1.0])[0]
    assert age.drifted and not x_feature.drifted and x_feature.reasons == ()
    (reason,) = [r.to_dict() for r in age.reasons]
    assert reason == {
        "test": "missing",
        "from": pytest.approx(0.03),
        "to": pytest.approx(0.093),
        "value": pytest.approx(0.063),
        "threshold": 0.05,
        "pvalue": pytest.approx(p, rel=1e-9),
        "pvalue_bh": pytest.approx(p_bh, rel=1e-9),
        "pvalue_test": "missing",
    }
    # the distribution tests are far under their thresholds and are not named
    assert age.scores["psi"] < 0.2 and age.scores["ks"] < 0.1
    assert age.headline is not None and age.headline.test == "missing"
    assert report.to_dict()["features"][0]["reasons"] == [reason]
    assert "age: missing rate 3.0% → 9.3%" in report.summary() and "PSI" not in report.summary()


def test_a_small_shift_fires_on_wasserstein_and_ks_not_on_psi() -> None:
    """A 0.3 sd shift of 4,000 evenly spaced values: normed Wasserstein 0.3 and KS D 0.118 pass their
    thresholds, PSI (about 0.09) does not; the headline is the most decisive, Wasserstein."""
    ref_values = normal_quantiles(4000)
    cur_values = normal_quantiles(4000, shift=0.3)
    ref = ReferenceProfile.fit(["amount"], ref_values[:, None])
    report = compare("fraud", ref, ["amount"], cur_values[:, None])
    (amount,) = report.features

    ks = stats.ks_2samp(ref_values, cur_values)
    wasserstein = stats.wasserstein_distance(ref_values, cur_values) / ref_values.std()
    assert amount.scores["psi"] < 0.2  # not a reason
    assert [r.to_dict() for r in amount.reasons] == [
        {
            "test": "wasserstein",
            "value": pytest.approx(wasserstein, rel=1e-9),
            "threshold": 0.1,
            "pvalue": pytest.approx(ks.pvalue, rel=1e-6),
            "pvalue_bh": pytest.approx(ks.pvalue, rel=1e-6),  # one feature: BH leaves it as it is
            "pvalue_test": "ks",
        },
        {
            "test": "ks",
            "value": pytest.approx(ks.statistic, rel=1e-12),
            "threshold": 0.1,
            "pvalue": pytest.approx(ks.pvalue, rel=1e-6),
            "pvalue_bh": pytest.approx(ks.pvalue, rel=1e-6),
            "pvalue_test": "ks",
        },
    ]
    assert wasserstein == pytest.approx(0.3, abs=1e-3) and ks.statistic > 0.1


def test_per_feature_thresholds_are_the_ones_reported() -> None:
    ref_values = normal_quantiles(4000)
    ref = ReferenceProfile.fit(["amount"], ref_values[:, None])
    thresholds = DriftThresholds(per_feature={"amount": {"wasserstein": 0.5}})
    (amount,) = compare("fraud", ref, ["amount"], normal_quantiles(4000, 0.3)[:, None], thresholds=thresholds).features
    assert [(r.test, r.threshold) for r in amount.reasons] == [("ks", 0.1)]


def test_a_categorical_shift_fires_psi_gated_by_chi_square() -> None:
    ref = ReferenceProfile.fit([], np.empty((1000, 0)), categories={"country": {"DE": 500, "FR": 500}})
    current = {"country": {"DE": 800, "FR": 200}}
    report = compare("fraud", ref, [], np.empty((1000, 0)), current_categories=current)
    (country,) = report.features
    shares_ref, shares_cur = np.array([0.5, 0.5]), np.array([0.8, 0.2])
    psi = float(np.sum((shares_cur - shares_ref) * np.log(shares_cur / shares_ref)))
    chi2 = stats.chi2_contingency([[500, 500], [800, 200]], correction=False)
    (reason,) = [r.to_dict() for r in country.reasons]
    assert reason == {
        "test": "psi",
        "value": pytest.approx(psi, rel=1e-3),  # the __unseen__ cell gets the PSI epsilon
        "threshold": 0.2,
        "pvalue": pytest.approx(chi2.pvalue, rel=1e-6),
        "pvalue_bh": pytest.approx(chi2.pvalue, rel=1e-6),
        "pvalue_test": "chi2",
    }


def test_the_model_verdict_names_its_share_and_its_critical_features() -> None:
    names = ["a", "b", "c", "d"]
    ref = ReferenceProfile.fit(names, np.column_stack([normal_quantiles(4000)] * 4))
    shifted = np.column_stack([normal_quantiles(4000, 1.0), normal_quantiles(4000, 0.8)] + [normal_quantiles(4000)] * 2)
    report = compare("fraud", ref, names, shifted, critical_features=["b"])
    share, critical = report.to_dict()["reasons"]
    assert share == {"test": "drift_share", "value": 0.5, "threshold": 0.5, "features": ["a", "b"]}
    assert critical == {"test": "critical", "value": 1.0, "threshold": 1.0, "features": ["b"]}
    quiet = compare("fraud", ref, names, np.column_stack([normal_quantiles(4000)] * 4))
    assert not quiet.drifted and quiet.to_dict()["reasons"] == []


@settings(max_examples=60, deadline=None)
@given(
    shift=st.floats(-1.0, 1.0),
    scale=st.floats(0.5, 2.0),
    missing=st.floats(0.0, 0.5),
    rows=st.integers(20, 3000),
    seed=st.integers(0, 2**16),
)
def test_drifted_if_and_only_if_a_reason_and_every_reason_is_over_its_threshold(
    shift: float, scale: float, missing: float, rows: int, seed: int
) -> None:
    rng = np.random.default_rng(seed)
    ref = ReferenceProfile.fit(["a", "b"], rng.normal(size=(2000, 2)))
    current = rng.normal(size=(rows, 2)) * [scale, 1.0] + [shift, 0.0]
    current[rng.random(rows) < missing, 0] = np.nan
    report = compare("m", ref, ["a", "b"], current)
    for f in report.features:
        assert f.drifted == bool(f.reasons), f
        for r in f.reasons:
            assert r.value >= r.threshold and r.pvalue_bh is not None and r.pvalue_bh < 0.05
            assert r.value == pytest.approx(f.scores[r.test], nan_ok=True) if r.test in f.scores else True
        assert list(f.reasons) == sorted(f.reasons, key=lambda r: -r.ratio)  # the headline first
    assert report.drifted == bool(report.reasons)
