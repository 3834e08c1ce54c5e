"""The daemon over real HTTP: uvicorn on a free loopback port, httpx as the client."""

from __future__ import annotations

import io
import time
from pathlib import Path

import numpy as np
import orjson
import pytest

from tests.support.records import NDJSON, put_reference, records, reference_frame
from tests.support.server import Daemon, running

pytestmark = pytest.mark.server


def test_reference_in_every_format(daemon: Daemon) -> None:
    frame = reference_frame(np.random.default_rng(0), 100)
    for fmt, ctype in (
        ("csv", "text/csv"),
        ("ndjson", "application/x-ndjson"),
        ("parquet", "application/vnd.apache.parquet"),
    ):
        buf = io.BytesIO()
        getattr(frame, f"write_{fmt}")(buf)
        r = daemon.client.put(f"/v1/models/m-{fmt}/reference", content=buf.getvalue(), headers={"content-type": ctype})
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["model"] == f"m-{fmt}" and body["rows"] == 100
        kinds = {f["name"]: f["kind"] for f in body["features"]}
        assert kinds == {"amount": "numeric", "age": "numeric", "score": "numeric", "country": "categorical"}
        assert len(body["features"][0]["bin_edges"]) == 9


def test_predictions_to_drift_report_and_metrics(daemon: Daemon) -> None:
    rng = np.random.default_rng(1)
    put_reference(daemon, reference_frame(rng))
    r = daemon.client.post("/v1/predictions", content=records(rng, 2000), headers=NDJSON)
    assert r.status_code == 200 and r.json() == {"accepted": 2000, "rejected": 0, "errors": []}
    daemon.evaluate()
    report = daemon.client.get("/v1/models/fraud/drift").json()
    assert report["drifted"] is False and report["rows"] == {"reference": 5000, "current": 2000}

    daemon.client.post("/v1/predictions", content=records(rng, 5000, shift=(1.0, 0, 0)), headers=NDJSON)
    daemon.evaluate()
    report = daemon.client.get("/v1/models/fraud/drift").json()
    drifted = {f["name"]: f["drifted"] for f in report["features"]}
    assert drifted == {"amount": True, "age": False, "score": False, "country": False}
    assert report["rows"]["current"] == 5000  # the default sliding window

    text = daemon.client.get("/metrics").text
    assert 'driftwarden_feature_drifted{feature="amount",model="fraud"} 1\n' in text
    assert 'driftwarden_feature_drifted{feature="age",model="fraud"} 0\n' in text
    assert daemon.metric("driftwarden_records_total", model="fraud", source="http") == 7000
    assert daemon.metric("driftwarden_feature_drift_score", model="fraud", feature="amount", method="psi") > 0.2
    assert daemon.metric("driftwarden_window_rows", model="fraud", window="current") == 5000
    amount_bin = {"model": "fraud", "feature": "amount", "bin": "0"}  # fleet.export_bins: drifted by default
    assert daemon.metric("driftwarden_feature_bin_values", **amount_bin, window="reference") == 500
    assert (
        daemon.metric("driftwarden_feature_bin_values", model="fraud", feature="age", bin="0", window="reference")
        is None
    )
    models = daemon.client.get("/v1/models").json()["models"]
    assert models[0]["model"] == "fraud" and models[0]["has_reference"] is True


def test_openmetrics_when_asked(daemon: Daemon) -> None:
    r = daemon.client.get("/metrics", headers={"accept": "application/openmetrics-text; version=1.0.0"})
    assert r.headers["content-type"].startswith("application/openmetrics-text") and r.text.endswith("# EOF\n")


def test_model_with_reference_and_no_rows_yet(daemon: Daemon) -> None:
    put_reference(daemon, reference_frame(np.random.default_rng(2), 200))
    report = daemon.client.get("/v1/models/fraud/drift").json()
    assert report["rows"]["current"] == 0 and report["drifted"] is False
    assert all(f["scores"] == {} for f in report["features"])


def test_unknown_model_is_404_with_a_reason(daemon: Daemon) -> None:
    r = daemon.client.get("/v1/models/nope/drift")
    assert r.status_code == 404 and "GET /v1/models" in r.json()["error"]


