"""Durable delivery: every notification is written to SQLite before any send, then delivered
with exponential backoff and jitter until it succeeds, is refused, or grows too old.

- 2xx: delivered (unless the receiver reads the reply as a refusal: Slack's `ok: false`). 429,
  5xx, timeouts, refused connections: retried (`Retry-After` honoured). Other 4xx: the receiver
  refuses it for good; counted as failed and logged (never the body).
- Nothing stored is a secret: a row names its receiver, whose `Endpoint` gives the URL, the
  routing key, API key or bot token and the signing secrets at send time (read then: a rotated
  one is used at the next send). A signed message keeps its `webhook-id` through its retries; each
  attempt has its own `webhook-timestamp` and signature. A message whose receiver is no longer
  configured is given up; one whose secret cannot be read now is retried. Log lines show the URL
  redacted (`core/urls.py`).
- Order is kept per `ordering_key` (one alert for PagerDuty and OpsGenie, one group for webhooks
  and Slack): a later message waits until the earlier one is delivered or given up, so a resolve
  never overtakes its trigger (nor a Slack reply the post whose thread it needs).
- A `kill -9` loses nothing that `enqueue` returned for: delivery resumes at the next start.
  Delivery is at least once; receivers deduplicate by dedup key / webhook-id / Idempotency-Key.
- The state file may refuse writes for a while (full disk, read-only volume): messages enqueued
  meanwhile wait in memory (up to MAX_HELD) and are sent once stored; outcomes not saved are
  kept in memory and saved at the next pass. Nothing raises into the notifier.

The SQL is `driftwarden.persistence.outbox_store`.
"""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import logging
import random
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Literal

import httpx
from opentelemetry import trace

from driftwarden.alerts.receivers.base import Endpoint, Message, SecretUnavailable
from driftwarden.alerts.receivers.delivery import Refused, Reply
from driftwarden.core.errors import StorageError
from driftwarden.core.urls import redact_urls, redacted_url
from driftwarden.params import OutboxParams
from driftwarden.persistence.outbox_store import OutboxStore, StoredMessage

__all__ = ["MAX_HELD", "Outbox"]

log = logging.getLogger("driftwarden.outbox")

MAX_HELD = 10_000  # messages kept in memory while the state file refuses writes; more are dropped (failed)


@dataclass(frozen=True)
class _Outcome:
    """What became of one delivery attempt, as the outbox table must record it."""

    kind: Literal["delivered", "give_up", "retry"]
    attempts: int = 0  # retry: attempts so far, and when the next one is due
    next_attempt_at: float = 0.0
    error: str = ""


