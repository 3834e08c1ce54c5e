"""Every signal refuses an export alike, as OTLP/HTTP answers every error: a google.rpc.Status in the
request's encoding, its code by the refusal. A missing or wrong bearer token: 401, code 16
(UNAUTHENTICATED), with `WWW-Authenticate`, whether the route's token or `auth.protect_reads` refused
it; a full queue: 429, code 8 (RESOURCE_EXHAUSTED), with `Retry-After`. Counted, and nothing taken."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from google.rpc.status_pb2 import Status as RpcStatus

from tests.support.server import Daemon, running
from tests.support.windows import pause_ingest

pytestmark = pytest.mark.server

TOKEN = "s3cret-token"
SIGNALS = ("/v1/traces", "/v1/metrics", "/v1/logs")
PROTOBUF, JSON = "application/x-protobuf", "application/json"
UNAUTHENTICATED, RESOURCE_EXHAUSTED = 16, 8
EMPTY = {PROTOBUF: b"", JSON: b"{}"}  # an empty export of any signal, in either encoding


@pytest.fixture(params=[{}, {"protect_reads": True}], ids=["writes", "protect_reads"])
def guarded(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Daemon]:
    (tmp_path / "token").write_text(TOKEN)
    with running(tmp_path / "s.db", auth_token_file=str(tmp_path / "token"), auth=request.param) as d:
        yield d


def rpc_status(answer: httpx.Response, media: str) -> RpcStatus:
    assert answer.headers["content-type"] == media
    if media == PROTOBUF:
        return RpcStatus.FromString(answer.content)
    body = answer.json()
    return RpcStatus(code=body["code"], message=body["message"])


@pytest.mark.parametrize("media", [PROTOBUF, JSON])
def test_a_missing_or_wrong_token_answers_a_google_rpc_status_in_the_request_encoding(
    guarded: Daemon, media: str
) -> None:
    for path in SIGNALS:
        for authorization in ({}, {"authorization": "Bearer wrong"}, {"authorization": TOKEN}):
            answer = guarded.client.post(path, content=EMPTY[media], headers={"content-type": media, **authorization})
            assert answer.status_code == 401, (path, answer.text)
            assert answer.headers["www-authenticate"] == 'Bearer realm="driftwarden"'
            status = rpc_status(answer, media)
            assert status.code == UNAUTHENTICATED and "bearer token" in status.message, (path, status)
        assert guarded.metric("driftwarden_requests_rejected_total", endpoint=path, reason="unauthorized") == 3
        allowed = guarded.client.post(
            path, content=EMPTY[media], headers={"content-type": media, "authorization": f"Bearer {TOKEN}"}
        )
        assert allowed.status_code == 200 and allowed.headers["content-type"] == media, (path, allowed.text)
    assert guarded.metric("driftwarden_spans_total", outcome="observed") == 0


def test_other_routes_keep_their_json_problem(guarded: Daemon) -> None:
    answer = guarded.client.post("/v1/predictions", content=b"[]", headers={"content-type": JSON})
    assert answer.status_code == 401 and answer.json()["reason"] == "unauthorized"


def string(key: str, value: str) -> dict[str, Any]:
    return {"key": key, "value": {"stringValue": value}}


def export(signal: str, rows: int) -> bytes:
    """An OTLP JSON export of `rows` spans, histogram points or prediction log records."""
    now = time.time_ns()
    resource = {"attributes": [string("service.name", "gw"), string("model.name", "fraud")]}
    if signal == "/v1/traces":
        spans = [
            {
                "traceId": f"{i + 1:032x}",
                "spanId": f"{i + 1:016x}",
                "name": "POST /predict",
                "kind": 2,
                "startTimeUnixNano": str(now - 50_000_000),
                "endTimeUnixNano": str(now),
                "attributes": [string("http.route", "/predict")],
            }
            for i in range(rows)
        ]
        return orjson.dumps({"resourceSpans": [{"resource": resource, "scopeSpans": [{"spans": spans}]}]})
    if signal == "/v1/metrics":
        points = [
            {
                "attributes": [string("http.route", "/predict"), string("k8s.pod.name", str(i))],
                "startTimeUnixNano": str(now - 1_000_000),
                "timeUnixNano": str(now),
                "count": "1",
                "sum": 0.05,
                "bucketCounts": ["0", "1", "0"],
                "explicitBounds": [0.01, 0.1],
            }
            for i in range(rows)
        ]
        histogram = {"aggregationTemporality": 1, "dataPoints": points}
        metric = {"name": "http.server.request.duration", "unit": "s", "histogram": histogram}
        return orjson.dumps({"resourceMetrics": [{"resource": resource, "scopeMetrics": [{"metrics": [metric]}]}]})
    records = [
        {"timeUnixNano": str(now), "attributes": [{"key": "driftwarden.features.x", "value": {"doubleValue": i}}]}
        for i in range(rows)
    ]
    return orjson.dumps({"resourceLogs": [{"resource": resource, "scopeLogs": [{"logRecords": records}]}]})


@pytest.mark.parametrize("path", SIGNALS)
def test_a_full_queue_answers_429_resource_exhausted_on_every_signal(tmp_path: Path, path: str) -> None:
    with running(tmp_path / "s.db", limits={"max_queue_rows": 1000}) as d:
        pause_ingest(d)
        first = d.client.post(path, content=export(path, 600), headers={"content-type": JSON})
        assert first.status_code == 200, first.text
        busy = d.client.post(path, content=export(path, 600), headers={"content-type": JSON})
        assert busy.status_code == 429 and busy.headers["retry-after"] == "1", busy.text
        status = rpc_status(busy, JSON)
        assert status.code == RESOURCE_EXHAUSTED and status.message, status
        assert d.metric("driftwarden_requests_rejected_total", endpoint=path, reason="queue_full") == 1
