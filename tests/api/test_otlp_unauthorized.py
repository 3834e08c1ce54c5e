"""A missing or wrong bearer token on an OTLP export is answered as OTLP/HTTP answers every error: a
google.rpc.Status (code 16, UNAUTHENTICATED) in the request's encoding, with `WWW-Authenticate` —
whether the route's token or `auth.protect_reads` refused it; counted, and nothing taken."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from google.rpc.status_pb2 import Status as RpcStatus

from tests.support.server import Daemon, running

pytestmark = pytest.mark.server

TOKEN = "s3cret-token"
SIGNALS = ("/v1/traces", "/v1/metrics", "/v1/logs")
PROTOBUF, JSON = "application/x-protobuf", "application/json"
UNAUTHENTICATED = 16
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
