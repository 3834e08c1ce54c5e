"""What every receiver shares: the outbox message and the Alertmanager alert shape."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from driftwarden.alerts.alert import Alert, AlertStatus
from driftwarden.alerts.dispatch import Notification

__all__ = ["Message", "Receiver", "am_alert", "iso"]

ZERO_TIME = "0001-01-01T00:00:00Z"  # Alertmanager's "no end" value


@dataclass(frozen=True)
class Message:
    """One HTTP POST to make. `ordering_key` keeps order (no resolve before its trigger)."""

    receiver: str
    ordering_key: str
    url: str
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)


class Receiver(Protocol):
    name: str
    sign_with: bytes | None  # HMAC secret, applied at delivery time

    def messages(self, notification: Notification, now: float) -> list[Message]: ...


def iso(ts: float | None) -> str:
    if ts is None:
        return ZERO_TIME
    return datetime.fromtimestamp(ts, tz=UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def am_alert(alert: Alert, external_url: str) -> dict[str, Any]:
    """An alert as Alertmanager's webhook and /api/v2/alerts carry it."""
    target = alert.labels.get("model") or alert.labels.get("slo") or ""
    return {
        "status": "firing" if alert.status is AlertStatus.FIRING else "resolved",
        "labels": dict(alert.labels),
        "annotations": dict(alert.annotations),
        "startsAt": iso(alert.starts_at),
        "endsAt": iso(alert.ends_at if alert.status is AlertStatus.RESOLVED else None),
        "generatorURL": f"{external_url}/v1/alerts?target={target}",
        "fingerprint": alert.fingerprint,
    }
