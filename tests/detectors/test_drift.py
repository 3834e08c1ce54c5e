"""The drift decision rule and the detector: detected when it should be, quiet when it should be."""

from __future__ import annotations

import numpy as np
import pytest

from driftwarden.detectors.detector import DriftDetector
from driftwarden.detectors.drift import compare
from driftwarden.detectors.findings import FindingKind, Severity
from driftwarden.detectors.reference import ReferenceProfile
from driftwarden.params import DriftThresholds

NAMES = ["a", "b", "c", "d"]


def profile(rng: np.random.Generator, rows: int = 20_000) -> ReferenceProfile:
    return ReferenceProfile.fit(NAMES, rng.normal(size=(rows, len(NAMES))))


def test_report_shape_matches_the_design_contract() -> None:
    rng = np.random.default_rng(1)
    report = compare("fraud", profile(rng), NAMES, rng.normal(size=(3000, 4)) + np.array([1.0, 0, 0, 0])).to_dict()
    assert set(report) >= {"model", "drifted", "drift_share", "rows", "features"}
    assert report["rows"] == {"reference": 20_000, "current": 3000}
    first = report["features"][0]
    assert first["name"] == "a" and first["kind"] == "numeric" and first["drifted"] is True
    assert set(first["scores"]) == {"ks", "psi", "wasserstein", "jensenshannon", "missing"}
    assert set(first["pvalues"]) == {"ks", "missing"}
    assert set(first["pvalues_adjusted"]) == {"ks", "missing"}
    assert first["missing_rate"] == {"reference": 0.0, "current": 0.0}
    assert report["drift_share"] == pytest.approx(0.25) and report["drifted"] is False


def test_large_windows_alone_never_make_drift() -> None:
    """A 0.02 sd shift on 200k rows is 'significant' but negligible: the effect gate keeps it quiet."""
    rng = np.random.default_rng(2)
    ref = ReferenceProfile.fit(NAMES, rng.normal(size=(200_000, 4)))
    report = compare("m", ref, NAMES, rng.normal(size=(200_000, 4)) + 0.02)
    assert max(f.pvalues_adjusted["ks"] for f in report.features) < 0.05  # the p-value alone would alarm
    assert not any(f.drifted for f in report.features)


def test_small_windows_need_significance() -> None:
    """Ten rows show a large KS D by chance: the p-value gate keeps it quiet, the effect alone would not."""
    rng = np.random.default_rng(3)
    ref = profile(rng)
    windows = [rng.normal(size=(10, 4)) for _ in range(50)]
    alarmed = sum(compare("m", ref, NAMES, w).drifted_features != [] for w in windows)
    effect_only = DriftThresholds(alpha=1.0 + 1e-9)
    alarmed_without_gate = sum(
        compare("m", ref, NAMES, w, thresholds=effect_only).drifted_features != [] for w in windows
    )
    assert alarmed <= 8  # BH keeps the chance of any alarm near alpha = 0.05 per evaluation
    assert alarmed_without_gate >= 45


def test_no_false_alarms_in_repeated_evaluations_without_change() -> None:
    rng = np.random.default_rng(4)
    ref = profile(rng)
    for _ in range(20):
        assert not compare("m", ref, NAMES, rng.normal(size=(5000, 4))).drifted


def test_share_and_critical_features_decide_the_model_verdict() -> None:
    rng = np.random.default_rng(5)
    ref = profile(rng)
    cur = rng.normal(size=(5000, 4)) + np.array([1.0, 1.0, 0, 0])
    assert compare("m", ref, NAMES, cur).drifted  # 2 of 4 = 0.5 >= share 0.5
    one = rng.normal(size=(5000, 4)) + np.array([0, 0, 0, 1.0])
    assert not compare("m", ref, NAMES, one).drifted
    assert compare("m", ref, NAMES, one, critical_features=["d"]).drifted
    strict = DriftThresholds(share=0.75)
    assert not compare("m", ref, NAMES, cur, thresholds=strict).drifted


def test_missing_values_are_reported_and_left_out() -> None:
    rng = np.random.default_rng(6)
    ref = profile(rng)
    cur = rng.normal(size=(1000, 4))
    cur[:250, 0] = np.nan
    report = compare("m", ref, NAMES, cur)
    a = report.features[0]
    assert a.missing_rate["current"] == pytest.approx(0.25)
    assert a.rows["current"] == 750 and a.scores["ks"] < 0.1  # the values left are not shifted...
    assert a.drifted and a.scores["missing"] == pytest.approx(0.25)  # ...but a quarter of them went missing
    assert a.pvalues_adjusted["missing"] < 1e-10 and a.effect == pytest.approx(0.25 / 0.05)
    b = report.features[1]
    assert not b.drifted and b.scores["missing"] == 0.0 and b.pvalues["missing"] == 1.0


def test_a_small_change_in_the_missing_rate_is_no_drift() -> None:
    rng = np.random.default_rng(16)
    ref = profile(rng)
    cur = rng.normal(size=(100_000, 4))
    cur[:2000, 0] = np.nan  # 2 % missing: significant at this size, below the 5-point effect threshold
    a = compare("m", ref, NAMES, cur).features[0]
    assert a.pvalues_adjusted["missing"] < 1e-10 and not a.drifted


def test_features_absent_from_current_and_empty_windows() -> None:
    rng = np.random.default_rng(7)
    ref = profile(rng)
    report = compare("m", ref, ["a"], rng.normal(size=(100, 1)))
    gone = report.features[1]  # a feature that stopped arriving is drifted: its missing rate went 0 -> 1
    assert gone.scores == {"missing": 1.0} and gone.missing_rate["current"] == 1.0 and gone.drifted
    empty = compare("m", ref, NAMES, np.empty((0, 4)))
    assert empty.rows["current"] == 0 and not empty.drifted and all(f.scores == {} for f in empty.features)


