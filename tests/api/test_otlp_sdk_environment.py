"""README: point an OpenTelemetry SDK at the sidecar with `OTEL_EXPORTER_OTLP_ENDPOINT` and set nothing
else. One process exports all three signals through the real OTLP/HTTP exporters, which append
/v1/traces, /v1/metrics and /v1/logs to that base endpoint themselves: every export succeeds, the SDK
logs no error, and the daemon counts every span, data point and log record."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest

from tests.support.server import Daemon

pytestmark = pytest.mark.server

# Runs in a process of its own: the exporters read OTEL_EXPORTER_OTLP_* when they are made, and the
# SDK's logging (where a failed export is told) goes to stderr. Prints each export's result as JSON.
EXPORTER_PROCESS = textwrap.dedent(
    """
    import json, logging, sys
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
    from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk._logs import LoggerProvider
    from opentelemetry.sdk._logs.export import SimpleLogRecordProcessor
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import MetricExporter, PeriodicExportingMetricReader
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor

    results = {"traces": [], "metrics": [], "logs": []}

    def recorded(exporter, signal):
        export = exporter.export
        def record(batch, **kwargs):
            result = export(batch, **kwargs)
            results[signal].append(result.name)
            return result
        exporter.export = record
        return exporter

    resource = Resource.create({"service.name": "env-only", "model.name": "env"})
    tracer_provider = TracerProvider(resource=resource)
    tracer_provider.add_span_processor(SimpleSpanProcessor(recorded(OTLPSpanExporter(), "traces")))
    reader = PeriodicExportingMetricReader(recorded(OTLPMetricExporter(), "metrics"), export_interval_millis=3_600_000)
    meter_provider = MeterProvider(resource=resource, metric_readers=[reader])
    logger_provider = LoggerProvider(resource=resource)
    logger_provider.add_log_record_processor(SimpleLogRecordProcessor(recorded(OTLPLogExporter(), "logs")))

    tracer = tracer_provider.get_tracer("app")
    with tracer.start_as_current_span("POST /predict", attributes={"http.route": "/predict"}):
        logger = logger_provider.get_logger("app")
        logger.emit(body="prediction", attributes={"driftwarden.features.amount": 12.5, "driftwarden.prediction": 0.9})
        logger.emit(body="a log line that is no prediction")
    meter = meter_provider.get_meter("app")
    meter.create_histogram("http.server.request.duration", unit="s").record(0.05, {"http.route": "/predict"})
    meter.create_histogram("gen_ai.client.token.usage", unit="{token}").record(
        42, {"gen_ai.token.type": "input", "gen_ai.request.model": "env"}
    )
    meter.create_counter("app.requests").add(1)
    tracer_provider.shutdown()
    meter_provider.shutdown()
    logger_provider.shutdown()
    print(json.dumps(results))
    """
)


def test_one_process_given_only_the_base_endpoint_exports_traces_metrics_and_logs(daemon: Daemon) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}  # nothing but the base endpoint
    env["OTEL_EXPORTER_OTLP_ENDPOINT"] = daemon.url
    done = subprocess.run(
        [sys.executable, "-c", EXPORTER_PROCESS], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr.strip() == "", done.stderr  # the SDK logs every failed or retried export
    results = json.loads(done.stdout)
    assert results == {"traces": ["SUCCESS"], "metrics": ["SUCCESS"], "logs": ["SUCCESS", "SUCCESS"]}

    daemon.evaluate()
    assert daemon.metric("driftwarden_spans_total", outcome="observed") == 1
    points = {
        outcome: daemon.metric("driftwarden_otlp_points_total", outcome=outcome) or 0
        for outcome in ("counted", "ignored", "rejected")
    }
    assert points["rejected"] == 0 and points["counted"] + points["ignored"] == 3, points
    assert daemon.metric("driftwarden_otlp_points_ignored_total", reason="other_metric") == 1
    assert daemon.metric("driftwarden_records_total", model="env", source="otlp_logs") == 1
    assert daemon.metric("driftwarden_otlp_logs_ignored_total", reason="no_features") == 1
    assert daemon.metric("driftwarden_requests_rejected_total", endpoint="/v1/traces", reason="unauthorized") is None
