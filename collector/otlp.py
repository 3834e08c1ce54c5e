"""OTLP/HTTP trace export requests → request observations (one per SERVER or root span).

Decodes `ExportTraceServiceRequest` from protobuf or OTLP JSON (hex trace ids, lowerCamelCase
keys, enums as numbers), gzip or not, and answers `ExportTraceServiceResponse` in the
request's encoding with `partial_success` for spans it could not use. Mapping from span to
observation follows the OTel semantic conventions, configurable through `TraceSettings`:

- service:   resource attribute `service.name`
- model:     first present of `model_attributes` (span, then resource), else "none"
- operation: first present of `operation_attributes`, else the span name
- error:     status code ERROR, or `http.response.status_code` (or `http.status_code`) >= 500
- LLM spans: `gen_ai.usage.input_tokens` / `output_tokens`, time to first token from an event
  or an attribute.
"""

from __future__ import annotations

import base64
import zlib
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import orjson
from google.protobuf import json_format
from google.protobuf.message import DecodeError
from google.rpc import status_pb2
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status

from collector.errors import BodyError
from driftwarden.config import TraceSettings

__all__ = ["JSON", "PROTOBUF", "SpanBatch", "decode_request", "encode_error", "encode_response"]

PROTOBUF = "application/x-protobuf"
JSON = "application/json"
_ID_KEYS = {"traceId", "spanId", "parentSpanId", "trace_id", "span_id", "parent_span_id"}
_SERVER = Span.SPAN_KIND_SERVER
_ERROR = Status.STATUS_CODE_ERROR
_HTTP_STATUS = ("http.response.status_code", "http.status_code")


@dataclass
class SpanBatch:
    """Observations from one export request, column-wise."""

    service: list[str] = field(default_factory=list)
    model: list[str] = field(default_factory=list)
    operation: list[str] = field(default_factory=list)
    extra: list[tuple[str, ...]] = field(default_factory=list)  # values of TraceSettings.label_attributes
    trace_id: list[str] = field(default_factory=list)
    duration: list[float] = field(default_factory=list)  # seconds
    end_time: list[float] = field(default_factory=list)  # unix seconds
    error: list[bool] = field(default_factory=list)
    input_tokens: list[float] = field(default_factory=list)  # NaN where absent
    output_tokens: list[float] = field(default_factory=list)
    ttft: list[float] = field(default_factory=list)  # seconds, NaN where absent
    skipped: int = 0  # spans that are not requests (CLIENT, INTERNAL children, ...)
    rejected: int = 0
    reasons: dict[str, int] = field(default_factory=dict)
    first_error: str = ""

    def __len__(self) -> int:
        return len(self.duration)

    def arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return (
            np.asarray(self.duration, dtype=np.float64),
            np.asarray(self.end_time, dtype=np.float64),
            np.asarray(self.error, dtype=bool),
        )

    def reject(self, reason: str, message: str) -> None:
        self.rejected += 1
        self.reasons[reason] = self.reasons.get(reason, 0) + 1
        self.first_error = self.first_error or message


def decode_request(
    body: bytes, content_type: str | None, content_encoding: str | None, settings: TraceSettings, *, max_bytes: int
) -> tuple[SpanBatch, str]:
    """Parse an export request; returns the observations and the media type to answer in."""
    media = (content_type or "").split(";")[0].strip().lower()
    if media not in (PROTOBUF, JSON):
        raise BodyError(415, f"unsupported Content-Type {media or '(none)'!r}: OTLP/HTTP sends {PROTOBUF} or {JSON}")
    encoding = (content_encoding or "identity").strip().lower()
    if encoding == "gzip":
        body = _gunzip(body, max_bytes)
    elif encoding not in ("identity", ""):
        raise BodyError(415, f"unsupported Content-Encoding {encoding!r}: send gzip or none")
    request = ExportTraceServiceRequest()
    try:
        if media == PROTOBUF:
            request.ParseFromString(body)
        else:
            json_format.ParseDict(_hex_ids_to_base64(orjson.loads(body)), request, ignore_unknown_fields=True)
    except (DecodeError, orjson.JSONDecodeError, json_format.ParseError, ValueError, TypeError) as exc:
        raise BodyError(400, f"not an OTLP ExportTraceServiceRequest ({media}): {exc}") from exc
    return _observations(request, settings), media


def encode_response(batch: SpanBatch, media: str) -> bytes:
    response = ExportTraceServiceResponse()
    if batch.rejected:
        response.partial_success.rejected_spans = batch.rejected
        response.partial_success.error_message = f"{batch.rejected} span(s) rejected; first: {batch.first_error}"
    if media == PROTOBUF:
        return response.SerializeToString()
    return json_format.MessageToJson(response, indent=None).encode()


