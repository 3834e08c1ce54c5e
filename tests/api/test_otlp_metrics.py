"""Metrics in over OTLP/HTTP from the real OpenTelemetry SDK (MeterProvider + OTLP/HTTP metric
exporter): the same request histograms, quantiles, SLO counts and burn rates as from spans."""

from __future__ import annotations

import asyncio
import gzip
import os
import subprocess
import sys
import textwrap
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import orjson
import pytest
from google.rpc.status_pb2 import Status as RpcStatus
from opentelemetry.exporter.otlp.proto.http import Compression
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceResponse
from opentelemetry.trace import SpanKind

from tests.support.otlp import Sender
from tests.support.otlp_metrics import HTTP_BOUNDS, MetricSender
from tests.support.server import Daemon, running
from tests.support.windows import pause_ingest

pytestmark = pytest.mark.server

DURATIONS = np.random.default_rng(7).lognormal(-2.5, 1, 400)  # median 82 ms, a few over a second
ERRORS = np.arange(DURATIONS.size) % 25 == 0
SLOS = [
    {"name": "latency", "service": "fraud-model", "objective": 0.99, "threshold": "250ms"},  # an HTTP bound
    {"name": "availability", "service": "fraud-model", "objective": 0.999},
]
OURS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)  # traces.buckets, with 0.25
BASE = {"service": "fraud-model", "model": "fraud", "operation": "/predict"}
# the bounds the GenAI conventions advise
GENAI_DURATION = [0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92]
GENAI_TTFT = [0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0]
GENAI_TPOT = [0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0, 2.5]
COUNT = "driftwarden_request_duration_seconds_count"
BUCKET = "driftwarden_request_duration_seconds_bucket"


@dataclass
class Seen:
    """What the daemon made of the requests: per status, count, sum and bucket counts; p99; the SLOs."""

    count: dict[str, float]
    sums: dict[str, float]
    buckets: dict[str, dict[float, float]]
    p99: float
    slos: dict[str, dict]


def seen(d: Daemon) -> Seen:
    d.evaluate()
    statuses = ("ok", "error")
    (row,) = d.client.get("/v1/slos").json()["latency"]["5m"]
    return Seen(
        count={s: d.metric(COUNT, **BASE, status=s) or 0.0 for s in statuses},
        sums={s: d.metric("driftwarden_request_duration_seconds_sum", **BASE, status=s) or 0.0 for s in statuses},
        buckets={s: {b: d.metric(BUCKET, **BASE, status=s, le=str(b)) or 0.0 for b in OURS} for s in statuses},
        p99=row["p99"],
        slos={s["name"]: s for s in d.client.get("/v1/slos").json()["slos"]},
    )


def send_spans(d: Daemon, durations: np.ndarray = DURATIONS, errors: np.ndarray = ERRORS) -> None:
    sender = Sender(d)
    for seconds, error in zip(durations.tolist(), errors.tolist(), strict=True):
        sender.request(seconds, attributes={"http.response.status_code": 503 if error else 200})
    sender.close()


def record(sender: MetricSender, durations: np.ndarray = DURATIONS, errors: np.ndarray = ERRORS) -> None:
    for seconds, error in zip(durations.tolist(), errors.tolist(), strict=True):
        sender.request(seconds, status=503 if error else 200)


def exact(durations: np.ndarray, errors: np.ndarray) -> dict[str, dict[float, float]]:
    return {
        status: {b: float((durations[mask] <= b).sum()) for b in OURS}
        for status, mask in (("ok", ~errors), ("error", errors))
    }


@pytest.fixture(scope="module")
def from_spans(tmp_path_factory: pytest.TempPathFactory) -> Seen:
    with running(tmp_path_factory.mktemp("spans") / "s.db", slos=SLOS) as d:
        send_spans(d)
        return seen(d)


