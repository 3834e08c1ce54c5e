"""The state file's schema: ordered migrations, numbered by SQLite's `PRAGMA user_version`.

Migration n (1-based) brings a file from version n-1 to n, in one transaction. A file from a
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
from pathlib import Path

from driftwarden.core.errors import StorageError

__all__ = ["MIGRATIONS", "SCHEMA_VERSION", "migrate", "schema_version"]

MIGRATIONS: tuple[tuple[str, ...], ...] = (
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
)

SCHEMA_VERSION = len(MIGRATIONS)


def migrate(db: sqlite3.Connection, path: Path | str) -> int:
    """Apply the migrations the file lacks, each in its own transaction; returns the version now.

    Raises StorageError for a file written by a newer driftwarden, or one that cannot be upgraded.
    `db` is in autocommit mode (`isolation_level=None`). A file already at this version is only read.
    """
    try:
        version = schema_version(db, path)
        while version < SCHEMA_VERSION:
            db.execute("BEGIN IMMEDIATE")
            try:
                version = schema_version(db, path)  # again, under the write lock: another process may have migrated
                if version < SCHEMA_VERSION:
                    for statement in MIGRATIONS[version]:
                        db.execute(statement)
                    version += 1
                    db.execute(f"PRAGMA user_version = {version}")
                db.execute("COMMIT")
            except BaseException:
                if db.in_transaction:
                    db.execute("ROLLBACK")
                raise
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
