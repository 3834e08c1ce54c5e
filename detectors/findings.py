"""What a detector tells the rest of driftwarden: one frozen value type per kind of finding.

Every finding has a severity, a `value` compared with a `threshold`, extra `labels` and the
time `at` which it held. Its type says what it is about and so which alert it raises:

    FeatureDriftFinding      FeatureDrift            a feature (or the prediction) of a model drifted
    ModelDriftFinding        ModelDrift              the model's share of drifted features, or a critical one
    QualityDegradedFinding   ModelQualityDegraded    realized quality (joined labels) fell from its baseline
    QualityEstimatedFinding  ModelQualityEstimatedDegraded  estimated quality (no labels) fell below the reference's
    DriftBudgetFinding       DriftBudgetBurn         evaluations in drift burn the model's drift budget
    DataQualityFinding       DataQualityViolation    a feature breaks its data-quality constraint (range, type, ...)
    SLOBurnFinding           SLOErrorBudgetBurn      an SLO burns its error budget
    GpuHealthFinding         GPU<Condition>          a GPU is lost, throttled, out of memory, ... (GPUXid, ...)
    AnomalyFinding           Anomaly                 a signal is unusual for its time of the week (seasonal.py)

What an on-call engineer needs to check a finding is held in typed fields; `evidence` shows
them as the plain mapping that alert payloads carry (PagerDuty `custom_details`, the alert
state of GET /v1/alerts). `subject` and `kind` name the finding in alert labels and, with the
target (`model`, `slo` or `gpu`) and the labels, make its fingerprint.

>>> f = FeatureDriftFinding(model="fraud", feature="amount", severity=Severity.WARNING, value=0.4, threshold=0.2)
>>> f.alertname, f.kind.value, f.subject, f.model, f.slo
('FeatureDrift', 'drift', 'amount', 'fraud', None)
"""

from __future__ import annotations

import abc
import enum
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, ClassVar

from driftwarden.core import alert_names as names
from driftwarden.core.constraints import ConstraintKind
from driftwarden.detectors.reasons import Reason, ordered

__all__ = [
    "ESTIMATED_QUALITY_SUBJECT",
    "MODEL_SUBJECT",
    "QUALITY_SUBJECT",
    "AnomalyFinding",
    "BurnRateFinding",
    "DataQualityFinding",
    "DriftBudgetFinding",
    "FeatureDriftFinding",
    "Finding",
    "FindingKind",
    "GpuCondition",
    "GpuHealthFinding",
    "ModelDriftFinding",
    "QualityDegradedFinding",
    "QualityEstimatedFinding",
    "SLOBurnFinding",
    "Severity",
]

MODEL_SUBJECT = "__model__"  # the subject of a finding about the whole model, not one feature
QUALITY_SUBJECT = "__quality__"  # the subject of a finding about realized quality (joined labels)
ESTIMATED_QUALITY_SUBJECT = "__quality_estimated__"  # ... about estimated quality (detectors/estimation.py)


class FindingKind(enum.StrEnum):
    """The `kind` label of an alert: which family of detectors found it."""

    DRIFT = "drift"
    SLO = "slo"
    GPU = "gpu"
    DATA_QUALITY = "data_quality"
    ANOMALY = "anomaly"


class Severity(enum.StrEnum):
    INFO = "info"
    WARNING = "warning"
    TICKET = "ticket"
    PAGE = "page"


@dataclass(frozen=True, kw_only=True, slots=True)
class Finding(abc.ABC):
    """One thing a detector found in one evaluation; subclasses say what it is about."""

    kind: ClassVar[FindingKind]
    severity: Severity
    value: float
    threshold: float
    labels: Mapping[str, str] = field(default_factory=dict)
    at: float = field(default_factory=time.time)

    @property
    @abc.abstractmethod
    def alertname(self) -> str:
        """The name of the alert this finding raises."""

    @property
    @abc.abstractmethod
    def subject(self) -> str:
        """What inside the model, SLO or GPU the finding is about (a feature, a burn-rate tier, a condition)."""

    @property
    @abc.abstractmethod
    def evidence(self) -> Mapping[str, Any]:
        """The typed fields as the plain, JSON-ready mapping that alert payloads carry."""

    @property
    def model(self) -> str | None:
        """The model the finding is about, if it is about one."""
        return None

    @property
    def slo(self) -> str | None:
        return None

    @property
    def gpu(self) -> str | None:
        return None


