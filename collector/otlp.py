"""OTLP/HTTP trace export requests → request observations (one per SERVER or root span).

Decodes `ExportTraceServiceRequest` from protobuf or OTLP JSON (hex trace ids, lowerCamelCase
keys, enums as numbers; the API has decoded any gzip; collector/otlp_wire.py, shared by every
signal) and answers `ExportTraceServiceResponse` in the request's encoding with `partial_success`
for spans it could not use. Mapping from span to
observation follows the OTel semantic conventions, configurable through `TraceParams`:

- service:   resource attribute `service.name`
- model:     first present of `model_attributes` (span, then resource), else "none"
- operation: first present of `operation_attributes`, else the span name
- error:     status code ERROR, or `http.response.status_code` (or `http.status_code`) >= 500
- LLM spans: `gen_ai.usage.input_tokens` / `output_tokens`, time to first token from an event
  or an attribute.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status

from driftwarden.collector.otlp_wire import JSON, PROTOBUF, SCALARS, decode, encode, encode_error
from driftwarden.core.arrays import FloatArray
from driftwarden.core.spans import SpanBatch
from driftwarden.params import TraceParams

__all__ = ["JSON", "PROTOBUF", "decode_request", "encode_error", "encode_response"]

_SERVER = Span.SPAN_KIND_SERVER
_ERROR = Status.STATUS_CODE_ERROR
_HTTP_STATUS = ("http.response.status_code", "http.status_code")
_SCALARS = SCALARS
_INPUT_TOKENS = "gen_ai.usage.input_tokens"
_OUTPUT_TOKENS = "gen_ai.usage.output_tokens"


def decode_request(body: bytes, content_type: str | None, settings: TraceParams) -> tuple[SpanBatch, str]:
    """Parse an export request (already decoded from any Content-Encoding); returns the observations
    and the media type to answer in."""
    request, media = decode(body, content_type, ExportTraceServiceRequest())
    return _observations(request, settings), media


def encode_response(batch: SpanBatch, media: str) -> bytes:
    response = ExportTraceServiceResponse()
    if batch.rejected:
        response.partial_success.rejected_spans = batch.rejected
        response.partial_success.error_message = f"{batch.rejected} span(s) rejected; first: {batch.first_error}"
    return encode(response, media)


def _value(v: AnyValue) -> Any:
    kind = v.WhichOneof("value")
    return getattr(v, kind) if kind in _SCALARS else None


def _observations(request: ExportTraceServiceRequest, settings: TraceParams) -> SpanBatch:
    """One row per request span, then columns: the per-span work is attribute look-ups only."""
    batch = SpanBatch()
    wanted = set(settings.model_attributes) | set(settings.operation_attributes) | set(settings.label_attributes)
    wanted |= {*_HTTP_STATUS, _INPUT_TOKENS, _OUTPUT_TOKENS, settings.ttft_attribute}
    model_keys, operation_keys = settings.model_attributes, settings.operation_attributes
    extra_keys = settings.label_attributes
    server_only = settings.server_spans_only
    ttft_attribute = settings.ttft_attribute
    rows = []
    for resource_spans in request.resource_spans:
        resource = {kv.key: _value(kv.value) for kv in resource_spans.resource.attributes}
        service = str(resource.get("service.name") or "unknown_service")
        resource_model = _first(model_keys, resource)
        for scope_spans in resource_spans.scope_spans:
            for span in scope_spans.spans:
                if server_only and span.kind != _SERVER and span.parent_span_id:
                    batch.skipped += 1
                    continue
                start, end = span.start_time_unix_nano, span.end_time_unix_nano
                if not start or not end or end < start:
                    batch.reject("bad_timestamps", f"span {span.name!r}: end time before start time or missing")
                    continue
                attrs = {}
                for kv in span.attributes:
                    key = kv.key
                    if key in wanted:
                        value = kv.value
                        kind = value.WhichOneof("value")
                        attrs[key] = getattr(value, kind) if kind in _SCALARS else None
                http_status = attrs.get(_HTTP_STATUS[0]) or attrs.get(_HTTP_STATUS[1])
                rows.append(
                    (
                        service,
                        str(_first(model_keys, attrs) or resource_model or "none"),
                        str(_first(operation_keys, attrs) or span.name or "unknown"),
                        tuple(str(attrs.get(k, resource.get(k, ""))) for k in extra_keys) if extra_keys else (),
                        span.trace_id.hex(),
                        (end - start) / 1e9,
                        end / 1e9,
                        span.status.code == _ERROR or (type(http_status) is int and http_status >= 500),
                        attrs.get(_INPUT_TOKENS),
                        attrs.get(_OUTPUT_TOKENS),
                        _time_to_first_token(span, settings) if span.events else attrs.get(ttft_attribute),
                    )
                )
    if rows:
        columns = list(zip(*rows, strict=True))
        batch.service, batch.model, batch.operation = list(columns[0]), list(columns[1]), list(columns[2])
        batch.extra, batch.trace_id = list(columns[3]), list(columns[4])
        batch.duration = np.array(columns[5], dtype=np.float64)
        batch.end_time = np.array(columns[6], dtype=np.float64)
        batch.error = np.array(columns[7], dtype=bool)
        batch.input_tokens, batch.output_tokens, batch.ttft = (_numbers(c) for c in columns[8:11])
    return batch


def _first(keys: list[str] | tuple[str, ...], attrs: dict[str, Any]) -> Any:
    for key in keys:
        value = attrs.get(key)
        if value is not None and value != "":
            return value
    return None


def _number(value: Any) -> float:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else float("nan")


def _numbers(values: tuple[Any, ...]) -> FloatArray:
    if all(v is None for v in values):  # the common case: not an LLM span
        return np.full(len(values), np.nan)
    return np.array([_number(v) for v in values], dtype=np.float64)


def _time_to_first_token(span: Span, settings: TraceParams) -> float | None:
    for event in span.events:
        if event.name == settings.ttft_event and event.time_unix_nano >= span.start_time_unix_nano:
            return (event.time_unix_nano - span.start_time_unix_nano) / 1e9
    return None
