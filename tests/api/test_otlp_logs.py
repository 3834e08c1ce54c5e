"""Prediction logs in over OTLP/HTTP from the real OpenTelemetry SDK log exporter: the same drift as
/v1/predictions, with the trace ids of the rows behind it; every other log record acknowledged."""

from __future__ import annotations

import gzip
import io
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import polars as pl
import pytest
from google.rpc.status_pb2 import Status as RpcStatus
from opentelemetry.exporter.otlp.proto.http import Compression
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import (
    ExportLogsServiceRequest,
    ExportLogsServiceResponse,
)
from opentelemetry.sdk._logs.export import LogRecordExportResult
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor

from tests.support.otlp import LogSender
from tests.support.records import NDJSON
from tests.support.server import Daemon, running

pytestmark = pytest.mark.server

FEATURES = ["amount", "age", "score"]
PREFIX = "driftwarden.features."
JSON = {"content-type": "application/json"}
PROTOBUF = {"content-type": "application/x-protobuf"}
IGNORED = "driftwarden_otlp_logs_ignored_total"


def reference(rng: np.random.Generator, rows: int = 5000) -> bytes:
    values = rng.normal(size=(rows, 3))
    frame = pl.DataFrame({name: values[:, j] for j, name in enumerate(FEATURES)}).with_columns(
        country=pl.Series(rng.choice(["DE", "FR"], rows)), prediction=pl.Series(rng.uniform(size=rows))
    )
    buf = io.BytesIO()
    frame.write_parquet(buf)
    return buf.getvalue()


def put_reference(daemon: Daemon, body: bytes, model: str = "fraud") -> None:
    r = daemon.client.put(
        f"/v1/models/{model}/reference", content=body, headers={"content-type": "application/vnd.apache.parquet"}
    )
    assert r.status_code == 200, r.text


def predictions(rng: np.random.Generator, n: int, shift: float) -> list[dict[str, Any]]:
    """Records whose `amount` is shifted by `shift` sd, each with its own trace and span id."""
    values = rng.normal(size=(n, 3)) + np.array([shift, 0.0, 0.0])
    countries = rng.choice(["DE", "FR"], n).tolist()
    scores = rng.uniform(size=n).tolist()
    return [
        {
            "model": "fraud",
            "features": dict(zip(FEATURES, row, strict=True)) | {"country": country},
            "prediction": score,
            "trace_id": f"{i + 1:032x}",
            "span_id": f"{i + 1:016x}",
        }
        for i, (row, country, score) in enumerate(zip(values.tolist(), countries, scores, strict=True))
    ]


def emit(sender: LogSender, record: dict[str, Any]) -> None:
    """A prediction record as attributes of a log record made in the span of its request."""
    attributes = {PREFIX + name: value for name, value in record["features"].items()}
    attributes |= {"driftwarden.model": record["model"], "driftwarden.prediction": record["prediction"]}
    sender.emit("prediction", attributes, int(record["trace_id"], 16), int(record["span_id"], 16))


def comparable(report: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in report.items() if k != "evaluated_at"}


@pytest.fixture
def sender(daemon: Daemon) -> Iterator[LogSender]:
    s = LogSender(daemon)
    yield s
    s.close()