class Outbox:
    def __init__(
        self,
        store: OutboxStore,
        params: OutboxParams,
        *,
        endpoints: Mapping[str, Endpoint],
        on_result: Callable[[str, str], None] | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        clock: Callable[[], float] = time.time,
        tracer: trace.Tracer | None = None,
    ) -> None:
        self.params = params
        self._store = store
        self._endpoints = dict(endpoints)
        self._on_result = on_result or (lambda receiver, outcome: None)
        self._clock = clock
        self._tracer = tracer or trace.NoOpTracer()
        self._held_lock = threading.Lock()  # enqueue runs in worker threads
        self._held: list[tuple[float, list[Message]]] = []  # (enqueued at, messages) not stored yet
        self._unsaved: dict[int, _Outcome] = {}  # refused by the state file, by message id; on the event loop only
        for name in ("httpx", "httpcore"):  # they log each request's full URL: credentials, tokens and all
            logging.getLogger(name).setLevel(logging.WARNING)
        self._client = httpx.AsyncClient(transport=transport, timeout=10.0)
        self._wake = asyncio.Event()

    def enqueue(self, messages: Iterable[Message]) -> int:
        """Store the messages for delivery; never raises: while the state file refuses writes they
        wait in memory, and are stored (then sent) at a later pass."""
        batch = list(messages)
        if not batch:
            return 0
        with self._held_lock:
            held = sum(len(b) for _, b in self._held)
            if held + len(batch) > MAX_HELD:
                log.warning("state file refuses writes and %d notifications wait: %d dropped", held, len(batch))
                for m in batch:
                    self._on_result(m.receiver, "failed")
                return 0
            self._held.append((self._clock(), batch))
            self._store_held()
        self._wake.set()
        return len(batch)

    def pending(self) -> dict[str, int]:
        pending = self._store.pending()
        with self._held_lock:
            for _, batch in self._held:
                for m in batch:
                    pending[m.receiver] = pending.get(m.receiver, 0) + 1
        return pending

    async def run(self, idle: float = 1.0) -> None:
        """Deliver forever (a task the app starts); wakes early when something is enqueued."""
        while True:
            try:
                await self.deliver_due()
            except Exception:  # a bug here must not stop delivery for good
                log.exception("outbox delivery pass failed")
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=idle)

    async def deliver_due(self) -> int:
        """One pass: send the oldest due message of every ordering key; returns how many were delivered."""
        with self._held_lock:
            self._store_held()
        self._save_unsaved()
        now = self._clock()
        rows = self._store.oldest()
        heads, seen = [], set()
        for row in rows:
            unsaved = self._unsaved.get(row.id)
            if unsaved is not None:
                if unsaved.kind != "retry":
                    continue  # delivered or given up; its deletion waits for the state file
                row = replace(row, attempts=unsaved.attempts, next_attempt_at=unsaved.next_attempt_at)
            if row.ordering_key in seen:
                continue  # an earlier message for this key goes first
            seen.add(row.ordering_key)
            if row.next_attempt_at <= now:
                heads.append(row)
        results = await asyncio.gather(*(self._send(row, now) for row in heads))
        return sum(results)

    async def close(self) -> None:
        """Closes the HTTP client; the state file is the store's to close."""
        await self._client.aclose()

    async def _send(self, row: StoredMessage, now: float) -> bool:
        age = now - row.created_at
        endpoint = self._endpoints.get(row.receiver)
        if endpoint is None:
            self._finish(row, "failed", "no receiver of that name is configured any more")
            return False
        if age > self.params.max_age:
            self._finish(row, "failed", f"gave up after {row.attempts} attempts over {age:.0f}s")
            return False
        try:
            url, body, headers = _with_secrets(row, endpoint, now)
        except SecretUnavailable as exc:
            self._retry(row, str(exc), None)
            return False
        except (ValueError, TypeError, KeyError) as exc:  # a stored body its receiver cannot complete: never sendable
            self._finish(row, "failed", f"the stored message cannot be completed: {type(exc).__name__}")
            return False
        span_attributes: dict[str, str | int] = {"receiver": row.receiver, "attempt": row.attempts + 1}
        try:
            with self._tracer.start_as_current_span("driftwarden.deliver", attributes=span_attributes) as span:
                response = await self._client.post(url, content=body, headers=headers, timeout=endpoint.timeout)
                span.set_attribute("http.response.status_code", response.status_code)
        except httpx.InvalidURL as exc:  # not an HTTPError: never sendable
            self._finish(row, "failed", redact_urls(f"{type(exc).__name__}: {exc}"))
            return False
        except httpx.HTTPError as exc:
            self._retry(row, redact_urls(f"{type(exc).__name__}: {exc}"), None)
            return False
        if response.is_success:
            refused = _read_reply(row, endpoint, Reply(response.status_code, response.content))
            if refused is None:
                self._finish(row, "ok", None)
                return True
            if refused.retry:
                self._retry(row, refused.reason, _retry_after(response.headers.get("retry-after"), now))
            else:
                self._finish(row, "failed", f"{refused.reason}: refused by the receiver")
            return False
        reason = f"HTTP {response.status_code}"
        if response.status_code == 429 or response.status_code >= 500:
            self._retry(row, reason, _retry_after(response.headers.get("retry-after"), now))
        else:
            self._finish(row, "failed", f"{reason}: refused by the receiver")
        return False

    def _retry(self, row: StoredMessage, reason: str, retry_after: float | None) -> None:
        p = self.params
        delay = min(p.max_backoff, p.initial_backoff * 2**row.attempts) * random.uniform(0.5, 1.0)
        delay = max(delay, retry_after or 0.0)
        self._save(row.id, _Outcome("retry", row.attempts + 1, self._clock() + delay, reason))
        log.info("delivery to %s will be retried in %.1fs (%s)", self._shown(row.receiver), delay, reason)
        self._on_result(row.receiver, "retry")

    def _finish(self, row: StoredMessage, outcome: str, reason: str | None) -> None:
        self._save(row.id, _Outcome("delivered" if outcome == "ok" else "give_up", error=reason or ""))
        if outcome == "failed":
            log.warning("delivery to %s failed for good: %s", self._shown(row.receiver), reason)
        self._on_result(row.receiver, outcome)

    def _shown(self, receiver: str) -> str:
        """The receiver as log lines name it: with its URL redacted."""
        endpoint = self._endpoints.get(receiver)
        return f"{receiver} ({redacted_url(endpoint.url)})" if endpoint else receiver

    def _save(self, message_id: int, outcome: _Outcome) -> None:
        """Save an outcome, or keep it for the next pass when the state file refuses (already logged)."""
        try:
            if outcome.kind == "retry":
                self._store.retry(
                    message_id, attempts=outcome.attempts, next_attempt_at=outcome.next_attempt_at, error=outcome.error
                )
            elif outcome.kind == "delivered":
                self._store.delivered(message_id)
            else:
                self._store.give_up(message_id, outcome.error or None)
        except StorageError:
            self._unsaved[message_id] = outcome
        else:
            self._unsaved.pop(message_id, None)

    def _save_unsaved(self) -> None:
        for message_id, outcome in list(self._unsaved.items()):
            self._save(message_id, outcome)
            if message_id in self._unsaved:
                return  # still refused: the rest waits too

    def _store_held(self) -> None:
        """Store what waits in memory, oldest first (order per key is kept); the caller holds _held_lock."""
        while self._held:
            at, batch = self._held[0]
            try:
                self._store.enqueue(batch, at)
            except StorageError:
                return
            self._held.pop(0)