def encode_error(message: str, media: str, code: int = 3) -> bytes:
    """A google.rpc.Status body, as OTLP/HTTP prescribes for 4xx answers (3 = INVALID_ARGUMENT)."""
    status = status_pb2.Status(code=code, message=message)
    if media == PROTOBUF:
        return status.SerializeToString()
    return json_format.MessageToJson(status, indent=None).encode()


def _gunzip(body: bytes, max_bytes: int) -> bytes:
    inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
    try:
        out = inflater.decompress(body, max_bytes + 1)
    except zlib.error as exc:
        raise BodyError(400, f"Content-Encoding is gzip but the body is not: {exc}") from exc
    if len(out) > max_bytes:
        raise BodyError(413, f"decompressed body larger than {max_bytes} bytes (limits.max_body_bytes)")
    return out


def _hex_ids_to_base64(node: Any) -> Any:
    """OTLP JSON writes trace and span ids as hex; protobuf's JSON mapping expects base64."""
    if isinstance(node, dict):
        return {k: _b64(v) if k in _ID_KEYS and isinstance(v, str) else _hex_ids_to_base64(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_hex_ids_to_base64(v) for v in node]
    return node


def _b64(hex_id: str) -> str:
    try:
        return base64.b64encode(bytes.fromhex(hex_id)).decode()
    except ValueError as exc:
        raise ValueError(f"id {hex_id!r:.40} is not hex") from exc


def _value(v: AnyValue) -> Any:
    kind = v.WhichOneof("value")
    return getattr(v, kind) if kind in ("string_value", "int_value", "double_value", "bool_value") else None


def _observations(request: ExportTraceServiceRequest, settings: TraceSettings) -> SpanBatch:
    batch = SpanBatch()
    wanted = set(settings.model_attributes) | set(settings.operation_attributes) | set(settings.label_attributes)
    wanted |= {*_HTTP_STATUS, "gen_ai.usage.input_tokens", "gen_ai.usage.output_tokens", settings.ttft_attribute}
    for resource_spans in request.resource_spans:
        resource = {kv.key: _value(kv.value) for kv in resource_spans.resource.attributes}
        service = str(resource.get("service.name") or "unknown_service")
        for scope_spans in resource_spans.scope_spans:
            for span in scope_spans.spans:
                if settings.server_spans_only and span.kind != _SERVER and span.parent_span_id:
                    batch.skipped += 1
                    continue
                start, end = span.start_time_unix_nano, span.end_time_unix_nano
                if not start or not end or end < start:
                    batch.reject("bad_timestamps", f"span {span.name!r}: end time before start time or missing")
                    continue
                attrs = {kv.key: _value(kv.value) for kv in span.attributes if kv.key in wanted}
                _append(batch, span, attrs, resource, service, settings)
    return batch


def _append(
    batch: SpanBatch, span: Span, attrs: dict[str, Any], resource: dict[str, Any], service: str, settings: TraceSettings
) -> None:
    start, end = span.start_time_unix_nano, span.end_time_unix_nano
    batch.service.append(service)
    batch.model.append(str(_first(settings.model_attributes, attrs, resource) or "none"))
    batch.operation.append(str(_first(settings.operation_attributes, attrs, {}) or span.name or "unknown"))
    batch.extra.append(tuple(str(attrs.get(k, resource.get(k, ""))) for k in settings.label_attributes))
    batch.trace_id.append(span.trace_id.hex())
    batch.duration.append((end - start) / 1e9)
    batch.end_time.append(end / 1e9)
    http_status = _first(_HTTP_STATUS, attrs, {})
    batch.error.append(span.status.code == _ERROR or (isinstance(http_status, int) and http_status >= 500))
    batch.input_tokens.append(_number(attrs.get("gen_ai.usage.input_tokens")))
    batch.output_tokens.append(_number(attrs.get("gen_ai.usage.output_tokens")))
    batch.ttft.append(_time_to_first_token(span, attrs, settings))


def _first(keys: list[str] | tuple[str, ...], attrs: dict[str, Any], fallback: dict[str, Any]) -> Any:
    for key in keys:
        value = attrs.get(key, fallback.get(key))
        if value not in (None, ""):
            return value
    return None


def _number(value: Any) -> float:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else float("nan")


def _time_to_first_token(span: Span, attrs: dict[str, Any], settings: TraceSettings) -> float:
    for event in span.events:
        if event.name == settings.ttft_event and event.time_unix_nano >= span.start_time_unix_nano:
            return (event.time_unix_nano - span.start_time_unix_nano) / 1e9
    return _number(attrs.get(settings.ttft_attribute))
