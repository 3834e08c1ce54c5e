"""The contract of the ingest router (`driftwarden.api.ingest`): prediction records, reference uploads
and pins. (OTLP/HTTP is `driftwarden.api.schemas.otlp`.)"""

from __future__ import annotations

from driftwarden.api.schemas.common import (
    BINARY,
    COUNT,
    INGEST_RESULT,
    MODEL_NAME,
    NDJSON_NOTE,
    NUMBER_OR_NULL,
    PROBLEM,
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
        "trace_id": {
            "type": "string",
            "description": "W3C trace id, 32 hex digits (else ignored): kept with the row, named in drift reports",
        },
        "span_id": {"type": "string", "description": "W3C span id, 16 hex digits (else ignored)"},
        "features": {"type": "object", "additionalProperties": SCALAR},
        "prediction": SCALAR,
        "label": SCALAR,
    },
}
RECORDS: Schema = {"type": "array", "items": PREDICTION_RECORD}

PREDICTIONS_BODY: Schema = {
    "required": True,
    "description": "prediction records: a JSON array (or one record), NDJSON, or an Arrow IPC stream of columns",
    "content": {
        "application/json": {"schema": {"anyOf": [RECORDS, PREDICTION_RECORD]}},
        "application/x-ndjson": {"schema": RECORDS, "description": NDJSON_NOTE},
        "application/vnd.apache.arrow.stream": {
            "schema": {"type": "string", "format": "binary"},
            "description": "an Arrow IPC stream, uncompressed buffers: a column per feature (numbers, strings, "
            "booleans) plus model (string), and optionally prediction, request_id, label, model_version, trace_id, "
            "span_id, timestamp; rows and columns bounded from the message headers before any column is read",
        },
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
