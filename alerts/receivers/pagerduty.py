"""PagerDuty Events API v2: one trigger or resolve event per alert, deduplicated by fingerprint.

The events are stored without their routing key; it is read and added when each one is sent."""

from __future__ import annotations

from typing import Any

import orjson

from driftwarden.alerts.alert import Alert, AlertStatus
from driftwarden.alerts.dispatch import Notification
from driftwarden.alerts.links import alert_context
from driftwarden.alerts.receivers.base import Endpoint, Message, Secret, SecretUnavailable
from driftwarden.params import AlertLinkParams

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
        links: AlertLinkParams | None = None,
    ) -> None:
        self.name = name
        self._routing_key = routing_key  # PagerDuty authenticates by routing key; read at each send
        self.endpoint = Endpoint(url or EVENTS_V2_URL, timeout, add_credentials=self.with_routing_key)
        self.links = links or AlertLinkParams()
        where = "/".join(p for p in (self.links.namespace, self.links.pod) if p)
        self.source = f"driftwarden {where}" if where else "driftwarden"  # PagerDuty: where the problem is

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
        context = alert_context(alert, self.links)
        evidence = dict(alert.evidence)
        why = {"reasons": evidence.pop("reasons")} if "reasons" in evidence else {}  # the reasons lead
        evidence.pop("top_features", None)  # the context's carry their UI links
        payload: dict[str, Any] = {
            "summary": alert.annotations["summary"][:1024],
            "source": self.source,
            "severity": SEVERITY.get(labels.get("severity", ""), "warning"),
            "component": labels.get("model") or labels.get("slo") or labels.get("gpu") or "driftwarden",
            "group": labels.get("kind", ""),
            "class": labels["alertname"],
            "custom_details": {
                **why,
                **context.details(),
                "value": alert.value,
                "threshold": alert.threshold,
                "labels": labels,
                "description": alert.annotations.get("description", ""),
                **evidence,
            },
        }
        if context.started_at:
            payload["timestamp"] = context.started_at
        return {
            "event_action": "trigger",
            "dedup_key": alert.fingerprint,
            "payload": payload,
            "links": context.links(),
        }
