"""The audit trail: who changed what the daemon judges, or who gets paged, and when (`audit` table).

An entry is written by `append` inside the transaction of the change it records (a `Database.write`
of the store or the outbox): a change that is refused or rolled back leaves no entry, and a `kill -9`
keeps both or neither. Once committed, the writer `emit`s it as a log line (logger
`driftwarden.audit`; with `log_format: json` the entry is the line's `audit` object, beside its
`trace_id`).

The table is append-only: triggers refuse every UPDATE, and every DELETE but retention pruning's,
which first moves a horizon forward and then deletes what is older (`AuditStore.prune`).

`before` and `after` are the sha256 of the canonical JSON (keys sorted, no whitespace, UTF-8) of the
subject's state before and after the change; null where there was none (a new reference, a retraining
trigger that left the outbox). For one subject, an entry's `before` is the previous entry's `after`.

>>> import tempfile
>>> from pathlib import Path
>>> db = Database(Path(tempfile.mkdtemp()) / "state.db")
>>> entry = db.write("audit", lambda c: append(c, Change("silence.add", "a1", Caller("ci"), after={"id": "a1"})))
>>> AuditStore(db).entries(AuditQuery(caller="ci"))[0] == [entry], entry.before, entry.after[:12]  # of {"id":"a1"}
(True, None, '5cc2b0b46335')
>>> db.close()
"""

from __future__ import annotations

import hashlib
import logging
import secrets
import sqlite3
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson
from opentelemetry import trace

from driftwarden.persistence.database import Database

__all__ = [
    "DAEMON",
    "AuditEntry",
    "AuditQuery",
    "AuditStore",
    "Audited",
    "Caller",
    "Change",
    "Digested",
    "append",
    "digest",
    "emit",
]

log = logging.getLogger("driftwarden.audit")

MAX_LIMIT = 1000  # entries in one page


@dataclass(frozen=True)
class Caller:
    """Who asked: the name of the bearer token they sent (`auth.tokens`; "default" for `auth_token_file`,
    "anonymous" with no token configured), their address, the subject of their TLS client certificate
    where the server verified one, and the trace of their request."""

    name: str
    address: str | None = None
    tls_subject: str | None = None
    trace_id: str | None = None


DAEMON = Caller("driftwarden")  # the daemon's own actions: a retraining trigger, a config loaded at start


@dataclass(frozen=True)
class Audited:
    """An action to audit whose states before and after the writer reads itself (a reference)."""

    action: str
    caller: Caller


@dataclass(frozen=True)
class Change:
    """An audited change: what, to what, by whom; the subject's states (JSON values; None: absent)."""

    action: str
    subject: str
    caller: Caller
    before: object = None
    after: object = None
    detail: Mapping[str, object] = field(default_factory=dict)


@dataclass(frozen=True)
class AuditEntry:
    id: int
    at: float
    action: str
    subject: str
    caller: str
    address: str | None
    tls_subject: str | None
    before: str | None  # sha256 hex digests
    after: str | None
    trace_id: str
    detail: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "at": self.at,
            "time": datetime.fromtimestamp(self.at, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "action": self.action,
            "subject": self.subject,
            "caller": {"name": self.caller, "address": self.address, "tls_subject": self.tls_subject},
            "before": self.before,
            "after": self.after,
            "trace_id": self.trace_id,
            "detail": self.detail,
        }


@dataclass(frozen=True)
class Digested:
    """A state known by its digest only (a config, which the state file does not keep)."""

    sha256: str


def digest(state: object) -> str | None:
    """sha256 of the canonical JSON of `state`; None for None (no such subject)."""
    if state is None:
        return None
    if isinstance(state, Digested):
        return state.sha256
    return hashlib.sha256(orjson.dumps(state, option=orjson.OPT_SORT_KEYS)).hexdigest()


def append(db: sqlite3.Connection, change: Change, *, at: float | None = None) -> AuditEntry:
    """Record `change` on `db`, inside the caller's write transaction; `emit` the entry once it commits."""
    caller = change.caller
    values = (
        time.time() if at is None else at,
        change.action,
        change.subject,
        caller.name,
        caller.address,
        caller.tls_subject,
        digest(change.before),
        digest(change.after),
        caller.trace_id or _current_trace_id() or secrets.token_hex(16),
        orjson.dumps(dict(change.detail)),
    )
    row_id = db.execute(
        "INSERT INTO audit (at, action, subject, caller, address, tls_subject, before, after, trace_id, detail) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        values,
    ).lastrowid
    assert row_id is not None
    return _entry((row_id, *values))


def emit(entry: AuditEntry) -> None:
    """The committed entry as a log line (JSON format: its `audit` object and `trace_id`)."""
    log.info(
        "audit: %s %s by %s%s",
        entry.action,
        entry.subject,
        entry.caller,
        f" from {entry.address}" if entry.address else "",
        extra={"trace_id": entry.trace_id, "audit": entry.to_dict()},
    )