@pytest.mark.parametrize("temporality", ["delta", "cumulative"])
def test_explicit_histograms_give_the_buckets_quantiles_and_burn_rates_spans_give(
    tmp_path: Path, from_spans: Seen, temporality: str
) -> None:
    with running(tmp_path / "s.db", slos=SLOS) as d:
        sender = MetricSender(d, temporality=temporality)  # bounds: the HTTP conventions' (0.25 among them)
        half = DURATIONS.size // 2
        record(sender, DURATIONS[:half], ERRORS[:half])
        sender.flush()
        record(sender, DURATIONS[half:], ERRORS[half:])
        sender.flush()
        sender.flush()  # an interval with nothing new: a cumulative point equal to the last, a delta of 0
        sender.close()
        metrics = seen(d)
        empty = d.metric("driftwarden_otlp_points_ignored_total", reason="empty")
        counted = d.metric("driftwarden_otlp_points_total", outcome="counted")
    # two streams (ok, error): cumulative sends both at every export (the third flush's and the shutdown's
    # empty), delta only what was recorded since the last
    assert (counted, empty) == ((4, 4) if temporality == "cumulative" else (4, None))
    assert from_spans.buckets == exact(DURATIONS, ERRORS)  # spans: exact
    assert metrics.count == from_spans.count and metrics.buckets == from_spans.buckets  # our bounds are theirs
    assert metrics.sums == pytest.approx(from_spans.sums, rel=1e-6)  # the SDK's sums (spans: ns timestamps)
    for name in ("latency", "availability"):
        assert metrics.slos[name]["events"] == from_spans.slos[name]["events"]
        assert metrics.slos[name]["burn_rates"] == pytest.approx(from_spans.slos[name]["burn_rates"])
    # no page from seconds of history (detectors/slo.py), whichever way the durations came
    assert metrics.slos["latency"]["alerts"] == from_spans.slos["latency"]["alerts"] == []
    # p99 from the midpoints of the exporter's buckets: within the bucket holding the exact p99
    bounds = (0.0, *HTTP_BOUNDS)
    i = int(np.searchsorted(bounds, from_spans.p99))
    assert bounds[i - 1] <= metrics.p99 <= bounds[i]


@pytest.mark.parametrize("temporality", ["delta", "cumulative"])
def test_exponential_histograms_agree_within_their_buckets(tmp_path: Path, from_spans: Seen, temporality: str) -> None:
    with running(tmp_path / "s.db", slos=SLOS) as d:
        sender = MetricSender(d, temporality=temporality, exponential=True)
        half = DURATIONS.size // 2
        record(sender, DURATIONS[:half], ERRORS[:half])
        sender.flush()
        record(sender, DURATIONS[half:], ERRORS[half:])
        sender.flush()
        sender.close()
        metrics = seen(d)
    assert metrics.count == from_spans.count
    assert metrics.sums == pytest.approx(from_spans.sums, rel=1e-6)
    # a bucket straddling one of our bounds is counted above it: at most the values within 10 % below it move
    for status, mask in (("ok", ~ERRORS), ("error", ERRORS)):
        for b in OURS:
            assert (DURATIONS[mask] <= b * 0.9).sum() <= metrics.buckets[status][b] <= from_spans.buckets[status][b]
    assert metrics.p99 == pytest.approx(from_spans.p99, rel=0.1)
    latency, spans_latency = metrics.slos["latency"]["events"], from_spans.slos["latency"]["events"]
    assert spans_latency["bad"] <= latency["bad"] <= (DURATIONS > 0.25 * 0.9).sum()
    assert metrics.slos["availability"]["events"] == from_spans.slos["availability"]["events"]


@pytest.mark.parametrize("source", ["auto", "spans", "metrics"])
@pytest.mark.parametrize("metrics_first", [False, True])
def test_spans_and_metrics_of_the_same_requests_are_never_counted_twice(
    tmp_path: Path, from_spans: Seen, source: str, metrics_first: bool
) -> None:
    half = DURATIONS.size // 2
    with running(tmp_path / "s.db", slos=SLOS, traces={"latency_source": source}) as d:
        sender = MetricSender(d, temporality="cumulative")
        for part in (slice(0, half), slice(half, None)):
            record(sender, DURATIONS[part], ERRORS[part])
            if metrics_first:
                sender.flush()
            send_spans(d, DURATIONS[part], ERRORS[part])
            if not metrics_first:
                sender.flush()
        sender.close()
        both = seen(d)
        ignored = d.metric("driftwarden_otlp_points_ignored_total", reason="latency_source")
    assert both.count == from_spans.count
    assert both.buckets == from_spans.buckets
    for name in ("latency", "availability"):
        assert both.slos[name]["events"] == from_spans.slos[name]["events"]
    assert (ignored or 0) > 0 if source == "spans" else ignored is None


