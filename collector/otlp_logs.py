"""OTLP/HTTP log export requests → prediction records.

Decodes `ExportLogsServiceRequest` (protobuf or OTLP JSON, collector/otlp_wire.py) and maps each
log record that carries a model and its features to a record of the shape `/v1/predictions`
takes (design.md, "OpenTelemetry logs"), configurable through `LogParams`:

- attributes: each attribute under `feature_prefix` is a feature, named without the prefix;
  `prediction_attribute`, `request_id_attribute`, `label_attribute` and `model_version_attribute`
  are the record's other fields; or
- body: a map (kvlist), or a string holding a JSON object, with `features` — a `/v1/predictions`
  record as it is; it wins over feature attributes.
- model: the record's own (`model` of a body), else the first of `model_attributes` on the log
  record, else on its resource.
- the log record's trace id and span id travel with the record; `request_id` defaults to the trace
  id (hex), so a label posted to `/v1/labels` under the trace id joins.

The records then go through `parse_objects`, the `/v1/predictions` parser after its body decoding,
so they are validated, grouped and rejected exactly as records posted there; a double that is NaN
is missing (as null is), an infinite one rejected. Every other log record is acknowledged and
counted in `ignored` by why: `no_features` (no feature attribute, no body with features) or
`no_model` (features, but no model named anywhere). The per-record work is attribute look-ups.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import orjson
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import (
    ExportLogsServiceRequest,
    ExportLogsServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue

from driftwarden.collector.otlp_wire import JSON, PROTOBUF, SCALARS, any_value, decode, encode
from driftwarden.collector.predictions import parse_objects
from driftwarden.core.errors import BodyTooLarge
from driftwarden.core.records import ParseResult
from driftwarden.params import LogParams

__all__ = ["IGNORED_REASONS", "JSON", "PROTOBUF", "LogExport", "decode_request", "encode_response", "to_records"]

IGNORED_REASONS = ("no_features", "no_model")


@dataclass
class LogExport:
    """What one export request held: its prediction records parsed, and the log records that were not."""

    result: ParseResult = field(default_factory=ParseResult)
    ignored: Counter[str] = field(default_factory=Counter)  # by reason, IGNORED_REASONS
    log_records: int = 0


def decode_request(
    body: bytes, content_type: str | None, settings: LogParams, *, max_records: int = 100_000
) -> tuple[LogExport, str]:
    """Parse an export request (already decoded from any Content-Encoding); returns its records and
    the media type to answer in. More than `max_records` log records: `BodyTooLarge`, before mapping."""
    request, media = decode(body, content_type, ExportLogsServiceRequest())
    total = sum(len(scope.log_records) for resource in request.resource_logs for scope in resource.scope_logs)
    if total > max_records:
        raise BodyTooLarge(
            f"{total} log records in one export; the limit is {max_records} (limits.max_records_per_request): "
            "export smaller batches"
        )
    export = LogExport(log_records=total)
    records = to_records(request, settings, export.ignored)
    export.result = parse_objects(records, export.result, max_records=max_records)
    return export, media


def encode_response(result: ParseResult, media: str) -> bytes:
    """ExportLogsServiceResponse: `partial_success` counts the rejected records (ignored ones are not)."""
    response = ExportLogsServiceResponse()
    if result.rejected:
        first = result.errors[0].message if result.errors else ""
        response.partial_success.rejected_log_records = result.rejected
        response.partial_success.error_message = f"{result.rejected} log record(s) rejected; first: {first}"
    return encode(response, media)


def to_records(request: ExportLogsServiceRequest, settings: LogParams, ignored: Counter[str]) -> list[tuple[int, Any]]:
    """(position among the request's log records, prediction record) of each log record that is one;
    the others counted in `ignored`."""
    prefix, cut = settings.feature_prefix, len(settings.feature_prefix)
    model_keys = settings.model_attributes
    fields = {
        settings.prediction_attribute: "prediction",
        settings.request_id_attribute: "request_id",
        settings.label_attribute: "label",
        settings.model_version_attribute: "model_version",
    }
    wanted = set(fields) | set(model_keys)
    records: list[tuple[int, Any]] = []
    index = -1
    for resource_logs in request.resource_logs:
        resource = {kv.key: any_value(kv.value) for kv in resource_logs.resource.attributes if kv.key in model_keys}
        resource_model = _first(model_keys, resource)
        for scope_logs in resource_logs.scope_logs:
            for log in scope_logs.log_records:
                index += 1
                record = _body_record(log.body)
                if record is None or record.get("model") is None:  # the attributes are needed
                    features: dict[str, Any] = {}
                    found: dict[str, Any] = {}
                    for kv in log.attributes:
                        key = kv.key
                        if key.startswith(prefix):
                            value = kv.value
                            kind = value.WhichOneof("value")
                            features[key[cut:]] = getattr(value, kind) if kind in SCALARS else any_value(value)
                        elif key in wanted:
                            found[key] = any_value(kv.value)
                    if record is None:
                        if not features:
                            ignored["no_features"] += 1
                            continue
                        record = {"features": features}
                        for attribute, name in fields.items():
                            if attribute in found:
                                record[name] = found[attribute]
                    model = _first(model_keys, found)
                    if model is None:
                        model = resource_model
                    if model is None:
                        ignored["no_model"] += 1
                        continue
                    record["model"] = model
                trace_id = log.trace_id
                if trace_id:
                    span_id = log.span_id
                    record["trace_id"] = trace_id.hex()
                    record["span_id"] = span_id.hex() if span_id else None
                if record.get("request_id") is None and record.get("trace_id") is not None:
                    record["request_id"] = record["trace_id"]
                records.append((index, record))
    return records


def _body_record(body: AnyValue) -> dict[str, Any] | None:
    """A body that is a prediction record: a map, or a JSON object in a string, with "features"."""
    kind = body.WhichOneof("value")
    parsed: Any
    if kind == "string_value":
        text = body.string_value
        if not text.lstrip().startswith("{"):
            return None
        try:
            parsed = orjson.loads(text)
        except orjson.JSONDecodeError:
            return None  # a log line that merely starts with a brace
    elif kind == "kvlist_value":
        parsed = any_value(body)
    else:
        return None  # none, or a scalar or array: a log line
    return parsed if type(parsed) is dict and "features" in parsed else None


def _first(keys: tuple[str, ...], attributes: dict[str, Any]) -> Any:
    for key in keys:
        value = attributes.get(key)
        if value is not None and value != "":
            return value
    return None
