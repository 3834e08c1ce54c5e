"""Slack thread timestamps in the state file: kept across a reopen, forgotten when resolved, bounded,
and a damaged entry skipped and counted rather than failing the start."""

from __future__ import annotations

from pathlib import Path

import pytest

from driftwarden.persistence import threads as threads_module
from driftwarden.persistence.database import Database
from driftwarden.persistence.store import Store
from driftwarden.persistence.threads import ThreadTimestamps


def reopened(path: Path) -> ThreadTimestamps:
    return ThreadTimestamps(Store(Database(path)))


def test_threads_survive_a_reopen_and_resolved_ones_are_forgotten(tmp_path: Path) -> None:
    threads = reopened(tmp_path / "state.db")
    threads.put("team", 'team:{model="fraud"}', "1700000000.000100")
    threads.put("team", 'team:{model="churn"}', "1700000000.000200")
    threads.put("other", 'other:{model="fraud"}', "1700000000.000300")
    threads.drop("team", 'team:{model="churn"}')
    again = reopened(tmp_path / "state.db")
    assert again.get("team", 'team:{model="fraud"}') == "1700000000.000100"
    assert again.get("team", 'team:{model="churn"}') is None
    assert again.get("other", 'other:{model="fraud"}') == "1700000000.000300"


def test_the_oldest_threads_go_past_the_bound(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(threads_module, "MAX_THREADS", 3)
    clock = iter(range(100))
    threads = ThreadTimestamps(Store(Database(tmp_path / "state.db")), clock=lambda: float(next(clock)))
    for i in range(5):
        threads.put("team", f"g{i}", f"ts{i}")
    assert threads.count() == 3 and [threads.get("team", f"g{i}") for i in range(5)] == [
        None,
        None,
        "ts2",
        "ts3",
        "ts4",
    ]


def test_damaged_entries_are_skipped_and_counted(tmp_path: Path) -> None:
    store = Store(Database(tmp_path / "state.db"))
    store.save_document("threads", {"team": {"good": {"ts": "1.2", "at": 5}, "bad": {"at": 1}}, "odd": [1, 2]})
    threads = ThreadTimestamps(store)
    assert threads.get("team", "good") == "1.2" and threads.get("team", "bad") is None
    assert store.database.skipped_rows == {"document": 2}
