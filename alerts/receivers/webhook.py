"""Alertmanager-shaped webhooks (payload version 4), so any Alertmanager receiver works unchanged:
Alertmanager's `groupKey`, alert `fingerprint`s and `notification_reason` (Alertmanager 0.32) included.
Each message has its Standard Webhooks `webhook-id`, kept through its retries; the signature is
added when it is sent (`Endpoint.sign`)."""

from __future__ import annotations

import orjson

from driftwarden.alerts.dispatch import Notification
from driftwarden.alerts.receivers.base import Endpoint, Message, Signer, am_alert, link_base, message_id
from driftwarden.params import AlertLinkParams

__all__ = ["WebhookReceiver"]


class WebhookReceiver:
    def __init__(
        self,
        name: str,
        url: str,
        *,
        timeout: float = 10.0,
        sign: Signer | None = None,
        links: AlertLinkParams | None = None,
    ) -> None:
        self.name = name
        self.endpoint = Endpoint(url, timeout, sign=sign)
        self.links = links or AlertLinkParams()
        self.external_url = link_base(self.links.external_url)

    def messages(self, notification: Notification, now: float) -> list[Message]:
        alerts = [am_alert(a, self.links) for a in notification.alerts]
        common_labels = _common([a["labels"] for a in alerts])
        body = {
            "version": "4",
            "groupKey": notification.group_key,
            "truncatedAlerts": 0,
            "status": notification.status,
            "receiver": self.name,
            "groupLabels": notification.group_labels,
            "commonLabels": common_labels,
            "commonAnnotations": _common([a["annotations"] for a in alerts]),
            "externalURL": self.external_url,
            "notification_reason": notification.reason,
            "alerts": alerts,
        }
        headers = {"Content-Type": "application/json", "webhook-id": message_id()}
        return [Message(self.name, notification.ordering_key or notification.group_key, orjson.dumps(body), headers)]


def _common(dicts: list[dict[str, str]]) -> dict[str, str]:
    if not dicts:
        return {}
    first = dicts[0]
    return {k: v for k, v in first.items() if all(d.get(k) == v for d in dicts[1:])}
