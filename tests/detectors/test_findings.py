"""Typed findings: each kind's alert name, subject and evidence, and the identity alerts keep.

The expected fingerprints, alert texts and evidence bytes below were computed by the code before
findings were typed (one `Finding` with a free-form evidence dict) for the same inputs: the
fingerprint is persisted and is the dedup key of every receiver, and evidence is what PagerDuty's
custom_details, webhooks and GET /v1/alerts carry, so none of them may change unnoticed. The drift
findings' texts and evidence changed once on purpose: they lead with the reasons (the tests that fired).
The fingerprints changed once on purpose too: they are Alertmanager's fingerprint of the alert's labels
(tests/alerts/test_alertmanager_conformance.py checks that against a real Alertmanager).
"""

from __future__ import annotations

import dataclasses

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from driftwarden.alerts.alert import describe, fingerprint
from driftwarden.alerts.labelset import fingerprint as labelset_fingerprint
from driftwarden.core.constraints import ConstraintKind
from driftwarden.detectors.embedding import EmbeddingDrift, EmbeddingDriftFinding
from driftwarden.detectors.findings import (
    ESTIMATED_QUALITY_SUBJECT,
    MODEL_SUBJECT,
    QUALITY_SUBJECT,
    AnomalyFinding,
    DataQualityFinding,
    DriftBudgetFinding,
    FeatureDriftFinding,
    Finding,
    FindingKind,
    GpuCondition,
    GpuHealthFinding,
    ModelDriftFinding,
    ModelMultivariateDriftFinding,
    QualityDegradedFinding,
    QualityEstimatedFinding,
    Severity,
    SLOBurnFinding,
)
from driftwarden.detectors.reasons import Reason

PAGE_BURN = {
    "long_window": "1h",
    "short_window": "5m",
    "long_burn_rate": 20.0,
    "short_burn_rate": 30.0,
    "requests_short_window": 1000,
    "objective": 0.99,
    "budget_remaining": 0.5,
}
TICKET_BURN = {
    "long_window": "3d",
    "short_window": "6h",
    "long_burn_rate": 1.5,
    "short_burn_rate": 2.0,
    "requests_short_window": 40,
    "objective": 0.999,
    "budget_remaining": -0.25,
}
FEATURE_TEXT = (
    "The current window of fraud differs from its reference in {}; see GET /v1/models/fraud/drift for every "
    "statistic, and the feature detail dashboard."
)
SLO_TEXT = "Check recent deploys and traffic of the SLO's service; GET /v1/slos has p50/p95/p99 and burn rates."
SEE_EVIDENCE = "See the evidence in custom details."

