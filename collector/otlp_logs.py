"""OTLP/HTTP log export requests → prediction records.

Decodes `ExportLogsServiceRequest` (protobuf or OTLP JSON, collector/otlp_wire.py) and maps each
log record that carries a model and its features to a record of the shape `/v1/predictions`
takes (design.md, "OpenTelemetry logs"), configurable through `LogParams`:

- attributes: each attribute under `feature_prefix` is a feature, named without the prefix;
  `prediction_attribute`, `request_id_attribute`, `label_attribute` and `model_version_attribute`
  are the record's other fields; attributes under `labels_prefix` are the record's `labels` (segment
  values), named without the prefix; or
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
`no_model` (features, but no model named anywhere).

OTLP JSON is mapped one log record, one attribute at a time (`otlp_logs_mapping.one_by_one`).
Protobuf is mapped a column at a time (`otlp_logs_columns`: the attributes of each scope read in bulk,
per layout of attribute keys) into `predictions.Table`s that `parse_tables` parses as `parse_objects`
would the same records; only log records whose body is a record stay dicts (and then every record of
the request goes through `parse_objects`).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from operator import itemgetter
from typing import Any

from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import (
    ExportLogsServiceRequest,
    ExportLogsServiceResponse,
)

from driftwarden.collector.otlp_logs_columns import request_tables
from driftwarden.collector.otlp_logs_mapping import Mapping, one_by_one, resource_model
from driftwarden.collector.otlp_wire import JSON, PROTOBUF, decode, encode
from driftwarden.collector.predictions import parse_objects, parse_tables
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
    if media == PROTOBUF:  # the attributes a column at a time
        tables, records = request_tables(request, body, Mapping(settings), export.ignored)
        if not records:
            export.result = parse_tables(tables, export.result, max_records=max_records)
            return export, media
        records = sorted([*records, *(r for table in tables for r in table.records())], key=itemgetter(0))
    else:
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


def to_records(
    request: ExportLogsServiceRequest, settings: LogParams, ignored: Counter[str], body: bytes | None = None
) -> list[tuple[int, Any]]:
    """(position among the request's log records, prediction record) of each log record that is one;
    the others counted in `ignored`. With `body` (the request as protobuf), read a column at a time, the
    records made from the tables (a field that is None left out); else one by one."""
    mapping = Mapping(settings)
    records: list[tuple[int, Any]] = []
    if body is not None:
        tables, records = request_tables(request, body, mapping, ignored)
        return sorted([*records, *(r for table in tables for r in table.records())], key=itemgetter(0))
    start = 0
    for resource_logs in request.resource_logs:
        model = resource_model(resource_logs, mapping)
        for scope_logs in resource_logs.scope_logs:
            one_by_one(scope_logs.log_records, start, mapping, model, ignored, records)
            start += len(scope_logs.log_records)
    return records
