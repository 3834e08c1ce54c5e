"""Label cardinality from traces is bounded per metric family."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span
from prometheus_client.parser import text_string_to_metric_families

from tests.support.server import running

pytestmark = pytest.mark.server

DURATION = "driftwarden_request_duration_seconds"
OVERFLOW = "driftwarden_series_overflow_total"
PROTOBUF = {"content-type": "application/x-protobuf"}


def _attribute(key: str, value: str | int) -> KeyValue:
    if isinstance(value, int):
        return KeyValue(key=key, value=AnyValue(int_value=value))
    return KeyValue(key=key, value=AnyValue(string_value=value))


def export_request(combinations: list[tuple[str, str, str]], *, tokens: int = 0) -> bytes:
    """One SERVER span per (service, model, operation), as an OTLP/HTTP protobuf body."""
    request = ExportTraceServiceRequest()
    end = time.time_ns() - 1_000_000_000
    by_service: dict[str, list[tuple[str, str]]] = {}
    for service, model, operation in combinations:
        by_service.setdefault(service, []).append((model, operation))
    n = 0
    for service, spans in by_service.items():
        resource_spans = request.resource_spans.add()
        resource_spans.resource.attributes.append(_attribute("service.name", service))
        scope = resource_spans.scope_spans.add()
        for model, operation in spans:
            n += 1
            span = scope.spans.add(
                trace_id=n.to_bytes(16, "big"),
                span_id=n.to_bytes(8, "big"),
                name=operation,
                kind=Span.SPAN_KIND_SERVER,
                start_time_unix_nano=end - 50_000_000,
                end_time_unix_nano=end,
            )
            span.attributes.extend([_attribute("model.name", model), _attribute("http.route", operation)])
            if tokens:
                span.attributes.append(_attribute("gen_ai.usage.input_tokens", tokens))
    return request.SerializeToString()


def label_sets(text: str, family: str, sample: str) -> list[dict[str, str]]:
    families = [f for f in text_string_to_metric_families(text) if f.name == family]
    return [s.labels for f in families for s in f.samples if s.name == sample]


def test_label_sets_per_family_are_capped_and_the_overflow_is_counted(tmp_path: Path) -> None:
    combinations = [(f"svc-{s}", f"m{m}", f"/op{o}") for s in range(10) for m in range(10) for o in range(3)]
    with running(tmp_path / "s.db", limits={"max_series_per_metric": 20}, traces={"max_label_values": 100}) as d:
        r = d.client.post("/v1/traces", content=export_request(combinations, tokens=7), headers=PROTOBUF)
        assert r.status_code == 200
        d.evaluate()
        text = d.client.get("/metrics").text

        durations = label_sets(text, DURATION, f"{DURATION}_count")
        assert len(durations) == 20  # 19 label sets as sent, then one overflow set
        overflow = {"service": "other", "model": "other", "operation": "other", "status": "other"}
        assert overflow in durations
        assert d.metric(f"{DURATION}_count", **overflow) == 300 - 19
        assert d.metric(OVERFLOW, metric=DURATION) == 300 - 19

        tokens = label_sets(text, "driftwarden_llm_input_tokens", "driftwarden_llm_input_tokens_total")
        assert len(tokens) == 20  # (service, model): 100 sent
        assert d.metric("driftwarden_llm_input_tokens_total", service="other", model="other") == 7 * (300 - 19 * 3)
        assert d.metric(OVERFLOW, metric="driftwarden_llm_input_tokens") == 300 - 19 * 3
        assert d.metric(OVERFLOW, metric="driftwarden_llm_time_to_first_token_seconds") == 0

        latency = d.client.get("/v1/slos").json()["latency"]["5m"]  # the quantile view follows the histogram
        assert len(latency) <= 20
        assert sum(row["count"] for row in latency) == 300
        assert {"service": "other", "model": "other", "operation": "other"} in [
            {k: row[k] for k in ("service", "model", "operation")} for row in latency
        ]


def test_a_second_export_of_known_label_sets_is_not_folded(tmp_path: Path) -> None:
    combinations = [(f"svc-{s}", "m", "/op") for s in range(30)]
    with running(tmp_path / "s.db", limits={"max_series_per_metric": 10}) as d:
        body = export_request(combinations)
        for _ in range(2):
            assert d.client.post("/v1/traces", content=body, headers=PROTOBUF).status_code == 200
        d.evaluate()
        assert d.metric(f"{DURATION}_count", service="svc-0", model="m", operation="/op", status="ok") == 2
        assert d.metric(OVERFLOW, metric=DURATION) == 2 * (30 - 9)