# name: (finding, fingerprint, alertname, subject, summary, description, evidence as orjson bytes)
CASES: dict[str, tuple[Finding, str, str, str, str, str, bytes]] = {
    "embedding": (
        EmbeddingDriftFinding(
            model="search",
            embedding="query",
            severity=Severity.WARNING,
            value=0.0003,
            threshold=0.0002,
            labels={"embedding": "query"},
            methods=(
                EmbeddingDrift("query", "mmd", 0.0003, 0.0002, 0.005, True, {"reference": 5000, "current": 5000}),
                EmbeddingDrift("query", "pcs", 0.05, 0.1, 0.02, False, {"reference": 5000, "current": 5000}),
            ),
            model_version="v2",
        ),
        "60bb17a85dffc451",
        "ModelEmbeddingDrift",
        "query",
        "Embedding drift on search v2: query drifted by mmd 0.0003 (p 0.005)",
        "The vectors search sends as 'query' moved away from its reference's; the model page shows both on the "
        "reference's first two principal components (GET /v1/models/search/drift).",
        b'{"embedding":"query","drifted_methods":["mmd"],"methods":[{"embedding":"query","method":"mmd",'
        b'"score":0.0003,"threshold":0.0002,"pvalue":0.005,"drifted":true,"rows":{"reference":5000,"current":5000}},'
        b'{"embedding":"query","method":"pcs","score":0.05,"threshold":0.1,"pvalue":0.02,"drifted":false,'
        b'"rows":{"reference":5000,"current":5000}}],"model_version":"v2"}',
    ),
    "feature": (
        FeatureDriftFinding(
            model="fraud",
            feature="amount",
            severity=Severity.WARNING,
            value=0.41,
            threshold=0.2,
            scores={"psi": 0.41, "ks": 0.22},
            pvalues_adjusted={"ks": 1e-6},
            rows={"reference": 5000, "current": 4000},
            missing_rate={"reference": 0.0, "current": None},
            model_version="v3",
            reasons=(
                Reason("psi", 0.41, 0.2, pvalue=1e-7, pvalue_bh=1e-6, pvalue_test="ks"),
                Reason("ks", 0.22, 0.1, pvalue=1e-7, pvalue_bh=1e-6, pvalue_test="ks"),
            ),
        ),
        "1aa850338e7aad92",
        "FeatureDrift",
        "amount",
        "Feature drift on fraud v3: amount KS D 0.22 ≥ 0.1; PSI 0.41 ≥ 0.2 (KS p(BH) 1e-06)",
        FEATURE_TEXT.format("amount"),
        b'{"reasons":[{"test":"ks","value":0.22,"threshold":0.1,"pvalue":1e-7,"pvalue_bh":1e-6,"pvalue_test":"ks"},'
        b'{"test":"psi","value":0.41,"threshold":0.2,"pvalue":1e-7,"pvalue_bh":1e-6,"pvalue_test":"ks"}],'
        b'"held":false,"held_reasons":[],'
        b'"kind":"numeric","role":"feature","scores":{"psi":0.41,"ks":0.22},"pvalues_adjusted":{"ks":1e-6},'
        b'"rows":{"reference":5000,"current":4000},"missing_rate":{"reference":0.0,"current":null},"unseen":{},'
        b'"model_version":"v3"}',
    ),
    "categorical": (
        FeatureDriftFinding(
            model="fraud",
            feature="country",
            severity=Severity.PAGE,
            value=3.5,
            threshold=1.0,
            feature_kind="categorical",
            scores={"chi2": 12.5},
            pvalues_adjusted={"chi2": 3e-5},
            rows={"reference": 5000, "current": 4000},
            missing_rate={"reference": 0.0, "current": 0.0},
            unseen=(("XX", 7), ("YY", 2)),
            reasons=(Reason("psi", 3.5, 1.0, pvalue=1e-5, pvalue_bh=3e-5, pvalue_test="chi2"),),
        ),
        "4ff16e9e54638585",
        "FeatureDrift",
        "country",
        "Feature drift on fraud: country PSI 3.5 ≥ 1 (χ² p(BH) 3e-05)",
        FEATURE_TEXT.format("country"),
        b'{"reasons":[{"test":"psi","value":3.5,"threshold":1.0,"pvalue":0.00001,"pvalue_bh":0.00003,'
        b'"pvalue_test":"chi2"}],"held":false,"held_reasons":[],"kind":"categorical","role":"feature","scores":{"chi2":12.5},"pvalues_adjusted":{"chi2":0.00003},'
        b'"rows":{"reference":5000,"current":4000},"missing_rate":{"reference":0.0,"current":0.0},'
        b'"unseen":{"XX":7,"YY":2},"model_version":null}',
    ),
    "model": (
        ModelDriftFinding(
            model="fraud",
            severity=Severity.WARNING,
            value=0.6,
            threshold=0.5,
            drifted_features=("amount", "country"),
            prediction_drifted=True,
            critical_drifted=("country",),
            model_version="v3",
            reasons=(
                Reason("drift_share", 0.6, 0.5, features=("country", "amount")),
                Reason("critical", 1.0, 1.0, features=("country",)),
            ),
            top_features=(("country", (Reason("psi", 3.5, 1.0, pvalue=1e-5, pvalue_bh=3e-5, pvalue_test="chi2"),)),),
        ),
        "4cd03f219ad2789c",
        "ModelDrift",
        MODEL_SUBJECT,
        "Model drift on fraud v3: 2 input features drifted (share 60% ≥ 50%); critical feature country drifted"
        " — country PSI 3.5 ≥ 1 (χ² p(BH) 3e-05)",
        SEE_EVIDENCE,
        b'{"reasons":[{"test":"drift_share","value":0.6,"threshold":0.5,"features":["country","amount"]},'
        b'{"test":"critical","value":1.0,"threshold":1.0,"features":["country"]}],"top_features":[{"feature":'
        b'"country","reasons":[{"test":"psi","value":3.5,"threshold":1.0,"pvalue":0.00001,"pvalue_bh":0.00003,'
        b'"pvalue_test":"chi2"}]}],"drifted_features":["amount","country"],"prediction_drifted":true,"critical_drifted":["country"],'
        b'"model_version":"v3"}',
    ),
    "quality": (
        QualityDegradedFinding(
            model="fraud", severity=Severity.WARNING, value=0.7, threshold=0.9, metric="accuracy", pvalue=0.001
        ),
        "37ff35dc008e807c",
        "ModelQualityDegraded",
        QUALITY_SUBJECT,
        "Realized accuracy of fraud degraded: 0.7 now against 0.9 in its first labelled window (p 0.001)",
        "Labels joined to fraud's predictions (POST /v1/labels) show worse quality than when they started; "
        "compare with the drift of its features and its prediction (GET /v1/models/fraud/drift).",
        b'{"metric":"accuracy","pvalue":0.001,"baseline":0.9}',
    ),
    "estimated": (
        QualityEstimatedFinding(
            model="fraud",
            severity=Severity.WARNING,
            value=0.8,
            threshold=0.85,
            metric="accuracy",
            estimate=0.78,
            lower=0.76,
            upper=0.8,
            reference=0.9,
            margin=0.05,
            rows=5000,
            method="cbpe",
        ),
        "b158cde5f0543073",
        "ModelQualityEstimatedDegraded",
        ESTIMATED_QUALITY_SUBJECT,
        "Estimated accuracy of fraud degraded: 0.78 (band 0.76-0.8, CBPE, 5000 rows) is below 0.85, the "
        "reference's 0.9 with a margin of 0.05; no labels needed",
        "Estimated from fraud's current window without labels (CBPE, fitted on the reference's outputs and labels): "
        "the inputs moved where the model is less sure or less right. Compare with the drift of its features "
        "(GET /v1/models/fraud/drift); realized quality follows once labels are posted (POST /v1/labels).",
        b'{"metric":"accuracy","method":"cbpe","estimate":0.78,"band":[0.76,0.8],"reference":0.9,"margin":0.05,'
        b'"rows":5000}',
    ),
    "multivariate": (
        ModelMultivariateDriftFinding(
            model="fraud",
            method="pca",
            severity=Severity.WARNING,
            value=2.08,
            threshold=1.66,
            pvalue=1e-12,
            top_features=("x0", "x1"),
            rows=5000,
        ),
        "f1e510303d8914e5",
        "ModelMultivariateDrift",
        "__multivariate__:pca",
        "Multivariate drift on fraud (pca): mean reconstruction error 2.08 > 1.66, the reference's calibrated line "
        "for 5000 rows (p 1e-12) — most: x0, x1",
        "The current window of fraud, taken whole, differs from its reference: its rows are further from the "
        "reference's principal components than reference windows of its size. The features named moved the most "
        "together; each alone may not have drifted (a relation between them changed). See GET "
        "/v1/models/fraud/drift (multivariate) and the features' scatter against each other.",
        b'{"method":"pca","score":2.08,"threshold":1.66,"pvalue":1e-12,"top_features":[{"feature":"x0","reasons":[]},'
        b'{"feature":"x1","reasons":[]}],"rows":5000,"model_version":null}',
    ),
    "budget_page": (
        DriftBudgetFinding(model="fraud", severity=Severity.PAGE, value=20.0, threshold=14.4, **PAGE_BURN),
        "e9baa4337a57c96c",
        "DriftBudgetBurn",
        "drift_budget_page",
        "Drift budget of fraud burning 20.0x over 1h and 5m (threshold 14.4x)",
        SEE_EVIDENCE,
        b'{"windows":"1h and 5m","burn_rate":{"1h":20.0,"5m":30.0},"requests_short_window":1000,"objective":0.99,'
        b'"budget_remaining":0.5}',
    ),
    "budget_ticket": (
        DriftBudgetFinding(model="fraud", severity=Severity.TICKET, value=1.5, threshold=1.0, **TICKET_BURN),
        "e91b903fa3308974",
        "DriftBudgetBurn",
        "drift_budget_ticket",
        "Drift budget of fraud burning 1.5x over 3d and 6h (threshold 1.0x)",
        SEE_EVIDENCE,
        b'{"windows":"3d and 6h","burn_rate":{"3d":1.5,"6h":2.0},"requests_short_window":40,"objective":0.999,'
        b'"budget_remaining":-0.25}',
    ),
    "slo_page": (
        SLOBurnFinding(
            slo="api",
            severity=Severity.PAGE,
            value=20.0,
            threshold=14.4,
            labels={"service": "fraud", "model": "fraud"},
            **PAGE_BURN,
        ),
        "82ab5436dbb5e1fe",
        "SLOErrorBudgetBurn",
        "burn_rate_page",
        "SLO api burning its error budget 20.0x over 1h and 5m (threshold 14.4x)",
        SLO_TEXT,
        b'{"windows":"1h and 5m","burn_rate":{"1h":20.0,"5m":30.0},"requests_short_window":1000,"objective":0.99,'
        b'"budget_remaining":0.5}',
    ),
    "slo_ticket": (
        SLOBurnFinding(slo="checkout", severity=Severity.TICKET, value=1.5, threshold=1.0, **TICKET_BURN),
        "4ed910ff3ac8e516",
        "SLOErrorBudgetBurn",
        "burn_rate_ticket",
        "SLO checkout burning its error budget 1.5x over 3d and 6h (threshold 1.0x)",
        SLO_TEXT,
        b'{"windows":"3d and 6h","burn_rate":{"3d":1.5,"6h":2.0},"requests_short_window":40,"objective":0.999,'
        b'"budget_remaining":-0.25}',
    ),
    "gpu_xid": (
        GpuHealthFinding(
            gpu="GPU-0",
            condition=GpuCondition.XID,
            severity=Severity.PAGE,
            value=79.0,
            threshold=0.0,
            labels={"gpu": "0", "UUID": "GPU-0", "modelName": "H100", "xid": "79"},
            details={"count": 2, "last_seen": 1300.0, "description": "GPU has fallen off the bus"},
        ),
        "7f190c07ca32e9f9",
        "GPUXid",
        "xid",
        "GPU GPU-0: xid (value 79, threshold 0)",
        SEE_EVIDENCE,
        b'{"count":2,"last_seen":1300.0,"description":"GPU has fallen off the bus"}',
    ),
    "gpu_thermal": (
        GpuHealthFinding(
            gpu="GPU-1",
            condition=GpuCondition.THERMAL_THROTTLE,
            severity=Severity.WARNING,
            value=96.0,
            threshold=0.0,
            labels={"gpu": "1", "UUID": "GPU-1", "modelName": "H100"},
            details={"reasons": ["SwThermalSlowdown", "HwThermalSlowdown"], "mask": 96},
        ),
        "16d422d4d842f214",
        "GPUThermalThrottle",
        "thermal_throttle",
        "GPU GPU-1: thermal throttle (value 96, threshold 0)",
        SEE_EVIDENCE,
        b'{"reasons":["SwThermalSlowdown","HwThermalSlowdown"],"mask":96}',
    ),
    "data_quality": (
        DataQualityFinding(
            model="fraud",
            feature="age",
            constraint=ConstraintKind.RANGE,
            severity=Severity.WARNING,
            value=0.25,
            threshold=0.001,
            violations=50,
            rows=200,
            expected="within [0, 108]",
            examples=("-31", "-45"),
        ),
        "5803d10dd12be537",
        "DataQualityViolation",
        "age",
        "Data quality of fraud: age breaks its range constraint in 25.00% of the window (50 of 200 rows; "
        "allowed 0.10%): expected within [0, 108]; e.g. -31, -45",
        "Records of fraud break the data-quality constraints of models.fraud.constraints (or its constraints_file): "
        "check the producer of age for a unit, type or schema change; GET /v1/models/fraud/drift lists every "
        "violated constraint with examples.",
        b'{"constraint":"range","expected":"within [0, 108]","violations":50,"rows":200,"share":0.25,'
        b'"examples":["-31","-45"]}',
    ),
    "anomaly": (
        AnomalyFinding(
            signal="request_rate",
            severity=Severity.WARNING,
            value=-4.0,
            threshold=3.0,
            labels={"service": "api", "model": "fraud", "operation": "/v1/predict"},
            observed=12.0,
            baseline=20.0,
            spread=2.0,
            seasons=4,
            since=1_700_622_000.0,
            where="upstream traffic",
        ),
        "df22f21c7bbc3b82",
        "Anomaly",
        "request_rate",
        "Unusual request rate of model fraud, operation /v1/predict, service api for this time of the week: 12 "
        "against a baseline of 20 (down 40%, score -4.0, sensitivity 3, median of 4 past seasons)",
        "request_rate has been beyond 3 robust deviations (1.4826 x MAD, at least its floor 2) from the same time "
        "of the seasons before since 2023-11-22 03:00 UTC. Where to look: upstream traffic",
        b'{"signal":"request_rate","observed":12.0,"baseline":20.0,"spread":2.0,"score":-4.0,"sensitivity":3.0,'
        b'"seasons":4,"since":1700622000.0,"where":"upstream traffic"}',
    ),
}


