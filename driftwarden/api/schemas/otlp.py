"""The contract of the OTLP/HTTP router (`driftwarden.api.otlp`): trace and log export requests, their
responses, and the google.rpc.Status every refusal is."""

from __future__ import annotations

from typing import Any

from driftwarden.api.schemas.common import BINARY, RETRY_AFTER, WWW_AUTHENTICATE, Answers, Schema

__all__ = ["LOGS_ANSWERS", "LOGS_BODY", "TRACES_ANSWERS", "TRACES_BODY", "export_request", "export_response"]

# -- OTLP/HTTP traces ----------------------------------------------------------------------------------------------

_INT64 = {"type": "string", "pattern": "^-?[0-9]{1,19}$"}
ANY_VALUE: Schema = {
    "type": "object",
    "minProperties": 1,
    "maxProperties": 1,
    "properties": {
        "stringValue": {"type": "string"},
        "intValue": {"anyOf": [_INT64, {"type": "integer"}]},
        "doubleValue": {"anyOf": [{"type": "number"}, {"enum": ["NaN", "Infinity", "-Infinity"]}]},
        "boolValue": {"type": "boolean"},
        "arrayValue": {"type": "object", "properties": {"values": {"type": "array"}}},
        "kvlistValue": {"type": "object", "properties": {"values": {"type": "array"}}},
        "bytesValue": {"type": "string", "description": "base64"},
    },
}
ATTRIBUTES: Schema = {
    "type": "array",
    "items": {
        "type": "object",
        "required": ["key", "value"],
        "properties": {"key": {"type": "string"}, "value": ANY_VALUE},
    },
}
_UNIX_NANO = {"anyOf": [{"type": "string", "pattern": "^[0-9]{1,19}$"}, {"type": "integer", "minimum": 0}]}
SPAN: Schema = {
    "type": "object",
    "required": ["traceId", "spanId", "name", "startTimeUnixNano", "endTimeUnixNano"],
    "properties": {
        "traceId": {"type": "string", "pattern": "^[0-9a-f]{32}$"},
        "spanId": {"type": "string", "pattern": "^[0-9a-f]{16}$"},
        "parentSpanId": {"type": "string", "pattern": "^([0-9a-f]{16})?$"},
        "name": {"type": "string"},
        "kind": {"type": "integer", "minimum": 0, "maximum": 5},
        "startTimeUnixNano": _UNIX_NANO,
        "endTimeUnixNano": _UNIX_NANO,
        "attributes": ATTRIBUTES,
        "events": {
            "type": "array",
            "items": {"type": "object", "properties": {"name": {"type": "string"}, "timeUnixNano": _UNIX_NANO}},
        },
        "status": {
            "type": "object",
            "properties": {"code": {"type": "integer", "minimum": 0, "maximum": 2}, "message": {"type": "string"}},
        },
    },
}


def export_request(service: str, signal: str, scope_items: str, item: Schema, *, hex_ids: bool) -> Schema:
    """An OTLP export request's envelope: resource<Signal>[] of {resource, scope<Signal>[] of {items}}."""
    ids = "hex ids, " if hex_ids else ""
    return {
        "title": f"Export{service}ServiceRequest",
        "description": f"OTLP; as JSON: {ids}64-bit integers as strings, enums as numbers",
        "type": "object",
        "properties": {
            f"resource{signal}": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "resource": {"type": "object", "properties": {"attributes": ATTRIBUTES}},
                        f"scope{signal}": {
                            "type": "array",
                            "items": {"type": "object", "properties": {scope_items: {"type": "array", "items": item}}},
                        },
                    },
                },
            }
        },
    }


def export_response(signal: str, rejected: str, count: Schema) -> Schema:
    """An OTLP export response: partialSuccess with the count of what was rejected."""
    return {
        "title": f"Export{signal}ServiceResponse",
        "type": "object",
        "properties": {
            "partialSuccess": {
                "type": "object",
                "properties": {rejected: count, "errorMessage": {"type": "string"}},
            }
        },
    }


EXPORT_TRACE_SERVICE_REQUEST = export_request("Trace", "Spans", "spans", SPAN, hex_ids=True)
EXPORT_TRACE_SERVICE_RESPONSE = export_response("Trace", "rejectedSpans", _INT64)
RPC_STATUS: Schema = {
    "title": "google.rpc.Status",
    "type": "object",
    "properties": {
        "code": {"type": "integer"},
        "message": {"type": "string"},
        "details": {"type": "array", "items": {"type": "object"}},
    },
}
TRACES_BODY: Schema = {
    "required": True,
    "description": "an OTLP ExportTraceServiceRequest, protobuf or OTLP JSON, optionally gzip-compressed",
    "content": {
        "application/x-protobuf": {
            "schema": EXPORT_TRACE_SERVICE_REQUEST,
            "description": "the message in protobuf binary encoding (the schema shows its JSON mapping)",
        },
        "application/json": {"schema": EXPORT_TRACE_SERVICE_REQUEST},
    },
}


