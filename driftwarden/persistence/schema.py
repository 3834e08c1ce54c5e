"""The state file's schema: ordered migrations, numbered by SQLite's `PRAGMA user_version`.

Migration n (1-based) brings a file from version n-1 to n, in one transaction; a step is an SQL
statement or a function of the connection. A file from a
release before the versioning (user_version 0, tables created by the old store and outbox
modules) is a version-0 file: migration 1 creates only what is missing, so it is upgraded in
place with its rows. A file newer than this code is refused, never written to.

>>> import sqlite3
>>> db = sqlite3.connect(":memory:", isolation_level=None)
>>> migrate(db, ":memory:") == SCHEMA_VERSION == db.execute("PRAGMA user_version").fetchone()[0]
True
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import orjson

from driftwarden.core.errors import StorageError
from driftwarden.core.urls import public_url

__all__ = ["MIGRATIONS", "SCHEMA_VERSION", "migrate", "schema_version"]

Step = str | Callable[[sqlite3.Connection], None]


def _scrub_outbox(db: sqlite3.Connection) -> None:
    """Migration 3: outbox rows hold no secret. Routing keys leave the stored bodies, and
    credentials and queries the URLs inside them; the url column (webhook URLs often are
    credentials: the receiver's URL is now read from the config at send time) and the last
    errors (which could quote one) go. With secure_delete the old bytes are zeroed, not just freed."""
    secure_delete = db.execute("PRAGMA secure_delete").fetchone()[0]
    db.execute("PRAGMA secure_delete = ON")
    for row_id, body in db.execute("SELECT id, body FROM outbox").fetchall():
        try:
            stored = orjson.loads(body)
        except (orjson.JSONDecodeError, TypeError):
            continue  # never sendable: skipped and given up when the outbox reads it
        scrubbed = _without_secrets(stored)
        if scrubbed != stored:
            db.execute("UPDATE outbox SET body = ? WHERE id = ?", (orjson.dumps(scrubbed), row_id))
    db.execute("UPDATE outbox SET last_error = NULL")
    db.execute("ALTER TABLE outbox DROP COLUMN url")
    db.execute(f"PRAGMA secure_delete = {int(secure_delete)}")


def _without_secrets(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_secrets(v) for k, v in value.items() if k != "routing_key"}
    if isinstance(value, list):
        return [_without_secrets(v) for v in value]
    if isinstance(value, str) and "://" in value:
        try:
            parts = urlsplit(value)
        except ValueError:
            return public_url(value)
        return public_url(value) if "@" in parts.netloc or parts.query else value
    return value


MIGRATIONS: tuple[tuple[Step, ...], ...] = (
    # 1: the tables as the previous release created them (driftwarden/store.py, alerts/outbox.py)
    (
        """
        CREATE TABLE IF NOT EXISTS reference_profiles (
            model      TEXT PRIMARY KEY,
            fitted_at  REAL NOT NULL,
            source     TEXT NOT NULL,
            profile    BLOB NOT NULL
        )
        """,
        """
        CREATE TABLE IF NOT EXISTS windows (
            model    TEXT PRIMARY KEY,
            saved_at REAL NOT NULL,
            window   BLOB NOT NULL
        )
        """,
        """
        CREATE TABLE IF NOT EXISTS documents (
            name     TEXT PRIMARY KEY,
            saved_at REAL NOT NULL,
            body     BLOB NOT NULL
        )
        """,
        """
        CREATE TABLE IF NOT EXISTS slo_states (
            slo         TEXT PRIMARY KEY,
            fingerprint TEXT NOT NULL,
            saved_at    REAL NOT NULL,
            state       BLOB NOT NULL
        )
        """,
        """
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
        )
        """,
    ),
    # 2: one row the readiness probe rewrites, to learn whether the file takes writes again
    (
        """
        CREATE TABLE health (
            id        INTEGER PRIMARY KEY CHECK (id = 1),
            probed_at REAL NOT NULL
        )
        """,
    ),
    # 3: no secret in the outbox (routing keys, receiver URLs); DROP COLUMN needs SQLite 3.35+
    (_scrub_outbox,),
    # 4: the audit trail (persistence/audit.py): append-only, by triggers; rows leave only by retention
    # pruning, which moves the horizon forward first. An outbox row that is an audited action (a
    # retraining trigger) names its subject, so its delivery is audited in the transaction that deletes it.
    (
        """
        CREATE TABLE audit (
            id          INTEGER PRIMARY KEY AUTOINCREMENT,
            at          REAL NOT NULL,
            action      TEXT NOT NULL,
            subject     TEXT NOT NULL,
            caller      TEXT NOT NULL,
            address     TEXT,
            tls_subject TEXT,
            before      TEXT,
            after       TEXT,
            trace_id    TEXT NOT NULL,
            detail      TEXT NOT NULL
        )
        """,
        "CREATE INDEX audit_at ON audit (at)",
        "CREATE INDEX audit_subject ON audit (subject)",
        "CREATE TABLE audit_horizon (id INTEGER PRIMARY KEY CHECK (id = 1), horizon REAL NOT NULL)",
        "INSERT INTO audit_horizon (id, horizon) VALUES (1, 0)",
        """
        CREATE TRIGGER audit_append_only BEFORE UPDATE ON audit
        BEGIN SELECT RAISE(ABORT, 'audit entries are append-only'); END
        """,
        """
        CREATE TRIGGER audit_pruned_only BEFORE DELETE ON audit
        WHEN old.at >= (SELECT horizon FROM audit_horizon)
        BEGIN SELECT RAISE(ABORT, 'audit entries are deleted only past the retention horizon'); END
        """,
        """
        CREATE TRIGGER audit_horizon_forward BEFORE UPDATE ON audit_horizon
        WHEN new.horizon < old.horizon
        BEGIN SELECT RAISE(ABORT, 'the audit retention horizon only moves forward'); END
        """,
        """
        CREATE TRIGGER audit_horizon_kept BEFORE DELETE ON audit_horizon
        BEGIN SELECT RAISE(ABORT, 'the audit retention horizon is kept'); END
        """,
        "ALTER TABLE outbox ADD COLUMN audit_subject TEXT",
    ),
    # 5: segment windows (models.<m>.segments), checkpointed with the model's window, one row per segment
    (
        """
        CREATE TABLE segment_windows (
            model    TEXT NOT NULL,
            segment  TEXT NOT NULL,
            saved_at REAL NOT NULL,
            window   BLOB NOT NULL,
            PRIMARY KEY (model, segment)
        )
        """,
    ),
    # 6: the history of the anomaly detector (persistence/anomaly_history.py, detectors/seasonal.py): one mean
    # per series and slot; bounded by anomaly.max_series and by pruning the slots older than its seasons
    (
        """
        CREATE TABLE anomaly_series (
            id        INTEGER PRIMARY KEY,
            signal    TEXT NOT NULL,
            labels    TEXT NOT NULL,
            last_seen REAL NOT NULL,
            UNIQUE (signal, labels)
        )
        """,
        """
        CREATE TABLE anomaly_history (
            slot   INTEGER NOT NULL,
            series INTEGER NOT NULL,
            value  REAL NOT NULL,
            count  INTEGER NOT NULL,
            PRIMARY KEY (slot, series)
        ) WITHOUT ROWID
        """,
    ),
    # 7: embedding windows (models.<m>.embeddings), checkpointed with the model's window, one row per embedding:
    # its ring of float32 vectors oldest first (detectors/embedding.py EmbeddingWindow.to_bytes), bounded by
    # the embedding's window x dim
    (
        """
        CREATE TABLE embedding_windows (
            model     TEXT NOT NULL,
            embedding TEXT NOT NULL,
            saved_at  REAL NOT NULL,
            window    BLOB NOT NULL,
            PRIMARY KEY (model, embedding)
        )
        """,
    ),
)

SCHEMA_VERSION = len(MIGRATIONS)


def migrate(db: sqlite3.Connection, path: Path | str) -> int:
    """Apply the migrations the file lacks, each in its own transaction; returns the version now.

    Raises StorageError for a file written by a newer driftwarden, or one that cannot be upgraded.
    `db` is in autocommit mode (`isolation_level=None`). A file already at this version is only read.
    """
    try:
        version = found = schema_version(db, path)
        while version < SCHEMA_VERSION:
            db.execute("BEGIN IMMEDIATE")
            try:
                version = schema_version(db, path)  # again, under the write lock: another process may have migrated
                if version < SCHEMA_VERSION:
                    for step in MIGRATIONS[version]:
                        if isinstance(step, str):
                            db.execute(step)
                        else:
                            step(db)
                    version += 1
                    db.execute(f"PRAGMA user_version = {version}")
                db.execute("COMMIT")
            except BaseException:
                if db.in_transaction:
                    db.execute("ROLLBACK")
                raise
        if version != found:  # what a migration removed leaves the write-ahead log and the file's old pages now
            db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    except sqlite3.Error as exc:
        raise StorageError(f"state file {path}: reading or upgrading its schema failed: {exc}") from exc
    return version


def schema_version(db: sqlite3.Connection, path: Path | str) -> int:
    """The file's schema version; StorageError (code schema_too_new) when it is newer than this code."""
    version: int = db.execute("PRAGMA user_version").fetchone()[0]
    if version > SCHEMA_VERSION:
        raise StorageError(
            f"state file {path} has schema version {version}, newer than this driftwarden reads "
            f"({SCHEMA_VERSION}): run the release that wrote it, or set state_path to another file",
            code="schema_too_new",
        )
    return version
