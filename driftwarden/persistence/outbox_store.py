"""The outbox table: notifications written before any send, kept until delivered or given up.

A row holds no secret: it names its receiver, and the URL, routing key and HMAC secret are the
receiver's, added when the message is sent (`driftwarden.alerts.outbox`).

The delivery logic (HTTP, backoff, ordering per key) is `driftwarden.alerts.outbox`; this module
holds the SQL. Every write raises StorageError when the state file refuses it. A stored row
that no longer decodes (headers that are not a JSON object of strings, a body that is not
bytes) can never be sent: `oldest()` skips it (logged, counted as kind "outbox") and gives it up.

A message that is an audited action (a retraining trigger: `audit_subject` names its subject) is
audited when stored (`<action>.enqueued`), delivered and given up, each in the transaction that
inserts or deletes its row; its state is its receiver, headers and the digest of its body.
"""

from __future__ import annotations

import contextlib
import hashlib
import sqlite3
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import orjson

from driftwarden.core.errors import StorageError
from driftwarden.persistence.audit import DAEMON, AuditEntry, Change, append, emit
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
    """`audit_subject(message)`: the subject of a message whose delivery is audited, None for the others;
    its entries' actions start with `audit_action` ("retrain": retrain.enqueued, .delivered, .given_up)."""

    def __init__(
        self,
        database: Database,
        *,
        audit_subject: Callable[[Outgoing], str | None] = lambda message: None,
        audit_action: str = "retrain",
    ) -> None:
        self.database = database
        self._audit_subject = audit_subject
        self._audit_action = audit_action
        self._unreadable: set[int] = set()  # skipped rows whose deletion the state file refused

    def enqueue(self, messages: Iterable[Outgoing], now: float) -> int:
        rows = [
            (m.receiver, m.ordering_key, orjson.dumps(dict(m.headers)), m.body, now, now, self._audit_subject(m))
            for m in messages
        ]

        def enqueue(db: sqlite3.Connection) -> list[AuditEntry]:
            entries = []
            for row in rows:
                row_id = db.execute(
                    "INSERT INTO outbox (receiver, ordering_key, headers, body, created_at, next_attempt_at, "
                    "audit_subject) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    row,
                ).lastrowid
                receiver, _, headers, body, _, _, subject = row
                if subject is not None:
                    state = _message_state(receiver, headers, body)
                    change = Change(
                        f"{self._audit_action}.enqueued", subject, DAEMON, None, state, _detail(row_id, state)
                    )
                    entries.append(append(db, change))
            return entries

        if rows:
            for entry in self.database.write("outbox_enqueue", enqueue):
                emit(entry)
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
        self._delete("outbox_delivered", message_id, "delivered", None)

    def give_up(self, message_id: int, reason: str | None = None) -> None:
        self._delete("outbox_give_up", message_id, "given_up", reason)

    def _delete(self, operation: str, message_id: int, outcome: str, reason: str | None) -> None:
        def delete(db: sqlite3.Connection) -> AuditEntry | None:
            row = db.execute(
                "SELECT receiver, headers, body, audit_subject FROM outbox WHERE id = ?", (message_id,)
            ).fetchone()
            db.execute("DELETE FROM outbox WHERE id = ?", (message_id,))
            if row is None or row[3] is None:
                return None
            receiver, headers, body, subject = row
            state = _message_state(receiver, headers, body)
            detail = _detail(message_id, state) | ({"reason": reason} if reason else {})
            return append(db, Change(f"{self._audit_action}.{outcome}", subject, DAEMON, state, None, detail))

        entry = self.database.write(operation, delete)
        if entry is not None:
            emit(entry)

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


def _message_state(receiver: object, headers: object, body: object) -> dict[str, Any]:
    """An audited message as its entries digest it, from its stored columns (as bytes or text)."""
    raw = body if isinstance(body, bytes) else str(body).encode()
    return {
        "receiver": str(receiver),
        "headers": headers.decode() if isinstance(headers, bytes) else str(headers),
        "body_sha256": hashlib.sha256(raw).hexdigest(),
    }


def _detail(message_id: int | None, state: Mapping[str, Any]) -> dict[str, object]:
    detail: dict[str, object] = {"receiver": state["receiver"], "outbox_id": message_id}
    with contextlib.suppress(ValueError, AttributeError):  # headers that do not decode: no key to name
        key = orjson.loads(state["headers"]).get("Idempotency-Key")
        if isinstance(key, str):
            detail["idempotency_key"] = key
    return detail