@dataclass(frozen=True)
class AuditQuery:
    """Filters (all that are given must hold), newest first; `cursor`: the `next_cursor` of the page before.
    `action` ending in `*` matches a prefix (`retrain.*`)."""

    action: str | None = None
    subject: str | None = None
    caller: str | None = None
    since: float | None = None  # at >= since
    until: float | None = None  # at < until
    cursor: int | None = None  # entries with a smaller id
    limit: int = 100


class AuditStore:
    """Reading and pruning the trail; entries are written by `append`, with the change they record."""

    def __init__(self, database: Database) -> None:
        self.database = database

    def entries(self, query: AuditQuery) -> tuple[list[AuditEntry], int | None]:
        """A page of entries, newest first, and the cursor of the next page (None: this is the last)."""
        where, params = [], []
        if query.action is not None and query.action.endswith("*"):
            prefix = query.action[:-1]
            where.append("substr(action, 1, ?) = ?")
            params += [len(prefix), prefix]
        elif query.action is not None:
            where.append("action = ?")
            params.append(query.action)
        for column, value in (("subject", query.subject), ("caller", query.caller)):
            if value is not None:
                where.append(f"{column} = ?")
                params.append(value)
        for condition, bound in (("at >= ?", query.since), ("at < ?", query.until), ("id < ?", query.cursor)):
            if bound is not None:
                where.append(condition)
                params.append(bound)
        limit = max(1, min(query.limit, MAX_LIMIT))
        rows = self.database.read(
            "SELECT id, at, action, subject, caller, address, tls_subject, before, after, trace_id, detail "
            f"FROM audit {'WHERE ' + ' AND '.join(where) if where else ''} ORDER BY id DESC LIMIT ?",
            (*params, limit + 1),
        )
        page = [_entry(row) for row in rows[:limit]]
        return page, (page[-1].id if len(rows) > limit else None)

    def prune(self, before: float) -> int:
        """Delete the entries older than `before` (the retention horizon, which only moves forward)."""

        def prune(db: sqlite3.Connection) -> int:
            db.execute("UPDATE audit_horizon SET horizon = max(horizon, ?) WHERE id = 1", (before,))
            return db.execute("DELETE FROM audit WHERE at < (SELECT horizon FROM audit_horizon)").rowcount

        pruned = self.database.write("audit_prune", prune)
        if pruned:
            log.info("audit: %d entries older than the retention (audit.retention) pruned", pruned)
        return pruned

    def record_config(self, config: Mapping[str, object]) -> AuditEntry | None:
        """A `config.load` entry (subject "config") when `config` differs from the one recorded last
        (kept as digests, by top-level key: a config may name URLs that are credentials)."""
        keys = {key: digest(value) for key, value in config.items()}
        after = digest(config)

        def record(db: sqlite3.Connection) -> AuditEntry | None:
            row = db.execute("SELECT body FROM documents WHERE name = ?", (_CONFIG_DOCUMENT,)).fetchone()
            try:
                previous = orjson.loads(row[0]) if row else {}
                before, before_keys = previous["digest"], dict(previous["keys"])
            except (orjson.JSONDecodeError, TypeError, KeyError, ValueError):
                before, before_keys = None, {}
            if before == after:
                return None
            db.execute(
                "INSERT INTO documents (name, saved_at, body) VALUES (?, ?, ?) "
                "ON CONFLICT(name) DO UPDATE SET saved_at=excluded.saved_at, body=excluded.body",
                (_CONFIG_DOCUMENT, time.time(), orjson.dumps({"digest": after, "keys": keys})),
            )
            changed = sorted(k for k in keys.keys() | before_keys.keys() if keys.get(k) != before_keys.get(k))
            previous_state = Digested(before) if isinstance(before, str) else None
            detail = {"changed_keys": changed} if previous_state else {}
            return append(db, Change("config.load", "config", DAEMON, previous_state, Digested(after or ""), detail))

        entry = self.database.write("audit_config", record)
        if entry is not None:
            emit(entry)
        return entry


_CONFIG_DOCUMENT = "audit_config"  # the digests of the config recorded last


def _entry(row: tuple[Any, ...]) -> AuditEntry:
    row_id, at, action, subject, caller, address, tls_subject, before, after, trace_id, detail = row
    return AuditEntry(
        row_id, at, action, subject, caller, address, tls_subject, before, after, trace_id, orjson.loads(detail)
    )


def _current_trace_id() -> str | None:
    """The trace id of the span in progress (with `self_tracing`), if any."""
    context = trace.get_current_span().get_span_context()
    return format(context.trace_id, "032x") if context.is_valid else None
