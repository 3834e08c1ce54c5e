"""Metrics sent the way an instrumented model server sends them: the real OpenTelemetry SDK
`MeterProvider` and OTLP/HTTP metric exporter, exporting when told (`flush`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from opentelemetry.exporter.otlp.proto.http import Compression
from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
from opentelemetry.sdk.metrics import Histogram, MeterProvider
from opentelemetry.sdk.metrics.export import AggregationTemporality, PeriodicExportingMetricReader
from opentelemetry.sdk.metrics.view import (
    ExplicitBucketHistogramAggregation,
    ExponentialBucketHistogramAggregation,
)
from opentelemetry.sdk.resources import Resource

from tests.support.server import Daemon

__all__ = ["HTTP_BOUNDS", "MetricSender"]

# the bounds the HTTP semantic conventions advise for http.server.request.duration
HTTP_BOUNDS = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0)


class MetricSender:
    """A `MeterProvider` whose histograms export to the daemon's /v1/metrics on `flush()`."""

    def __init__(
        self,
        daemon: Daemon,
        service: str = "fraud-model",
        *,
        temporality: Literal["delta", "cumulative"] = "cumulative",
        exponential: bool = False,
        bounds: Sequence[float] | None = HTTP_BOUNDS,
        compression: Compression | None = None,
        endpoint: str | None = None,
    ) -> None:
        preferred = AggregationTemporality.DELTA if temporality == "delta" else AggregationTemporality.CUMULATIVE
        aggregation = (
            ExponentialBucketHistogramAggregation()
            if exponential
            else ExplicitBucketHistogramAggregation(list(bounds))
            if bounds is not None
            else None
        )
        self.exporter = OTLPMetricExporter(
            endpoint=endpoint or f"{daemon.url}/v1/metrics",
            compression=compression or Compression.NoCompression,
            preferred_temporality={Histogram: preferred},
            preferred_aggregation={Histogram: aggregation} if aggregation is not None else None,
        )
        self.reader = PeriodicExportingMetricReader(self.exporter, export_interval_millis=3_600_000)
        self.provider = MeterProvider(resource=Resource.create({"service.name": service}), metric_readers=[self.reader])
        self.meter = self.provider.get_meter("tests")
        self._histograms: dict[tuple[str, str], Histogram] = {}

    def histogram(self, name: str, unit: str = "s", bounds: Sequence[float] | None = None) -> Histogram:
        """The histogram `name`; `bounds` are advice, taken when the sender was made with `bounds=None`."""
        key = (name, unit)
        if key not in self._histograms:
            self._histograms[key] = self.meter.create_histogram(
                name, unit=unit, explicit_bucket_boundaries_advisory=bounds
            )
        return self._histograms[key]

    def request(
        self,
        seconds: float,
        *,
        route: str = "/predict",
        model: str = "fraud",
        status: int = 200,
        metric: str = "http.server.request.duration",
        attributes: dict | None = None,
    ) -> None:
        """One request's duration, with the attributes an HTTP server instrumentation records."""
        attrs = {"http.request.method": "POST", "http.route": route, "http.response.status_code": status}
        if model:
            attrs["model.name"] = model
        if status >= 500:
            attrs["error.type"] = str(status)
        self.histogram(metric).record(seconds, {**attrs, **(attributes or {})})

    def flush(self) -> None:
        assert self.provider.force_flush(timeout_millis=30_000)

    def close(self) -> None:
        self.provider.shutdown()
