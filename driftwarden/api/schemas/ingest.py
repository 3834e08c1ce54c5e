"""The contract of the ingest router (`driftwarden.api.ingest`): prediction records, OTLP/HTTP traces,
reference uploads and pins."""

from __future__ import annotations

from typing import Any

from driftwarden.api.schemas.common import (
    BINARY,
    COUNT,
    INGEST_RESULT,
    MODEL_NAME,
    NDJSON_NOTE,
    NUMBER_OR_NULL,
    PROBLEM,
    RETRY_AFTER,
    SCALAR,
    Answers,
    Schema,
    json_content,
    problems,
)

__all__ = [
    "PIN_ANSWERS",
    "PREDICTIONS_ANSWERS",
    "PREDICTIONS_BODY",
    "REFERENCE_ANSWERS",
    "REFERENCE_BODY",
    "TRACES_ANSWERS",
    "TRACES_BODY",
]

# -- prediction records --------------------------------------------------------------------------------------------

PREDICTION_RECORD: Schema = {
    "title": "PredictionRecord",
    "type": "object",
    "required": ["model", "features"],
    "description": "Unknown extra keys are ignored; nested feature values and non-finite numbers are rejected.",
    "properties": {
        "model": MODEL_NAME,
        "model_version": {"type": "string"},
        "timestamp": {"type": ["string", "number"], "description": "RFC 3339 or unix seconds"},
        "request_id": {"type": "string"},
        "trace_id": {"type": "string"},
        "features": {"type": "object", "additionalProperties": SCALAR},
        "prediction": SCALAR,
        "label": SCALAR,
    },
}
RECORDS: Schema = {"type": "array", "items": PREDICTION_RECORD}

PREDICTIONS_BODY: Schema = {
    "required": True,
    "description": "prediction records: a JSON array (or one record), or NDJSON",
    "content": {
        "application/json": {"schema": {"anyOf": [RECORDS, PREDICTION_RECORD]}},
        "application/x-ndjson": {"schema": RECORDS, "description": NDJSON_NOTE},
    },
}
PREDICTIONS_ANSWERS: Answers = {
    200: {
        "description": "counts and per-record errors; the valid records are admitted",
        "content": json_content(INGEST_RESULT),
    },
    **problems(401, 408, 409, 413, 415, 429),
    400: {
        "description": "every record rejected (counts and errors), or an unusable body (a problem)",
        "content": json_content({"anyOf": [INGEST_RESULT, PROBLEM]}),
    },
}


# -- OTLP/HTTP traces ----------------------------------------------------------------------------------------------

_INT64 = {"type": "string", "pattern": "^-?[0-9]{1,19}$"}
ANY_VALUE: Schema = {
    "type": "object",
    "minProperties": 1,
    "maxProperties": 1,
    "properties": {
        "stringValue": {"type": "string"},
        "intValue": {"anyOf": [_INT64, {"type": "integer"}]},
        "doubleValue": {"type": "number"},
        "boolValue": {"type": "boolean"},
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
EXPORT_TRACE_SERVICE_REQUEST: Schema = {
    "title": "ExportTraceServiceRequest",
    "description": "OTLP; as JSON: hex ids, 64-bit integers as strings, enums as numbers",
    "type": "object",
    "properties": {
        "resourceSpans": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "resource": {"type": "object", "properties": {"attributes": ATTRIBUTES}},
                    "scopeSpans": {
                        "type": "array",
                        "items": {"type": "object", "properties": {"spans": {"type": "array", "items": SPAN}}},
                    },
                },
            },
        }
    },
}
EXPORT_TRACE_SERVICE_RESPONSE: Schema = {
    "title": "ExportTraceServiceResponse",
    "type": "object",
    "properties": {
        "partialSuccess": {
            "type": "object",
            "properties": {"rejectedSpans": _INT64, "errorMessage": {"type": "string"}},
        }
    },
}
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
    **problems(401),
}


# -- references ----------------------------------------------------------------------------------------------------

_FLAT_ROW: Schema = {"type": "object", "additionalProperties": SCALAR}
REFERENCE_BODY: Schema = {
    "required": True,
    "description": "reference rows: CSV with a header, Parquet, or NDJSON (flat rows or prediction records)",
    "content": {
        "text/csv": {"schema": {"type": "string"}},
        "application/vnd.apache.parquet": {"schema": BINARY},
        "application/x-ndjson": {
            "schema": {"type": "array", "items": {"anyOf": [PREDICTION_RECORD, _FLAT_ROW]}},
            "description": NDJSON_NOTE,
        },
    },
}
_NUMERIC_SUMMARY: Schema = {
    "type": "object",
    "required": ["name", "kind", "count", "missing_rate", "min", "median", "max", "quantiles", "bin_edges"],
    "properties": {
        "name": {"type": "string"},
        "kind": {"const": "numeric"},
        "count": COUNT,
        "missing_rate": NUMBER_OR_NULL,
        "min": NUMBER_OR_NULL,
        "median": NUMBER_OR_NULL,
        "max": NUMBER_OR_NULL,
        "quantiles": {"type": "object", "additionalProperties": NUMBER_OR_NULL},
        "bin_edges": {"type": "array", "items": NUMBER_OR_NULL},
    },
}
_CATEGORICAL_SUMMARY: Schema = {
    "type": "object",
    "required": ["name", "kind", "count", "missing_rate", "categories", "top"],
    "properties": {
        "name": {"type": "string"},
        "kind": {"const": "categorical"},
        "count": COUNT,
        "missing_rate": NUMBER_OR_NULL,
        "categories": COUNT,
        "top": {
            "type": "array",
            "maxItems": 5,
            "items": {
                "type": "object",
                "required": ["value", "count", "share"],
                "properties": {"value": {"type": "string"}, "count": COUNT, "share": {"type": "number"}},
            },
        },
        "monitored": {"type": "boolean"},
    },
}
REFERENCE_SUMMARY: Schema = {
    "title": "ReferenceSummary",
    "type": "object",
    "required": ["model", "rows", "category_rows", "created_at", "features"],
    "properties": {
        "model": {"type": "string"},
        "source": {"type": "string"},
        "rows": COUNT,
        "category_rows": COUNT,
        "created_at": {"type": "number"},
        "features": {"type": "array", "items": {"oneOf": [_NUMERIC_SUMMARY, _CATEGORICAL_SUMMARY]}},
    },
}
REFERENCE_ANSWERS: Answers = {
    200: {"description": "the fitted profile's summary", "content": json_content(REFERENCE_SUMMARY)},
    **problems(400, 401, 408, 409, 413, 415, 503),
}
PIN_ANSWERS: Answers = {
    200: {
        "description": "the current window is now the reference (stored)",
        "content": json_content(REFERENCE_SUMMARY),
    },
    **problems(400, 401, 404, 409, 503),
}
