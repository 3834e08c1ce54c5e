"""The audit trail over real HTTP (GET /v1/audit): each state-changing action appears once, with the name
of the token its caller sent; a refused action writes no entry; the trail needs a token even while reads
are open; filters and pages; retention pruning at start; retraining triggers, enqueued and delivered."""

from __future__ import annotations

import io
import re
import socket
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

from driftwarden.api.identity import is_loopback, tls_subject
from driftwarden.sink import WebhookSink
from tests.support.ports import free_port
from tests.support.processes import DRIFTWARDEN, serving
from tests.support.records import NDJSON, records, reference_frame
from tests.support.server import Daemon, running

pytestmark = pytest.mark.server

TOKENS = {"default": "tok-default", "ci": "tok-ci", "alice": "tok-alice"}
TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
DAY = 86400.0


def bearer(name: str) -> dict[str, str]:
    return {"authorization": f"Bearer {TOKENS[name]}"}


@pytest.fixture
def auth(tmp_path: Path) -> dict[str, Any]:
    """auth_token_file (named "default") and two named tokens."""
    files = {}
    for name, token in TOKENS.items():
        files[name] = tmp_path / f"{name}.token"
        files[name].write_text(token + "\n")
    return {"auth_token_file": str(files.pop("default")), "auth": {"tokens": {n: str(p) for n, p in files.items()}}}


@pytest.fixture
def daemon(tmp_path: Path, auth: dict[str, Any]) -> Iterator[Daemon]:
    with running(tmp_path / "state.db", evaluate_every="1h", **auth) as d:
        yield d


def trail(d: Daemon, token: str = "ci", **params: object) -> list[dict[str, Any]]:
    """Every entry (all pages), newest first."""
    entries: list[dict[str, Any]] = []
    cursor = None
    while True:
        query = {k: str(v) for k, v in params.items()} | ({"cursor": cursor} if cursor else {})
        r = d.client.get("/v1/audit", params=query, headers=bearer(token))
        assert r.status_code == 200, r.text
        entries += r.json()["entries"]
        cursor = r.json()["next_cursor"]
        if cursor is None:
            return entries


def actions(d: Daemon) -> list[str]:
    return [e["action"] for e in reversed(trail(d)) if e["action"] != "config.load"]


def test_each_action_appears_once_with_the_name_of_the_token_its_caller_sent(daemon: Daemon) -> None:
    rng = np.random.default_rng(1)
    put_reference_as(daemon, "ci", rng)
    assert daemon.client.post("/v1/predictions", content=records(rng, 500), headers=NDJSON | bearer("alice")).is_success
    pin = daemon.client.post(
        "/v1/models/fraud/reference/pin", headers=bearer("alice") | {"traceparent": f"00-{TRACE}-00f067aa0ba902b7-01"}
    )
    assert pin.status_code == 200, pin.text
    silence = {"matchers": {"model": "fraud"}, "duration": "2h", "created_by": "claims to be bob"}
    silence_id = daemon.client.post("/v1/silences", json=silence, headers=bearer("default")).json()["id"]
    assert daemon.client.delete(f"/v1/silences/{silence_id}", headers=bearer("ci")).status_code == 200

    entries = list(reversed(trail(daemon)))
    assert Counter(e["action"] for e in entries) == {
        "config.load": 1,
        "reference.upload": 1,
        "reference.pin": 1,
        "silence.add": 1,
        "silence.expire": 1,
    }
    config, upload, pinned, added, expired = entries
    assert [e["caller"]["name"] for e in entries] == ["driftwarden", "ci", "alice", "default", "ci"]
    assert [e["subject"] for e in entries] == ["config", "fraud", "fraud", silence_id, silence_id]
    assert all(e["caller"]["address"] == "127.0.0.1" for e in entries[1:]) and config["caller"]["address"] is None
    assert all(e["caller"]["tls_subject"] is None for e in entries)  # the daemon asks for no client certificate
    assert all(re.fullmatch("[0-9a-f]{32}", e["trace_id"]) for e in entries)
    assert pinned["trace_id"] == TRACE  # the caller's W3C trace context
    # the digests chain: each change starts from the state the one before it left
    assert upload["before"] is None and upload["after"] == pinned["before"] != pinned["after"]
    assert added["before"] is None and added["after"] == expired["before"] != expired["after"]
    assert upload["detail"] == {"source": "http:parquet", "rows": 5000, "features": 3}
    assert pinned["detail"]["source"] == "pinned window" and pinned["detail"]["rows"] == 500
    assert added["detail"]["matchers"] == {"model": "fraud"}
    assert [e["id"] for e in entries] == sorted(e["id"] for e in entries)


def put_reference_as(d: Daemon, name: str, rng: np.random.Generator) -> None:
    buf = io.BytesIO()
    reference_frame(rng).write_parquet(buf)
    headers = {"content-type": "application/vnd.apache.parquet"} | bearer(name)
    r = d.client.put("/v1/models/fraud/reference", content=buf.getvalue(), headers=headers)
    assert r.status_code == 200, r.text


