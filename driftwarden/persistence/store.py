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

import hashlib
import sqlite3
import time
from typing import Any

import orjson

from driftwarden.detectors.reference import ReferenceProfile
from driftwarden.persistence.audit import Audited, Change, append, emit
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

    def save_reference(
        self, model: str, profile: ReferenceProfile, *, source: str, audited: Audited | None = None
    ) -> None:
        """Store the profile; with `audited`, the audit entry too, in the same transaction."""
        blob = profile.to_bytes()
        state = {"source": source, "fitted_at": time.time(), "profile_sha256": hashlib.sha256(blob).hexdigest()}

        def save(db: sqlite3.Connection) -> Any:
            before = _reference_state(db, model) if audited else None
            db.execute(
                "INSERT INTO reference_profiles (model, fitted_at, source, profile) VALUES (?, ?, ?, ?) "
                "ON CONFLICT(model) DO UPDATE SET fitted_at=excluded.fitted_at, source=excluded.source, "
                "profile=excluded.profile",
                (model, state["fitted_at"], source, blob),
            )
            if audited is None:
                return None
            detail = {"source": source, "rows": profile.rows, "features": len(profile.features)}
            return append(db, Change(audited.action, model, audited.caller, before, state, detail))

        entry = self.database.write("reference", save)
        if entry is not None:
            emit(entry)

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

    def save_windows(
        self,
        windows: dict[str, bytes],
        documents: dict[str, object] | None = None,
        segments: dict[str, dict[str, bytes]] | None = None,
        embeddings: dict[str, dict[str, bytes]] | None = None,
    ) -> None:
        """Current-window checkpoints, the documents that must agree with them (file-tail
        offsets of the rows in those windows), segment windows (model -> segment -> checkpoint: each
        model's replace its stored ones whole) and embedding windows (model -> embedding -> checkpoint,
        likewise), all in one transaction."""
        now = time.time()
        encoded = [(name, now, orjson.dumps(value)) for name, value in (documents or {}).items()]

        def save(db: sqlite3.Connection) -> None:
            db.executemany(
                "INSERT INTO windows (model, saved_at, window) VALUES (?, ?, ?) "
                "ON CONFLICT(model) DO UPDATE SET saved_at=excluded.saved_at, window=excluded.window",
                [(model, now, blob) for model, blob in windows.items()],
            )
            db.executemany(_UPSERT_DOCUMENT, encoded)
            for model, blobs in (segments or {}).items():
                db.execute("DELETE FROM segment_windows WHERE model = ?", (model,))
                db.executemany(
                    "INSERT INTO segment_windows (model, segment, saved_at, window) VALUES (?, ?, ?, ?)",
                    [(model, key, now, blob) for key, blob in blobs.items()],
                )
            for model, blobs in (embeddings or {}).items():
                db.execute("DELETE FROM embedding_windows WHERE model = ?", (model,))
                db.executemany(
                    "INSERT INTO embedding_windows (model, embedding, saved_at, window) VALUES (?, ?, ?, ?)",
                    [(model, name, now, blob) for name, blob in blobs.items()],
                )

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

    def load_segment_windows(self) -> dict[str, dict[str, bytes]]:
        """model -> segment -> checkpoint as saved; the caller decodes them (and skips what fails)."""
        out: dict[str, dict[str, bytes]] = {}
        for model, segment, blob in self.database.read("SELECT model, segment, window FROM segment_windows"):
            if isinstance(blob, bytes):
                out.setdefault(model, {})[segment] = blob
            else:
                self.database.skip("segment_window", f"{model} {segment}", f"stored as {type(blob).__name__}")
        return out

    def load_embedding_windows(self) -> dict[str, dict[str, bytes]]:
        """model -> embedding -> checkpoint as saved; the caller decodes them (and skips what fails)."""
        out: dict[str, dict[str, bytes]] = {}
        for model, name, blob in self.database.read("SELECT model, embedding, window FROM embedding_windows"):
            if isinstance(blob, bytes):
                out.setdefault(model, {})[name] = blob
            else:
                self.database.skip("embedding_window", f"{model} {name}", f"stored as {type(blob).__name__}")
        return out

    def save_document(self, name: str, value: object, *, change: Change | None = None) -> None:
        """Small JSON state (alerts, silences, retrain triggers), replaced whole; with `change`, its audit
        entry too, in the same transaction."""
        body = orjson.dumps(value)

        def save(db: sqlite3.Connection) -> Any:
            db.execute(_UPSERT_DOCUMENT, (name, time.time(), body))
            return append(db, change) if change is not None else None

        entry = self.database.write("document", save)
        if entry is not None:
            emit(entry)

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


def _reference_state(db: sqlite3.Connection, model: str) -> dict[str, Any] | None:
    """The stored reference as the audit trail digests it (its profile by its own digest); None: none yet."""
    row = db.execute("SELECT source, fitted_at, profile FROM reference_profiles WHERE model = ?", (model,)).fetchone()
    if row is None:
        return None
    source, fitted_at, blob = row
    profile = hashlib.sha256(blob if isinstance(blob, bytes) else str(blob).encode()).hexdigest()
    return {"source": source, "fitted_at": fitted_at, "profile_sha256": profile}
