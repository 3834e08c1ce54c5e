"""What makes an alert actionable beyond its summary, the same for every receiver: where to look (the
UI page and anchor of the feature, a Grafana dashboard with its variables filled), what to do (the
runbook), since when, where it runs (pod, namespace) and, for a model, its most decisive drifted
features with their reasons.

>>> from driftwarden.params import AlertLinkParams
>>> alert = Alert("f1", {"alertname": "FeatureDrift", "kind": "drift", "subject": "age", "model": "churn"},
...               {"summary": "..."}, 0.063, 0.05, {}, starts_at=1_700_000_000.0)
>>> params = AlertLinkParams(external_url="https://dw.example", grafana_url="https://grafana/d/drift?orgId=1",
...                          pod="churn-7d9f", namespace="ml")
>>> context = alert_context(alert, params)
>>> context.ui_url
'https://dw.example/ui/models/churn#feature-age'
>>> context.grafana_url
'https://grafana/d/drift?orgId=1&var-model=churn&var-feature=age&var-namespace=ml&var-pod=churn-7d9f&from=1699996400000&to=now'
>>> context.runbook_url, context.started_at
('https://dw.example/runbooks/FeatureDrift', '2023-11-14T22:13:20.000Z')
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from driftwarden.alerts.alert import Alert, AlertStatus
from driftwarden.core import alert_names
from driftwarden.core.ui_paths import GPUS_ANCHOR, SLOS_ANCHOR, feature_fragment, model_page_path
from driftwarden.core.urls import public_url
from driftwarden.detectors.reasons import Reason, reasons_text
from driftwarden.params import AlertLinkParams

__all__ = ["AlertContext", "alert_context"]

GRAFANA_BEFORE = 3600.0  # the dashboard opens an hour before the alert started ...
GRAFANA_AFTER_RESOLVE = 900.0  # ... and, once resolved, ends 15 minutes after it did (a firing one: now)
TOP_FEATURES = 5


@dataclass(frozen=True)
class TopFeature:
    feature: str
    reasons: tuple[Reason, ...]
    ui_url: str | None

    def to_dict(self) -> dict[str, Any]:
        return {"feature": self.feature, "reasons": [r.to_dict() for r in self.reasons], "ui_url": self.ui_url}


@dataclass(frozen=True)
class AlertContext:
    """The actionable fields of one alert; `None` where this daemon does not know them."""

    ui_url: str | None
    grafana_url: str | None
    runbook_url: str
    started_at: str | None  # ISO 8601, UTC: when it began firing
    pod: str | None
    namespace: str | None
    top_features: tuple[TopFeature, ...] = field(default_factory=tuple)

    def details(self) -> dict[str, Any]:
        """For a JSON payload (PagerDuty `custom_details`, the retraining body)."""
        out: dict[str, Any] = {
            "ui_url": self.ui_url,
            "grafana_url": self.grafana_url,
            "runbook_url": self.runbook_url,
            "started_at": self.started_at,
            "pod": self.pod,
            "namespace": self.namespace,
        }
        if self.top_features:
            out["top_features"] = [t.to_dict() for t in self.top_features]
        return out

    def annotations(self) -> dict[str, str]:
        """For Alertmanager-shaped payloads, whose annotations are strings (`runbook_url` as Prometheus
        rules name it; `dashboard_url` the Grafana link); unknown ones are left out."""
        out = {
            "runbook_url": self.runbook_url,
            "ui_url": self.ui_url,
            "dashboard_url": self.grafana_url,
            "pod": self.pod,
            "namespace": self.namespace,
        }
        if self.top_features:
            out["top_features"] = "; ".join(
                f"{t.feature}: {reasons_text(t.reasons, limit=1)}" for t in self.top_features
            )
        return {k: v for k, v in out.items() if v}

    def links(self) -> list[dict[str, str]]:
        """PagerDuty `links`: the UI first (the feature's own section), then Grafana, then the runbook."""
        out = []
        if self.ui_url:
            out.append({"href": self.ui_url, "text": "driftwarden UI"})
        if self.grafana_url:
            out.append({"href": self.grafana_url, "text": "Grafana dashboard"})
        out.append({"href": self.runbook_url, "text": "Runbook"})
        return out


def alert_context(alert: Alert, params: AlertLinkParams) -> AlertContext:
    base = public_url(params.external_url) if params.external_url else ""
    top = tuple(
        TopFeature(
            str(t["feature"]),
            tuple(Reason.from_dict(r) for r in t.get("reasons", [])),
            _feature_url(base, alert.labels.get("model"), str(t["feature"])),
        )
        for t in alert.evidence.get("top_features", [])[:TOP_FEATURES]
    )
    return AlertContext(
        ui_url=_ui_url(base, alert.labels),
        grafana_url=_grafana_url(params, alert),
        runbook_url=params.runbook(alert.name),
        started_at=_iso(alert.starts_at),
        pod=params.pod,
        namespace=params.namespace,
        top_features=top,
    )


def _ui_url(base: str, labels: Mapping[str, str]) -> str | None:
    """The UI page of the alert's target: a feature's section, a model's page, the SLO or GPU table."""
    if not base:
        return None
    model = labels.get("model")
    if labels.get("alertname") == alert_names.FEATURE_DRIFT and model:
        return _feature_url(base, model, labels.get("subject", ""))
    if labels.get("alertname") == alert_names.DATA_QUALITY_VIOLATION and model:
        return f"{base}{model_page_path(model)}#data-quality"  # the model page's data-quality card
    if labels.get("slo"):
        return f"{base}/#{SLOS_ANCHOR}"
    if model:
        return base + model_page_path(model)
    if labels.get("gpu"):
        return f"{base}/#{GPUS_ANCHOR}"
    return f"{base}/"


def _feature_url(base: str, model: str | None, feature: str) -> str | None:
    if not base or not model:
        return None
    return f"{base}{model_page_path(model)}#{feature_fragment(feature)}"


def _grafana_url(params: AlertLinkParams, alert: Alert) -> str | None:
    """The dashboard with its variables filled and the alert's time range (Grafana's epoch milliseconds)."""
    if not params.grafana_url:
        return None
    parts = urlsplit(public_url(params.grafana_url, keep_query=True))  # credentials never go into a payload
    query = parse_qsl(parts.query, keep_blank_values=True)
    feature = alert.labels.get("subject") if alert.name == alert_names.FEATURE_DRIFT else None
    variables = {
        "var-model": alert.labels.get("model"),
        "var-feature": feature,
        "var-slo": alert.labels.get("slo"),
        "var-namespace": params.namespace,
        "var-pod": params.pod,
    }
    query += [(k, v) for k, v in variables.items() if v]
    start = alert.starts_at if alert.starts_at is not None else alert.first_seen
    query.append(("from", str(int((start - GRAFANA_BEFORE) * 1000))))
    ended = alert.ends_at if alert.status is AlertStatus.RESOLVED else None
    query.append(("to", "now" if ended is None else str(int((ended + GRAFANA_AFTER_RESOLVE) * 1000))))
    return urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(query), ""))


def _iso(ts: float | None) -> str | None:
    if ts is None:
        return None
    return datetime.fromtimestamp(ts, tz=UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