def test_a_refused_action_writes_no_entry(tmp_path: Path, auth: dict[str, Any]) -> None:
    parquet = {"content-type": "application/vnd.apache.parquet"}
    with running(tmp_path / "state.db", evaluate_every="1h", limits={"max_models": 1}, **auth) as d:
        silence = {"matchers": {"model": "fraud"}, "duration": "2h"}
        refused = [
            # a wrong token, or none
            d.client.post("/v1/silences", json=silence, headers={"authorization": "Bearer nope"}),
            d.client.post("/v1/silences", json=silence),
            d.client.put("/v1/models/fraud/reference", content=b"x", headers=parquet),
            d.client.delete("/v1/silences/abc"),
            # a bad body
            d.client.post("/v1/silences", json={"matchers": {}, "duration": "2h"}, headers=bearer("ci")),
            d.client.post("/v1/silences", json=silence | {"duration": "400d"}, headers=bearer("ci")),
            d.client.put("/v1/models/fraud/reference", content=b"not parquet", headers=parquet | bearer("ci")),
            # nothing to act on, a conflict
            d.client.delete("/v1/silences/abc", headers=bearer("ci")),
            d.client.post("/v1/models/nobody/reference/pin", headers=bearer("ci")),
        ]
        assert [r.status_code for r in refused] == [401, 401, 401, 401, 400, 400, 400, 404, 404]
        put_reference_as(d, "ci", np.random.default_rng(2))
        assert d.client.post("/v1/models/fraud/reference/pin", headers=bearer("ci")).status_code == 409  # empty
        second = d.client.put("/v1/models/other/reference", content=b"x", headers=parquet | bearer("ci"))
        assert second.status_code == 409 and second.json()["reason"] == "too_many_models"
        assert actions(d) == ["reference.upload"]


def test_the_trail_needs_a_token_even_while_reads_are_open(daemon: Daemon) -> None:
    assert daemon.client.get("/v1/models").status_code == 200  # reads are open
    for headers in ({}, {"authorization": "Bearer nope"}, {"authorization": f"Basic {TOKENS['ci']}"}):
        r = daemon.client.get("/v1/audit", headers=headers)
        assert r.status_code == 401 and r.json()["reason"] == "unauthorized"
    for name in TOKENS:  # any configured token reads it
        assert daemon.client.get("/v1/audit", headers=bearer(name)).status_code == 200
    assert daemon.metric("driftwarden_requests_rejected_total", endpoint="/v1/audit", reason="unauthorized") == 3