# --- drift of one model --------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True, slots=True)
class FeatureDriftFinding(Finding):
    """A feature (or the prediction, `role="prediction"`) whose current window differs from its reference."""

    kind: ClassVar[FindingKind] = FindingKind.DRIFT
    alertname: ClassVar[str] = names.FEATURE_DRIFT
    model: str
    feature: str
    feature_kind: str = "numeric"  # or "categorical"
    role: str = "feature"  # or "prediction": the model's output
    scores: Mapping[str, float] = field(default_factory=dict)
    pvalues_adjusted: Mapping[str, float] = field(default_factory=dict)
    rows: Mapping[str, int] = field(default_factory=dict)
    missing_rate: Mapping[str, float | None] = field(default_factory=dict)
    unseen: tuple[tuple[str, int], ...] = ()  # categorical: the most frequent categories the reference lacks
    model_version: str | None = None
    reasons: tuple[Reason, ...] = ()  # the tests that fired, headline first; () when only held by hysteresis
    held_reasons: tuple[Reason, ...] = ()  # held: the reasons it last drifted with

    @property
    def subject(self) -> str:
        return self.feature

    @property
    def evidence(self) -> Mapping[str, Any]:
        return MappingProxyType(
            {
                "reasons": [r.to_dict() for r in ordered(self.reasons)],
                "held": not self.reasons,
                "held_reasons": [r.to_dict() for r in self.held_reasons],
                "kind": self.feature_kind,
                "role": self.role,
                "scores": dict(self.scores),
                "pvalues_adjusted": dict(self.pvalues_adjusted),
                "rows": dict(self.rows),
                "missing_rate": dict(self.missing_rate),
                "unseen": dict(self.unseen),
                "model_version": self.model_version,
            }
        )


@dataclass(frozen=True, kw_only=True, slots=True)
class ModelDriftFinding(Finding):
    """The model drifted: `value` is its share of drifted input features, or a critical feature drifted."""

    kind: ClassVar[FindingKind] = FindingKind.DRIFT
    alertname: ClassVar[str] = names.MODEL_DRIFT
    model: str
    drifted_features: tuple[str, ...] = ()
    prediction_drifted: bool = False
    critical_drifted: tuple[str, ...] = ()
    model_version: str | None = None
    reasons: tuple[Reason, ...] = ()  # drift_share and/or critical; () when only the stable verdict holds
    top_features: tuple[tuple[str, tuple[Reason, ...]], ...] = ()  # the most decisive drifted features, with theirs

    @property
    def subject(self) -> str:
        return MODEL_SUBJECT

    @property
    def evidence(self) -> Mapping[str, Any]:
        return MappingProxyType(
            {
                "reasons": [r.to_dict() for r in self.reasons],
                "top_features": [
                    {"feature": name, "reasons": [r.to_dict() for r in reasons]} for name, reasons in self.top_features
                ],
                "drifted_features": list(self.drifted_features),
                "prediction_drifted": self.prediction_drifted,
                "critical_drifted": list(self.critical_drifted),
                "model_version": self.model_version,
            }
        )