def _with_secrets(row: StoredMessage, endpoint: Endpoint, now: float) -> tuple[str, bytes, dict[str, str]]:
    """The URL, body and headers as sent: credentials added and signed with the secrets as read now."""
    url, headers = endpoint.url, dict(row.headers)
    if endpoint.compose:
        request = endpoint.compose(row.body)
        url, body = request.url, request.body
        headers |= request.headers
    else:
        body = endpoint.add_credentials(row.body) if endpoint.add_credentials else row.body
    if endpoint.sign:
        # a message stored before webhook-id existed gets one from its row: the same at every retry
        message_id = headers.get("webhook-id") or f"msg_dw{row.id}-{int(row.created_at * 1000)}"
        headers |= endpoint.sign(message_id, body, now)
    return url, body, headers


def _read_reply(row: StoredMessage, endpoint: Endpoint, reply: Reply) -> Refused | None:
    """What the receiver makes of a 2xx reply; one it cannot read is taken as delivered (logged)."""
    if endpoint.read_reply is None:
        return None
    try:
        return endpoint.read_reply(row.body, reply)
    except Exception:  # a receiver's bug: the receiver took the message, so it is not sent again
        log.exception("reading the reply of %s failed", row.receiver)
        return None


def _retry_after(value: str | None, now: float) -> float | None:
    if not value:
        return None
    if value.strip().isdigit():
        return float(value)
    try:
        return max(0.0, email.utils.parsedate_to_datetime(value).timestamp() - now)
    except (TypeError, ValueError):
        return None
