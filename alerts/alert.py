"""An alert: a finding that persists, with a stable identity and words a person can act on."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from driftwarden.alerts.labelset import fingerprint as labels_fingerprint
from driftwarden.detectors.embedding import EmbeddingDriftFinding
from driftwarden.detectors.findings import (
    AnomalyFinding,
    DataQualityFinding,
    DriftBudgetFinding,
    FeatureDriftFinding,
    Finding,
    GpuHealthFinding,
    ModelDriftFinding,
    ModelMultivariateDriftFinding,
    QualityDegradedFinding,
    QualityEstimatedFinding,
    SLOBurnFinding,
)
from driftwarden.detectors.reasons import Reason, headline, reasons_text

__all__ = ["Alert", "AlertStatus", "alert_labels", "describe", "fingerprint"]


class AlertStatus(enum.StrEnum):
    PENDING = "pending"
    FIRING = "firing"
    RESOLVED = "resolved"


@dataclass
class Alert:
    fingerprint: str  # Alertmanager's, of `labels`: one identity here, in every payload and in Alertmanager
    labels: dict[str, str]
    annotations: dict[str, str]
    value: float
    threshold: float
    evidence: dict[str, Any]
    status: AlertStatus = AlertStatus.PENDING
    first_seen: float = 0.0
    starts_at: float | None = None  # when it began firing
    ends_at: float | None = None  # when it resolved
    hits: int = 0  # consecutive evaluations with the finding present
    absent_since: float | None = None  # finding gone, resolve held back until resolve_hold passes
    silenced_by: list[str] = field(default_factory=list)
    inhibited_by: list[str] = field(default_factory=list)  # fingerprints of the firing alerts that mute it
    # an alert that fired before the fingerprint became Alertmanager's keeps the key its incident was opened with
    incident_key: str | None = None

    @property
    def name(self) -> str:
        return self.labels["alertname"]

    @property
    def dedup_key(self) -> str:
        """What a paging service deduplicates this alert by (PagerDuty's `dedup_key`)."""
        return self.incident_key or self.fingerprint

    def to_dict(self) -> dict[str, Any]:
        return {
            "fingerprint": self.fingerprint,
            "status": self.status.value,
            "labels": self.labels,
            "annotations": self.annotations,
            "value": self.value,
            "threshold": self.threshold,
            "startsAt": self.starts_at,
            "endsAt": self.ends_at,
            "silencedBy": self.silenced_by,
            "inhibitedBy": self.inhibited_by,
        }


def fingerprint(finding: Finding) -> str:
    """Alertmanager's fingerprint of the finding's alert labels: stable across evaluations and restarts,
    and the value Alertmanager computes for the same alert."""
    return labels_fingerprint(alert_labels(finding))


def alert_labels(finding: Finding) -> dict[str, str]:
    """The labels of a finding's alert: alertname, kind, severity, subject, its own labels, model/slo/gpu."""
    labels = {
        "alertname": finding.alertname,
        "kind": finding.kind.value,
        "severity": finding.severity.value,
        "subject": finding.subject,
        **finding.labels,
    }
    for key in ("model", "slo", "gpu"):
        value = getattr(finding, key)
        if value:
            labels[key] = value
    return labels


def describe(finding: Finding) -> tuple[dict[str, str], dict[str, str]]:
    """(labels, annotations) for a finding: alertname, kind, target, subject, severity; summary, description."""
    return alert_labels(finding), {"summary": _summary(finding)[:1024], "description": _description(finding)}


def _summary(f: Finding) -> str:
    match f:
        case FeatureDriftFinding():
            return f"Feature drift on {_versioned(f.model, f.model_version)}: {f.feature} {_feature_why(f)}"
        case ModelDriftFinding():
            why = "; ".join(r.text() for r in f.reasons) or (
                f"held: {f.value:.0%} of input features drifted now, no test of the model rule fires"
            )
            top = ", ".join(f"{name} {_headline(reasons)}" for name, reasons in f.top_features[:3])
            target = _versioned(f.model, f.model_version) + _segment(f)
            return f"Model drift on {target}: {why}" + (f" — {top}" if top else "")
        case QualityDegradedFinding():
            return (
                f"Realized {f.metric} of {f.model} degraded: {f.value:.3g} now against {f.threshold:.3g} in its "
                f"first labelled window (p {f.pvalue:.1g})"
            )
        case QualityEstimatedFinding():
            worse = "above" if f.metric in ("mae", "rmse") else "below"
            return (
                f"Estimated {f.metric} of {f.model}{_segment(f)} degraded: {f.estimate:.3g} (band {f.lower:.3g}-"
                f"{f.upper:.3g}, {f.method.upper()}, {f.rows} rows) is {worse} {f.threshold:.3g}, the reference's "
                f"{f.reference:.3g} with a margin of {f.margin:g}; no labels needed"
            )
        case EmbeddingDriftFinding():
            methods = ", ".join(
                f"{d.method} {d.score:.3g}" + (f" (p {d.pvalue:.2g})" if d.pvalue is not None else "")
                for d in f.methods
                if d.drifted
            )
            return f"Embedding drift on {_versioned(f.model, f.model_version)}: {f.embedding} drifted by {methods}"
        case DataQualityFinding():
            shown = ", ".join(f.examples)
            return (
                f"Data quality of {f.model}: {f.feature} breaks its {f.constraint.value} constraint in {f.value:.2%} "
                f"of the window ({f.violations} of {f.rows} rows; allowed {f.threshold:.2%}): expected {f.expected}"
                + (f"; e.g. {shown}" if shown else "")
            )
        case ModelMultivariateDriftFinding():
            measure = "mean reconstruction error" if f.method == "pca" else "held-out AUROC"
            where = f" — most: {', '.join(f.top_features)}" if f.top_features else ""
            return (
                f"Multivariate drift on {_versioned(f.model, f.model_version)} ({f.method}): {measure} {f.value:.3g} "
                f"> {f.threshold:.3g}, the reference's calibrated line for {f.rows} rows (p {f.pvalue:.1g}){where}"
            )
        case DriftBudgetFinding():
            return f"Drift budget of {f.model} burning {f.value:.1f}x over {f.windows} (threshold {f.threshold}x)"
        case SLOBurnFinding():
            return f"SLO {f.slo} burning its error budget {f.value:.1f}x over {f.windows} (threshold {f.threshold}x)"
        case GpuHealthFinding():
            condition = f.condition.value.replace("_", " ")
            instance = f.labels.get("GPU_I_ID")
            mig = f" MIG instance {instance} ({f.labels.get('GPU_I_PROFILE', '')})" if instance else ""
            return f"GPU {f.gpu}{mig}: {condition} (value {f.value:g}, threshold {f.threshold:g})"
        case AnomalyFinding():
            series = ", ".join(f"{k} {v}" for k, v in sorted(f.labels.items()) if v)
            change = (f.observed - f.baseline) / abs(f.baseline) if f.baseline else float("nan")
            moved = f"{'up' if f.observed >= f.baseline else 'down'} {abs(change):.0%}" if f.baseline else "moved"
            return (
                f"Unusual {f.signal.replace('_', ' ')}{f' of {series}' if series else ''} for this time of the week: "
                f"{f.observed:.4g} against a baseline of {f.baseline:.4g} ({moved}, score {f.value:+.1f}, "
                f"sensitivity {f.threshold:g}, median of {f.seasons} past seasons)"
            )
    raise TypeError(f"no alert text for {type(f).__name__}")


def _description(f: Finding) -> str:
    match f:
        case QualityDegradedFinding():
            return (
                f"Labels joined to {f.model}'s predictions (POST /v1/labels) show worse quality than when they "
                f"started; compare with the drift of its features and its prediction (GET /v1/models/{f.model}/drift)."
            )
        case QualityEstimatedFinding():
            return (
                f"Estimated from {f.model}'s current window without labels ({f.method.upper()}, fitted on the "
                "reference's outputs and labels): the inputs moved where the model is less sure or less right. "
                f"Compare with the drift of its features (GET /v1/models/{f.model}/drift); realized quality follows "
                "once labels are posted (POST /v1/labels)."
            )
        case ModelMultivariateDriftFinding():
            how = (
                "its rows are further from the reference's principal components than reference windows of its size"
                if f.method == "pca"
                else "a classifier tells its rows from the reference's better than chance"
            )
            return (
                f"The current window of {f.model}, taken whole, differs from its reference: {how}. The features "
                "named moved the most together; each alone may not have drifted (a relation between them changed). "
                f"See GET /v1/models/{f.model}/drift (multivariate) and the features' scatter against each other."
            )
        case FeatureDriftFinding():
            return (
                f"The current window of {f.model} differs from its reference in {f.feature}; "
                f"see GET /v1/models/{f.model}/drift for every statistic, and the feature detail dashboard."
            )
        case EmbeddingDriftFinding():
            return (
                f"The vectors {f.model} sends as {f.embedding!r} moved away from its reference's; the model page "
                f"shows both on the reference's first two principal components (GET /v1/models/{f.model}/drift)."
            )
        case DataQualityFinding():
            return (
                f"Records of {f.model} break the data-quality constraints of models.{f.model}.constraints "
                f"(or its constraints_file): check the producer of {f.feature} for a unit, type or schema change; "
                f"GET /v1/models/{f.model}/drift lists every violated constraint with examples."
            )
        case AnomalyFinding():
            return (
                f"{f.signal} has been beyond {f.threshold:g} robust deviations (1.4826 x MAD, at least its floor "
                f"{f.spread:.4g}) from the same time of the seasons before since {_utc(f.since)}. Where to look: "
                f"{f.where}"
            )
        case SLOBurnFinding():
            return "Check recent deploys and traffic of the SLO's service; GET /v1/slos has p50/p95/p99 and burn rates."
    return "See the evidence in custom details."


def _feature_why(f: FeatureDriftFinding) -> str:
    """The tests that fired, headline first; a feature held by hysteresis says so instead of naming a
    statistic under its threshold."""
    if f.reasons:
        return reasons_text(f.reasons, limit=2)
    last = f" (last drifted with {_headline(f.held_reasons)})" if f.held_reasons else ""
    return (
        f"still held as drifted{last}: no test fires now, its effect is at {f.value:.0%} of its threshold "
        "and clears below 80%"
    )


def _headline(reasons: tuple[Reason, ...]) -> str:
    top = headline(reasons)
    return top.text() if top else "held"


def _segment(f: Finding) -> str:
    """ " segment country=BR" for a finding about one segment of a model; "" for the whole model."""
    segment = f.labels.get("segment")
    return f" segment {segment}" if segment else ""


def _versioned(model: str, version: str | None) -> str:
    return f"{model} {version}" if version else model


def _utc(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%d %H:%M UTC")
