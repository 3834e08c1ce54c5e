"""PagerDuty Events API v2: one trigger or resolve event per alert, deduplicated by fingerprint."""

from __future__ import annotations

from typing import Any

import orjson

from driftwarden.alerts.alert import Alert, AlertStatus
from driftwarden.alerts.dispatch import Notification
from driftwarden.alerts.receivers.base import Message

__all__ = ["EVENTS_V2_URL", "PagerDutyReceiver"]

EVENTS_V2_URL = "https://events.pagerduty.com/v2/enqueue"
SEVERITY = {"page": "critical", "ticket": "error", "warning": "warning", "info": "info"}


class PagerDutyReceiver:
    sign_with: bytes | None = None  # PagerDuty authenticates by routing key

    def __init__(
        self,
        name: str,
        routing_key: str,
        *,
        url: str | None = None,
        source: str = "driftwarden",
        external_url: str = "",
        grafana_url: str | None = None,
    ) -> None:
        self.name = name
        self._routing_key = routing_key  # never logged: not in repr, not in errors
        self.url = url or EVENTS_V2_URL
        self.source = source
        self.external_url = external_url
        self.grafana_url = grafana_url

    def __repr__(self) -> str:
        return f"PagerDutyReceiver(name={self.name!r}, url={self.url!r})"

    def messages(self, notification: Notification, now: float) -> list[Message]:
        return [
            Message(
                self.name,
                f"{self.name}:{a.fingerprint}",
                self.url,
                orjson.dumps(self.event(a)),
                {"Content-Type": "application/json"},
            )
            for a in notification.alerts
        ]

    def event(self, alert: Alert) -> dict[str, Any]:
        if alert.status is AlertStatus.RESOLVED:
            return {"routing_key": self._routing_key, "event_action": "resolve", "dedup_key": alert.fingerprint}
        labels = alert.labels
        links = [{"href": f"{self.external_url}/v1/alerts", "text": "driftwarden alerts"}] if self.external_url else []
        if self.grafana_url:
            links.append({"href": self.grafana_url, "text": "Grafana dashboard"})
        return {
            "routing_key": self._routing_key,
            "event_action": "trigger",
            "dedup_key": alert.fingerprint,
            "payload": {
                "summary": alert.annotations["summary"][:1024],
                "source": self.source,
                "severity": SEVERITY.get(labels.get("severity", ""), "warning"),
                "component": labels.get("model") or labels.get("slo") or labels.get("gpu") or "driftwarden",
                "group": labels.get("kind", ""),
                "class": labels["alertname"],
                "custom_details": {
                    "value": alert.value,
                    "threshold": alert.threshold,
                    "labels": labels,
                    "description": alert.annotations.get("description", ""),
                    **alert.evidence,
                },
            },
            "links": links,
        }
