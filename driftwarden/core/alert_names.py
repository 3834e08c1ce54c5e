"""Every alert name the daemon's own engine raises, once: the findings take theirs from here, and the
config checks `alerting.runbooks` keys against them (the bottom layer, so both can import it); and where
the daemon serves each alert's runbook."""

from __future__ import annotations

__all__ = ["ALERT_NAMES", "GPU_ALERT_NAMES", "RUNBOOKS_PATH", "runbook_anchor", "runbook_path"]

FEATURE_DRIFT = "FeatureDrift"
MODEL_DRIFT = "ModelDrift"
MODEL_EMBEDDING_DRIFT = "ModelEmbeddingDrift"
MODEL_QUALITY_DEGRADED = "ModelQualityDegraded"
MODEL_QUALITY_ESTIMATED_DEGRADED = "ModelQualityEstimatedDegraded"
MODEL_MULTIVARIATE_DRIFT = "ModelMultivariateDrift"
DRIFT_BUDGET_BURN = "DriftBudgetBurn"
SLO_ERROR_BUDGET_BURN = "SLOErrorBudgetBurn"
DATA_QUALITY_VIOLATION = "DataQualityViolation"
ANOMALY = "Anomaly"  # a signal unusual for its time of the week (detectors/seasonal.py)
# "GPU" and the condition in title case (detectors/findings.py GpuCondition)
GPU_ALERT_NAMES = (
    "GPUXid",
    "GPULost",
    "GPUFramebuffer",
    "GPUThermalThrottle",
    "GPUPowerThrottle",
    "GPUHwSlowdown",
    "GPUHung",
    "GPUEcc",
    "GPURemappedRows",
)
ALERT_NAMES = (
    FEATURE_DRIFT,
    MODEL_DRIFT,
    MODEL_EMBEDDING_DRIFT,
    MODEL_QUALITY_DEGRADED,
    MODEL_QUALITY_ESTIMATED_DEGRADED,
    MODEL_MULTIVARIATE_DRIFT,
    DRIFT_BUDGET_BURN,
    SLO_ERROR_BUDGET_BURN,
    DATA_QUALITY_VIOLATION,
    ANOMALY,
    *GPU_ALERT_NAMES,
)

# Where each alert's runbook is unless `alerting.runbooks` names another: on the daemon itself, which
# serves the runbook sections of docs/operators-guide.md (driftwarden.ui.runbooks).
RUNBOOKS_PATH = "/runbooks"


def runbook_path(alertname: str) -> str:
    """The daemon's page of the alert's runbook, relative to its external URL.

    >>> runbook_path("FeatureDrift")
    '/runbooks/FeatureDrift'
    """
    return f"{RUNBOOKS_PATH}/{alertname}"


def runbook_anchor(alertname: str) -> str:
    """The id of the alert's runbook section on /runbooks ("### Runbook: FeatureDrift" -> "runbook-featuredrift").

    >>> runbook_anchor("SLOErrorBudgetBurn")
    'runbook-sloerrorbudgetburn'
    """
    return "runbook-" + alertname.lower()
