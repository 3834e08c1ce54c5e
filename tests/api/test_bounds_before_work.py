"""Every input is bounded before work (issue 14, "Hardening II"): a shape, a row count, a decoded size, a
feature count or a name is checked from the header, the shape or the metadata before any row is built,
and a reference is held to the same feature rules as a record. Each refusal answers a 4xx naming the
limit, is counted, and leaves nothing behind."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest

from tests.support.server import running

pytestmark = pytest.mark.server


def kserve(kind: str, event_id: str = "e-1") -> dict[str, str]:
    return {
        "ce-id": event_id,
        "ce-type": f"org.kubeflow.serving.inference.{kind}",
        "ce-source": "http://localhost:9081/",
        "ce-specversion": "1.0",
        "ce-inferenceservicename": "m",
        "content-type": "application/json",
    }


# -- KServe: the shape says how many rows, before the rows are built -----------------------------------


@pytest.mark.parametrize(
    ("kind", "payload"),
    [
        ("request", {"inputs": [{"name": "x", "shape": [6000000, 0], "datatype": "FP32", "data": []}]}),
        ("response", {"outputs": [{"name": "p", "shape": [6000000, 0], "datatype": "FP32", "data": []}]}),
        ("request", {"data": {"tensor": {"shape": [6000000, 0], "values": []}}}),
    ],
)
def test_a_zero_width_tensor_is_a_400_before_any_row_is_built(tmp_path: Path, kind: str, payload: Any) -> None:
    body = orjson.dumps(payload)  # 73 bytes for the V2 request: it used to build 6 million empty rows, then 413
    with running(tmp_path / "s.db", evaluate_every="1h") as d:
        r = d.client.post("/v1/kserve", content=body, headers=kserve(kind))
        assert r.status_code == 400 and r.json()["reason"] == "bad_shape"
        assert "[6000000, 0]" in r.json()["error"] and "zero dimension" in r.json()["error"]
        assert d.metric("driftwarden_requests_rejected_total", endpoint="/v1/kserve", reason="bad_shape") == 1
        assert d.client.get("/v1/models").json()["models"] == []


def test_a_tensor_with_more_rows_than_the_limit_is_a_413_before_its_data_is_read(tmp_path: Path) -> None:
    with running(tmp_path / "s.db", evaluate_every="1h") as d:
        tall = {"inputs": [{"name": "x", "shape": [6000000, 1], "datatype": "FP32", "data": [1.0]}]}
        r = d.client.post("/v1/kserve", content=orjson.dumps(tall), headers=kserve("request"))
        assert r.status_code == 413 and r.json()["reason"] == "too_many_records"
        assert "limits.max_records_per_request" in r.json()["error"]
        short = {"inputs": [{"name": "x", "shape": [2, 3], "datatype": "FP32", "data": [1, 2, 3, 4, 5]}]}
        r = d.client.post("/v1/kserve", content=orjson.dumps(short), headers=kserve("request"))
        assert r.status_code == 400 and r.json()["reason"] == "bad_shape"
        assert "needs 6 values, data has 5" in r.json()["error"]


def test_the_events_of_one_post_share_the_record_limit(tmp_path: Path) -> None:
    def event(event_id: str) -> dict[str, Any]:
        return {
            "specversion": "1.0",
            "id": event_id,
            "source": "http://localhost:9081/",
            "type": "org.kubeflow.serving.inference.request",
            "inferenceservicename": "m",
            "data": {"instances": [[1.0, 2.0]] * 6},
        }

    batch = {"content-type": "application/cloudevents-batch+json"}
    with running(tmp_path / "s.db", evaluate_every="1h", limits={"max_records_per_request": 10}) as d:
        r = d.client.post("/v1/kserve", content=orjson.dumps([event("a"), event("b")]), headers=batch)
        assert r.status_code == 413 and r.json()["reason"] == "too_many_records"
        # nothing of the refused batch waits for its response
        done = d.client.post(
            "/v1/kserve", content=b'{"predictions": [1, 1, 1, 1, 1, 1]}', headers=kserve("response", "a")
        )
        assert done.json() == {"accepted": 0, "rejected": 0, "errors": [], "pending": 1}
        r = d.client.post("/v1/kserve", content=orjson.dumps([event("c")]), headers=batch)
        assert r.status_code == 200 and r.json()["pending"] == 2
