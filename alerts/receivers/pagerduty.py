"""PagerDuty Events API v2: one trigger or resolve event per alert, deduplicated by its fingerprint.

- `payload.source` is where the problem is (PagerDuty asks for the host or service): the receiver's
  `source`, else the pod (namespace/pod) or node the daemon runs on, else its host name (the wiring
  chooses, `driftwarden.daemon.receivers`). `client` is driftwarden, `client_url` its UI.
- A trigger is sent when an alert first fires and again only when its content changes (its labels or
  which tests fire, not their numbers): a group that changes, a repeat or a restart re-sends its
  other alerts to webhooks, never to PagerDuty. What each dedup key was last triggered with is kept
  (`TriggerMemory`; in the state file, by the daemon) until its resolve.
- The events are stored without their routing key; it is read and added when each one is sent.
"""

from __future__ import annotations

import hashlib
from typing import Any, Protocol

import orjson

from driftwarden.alerts.alert import Alert, AlertStatus
from driftwarden.alerts.dispatch import Notification
from driftwarden.alerts.links import alert_context
from driftwarden.alerts.receivers.base import Endpoint, Message, Secret, SecretUnavailable, link_base
from driftwarden.params import AlertLinkParams

__all__ = ["CLIENT", "EVENTS_V2_URL", "InMemoryTriggers", "PagerDutyReceiver", "TriggerMemory", "content_digest"]

EVENTS_V2_URL = "https://events.pagerduty.com/v2/enqueue"
SEVERITY = {"page": "critical", "ticket": "error", "warning": "warning", "info": "info"}
CLIENT = "driftwarden"


class TriggerMemory(Protocol):
    """The content digest each open dedup key was last triggered with."""

    def get(self, dedup_key: str) -> str | None: ...

    def remember(self, dedup_key: str, digest: str) -> None: ...

    def forget(self, dedup_key: str) -> None: ...


class InMemoryTriggers:
    def __init__(self) -> None:
        self._sent: dict[str, str] = {}

    def get(self, dedup_key: str) -> str | None:
        return self._sent.get(dedup_key)

    def remember(self, dedup_key: str, digest: str) -> None:
        self._sent[dedup_key] = digest

    def forget(self, dedup_key: str) -> None:
        self._sent.pop(dedup_key, None)


def content_digest(alert: Alert) -> str:
    """What an on-call engineer would be told anew: the labels (severity included) and the tests that
    fire with the features they name; not the numbers, which move at every evaluation."""
    reasons = [[r.get("test"), r.get("features", [])] for r in alert.evidence.get("reasons", []) if isinstance(r, dict)]
    content = orjson.dumps({"labels": alert.labels, "reasons": reasons}, option=orjson.OPT_SORT_KEYS)
    return hashlib.sha256(content).hexdigest()[:16]


class PagerDutyReceiver:
    def __init__(
        self,
        name: str,
        routing_key: Secret,
        *,
        url: str | None = None,
        timeout: float = 10.0,
        links: AlertLinkParams | None = None,
        source: str = CLIENT,
        triggered: TriggerMemory | None = None,
    ) -> None:
        self.name = name
        self._routing_key = routing_key  # PagerDuty authenticates by routing key; read at each send
        self.endpoint = Endpoint(url or EVENTS_V2_URL, timeout, add_credentials=self.with_routing_key)
        self.links = links or AlertLinkParams()
        self.source = source  # PagerDuty: the host or service where the problem is
        self.client_url = link_base(self.links.external_url)
        self.triggered = triggered if triggered is not None else InMemoryTriggers()

    def __repr__(self) -> str:
        return f"PagerDutyReceiver(name={self.name!r})"

    def messages(self, notification: Notification, now: float) -> list[Message]:
        out = []
        for a in notification.alerts:
            digest = None if a.status is AlertStatus.RESOLVED else content_digest(a)
            if digest is not None and self.triggered.get(a.dedup_key) == digest:
                continue  # PagerDuty has this already: a re-trigger would only add noise to the incident
            body = orjson.dumps(self.event(a))
            out.append(Message(self.name, f"{self.name}:{a.dedup_key}", body, {"Content-Type": "application/json"}))
            if digest is None:
                self.triggered.forget(a.dedup_key)
            else:
                self.triggered.remember(a.dedup_key, digest)
        return out

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
            return {"event_action": "resolve", "dedup_key": alert.dedup_key}
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
        event = {
            "event_action": "trigger",
            "dedup_key": alert.dedup_key,
            "payload": payload,
            "client": CLIENT,
            "links": context.links(),
        }
        if self.client_url:
            event["client_url"] = self.client_url + "/"
        return event
