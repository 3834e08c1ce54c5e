"""The state file: schema versions and migrations, and writes that fail without taking the daemon down."""

from __future__ import annotations

import logging
import sqlite3
import time
from pathlib import Path

import numpy as np
import orjson
import pytest

from driftwarden.core.errors import StorageError
from driftwarden.detectors.reference import ReferenceProfile
from driftwarden.persistence.database import PROBE_INTERVAL, Database
from driftwarden.persistence.outbox_store import OutboxStore
from driftwarden.persistence.schema import SCHEMA_VERSION
from driftwarden.persistence.store import Store
from tests.persistence.faults import full_disk, refused_writes, tmpfs

# The tables as the release before schema versions created them (driftwarden/store.py and
# alerts/outbox.py each ran its own CREATE TABLE IF NOT EXISTS), copied here as they were.
PREVIOUS_RELEASE_STORE = """
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
PREVIOUS_RELEASE_OUTBOX = """
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


def profile() -> ReferenceProfile:
    values = np.random.default_rng(0).normal(size=(200, 2))
    return ReferenceProfile.fit(["a", "b"], values, categories={"country": {"DE": 3, "FR": 1}})


def previous_release_file(path: Path, *, outbox: bool = True) -> None:
    """A state file as the previous release left it (WAL, user_version 0), with a row in every table."""
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.executescript(PREVIOUS_RELEASE_STORE + (PREVIOUS_RELEASE_OUTBOX if outbox else ""))
    db.execute("INSERT INTO reference_profiles VALUES ('fraud', 1.0, 'file:ref.parquet', ?)", (profile().to_bytes(),))
    db.execute("INSERT INTO windows VALUES ('fraud', 2.0, ?)", (b"window checkpoint bytes",))
    db.execute("INSERT INTO documents VALUES ('silences', 3.0, ?)", (orjson.dumps([{"id": "s1"}]),))
    db.execute("INSERT INTO slo_states VALUES ('api', 'fp1', 4.0, ?)", (b"slo counts",))
    if outbox:
        db.execute(
            "INSERT INTO outbox (receiver, ordering_key, url, headers, body, created_at, next_attempt_at) "
            "VALUES ('pd', 'k', 'http://pd.test/v2/enqueue', ?, ?, 5.0, 6.0)",
            (orjson.dumps({"content-type": "application/json"}), b'{"event_action": "trigger"}'),
        )
    db.close()


def user_version(path: Path) -> int:
    db = sqlite3.connect(path)
    try:
        return db.execute("PRAGMA user_version").fetchone()[0]
    finally:
        db.close()


