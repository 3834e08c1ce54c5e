"""Retraining triggers: one POST per drift episode of a model (Airflow, Kubeflow, Argo ...).

A model whose drift alerts fire gets one trigger, then none for `cooldown` (default 24 h, kept
across restarts), so one drift episode starts one retraining. The `Idempotency-Key` and the
Standard Webhooks `webhook-id` name the episode, so a retried delivery never starts a second run.
"""

from __future__ import annotations

from collections.abc import Callable

import orjson

from driftwarden.alerts.alert import AlertStatus
from driftwarden.alerts.dispatch import Notification
from driftwarden.alerts.receivers.base import Endpoint, Message, Signer, iso

__all__ = ["RetrainReceiver"]


class RetrainReceiver:
    def __init__(
        self,
        name: str,
        url: str,
        *,
        timeout: float = 10.0,
        cooldown: float,
        last_trigger: Callable[[str], float | None],
        record_trigger: Callable[[str, float], None],
        sign: Signer | None = None,
    ) -> None:
        self.name = name
        self.endpoint = Endpoint(url, timeout, sign=sign)
        self.cooldown = cooldown
        self._last_trigger = last_trigger
        self._record_trigger = record_trigger

    def messages(self, notification: Notification, now: float) -> list[Message]:
        firing = [a for a in notification.alerts if a.status is AlertStatus.FIRING and a.labels.get("kind") == "drift"]
        out = []
        for model in sorted({a.labels["model"] for a in firing if "model" in a.labels}):
            last = self._last_trigger(model)
            if last is not None and now - last < self.cooldown:
                continue
            alerts = [a for a in firing if a.labels.get("model") == model]
            episode = int(min(a.starts_at or now for a in alerts))
            body = {
                "model": model,
                "model_version": next(
                    (a.evidence.get("model_version") for a in alerts if a.evidence.get("model_version")), None
                ),
                "reason": "drift",
                "drifted_features": sorted(
                    {a.labels["subject"] for a in alerts if a.labels["alertname"] == "FeatureDrift"}
                ),
                "alerts": [
                    {
                        "alertname": a.name,
                        "summary": a.annotations["summary"],
                        "severity": a.labels["severity"],
                        "value": a.value,
                        "threshold": a.threshold,
                        "evidence": a.evidence,
                    }
                    for a in alerts
                ],
                "episode_started_at": iso(episode),
                "triggered_at": iso(now),
            }
            self._record_trigger(model, now)
            key = f"{model}-{episode}"
            headers = {"Content-Type": "application/json", "Idempotency-Key": key, "webhook-id": key}
            out.append(Message(self.name, f"{self.name}:{model}", orjson.dumps(body), headers))
        return out
