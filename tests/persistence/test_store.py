"""Loads skip what no longer loads: one log line naming the table, the key and the error, a count by kind."""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path

import numpy as np
import orjson
import pytest

from driftwarden.alerts.silences import Silences
from driftwarden.detectors.reference import ReferenceProfile
from driftwarden.persistence.database import Database
from driftwarden.persistence.store import Store


@pytest.fixture
def store(tmp_path: Path) -> Store:
    store = Store(Database(tmp_path / "state.db"))
    yield store
    store.close()


def raw(store: Store, sql: str, *params: object) -> None:
    """A row written behind the store's back, as a damaged or foreign file would hold it."""
    db = sqlite3.connect(store.database.path, isolation_level=None)
    db.execute(sql, params)
    db.close()


def errors(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]


def test_references_that_no_longer_decode_are_skipped(store: Store, caplog: pytest.LogCaptureFixture) -> None:
    good = ReferenceProfile.fit(["a"], np.arange(100.0).reshape(-1, 1))
    store.save_reference("good", good, source="test")
    blob = good.to_bytes()
    for model, bad in (("truncated", blob[: len(blob) // 2]), ("garbage", b"not a profile"), ("text", "a string")):
        raw(store, "INSERT INTO reference_profiles VALUES (?, 0, 'test', ?)", model, bad)
    loaded = store.load_references()
    assert list(loaded) == ["good"] and loaded["good"].rows == 100
    assert store.database.skipped_rows == {"reference": 3}
    lines = errors(caplog)
    assert len(lines) == 3
    assert all("skipped reference" in line and "table reference_profiles" in line for line in lines)
    assert "'truncated'" in lines[0] and "'garbage'" in lines[1] and "'text'" in lines[2]


def test_documents_that_do_not_parse_give_the_default(store: Store, caplog: pytest.LogCaptureFixture) -> None:
    store.save_document("alerts", [{"fingerprint": "f"}])
    raw(store, "INSERT INTO documents VALUES ('labels', 0, ?)", b"{truncated")
    assert store.load_document("alerts") == [{"fingerprint": "f"}]
    assert store.load_document("labels", {}) == {}
    assert store.load_document("absent", []) == []
    assert store.database.skipped_rows == {"document": 1}
    (line,) = errors(caplog)
    assert "skipped document 'labels' (table documents)" in line and "JSONDecodeError" in line


def test_windows_and_slo_states_of_the_wrong_type_are_skipped(store: Store) -> None:
    store.save_windows({"good": b"blob"})
    store.save_slo_states({"api": ("fp", b"counts")})
    raw(store, "INSERT INTO windows VALUES ('text', 0, 'not bytes')")
    raw(store, "INSERT INTO slo_states VALUES ('number', 'fp', 0, 42)")
    assert store.load_windows() == {"good": b"blob"}
    assert store.load_slo_states() == {"api": ("fp", b"counts")}
    assert store.database.skipped_rows == {"window": 1, "slo_state": 1}


def test_callers_report_the_blobs_they_cannot_decode(store: Store, caplog: pytest.LogCaptureFixture) -> None:
    """The API the pipeline uses for window checkpoints and SLO counts it cannot restore."""
    store.database.skip("window", "fraud", ValueError("checkpoint of another version"))
    store.database.skip("slo_state", "api", "truncated")
    assert store.database.skipped_rows == {"window": 1, "slo_state": 1}
    window, slo = errors(caplog)
    assert "skipped window 'fraud' (table windows)" in window and "ValueError: checkpoint of another version" in window
    assert "skipped slo_state 'api' (table slo_states)" in slo and slo.endswith("the rest of the state is used")


def test_silences_are_loaded_one_by_one(store: Store, caplog: pytest.LogCaptureFixture) -> None:
    good = {
        "id": "s1",
        "matchers": {"model": "fraud"},
        "starts_at": 0.0,
        "ends_at": 10.0,
        "comment": "",
        "created_by": "",
    }
    saved = [
        good,
        {**good, "id": "s2", "ends_at": "tomorrow"},
        {**good, "id": "s3", "surprise": 1},
        {"matchers": {}},
        "not an object",
    ]
    raw(store, "INSERT INTO documents VALUES ('silences', 0, ?)", orjson.dumps(saved))
    silences = Silences(store.load_document("silences", []), on_skip=store.database.skip)
    assert [s.id for s in silences.all()] == ["s1"]
    assert silences.matching({"model": "fraud"}, now=5.0) == ["s1"]
    assert store.database.skipped_rows == {"silence": 4}
    lines = errors(caplog)
    assert len(lines) == 4
    assert "'s2'" in lines[0] and "ends_at must be a number" in lines[0]
    assert "'s3'" in lines[1] and "surprise" in lines[1]
    assert "'silences[3]'" in lines[2] and "missing" in lines[2]
    assert "'silences[4]'" in lines[3] and "JSON object" in lines[3]


def test_a_silences_document_that_is_not_a_list_is_skipped_whole(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.ERROR, logger="driftwarden.alerts")
    assert Silences({"id": "s1"}).all() == []  # without on_skip: logged
    (line,) = errors(caplog)
    assert "saved silence 'silences' skipped" in line and "not a list" in line
