"""OpsGenie Alert API v2: one OpsGenie alert per driftwarden alert, `alias` = its fingerprint.

A firing alert is created (`POST /v2/alerts`; OpsGenie counts a repeat of an open alias instead of
opening another), a resolved one closed by that alias (`POST /v2/alerts/{alias}/close?identifierType=alias`).
Both carry the alert's ordering key, so a close never overtakes its create. OpsGenie queues
both and answers 202 Accepted: that is delivered. The API key goes in `Authorization: GenieKey
<key>`, read at each send (a rotated key is used at the next one) and never stored: the outbox
keeps `{"alias", "close", "body"}` and `request()` makes the HTTP request of it.

Fields are cut to the API's limits: message 130 characters, description 15,000, alias, entity 512,
source, user 100, at most 20 tags of 50 characters, details (strings only) 8,000 characters in all.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import orjson

from driftwarden.alerts.alert import Alert, AlertStatus
from driftwarden.alerts.dispatch import Notification
from driftwarden.alerts.links import alert_context
from driftwarden.alerts.receivers.base import Endpoint, Message, Secret, SecretUnavailable, iso
from driftwarden.alerts.receivers.clip import clip
from driftwarden.alerts.receivers.delivery import Request
from driftwarden.detectors.reasons import Reason, reasons_text
from driftwarden.params import AlertLinkParams, OpsGenieParams

__all__ = ["OpsGenieReceiver"]

MESSAGE, DESCRIPTION, ENTITY, SOURCE, NOTE = 130, 15_000, 512, 100, 25_000
TAGS, TAG, DETAILS = 20, 50, 8_000
USER = "driftwarden"


class OpsGenieReceiver:
    def __init__(
        self,
        name: str,
        api_key: Secret,
        params: OpsGenieParams | None = None,
        *,
        timeout: float = 10.0,
        links: AlertLinkParams | None = None,
    ) -> None:
        self.name = name
        self.params = params or OpsGenieParams()
        self._api_key = api_key
        self.endpoint = Endpoint(self.params.base_url + "/v2/alerts", timeout, compose=self.request)
        self.links = links or AlertLinkParams()
        where = "/".join(p for p in (self.links.namespace, self.links.pod) if p)
        self.source = clip(f"driftwarden {where}" if where else "driftwarden", SOURCE)

    def __repr__(self) -> str:
        return f"OpsGenieReceiver(name={self.name!r})"

    def messages(self, notification: Notification, now: float) -> list[Message]:
        out = []
        for a in notification.alerts:
            close = a.status is AlertStatus.RESOLVED
            stored = {"alias": a.fingerprint, "close": close, "body": self.close(a) if close else self.create(a)}
            out.append(Message(self.name, f"{self.name}:{a.fingerprint}", orjson.dumps(stored)))
        return out

    def request(self, stored: bytes) -> Request:
        """A stored create or close as sent: its URL, and the API key as read now."""
        message = orjson.loads(stored)
        try:
            key = self._api_key().decode()
        except UnicodeDecodeError:
            raise SecretUnavailable(f"receiver {self.name!r}: the API key is not UTF-8 text") from None
        url = self.endpoint.url
        if message["close"]:
            url += f"/{quote(message['alias'], safe='')}/close?identifierType=alias"
        headers = {"Authorization": f"GenieKey {key}", "Content-Type": "application/json"}
        return Request(url, orjson.dumps(message["body"]), headers)

    def priority(self, alert: Alert) -> str:
        return self.params.priorities.get(alert.labels.get("severity", ""), "P3")

    def create(self, alert: Alert) -> dict[str, Any]:
        """The create request's body (`POST /v2/alerts`)."""
        labels = alert.labels
        target = next((f"{k} {labels[k]}" for k in ("model", "slo", "gpu") if labels.get(k)), "driftwarden")
        body: dict[str, Any] = {
            "message": clip(alert.annotations["summary"], MESSAGE),
            "alias": alert.fingerprint,
            "description": clip(self._description(alert), DESCRIPTION),
            "tags": self._tags(labels),
            "details": self._details(alert),
            "entity": clip(target, ENTITY),
            "source": self.source,
            "priority": self.priority(alert),
            "user": USER,
        }
        if self.params.responders:
            body["responders"] = [dict(r) for r in self.params.responders]
        return body

    def close(self, alert: Alert) -> dict[str, Any]:
        """The close request's body (`POST /v2/alerts/{alias}/close?identifierType=alias`)."""
        note = f"Resolved at {iso(alert.ends_at)}: {alert.annotations['summary']}"
        return {"user": USER, "source": self.source, "note": clip(note, NOTE)}

    def _description(self, alert: Alert) -> str:
        context = alert_context(alert, self.links)
        lines = [alert.annotations.get("summary", ""), "", alert.annotations.get("description", "")]
        reasons = _reasons(alert.evidence.get("reasons"))
        if reasons:
            lines += ["", f"Why: {reasons}"]
        for feature in context.top_features:
            lines.append(f"- {feature.feature}: {reasons_text(feature.reasons, limit=2)}")
        lines.append("")
        lines += [f"{text}: {url}" for text, url in (("UI", context.ui_url), ("Grafana", context.grafana_url)) if url]
        lines.append(f"Runbook: {context.runbook_url}")
        return "\n".join(lines).strip()

    def _tags(self, labels: dict[str, str]) -> list[str]:
        """alertname, severity, kind and the target as `key:value`, then the configured tags; deduplicated."""
        ours = [labels.get("alertname", "")] + [
            f"{k}:{labels[k]}" for k in ("severity", "kind", "model", "slo", "gpu") if labels.get(k)
        ]
        tags = [clip(t, TAG) for t in (*ours, *self.params.tags) if t]
        return list(dict.fromkeys(tags))[:TAGS]

    def _details(self, alert: Alert) -> dict[str, str]:
        """OpsGenie's details are a map of strings: the reasons first, then the links and where it runs,
        value and threshold, the labels; cut to DETAILS characters in all, the first ones kept whole."""
        context = alert_context(alert, self.links)
        details = {
            "reasons": _reasons(alert.evidence.get("reasons")),
            "top_features": "; ".join(f"{t.feature}: {reasons_text(t.reasons, limit=1)}" for t in context.top_features),
            "ui_url": context.ui_url,
            "grafana_url": context.grafana_url,
            "runbook_url": context.runbook_url,
            "started_at": context.started_at,
            "pod": context.pod,
            "namespace": context.namespace,
            "value": f"{alert.value:g}",
            "threshold": f"{alert.threshold:g}",
            "fingerprint": alert.fingerprint,
            **{f"label.{k}": v for k, v in alert.labels.items()},
        }
        out, left = {}, DETAILS
        for key, value in details.items():
            if not value or left <= len(key) + 1:
                continue
            out[key] = clip(str(value), left - len(key))
            left -= len(key) + len(out[key])
        return out


def _reasons(saved: object) -> str:
    if not isinstance(saved, list) or not saved:
        return ""
    return reasons_text([Reason.from_dict(r) for r in saved], limit=3)