@pytest.mark.parametrize(
    ("method", "path", "status", "reason"),
    [
        # %2F is decoded before routing: the name's slash leaves no route to match (found by the long fuzz)
        ("PUT", "/v1/models/..%2F/reference", 404, "not_found"),
        ("POST", "/v1/kserve/a%2Fb", 404, "not_found"),
        ("GET", "/v1/nothing-here", 404, "not_found"),
        ("DELETE", "/v1/models", 405, "method_not_allowed"),
    ],
)
def test_a_request_no_route_answers_is_a_counted_problem(
    daemon: Daemon, method: str, path: str, status: int, reason: str
) -> None:
    r = daemon.client.request(method, path, content=b"a\n1\n", headers={"content-type": "text/csv"})
    assert r.status_code == status, r.text
    assert r.json()["reason"] == reason and path.split("%")[0] in r.json()["error"]
    if status == 405:
        assert r.headers["allow"] == "GET"
    endpoint = "/v1/models" if status == 405 else "unknown"
    assert daemon.metric("driftwarden_requests_rejected_total", endpoint=endpoint, reason=reason) == 1


def test_partial_rejection_counts_reasons(daemon: Daemon) -> None:
    body = b'{"model": "m", "features": {"a": 1}}\n{"model": "m", "features": {"a": [1]}}\nnot json\n'
    r = daemon.client.post("/v1/predictions", content=body, headers=NDJSON)
    assert r.status_code == 200
    payload = r.json()
    assert payload["accepted"] == 1 and payload["rejected"] == 2
    assert [e["reason"] for e in payload["errors"]] == ["invalid_json", "bad_feature_value"]
    assert daemon.metric("driftwarden_records_rejected_total", source="http", reason="bad_feature_value") == 1
    all_bad = daemon.client.post("/v1/predictions", content=b"nope\n", headers=NDJSON)
    assert all_bad.status_code == 400 and all_bad.json()["rejected"] == 1


@pytest.mark.parametrize(
    ("body", "headers", "status", "reason"),
    [
        (b"[{", {"content-type": "application/json"}, 400, "bad_body"),
        (b"{}", {"content-type": "text/plain"}, 415, "unsupported_media_type"),
        (b"x" * 5000, {"content-type": "application/json"}, 413, "body_too_large"),
    ],
)
def test_malformed_bodies(tmp_path: Path, body: bytes, headers: dict, status: int, reason: str) -> None:
    with running(tmp_path / "s.db", limits={"max_body_bytes": 4096}) as d:
        r = d.client.post("/v1/predictions", content=body, headers=headers)
        assert r.status_code == status and r.json()["reason"] == reason and r.json()["error"]
        assert d.metric("driftwarden_requests_rejected_total", endpoint="/v1/predictions", reason=reason) == 1
        assert d.client.get("/healthz").status_code == 200  # and it keeps serving


def test_bad_reference_uploads(daemon: Daemon) -> None:
    r = daemon.client.put("/v1/models/m/reference", content=b"a,b\n1,inf\n", headers={"content-type": "text/csv"})
    assert r.status_code == 400 and "infinite" in r.json()["error"]
    r = daemon.client.put("/v1/models/m/reference", content=b"%PDF", headers={"content-type": "application/pdf"})
    assert r.status_code == 415
    r = daemon.client.put("/v1/models/bad%20name/reference", content=b"a\n1\n", headers={"content-type": "text/csv"})
    assert r.status_code == 400


def test_a_request_larger_than_the_queue_answers_413_and_counts(tmp_path: Path) -> None:
    """It could never fit: 413, not a 429 to retry forever (429 for a full queue: tests/api/test_window_memory.py)."""
    with running(tmp_path / "s.db", limits={"max_queue_rows": 1000}) as d:
        r = d.client.post("/v1/predictions", content=records(np.random.default_rng(3), 1500), headers=NDJSON)
        assert r.status_code == 413 and r.json()["reason"] == "larger_than_queue"
        assert d.metric("driftwarden_records_rejected_total", source="http", reason="larger_than_queue") == 1500
        ok = d.client.post("/v1/predictions", content=records(np.random.default_rng(3), 500), headers=NDJSON)
        assert ok.status_code == 200


def test_model_and_feature_limits_bound_label_cardinality(tmp_path: Path) -> None:
    with running(tmp_path / "s.db", limits={"max_models": 2, "max_features": 3}) as d:
        body = b"\n".join(orjson.dumps({"model": f"m{i}", "features": {"a": 1}}) for i in range(3))
        payload = d.client.post("/v1/predictions", content=body, headers=NDJSON).json()
        assert payload["accepted"] == 2 and payload["errors"][0]["reason"] == "too_many_models"
        wide = orjson.dumps({"model": "m0", "features": {f"f{i}": i for i in range(5)}})
        payload = d.client.post("/v1/predictions", content=wide, headers=NDJSON).json()
        assert payload["rejected"] == 1 and payload["errors"][0]["reason"] == "too_many_features"


