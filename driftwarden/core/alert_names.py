"""Every alert name the daemon's own engine raises, once: the findings take theirs from here, and the
config checks `alerting.runbooks` keys against them (the bottom layer, so both can import it)."""

from __future__ import annotations

__all__ = ["ALERT_NAMES", "GPU_ALERT_NAMES", "runbook_anchor"]

FEATURE_DRIFT = "FeatureDrift"
MODEL_DRIFT = "ModelDrift"
MODEL_QUALITY_DEGRADED = "ModelQualityDegraded"
MODEL_QUALITY_ESTIMATED_DEGRADED = "ModelQualityEstimatedDegraded"
DRIFT_BUDGET_BURN = "DriftBudgetBurn"
SLO_ERROR_BUDGET_BURN = "SLOErrorBudgetBurn"
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
    MODEL_QUALITY_DEGRADED,
    MODEL_QUALITY_ESTIMATED_DEGRADED,
    DRIFT_BUDGET_BURN,
    SLO_ERROR_BUDGET_BURN,
    *GPU_ALERT_NAMES,
)

# Where each alert's runbook is unless `alerting.runbooks` names another: a section of the operator's guide.
OPERATORS_GUIDE_URL = "https://github.com/driftwarden/driftwarden/blob/main/docs/operators-guide.md"


def runbook_anchor(alertname: str) -> str:
    """The anchor of the alert's runbook section ("### Runbook: FeatureDrift" -> "runbook-featuredrift").

    >>> runbook_anchor("SLOErrorBudgetBurn")
    'runbook-sloerrorbudgetburn'
    """
    return "runbook-" + alertname.lower()