def test_genai_metrics_feed_the_request_and_llm_series(tmp_path: Path) -> None:
    """A GenAI model server's metrics as the conventions name them: gen_ai.server.request.duration (its
    HTTP metric then measures the same requests and is superseded), time to first token, time per output
    token, and token usage by gen_ai.token.type; the model from gen_ai.request.model, the operation from
    gen_ai.operation.name; gen_ai.system read where gen_ai.provider.name is absent."""
    with running(tmp_path / "s.db", traces={"label_attributes": ["gen_ai.provider.name"]}) as d:
        sender = MetricSender(d, service="llm-server", temporality="delta", bounds=None)  # the advised bounds
        genai = {"gen_ai.operation.name": "chat", "gen_ai.request.model": "llama-3", "gen_ai.system": "vllm"}
        for seconds in (0.8, 1.2, 3.0):
            sender.histogram("gen_ai.server.request.duration", bounds=GENAI_DURATION).record(seconds, genai)
            sender.request(seconds, route="/v1/chat/completions", model="")
            sender.histogram("gen_ai.server.time_to_first_token", bounds=GENAI_TTFT).record(0.2, genai)
            sender.histogram("gen_ai.server.time_per_output_token", bounds=GENAI_TPOT).record(0.03, genai)
            sender.histogram("gen_ai.client.token.usage", "{token}").record(
                100, {**genai, "gen_ai.token.type": "input"}
            )
            sender.histogram("gen_ai.client.token.usage", "{token}").record(
                40, {**genai, "gen_ai.token.type": "output"}
            )
        sender.flush()
        sender.close()
        d.evaluate()
        llm = {"service": "llm-server", "model": "llama-3"}
        labels = {**llm, "operation": "chat", "status": "ok", "gen_ai_provider_name": "vllm"}
        assert d.metric(COUNT, **labels) == 3
        assert d.metric("driftwarden_request_duration_seconds_sum", **labels) == pytest.approx(5.0)
        assert d.metric("driftwarden_llm_input_tokens_total", **llm) == 300
        assert d.metric("driftwarden_llm_output_tokens_total", **llm) == 120
        assert d.metric("driftwarden_llm_time_to_first_token_seconds_count", **llm) == 3
        assert d.metric("driftwarden_llm_time_to_first_token_seconds_bucket", **llm, le="0.25") == 3
        assert d.metric("driftwarden_llm_time_per_output_token_seconds_sum", **llm) == pytest.approx(0.09)
        assert d.metric("driftwarden_otlp_points_ignored_total", reason="superseded") == 1  # the HTTP metric's
        assert (
            d.metric(COUNT, service="llm-server", model="none", operation="/v1/chat/completions", status="ok") is None
        )


def test_ttft_and_time_per_output_token_from_spans_as_the_conventions_name_them(daemon: Daemon) -> None:
    """gen_ai.response.time_to_first_chunk (the current span attribute), tokens under their deprecated
    names, and time per output token from the span's duration, time to first token and output tokens."""
    sender = Sender(daemon, service="llm-gw")
    sender.request(
        2.0,
        model="gpt-4",
        kind=SpanKind.CLIENT,
        attributes={
            "gen_ai.response.time_to_first_chunk": 0.5,
            "gen_ai.usage.prompt_tokens": 10,
            "gen_ai.usage.completion_tokens": 31,
        },
    )
    sender.close()
    daemon.evaluate()
    llm = {"service": "llm-gw", "model": "gpt-4"}
    assert daemon.metric("driftwarden_llm_time_to_first_token_seconds_sum", **llm) == pytest.approx(0.5)
    assert daemon.metric("driftwarden_llm_time_per_output_token_seconds_sum", **llm) == pytest.approx(1.5 / 30)
    assert daemon.metric("driftwarden_llm_input_tokens_total", **llm) == 10
    assert daemon.metric("driftwarden_llm_output_tokens_total", **llm) == 31


