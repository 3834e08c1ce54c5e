"""PagerDuty Events API v2: one trigger or resolve event per alert, deduplicated by fingerprint.

The events are stored without their routing key; it is read and added when each one is sent."""

from __future__ import annotations

from typing import Any

import orjson

from driftwarden.alerts.alert import Alert, AlertStatus
from driftwarden.alerts.dispatch import Notification
from driftwarden.alerts.receivers.base import Endpoint, Message, Secret, SecretUnavailable, link_base
from driftwarden.core.urls import public_url

__all__ = ["EVENTS_V2_URL", "PagerDutyReceiver"]

EVENTS_V2_URL = "https://events.pagerduty.com/v2/enqueue"
SEVERITY = {"page": "critical", "ticket": "error", "warning": "warning", "info": "info"}


class PagerDutyReceiver:
    def __init__(
        self,
        name: str,
        routing_key: Secret,
        *,
        url: str | None = None,
        timeout: float = 10.0,
        source: str = "driftwarden",
        external_url: str = "",
        grafana_url: str | None = None,
    ) -> None:
        self.name = name
        self._routing_key = routing_key  # PagerDuty authenticates by routing key; read at each send
        self.endpoint = Endpoint(url or EVENTS_V2_URL, timeout, add_credentials=self.with_routing_key)
        self.source = source
        self.external_url = link_base(external_url)
        self.grafana_url = public_url(grafana_url, keep_query=True) if grafana_url else None  # credentials out

    def __repr__(self) -> str:
        return f"PagerDutyReceiver(name={self.name!r})"

    def messages(self, notification: Notification, now: float) -> list[Message]:
        return [
            Message(
                self.name,
                f"{self.name}:{a.fingerprint}",
                orjson.dumps(self.event(a)),
                {"Content-Type": "application/json"},
            )
            for a in notification.alerts
        ]

    def with_routing_key(self, body: bytes) -> bytes:
        """A stored event as it is sent: with the routing key as read now."""
        try:
            key = self._routing_key().decode()
        except UnicodeDecodeError:
            raise SecretUnavailable(f"receiver {self.name!r}: the routing key is not UTF-8 text") from None
        return orjson.dumps({"routing_key": key, **orjson.loads(body)})

    def event(self, alert: Alert) -> dict[str, Any]:
        """The event without its routing key, as the outbox stores it."""
        if alert.status is AlertStatus.RESOLVED:
            return {"event_action": "resolve", "dedup_key": alert.fingerprint}
        labels = alert.labels
        links = [{"href": f"{self.external_url}/v1/alerts", "text": "driftwarden alerts"}] if self.external_url else []
        if self.grafana_url:
            links.append({"href": self.grafana_url, "text": "Grafana dashboard"})
        return {
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
