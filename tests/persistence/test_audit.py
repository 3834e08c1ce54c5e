"""The audit table: append-only (triggers refuse UPDATE, and DELETE short of the retention horizon), written
in the transaction of the change it records (a failed entry takes the change with it), pruned by age, and
kept through a `kill -9` of `driftwarden run`, each entry also a JSON log line with its trace id."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import sqlite3
from pathlib import Path

import httpx
import numpy as np
import pytest

from driftwarden.core.errors import StorageError
from driftwarden.detectors.reference import ReferenceProfile
from driftwarden.persistence.audit import DAEMON, Audited, AuditQuery, AuditStore, Caller, Change, append, digest
from driftwarden.persistence.database import Database
from driftwarden.persistence.outbox_store import OutboxStore
from driftwarden.persistence.store import Store
from tests.persistence.faults import refused_writes
from tests.support.ports import free_port
from tests.support.processes import driftwarden_run

CI = Caller("ci", "10.0.0.7")


@pytest.fixture
def database(tmp_path: Path) -> Database:
    db = Database(tmp_path / "state.db")
    yield db
    db.close()


def entry_at(database: Database, at: float, subject: str = "s") -> int:
    return database.write("audit", lambda db: append(db, Change("silence.add", subject, CI, after={}), at=at)).id


def test_entries_can_be_neither_changed_nor_deleted_short_of_the_horizon(database: Database) -> None:
    first = entry_at(database, 1000.0)
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        database.write("t", lambda db: db.execute("UPDATE audit SET caller = 'mallory' WHERE id = ?", (first,)))
    with pytest.raises(sqlite3.IntegrityError, match="retention horizon"):
        database.write("t", lambda db: db.execute("DELETE FROM audit"))
    AuditStore(database).prune(before=500.0)
    with pytest.raises(sqlite3.IntegrityError, match="only moves forward"):
        database.write("t", lambda db: db.execute("UPDATE audit_horizon SET horizon = 0"))
    with pytest.raises(sqlite3.IntegrityError, match="is kept"):
        database.write("t", lambda db: db.execute("DELETE FROM audit_horizon"))
    (entry,), _ = AuditStore(database).entries(AuditQuery())
    assert (entry.id, entry.caller, entry.address) == (first, "ci", "10.0.0.7")


def test_pruning_deletes_what_is_older_than_the_horizon_and_never_moves_it_back(database: Database) -> None:
    audit = AuditStore(database)
    for at in (100.0, 200.0, 300.0):
        entry_at(database, at)
    assert audit.prune(before=200.0) == 1  # 100 only: the horizon is exclusive
    assert audit.prune(before=50.0) == 0  # an earlier horizon (a clock set back) keeps the later one
    assert [e.at for e in audit.entries(AuditQuery())[0]] == [300.0, 200.0]
    assert audit.prune(before=250.0) == 1


def test_an_entry_that_cannot_be_written_takes_its_change_with_it(database: Database) -> None:
    store = Store(database)
    unserialisable = Change("silence.add", "s1", CI, after={"id": "s1"}, detail={"at": object()})
    with pytest.raises(TypeError):
        store.save_document("silences", [{"id": "s1"}], change=unserialisable)
    assert store.load_document("silences") is None
    database.write(
        "t",
        lambda db: db.execute(
            "CREATE TRIGGER refuse BEFORE INSERT ON audit BEGIN SELECT RAISE(ABORT, 'audit refused'); END"
        ),
    )
    profile = ReferenceProfile.fit(["a"], np.arange(100.0).reshape(-1, 1))
    with pytest.raises(sqlite3.IntegrityError, match="audit refused"):
        store.save_reference("fraud", profile, source="test", audited=Audited("reference.upload", CI))
    assert store.load_references() == {}
    store.save_reference("fraud", profile, source="test")  # not audited: stored
    assert list(store.load_references()) == ["fraud"]


def test_a_refused_write_stores_neither(tmp_path: Path) -> None:
    """A state file that refuses the write (StorageError): no silence, no entry."""
    database = Database(tmp_path / "state.db")
    store = Store(database)
    with refused_writes(), pytest.raises(StorageError):
        store.save_document("silences", [{"id": "s1"}], change=Change("silence.add", "s1", CI, after={"id": "s1"}))
    assert store.load_document("silences") is None and AuditStore(database).entries(AuditQuery()) == ([], None)
    database.close()


class Trigger:
    receiver, ordering_key, body, headers = "airflow", "airflow:fraud", b'{"model": "fraud"}', {"Idempotency-Key": "k1"}


class Page:
    receiver, ordering_key, body, headers = "oncall", "g", b"{}", {}


def test_outbox_rows_named_as_audited_are_audited_enqueued_and_given_up(database: Database) -> None:
    outbox = OutboxStore(database, audit_subject=lambda m: "fraud" if m.receiver == "airflow" else None)
    assert outbox.enqueue([Trigger(), Page()], now=1.0) == 2
    trigger, page = outbox.oldest()
    outbox.give_up(trigger.id, "HTTP 404: refused by the receiver")
    outbox.delivered(page.id)
    given_up, enqueued = AuditStore(database).entries(AuditQuery())[0]  # the page is not audited
    assert (enqueued.action, given_up.action) == ("retrain.enqueued", "retrain.given_up")
    assert enqueued.subject == given_up.subject == "fraud" and enqueued.caller == DAEMON.name
    assert enqueued.after == given_up.before != None and given_up.after is None  # noqa: E711
    assert given_up.detail == {
        "receiver": "airflow",
        "outbox_id": trigger.id,
        "idempotency_key": "k1",
        "reason": "HTTP 404: refused by the receiver",
    }


def test_the_digest_is_of_the_canonical_json() -> None:
    assert digest({"b": 1, "a": [1.5, "é"]}) == digest({"a": [1.5, "é"], "b": 1})
    assert digest({"b": 1, "a": "é"}) == hashlib.sha256('{"a":"é","b":1}'.encode()).hexdigest()
    assert digest(None) is None


@pytest.mark.server
def test_the_trail_survives_kill_9_and_each_entry_was_a_json_log_line(tmp_path: Path) -> None:
    token = tmp_path / "ci.token"
    token.write_text("tok-ci\n")
    config = tmp_path / "driftwarden.yaml"
    config.write_text(f"state_path: {tmp_path / 'state.db'}\nlog_format: json\nauth:\n  tokens:\n    ci: {token}\n")
    headers = {"authorization": "Bearer tok-ci"}
    port = free_port()
    with driftwarden_run(config, tmp_path / "first.log", port=port) as served:
        with httpx.Client(base_url=served.base_url, headers=headers, timeout=10) as client:
            for model in ("a", "b"):
                silence = {"matchers": {"model": model}, "duration": "2h"}
                assert client.post("/v1/silences", json=silence).status_code == 200
            before = client.get("/v1/audit").json()["entries"]
        os.kill(served.proc.pid, signal.SIGKILL)
        served.proc.wait(timeout=10)
        logged = [json.loads(line) for line in served.log_text().splitlines() if line.startswith("{")]
    with driftwarden_run(config, tmp_path / "second.log", port=port) as served:
        after = httpx.get(f"{served.base_url}/v1/audit", headers=headers, timeout=10).json()["entries"]
    assert [e["action"] for e in before] == ["silence.add", "silence.add", "config.load"]
    assert after == before  # the same port and config: no new config.load
    lines = [line for line in logged if line["logger"] == "driftwarden.audit"]
    assert [line["audit"] for line in reversed(lines)] == before
    assert all(line["trace_id"] == line["audit"]["trace_id"] for line in lines)
    assert lines[-1]["message"].startswith("audit: silence.add ") and " by ci from 127.0.0.1" in lines[-1]["message"]
