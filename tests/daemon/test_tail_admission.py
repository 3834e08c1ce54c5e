"""The file tail reads no more than the ingest queue can take, so it always moves on (issue 14).

A read of 4 MiB holds far more lines than `limits.max_queue_rows`: admitted whole it could never
fit, and the tail read the same lines again forever.
"""

from __future__ import annotations

import time
from pathlib import Path

import orjson
import pytest

from tests.support.server import Daemon, running

pytestmark = pytest.mark.server


def records(count: int, features: int = 1) -> bytes:
    return b"".join(
        orjson.dumps({"model": "m", "features": {f"f{j}": i + j for j in range(features)}}) + b"\n"
        for i in range(count)
    )


def wait_for_rows(d: Daemon, expected: int, timeout: float = 30.0) -> int:
    deadline = time.monotonic() + timeout
    rows = 0
    while time.monotonic() < deadline:
        d.evaluate()
        models = d.client.get("/v1/models").json()["models"]
        rows = models[0]["rows"]["current"] if models else 0
        if rows >= expected:
            return rows
        time.sleep(0.1)
    return rows


def test_a_file_with_more_lines_than_the_queue_holds_is_read_to_its_end(tmp_path: Path) -> None:
    source = tmp_path / "predictions.ndjson"
    source.write_bytes(records(3500))  # one 4 MiB read: 3,500 lines, the queue holds 1,000 rows
    config = {
        "limits": {"max_queue_rows": 1000},
        "models": {"m": {"window": 100_000}},
        "sources": [{"file": str(source), "poll_interval": "100ms"}],
        "evaluate_every": "1h",
    }
    with running(tmp_path / "state.db", **config) as d:
        assert wait_for_rows(d, 3500) == 3500
        assert (d.metric("driftwarden_records_total", model="m", source="file") or 0) == 3500
        assert not d.metric("driftwarden_records_rejected_total", source="file", reason="larger_than_queue")


def test_a_read_whose_values_pass_the_queue_is_split_and_a_line_that_alone_does_is_dropped(tmp_path: Path) -> None:
    source = tmp_path / "predictions.ndjson"
    too_wide = orjson.dumps({"model": "w", "features": {f"f{j}": j for j in range(1500)}}) + b"\n"
    source.write_bytes(records(900, features=20) + too_wide + records(300, features=20))  # 24,000 values
    config = {
        "limits": {"max_queue_rows": 1000, "max_queue_values": 1000, "max_features": 1000},
        "models": {"m": {"window": 100_000}},
        "sources": [{"file": str(source), "poll_interval": "100ms"}],
        "evaluate_every": "1h",
    }
    with running(tmp_path / "state.db", **config) as d:
        assert wait_for_rows(d, 1200) == 1200
        assert d.metric("driftwarden_records_rejected_total", source="file", reason="larger_than_queue") == 1
        assert (d.metric("driftwarden_records_total", model="m", source="file") or 0) == 1200