def test_http_dup_counts_the_old_millisecond_metric_only_without_the_new_one(tmp_path: Path) -> None:
    """OTEL_SEMCONV_STABILITY_OPT_IN=http/dup sends http.server.duration (ms, old attribute names) beside
    http.server.request.duration (s): counted once. A service sending only the old one is read in ms."""
    with running(tmp_path / "s.db") as d:
        old_only = MetricSender(d, service="old", temporality="delta", bounds=[b * 1000 for b in HTTP_BOUNDS])
        dup = MetricSender(d, service="dup", temporality="delta")
        dup_ms = MetricSender(d, service="dup", temporality="delta", bounds=[b * 1000 for b in HTTP_BOUNDS])
        old_attributes = {"http.method": "POST", "http.route": "/predict", "http.status_code": 500}
        for seconds in (0.1, 0.3):
            old_only.histogram("http.server.duration", "ms").record(seconds * 1000, old_attributes)
            dup.request(seconds, model="", status=500)
            dup_ms.histogram("http.server.duration", "ms").record(seconds * 1000, old_attributes)
        for sender in (dup, dup_ms, old_only):
            sender.flush()
            sender.close()
        d.evaluate()
        for service in ("old", "dup"):
            labels = {"service": service, "model": "none", "operation": "/predict", "status": "error"}
            assert d.metric(COUNT, **labels) == 2, service
            assert d.metric(BUCKET, **labels, le="0.25") == 1
            assert d.metric("driftwarden_request_duration_seconds_sum", **labels) == pytest.approx(0.4)


def test_other_metrics_are_acknowledged_and_counted_never_an_error(daemon: Daemon) -> None:
    sender = MetricSender(daemon, temporality="delta")
    sender.meter.create_counter("requests").add(5, {"route": "/"})
    sender.meter.create_up_down_counter("queue").add(2)
    sender.meter.create_gauge("temperature").set(40.0)
    sender.histogram("db.client.operation.duration").record(0.01)
    sender.histogram("gen_ai.client.token.usage", "{token}").record(5, {"gen_ai.token.type": "cache_read"})
    sender.request(0.1)
    sender.flush()
    daemon.evaluate()
    assert daemon.metric("driftwarden_otlp_points_ignored_total", reason="other_metric") == 4
    assert daemon.metric("driftwarden_otlp_points_ignored_total", reason="token_type") == 1
    assert daemon.metric("driftwarden_otlp_points_total", outcome="counted") == 1
    assert daemon.metric("driftwarden_otlp_points_total", outcome="rejected") is None
    assert daemon.metric(COUNT, **BASE, status="ok") == 1
    sender.close()


def otlp_json(points: list[dict], name: str = "http.server.request.duration", temporality: int = 1) -> bytes:
    return orjson.dumps(
        {
            "resourceMetrics": [
                {
                    "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "llm-gw"}}]},
                    "scopeMetrics": [
                        {
                            "scope": {"name": "fixture"},
                            "metrics": [
                                {
                                    "name": name,
                                    "unit": "s",
                                    "histogram": {"aggregationTemporality": temporality, "dataPoints": points},
                                }
                            ],
                        }
                    ],
                }
            ]
        }
    )


def json_point(
    counts: list[int], bounds: list[float], route: str = "/chat", total: float = 1.0, start: int = 0, pod: str = "a"
) -> dict:
    now = time.time_ns()
    return {
        "attributes": [
            {"key": "http.route", "value": {"stringValue": route}},
            {"key": "k8s.pod.name", "value": {"stringValue": pod}},  # another stream, the same series
        ],
        "startTimeUnixNano": str(start or now - 1_000_000),
        "timeUnixNano": str(now),
        "count": str(sum(counts)),
        "sum": total,
        "bucketCounts": [str(c) for c in counts],
        "explicitBounds": bounds,
        "exemplars": [{"traceId": "5b8efff798038103d269b633813fc60c", "spanId": "eee19b7ec3c1b174", "asDouble": 0.3}],
    }


