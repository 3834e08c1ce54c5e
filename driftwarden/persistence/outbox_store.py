"""The outbox table: notifications written before any send, kept until delivered or given up.

A row holds no secret: it names its receiver, and the URL, routing key and HMAC secret are the
receiver's, added when the message is sent (`driftwarden.alerts.outbox`).

The delivery logic (HTTP, backoff, ordering per key) is `driftwarden.alerts.outbox`; this module
holds the SQL. Every write raises StorageError when the state file refuses it. A stored row
that no longer decodes (headers that are not a JSON object of strings, a body that is not
bytes) can never be sent: `oldest()` skips it (logged, counted as kind "outbox") and gives it up.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import orjson

from driftwarden.core.errors import StorageError
from driftwarden.persistence.database import Database

__all__ = ["OutboxStore", "Outgoing", "StoredMessage"]


class Outgoing(Protocol):
    """A message to store (`driftwarden.alerts.receivers.base.Message` is one)."""

    @property
    def receiver(self) -> str: ...
    @property
    def ordering_key(self) -> str: ...
    @property
    def body(self) -> bytes: ...
    @property
    def headers(self) -> Mapping[str, str]: ...


@dataclass(frozen=True)
class StoredMessage:
    id: int
    receiver: str
    ordering_key: str
    headers: dict[str, str]
    body: bytes
    created_at: float
    attempts: int
    next_attempt_at: float


class OutboxStore:
    def __init__(self, database: Database) -> None:
        self.database = database
        self._unreadable: set[int] = set()  # skipped rows whose deletion the state file refused

    def enqueue(self, messages: Iterable[Outgoing], now: float) -> int:
        rows = [(m.receiver, m.ordering_key, orjson.dumps(dict(m.headers)), m.body, now, now) for m in messages]
        if rows:
            self.database.write(
                "outbox_enqueue",
                lambda db: db.executemany(
                    "INSERT INTO outbox (receiver, ordering_key, headers, body, created_at, next_attempt_at) "
                    "VALUES (?, ?, ?, ?, ?, ?)",
                    rows,
                ),
            )
        return len(rows)

    def oldest(self, limit: int = 1000) -> list[StoredMessage]:
        """The `limit` oldest messages, in the order they were enqueued; undecodable ones skipped."""
        rows = self.database.read(
            "SELECT id, receiver, ordering_key, headers, body, created_at, attempts, next_attempt_at "
            "FROM outbox ORDER BY id LIMIT ?",
            (limit,),
        )
        messages = []
        for row in rows:
            if row[0] in self._unreadable:
                continue
            try:
                messages.append(_decode(row))
            except (ValueError, TypeError) as exc:  # orjson.JSONDecodeError is a ValueError
                self.database.skip("outbox", f"id {row[0]}", exc)
                self._unreadable.add(row[0])
                with contextlib.suppress(StorageError):  # skipped either way; deleted when the file allows
                    self.give_up(row[0])
        return messages

    def pending(self) -> dict[str, int]:
        """Messages waiting, by receiver."""
        return dict(self.database.read("SELECT receiver, COUNT(*) FROM outbox GROUP BY receiver"))

    def delivered(self, message_id: int) -> None:
        self.database.write("outbox_delivered", lambda db: db.execute("DELETE FROM outbox WHERE id = ?", (message_id,)))

    def give_up(self, message_id: int) -> None:
        self.database.write("outbox_give_up", lambda db: db.execute("DELETE FROM outbox WHERE id = ?", (message_id,)))

    def retry(self, message_id: int, *, attempts: int, next_attempt_at: float, error: str) -> None:
        self.database.write(
            "outbox_retry",
            lambda db: db.execute(
                "UPDATE outbox SET attempts = ?, next_attempt_at = ?, last_error = ? WHERE id = ?",
                (attempts, next_attempt_at, error, message_id),
            ),
        )


def _decode(row: tuple[Any, ...]) -> StoredMessage:
    message_id, receiver, key, headers, body, created_at, attempts, next_attempt_at = row
    decoded = orjson.loads(headers)
    if not isinstance(decoded, dict) or not all(isinstance(v, str) for v in decoded.values()):
        raise ValueError("headers are not a JSON object of strings")
    if not isinstance(body, bytes):
        raise TypeError(f"body stored as {type(body).__name__}, not bytes")
    for name, text in (("receiver", receiver), ("ordering_key", key)):
        if not isinstance(text, str):
            raise TypeError(f"{name} stored as {type(text).__name__}, not text")
    for name, number in (("created_at", created_at), ("attempts", attempts), ("next_attempt_at", next_attempt_at)):
        if not isinstance(number, int | float):
            raise TypeError(f"{name} stored as {type(number).__name__}, not a number")
    return StoredMessage(
        message_id, receiver, key, decoded, body, float(created_at), int(attempts), float(next_attempt_at)
    )
