"""The operator's guide's OpenTelemetry Collector pipeline, taken at its word: its YAML parses, sends
traces, metrics and logs through one OTLP/HTTP exporter, and what that exporter sends — its base
endpoint with each signal's path appended, its bearer-token header, its encoding and compression — is
taken by a real daemon with `auth_token_file` set (the requests made by the SDK's OTLP/HTTP exporters,
which build them the same way)."""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml
from opentelemetry.exporter.otlp.proto.http import Compression
from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import SimpleLogRecordProcessor
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor

from tests.support.server import running

pytestmark = pytest.mark.server

GUIDE = Path(__file__).resolve().parents[2] / "docs" / "operators-guide.md"
OTLP_HTTP = ("otlp_http", "otlphttp")  # the exporter's name, and its alias before Collector v0.144
TOKEN = "s3cret-token"


def collector_config() -> dict[str, Any]:
    """The guide's Collector config: the YAML block with an OTLP/HTTP exporter and pipelines."""
    blocks = re.findall(r"```yaml\n(.*?)```", GUIDE.read_text(), flags=re.DOTALL)
    configs = [yaml.safe_load(b) for b in blocks if "pipelines:" in b and "exporters:" in b]
    assert len(configs) == 1, "the guide has one Collector pipeline example"
    return configs[0]


def driftwarden_exporter(config: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    exporters = [name for name in config["exporters"] if name.split("/")[0] in OTLP_HTTP]
    assert len(exporters) == 1, config["exporters"]
    return exporters[0], config["exporters"][exporters[0]]


def test_the_guides_collector_pipeline_forwards_all_three_signals_to_the_sidecar() -> None:
    config = collector_config()
    name, exporter = driftwarden_exporter(config)
    pipelines = config["service"]["pipelines"]
    for signal in ("traces", "metrics", "logs"):
        assert name in pipelines[signal]["exporters"], signal
        for receiver in pipelines[signal]["receivers"]:
            assert receiver in config["receivers"], receiver
        for processor in pipelines[signal].get("processors", []):
            assert processor in config["processors"], processor
    endpoint = urlsplit(exporter["endpoint"])
    assert endpoint.port == 4318 and endpoint.path in ("", "/"), "a base URL: the exporter appends /v1/<signal>"
    for receiver in config["receivers"].values():  # the sidecar holds 4318 in the pod
        for protocol in receiver["protocols"].values():
            assert not protocol["endpoint"].endswith(":4318"), protocol
    assert re.fullmatch(r"Bearer \$\{env:\w+\}", exporter["headers"]["Authorization"])
    assert exporter.get("encoding", "proto") in ("proto", "json")
    assert exporter.get("compression", "gzip") in ("gzip", "none")


def test_what_the_guides_exporter_sends_a_daemon_with_a_token_takes(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    _, exporter = driftwarden_exporter(collector_config())
    headers = {
        key: re.sub(r"\$\{env:\w+\}", TOKEN, value) for key, value in exporter["headers"].items()
    }  # as the Collector expands ${env:...} from its environment
    compression = Compression.Gzip if exporter.get("compression", "gzip") == "gzip" else Compression.NoCompression
    (tmp_path / "token").write_text(TOKEN)
    caplog.set_level(logging.WARNING, logger="opentelemetry")
    with running(tmp_path / "s.db", auth_token_file=str(tmp_path / "token")) as d:
        base = urlsplit(exporter["endpoint"])._replace(netloc=f"127.0.0.1:{d.port}").geturl().rstrip("/")

        def options(signal: str) -> dict[str, Any]:
            return {"endpoint": f"{base}/v1/{signal}", "headers": headers, "compression": compression}

        resource = Resource.create({"service.name": "fraud-model", "model.name": "fraud"})
        tracer_provider = TracerProvider(resource=resource)
        tracer_provider.add_span_processor(SimpleSpanProcessor(OTLPSpanExporter(**options("traces"))))
        with tracer_provider.get_tracer("app").start_as_current_span("POST /predict"):
            pass
        tracer_provider.shutdown()
        reader = PeriodicExportingMetricReader(
            OTLPMetricExporter(**options("metrics")), export_interval_millis=3_600_000
        )
        meter_provider = MeterProvider(resource=resource, metric_readers=[reader])
        meter_provider.get_meter("app").create_counter("app.requests").add(1)
        meter_provider.shutdown()
        logger_provider = LoggerProvider(resource=resource)
        logger_provider.add_log_record_processor(SimpleLogRecordProcessor(OTLPLogExporter(**options("logs"))))
        logger_provider.get_logger("app").emit(body="prediction", attributes={"driftwarden.features.amount": 1.5})
        logger_provider.shutdown()

        assert [r.getMessage() for r in caplog.records if r.name.startswith("opentelemetry")] == []
        assert d.metric("driftwarden_spans_total", outcome="observed") == 1
        assert d.metric("driftwarden_otlp_points_ignored_total", reason="other_metric") == 1
        assert d.metric("driftwarden_records_total", model="fraud", source="otlp_logs") == 1
        for path in ("/v1/traces", "/v1/metrics", "/v1/logs"):
            assert d.metric("driftwarden_requests_rejected_total", endpoint=path, reason="unauthorized") is None
