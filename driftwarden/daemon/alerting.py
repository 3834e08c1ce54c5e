"""The alerting side of the daemon built from the config: receivers with their secrets, the durable
outbox sending to their endpoints, retraining cooldowns, PagerDuty's last triggers and Slack threads
kept in the state file, and the notifier."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from functools import partial

import orjson
from opentelemetry import trace

from driftwarden.alerts.notifier import Contain, Notifier
from driftwarden.alerts.outbox import Outbox
from driftwarden.alerts.receivers.retrain import RetrainReceiver
from driftwarden.config import Config
from driftwarden.core.errors import StorageError
from driftwarden.daemon.receivers import build_receivers
from driftwarden.params import alerting_params, outbox_params, route_params
from driftwarden.persistence.outbox_store import OutboxStore, Outgoing
from driftwarden.persistence.store import Store
from driftwarden.persistence.threads import ThreadTimestamps

__all__ = ["PagerDutyTriggers", "RetrainTriggers", "build_notifier"]


class RetrainTriggers:
    """When each model last triggered a retraining: a restart does not re-trigger within the cooldown."""

    def __init__(self, store: Store) -> None:
        self._store = store
        saved = store.load_document("retrain_triggers", {})
        self._at: dict[str, float] = dict(saved) if isinstance(saved, dict) else {}

    def last(self, model: str) -> float | None:
        return self._at.get(model)

    def record(self, model: str, at: float) -> None:
        self._at[model] = at
        self._store.save_document("retrain_triggers", self._at)


class PagerDutyTriggers:
    """What each open PagerDuty alert was last triggered with: a restart re-sends nothing PagerDuty has.
    A state file that refuses the write costs only a re-trigger after the next restart."""

    def __init__(self, store: Store, receiver: str) -> None:
        self._store = store
        self._document = f"pagerduty_triggers.{receiver}"
        saved = store.load_document(self._document, {})
        self._sent: dict[str, str] = (
            {k: v for k, v in saved.items() if isinstance(v, str)} if isinstance(saved, dict) else {}
        )

    def get(self, dedup_key: str) -> str | None:
        return self._sent.get(dedup_key)

    def remember(self, dedup_key: str, digest: str) -> None:
        self._sent[dedup_key] = digest
        self._save()

    def forget(self, dedup_key: str) -> None:
        if self._sent.pop(dedup_key, None) is not None:
            self._save()

    def _save(self) -> None:
        with contextlib.suppress(StorageError):  # logged and counted by the database
            self._store.save_document(self._document, self._sent)


def build_notifier(
    config: Config,
    store: Store,
    *,
    on_delivery: Callable[[str, str], None] | None = None,
    contain: Contain,
    tracer: trace.Tracer | None = None,
) -> Notifier:
    triggers = RetrainTriggers(store)
    receivers = build_receivers(
        config,
        last_trigger=triggers.last,
        record_trigger=triggers.record,
        triggered=lambda name: PagerDutyTriggers(store, name),
        threads=ThreadTimestamps(store),
    )
    retrain = frozenset(name for name, r in receivers.items() if isinstance(r, RetrainReceiver))
    outbox = Outbox(
        OutboxStore(store.database, audit_subject=partial(_retrained_model, retrain)),
        outbox_params(config.outbox),
        endpoints={name: r.endpoint for name, r in receivers.items()},
        on_result=on_delivery,
    )
    return Notifier(
        alerting_params(config.alerting),
        route_params(config.routes),
        receivers,
        outbox,
        store,
        contain=contain,
        tracer=tracer,
    )


def _retrained_model(retrain: frozenset[str], message: Outgoing) -> str | None:
    """A retraining trigger is audited (enqueued, delivered, given up) with its model as the subject,
    which its body names (the payload of docs/design.md); other notifications are not."""
    if message.receiver not in retrain:
        return None
    model = orjson.loads(message.body).get("model")
    return model if isinstance(model, str) else "(unknown)"