def test_a_new_file_gets_every_table_at_the_current_version(tmp_path: Path) -> None:
    database = Database(tmp_path / "sub" / "state.db")
    tables = {name for (name,) in database.read("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert {"reference_profiles", "windows", "documents", "slo_states", "outbox", "health"} <= tables
    assert database.read("PRAGMA journal_mode") == [("wal",)]
    assert database.read("PRAGMA synchronous") == [(2,)]  # FULL
    database.close()
    assert user_version(tmp_path / "sub" / "state.db") == SCHEMA_VERSION


def test_a_previous_release_file_is_upgraded_in_place_with_its_rows(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    previous_release_file(path)
    assert user_version(path) == 0
    database = Database(path)
    store, outbox = Store(database), OutboxStore(database)
    assert user_version(path) == SCHEMA_VERSION
    fraud = store.load_references()["fraud"]
    assert fraud.features == ("a", "b") and fraud.rows == 200 and fraud.categories == {"country": {"DE": 3, "FR": 1}}
    assert store.load_windows() == {"fraud": b"window checkpoint bytes"}
    assert store.load_document("silences") == [{"id": "s1"}]
    assert store.load_slo_states() == {"api": ("fp1", b"slo counts")}
    (message,) = outbox.oldest()
    assert (message.receiver, message.body) == ("pd", b'{"event_action": "trigger"}')
    assert message.headers == {"content-type": "application/json"} and message.created_at == 5.0
    store.save_document("silences", [])  # and it takes writes
    assert database.skipped_rows == {} and database.writable
    database.close()
    reopened = Database(path)  # a second open has nothing to migrate
    assert Store(reopened).load_document("silences") == []
    reopened.close()


def test_a_file_written_by_the_previous_reference_build_gains_the_outbox(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    previous_release_file(path, outbox=False)  # `driftwarden reference build` never created the outbox table
    database = Database(path)
    assert OutboxStore(database).pending() == {}
    assert list(Store(database).load_references()) == ["fraud"]
    database.close()


def test_a_file_from_a_newer_release_is_refused_untouched(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    Database(path).close()
    db = sqlite3.connect(path)
    db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    db.close()
    with pytest.raises(StorageError) as refused:
        Database(path)
    assert refused.value.code == "schema_too_new"
    assert f"schema version {SCHEMA_VERSION + 1}" in refused.value.reason and str(path) in refused.value.reason
    assert user_version(path) == SCHEMA_VERSION + 1


def save(database: Database, name: str, value: object) -> None:
    Store(database).save_document(name, value)


def test_failed_writes_raise_storage_error_are_recorded_and_logged_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    database = Database(tmp_path / "state.db")
    save(database, "kept", {"n": 1})
    caplog.set_level(logging.WARNING, logger="driftwarden.state")
    before = time.time()
    with refused_writes():
        for n in range(3):
            with pytest.raises(StorageError) as failed:
                save(database, "lost", {"n": n})
        assert "disk I/O error" in failed.value.reason and "document" in failed.value.reason
        assert Store(database).load_document("kept") == {"n": 1}  # reads go on
        assert not database.writable and database.last_write_error == "disk I/O error"
        failure = database.last_failure
        assert failure is not None and failure.operation == "document" and failure.at >= before
    assert database.write_failures == {"document": 3}
    errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1 and "saving document failed: disk I/O error" in errors[0]

    save(database, "lost", {"n": 3})  # the file takes writes again
    assert database.writable and database.last_write_error is None
    assert database.last_failure is not None and database.last_failure.operation == "document"  # history kept
    recovered = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(recovered) == 1 and "takes writes again, after 3 failed writes" in recovered[0]
    assert Store(database).load_document("lost") == {"n": 3}
    database.close()


def test_a_failed_transaction_leaves_nothing_half_written(tmp_path: Path) -> None:
    database = Database(tmp_path / "state.db")
    store = Store(database)
    store.save_windows({"a": b"1"}, {"tail:x": {"offset": 1}})
    with refused_writes(), pytest.raises(StorageError):
        store.save_windows({"a": b"2", "b": b"2"}, {"tail:x": {"offset": 2}})
    assert store.load_windows() == {"a": b"1"} and store.load_document("tail:x") == {"offset": 1}
    store.save_windows({"a": b"3"}, {"tail:x": {"offset": 3}})
    assert store.load_windows() == {"a": b"3"} and store.load_document("tail:x") == {"offset": 3}
    database.close()


def test_the_probe_writes_only_while_writes_fail_and_at_most_once_a_second(tmp_path: Path) -> None:
    database = Database(tmp_path / "state.db")
    assert database.probe() and database.write_failures == {}  # writable: nothing written
    with refused_writes():
        with pytest.raises(StorageError):
            save(database, "a", 1)
        assert not database.probe() and not database.probe()
        assert database.write_failures == {"document": 1, "health_probe": 1}  # the second was too soon
        assert database.last_failure is not None and database.last_failure.operation == "document"
    assert not database.probe()  # still within the interval: the file is not asked
    time.sleep(PROBE_INTERVAL + 0.05)
    assert database.probe() and database.writable and database.last_write_error is None
    assert database.read("SELECT id FROM health") == [(1,)]
    database.close()


def test_a_full_disk_fails_writes_until_space_is_freed(tmp_path: Path) -> None:
    with tmpfs(tmp_path / "small") as mount:
        database = Database(mount / "state.db")
        save(database, "kept", 1)
        with full_disk(mount):
            with pytest.raises(StorageError, match="database or disk is full"):
                save(database, "big", "x" * 100_000)
            assert not database.writable and database.last_write_error == "database or disk is full"
            assert Store(database).load_document("kept") == 1
        save(database, "big", "x" * 100_000)
        assert database.writable
        database.close()


def test_wrong_sql_is_a_bug_not_a_storage_fault(tmp_path: Path) -> None:
    database = Database(tmp_path / "state.db")
    with pytest.raises(sqlite3.OperationalError, match="no such column"):
        database.read("SELECT nope FROM documents")
    with pytest.raises(sqlite3.OperationalError, match="no such table"):
        database.write("document", lambda db: db.execute("DELETE FROM nope"))
    with pytest.raises(sqlite3.IntegrityError):
        database.write("document", lambda db: db.execute("INSERT INTO documents VALUES ('a', 0, NULL)"))
    assert database.writable and database.write_failures == {}
    database.close()