@pytest.mark.parametrize("name", CASES)
def test_fingerprint_alert_text_and_evidence_are_what_they_were(name: str) -> None:
    finding, fp, alertname, subject, summary, description, evidence = CASES[name]
    labels, annotations = describe(finding)
    assert fingerprint(finding) == fp == labelset_fingerprint(labels)
    assert (finding.alertname, labels["alertname"], finding.subject, labels["subject"]) == (
        alertname,
        alertname,
        subject,
        subject,
    )
    assert annotations == {"summary": summary, "description": description}
    assert orjson.dumps(dict(finding.evidence)) == evidence


def test_kinds_targets_and_labels() -> None:
    kinds = {name: (c[0].kind, c[0].model, c[0].slo, c[0].gpu) for name, c in CASES.items()}
    assert kinds == {
        "embedding": (FindingKind.DRIFT, "search", None, None),
        "feature": (FindingKind.DRIFT, "fraud", None, None),
        "categorical": (FindingKind.DRIFT, "fraud", None, None),
        "model": (FindingKind.DRIFT, "fraud", None, None),
        "quality": (FindingKind.DRIFT, "fraud", None, None),
        "estimated": (FindingKind.DRIFT, "fraud", None, None),
        "multivariate": (FindingKind.DRIFT, "fraud", None, None),
        "budget_page": (FindingKind.DRIFT, "fraud", None, None),
        "budget_ticket": (FindingKind.DRIFT, "fraud", None, None),
        "slo_page": (FindingKind.SLO, None, "api", None),
        "slo_ticket": (FindingKind.SLO, None, "checkout", None),
        "gpu_xid": (FindingKind.GPU, None, None, "GPU-0"),
        "gpu_thermal": (FindingKind.GPU, None, None, "GPU-1"),
        "data_quality": (FindingKind.DATA_QUALITY, "fraud", None, None),
        "anomaly": (FindingKind.ANOMALY, "fraud", None, None),
    }
    labels, _ = describe(CASES["slo_page"][0])
    assert labels == {
        "alertname": "SLOErrorBudgetBurn",
        "kind": "slo",
        "severity": "page",
        "subject": "burn_rate_page",
        "service": "fraud",
        "model": "fraud",
        "slo": "api",
    }


