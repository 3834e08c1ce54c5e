"""Spans sent the way an instrumented model server sends them: the real OpenTelemetry SDK exporter."""

from __future__ import annotations

import time

from opentelemetry.exporter.otlp.proto.http import Compression
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.trace import SpanKind, Status, StatusCode

from tests.support.server import Daemon

__all__ = ["Sender"]


class Sender:
    """The real SDK, exporting each span as it ends (SimpleSpanProcessor) to the daemon."""

    def __init__(self, daemon: Daemon, service: str = "fraud-model", compression: Compression | None = None) -> None:
        exporter = OTLPSpanExporter(
            endpoint=f"{daemon.url}/v1/traces", compression=compression or Compression.NoCompression
        )
        self.provider = TracerProvider(resource=Resource.create({"service.name": service}))
        self.provider.add_span_processor(SimpleSpanProcessor(exporter))
        self.tracer = self.provider.get_tracer("tests")

    def request(
        self,
        seconds: float,
        *,
        route: str = "/predict",
        model: str = "fraud",
        error: bool = False,
        kind: SpanKind = SpanKind.SERVER,
        attributes: dict | None = None,
        ago: float = 1.0,
    ) -> str:
        end = time.time_ns() - int(ago * 1e9)
        span = self.tracer.start_span(
            "POST " + route,
            kind=kind,
            start_time=end - int(seconds * 1e9),
            attributes={"http.route": route, "model.name": model, **(attributes or {})},
        )
        if error:
            span.set_status(Status(StatusCode.ERROR))
        trace_id = format(span.get_span_context().trace_id, "032x")
        span.end(end_time=end)
        return trace_id

    def close(self) -> None:
        self.provider.shutdown()