@dataclass(frozen=True, kw_only=True, slots=True)
class QualityDegradedFinding(Finding):
    """Realized quality `metric` fell to `value` from `threshold`, the baseline of the first labelled window."""

    kind: ClassVar[FindingKind] = FindingKind.DRIFT
    alertname: ClassVar[str] = names.MODEL_QUALITY_DEGRADED
    model: str
    metric: str  # accuracy, f1, mae, rmse
    pvalue: float

    @property
    def subject(self) -> str:
        return QUALITY_SUBJECT

    @property
    def baseline(self) -> float:
        return self.threshold

    @property
    def evidence(self) -> Mapping[str, Any]:
        return MappingProxyType({"metric": self.metric, "pvalue": self.pvalue, "baseline": self.baseline})


@dataclass(frozen=True, kw_only=True, slots=True)
class QualityEstimatedFinding(Finding):
    """Estimated quality `metric` (CBPE, DLE) is worse than the reference's by more than `margin`, even at the
    favourable end of its band: `value` is that end (`upper`, or `lower` for mae/rmse), `threshold` the line."""

    kind: ClassVar[FindingKind] = FindingKind.DRIFT
    alertname: ClassVar[str] = names.MODEL_QUALITY_ESTIMATED_DEGRADED
    model: str
    metric: str  # accuracy, f1, precision, recall, roc_auc, mae, rmse
    estimate: float
    lower: float
    upper: float
    reference: float  # the realized metric on the reference
    margin: float
    rows: int
    method: str  # cbpe or dle

    @property
    def subject(self) -> str:
        return ESTIMATED_QUALITY_SUBJECT

    @property
    def evidence(self) -> Mapping[str, Any]:
        return MappingProxyType(
            {
                "metric": self.metric,
                "method": self.method,
                "estimate": self.estimate,
                "band": [self.lower, self.upper],
                "reference": self.reference,
                "margin": self.margin,
                "rows": self.rows,
            }
        )


# --- data quality ----------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True, slots=True)
class DataQualityFinding(Finding):
    """A feature of a model breaks a data-quality constraint in more than `threshold` of its window's
    rows: `value` is that share (detectors/constraints.py). Its alert carries the label `constraint`."""

    kind: ClassVar[FindingKind] = FindingKind.DATA_QUALITY
    alertname: ClassVar[str] = names.DATA_QUALITY_VIOLATION
    model: str
    feature: str
    constraint: ConstraintKind
    violations: int  # violating values in the window
    rows: int  # rows in the window
    expected: str  # the constraint in words ("within [0, 120]")
    examples: tuple[str, ...] = ()  # a few violating values ("[redacted]" for a feature in `redact`)

    def __post_init__(self) -> None:
        if "constraint" not in self.labels:
            object.__setattr__(self, "labels", {**self.labels, "constraint": self.constraint.value})

    @property
    def subject(self) -> str:
        return self.feature

    @property
    def evidence(self) -> Mapping[str, Any]:
        return MappingProxyType(
            {
                "constraint": self.constraint.value,
                "expected": self.expected,
                "violations": self.violations,
                "rows": self.rows,
                "share": self.value,
                "examples": list(self.examples),
            }
        )


# --- error budgets burning -----------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True, slots=True)
class BurnRateFinding(Finding):
    """A budget burning faster than `threshold` times its rate over a long and a short window alike.

    `value` is the lower of the two burn rates; one finding per severity tier (the subject ends
    in the severity).
    """

    long_window: str  # "1h", "6h", "1d", "3d"
    short_window: str  # "5m", "30m", "2h", "6h"
    long_burn_rate: float
    short_burn_rate: float
    requests_short_window: int  # events counted in the short window
    objective: float
    budget_remaining: float  # share of the period's budget left (0: exhausted)

    @property
    def windows(self) -> str:
        return f"{self.long_window} and {self.short_window}"

    @property
    def evidence(self) -> Mapping[str, Any]:
        return MappingProxyType(
            {
                "windows": self.windows,
                "burn_rate": {self.long_window: self.long_burn_rate, self.short_window: self.short_burn_rate},
                "requests_short_window": self.requests_short_window,
                "objective": self.objective,
                "budget_remaining": self.budget_remaining,
            }
        )