def test_every_gpu_condition_names_its_alert() -> None:
    assert {c.value: c.alertname for c in GpuCondition} == {
        "xid": "GPUXid",
        "lost": "GPULost",
        "framebuffer": "GPUFramebuffer",
        "thermal_throttle": "GPUThermalThrottle",
        "power_throttle": "GPUPowerThrottle",
        "hw_slowdown": "GPUHwSlowdown",
        "hung": "GPUHung",
        "ecc": "GPUEcc",
        "remapped_rows": "GPURemappedRows",
    }


def test_findings_are_frozen_and_evidence_is_read_only() -> None:
    finding = CASES["feature"][0]
    with pytest.raises(dataclasses.FrozenInstanceError):
        finding.value = 1.0  # type: ignore[misc]
    with pytest.raises(TypeError):
        finding.evidence["model_version"] = "v4"  # type: ignore[index]
    finding.evidence["scores"]["psi"] = 9.0  # a copy: the finding keeps its own
    assert finding.evidence["scores"]["psi"] == 0.41


# --- evidence is JSON, whatever the values ----------------------------------------------------------

names = st.text(min_size=1, max_size=12)
floats = st.floats(allow_nan=False, allow_infinity=False)
counts = st.integers(min_value=0, max_value=2**53)
severities = st.sampled_from(list(Severity))
windows = st.sampled_from(["5m", "30m", "1h", "2h", "6h", "1d", "3d"])
base = {"severity": severities, "value": floats, "threshold": floats, "at": floats}