def test_bearer_token_guards_ingest_only(tmp_path: Path) -> None:
    token_file = tmp_path / "token"
    token_file.write_text("s3cret\n")
    with running(tmp_path / "s.db", auth_token_file=str(token_file)) as d:
        body = records(np.random.default_rng(4), 3)
        assert d.client.post("/v1/predictions", content=body, headers=NDJSON).status_code == 401
        wrong = NDJSON | {"authorization": "Bearer nope"}
        assert d.client.post("/v1/predictions", content=body, headers=wrong).status_code == 401
        right = NDJSON | {"authorization": "Bearer s3cret"}
        assert d.client.post("/v1/predictions", content=body, headers=right).status_code == 200
        assert d.client.get("/metrics").status_code == 200
        assert d.metric("driftwarden_requests_rejected_total", endpoint="/v1/predictions", reason="unauthorized") == 2


def test_reference_survives_a_restart(tmp_path: Path) -> None:
    state = tmp_path / "state.db"
    rng = np.random.default_rng(5)
    with running(state) as d:
        put_reference(d, reference_frame(rng, 300))
    with running(state) as d:
        report = d.client.get("/v1/models/fraud/drift").json()
        assert report["rows"]["reference"] == 300


def test_readiness(daemon: Daemon) -> None:
    assert daemon.client.get("/readyz").json() == {"status": "ready"}
    assert daemon.client.get("/healthz").json() == {"status": "ok"}


def test_reference_from_the_config_file_is_fitted_at_start(tmp_path: Path) -> None:
    path = tmp_path / "ref.csv"
    reference_frame(np.random.default_rng(6), 400).write_csv(path)
    with running(tmp_path / "s.db", models={"fraud": {"reference": str(path), "window": 100}}) as d:
        d.client.post("/v1/predictions", content=records(np.random.default_rng(7), 300), headers=NDJSON)
        d.evaluate()
        report = d.client.get("/v1/models/fraud/drift").json()
        assert report["rows"] == {"reference": 400, "current": 100}


def test_rejections_are_logged_once_not_per_record(daemon: Daemon, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level("WARNING", logger="driftwarden.ingest"):
        for _ in range(5):
            daemon.client.post("/v1/predictions", content=b"nope\n" * 100, headers=NDJSON)
    lines = [r.getMessage() for r in caplog.records if "invalid_json" in r.getMessage()]
    assert len(lines) == 1 and "e.g. record 0 is not valid JSON" in lines[0]


def test_redacted_fields_are_never_stored(tmp_path: Path) -> None:
    with running(tmp_path / "s.db", redact=["score", "country"]) as d:
        summary = put_reference(d, reference_frame(np.random.default_rng(8), 200))
        assert {f["name"] for f in summary["features"]} == {"amount", "age"}
        d.client.post("/v1/predictions", content=records(np.random.default_rng(9), 50), headers=NDJSON)
        d.evaluate()
        names = {f["name"] for f in d.client.get("/v1/models/fraud/drift").json()["features"]}
        assert names == {"amount", "age"}
        assert d.app.state.views.detector("fraud").window.features == ("amount", "age")


def test_a_followed_file_feeds_the_window_once(tmp_path: Path) -> None:
    log = tmp_path / "predictions.ndjson"
    log.write_bytes(records(np.random.default_rng(11), 120) + b"\n")
    state = tmp_path / "s.db"
    with running(state, sources=[{"file": str(log), "poll_interval": "100ms"}]) as d:
        deadline = time.monotonic() + 10
        while not d.client.get("/v1/models").json()["models"]:
            assert time.monotonic() < deadline
            time.sleep(0.1)
        with log.open("ab") as f:
            f.write(records(np.random.default_rng(12), 30) + b"\n")
        while d.metric("driftwarden_records_total", model="fraud", source="file") != 150:
            assert time.monotonic() < deadline
            time.sleep(0.1)
    with running(state, sources=[{"file": str(log), "poll_interval": "100ms"}]) as d:
        time.sleep(0.5)  # a restart resumes at the committed offset: nothing is read twice
        assert d.metric("driftwarden_records_total", model="fraud", source="file") is None
        (model,) = d.client.get("/v1/models").json()["models"]
        assert model["rows"]["current"] == 150  # the window checkpoint taken at shutdown


def test_the_in_process_server_serves_as_driftwarden_run_does(tmp_path: Path) -> None:
    """tests/support/server.py builds uvicorn's config with api.serving.server_config, so the tests that
    use it go through the same protocol as `driftwarden run`: its server: limits, counted."""
    with running(tmp_path / "state.db", server={"max_header_bytes": 4096}) as d:
        r = d.client.get("/healthz", headers={"x-big": "a" * 5000})
        assert r.status_code == 431 and r.json()["reason"] == "headers_too_large", r.text
        assert d.client.get("/healthz").status_code == 200
        assert d.metric("driftwarden_connections_refused_total", reason="headers_too_large") == 1