def test_detector_flags_a_shift_within_one_window() -> None:
    rng = np.random.default_rng(8)
    detector = DriftDetector("m", profile(rng), window=2000, critical_features=["a"])
    for _ in range(5):
        detector.update(NAMES, rng.normal(size=(400, 4)))
        assert detector.evaluate() == []
    rows_after_change = 0
    while not detector.evaluate():
        detector.update(NAMES, rng.normal(size=(200, 4)) + np.array([0.5, 0, 0, 0]))
        rows_after_change += 200
    assert rows_after_change <= 1000
    findings = detector.evaluate()
    feature = next(f for f in findings if f.subject == "a")
    assert feature.kind is FindingKind.DRIFT and feature.severity is Severity.PAGE and feature.model == "m"
    assert feature.value >= 0.0 and "ks" in feature.evidence["scores"]


def test_detector_without_reference_finds_nothing() -> None:
    detector = DriftDetector("m", None)
    detector.update(["a"], np.ones((5, 1)))
    assert detector.evaluate() == [] and detector.report is None


def test_wasserstein_and_jensen_shannon_scores_agree_with_scipy() -> None:
    from scipy.spatial.distance import jensenshannon
    from scipy.stats import wasserstein_distance

    rng = np.random.default_rng(9)
    ref_values = rng.normal(size=(4000, 4))
    ref = ReferenceProfile.fit(NAMES, ref_values)
    cur = rng.normal(size=(1500, 4)) * np.array([1.0, 1.5, 1.0, 1.0])
    report = compare("m", ref, NAMES, cur)
    b = report.features[1]
    expected = wasserstein_distance(ref_values[:, 1], cur[:, 1]) / ref_values[:, 1].std()
    assert b.scores["wasserstein"] == pytest.approx(expected, rel=1e-9)
    ref_share = np.array(b.bins["reference"]) / sum(b.bins["reference"])
    cur_share = np.array(b.bins["current"]) / sum(b.bins["current"])
    assert b.scores["jensenshannon"] == pytest.approx(jensenshannon(ref_share, cur_share, base=2), rel=1e-9)


def test_methods_can_be_narrowed_to_ks_and_psi() -> None:
    rng = np.random.default_rng(10)
    report = compare(
        "m", profile(rng), NAMES, rng.normal(size=(500, 4)), thresholds=DriftThresholds(methods=("ks", "psi"))
    )
    assert set(report.features[0].scores) == {"ks", "psi", "missing"}


def test_edge_cases_of_the_engine_match_scipy() -> None:
    from scipy import stats as sps
    from scipy.spatial.distance import jensenshannon

    rng = np.random.default_rng(21)
    values = rng.normal(size=(2000, 3))
    values[:, 1] = 4.0  # constant
    values[:, 2] = np.nan  # all missing
    counts = {"c": {"a": 1200, "b": 800}}
    ref = ReferenceProfile.fit(["x", "const", "null"], values, categories=counts)

    one = compare("m", ref, ["x", "const", "null"], np.array([[0.3, 4.0, np.nan]]), current_categories={"c": {"a": 1}})
    x, const, null, c = one.features
    expected = sps.ks_2samp(values[:, 0], [0.3])
    assert x.scores["ks"] == pytest.approx(expected.statistic) and x.pvalues["ks"] == pytest.approx(expected.pvalue)
    assert const.scores["ks"] == 0.0 and const.scores["wasserstein"] == 0.0 and not const.drifted
    assert null.scores == {"missing": 0.0} and not null.drifted  # nothing to compare, and nothing changed
    contingency = sps.chi2_contingency([[1200, 800], [1, 0]], correction=False)
    assert c.scores["chi2"] == pytest.approx(contingency.statistic) and c.pvalues["chi2"] == pytest.approx(
        contingency.pvalue
    )

    moved = compare(
        "m", ref, ["x", "const", "null"], np.column_stack([values[:500, 0], np.full(500, 5.0), values[:500, 2]])
    )
    assert moved.features[1].scores["wasserstein"] == np.inf and moved.features[1].drifted  # a constant that moved

    only_new = compare("m", ref, ["x"], values[:500, :1], current_categories={"c": {"z": 500}})
    c = only_new.features[-1]
    assert c.drifted and c.unseen == (("z", 500),) and c.bins["current"] == [0, 0, 500]
    cont = sps.chi2_contingency([[1200, 800, 0], [0, 0, 500]], correction=False)
    assert c.scores["chi2"] == pytest.approx(cont.statistic)
    assert c.scores["jensenshannon"] == pytest.approx(jensenshannon([1200, 800, 0], [0, 0, 500], base=2))

    empty = compare("m", ref, ["x", "const", "null"], np.empty((0, 3)))
    assert empty.rows["current"] == 0 and not empty.drifted


def test_infinite_and_nested_values_are_rejected_at_ingest_with_a_reason() -> None:
    from driftwarden.collector.predictions import parse_records

    body = b"\n".join(
        [
            b'{"model": "m", "features": {"x": 1e999}}',
            b'{"model": "m", "features": {"x": Infinity}}',
            b'{"model": "m", "features": {"x": 1}}',
        ]
    )
    result = parse_records(body, "application/x-ndjson")
    assert result.accepted == 1 and [e.reason for e in result.errors] == ["invalid_json", "invalid_json"]
