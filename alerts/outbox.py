"""Durable delivery: every notification is written to SQLite before any send, then delivered
with exponential backoff and jitter until it succeeds, is refused, or grows too old.

- 2xx: delivered. 429, 5xx, timeouts, refused connections: retried (`Retry-After` honoured).
  Other 4xx: the receiver refuses it for good; counted as failed and logged (never the body,
  which may hold a PagerDuty routing key).
- Order is kept per `ordering_key` (one alert for PagerDuty, one group for webhooks): a later
  message waits until the earlier one is delivered or given up, so a resolve never overtakes
  its trigger.
- A `kill -9` loses nothing that `enqueue` returned for: delivery resumes at the next start.
  Delivery is at least once; receivers deduplicate by dedup key / groupKey / Idempotency-Key.
"""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import logging
import random
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path

import httpx
import orjson
from opentelemetry import trace

from driftwarden.alerts.receivers.base import Message
from driftwarden.alerts.signing import sign
from driftwarden.params import OutboxParams

__all__ = ["Outbox"]

log = logging.getLogger("driftwarden.outbox")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    receiver        TEXT NOT NULL,
    ordering_key    TEXT NOT NULL,
    url             TEXT NOT NULL,
    headers         BLOB NOT NULL,
    body            BLOB NOT NULL,
    created_at      REAL NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at REAL NOT NULL,
    last_error      TEXT
);
"""


class Outbox:
    def __init__(
        self,
        path: Path,
        settings: OutboxParams,
        *,
        secrets: dict[str, bytes | None],
        timeouts: dict[str, float] | None = None,
        on_result: Callable[[str, str], None] | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        clock: Callable[[], float] = time.time,
        tracer: trace.Tracer | None = None,
    ) -> None:
        self.settings = settings
        self._secrets = secrets
        self._timeouts = timeouts or {}
        self._on_result = on_result or (lambda receiver, outcome: None)
        self._clock = clock
        self._tracer = tracer or trace.NoOpTracer()
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(_SCHEMA)
        self._client = httpx.AsyncClient(transport=transport, timeout=10.0)
        self._wake = asyncio.Event()

    def enqueue(self, messages: Iterable[Message]) -> int:
        now = self._clock()
        rows = [(m.receiver, m.ordering_key, m.url, orjson.dumps(m.headers), m.body, now, now) for m in messages]
        if rows:
            with self._lock:
                self._db.executemany(
                    "INSERT INTO outbox (receiver, ordering_key, url, headers, body, created_at, next_attempt_at) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?)",
                    rows,
                )
            self._wake.set()
        return len(rows)

    def pending(self) -> dict[str, int]:
        with self._lock:
            rows = self._db.execute("SELECT receiver, COUNT(*) FROM outbox GROUP BY receiver").fetchall()
        return dict(rows)

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
        now = self._clock()
        with self._lock:
            rows = self._db.execute(
                "SELECT id, receiver, ordering_key, url, headers, body, created_at, attempts, next_attempt_at "
                "FROM outbox ORDER BY id LIMIT 1000"
            ).fetchall()
        heads, seen = [], set()
        for row in rows:
            if row[2] in seen:
                continue  # an earlier message for this key goes first
            seen.add(row[2])
            if row[8] <= now:
                heads.append(row)
        results = await asyncio.gather(*(self._send(row, now) for row in heads))
        return sum(results)

    async def close(self) -> None:
        await self._client.aclose()
        with self._lock:
            self._db.close()

    async def _send(self, row: tuple, now: float) -> bool:
        msg_id, receiver, _, url, headers, body, created_at, attempts, _ = row
        if now - created_at > self.settings.max_age:
            self._finish(msg_id, receiver, "failed", f"gave up after {attempts} attempts over {now - created_at:.0f}s")
            return False
        headers = orjson.loads(headers)
        secret = self._secrets.get(receiver)
        if secret:
            headers |= sign(body, secret, now)
        span_attributes = {"receiver": receiver, "attempt": attempts + 1}
        try:
            with self._tracer.start_as_current_span("driftwarden.deliver", attributes=span_attributes) as span:
                response = await self._client.post(
                    url, content=body, headers=headers, timeout=self._timeouts.get(receiver, 10.0)
                )
                span.set_attribute("http.response.status_code", response.status_code)
        except httpx.HTTPError as exc:
            self._retry(msg_id, receiver, attempts, f"{type(exc).__name__}: {exc}", None)
            return False
        if response.is_success:
            self._finish(msg_id, receiver, "ok", None)
            return True
        reason = f"HTTP {response.status_code}"
        if response.status_code == 429 or response.status_code >= 500:
            self._retry(msg_id, receiver, attempts, reason, _retry_after(response.headers.get("retry-after"), now))
        else:
            self._finish(msg_id, receiver, "failed", f"{reason}: refused by the receiver")
        return False

    def _retry(self, msg_id: int, receiver: str, attempts: int, reason: str, retry_after: float | None) -> None:
        s = self.settings
        delay = min(s.max_backoff, s.initial_backoff * 2**attempts) * random.uniform(0.5, 1.0)
        delay = max(delay, retry_after or 0.0)
        with self._lock:
            self._db.execute(
                "UPDATE outbox SET attempts = attempts + 1, next_attempt_at = ?, last_error = ? WHERE id = ?",
                (self._clock() + delay, reason, msg_id),
            )
        log.info("delivery to %s will be retried in %.1fs (%s)", receiver, delay, reason)
        self._on_result(receiver, "retry")

    def _finish(self, msg_id: int, receiver: str, outcome: str, reason: str | None) -> None:
        with self._lock:
            self._db.execute("DELETE FROM outbox WHERE id = ?", (msg_id,))
        if outcome == "failed":
            log.warning("delivery to %s failed for good: %s", receiver, reason)
        self._on_result(receiver, outcome)


def _retry_after(value: str | None, now: float) -> float | None:
    if not value:
        return None
    if value.strip().isdigit():
        return float(value)
    try:
        return max(0.0, email.utils.parsedate_to_datetime(value).timestamp() - now)
    except (TypeError, ValueError):
        return None
