"""Every way in shares one admission: with each limit exceeded through HTTP, KServe and the file
tail, `driftwarden_records_rejected_total{source,reason}` counts each rejected record exactly once."""

from __future__ import annotations

import time
from pathlib import Path

import orjson
import pytest

from tests.support.server import Daemon, running

pytestmark = pytest.mark.server

NDJSON = {"content-type": "application/x-ndjson"}
LIMITS = {"max_models": 2, "max_features": 3, "max_queue_rows": 1000}


def lines(model: str, rows: int, width: int = 2, bad: int = 0) -> bytes:
    records = [{"model": model, "features": {f"f{j}": float(i + j) for j in range(width)}} for i in range(rows)]
    records += [{"model": model}] * bad  # no features: refused one by one by the parser
    return b"\n".join(orjson.dumps(r) for r in records) + b"\n"


def kserve(d: Daemon, model: str, event: str, instances: list[list[float]]) -> int:
    headers = {
        "ce-id": event,
        "ce-source": "http://localhost:9081/",
        "ce-specversion": "1.0",
        "ce-inferenceservicename": model,
        "content-type": "application/json",
    }
    request = d.client.post(
        "/v1/kserve",
        content=orjson.dumps({"instances": instances}),
        headers=headers | {"ce-type": "org.kubeflow.serving.inference.request"},
    )
    assert request.status_code == 200, request.text
    response = d.client.post(
        "/v1/kserve",
        content=orjson.dumps({"predictions": [0] * len(instances)}),
        headers=headers | {"ce-type": "org.kubeflow.serving.inference.response"},
    )
    return response.status_code


def rejected(d: Daemon, source: str, reason: str) -> float:
    return d.metric("driftwarden_records_rejected_total", source=source, reason=reason) or 0.0


def test_each_limit_counts_each_rejected_record_once(tmp_path: Path) -> None:
    tail = tmp_path / "predictions.ndjson"
    tail.write_bytes(b"")
    config = {"limits": LIMITS, "sources": [{"file": str(tail), "poll_interval": "100ms"}], "evaluate_every": "1h"}
    with running(tmp_path / "state.db", **config) as d:
        # two models fill limits.max_models
        for model in ("a", "b"):
            assert d.client.post("/v1/predictions", content=lines(model, 5), headers=NDJSON).status_code == 200

        # HTTP: a third model, too many features, records the parser refuses, a request larger than the queue
        r = d.client.post("/v1/predictions", content=lines("c", 7), headers=NDJSON)
        assert r.status_code == 400 and r.json()["rejected"] == 7
        r = d.client.post("/v1/predictions", content=lines("a", 4, width=4), headers=NDJSON)
        assert r.status_code == 400 and r.json()["rejected"] == 4
        r = d.client.post("/v1/predictions", content=lines("a", 3, bad=2), headers=NDJSON)
        assert r.status_code == 200 and r.json()["rejected"] == 2
        r = d.client.post("/v1/predictions", content=lines("b", 1001), headers=NDJSON)
        assert r.status_code == 413  # more rows than the queue holds at all
        assert rejected(d, "http", "too_many_models") == 7
        assert rejected(d, "http", "too_many_features") == 4
        assert rejected(d, "http", "bad_features") == 2
        assert rejected(d, "http", "larger_than_queue") == 1001

        # KServe: a third model, and a wider tensor than the model may have features
        assert kserve(d, "c", "e1", [[1.0, 2.0]] * 6) == 400
        assert kserve(d, "a", "e2", [[1.0, 2.0, 3.0]] * 3) == 400  # f0..f2 + prediction: 4 > 3
        assert rejected(d, "kserve", "too_many_models") == 6
        assert rejected(d, "kserve", "too_many_features") == 3

        # the file tail: the same limits, counted once (they used to be counted twice)
        with tail.open("ab") as f:
            f.write(lines("c", 5) + lines("a", 2, width=5) + lines("b", 1, bad=3))
        deadline = time.monotonic() + 10
        while rejected(d, "file", "bad_features") < 3 and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.3)  # another poll: nothing may be counted again
        assert rejected(d, "file", "too_many_models") == 5
        assert rejected(d, "file", "too_many_features") == 2
        assert rejected(d, "file", "bad_features") == 3
