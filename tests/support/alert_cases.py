"""Findings, alerting settings and the notifications the dispatcher makes of them, for receiver tests:
a feature drift of fraud's `amount` (PSI 0.41 over 0.2) and a model drift naming its drifted features."""

from __future__ import annotations

from driftwarden.alerts.dispatch import Dispatcher, Notification, Router
from driftwarden.alerts.engine import AlertEngine
from driftwarden.config import AlertingSettings
from driftwarden.detectors.findings import FeatureDriftFinding, Finding, ModelDriftFinding, Severity
from driftwarden.detectors.reasons import Reason
from driftwarden.params import AlertingParams, alerting_params

__all__ = ["drift", "firing_engine", "model_drift", "notified", "settings"]


def drift(
    feature: str = "amount",
    model: str = "fraud",
    psi: float = 0.41,
    severity: Severity = Severity.WARNING,
    model_version: str | None = None,
) -> FeatureDriftFinding:
    return FeatureDriftFinding(
        model=model,
        feature=feature,
        severity=severity,
        value=psi,
        threshold=0.2,
        scores={"psi": psi, "ks": 0.22},
        rows={"current": 5000},
        model_version=model_version,
        reasons=(Reason("psi", psi, 0.2, pvalue=1e-9, pvalue_bh=1e-8, pvalue_test="ks"),),
    )


def model_drift(share: float = 0.6, drifted: tuple[str, ...] = ("amount",)) -> ModelDriftFinding:
    psi = Reason("psi", 0.41, 0.2, pvalue=1e-9, pvalue_bh=1e-8, pvalue_test="ks")
    return ModelDriftFinding(
        model="fraud",
        severity=Severity.WARNING,
        value=share,
        threshold=0.5,
        drifted_features=drifted,
        reasons=(Reason("drift_share", share, 0.5, features=drifted),),
        top_features=tuple((name, (psi,)) for name in drifted[:5]),
    )


def settings(**kw: object) -> AlertingParams:
    base = {"for": 2, "group_wait": "30s", "group_interval": "5m", "repeat_interval": "4h", "resolve_hold": "5m"}
    return alerting_params(AlertingSettings(**(base | kw)))


def firing_engine(s: AlertingParams, findings: list[Finding], now: float = 0) -> AlertEngine:
    engine = AlertEngine(s)
    engine.observe(findings, now=now)
    engine.observe(findings, now=now)
    return engine


def notified(findings: list[Finding], *, resolved: bool = False, receiver: str = "team") -> Notification:
    """The group's firing notification (at 5 s), or, `resolved`, the one once every finding is gone (at 6 s)."""
    s = settings(group_wait="0s", group_interval="0s", resolve_hold="0s")
    engine = firing_engine(s, findings)
    dispatcher = Dispatcher(s, Router([], default=[receiver]))
    dispatcher.update(engine.alerts(), now=5)
    (n,) = dispatcher.due(now=5)
    if resolved:
        engine.observe([], now=6)
        dispatcher.update(engine.alerts(), now=6)
        (n,) = dispatcher.due(now=6)
    return n
