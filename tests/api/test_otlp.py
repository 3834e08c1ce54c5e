"""Traces in over OTLP/HTTP from the real OpenTelemetry SDK exporter; latency, errors and SLOs out."""

from __future__ import annotations

import gzip
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import orjson
import pytest
from opentelemetry.exporter.otlp.proto.http import Compression
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse
from opentelemetry.trace import SpanKind
from prometheus_client.openmetrics import parser as openmetrics_parser

from tests.support.otlp import Sender
from tests.support.server import Daemon, running

pytestmark = pytest.mark.server

DURATION_BUCKETS = "driftwarden_request_duration_seconds_bucket"


@pytest.fixture
def sender(daemon: Daemon) -> Iterator[Sender]:
    s = Sender(daemon)
    yield s
    s.close()


def test_sdk_spans_become_histograms_with_exact_quantiles(daemon: Daemon, sender: Sender) -> None:
    durations = np.random.default_rng(0).lognormal(-3, 1, 200)  # median 50 ms
    for d in durations:
        sender.request(float(d))
    daemon.evaluate()
    labels = {"service": "fraud-model", "model": "fraud", "operation": "/predict", "status": "ok"}
    for le, bound in (("0.05", 0.05), ("0.25", 0.25), ("1.0", 1.0)):
        assert daemon.metric(DURATION_BUCKETS, le=le, **labels) == int((durations <= bound).sum())
    assert daemon.metric("driftwarden_request_duration_seconds_count", **labels) == 200
    assert daemon.metric("driftwarden_request_duration_seconds_sum", **labels) == pytest.approx(durations.sum())
    (row,) = daemon.client.get("/v1/slos").json()["latency"]["5m"]
    assert row["count"] == 200 and row["error_rate"] == 0.0
    for q in (50, 95, 99):
        assert row[f"p{q}"] == pytest.approx(np.quantile(durations, q / 100), rel=1e-6)  # ns timestamps


def test_gzip_errors_and_span_kinds(daemon: Daemon) -> None:
    sender = Sender(daemon, compression=Compression.Gzip)
    try:
        sender.request(0.1, error=True)
        sender.request(0.1, attributes={"http.response.status_code": 503})
        sender.request(0.1, attributes={"http.response.status_code": 404})
        sender.request(0.1, kind=SpanKind.CLIENT)  # a root CLIENT span still counts: it is a root
        with (
            sender.tracer.start_as_current_span("parent", kind=SpanKind.SERVER),
            sender.tracer.start_as_current_span("child-client", kind=SpanKind.CLIENT),
        ):
            pass
    finally:
        sender.close()
    daemon.evaluate()
    base = {"service": "fraud-model", "model": "fraud", "operation": "/predict"}
    assert daemon.metric("driftwarden_request_duration_seconds_count", **base, status="error") == 2
    assert daemon.metric("driftwarden_request_duration_seconds_count", **base, status="ok") == 2
    assert daemon.metric("driftwarden_spans_total", outcome="skipped") == 1  # the child CLIENT span


def otlp_json(spans: list[dict]) -> bytes:
    return orjson.dumps(
        {
            "resourceSpans": [
                {
                    "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "llm-gw"}}]},
                    "scopeSpans": [{"scope": {"name": "fixture"}, "spans": spans}],
                }
            ]
        }
    )


def json_span(name: str, start: int, end: int, **attrs: object) -> dict:
    values = [
        {"key": k.replace("_", "."), "value": {"intValue": str(v)} if isinstance(v, int) else {"stringValue": v}}
        for k, v in attrs.items()
    ]
    return {
        "traceId": "5b8efff798038103d269b633813fc60c",
        "spanId": "eee19b7ec3c1b174",
        "name": name,
        "kind": 2,
        "startTimeUnixNano": str(start),
        "endTimeUnixNano": str(end),
        "attributes": values,
    }


