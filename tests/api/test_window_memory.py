"""A model's window costs memory for the rows it holds, and no more than the limits allow (issue 14).

Each test talks to a daemon over real HTTP; the first runs `driftwarden run` as a process of its own
so that its resident memory is that daemon's alone.
"""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import orjson
import pytest
import yaml

from tests.support.processes import driftwarden_run

pytestmark = pytest.mark.server

NDJSON = {"content-type": "application/x-ndjson"}
MIB = 1024 * 1024


def wide_record(model: str, features: int, rows: int = 1) -> bytes:
    record = {"model": model, "features": {f"f{j}": 0.5 + j for j in range(features)}}
    return b"\n".join(orjson.dumps(record) for _ in range(rows))


def resident_bytes(pid: int) -> int:
    with open(f"/proc/{pid}/status") as status:
        line = next(line for line in status if line.startswith("VmRSS:"))
    return int(line.split()[1]) * 1024


def wait_applied(client: httpx.Client, models: int) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        listed = client.get("/v1/models").json()["models"]
        if len(listed) == models and all(m["rows"]["current"] for m in listed):
            return
        time.sleep(0.1)
    pytest.fail("the admitted rows did not reach their windows")


@pytest.mark.slow
def test_new_wide_models_cost_the_rows_they_hold_not_a_whole_window(tmp_path: Path) -> None:
    """20 requests of 13 KB, each naming a new model with 1,000 features, used to allocate 20 whole
    windows (5,000 rows x 1,000 features x 8 bytes = 40 MB each): +800 MB resident."""
    config = tmp_path / "driftwarden.yml"
    config.write_text(yaml.safe_dump({"state_path": str(tmp_path / "state.db"), "evaluate_every": "1h"}))
    with driftwarden_run(config, tmp_path / "run.log") as served, httpx.Client(base_url=served.base_url) as client:
        warm = client.post("/v1/predictions", content=wide_record("warmup", 1000), headers=NDJSON)
        assert warm.status_code == 200, warm.text
        wait_applied(client, 1)
        before = resident_bytes(served.proc.pid)
        for i in range(20):
            body = wide_record(f"wide-{i}", 1000)
            assert len(body) < 16_000
            r = client.post("/v1/predictions", content=body, headers=NDJSON)
            assert r.status_code == 200 and r.json()["accepted"] == 1, r.text
        wait_applied(client, 21)
        grown = resident_bytes(served.proc.pid) - before
    print(f"resident memory after 20 new 1,000-feature models: +{grown / MIB:.1f} MiB")
    assert grown < 100 * MIB
