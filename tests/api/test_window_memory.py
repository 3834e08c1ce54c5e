"""A model's window costs memory for the rows it holds, and no more than the limits allow; a request
that could never fit the queue is told so (issue 14).

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
from tests.support.server import running
from tests.support.windows import BUDGET, MIB, NDJSON, pause_ingest, rejected, wide_record, window_rows

pytestmark = pytest.mark.server


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


def test_a_batch_past_its_models_window_budget_is_refused_whole_and_nothing_is_kept(tmp_path: Path) -> None:
    with running(tmp_path / "state.db", evaluate_every="1h", limits=BUDGET) as d:
        assert d.client.post("/v1/predictions", content=wide_record("m", 100, rows=1000), headers=NDJSON).is_success
        assert d.metric("driftwarden_window_bytes", model="m") == 1024 * 100 * 8

        r = d.client.post("/v1/predictions", content=wide_record("m", 100, rows=100), headers=NDJSON)
        assert r.status_code == 409 and r.json()["reason"] == "memory_budget", r.text
        assert "limits.max_window_bytes_per_model" in r.json()["error"] and "'m'" in r.json()["error"]
        new = d.client.post("/v1/predictions", content=wide_record("wide", 100, rows=2000), headers=NDJSON)
        assert new.status_code == 409 and new.json()["reason"] == "memory_budget"

        assert window_rows(d) == {"m": 1000}  # nothing appended, no model created
        assert d.metric("driftwarden_window_bytes", model="m") == 1024 * 100 * 8
        assert rejected(d, "memory_budget") == 2100
        assert d.metric("driftwarden_requests_rejected_total", endpoint="/v1/predictions", reason="memory_budget") == 2
        narrow = d.client.post("/v1/predictions", content=wide_record("m", 50, rows=20), headers=NDJSON)
        assert narrow.status_code == 200  # rows the window's block still holds: no growth, no refusal
        assert window_rows(d) == {"m": 1020}


def test_the_windows_of_all_models_share_a_budget(tmp_path: Path) -> None:
    with running(tmp_path / "state.db", evaluate_every="1h", limits=BUDGET) as d:
        for model in ("a", "b"):
            assert d.client.post("/v1/predictions", content=wide_record(model, 100, 1000), headers=NDJSON).is_success
        r = d.client.post("/v1/predictions", content=wide_record("c", 100, rows=1000), headers=NDJSON)
        assert r.status_code == 409 and r.json()["reason"] == "memory_budget"
        assert "limits.max_window_bytes_total" in r.json()["error"] and "'c'" in r.json()["error"]
        assert window_rows(d) == {"a": 1000, "b": 1000}
        small = d.client.post("/v1/predictions", content=wide_record("c", 10, rows=10), headers=NDJSON)
        assert small.status_code == 200  # 16 rows x 10 features still fit
        assert window_rows(d) == {"a": 1000, "b": 1000, "c": 10}


def test_a_kserve_event_past_the_budget_is_refused_whole(tmp_path: Path) -> None:
    headers = {
        "ce-id": "e1",
        "ce-source": "http://localhost:9081/",
        "ce-specversion": "1.0",
        "ce-inferenceservicename": "iris",
        "content-type": "application/json",
    }
    with running(tmp_path / "state.db", evaluate_every="1h", limits=BUDGET) as d:
        request = orjson.dumps({"instances": [[float(j) for j in range(99)]] * 2000})
        answer = d.client.post(
            "/v1/kserve", content=request, headers=headers | {"ce-type": "org.kubeflow.serving.inference.request"}
        )
        assert answer.status_code == 200, answer.text  # half an event: nothing is admitted yet
        response = orjson.dumps({"predictions": [0] * 2000})
        r = d.client.post(
            "/v1/kserve", content=response, headers=headers | {"ce-type": "org.kubeflow.serving.inference.response"}
        )
        assert r.status_code == 409 and r.json()["reason"] == "memory_budget", r.text
        assert rejected(d, "memory_budget", source="kserve") == 2000
        assert window_rows(d) == {}


def test_a_request_larger_than_the_whole_queue_answers_413_not_429(tmp_path: Path) -> None:
    """It could never be admitted: 429 told the client to retry it forever."""
    with running(tmp_path / "state.db", evaluate_every="1h", limits={"max_queue_rows": 1000}) as d:
        r = d.client.post("/v1/predictions", content=wide_record("m", 3, rows=1500), headers=NDJSON)
        assert r.status_code == 413 and r.json()["reason"] == "larger_than_queue", r.text
        assert "split" in r.json()["error"] and "limits.max_queue_rows" in r.json()["error"]
        assert "retry-after" not in r.headers
        assert rejected(d, "larger_than_queue") == 1500 and window_rows(d) == {}

        pause_ingest(d)  # what is admitted now stays queued
        assert d.client.post("/v1/predictions", content=wide_record("m", 3, rows=600), headers=NDJSON).is_success
        busy = d.client.post("/v1/predictions", content=wide_record("m", 3, rows=600), headers=NDJSON)
        assert busy.status_code == 429 and busy.json()["reason"] == "queue_full" and busy.headers["retry-after"] == "1"
        assert rejected(d, "queue_full") == 600


def trace_export(spans: int) -> bytes:
    now = time.time_ns()
    span = {
        "traceId": "5b8efff798038103d269b633813fc60c",
        "spanId": "eee19b7ec3c1b174",
        "name": "predict",
        "kind": 2,
        "startTimeUnixNano": str(now - 2_000_000_000),
        "endTimeUnixNano": str(now - 1_000_000_000),
    }
    return orjson.dumps({"resourceSpans": [{"scopeSpans": [{"spans": [span] * spans}]}]})


def test_a_trace_export_larger_than_the_whole_queue_answers_413(tmp_path: Path) -> None:
    json_body = {"content-type": "application/json"}
    with running(tmp_path / "state.db", evaluate_every="1h", limits={"max_queue_rows": 1000}) as d:
        r = d.client.post("/v1/traces", content=trace_export(1500), headers=json_body)
        assert r.status_code == 413 and "limits.max_queue_rows" in r.json()["message"], r.text
        assert "retry-after" not in r.headers
        assert d.metric("driftwarden_requests_rejected_total", endpoint="/v1/traces", reason="larger_than_queue") == 1
        assert d.client.post("/v1/traces", content=trace_export(500), headers=json_body).status_code == 200


def test_the_queue_is_bounded_by_values_not_only_rows(tmp_path: Path) -> None:
    """500,000 queued rows of 1,000 features were ~4 GB: rows x features is bounded too."""
    limits = {"max_queue_rows": 100_000, "max_queue_values": 100_000}
    with running(tmp_path / "state.db", evaluate_every="1h", limits=limits) as d:
        r = d.client.post("/v1/predictions", content=wide_record("m", 100, rows=1001), headers=NDJSON)
        assert r.status_code == 413 and r.json()["reason"] == "larger_than_queue", r.text
        assert "limits.max_queue_values" in r.json()["error"] and "retry-after" not in r.headers
        assert rejected(d, "larger_than_queue") == 1001 and window_rows(d) == {}

        pause_ingest(d)  # what is admitted now stays queued
        ok = d.client.post("/v1/predictions", content=wide_record("m", 100, rows=600), headers=NDJSON)
        assert ok.status_code == 200, ok.text
        busy = d.client.post("/v1/predictions", content=wide_record("m", 100, rows=600), headers=NDJSON)
        assert busy.status_code == 429 and busy.json()["reason"] == "queue_full", busy.text
        assert busy.headers["retry-after"] == "1" and "limits.max_queue_values" in busy.json()["error"]
        assert rejected(d, "queue_full") == 600
        narrow = d.client.post("/v1/predictions", content=wide_record("n", 1, rows=600), headers=NDJSON)
        assert narrow.status_code == 200, narrow.text  # rows, not values, are what the queue is short of