@dataclass(frozen=True, kw_only=True, slots=True)
class SLOBurnFinding(BurnRateFinding):
    """An SLO burning its error budget; `labels` carry its service and model selectors."""

    kind: ClassVar[FindingKind] = FindingKind.SLO
    alertname: ClassVar[str] = names.SLO_ERROR_BUDGET_BURN
    slo: str

    @property
    def subject(self) -> str:
        return f"burn_rate_{self.severity.value}"


@dataclass(frozen=True, kw_only=True, slots=True)
class DriftBudgetFinding(BurnRateFinding):
    """A model's evaluations in drift burning its drift budget (detectors/drift_budget.py)."""

    kind: ClassVar[FindingKind] = FindingKind.DRIFT
    alertname: ClassVar[str] = names.DRIFT_BUDGET_BURN
    model: str

    @property
    def subject(self) -> str:
        return f"drift_budget_{self.severity.value}"


# --- GPU health ----------------------------------------------------------------------------------


class GpuCondition(enum.StrEnum):
    """What is wrong with a GPU (detectors/gpu.py `GpuHealth`); each raises its own alert."""

    XID = "xid"
    LOST = "lost"
    FRAMEBUFFER = "framebuffer"
    THERMAL_THROTTLE = "thermal_throttle"
    POWER_THROTTLE = "power_throttle"
    HW_SLOWDOWN = "hw_slowdown"
    HUNG = "hung"
    ECC = "ecc"
    REMAPPED_ROWS = "remapped_rows"

    @property
    def alertname(self) -> str:
        """ "GPU" and the condition in title case: GPUXid, GPUThermalThrottle, ..."""
        return "GPU" + "".join(part.title() for part in self.value.split("_"))


@dataclass(frozen=True, kw_only=True, slots=True)
class GpuHealthFinding(Finding):
    """A GPU in `condition`; `labels` name it (index, UUID, model name, XID), `details` hold what was read."""

    kind: ClassVar[FindingKind] = FindingKind.GPU
    gpu: str  # the GPU's key: its UUID, else its index
    condition: GpuCondition
    details: Mapping[str, Any] = field(default_factory=dict)  # per condition: counts, times, reasons, ...

    @property
    def alertname(self) -> str:
        return self.condition.alertname

    @property
    def subject(self) -> str:
        return self.condition.value

    @property
    def evidence(self) -> Mapping[str, Any]:
        return MappingProxyType(dict(self.details))


# --- anomalies of the daemon's own series ---------------------------------------------------------


@dataclass(frozen=True, kw_only=True, slots=True)
class AnomalyFinding(Finding):
    """A signal (request rate, error ratio, p99 latency, GPU utilisation or memory, prediction volume) unusual
    for its time of the week: `value` is its robust z-score, `threshold` the sensitivity; `labels` name the
    series (service, model, operation; gpu; model), bounded as the daemon's own series are."""

    kind: ClassVar[FindingKind] = FindingKind.ANOMALY
    alertname: ClassVar[str] = names.ANOMALY
    signal: str
    observed: float
    baseline: float  # the median of the same slot in the seasons before
    spread: float  # 1.4826 x MAD, at least its floor
    seasons: int  # past values the baseline had
    since: float  # unix time the score first went beyond the sensitivity
    where: str  # where to look first

    @property
    def subject(self) -> str:
        return self.signal

    @property
    def model(self) -> str | None:
        return self.labels.get("model") or None

    @property
    def gpu(self) -> str | None:
        return self.labels.get("gpu") or None

    @property
    def evidence(self) -> Mapping[str, Any]:
        return MappingProxyType(
            {
                "signal": self.signal,
                "observed": self.observed,
                "baseline": self.baseline,
                "spread": self.spread,
                "score": self.value,
                "sensitivity": self.threshold,
                "seasons": self.seasons,
                "since": self.since,
                "where": self.where,
            }
        )
