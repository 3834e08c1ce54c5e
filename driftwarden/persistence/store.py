"""What must survive a restart or a `kill -9`: reference profiles, window checkpoints, small
JSON documents (alerts, silences, label joins, file-tail offsets) and SLO counts.

Every save is one transaction through `Database.write`: it raises StorageError when the state
file refuses it, and the database records the failure (see `driftwarden.persistence.database`).
Loads never raise for a row that no longer decodes: the row is skipped, logged and counted
(`Database.skip`), and the rest is loaded. Window checkpoints and SLO counts are decoded by
their owners; a caller that cannot restore one calls `store.database.skip("window", model,
error)` or `skip("slo_state", name, error)` itself.
"""

from __future__ import annotations

import sqlite3
import time

import orjson

from driftwarden.detectors.reference import ReferenceProfile
from driftwarden.persistence.database import Database

__all__ = ["Store"]

_UPSERT_DOCUMENT = (
    "INSERT INTO documents (name, saved_at, body) VALUES (?, ?, ?) "
    "ON CONFLICT(name) DO UPDATE SET saved_at=excluded.saved_at, body=excluded.body"
)


class Store:
    """The daemon's state, over the one connection of `database` (which `close()` closes)."""

    def __init__(self, database: Database) -> None:
        self.database = database

    def save_reference(self, model: str, profile: ReferenceProfile, *, source: str) -> None:
        blob = profile.to_bytes()
        self.database.write(
            "reference",
            lambda db: db.execute(
                "INSERT INTO reference_profiles (model, fitted_at, source, profile) VALUES (?, ?, ?, ?) "
                "ON CONFLICT(model) DO UPDATE SET fitted_at=excluded.fitted_at, source=excluded.source, "
                "profile=excluded.profile",
                (model, time.time(), source, blob),
            ),
        )

    def load_references(self) -> dict[str, ReferenceProfile]:
        """Every stored profile that decodes; the others are skipped (logged, counted)."""
        profiles = {}
        for model, blob in self.database.read("SELECT model, profile FROM reference_profiles"):
            try:
                profiles[model] = ReferenceProfile.from_bytes(blob)
            except Exception as exc:  # numpy, zip, JSON and key errors alike: the blob no longer loads
                self.database.skip("reference", model, exc)
        return profiles

    def save_slo_states(self, states: dict[str, tuple[str, bytes]]) -> None:
        """name -> (definition fingerprint, counts), written in one transaction."""
        now = time.time()
        self.database.write(
            "slo_states",
            lambda db: db.executemany(
                "INSERT INTO slo_states (slo, fingerprint, saved_at, state) VALUES (?, ?, ?, ?) "
                "ON CONFLICT(slo) DO UPDATE SET fingerprint=excluded.fingerprint, saved_at=excluded.saved_at, "
                "state=excluded.state",
                [(name, fp, now, blob) for name, (fp, blob) in states.items()],
            ),
        )

    def load_slo_states(self) -> dict[str, tuple[str, bytes]]:
        """name -> (fingerprint, counts) as saved; the caller decodes the counts (and skips what fails)."""
        states = {}
        for name, fp, blob in self.database.read("SELECT slo, fingerprint, state FROM slo_states"):
            if isinstance(fp, str) and isinstance(blob, bytes):
                states[name] = (fp, blob)
            else:
                self.database.skip("slo_state", name, f"stored as {type(fp).__name__}, {type(blob).__name__}")
        return states

    def save_windows(self, windows: dict[str, bytes], documents: dict[str, object] | None = None) -> None:
        """Current-window checkpoints and the documents that must agree with them (file-tail
        offsets of the rows in those windows), all in one transaction."""
        now = time.time()
        encoded = [(name, now, orjson.dumps(value)) for name, value in (documents or {}).items()]

        def save(db: sqlite3.Connection) -> None:
            db.executemany(
                "INSERT INTO windows (model, saved_at, window) VALUES (?, ?, ?) "
                "ON CONFLICT(model) DO UPDATE SET saved_at=excluded.saved_at, window=excluded.window",
                [(model, now, blob) for model, blob in windows.items()],
            )
            db.executemany(_UPSERT_DOCUMENT, encoded)

        self.database.write("window_checkpoint", save)

    def load_windows(self) -> dict[str, bytes]:
        """model -> checkpoint as saved; the caller decodes it (and skips what fails)."""
        windows = {}
        for model, blob in self.database.read("SELECT model, window FROM windows"):
            if isinstance(blob, bytes):
                windows[model] = blob
            else:
                self.database.skip("window", model, f"stored as {type(blob).__name__}, not bytes")
        return windows

    def save_document(self, name: str, value: object) -> None:
        """Small JSON state (alerts, silences, retrain triggers), replaced whole."""
        body = orjson.dumps(value)
        self.database.write("document", lambda db: db.execute(_UPSERT_DOCUMENT, (name, time.time(), body)))

    def load_document(self, name: str, default: object = None) -> object:
        """The document as saved, or `default` when there is none or it no longer parses (skipped)."""
        rows = self.database.read("SELECT body FROM documents WHERE name = ?", (name,))
        if not rows:
            return default
        try:
            return orjson.loads(rows[0][0])
        except (orjson.JSONDecodeError, TypeError) as exc:
            self.database.skip("document", name, exc)
            return default

    def close(self) -> None:
        """Closes the database: call it last at shutdown, once the outbox has stopped too."""
        self.database.close()
