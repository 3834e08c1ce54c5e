"""SQLite state: what must survive a restart or a `kill -9`.

One file, WAL journal, `synchronous=FULL`: a write that returned is on disk. Each
call opens its own short transaction, so the store is safe to use from the event
loop and from worker threads.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path

import orjson

from driftwarden.detectors.reference import ReferenceProfile

__all__ = ["Store"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS reference_profiles (
    model      TEXT PRIMARY KEY,
    fitted_at  REAL NOT NULL,
    source     TEXT NOT NULL,
    profile    BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS windows (
    model    TEXT PRIMARY KEY,
    saved_at REAL NOT NULL,
    window   BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS documents (
    name     TEXT PRIMARY KEY,
    saved_at REAL NOT NULL,
    body     BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS slo_states (
    slo         TEXT PRIMARY KEY,
    fingerprint TEXT NOT NULL,
    saved_at    REAL NOT NULL,
    state       BLOB NOT NULL
);
"""


class Store:
    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(_SCHEMA)

    def save_reference(self, model: str, profile: ReferenceProfile, *, source: str) -> None:
        blob = profile.to_bytes()
        with self._lock:
            self._db.execute(
                "INSERT INTO reference_profiles (model, fitted_at, source, profile) VALUES (?, ?, ?, ?) "
                "ON CONFLICT(model) DO UPDATE SET fitted_at=excluded.fitted_at, source=excluded.source, "
                "profile=excluded.profile",
                (model, time.time(), source, blob),
            )

    def load_references(self) -> dict[str, ReferenceProfile]:
        with self._lock:
            rows = self._db.execute("SELECT model, profile FROM reference_profiles").fetchall()
        return {model: ReferenceProfile.from_bytes(blob) for model, blob in rows}

    def save_slo_states(self, states: dict[str, tuple[str, bytes]]) -> None:
        """name -> (definition fingerprint, counts), written in one transaction."""
        now = time.time()
        with self._lock:
            self._db.execute("BEGIN")
            self._db.executemany(
                "INSERT INTO slo_states (slo, fingerprint, saved_at, state) VALUES (?, ?, ?, ?) "
                "ON CONFLICT(slo) DO UPDATE SET fingerprint=excluded.fingerprint, saved_at=excluded.saved_at, "
                "state=excluded.state",
                [(name, fp, now, blob) for name, (fp, blob) in states.items()],
            )
            self._db.execute("COMMIT")

    def load_slo_states(self) -> dict[str, tuple[str, bytes]]:
        with self._lock:
            rows = self._db.execute("SELECT slo, fingerprint, state FROM slo_states").fetchall()
        return {name: (fp, blob) for name, fp, blob in rows}

    def save_windows(self, windows: dict[str, bytes], documents: dict[str, object] | None = None) -> None:
        """Current-window checkpoints and the documents that must agree with them (file-tail
        offsets of the rows in those windows), all in one transaction."""
        now = time.time()
        with self._lock:
            self._db.execute("BEGIN")
            self._db.executemany(
                "INSERT INTO windows (model, saved_at, window) VALUES (?, ?, ?) "
                "ON CONFLICT(model) DO UPDATE SET saved_at=excluded.saved_at, window=excluded.window",
                [(model, now, blob) for model, blob in windows.items()],
            )
            self._db.executemany(
                "INSERT INTO documents (name, saved_at, body) VALUES (?, ?, ?) "
                "ON CONFLICT(name) DO UPDATE SET saved_at=excluded.saved_at, body=excluded.body",
                [(name, now, orjson.dumps(value)) for name, value in (documents or {}).items()],
            )
            self._db.execute("COMMIT")

    def load_windows(self) -> dict[str, bytes]:
        with self._lock:
            return dict(self._db.execute("SELECT model, window FROM windows").fetchall())

    def save_document(self, name: str, value: object) -> None:
        """Small JSON state (alerts, silences, retrain triggers), replaced whole."""
        with self._lock:
            self._db.execute(
                "INSERT INTO documents (name, saved_at, body) VALUES (?, ?, ?) "
                "ON CONFLICT(name) DO UPDATE SET saved_at=excluded.saved_at, body=excluded.body",
                (name, time.time(), orjson.dumps(value)),
            )

    def load_document(self, name: str, default: object = None) -> object:
        with self._lock:
            row = self._db.execute("SELECT body FROM documents WHERE name = ?", (name,)).fetchone()
        return orjson.loads(row[0]) if row else default

    def close(self) -> None:
        with self._lock:
            self._db.close()