def _otlp(description: str, schema: Schema) -> dict[str, Any]:
    return {
        "description": f"{description}, in the request's encoding",
        "content": {"application/json": {"schema": schema}, "application/x-protobuf": {"schema": BINARY}},
    }


TRACES_ANSWERS: Answers = {
    200: _otlp("ExportTraceServiceResponse (partialSuccess when spans were rejected)", EXPORT_TRACE_SERVICE_RESPONSE),
    400: _otlp("google.rpc.Status: an unusable export", RPC_STATUS),
    415: _otlp("google.rpc.Status: unsupported Content-Type or Content-Encoding", RPC_STATUS),
    408: _otlp("google.rpc.Status: the body did not arrive whole within server.body_timeout", RPC_STATUS),
    429: {**_otlp("google.rpc.Status: queue full, retry after Retry-After", RPC_STATUS), "headers": RETRY_AFTER},
    413: _otlp(
        "google.rpc.Status: the body (as sent or decompressed) passes limits.max_body_bytes, "
        "or has more spans than the queue holds (limits.max_queue_rows)",
        RPC_STATUS,
    ),
    401: {
        **_otlp("google.rpc.Status: missing or wrong bearer token (only when auth_token_file is set)", RPC_STATUS),
        "headers": WWW_AUTHENTICATE,
    },
}


# -- OTLP/HTTP logs ------------------------------------------------------------------------------------------------

LOG_RECORD: Schema = {
    "type": "object",
    "description": "a prediction when it names a model and carries features: attributes under logs.feature_prefix, "
    "or a body (a kvlistValue, or a stringValue holding JSON) shaped like a /v1/predictions record",
    "properties": {
        "timeUnixNano": _UNIX_NANO,
        "observedTimeUnixNano": _UNIX_NANO,
        "severityNumber": {"type": "integer"},
        "severityText": {"type": "string"},
        "body": ANY_VALUE,
        "attributes": ATTRIBUTES,
        "traceId": {"type": "string", "pattern": "^([0-9a-f]{32})?$"},
        "spanId": {"type": "string", "pattern": "^([0-9a-f]{16})?$"},
    },
}
EXPORT_LOGS_SERVICE_REQUEST = export_request("Logs", "Logs", "logRecords", LOG_RECORD, hex_ids=True)
EXPORT_LOGS_SERVICE_RESPONSE = export_response("Logs", "rejectedLogRecords", _INT64)
LOGS_BODY: Schema = {
    "required": True,
    "description": "an OTLP ExportLogsServiceRequest, protobuf or OTLP JSON, optionally gzip-compressed",
    "content": {
        "application/x-protobuf": {
            "schema": EXPORT_LOGS_SERVICE_REQUEST,
            "description": "the message in protobuf binary encoding (the schema shows its JSON mapping)",
        },
        "application/json": {"schema": EXPORT_LOGS_SERVICE_REQUEST},
    },
}
LOGS_ANSWERS: Answers = {
    200: _otlp(
        "ExportLogsServiceResponse (partialSuccess when prediction records were rejected; log records that are "
        "not predictions are acknowledged, counted in driftwarden_otlp_logs_ignored_total)",
        EXPORT_LOGS_SERVICE_RESPONSE,
    ),
    400: _otlp("google.rpc.Status: an unusable export", RPC_STATUS),
    409: _otlp("google.rpc.Status: the windows' memory budget (limits.max_window_bytes_*)", RPC_STATUS),
    415: _otlp("google.rpc.Status: unsupported Content-Type or Content-Encoding", RPC_STATUS),
    408: _otlp("google.rpc.Status: the body did not arrive whole within server.body_timeout", RPC_STATUS),
    429: {**_otlp("google.rpc.Status: queue full, retry after Retry-After", RPC_STATUS), "headers": RETRY_AFTER},
    413: _otlp(
        "google.rpc.Status: the body (as sent or decompressed) passes limits.max_body_bytes, it holds more log "
        "records than limits.max_records_per_request, or more predictions than the queue holds (limits.max_queue_rows)",
        RPC_STATUS,
    ),
    401: {
        **_otlp("google.rpc.Status: missing or wrong bearer token (only when auth_token_file is set)", RPC_STATUS),
        "headers": WWW_AUTHENTICATE,
    },
}
