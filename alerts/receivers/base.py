"""What every receiver shares: the outbox message, the endpoint it goes to, the Alertmanager alert shape.

A message is stored in the outbox before it is sent, so it holds no secret: no URL (webhook URLs
often are credentials), no routing key, no signature. The receiver's `Endpoint` adds them when the
message is sent, reading each secret then: a rotated key or secret file is used at the next send.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from driftwarden.alerts.alert import Alert, AlertStatus
from driftwarden.alerts.dispatch import Notification
from driftwarden.alerts.links import alert_context
from driftwarden.alerts.receivers.delivery import Refused, Reply, Request
from driftwarden.core.urls import public_url, redacted_url
from driftwarden.params import AlertLinkParams

__all__ = [
    "Endpoint",
    "Message",
    "Receiver",
    "Secret",
    "SecretUnavailable",
    "Signer",
    "am_alert",
    "iso",
    "link_base",
    "message_id",
]

ZERO_TIME = "0001-01-01T00:00:00Z"  # Alertmanager's "no end" value

Secret = Callable[[], bytes]
"""Reads a secret now, from its file or environment variable; raises `SecretUnavailable`."""


Signer = Callable[[str, bytes, float], dict[str, str]]
"""(webhook-id, body as sent, now) -> the signature headers, with the secrets as read now; raises
`SecretUnavailable` when they cannot be read (`alerts/signing.py`)."""


class SecretUnavailable(Exception):
    """A secret cannot be read at send time (its file is gone mid-rotation, say): the send is retried.
    The message names where the secret is kept, never the secret."""


@dataclass(frozen=True)
class Endpoint:
    """Where a receiver's messages go and what is added to them when sent; none of it is stored."""

    url: str
    timeout: float = 10.0
    sign: Signer | None = None  # adds the Standard Webhooks signature headers (alerts/signing.py)
    add_credentials: Callable[[bytes], bytes] | None = None  # the stored body -> the body sent
    compose: Callable[[bytes], Request] | None = None  # the stored body -> the request sent (OpsGenie, Slack)
    read_reply: Callable[[bytes, Reply], Refused | None] | None = None  # a 2xx reply: learnt from, or refused

    def __repr__(self) -> str:
        return f"Endpoint({redacted_url(self.url)!r}, timeout={self.timeout})"  # the URL may be a credential


@dataclass(frozen=True)
class Message:
    """One HTTP POST to make to the receiver's endpoint. `ordering_key` keeps order (no resolve
    before its trigger)."""

    receiver: str
    ordering_key: str
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)


class Receiver(Protocol):
    name: str
    endpoint: Endpoint

    def messages(self, notification: Notification, now: float) -> list[Message]: ...


def message_id() -> str:
    """A new Standard Webhooks `webhook-id`: unique per message, stored with it, so its retries keep it."""
    return f"msg_{uuid.uuid4().hex}"


def link_base(external_url: str) -> str:
    """Where links in payloads point: `alerting.external_url` without credentials, query, fragment
    or trailing slash, since every receiver is handed the links."""
    return public_url(external_url) if external_url else ""


def iso(ts: float | None) -> str:
    if ts is None:
        return ZERO_TIME
    return datetime.fromtimestamp(ts, tz=UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def am_alert(alert: Alert, links: AlertLinkParams) -> dict[str, Any]:
    """An alert as Alertmanager's webhook and /api/v2/alerts carry it: its annotations gain the runbook,
    UI and dashboard links, pod and namespace; `generatorURL` is the UI page (the feature's section)."""
    context = alert_context(alert, links)
    return {
        "status": "firing" if alert.status is AlertStatus.FIRING else "resolved",
        "labels": dict(alert.labels),
        "annotations": dict(alert.annotations) | context.annotations(),
        "startsAt": iso(alert.starts_at),
        "endsAt": iso(alert.ends_at if alert.status is AlertStatus.RESOLVED else None),
        "generatorURL": context.ui_url or "",
        "fingerprint": alert.fingerprint,
    }
