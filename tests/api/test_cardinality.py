"""Label cardinality from traces is bounded per metric family, and the pages that read a large
state (/metrics, /v1/slos, the overview) are built off the event loop: /healthz answers meanwhile."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.registry import Collector

from tests.support.server import Daemon, running

pytestmark = pytest.mark.server

DURATION = "driftwarden_request_duration_seconds"
OVERFLOW = "driftwarden_series_overflow_total"
PROTOBUF = {"content-type": "application/x-protobuf"}


def _attribute(key: str, value: str | int) -> KeyValue:
    if isinstance(value, int):
        return KeyValue(key=key, value=AnyValue(int_value=value))
    return KeyValue(key=key, value=AnyValue(string_value=value))


def export_request(
    combinations: list[tuple[str, str, str]], *, tokens: int = 0, durations: list[float] | None = None
) -> bytes:
    """One SERVER span per (service, model, operation), as an OTLP/HTTP protobuf body (50 ms each
    unless `durations` says)."""
    request = ExportTraceServiceRequest()
    end = time.time_ns() - 1_000_000_000
    seconds = durations or [0.05] * len(combinations)
    by_service: dict[str, list[tuple[str, str, float]]] = {}
    for (service, model, operation), duration in zip(combinations, seconds, strict=True):
        by_service.setdefault(service, []).append((model, operation, duration))
    n = 0
    for service, spans in by_service.items():
        resource_spans = request.resource_spans.add()
        resource_spans.resource.attributes.append(_attribute("service.name", service))
        scope = resource_spans.scope_spans.add()
        for model, operation, duration in spans:
            n += 1
            span = scope.spans.add(
                trace_id=n.to_bytes(16, "big"),
                span_id=n.to_bytes(8, "big"),
                name=operation,
                kind=Span.SPAN_KIND_SERVER,
                start_time_unix_nano=end - round(duration * 1e9),
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


def test_a_series_keeps_its_last_max_quantile_samples_however_they_arrive(tmp_path: Path) -> None:
    durations = np.random.default_rng(1).lognormal(-3, 1, 330)
    with running(tmp_path / "s.db", traces={"max_quantile_samples": 100}) as d:
        for part in (durations[:7], durations[7:60], durations[60:190], durations[190:]):
            body = export_request([("svc", "m", "/op")] * len(part), durations=part.tolist())
            assert d.client.post("/v1/traces", content=body, headers=PROTOBUF).status_code == 200
            d.evaluate()
        (row,) = d.client.get("/v1/slos").json()["latency"]["5m"]
        assert row["count"] == 100
        assert row["p50"] == pytest.approx(np.quantile(durations[-100:], 0.5), rel=1e-6)  # ns timestamps


class BlockingCollector(Collector):
    """A collector of the daemon's registry that holds a scrape until released."""

    def __init__(self) -> None:
        self.entered = threading.Event()
        self.release = threading.Event()

    def describe(self) -> list[Metric]:
        return []

    def collect(self) -> Iterator[Metric]:
        self.entered.set()
        self.release.wait(timeout=60)
        yield GaugeMetricFamily("test_blocking", "Held until the test releases it.", value=1)


def healthz_while(d: Daemon, path: str, entered: threading.Event, release: threading.Event) -> None:
    """GET `path`; once its work has started (and is held), /healthz must answer before it finishes."""
    with ThreadPoolExecutor(1) as pool:
        slow: Future[httpx.Response] = pool.submit(httpx.get, d.url + path, timeout=60)
        try:
            assert entered.wait(timeout=30), f"{path} never started its work"
            health = httpx.get(d.url + "/healthz", timeout=10)  # the event loop is free: it answers
            assert health.status_code == 200
            assert not slow.done()
        finally:
            release.set()
        assert slow.result().status_code == 200


def test_healthz_answers_while_a_scrape_is_being_rendered(daemon: Daemon) -> None:
    blocking = BlockingCollector()
    daemon.registry.register(blocking)
    healthz_while(daemon, "/metrics", blocking.entered, blocking.release)


def holding(function: Callable[..., Any], entered: threading.Event, release: threading.Event) -> Callable[..., Any]:
    def held(*args: Any, **kwargs: Any) -> Any:
        entered.set()
        release.wait(timeout=60)
        return function(*args, **kwargs)

    return held


@pytest.mark.parametrize("path", ["/v1/slos", "/"])
def test_healthz_answers_while_latency_quantiles_are_computed(daemon: Daemon, path: str) -> None:
    entered, release = threading.Event(), threading.Event()
    requests = daemon.daemon.requests
    requests.quantiles = holding(requests.quantiles, entered, release)  # type: ignore[method-assign]
    healthz_while(daemon, path, entered, release)
