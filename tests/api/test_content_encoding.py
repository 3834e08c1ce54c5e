"""`Content-Encoding` on every route that takes a body, over real HTTP: gzip is inflated in bounded
steps under limits.max_body_bytes (a bomb stops at the limit), identity is the body as sent, any
other coding is 415 naming what is accepted, and a damaged gzip stream is 400 — nothing stored."""

from __future__ import annotations

import gzip
import uuid
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest

from tests.support.routes import served_routes
from tests.support.server import Daemon, running

pytestmark = pytest.mark.server

LIMIT = 64 * 1024
RECORDS = b'{"model": "fraud", "features": {"amount": 1.5}}\n{"model": "fraud", "features": {"amount": 2.5}}\n'
NDJSON = "application/x-ndjson"
KSERVE_EVENT = {
    "ce-type": "org.kubeflow.serving.inference.request",
    "ce-source": "http://localhost:9081/",
    "ce-specversion": "1.0",
    "ce-inferenceservicename": "sklearn-iris",
}

# Every route that reads a body: (method, path as requested, content type, a body it accepts, the answer's
# status). A new route with a requestBody fails test_the_table_covers_every_route_with_a_body until added.
ROUTES = {
    ("POST", "/v1/predictions"): ("/v1/predictions", NDJSON, RECORDS, 200),
    ("POST", "/v1/traces"): ("/v1/traces", "application/json", b'{"resourceSpans": []}', 200),
    ("POST", "/v1/logs"): ("/v1/logs", "application/json", b'{"resourceLogs": []}', 200),
    ("POST", "/v1/metrics"): ("/v1/metrics", "application/json", b'{"resourceMetrics": []}', 200),
    ("PUT", "/v1/models/{model}/reference"): ("/v1/models/fraud/reference", "text/csv", b"amount\n1\n2\n3\n", 200),
    ("POST", "/v1/labels"): (
        "/v1/labels",
        "application/json",
        b'[{"model": "fraud", "request_id": "r1", "label": 1}]',
        200,
    ),
    ("POST", "/v1/silences"): (
        "/v1/silences",
        "application/json",
        b'{"matchers": {"model": "m"}, "duration": "1h"}',
        200,
    ),
    ("POST", "/v1/kserve"): ("/v1/kserve", "application/json", b'{"instances": [[1.0, 2.0]]}', 200),
    ("POST", "/v1/kserve/{model}"): ("/v1/kserve/iris", "application/json", b'{"instances": [[1.0, 2.0]]}', 200),
}
BODILESS = {("POST", "/v1/models/{model}/reference/pin"), ("DELETE", "/v1/silences/{silence_id}")}
# what OTLP paths answer other methods with (405 google.rpc.Status), and a signal not served (404)
BODILESS |= {(m, p) for p in ("/v1/traces", "/v1/metrics", "/v1/logs") for m in ("PUT", "PATCH", "DELETE")}
BODILESS |= {(m, "/v1development/profiles") for m in ("POST", "PUT", "PATCH", "DELETE")}
BOMB = gzip.compress(b" " * (32 << 20), compresslevel=9)  # 32 MiB of spaces in ~32 KiB, sent under the limit


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Daemon]:
    with running(
        tmp_path_factory.mktemp("encoding") / "s.db", evaluate_every="1h", limits={"max_body_bytes": LIMIT}
    ) as d:
        yield d


def post(d: Daemon, route: tuple[str, str], body: bytes, encoding: str | None) -> tuple[int, bytes, str]:
    path, ctype, _, _ = ROUTES[route]
    headers = {"content-type": ctype} | ({"content-encoding": encoding} if encoding is not None else {})
    if "kserve" in path:
        headers |= KSERVE_EVENT | {"ce-id": uuid.uuid4().hex}  # a repeated id would replace the waiting half
    r = d.client.request(route[0], path, content=body, headers=headers)
    return r.status_code, r.content, r.headers.get("content-type", "")


def message(content: bytes) -> str:
    """The refusal's sentence (OTLP answers a google.rpc.Status, whose is `message`)."""
    body = orjson.loads(content)
    return str(body.get("error") or body["message"])


