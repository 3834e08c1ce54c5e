"""Alerting on one screen: findings → engine → routing/grouping → receivers → durable outbox.

The evaluator calls `observe()` after every evaluation with all current findings, and the
notifier's own 1-second tick sends what the group timers release. Alert state and silences are
kept in SQLite, so a restart never forgets a firing alert, nor which groups were notified of it
(its resolve is still sent, an unchanged group not notified again). Each
receiver's work runs under `contain(receiver, stage)`: one receiver that fails to build its
messages costs only its own notifications. The daemon's wiring builds the receivers and the
outbox from the config (`driftwarden.daemon.alerting`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from typing import Any

from opentelemetry import trace

from driftwarden.alerts.alert import Alert, AlertStatus
from driftwarden.alerts.dispatch import Dispatcher, Router
from driftwarden.alerts.engine import AlertEngine
from driftwarden.alerts.outbox import Outbox
from driftwarden.alerts.receivers import Receiver
from driftwarden.alerts.silences import Silence, Silences
from driftwarden.core.errors import StorageError
from driftwarden.detectors.findings import Finding
from driftwarden.params import AlertingParams, RouteParams
from driftwarden.persistence.audit import DAEMON, Caller, Change
from driftwarden.persistence.store import Store

__all__ = ["Contain", "Notifier"]

log = logging.getLogger("driftwarden.alerts")

Contain = Callable[[str, str], AbstractContextManager[None]]  # (scope, stage) -> a block whose failure is kept


@contextlib.contextmanager
def _log_failure(scope: str, stage: str) -> Iterator[None]:
    try:
        yield
    except Exception:
        log.exception("%s: %s failed", scope, stage)


class Notifier:
    def __init__(
        self,
        alerting: AlertingParams,
        routes: Sequence[RouteParams],
        receivers: Mapping[str, Receiver],
        outbox: Outbox,
        store: Store,
        *,
        contain: Contain = _log_failure,
        tracer: trace.Tracer | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self._clock = clock
        self._contain = contain
        self._tracer = tracer or trace.NoOpTracer()
        self.silences = Silences(store.load_document("silences", []), on_skip=store.database.skip)
        self.engine = AlertEngine(alerting, silences=self.silences, clock=clock)
        saved_alerts = store.load_document("alerts", [])
        self.engine.restore(saved_alerts if isinstance(saved_alerts, list) else [])
        self.dispatcher = Dispatcher(alerting, Router(routes, alerting.default_receivers))
        notified = store.load_document("notified", [])
        self.dispatcher.restore(notified if isinstance(notified, list) else [], self.engine.alerts())
        self.receivers = dict(receivers)
        self.outbox = outbox
        self._tasks: list[asyncio.Task[None]] = []

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
        with contextlib.suppress(StorageError):  # logged and counted by the database; the alerts still go out
            await asyncio.to_thread(self.store.save_document, "alerts", self.engine.state())
        await self.tick(now)

    async def tick(self, now: float | None = None) -> int:
        """Turn due notifications into outbox messages; returns how many were queued."""
        now = self._clock() if now is None else now
        messages = []
        due = self.dispatcher.due(now)
        if due:
            with contextlib.suppress(StorageError):  # logged and counted by the database
                await asyncio.to_thread(self.store.save_document, "notified", self.dispatcher.notified())
        for notification in due:
            name = notification.receiver
            with (
                self._contain(f"receiver:{name}", "notify"),
                self._tracer.start_as_current_span(
                    "driftwarden.notify", attributes={"receiver": name, "alerts": len(notification.alerts)}
                ),
            ):
                messages += self.receivers[name].messages(notification, now)
        if messages:
            await asyncio.to_thread(self.outbox.enqueue, messages)
        return len(messages)

    def alerts(self) -> list[Alert]:
        return [a for a in self.engine.alerts() if a.status is not AlertStatus.RESOLVED]

    def add_silence(
        self, matchers: dict[str, str], ends_at: float, *, comment: str, created_by: str, caller: Caller = DAEMON
    ) -> Silence:
        before = self.silences.to_list()
        silence = self.silences.add(matchers, ends_at, comment=comment, created_by=created_by, now=self._clock())
        detail = {"matchers": silence.matchers, "ends_at": silence.ends_at, "comment": silence.comment}
        self._save_silences(before, Change("silence.add", silence.id, caller, None, silence.to_dict(), detail))
        return silence

    def expire_silence(self, silence_id: str, *, caller: Caller = DAEMON) -> bool:
        before = self.silences.to_list()
        found = self.silences.expire(silence_id, now=self._clock())
        if found:
            was = next(s for s in before if s["id"] == silence_id)
            now = next(s.to_dict() for s in self.silences.all() if s.id == silence_id)
            detail = {"matchers": now["matchers"], "ends_at": now["ends_at"]}
            self._save_silences(before, Change("silence.expire", silence_id, caller, was, now, detail))
        return found

    def _save_silences(self, before: list[dict[str, Any]], change: Change) -> None:
        """Store the silences and the audit entry of `change`; when the file refuses, the change is undone
        and `StorageError` raised: a refused request leaves no trace."""
        try:
            self.store.save_document("silences", self.silences.to_list(), change=change)
        except StorageError:
            self.silences.replace(before)
            raise

    async def _tick_forever(self) -> None:
        while True:
            await asyncio.sleep(1.0)
            try:
                await self.tick()
            except Exception:  # a receiver bug must not stop the dispatcher; it is logged with its trace
                log.exception("alert dispatch failed")