def test_sdk_log_records_drift_like_the_same_predictions_and_name_their_traces(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    ref = reference(rng)
    records = predictions(rng, 1500, shift=1.5)
    reports = {}
    with running(tmp_path / "http.db", evaluate_every="1h") as d:
        put_reference(d, ref)
        r = d.client.post("/v1/predictions", content=b"\n".join(map(orjson.dumps, records)), headers=NDJSON)
        assert r.json()["accepted"] == 1500
        d.evaluate()
        reports["http"] = d.client.get("/v1/models/fraud/drift").json()
    with running(tmp_path / "logs.db", evaluate_every="1h") as d:
        put_reference(d, ref)
        sender = LogSender(d, compression=Compression.Gzip)
        try:
            for record in records:
                emit(sender, record)
            results = sender.flush()
        finally:
            sender.close()
        assert results == [LogRecordExportResult.SUCCESS] * 3  # 512 + 512 + 476
        assert d.metric("driftwarden_records_total", model="fraud", source="otlp_logs") == 1500
        d.evaluate()
        reports["logs"] = d.client.get("/v1/models/fraud/drift").json()
        page = d.client.get("/ui/models/fraud").text

    assert comparable(reports["logs"]) == comparable(reports["http"])
    amount = next(f for f in reports["logs"]["features"] if f["name"] == "amount")
    assert amount["drifted"] and not any(f["drifted"] for f in reports["logs"]["features"] if f["name"] != "amount")
    examples = amount["trace_examples"]
    assert examples["bin"].startswith(">")  # shifted up: the top bin gained the most rows
    assert len(examples["traces"]) == 5
    by_trace = {r["trace_id"]: r for r in records}
    last_edge = float(examples["bin"].removeprefix("> "))
    for shown in examples["traces"]:
        record = by_trace[shown["trace_id"]]  # a trace the SDK sent, with its own span
        assert shown["span_id"] == record["span_id"] and record["features"]["amount"] > last_edge
    for shown in examples["traces"]:
        assert f'data-trace-id="{shown["trace_id"]}"' in page


def test_trace_ids_survive_a_restart(tmp_path: Path) -> None:
    rng = np.random.default_rng(5)
    ref, records = reference(rng), predictions(rng, 800, shift=2.0)
    with running(tmp_path / "s.db", evaluate_every="1h") as d:
        put_reference(d, ref)
        sender = LogSender(d)
        for record in records:
            emit(sender, record)
        sender.flush()
        sender.close()
        d.evaluate()
        before = d.client.get("/v1/models/fraud/drift").json()
    with running(tmp_path / "s.db", evaluate_every="1h") as d:
        d.evaluate()
        after = d.client.get("/v1/models/fraud/drift").json()
    amount = [next(f for f in r["features"] if f["name"] == "amount") for r in (before, after)]
    assert amount[0]["trace_examples"]["traces"]
    assert {t["trace_id"] for t in amount[1]["trace_examples"]["traces"]} <= {r["trace_id"] for r in records}
    assert amount[1]["trace_examples"]["bin"] == amount[0]["trace_examples"]["bin"]


def test_other_log_records_are_acknowledged_and_counted(daemon: Daemon, sender: LogSender) -> None:
    sender.emit("GET /healthz 200")  # an application's own log line
    sender.emit("starting", {"http.route": "/predict"})
    sender.emit({"event": "cache miss", "key": "x"})  # a map body without features
    sender.emit("{not json, but braced")
    sender.emit("features, no model", {PREFIX + "amount": 1.0})
    sender.emit("a prediction", {PREFIX + "amount": 1.0, "model.name": "fraud"})
    assert sender.flush() == [LogRecordExportResult.SUCCESS]
    assert daemon.metric(IGNORED, reason="no_features") == 4
    assert daemon.metric(IGNORED, reason="no_model") == 1
    assert daemon.metric("driftwarden_records_total", model="fraud", source="otlp_logs") == 1
    assert daemon.client.get("/v1/models").status_code == 200
    assert daemon.metric("driftwarden_requests_rejected_total", endpoint="/v1/logs", reason="bad_body") is None


@pytest.mark.filterwarnings("ignore:`LoggingHandler` in `opentelemetry-sdk` is deprecated:DeprecationWarning")
def test_the_python_logging_bridge_sends_predictions_as_the_readme_shows(daemon: Daemon, sender: LogSender) -> None:
    from opentelemetry.sdk._logs import LoggingHandler

    logger = logging.getLogger("tests.model_server")
    handler = LoggingHandler(logger_provider=sender.provider)
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        logger.info(
            "prediction",
            extra={
                "driftwarden.model": "fraud",
                "driftwarden.features.amount": 12.5,
                "driftwarden.features.country": "DE",
                "driftwarden.prediction": 0.91,
            },
        )
        logger.info("served /predict in 12 ms")
    finally:
        logger.removeHandler(handler)
    assert sender.flush() == [LogRecordExportResult.SUCCESS]
    assert daemon.metric("driftwarden_records_total", model="fraud", source="otlp_logs") == 1
    assert daemon.metric(IGNORED, reason="no_features") == 1


def test_the_model_falls_back_to_the_resource_and_the_label_joins_by_trace_id(tmp_path: Path) -> None:
    with running(tmp_path / "s.db", evaluate_every="1h") as d:
        sender = LogSender(d, resource={"model.name": "churn"})
        sender.emit("p", {PREFIX + "tenure": 3, "driftwarden.prediction": 1}, trace_id=0xABC, span_id=0xD)
        sender.emit("p", {PREFIX + "tenure": 5, "driftwarden.prediction": 0, "driftwarden.request_id": "r-2"})
        sender.flush()
        sender.close()
        d.evaluate()
        assert d.metric("driftwarden_records_total", model="churn", source="otlp_logs") == 2
        labels = [
            {"model": "churn", "request_id": f"{0xABC:032x}", "label": 1},
            {"model": "churn", "request_id": "r-2", "label": 1},
        ]
        r = d.client.post("/v1/labels", content=orjson.dumps(labels), headers=JSON)
        assert r.status_code == 200 and r.json()["matched"] == 2, r.text


def body_export(*records: dict[str, Any]) -> bytes:
    """OTLP JSON with one log record a body: hex ids, as the spec writes them."""
    return orjson.dumps(
        {
            "resourceLogs": [
                {
                    "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "gw"}}]},
                    "scopeLogs": [{"scope": {"name": "fixture"}, "logRecords": list(records)}],
                }
            ]
        }
    )


def test_bodies_shaped_like_prediction_records_and_a_partial_success(daemon: Daemon) -> None:
    as_string = {"model": "fraud", "features": {"amount": 2.5, "country": "DE"}, "request_id": "r-1"}
    as_map = {
        "kvlistValue": {
            "values": [
                {"key": "model", "value": {"stringValue": "fraud"}},
                {
                    "key": "features",
                    "value": {"kvlistValue": {"values": [{"key": "amount", "value": {"doubleValue": 1.5}}]}},
                },
            ]
        }
    }
    body = body_export(
        {"body": {"stringValue": orjson.dumps(as_string).decode()}, "traceId": "5b8efff798038103d269b633813fc60c"},
        {"body": as_map, "spanId": "eee19b7ec3c1b174"},
        {"body": {"stringValue": orjson.dumps({"model": "no way!", "features": {"amount": 1}}).decode()}},
        {
            "attributes": [
                {"key": PREFIX + "amount", "value": {"doubleValue": "Infinity"}},
                {"key": "model.name", "value": {"stringValue": "fraud"}},
            ]
        },
        {"body": {"stringValue": "plain text"}},
    )
    r = daemon.client.post("/v1/logs", content=gzip.compress(body), headers=JSON | {"content-encoding": "gzip"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/json"), r.text
    partial = r.json()["partialSuccess"]
    assert partial["rejectedLogRecords"] == "2" and "record 2" in partial["errorMessage"]
    assert daemon.metric("driftwarden_records_total", model="fraud", source="otlp_logs") == 2
    assert daemon.metric("driftwarden_records_rejected_total", source="otlp_logs", reason="bad_model") == 1
    assert daemon.metric("driftwarden_records_rejected_total", source="otlp_logs", reason="bad_feature_value") == 1
    assert daemon.metric(IGNORED, reason="no_features") == 1

    protobuf = daemon.client.post("/v1/logs", content=ExportLogsServiceRequest().SerializeToString(), headers=PROTOBUF)
    assert protobuf.status_code == 200 and protobuf.headers["content-type"] == "application/x-protobuf"
    assert not ExportLogsServiceResponse.FromString(protobuf.content).HasField("partial_success")


@pytest.mark.parametrize(
    ("body", "headers", "status", "reason"),
    [
        (b"\x0a\xff\xff", PROTOBUF, 400, "bad_body"),
        (b"{not json", JSON, 400, "bad_body"),
        (b'{"resourceLogs": [{"scopeLogs": [{"logRecords": [{"traceId": "zz"}]}]}]}', JSON, 400, "bad_body"),
        (b"{}", {"content-type": "text/plain"}, 415, "unsupported_media_type"),
        (b"not gzip", JSON | {"content-encoding": "gzip"}, 400, "bad_body"),
        (b"{}", JSON | {"content-encoding": "br"}, 415, "unsupported_media_type"),
        (b"\x0a" * 5000, PROTOBUF, 413, "body_too_large"),
        (b" " * 5000, JSON, 413, "body_too_large"),
        (gzip.compress(b" " * 5000), JSON | {"content-encoding": "gzip"}, 413, "body_too_large"),
        (body_export(*[{"body": {"stringValue": "x"}}] * 11), JSON, 413, "body_too_large"),
    ],
)
def test_bad_log_exports_get_a_google_rpc_status(
    tmp_path: Path, body: bytes, headers: dict[str, str], status: int, reason: str
) -> None:
    with running(tmp_path / "s.db", limits={"max_body_bytes": 4096, "max_records_per_request": 10}) as d:
        r = d.client.post("/v1/logs", content=body, headers=headers)
        assert r.status_code == status
        if headers["content-type"] == PROTOBUF["content-type"]:
            assert r.headers["content-type"] == "application/x-protobuf"
            assert RpcStatus.FromString(r.content).message
        else:
            assert r.headers["content-type"] == "application/json" and r.json()["message"]
        assert d.metric("driftwarden_requests_rejected_total", endpoint="/v1/logs", reason=reason) == 1
        assert d.metric(IGNORED, reason="no_features") == 0  # nothing was taken from a refused export
        assert d.client.get("/v1/models").json()["models"] == []


def test_more_predictions_than_the_queue_holds_answer_413_and_nothing_is_taken(tmp_path: Path) -> None:
    record = {"body": {"stringValue": orjson.dumps({"model": "m", "features": {"x": 1}}).decode()}}
    body = body_export(*[record] * 1001)
    with running(tmp_path / "s.db", limits={"max_queue_rows": 1000}) as d:
        r = d.client.post("/v1/logs", content=body, headers=JSON)
        assert r.status_code == 413 and "max_queue_rows" in r.json()["message"]
        assert d.metric("driftwarden_records_rejected_total", source="otlp_logs", reason="larger_than_queue") == 1001
        assert d.metric("driftwarden_requests_rejected_total", endpoint="/v1/logs", reason="larger_than_queue") == 1
        assert d.client.get("/v1/models").json()["models"] == []


def test_an_sdk_given_only_the_base_endpoint_exports_logs_and_traces_without_error(
    daemon: Daemon, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """README: point an SDK at http://127.0.0.1:4318 and set nothing else."""
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", daemon.url)
    caplog.set_level(logging.WARNING, logger="opentelemetry")
    logs = LogSender()  # the endpoint from the environment: <base>/v1/logs
    logs.emit("hello")
    logs.emit("p", {PREFIX + "x": 1.0, "model.name": "env"}, trace_id=7, span_id=8)
    assert logs.flush() == [LogRecordExportResult.SUCCESS]
    logs.close()
    tracer_provider = TracerProvider(resource=Resource.create({"service.name": "env"}))
    tracer_provider.add_span_processor(SimpleSpanProcessor(OTLPSpanExporter()))
    with tracer_provider.get_tracer("tests").start_as_current_span("request"):
        pass
    tracer_provider.shutdown()
    assert [r for r in caplog.records if r.name.startswith("opentelemetry")] == []
    assert daemon.metric("driftwarden_records_total", model="env", source="otlp_logs") == 1
    assert daemon.metric("driftwarden_spans_total", outcome="observed") == 1