def test_the_table_covers_every_route_with_a_body(small: Daemon) -> None:
    routes = list(served_routes(small.app))
    writes = {(method, path) for method, path, _ in routes if method in ("POST", "PUT", "PATCH", "DELETE")}
    assert writes == set(ROUTES) | BODILESS
    documented = {(m, path) for m, path, r in routes if "requestBody" in (getattr(r, "openapi_extra", None) or {})}
    assert documented == set(ROUTES)
    paths = small.app.openapi()["paths"]
    for method, path in ROUTES:
        assert "Content-Encoding" in {p["name"] for p in paths[path][method.lower()].get("parameters", [])}, path


@pytest.mark.parametrize("route", sorted(ROUTES))
@pytest.mark.parametrize("encoding", ["gzip", "GZip", "x-gzip", "identity", "identity, gzip", "", None])
def test_every_body_route_reads_gzip_and_identity(small: Daemon, route: tuple[str, str], encoding: str | None) -> None:
    _, _, body, status = ROUTES[route]
    sent = gzip.compress(body) if encoding and "gzip" in encoding.lower() else body
    got, content, _ = post(small, route, sent, encoding)
    assert got == status, content


@pytest.mark.parametrize("route", sorted(ROUTES))
@pytest.mark.parametrize("encoding", ["br", "deflate", "zstd", "compress", "gzip, br", "gzip, gzip"])
def test_other_encodings_are_415_naming_what_is_accepted(small: Daemon, route: tuple[str, str], encoding: str) -> None:
    _, _, body, _ = ROUTES[route]
    got, content, _ = post(small, route, body, encoding)
    assert got == 415
    said = message(content)
    assert "send gzip or identity" in said and encoding in said


@pytest.mark.parametrize("route", sorted(ROUTES))
def test_a_damaged_gzip_stream_is_400(small: Daemon, route: tuple[str, str]) -> None:
    _, _, body, _ = ROUTES[route]
    packed = gzip.compress(body)
    flipped = bytearray(packed)
    flipped[12] ^= 0xFF
    for damaged in (b"not gzip", packed[:-6], packed + b"garbage!", bytes(flipped), b""):
        got, content, _ = post(small, route, damaged, "gzip")
        assert got == 400, (damaged, content)
        assert "gzip" in message(content)


@pytest.mark.parametrize("route", sorted(ROUTES))
def test_a_gzip_bomb_stops_at_the_limit(small: Daemon, route: tuple[str, str]) -> None:
    assert len(BOMB) < LIMIT
    got, content, _ = post(small, route, BOMB, "gzip")
    assert got == 413
    assert "decompressed" in message(content) and str(LIMIT) in message(content)


def test_gzip_bodies_are_counted_and_what_is_refused_is_not_stored(tmp_path: Path) -> None:
    with running(tmp_path / "s.db", evaluate_every="1h", limits={"max_body_bytes": LIMIT}) as d:
        headers = {"content-type": NDJSON, "content-encoding": "gzip"}
        ok = d.client.post("/v1/predictions", content=gzip.compress(RECORDS), headers=headers)
        assert ok.status_code == 200 and ok.json()["accepted"] == 2
        two_members = gzip.compress(RECORDS) + gzip.compress(RECORDS.replace(b"fraud", b"churn"))
        ok = d.client.post("/v1/predictions", content=two_members, headers=headers)
        assert ok.status_code == 200 and ok.json()["accepted"] == 4  # RFC 1952: a file is one or more members

        big = RECORDS.replace(b"fraud", b"bomb") * (2 * LIMIT // len(RECORDS))  # twice the limit once inflated
        refused = d.client.post("/v1/predictions", content=gzip.compress(big), headers=headers)
        assert refused.status_code == 413 and refused.json()["reason"] == "body_too_large"
        brotli = d.client.post("/v1/predictions", content=RECORDS, headers={**headers, "content-encoding": "br"})
        assert brotli.status_code == 415 and brotli.json()["reason"] == "unsupported_media_type"
        broken = d.client.post("/v1/predictions", content=gzip.compress(RECORDS)[:-4], headers=headers)
        assert broken.status_code == 400 and broken.json()["reason"] == "bad_body"

        for why in ("body_too_large", "unsupported_media_type", "bad_body"):
            assert d.metric("driftwarden_requests_rejected_total", endpoint="/v1/predictions", reason=why) == 1
        assert {m["model"] for m in d.client.get("/v1/models").json()["models"]} == {"fraud", "churn"}
