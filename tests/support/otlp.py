"""Spans and log records sent the way an instrumented model server sends them: the real OpenTelemetry
SDK exporters."""

from __future__ import annotations

import time
from typing import Any

from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.http import Compression
from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import BatchLogRecordProcessor, LogRecordExporter, LogRecordExportResult
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.trace import NonRecordingSpan, SpanContext, SpanKind, Status, StatusCode, TraceFlags

from tests.support.server import Daemon

__all__ = ["LogSender", "Sender"]


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


class _Results(LogRecordExporter):
    """The OTLP/HTTP log exporter, keeping what each export returned."""

    def __init__(self, exporter: OTLPLogExporter) -> None:
        self.exporter = exporter
        self.results: list[LogRecordExportResult] = []

    def export(self, batch: Any) -> LogRecordExportResult:
        result = self.exporter.export(batch)
        self.results.append(result)
        return result

    def shutdown(self) -> None:
        self.exporter.shutdown()

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        return self.exporter.force_flush(timeout_millis)


class LogSender:
    """The real SDK LoggerProvider, batching log records (up to `batch` an export, as a model server's
    BatchLogRecordProcessor does) to the daemon's /v1/logs through OTLPLogExporter."""

    def __init__(
        self,
        daemon: Daemon | None = None,
        *,
        resource: dict[str, Any] | None = None,
        compression: Compression | None = None,
        batch: int = 512,
    ) -> None:
        endpoint = f"{daemon.url}/v1/logs" if daemon is not None else None  # None: from OTEL_EXPORTER_OTLP_*
        self.exporter = _Results(OTLPLogExporter(endpoint=endpoint, compression=compression))
        self.provider = LoggerProvider(resource=Resource.create({"service.name": "fraud-model", **(resource or {})}))
        self.provider.add_log_record_processor(
            BatchLogRecordProcessor(self.exporter, max_export_batch_size=batch, schedule_delay_millis=60_000)
        )
        self.logger = self.provider.get_logger("tests")

    def emit(
        self, body: Any = None, attributes: dict[str, Any] | None = None, trace_id: int = 0, span_id: int = 0
    ) -> None:
        """One log record; with `trace_id` (and `span_id`) in the context of that span, as a log made
        while serving a traced request is."""
        context = None
        if trace_id:
            span = NonRecordingSpan(SpanContext(trace_id, span_id or 1, is_remote=False, trace_flags=TraceFlags(1)))
            context = trace.set_span_in_context(span)
        self.logger.emit(body=body, attributes=attributes, context=context, timestamp=time.time_ns())

    def flush(self) -> list[LogRecordExportResult]:
        """Export what is batched now; every export's result so far."""
        assert self.provider.force_flush(30_000)
        return self.exporter.results

    def close(self) -> None:
        self.provider.shutdown()
