"""Alerting on one screen: findings → engine → routing/grouping → receivers → durable outbox.

The pipeline calls `observe()` after every evaluation with all current findings, and the
notifier's own 1-second tick sends what the group timers release. Alert state, silences and
retraining cooldowns are kept in SQLite, so a restart neither forgets a firing alert (its
resolve is still sent) nor re-triggers a retraining.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from opentelemetry import trace

from driftwarden.alerts.alert import Alert, AlertStatus
from driftwarden.alerts.dispatch import Dispatcher, Router
from driftwarden.alerts.engine import AlertEngine
from driftwarden.alerts.outbox import Outbox
from driftwarden.alerts.receivers import build_receivers
from driftwarden.alerts.silences import Silence, Silences
from driftwarden.config import Config
from driftwarden.detectors.findings import Finding
from driftwarden.params import outbox_params
from driftwarden.persistence.outbox_store import OutboxStore
from driftwarden.persistence.store import Store

__all__ = ["Notifier"]

log = logging.getLogger("driftwarden.alerts")


class Notifier:
    def __init__(
        self,
        config: Config,
        store: Store,
        *,
        on_delivery: Callable[[str, str], None] | None = None,
        tracer: trace.Tracer | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self._clock = clock
        self._tracer = tracer or trace.NoOpTracer()
        self.silences = Silences(store.load_document("silences", []), on_skip=store.database.skip)
        self.engine = AlertEngine(config.alerting, silences=self.silences, clock=clock)
        self.engine.restore(store.load_document("alerts", []))
        self.dispatcher = Dispatcher(config.alerting, Router(config.routes, config.alerting.default_receivers))
        self._triggers: dict[str, float] = dict(store.load_document("retrain_triggers", {}))
        self.receivers = build_receivers(config, last_trigger=self._triggers.get, record_trigger=self._record_trigger)
        self.outbox = Outbox(
            OutboxStore(store.database),
            outbox_params(config.outbox),
            secrets={name: r.sign_with for name, r in self.receivers.items()},
            timeouts={r.name: r.timeout for r in config.receivers},
            on_result=on_delivery,
            clock=clock,
        )
        self._tasks: list[asyncio.Task] = []

    async def start(self) -> None:
        self._tasks = [
            asyncio.create_task(self.outbox.run(), name="driftwarden-outbox"),
            asyncio.create_task(self._tick_forever(), name="driftwarden-dispatch"),
        ]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.outbox.close()

    async def observe(self, findings: list[Finding]) -> None:
        now = self._clock()
        alerts = self.engine.observe(findings, now)
        self.dispatcher.update(alerts, now)
        self.engine.forget_resolved()
        await asyncio.to_thread(self.store.save_document, "alerts", self.engine.state())
        await self.tick(now)

    async def tick(self, now: float | None = None) -> int:
        """Turn due notifications into outbox messages; returns how many were queued."""
        now = self._clock() if now is None else now
        messages = []
        for notification in self.dispatcher.due(now):
            with self._tracer.start_as_current_span(
                "driftwarden.notify", attributes={"receiver": notification.receiver, "alerts": len(notification.alerts)}
            ):
                messages += self.receivers[notification.receiver].messages(notification, now)
        if messages:
            await asyncio.to_thread(self.outbox.enqueue, messages)
        return len(messages)

    def alerts(self) -> list[Alert]:
        return [a for a in self.engine.alerts() if a.status is not AlertStatus.RESOLVED]

    def add_silence(self, matchers: dict[str, str], ends_at: float, *, comment: str, created_by: str) -> Silence:
        silence = self.silences.add(matchers, ends_at, comment=comment, created_by=created_by, now=self._clock())
        self.store.save_document("silences", self.silences.to_list())
        return silence

    def expire_silence(self, silence_id: str) -> bool:
        found = self.silences.expire(silence_id, now=self._clock())
        if found:
            self.store.save_document("silences", self.silences.to_list())
        return found

    def _record_trigger(self, model: str, at: float) -> None:
        self._triggers[model] = at
        self.store.save_document("retrain_triggers", self._triggers)

    async def _tick_forever(self) -> None:
        while True:
            await asyncio.sleep(1.0)
            try:
                await self.tick()
            except Exception:  # a receiver bug must not stop the dispatcher; it is logged with its trace
                log.exception("alert dispatch failed")