def test_json_request_with_a_rejected_span_answers_partial_success(daemon: Daemon) -> None:
    now = time.time_ns()
    body = otlp_json(
        [
            json_span("chat", now - 2_000_000_000, now - 500_000_000),
            json_span("broken", now, now - 1),  # ends before it starts
        ]
    )
    r = daemon.client.post("/v1/traces", content=body, headers={"content-type": "application/json"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/json")
    partial = r.json()["partialSuccess"]
    assert partial["rejectedSpans"] == "1" and "end time before start" in partial["errorMessage"]
    gz = daemon.client.post(
        "/v1/traces",
        content=gzip.compress(body),
        headers={"content-type": "application/json", "content-encoding": "gzip"},
    )
    assert gz.status_code == 200
    daemon.evaluate()
    labels = {"service": "llm-gw", "model": "none", "operation": "chat", "status": "ok"}
    assert daemon.metric("driftwarden_request_duration_seconds_count", **labels) == 2
    assert daemon.metric("driftwarden_records_rejected_total", source="otlp", reason="bad_timestamps") == 2


def test_protobuf_response_is_protobuf(daemon: Daemon, sender: Sender) -> None:
    from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans

    with sender.tracer.start_as_current_span("x", kind=SpanKind.SERVER) as span:
        pass
    body = encode_spans([span]).SerializeToString()
    r = daemon.client.post("/v1/traces", content=body, headers={"content-type": "application/x-protobuf"})
    assert r.status_code == 200 and r.headers["content-type"] == "application/x-protobuf"
    ExportTraceServiceResponse.FromString(r.content)  # parses


@pytest.mark.parametrize(
    ("body", "headers", "status"),
    [
        (b"\x0a\xff\xff", {"content-type": "application/x-protobuf"}, 400),
        (b"{not json", {"content-type": "application/json"}, 400),
        (b"{}", {"content-type": "text/plain"}, 415),
        (b"not gzip", {"content-type": "application/json", "content-encoding": "gzip"}, 400),
        (b"{}", {"content-type": "application/json", "content-encoding": "br"}, 415),
    ],
)
def test_bad_trace_requests_get_a_status_and_a_reason(daemon: Daemon, body: bytes, headers: dict, status: int) -> None:
    r = daemon.client.post("/v1/traces", content=body, headers=headers)
    assert r.status_code == status
    if headers["content-type"] == "application/json":
        assert r.json()["message"]
    assert daemon.client.get("/healthz").status_code == 200


def test_exemplars_carry_the_trace_id_of_a_slow_request(daemon: Daemon, sender: Sender) -> None:
    sender.request(0.01)
    slow = sender.request(7.0)
    daemon.evaluate()
    text = daemon.client.get("/metrics", headers={"accept": "application/openmetrics-text; version=1.0.0"}).text
    line = next(x for x in text.splitlines() if x.startswith(DURATION_BUCKETS) and 'le="10.0"' in x)
    assert f'# {{trace_id="{slow}"}} 7.0' in line
    families = {f.name: f for f in openmetrics_parser.text_string_to_metric_families(text)}  # valid OpenMetrics
    buckets = [s for s in families["driftwarden_request_duration_seconds"].samples if s.exemplar]
    assert any(s.exemplar.labels == {"trace_id": slow} for s in buckets)


def test_promtool_accepts_the_exposition(daemon: Daemon, sender: Sender) -> None:
    if shutil.which("promtool") is None:
        pytest.skip("promtool not installed (Debian package prometheus)")
    sender.request(0.2, route='/odd "route"\\n')
    daemon.evaluate()
    text = daemon.client.get("/metrics").text
    check = subprocess.run(["promtool", "check", "metrics"], input=text, capture_output=True, text=True)
    problems = [x for x in (check.stdout + check.stderr).splitlines() if "no help text" not in x]
    assert check.returncode in (0, 3) and not [x for x in problems if "error" in x.lower()], problems


def test_label_values_are_capped(tmp_path: Path) -> None:
    with running(tmp_path / "s.db", traces={"max_label_values": 2}) as d:
        sender = Sender(d)
        for route in ("/a", "/b", "/c", "/d"):
            sender.request(0.01, route=route)
        sender.close()
        d.evaluate()
        base = {"service": "fraud-model", "model": "fraud", "status": "ok"}
        assert d.metric("driftwarden_request_duration_seconds_count", **base, operation="/b") == 1
        assert d.metric("driftwarden_request_duration_seconds_count", **base, operation="other") == 2
        assert d.metric("driftwarden_label_values_folded_total", label="operation") == 2


def test_llm_tokens_and_time_to_first_token(daemon: Daemon, sender: Sender) -> None:
    end = time.time_ns()
    span = sender.tracer.start_span(
        "chat",
        kind=SpanKind.SERVER,
        start_time=end - 2_000_000_000,
        attributes={
            "gen_ai.request.model": "llama-3",
            "gen_ai.usage.input_tokens": 120,
            "gen_ai.usage.output_tokens": 30,
        },
    )
    span.add_event("gen_ai.content.first_token", timestamp=end - 1_700_000_000)
    span.end(end_time=end)
    daemon.evaluate()
    labels = {"service": "fraud-model", "model": "llama-3"}
    assert daemon.metric("driftwarden_llm_input_tokens_total", **labels) == 120
    assert daemon.metric("driftwarden_llm_output_tokens_total", **labels) == 30
    assert daemon.metric("driftwarden_llm_time_to_first_token_seconds_sum", **labels) == pytest.approx(0.3)


SLOS = [
    {"name": "fraud-latency", "service": "fraud-model", "objective": 0.99, "threshold": "250ms"},
    {"name": "fraud-availability", "service": "fraud-model", "objective": 0.999},
]


def test_slo_burn_rates_page_and_survive_a_restart(tmp_path: Path) -> None:
    state = tmp_path / "s.db"
    with running(state, slos=SLOS) as d:
        sender = Sender(d)
        for i in range(40):
            sender.request(0.5 if i % 2 else 0.1, error=i % 10 == 0)  # half slow, a tenth errors
        sender.close()
        d.evaluate()
        slos = {s["name"]: s for s in d.client.get("/v1/slos").json()["slos"]}
        latency = slos["fraud-latency"]
        assert latency["events"] == {"good": 20, "bad": 20}
        assert latency["burn_rates"]["5m"] == pytest.approx(0.5 / 0.01)
        assert latency["error_budget_remaining"] == 0.0  # exhausted: 50x the budget's error ratio
        assert latency["alerts"] == []  # seconds of history are no evidence: tests/api/test_slo_evidence.py
        assert slos["fraud-availability"]["burn_rates"]["1h"] == pytest.approx(0.1 / 0.001)
        assert d.metric("driftwarden_slo_burn_rate", slo="fraud-latency", window="1h") == pytest.approx(50)
        assert d.metric("driftwarden_slo_events_total", slo="fraud-latency", outcome="bad") == 20
        # the threshold is a histogram bound, so Prometheus rules can use le="0.25": 20 fast, 4 of them errors
        assert (
            d.metric(
                DURATION_BUCKETS, service="fraud-model", model="fraud", operation="/predict", status="ok", le="0.25"
            )
            == 16
        )
    with running(state, slos=SLOS) as d:
        slos = {s["name"]: s for s in d.client.get("/v1/slos").json()["slos"]}
        assert slos["fraud-latency"]["events"] == {"good": 20, "bad": 20}
        assert slos["fraud-latency"]["burn_rates"]["1h"] == pytest.approx(50)


def test_self_tracing_sends_driftwardens_own_spans(tmp_path: Path) -> None:
    collector_state = tmp_path / "collector.db"
    with (
        running(collector_state) as collector,
        running(tmp_path / "s.db", self_tracing={"endpoint": f"{collector.url}/v1/traces"}) as d,
    ):
        d.evaluate()
        d.app.state.tracer_provider.force_flush()
        collector.evaluate()
        count = collector.metric(
            "driftwarden_request_duration_seconds_count",
            service="driftwarden",
            model="none",
            operation="driftwarden.evaluate",
            status="ok",
        )
        assert count is not None and count >= 1


def test_a_body_over_the_limit_answers_413_with_a_google_rpc_status(tmp_path: Path) -> None:
    """OTLP exporters read every error as a google.rpc.Status, in the request's encoding, even for 413."""
    from google.rpc.status_pb2 import Status as RpcStatus

    with running(tmp_path / "s.db", limits={"max_body_bytes": 4096}) as d:
        answer = d.client.post("/v1/traces", content=b"\x0a" * 5000, headers={"content-type": "application/x-protobuf"})
        json_answer = d.client.post("/v1/traces", content=b" " * 5000, headers={"content-type": "application/json"})
    assert answer.status_code == 413 and answer.headers["content-type"] == "application/x-protobuf"
    status = RpcStatus.FromString(answer.content)
    assert "max_body_bytes" in status.message
    assert json_answer.status_code == 413 and "max_body_bytes" in json_answer.json()["message"]
