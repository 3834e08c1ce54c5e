"""OTLP/HTTP trace export requests → request observations (one per SERVER or root span).

Decodes `ExportTraceServiceRequest` from protobuf or OTLP JSON (hex trace ids, lowerCamelCase
keys, enums as numbers; the API has decoded any gzip; collector/otlp_wire.py, shared by every
signal) and answers `ExportTraceServiceResponse` in the request's encoding with `partial_success`
for spans it could not use. Mapping from span to
observation follows the OTel semantic conventions, configurable through `TraceParams`:

- service:   resource attribute `service.name`
- model:     first present of `model_attributes` (span, then resource), else "none"
- operation: first present of `operation_attributes`, else the span name
- error:     status code ERROR, `error.type` set, or `http.response.status_code` (or `http.status_code`)
  >= 500
- LLM spans: `gen_ai.usage.input_tokens` / `output_tokens`; time to first token from the
  `ttft_event` event, else the `ttft_attribute` attribute, else `gen_ai.response.time_to_first_chunk`;
  time per output token, for spans that are no error, (duration - time to first token) /
  (output tokens - 1), as `gen_ai.server.time_per_output_token` defines it.

Every attribute is also read under the deprecated names it replaced (`semconv.ALIASES`:
`gen_ai.system` for `gen_ai.provider.name`, `http.status_code` for `http.response.status_code`, ...).
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

from driftwarden.collector.otlp_attributes import label_value, lookup_chain
from driftwarden.collector.otlp_wire import JSON, PROTOBUF, SCALARS, decode, encode, encode_error
from driftwarden.core.arrays import FloatArray
from driftwarden.core.semconv import ERROR_TYPE, HTTP_STATUS, INPUT_TOKENS, OUTPUT_TOKENS, TTFT_ATTRIBUTES, with_aliases
from driftwarden.core.spans import SpanBatch
from driftwarden.params import TraceParams

__all__ = ["JSON", "PROTOBUF", "decode_request", "encode_error", "encode_response"]

_SERVER = Span.SPAN_KIND_SERVER
_ERROR = Status.STATUS_CODE_ERROR
_HTTP_STATUS = with_aliases(HTTP_STATUS)
_SCALARS = SCALARS
_INPUT_TOKENS = with_aliases(INPUT_TOKENS)
_OUTPUT_TOKENS = with_aliases(OUTPUT_TOKENS)


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
    model_keys, operation_keys = lookup_chain(settings.model_attributes), lookup_chain(settings.operation_attributes)
    extra_keys = tuple(with_aliases(k) for k in settings.label_attributes)
    ttft_keys = lookup_chain((settings.ttft_attribute, *TTFT_ATTRIBUTES))
    wanted = {*model_keys, *operation_keys, *(k for chain in extra_keys for k in chain), *ttft_keys}
    wanted |= {*_HTTP_STATUS, *_INPUT_TOKENS, *_OUTPUT_TOKENS, ERROR_TYPE}
    server_only = settings.server_spans_only
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
                http_status = _first(_HTTP_STATUS, attrs)
                ttft = _time_to_first_token(span, settings) if span.events else None
                rows.append(
                    (
                        service,
                        str(_first(model_keys, attrs) or resource_model or "none"),
                        str(_first(operation_keys, attrs) or span.name or "unknown"),
                        tuple(label_value(k, attrs, resource) for k in extra_keys),
                        span.trace_id.hex(),
                        (end - start) / 1e9,
                        end / 1e9,
                        span.status.code == _ERROR
                        or bool(attrs.get(ERROR_TYPE))
                        or (type(http_status) is int and http_status >= 500),
                        _first(_INPUT_TOKENS, attrs),
                        _first(_OUTPUT_TOKENS, attrs),
                        _first(ttft_keys, attrs) if ttft is None else ttft,
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
    batch.tpot = _time_per_output_token(batch)
    return batch


def _time_per_output_token(batch: SpanBatch) -> FloatArray:
    """(duration - time to first token) / (output tokens - 1) for spans that are no error; else NaN."""
    tpot = np.full(len(batch), np.nan)
    usable = (batch.output_tokens > 1) & ~np.isnan(batch.ttft) & ~batch.error & (batch.ttft <= batch.duration)
    if usable.any():
        tpot[usable] = (batch.duration[usable] - batch.ttft[usable]) / (batch.output_tokens[usable] - 1)
    return tpot


def _first(keys: tuple[str, ...], attrs: dict[str, Any]) -> Any:
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
