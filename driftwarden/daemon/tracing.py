"""driftwarden's own traces (`self_tracing:`), so operators see the sidecar beside the model."""

from __future__ import annotations

from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

from driftwarden import __version__
from driftwarden.config import SelfTracing

__all__ = ["self_tracer"]


def self_tracer(settings: SelfTracing | None) -> tuple[trace.Tracer, TracerProvider | None]:
    """A tracer exporting over OTLP/HTTP when configured, else a no-op one; shut the provider down at exit."""
    if settings is None:
        return trace.NoOpTracer(), None
    provider = TracerProvider(
        resource=Resource.create({"service.name": settings.service_name, "service.version": __version__})
    )
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=settings.endpoint)))
    return provider.get_tracer("driftwarden", __version__), provider