def test_json_and_gzip_with_a_rejected_point_answer_partial_success(daemon: Daemon) -> None:
    body = otlp_json([json_point([1, 2, 3], [0.1, 0.5], total=2.0), json_point([1, 2], [0.1, 0.5], route="/bad")])
    for headers, content in (({}, body), ({"content-encoding": "gzip"}, gzip.compress(body))):
        r = daemon.client.post("/v1/metrics", content=content, headers={"content-type": "application/json", **headers})
        assert r.status_code == 200 and r.headers["content-type"].startswith("application/json")
        partial = r.json()["partialSuccess"]
        assert partial["rejectedDataPoints"] == "1" and "bucket counts" in partial["errorMessage"]
    daemon.evaluate()
    labels = {"service": "llm-gw", "model": "none", "operation": "/chat", "status": "ok"}
    assert daemon.metric(COUNT, **labels) == 12
    assert daemon.metric(BUCKET, **labels, le="0.1") == 2 and daemon.metric(BUCKET, **labels, le="0.5") == 6
    assert daemon.metric("driftwarden_records_rejected_total", source="otlp_metrics", reason="bad_buckets") == 2


def test_protobuf_answers_are_protobuf_and_sdk_gzip_works(daemon: Daemon) -> None:
    sender = MetricSender(daemon, temporality="delta", compression=Compression.Gzip)
    sender.request(0.2)
    sender.flush()
    sender.close()
    empty = daemon.client.post("/v1/metrics", content=b"", headers={"content-type": "application/x-protobuf"})
    assert empty.status_code == 200 and empty.headers["content-type"] == "application/x-protobuf"
    assert not ExportMetricsServiceResponse.FromString(empty.content).HasField("partial_success")
    daemon.evaluate()
    assert daemon.metric(COUNT, **BASE, status="ok") == 1


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
def test_bad_metric_requests_get_a_google_rpc_status(daemon: Daemon, body: bytes, headers: dict, status: int) -> None:
    r = daemon.client.post("/v1/metrics", content=body, headers=headers)
    assert r.status_code == status
    if r.headers["content-type"] == "application/json":
        assert r.json()["message"] and "code" in r.json()
    else:
        assert RpcStatus.FromString(r.content).message
    assert daemon.client.get("/healthz").status_code == 200


def test_refusals_answer_a_status_in_the_request_encoding(tmp_path: Path) -> None:
    """401 (a token is set) and 413 (over the body limit) as a google.rpc.Status in the request's encoding."""
    token = tmp_path / "token"
    token.write_text("s3cret")
    protobuf = {"content-type": "application/x-protobuf"}
    with running(tmp_path / "s.db", auth_token_file=str(token), limits={"max_body_bytes": 4096}) as d:
        r = d.client.post("/v1/metrics", content=b"", headers=protobuf)
        assert r.status_code == 401 and RpcStatus.FromString(r.content).code == 16
        assert r.headers["www-authenticate"].startswith("Bearer")
        r = d.client.post("/v1/metrics", content=b"\x0a" * 5000, headers=protobuf | {"authorization": "Bearer s3cret"})
        assert r.status_code == 413 and "max_body_bytes" in RpcStatus.FromString(r.content).message
        r = d.client.post("/v1/metrics", content=b" " * 5000, headers={"authorization": "Bearer s3cret"})
        assert r.status_code == 413 and "max_body_bytes" in r.json()["message"]


def test_a_full_queue_answers_429_and_a_refused_cumulative_export_is_counted_by_the_next(tmp_path: Path) -> None:
    json = {"content-type": "application/json"}
    with running(tmp_path / "s.db", limits={"max_queue_rows": 1000}) as d:
        too_many = otlp_json([json_point([1, 0, 0], [0.1, 0.5], pod=str(i)) for i in range(1001)])
        r = d.client.post("/v1/metrics", content=too_many, headers=json)
        assert r.status_code == 413 and "max_queue_rows" in r.json()["message"] and "retry-after" not in r.headers

        pause_ingest(d)
        start = time.time_ns()
        first = otlp_json(
            [json_point([1, 1, 0], [0.1, 0.5], start=start, pod=str(i)) for i in range(600)], temporality=2
        )
        assert d.client.post("/v1/metrics", content=first, headers=json).status_code == 200
        later = otlp_json(
            [json_point([2, 3, 1], [0.1, 0.5], start=start, pod=str(i)) for i in range(600)], temporality=2
        )
        busy = d.client.post("/v1/metrics", content=later, headers=json)
        assert busy.status_code == 429 and busy.headers["retry-after"] == "1", busy.text
        assert busy.json()["code"] == 8 and "retry" in busy.json()["message"]
        drain(d)
        assert d.client.post("/v1/metrics", content=later, headers=json).status_code == 200
        d.evaluate()
        labels = {"service": "llm-gw", "model": "none", "operation": "/chat", "status": "ok"}
        assert d.metric(COUNT, **labels) == 600 * 6  # 2 each, then 4 more: the cumulative 6, once
        assert d.metric(BUCKET, **labels, le="0.1") == 600 * 2


