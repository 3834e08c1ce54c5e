"""Hand alerts to a real Alertmanager through its API (`POST /api/v2/alerts`)."""

from __future__ import annotations

import orjson

from driftwarden.alerts.dispatch import Notification
from driftwarden.alerts.receivers.base import Endpoint, Message, am_alert, iso
from driftwarden.params import AlertLinkParams

__all__ = ["AlertmanagerReceiver"]


class AlertmanagerReceiver:
    def __init__(
        self,
        name: str,
        url: str,
        *,
        timeout: float = 10.0,
        keep_firing_for: float,
        links: AlertLinkParams | None = None,
    ) -> None:
        self.name = name
        self.endpoint = Endpoint(url.rstrip("/") + "/api/v2/alerts", timeout)
        self.keep_firing_for = keep_firing_for  # past the next repeat: Alertmanager resolves what it stops hearing
        self.links = links or AlertLinkParams()

    def messages(self, notification: Notification, now: float) -> list[Message]:
        alerts = []
        for a in notification.alerts:
            alert = am_alert(a, self.links)
            alerts.append({k: alert[k] for k in ("labels", "annotations", "startsAt", "endsAt", "generatorURL")})
            if alert["status"] == "firing":
                alerts[-1]["endsAt"] = iso(now + self.keep_firing_for)
        key = notification.ordering_key or notification.group_key
        return [Message(self.name, key, orjson.dumps(alerts), {"Content-Type": "application/json"})]
