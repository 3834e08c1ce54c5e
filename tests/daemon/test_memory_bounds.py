"""The windows' memory budget in the daemon (issue 14): rows still queued count, the file tail drops
only the batches past the budget and goes on, a closed tumbling window gives its bytes back, and
the defaults hold a default window at max_features."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from driftwarden.config import Limits, WindowSettings
from driftwarden.detectors.windows import window_bytes
from tests.support.server import running
from tests.support.windows import BUDGET, MIB, NDJSON, pause_ingest, rejected, wide_record, window_rows

pytestmark = pytest.mark.server


def test_the_defaults_hold_a_default_window_at_max_features() -> None:
    limits, window = Limits(), WindowSettings()
    full = window_bytes(window.rows, limits.max_features, window.rows)
    assert full <= limits.max_window_bytes_per_model <= limits.max_window_bytes_total
    assert limits.max_window_bytes_per_model == 256 * MIB and limits.max_window_bytes_total == 1024 * MIB


def test_rows_still_queued_count_toward_the_budget(tmp_path: Path) -> None:
    """700 rows of 100 features fit one model's 1 MiB (1,024 rows: 800 KiB); twice that (2,048 rows) do not,
    though the first 700 are still queued and the window is empty."""
    with running(tmp_path / "state.db", evaluate_every="1h", limits=BUDGET) as d:
        pause_ingest(d)
        assert d.client.post("/v1/predictions", content=wide_record("m", 100, rows=700), headers=NDJSON).is_success
        r = d.client.post("/v1/predictions", content=wide_record("m", 100, rows=700), headers=NDJSON)
        assert r.status_code == 409 and r.json()["reason"] == "memory_budget", r.text
        assert d.metric("driftwarden_queue_rows") == 700  # the refused rows were not queued


def test_the_file_tail_drops_only_the_batches_past_the_budget_and_goes_on(tmp_path: Path) -> None:
    tail = tmp_path / "predictions.ndjson"
    tail.write_bytes(b"")
    config = {
        "limits": BUDGET,
        "sources": [{"file": str(tail), "poll_interval": "100ms"}],
        "evaluate_every": "1h",
    }
    with running(tmp_path / "state.db", **config) as d:
        with tail.open("ab") as f:  # one read: a model too wide for its budget beside one that fits
            f.write(wide_record("wide", 100, rows=2000) + b"\n" + wide_record("narrow", 2, rows=5) + b"\n")
        deadline = time.monotonic() + 20
        while rejected(d, "memory_budget", source="file") < 2000 and time.monotonic() < deadline:
            time.sleep(0.05)
        with tail.open("ab") as f:
            f.write(wide_record("narrow", 2, rows=3) + b"\n")
        while window_rows(d).get("narrow") != 8 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert window_rows(d) == {"narrow": 8}
        assert rejected(d, "memory_budget", source="file") == 2000  # counted once: the lines are not read again


def test_a_closed_tumbling_window_gives_its_bytes_back(tmp_path: Path) -> None:
    config = {"limits": BUDGET, "models": {"m": {"window": {"every": "1s"}}}, "evaluate_every": "1h"}
    with running(tmp_path / "state.db", **config) as d:
        assert d.client.post("/v1/predictions", content=wide_record("m", 100, rows=1000), headers=NDJSON).is_success
        full = d.client.post("/v1/predictions", content=wide_record("m", 100, rows=100), headers=NDJSON)
        assert full.status_code == 409 and full.json()["reason"] == "memory_budget"
        assert d.metric("driftwarden_window_bytes", model="m") == 1024 * 100 * 8
        time.sleep(1.1)  # the period ends: its evaluation empties the window
        d.evaluate()
        assert d.metric("driftwarden_window_bytes", model="m") == 0
        again = d.client.post("/v1/predictions", content=wide_record("m", 100, rows=1000), headers=NDJSON)
        assert again.status_code == 200, again.text