feature_drift = st.builds(
    FeatureDriftFinding,
    model=names,
    feature=names,
    feature_kind=st.sampled_from(["numeric", "categorical"]),
    role=st.sampled_from(["feature", "prediction"]),
    scores=st.dictionaries(names, floats, max_size=5),
    pvalues_adjusted=st.dictionaries(names, floats, max_size=5),
    rows=st.dictionaries(names, counts, max_size=3),
    missing_rate=st.dictionaries(names, st.none() | floats, max_size=3),
    unseen=st.lists(st.tuples(names, counts), max_size=5, unique_by=lambda pair: pair[0]).map(tuple),
    model_version=st.none() | names,
    **base,
)
model_drift = st.builds(
    ModelDriftFinding,
    model=names,
    drifted_features=st.lists(names, max_size=5).map(tuple),
    prediction_drifted=st.booleans(),
    critical_drifted=st.lists(names, max_size=3).map(tuple),
    model_version=st.none() | names,
    **base,
)
quality = st.builds(QualityDegradedFinding, model=names, metric=names, pvalue=floats, **base)
burn = {
    "long_window": windows,
    "short_window": windows,
    "long_burn_rate": floats,
    "short_burn_rate": floats,
    "requests_short_window": counts,
    "objective": floats,
    "budget_remaining": floats,
}
drift_budget = st.builds(DriftBudgetFinding, model=names, **burn, **base)
slo_burn = st.builds(SLOBurnFinding, slo=names, labels=st.dictionaries(names, names, max_size=2), **burn, **base)
json_values = st.recursive(
    st.none() | st.booleans() | counts | floats | names,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(names, inner, max_size=3),
    max_leaves=8,
)
gpu_health = st.builds(
    GpuHealthFinding,
    gpu=names,
    condition=st.sampled_from(list(GpuCondition)),
    details=st.dictionaries(names, json_values, max_size=4),
    **base,
)


@settings(max_examples=40, deadline=None)
@given(st.one_of(feature_drift, model_drift, quality, drift_budget, slo_burn, gpu_health))
def test_evidence_round_trips_through_json(finding: Finding) -> None:
    evidence = dict(finding.evidence)
    assert orjson.loads(orjson.dumps(evidence)) == evidence
    labels, annotations = describe(finding)
    assert labels["alertname"] == finding.alertname and labels["kind"] == finding.kind.value
    assert len(annotations["summary"]) <= 1024 and len(fingerprint(finding)) == 16


def test_every_alert_name_is_in_the_one_list_the_config_checks_runbooks_against() -> None:
    from driftwarden.core.alert_names import ALERT_NAMES

    raised = {c[0].alertname for c in CASES.values()} | {condition.alertname for condition in GpuCondition}
    assert raised == set(ALERT_NAMES)