def drain(d: Daemon) -> None:
    async def apply() -> None:
        d.daemon.ingest.drain()

    asyncio.run_coroutine_threadsafe(apply(), d.server.servers[0].get_loop()).result(timeout=10)


@pytest.mark.parametrize("path", ["/v1/metrics", "/v1/traces", "/v1/logs"])
def test_other_methods_on_otlp_paths_answer_405_as_a_status(daemon: Daemon, path: str) -> None:
    r = daemon.client.get(path)
    assert r.status_code == 405 and r.headers["allow"] == "POST"
    assert r.json()["code"] == 12 and "POST" in r.json()["message"]
    r = daemon.client.put(path, content=b"", headers={"content-type": "application/x-protobuf"})
    assert r.status_code == 405 and RpcStatus.FromString(r.content).code == 12
    assert daemon.metric("driftwarden_requests_rejected_total", endpoint=path, reason="method_not_allowed") == 2


def test_a_signal_not_served_answers_404_as_a_status(daemon: Daemon) -> None:
    r = daemon.client.post("/v1development/profiles", content=b"", headers={"content-type": "application/x-protobuf"})
    assert r.status_code == 404 and RpcStatus.FromString(r.content).code == 12


def test_cumulative_streams_past_the_bound_are_forgotten_and_counted(tmp_path: Path) -> None:
    with running(tmp_path / "s.db", limits={"max_series_per_metric": 10}) as d:
        sender = MetricSender(d, temporality="cumulative")
        for _ in range(3):
            for route in range(15):
                sender.request(0.1, route=f"/r{route}")
            sender.flush()
        sender.close()
        d.evaluate()
        assert d.metric("driftwarden_otlp_state_evicted_total", state="streams") >= 5
        assert len(d.daemon.ingest.requests.durations.label_sets) <= 10
        total = sum(
            d.metric(COUNT, service="fraud-model", model="fraud", operation=op, status="ok") or 0
            for op in [*(f"/r{i}" for i in range(15)), "other"]
        )
        # a forgotten stream's next point is a baseline (counted by nothing): never more than was sent
        assert 15 <= total <= 45


SDK_SCRIPT = textwrap.dedent(
    """
    import logging, sys
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter

    resource = Resource.create({"service.name": "env-only"})
    tracer_provider = TracerProvider(resource=resource)
    tracer_provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    reader = PeriodicExportingMetricReader(OTLPMetricExporter())
    meter_provider = MeterProvider(resource=resource, metric_readers=[reader])
    with tracer_provider.get_tracer("app").start_as_current_span("GET /", attributes={"http.route": "/"}):
        pass
    meter = meter_provider.get_meter("app")
    meter.create_histogram("http.server.request.duration", unit="s").record(0.05, {"http.route": "/"})
    meter.create_counter("app.requests").add(1)
    meter.create_histogram("app.payload.size", unit="By").record(512)
    tracer_provider.shutdown()
    meter_provider.shutdown()
    """
)


def test_an_sdk_given_only_the_base_endpoint_logs_no_export_error(daemon: Daemon) -> None:
    env = {
        **os.environ,
        "OTEL_EXPORTER_OTLP_ENDPOINT": daemon.url,
        "OTEL_TRACES_EXPORTER": "otlp",
        "OTEL_METRICS_EXPORTER": "otlp",
    }
    env.pop("OTEL_SDK_DISABLED", None)
    done = subprocess.run([sys.executable, "-c", SDK_SCRIPT], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and not done.stderr.strip(), done.stderr
    daemon.evaluate()
    assert daemon.metric("driftwarden_spans_total", outcome="observed") == 1
    assert daemon.metric("driftwarden_otlp_points_ignored_total", reason="other_metric") == 2
    # the service's spans came first: its metrics take over from the next export on (latency_source auto)
    assert daemon.metric("driftwarden_otlp_points_ignored_total", reason="source_switch") == 1
    assert daemon.metric("driftwarden_otlp_points_total", outcome="rejected") is None