def outward_address() -> str | None:
    """This host's address on its default route (no packet is sent), if it has one that is not loopback."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.connect(("10.255.255.255", 1))
        except OSError:
            return None
        address: str = s.getsockname()[0]
    return None if address.startswith("127.") or address == "0.0.0.0" else address


def test_with_no_token_configured_only_loopback_clients_read_the_trail(tmp_path: Path) -> None:
    with running(tmp_path / "state.db", evaluate_every="1h") as d:
        silence = {"matchers": {"model": "fraud"}, "duration": "2h"}
        assert d.client.post("/v1/silences", json=silence).status_code == 200
        added, _ = d.client.get("/v1/audit").json()["entries"]
        assert added["caller"]["name"] == "anonymous" and added["action"] == "silence.add"
    address = outward_address()
    if address is None:
        pytest.skip("no address but loopback to reach the daemon from")
    config = tmp_path / "driftwarden.yaml"
    config.write_text(f"state_path: {tmp_path / 'state.db'}\n")
    port = free_port()
    command = [*DRIFTWARDEN, "run", "--config", str(config), "--listen", f"0.0.0.0:{port}"]
    with serving(command, base_url=f"http://127.0.0.1:{port}", log=tmp_path / "run.log"):
        assert httpx.get(f"http://127.0.0.1:{port}/v1/audit", timeout=10).status_code == 200
        r = httpx.get(f"http://{address}:{port}/v1/audit", timeout=10)
        assert r.status_code == 403 and r.json()["reason"] == "audit_needs_a_token"
        assert "auth_token_file or auth.tokens" in r.json()["error"]
        assert httpx.get(f"http://{address}:{port}/v1/silences", timeout=10).status_code == 200  # reads are open


def test_filters_and_pages(daemon: Daemon) -> None:
    ids = []
    for i in range(7):
        caller = "alice" if i % 2 else "ci"
        body = {"matchers": {"model": f"m{i}"}, "duration": "2h"}
        ids.append(daemon.client.post("/v1/silences", json=body, headers=bearer(caller)).json()["id"])
    assert daemon.client.delete(f"/v1/silences/{ids[0]}", headers=bearer("ci")).is_success
    everything = trail(daemon)
    assert len(everything) == 9  # config.load, 7 adds, 1 expire

    # pages of 2: every entry once, newest first
    seen, cursor, pages = [], None, 0
    while True:
        params = {"limit": "2"} | ({"cursor": cursor} if cursor else {})
        page = daemon.client.get("/v1/audit", params=params, headers=bearer("ci")).json()
        assert len(page["entries"]) <= 2
        seen += page["entries"]
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert pages == 5 and seen == everything
    assert [e["id"] for e in seen] == sorted((e["id"] for e in seen), reverse=True)

    assert [e["subject"] for e in trail(daemon, action="silence.add")] == list(reversed(ids))
    assert {e["action"] for e in trail(daemon, action="silence.*")} == {"silence.add", "silence.expire"}
    assert [e["action"] for e in trail(daemon, subject=ids[0])] == ["silence.expire", "silence.add"]
    assert len(trail(daemon, caller="alice")) == 3 and len(trail(daemon, caller="ci")) == 5
    third = everything[-3]  # the second silence added
    at = third["at"]
    assert trail(daemon, since=at)[-1] == third and trail(daemon, until=at)[0] == everything[-2]
    assert trail(daemon, since=third["time"].replace("Z", "+00:00"))[-1]["at"] >= at - 0.001
    assert trail(daemon, caller="nobody") == []

    for params, where in (
        ({"acton": "x"}, "did you mean 'action'"),
        ({"limit": "0"}, "limit"),
        ({"limit": "1001"}, "limit"),
        ({"cursor": "-1"}, "cursor"),
        ({"since": "yesterday"}, "RFC 3339"),
        ({"until": "2026-01-01T00:00:00"}, "offset"),
        ({"since": "nan"}, "finite"),
    ):
        r = daemon.client.get("/v1/audit", params=params, headers=bearer("ci"))
        assert r.status_code == 400 and r.json()["reason"] == "bad_query" and where in r.json()["error"], params
    assert daemon.metric("driftwarden_requests_rejected_total", endpoint="/v1/audit", reason="bad_query") == 7


def test_entries_past_the_retention_are_pruned_at_start(tmp_path: Path, auth: dict[str, Any]) -> None:
    state = tmp_path / "state.db"
    with running(state, **auth) as d:
        for model in ("a", "b", "c"):
            body = {"matchers": {"model": model}, "duration": "2h"}
            assert d.client.post("/v1/silences", json=body, headers=bearer("ci")).is_success
        assert len(trail(d)) == 4
    with running(state, clock=lambda: time.time() + 399 * DAY, **auth) as d:  # within audit.retention (400d)
        assert len(trail(d)) == 5  # and this start's config (another port)
    with running(state, clock=lambda: time.time() + 401 * DAY, **auth) as d:
        (entry,) = trail(d)  # the rest is past the retention
        assert entry["action"] == "config.load" and entry["detail"] == {"changed_keys": ["listen"]}
        assert entry["before"] is not None  # the config before is known by its digest, pruned or not


def test_a_retraining_trigger_is_audited_when_enqueued_and_when_delivered(tmp_path: Path, auth: dict[str, Any]) -> None:
    sink = WebhookSink().start()
    config = {
        "alerting": {"for": 1, "group_wait": "0s", "group_interval": "0s", "resolve_hold": "0s"},
        "receivers": [{"name": "airflow", "type": "retrain", "url": sink.url + "/dags/retrain/dagRuns"}],
        "routes": [{"match": {"kind": "drift"}, "receivers": ["airflow"]}],
    }
    rng = np.random.default_rng(3)
    try:
        with running(tmp_path / "state.db", evaluate_every="1h", **config, **auth) as d:
            put_reference_as(d, "ci", rng)
            shifted = records(rng, 2000, (3, 3, 3))
            assert d.client.post("/v1/predictions", content=shifted, headers=NDJSON | bearer("ci")).is_success
            d.evaluate()
            (delivery,) = sink.wait_for(1)
            deadline = time.monotonic() + 10
            while "retrain.delivered" not in actions(d) and time.monotonic() < deadline:
                time.sleep(0.05)  # the delivery is recorded once the receiver's answer is in
            enqueued, delivered = (e for e in reversed(trail(d, action="retrain.*")))
    finally:
        sink.stop()
    assert [enqueued["action"], delivered["action"]] == ["retrain.enqueued", "retrain.delivered"]
    assert enqueued["subject"] == delivered["subject"] == "fraud"
    assert enqueued["caller"] == delivered["caller"] == {"name": "driftwarden", "address": None, "tls_subject": None}
    assert enqueued["before"] is None and enqueued["after"] == delivered["before"] and delivered["after"] is None
    key = delivery.headers["Idempotency-Key"]
    assert (
        enqueued["detail"]
        == delivered["detail"]
        == {
            "receiver": "airflow",
            "outbox_id": enqueued["detail"]["outbox_id"],
            "idempotency_key": key,
        }
    )


def test_the_tls_subject_and_loopback_as_the_caller_is_told_them() -> None:
    """The ASGI TLS extension's subject where a server verified a client certificate (uvicorn reports none)."""
    assert tls_subject({"extensions": {"tls": {"client_cert_name": "CN=ci,O=example"}}}) == "CN=ci,O=example"
    assert tls_subject({"extensions": {}}) is None and tls_subject({}) is None
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("::ffff:127.0.0.1")
    assert not is_loopback("10.0.0.7") and not is_loopback(None) and not is_loopback("testclient")
