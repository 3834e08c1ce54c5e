"""The HTTP contract of docs/design.md as OpenAPI: request bodies, answers and their schemas.

The routes read `Request` themselves (bounded reading, NDJSON, protobuf, CloudEvents), so FastAPI
cannot infer what they take or answer; each route declares it from here, through
`openapi_extra={"requestBody": ...}` and `responses=...`. The served `/openapi.json` is then the
contract that `tests/test_fuzz_api.py` fuzzes, response schemas included: keep them exact.

    @router.post("/v1/labels", openapi_extra={"requestBody": LABELS_BODY}, responses=LABELS_ANSWERS)
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "ALERTS",
    "CE_HEADERS",
    "CONTENT_ENCODING",
    "DELETE_SILENCE_ANSWERS",
    "DRIFT_ANSWERS",
    "KSERVE_ANSWERS",
    "KSERVE_BODY",
    "LABELS_ANSWERS",
    "LABELS_BODY",
    "METRICS_ANSWERS",
    "MODELS",
    "PIN_ANSWERS",
    "PREDICTIONS_ANSWERS",
    "PREDICTIONS_BODY",
    "PROBLEM",
    "READYZ_ANSWERS",
    "REFERENCE_ANSWERS",
    "REFERENCE_BODY",
    "SILENCES",
    "SILENCE_ANSWERS",
    "SILENCE_BODY",
    "SLOS",
    "TRACES_ANSWERS",
    "TRACES_BODY",
    "ok",
    "problems",
]

Schema = dict[str, Any]

# -- shared pieces -------------------------------------------------------------------------------------------------

NUMBER_OR_NULL: Schema = {"type": ["number", "null"]}
COUNT: Schema = {"type": "integer", "minimum": 0}
SCALAR: Schema = {"type": ["number", "string", "boolean", "null"]}
MODEL_NAME: Schema = {"type": "string", "pattern": "^[A-Za-z0-9][A-Za-z0-9_.:-]{0,62}$"}
BINARY: Schema = {"type": "string", "format": "binary"}

PROBLEM: Schema = {
    "title": "Problem",
    "description": "A refused request (plumbing.HTTPProblem); `reason` is the label counted in "
    "driftwarden_requests_rejected_total.",
    "type": "object",
    "required": ["error", "reason"],
    "properties": {"error": {"type": "string"}, "reason": {"type": "string"}},
}
RETRY_AFTER = {"Retry-After": {"required": True, "description": "seconds", "schema": {"type": "string"}}}
WWW_AUTHENTICATE = {"WWW-Authenticate": {"required": True, "schema": {"type": "string"}}}
_PROBLEM_ANSWERS: dict[int, tuple[str, dict[str, Any]]] = {
    400: ("unusable body, model name or request", {}),
    401: ("missing or wrong bearer token (only when auth_token_file is set)", WWW_AUTHENTICATE),
    404: ("no such model or silence", {}),
    409: ("conflict: too many models, or an empty window", {}),
    413: ("body larger than limits.max_body_bytes, or too many records", {}),
    415: ("unsupported Content-Type or Content-Encoding", {}),
    429: ("queue full (limits.max_queue_rows): retry after Retry-After", RETRY_AFTER),
}


def _json(schema: Schema) -> dict[str, Any]:
    return {"application/json": {"schema": schema}}


def ok(description: str, schema: Schema) -> dict[int | str, dict[str, Any]]:
    """`{200: answer}` with a JSON body of `schema`."""
    return {200: {"description": description, "content": _json(schema)}}


def problems(*codes: int) -> dict[int | str, dict[str, Any]]:
    """`{code: answer}` with the problem body `{"error", "reason"}` for each code."""
    out: dict[int | str, dict[str, Any]] = {}
    for code in codes:
        description, headers = _PROBLEM_ANSWERS[code]
        out[code] = {"description": description, "content": _json(PROBLEM)}
        if headers:
            out[code]["headers"] = headers
    return out


# -- prediction records and labels ---------------------------------------------------------------------------------

RECORD_ERROR: Schema = {
    "title": "RecordError",
    "type": "object",
    "required": ["index", "pointer", "reason", "message"],
    "properties": {
        "index": {
            "type": "integer",
            "minimum": -1,
            "description": "0-based record (NDJSON: non-blank line); -1: a model's batch",
        },
        "pointer": {"type": "string", "description": "RFC 6901 pointer into the record"},
        "reason": {"type": "string", "description": "the label of driftwarden_records_rejected_total"},
        "message": {"type": "string"},
    },
}
INGEST_RESULT: Schema = {
    "title": "IngestResult",
    "type": "object",
    "required": ["accepted", "rejected", "errors"],
    "properties": {
        "accepted": COUNT,
        "rejected": COUNT,
        "errors": {"type": "array", "maxItems": 100, "items": RECORD_ERROR},
        "errors_truncated": {"const": True},
    },
}
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
NDJSON_NOTE = "one JSON value a line (also application/ndjson, application/jsonl, application/x-jsonlines)"

PREDICTIONS_BODY: Schema = {
    "required": True,
    "description": "prediction records: a JSON array (or one record), or NDJSON",
    "content": {
        "application/json": {"schema": {"anyOf": [RECORDS, PREDICTION_RECORD]}},
        "application/x-ndjson": {"schema": RECORDS, "description": NDJSON_NOTE},
    },
}
PREDICTIONS_ANSWERS = {
    200: {
        "description": "counts and per-record errors; the valid records are admitted",
        "content": _json(INGEST_RESULT),
    },
    **problems(401, 413, 415, 429),
    400: {
        "description": "every record rejected (counts and errors), or an unusable body (a problem)",
        "content": _json({"anyOf": [INGEST_RESULT, PROBLEM]}),
    },
}

LABEL_RECORD: Schema = {
    "title": "Label",
    "type": "object",
    "required": ["model", "request_id", "label"],
    "properties": {
        "model": MODEL_NAME,
        "request_id": {"type": "string", "minLength": 1, "maxLength": 256},
        "label": {"anyOf": [{"type": "number"}, {"type": "string", "maxLength": 256}]},
    },
}
LABELS: Schema = {"type": "array", "maxItems": 100_000, "items": LABEL_RECORD}
LABEL_RESULT: Schema = {
    "title": "LabelResult",
    "type": "object",
    "required": ["matched", "unmatched", "rejected", "errors"],
    "properties": {
        "matched": COUNT,
        "unmatched": COUNT,
        "rejected": COUNT,
        "errors": {"type": "array", "maxItems": 100, "items": RECORD_ERROR},
    },
}
LABELS_BODY: Schema = {
    "required": True,
    "description": "delayed ground truth: a JSON array (or one label), or NDJSON",
    "content": {
        "application/json": {"schema": {"anyOf": [LABELS, LABEL_RECORD]}},
        "application/x-ndjson": {"schema": LABELS, "description": NDJSON_NOTE},
    },
}
LABELS_ANSWERS = {
    200: {"description": "join counts and per-label errors", "content": _json(LABEL_RESULT)},
    **problems(401, 413, 415),
    400: {
        "description": "every label rejected (counts and errors), or a body that is not JSON (a problem)",
        "content": _json({"anyOf": [LABEL_RESULT, PROBLEM]}),
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
CONTENT_ENCODING: Schema = {
    "name": "Content-Encoding",
    "in": "header",
    "required": False,
    "description": "gzip or none; anything else answers 415",
    "schema": {"enum": ["gzip", "identity"]},
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


TRACES_ANSWERS = {
    200: _otlp("ExportTraceServiceResponse (partialSuccess when spans were rejected)", EXPORT_TRACE_SERVICE_RESPONSE),
    400: _otlp("google.rpc.Status: an unusable export", RPC_STATUS),
    415: _otlp("google.rpc.Status: unsupported Content-Type or Content-Encoding", RPC_STATUS),
    429: {**_otlp("google.rpc.Status: queue full, retry after Retry-After", RPC_STATUS), "headers": RETRY_AFTER},
    413: _otlp("google.rpc.Status: the body (as sent or decompressed) passes limits.max_body_bytes", RPC_STATUS),
    **problems(401),
}

# -- KServe / Seldon CloudEvents -----------------------------------------------------------------------------------

EVENT_TYPES = [
    "org.kubeflow.serving.inference.request",
    "org.kubeflow.serving.inference.response",
    "io.seldon.serving.inference.request",
    "io.seldon.serving.inference.response",
]
V2_TENSOR: Schema = {
    "type": "object",
    "required": ["name", "shape", "datatype", "data"],
    "properties": {
        "name": {"type": "string"},
        "shape": {"type": "array", "items": {"type": "integer", "minimum": 0}},
        "datatype": {"type": "string", "examples": ["FP32", "FP64", "INT64", "BYTES", "BOOL"]},
        "data": {"type": "array"},
    },
}
INFERENCE_BODY: Schema = {
    "title": "InferenceBody",
    "description": "KServe V1 (instances, predictions), Open Inference Protocol V2 (inputs, outputs) or Seldon (data)",
    "anyOf": [
        {"type": "object", "required": ["instances"], "properties": {"instances": {"type": "array"}}},
        {"type": "object", "required": ["predictions"], "properties": {"predictions": {"type": "array"}}},
        {
            "type": "object",
            "properties": {
                "inputs": {"type": "array", "items": V2_TENSOR},
                "outputs": {"type": "array", "items": V2_TENSOR},
                "model_name": {"type": "string"},
                "model_version": {"type": "string"},
            },
        },
        {"type": "object", "required": ["data"], "properties": {"data": {"type": "object"}}},
    ],
}
STRUCTURED_EVENT: Schema = {
    "title": "CloudEvent",
    "type": "object",
    "required": ["specversion", "id", "source", "type"],
    "properties": {
        "specversion": {"const": "1.0"},
        "id": {"type": "string", "minLength": 1},
        "source": {"type": "string", "minLength": 1},
        "type": {"enum": EVENT_TYPES},
        "inferenceservicename": MODEL_NAME,
        "requestid": {"type": "string"},
        "data": INFERENCE_BODY,
        "data_base64": {"type": "string", "contentEncoding": "base64"},
    },
}
_CE = "binary-mode CloudEvent attribute"
CE_HEADERS: list[Schema] = [
    {
        "name": "ce-id",
        "in": "header",
        "required": False,
        "description": f"{_CE}; joins request and response",
        "schema": {"type": "string", "minLength": 1},
    },
    {"name": "ce-type", "in": "header", "required": False, "description": _CE, "schema": {"enum": EVENT_TYPES}},
    {
        "name": "ce-source",
        "in": "header",
        "required": False,
        "description": _CE,
        "schema": {"type": "string", "minLength": 1},
    },
    {"name": "ce-specversion", "in": "header", "required": False, "description": _CE, "schema": {"const": "1.0"}},
    {
        "name": "ce-inferenceservicename",
        "in": "header",
        "required": False,
        "description": "KServe: the model",
        "schema": MODEL_NAME,
    },
    {"name": "ce-modelid", "in": "header", "required": False, "description": "Seldon: the model", "schema": MODEL_NAME},
    {
        "name": "ce-requestid",
        "in": "header",
        "required": False,
        "description": "Seldon: joins request and response",
        "schema": {"type": "string"},
    },
]
KSERVE_RESULT: Schema = {
    "title": "KServeResult",
    "type": "object",
    "required": [*INGEST_RESULT["required"], "pending"],
    "properties": {**INGEST_RESULT["properties"], "pending": COUNT},
}
KSERVE_BODY: Schema = {
    "required": True,
    "description": "a payload-logger event: binary mode (ce-* headers, the inference body), structured or batched",
    "content": {
        "application/json": {"schema": INFERENCE_BODY, "description": "binary mode: the ce-* headers are required"},
        "application/cloudevents+json": {"schema": STRUCTURED_EVENT},
        "application/cloudevents-batch+json": {"schema": {"type": "array", "items": STRUCTURED_EVENT}},
    },
}
KSERVE_ANSWERS = {
    200: {"description": "records of the pairs completed, and halves still waiting", "content": _json(KSERVE_RESULT)},
    **problems(401, 413, 415, 429),
    400: {
        "description": "every record rejected (counts and errors), or an unusable event (a problem)",
        "content": _json({"anyOf": [KSERVE_RESULT, PROBLEM]}),
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
REFERENCE_ANSWERS = {
    200: {"description": "the fitted profile's summary", "content": _json(REFERENCE_SUMMARY)},
    **problems(400, 401, 409, 413, 415),
}
PIN_ANSWERS = {
    200: {"description": "the current window is now the reference (stored)", "content": _json(REFERENCE_SUMMARY)},
    **problems(400, 401, 404, 409),
}

# -- reading state -------------------------------------------------------------------------------------------------

ROWS: Schema = {
    "type": "object",
    "required": ["reference", "current"],
    "properties": {"reference": COUNT, "current": COUNT},
}
MODELS: Schema = {
    "title": "Models",
    "type": "object",
    "required": ["models"],
    "properties": {
        "models": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["model", "has_reference", "rows", "drifted", "drift_share", "evaluated_at"],
                "properties": {
                    "model": {"type": "string"},
                    "has_reference": {"type": "boolean"},
                    "rows": ROWS,
                    "drifted": {"type": ["boolean", "null"]},
                    "drift_share": NUMBER_OR_NULL,
                    "evaluated_at": NUMBER_OR_NULL,
                },
            },
        }
    },
}
_FEATURE_DRIFT: Schema = {
    "type": "object",
    "required": [
        "name",
        "kind",
        "role",
        "drifted",
        "drifted_stable",
        "effect",
        "missing_rate",
        "scores",
        "pvalues",
        "pvalues_adjusted",
        "rows",
    ],
    "properties": {
        "name": {"type": "string"},
        "kind": {"enum": ["numeric", "categorical"]},
        "role": {"enum": ["feature", "prediction"]},
        "drifted": {"type": "boolean"},
        "drifted_stable": {"type": "boolean"},
        "effect": NUMBER_OR_NULL,
        "missing_rate": {"type": "object", "additionalProperties": NUMBER_OR_NULL},
        "scores": {"type": "object", "additionalProperties": NUMBER_OR_NULL},
        "pvalues": {"type": "object", "additionalProperties": {"type": "number"}},
        "pvalues_adjusted": {"type": "object", "additionalProperties": {"type": "number"}},
        "rows": {"type": "object", "additionalProperties": COUNT},
        "unseen": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["category", "count"],
                "properties": {"category": {"type": "string"}, "count": COUNT},
            },
        },
    },
}
DRIFT_REPORT: Schema = {
    "title": "DriftReport",
    "description": "the same shape as `driftwarden check --json`",
    "type": "object",
    "required": [
        "model",
        "model_version",
        "drifted",
        "drifted_stable",
        "prediction_drifted",
        "drift_share",
        "rows",
        "thresholds",
        "critical_features",
        "evaluated_at",
        "features",
    ],
    "properties": {
        "model": {"type": "string"},
        "model_version": {"type": ["string", "null"]},
        "drifted": {"type": "boolean"},
        "drifted_stable": {"type": "boolean"},
        "prediction_drifted": {"type": ["boolean", "null"]},
        "drift_share": {"type": "number", "minimum": 0, "maximum": 1},
        "rows": ROWS,
        "thresholds": {"type": "object"},
        "critical_features": {"type": "array", "items": {"type": "string"}},
        "evaluated_at": {"type": "number"},
        "features": {"type": "array", "items": _FEATURE_DRIFT},
    },
}
DRIFT_ANSWERS = {200: {"description": "the latest report", "content": _json(DRIFT_REPORT)}, **problems(404)}

_LATENCY: Schema = {
    "type": "array",
    "items": {
        "type": "object",
        "required": ["service", "model", "operation", "count", "error_rate", "p50", "p95", "p99"],
        "properties": {
            "service": {"type": "string"},
            "model": {"type": "string"},
            "operation": {"type": "string"},
            "count": COUNT,
            "error_rate": {"type": "number", "minimum": 0, "maximum": 1},
            "p50": {"type": "number"},
            "p95": {"type": "number"},
            "p99": {"type": "number"},
        },
    },
}
SLOS: Schema = {
    "title": "SLOs",
    "type": "object",
    "required": ["slos", "latency"],
    "properties": {
        "slos": {
            "type": "array",
            "items": {
                "type": "object",
                "required": [
                    "name",
                    "kind",
                    "objective",
                    "threshold_seconds",
                    "period_seconds",
                    "selector",
                    "burn_rates",
                    "error_budget_remaining",
                    "events",
                    "alerts",
                ],
                "properties": {
                    "name": {"type": "string"},
                    "kind": {"type": "string"},
                    "objective": {"type": "number"},
                    "threshold_seconds": NUMBER_OR_NULL,
                    "period_seconds": {"type": "number"},
                    "selector": {"type": "object", "additionalProperties": {"type": ["string", "null"]}},
                    "burn_rates": {"type": "object", "additionalProperties": {"type": "number"}},
                    "error_budget_remaining": {"type": "number"},
                    "events": {
                        "type": "object",
                        "required": ["good", "bad"],
                        "properties": {"good": COUNT, "bad": COUNT},
                    },
                    "alerts": {"type": "array", "items": {"type": "object"}},
                },
            },
        },
        "latency": {"type": "object", "required": ["1m", "5m"], "properties": {"1m": _LATENCY, "5m": _LATENCY}},
    },
}

METRICS_ANSWERS = {
    200: {
        "description": "Prometheus text exposition; OpenMetrics when the Accept header asks for it",
        "content": {"application/openmetrics-text": {"schema": {"type": "string"}}},
    }
}
READYZ_ANSWERS = {
    200: {
        "description": "ready",
        "content": _json({"type": "object", "required": ["status"], "properties": {"status": {"const": "ready"}}}),
    },
    503: {
        "description": "starting (state not loaded yet), or saturated (the queue is full)",
        "content": _json(
            {
                "type": "object",
                "required": ["status"],
                "properties": {"status": {"enum": ["starting", "saturated"]}, "queue_rows": COUNT, "capacity": COUNT},
            }
        ),
    },
}

# -- alerts and silences -------------------------------------------------------------------------------------------

_STRINGS: Schema = {"type": "object", "additionalProperties": {"type": "string"}}
ALERTS: Schema = {
    "title": "Alerts",
    "type": "object",
    "required": ["alerts"],
    "properties": {
        "alerts": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["fingerprint", "status", "labels", "annotations", "startsAt", "endsAt", "silencedBy"],
                "properties": {
                    "fingerprint": {"type": "string"},
                    "status": {"enum": ["pending", "firing", "resolved"]},
                    "labels": _STRINGS,
                    "annotations": _STRINGS,
                    "value": NUMBER_OR_NULL,
                    "threshold": NUMBER_OR_NULL,
                    "startsAt": NUMBER_OR_NULL,
                    "endsAt": NUMBER_OR_NULL,
                    "silencedBy": {"type": "array", "items": {"type": "string"}},
                },
            },
        }
    },
}
SILENCE: Schema = {
    "title": "Silence",
    "type": "object",
    "required": ["id", "matchers", "starts_at", "ends_at", "comment", "created_by"],
    "properties": {
        "id": {"type": "string"},
        "matchers": _STRINGS,
        "starts_at": {"type": "number"},
        "ends_at": {"type": "number"},
        "comment": {"type": "string"},
        "created_by": {"type": "string"},
    },
}
SILENCES: Schema = {
    "title": "Silences",
    "type": "object",
    "required": ["silences"],
    "properties": {"silences": {"type": "array", "items": SILENCE}},
}
SILENCE_REQUEST: Schema = {
    "title": "SilenceRequest",
    "description": "exactly one of duration or ends_at",
    "type": "object",
    "required": ["matchers"],
    "oneOf": [{"required": ["duration"]}, {"required": ["ends_at"]}],
    "additionalProperties": False,
    "properties": {
        "matchers": {**_STRINGS, "minProperties": 1, "description": "label: value, all must equal"},
        "duration": {"type": "string", "pattern": r"^\s*\d+(\.\d+)?\s*(ms|s|m|h|d)\s*$", "examples": ["2h"]},
        "ends_at": {"type": "number", "description": "unix seconds, in the future"},
        "comment": {"type": "string"},
        "created_by": {"type": "string"},
    },
}
SILENCE_BODY: Schema = {"required": True, "content": _json(SILENCE_REQUEST)}
SILENCE_ANSWERS = {200: {"description": "the silence", "content": _json(SILENCE)}, **problems(400, 401, 413)}
DELETE_SILENCE_ANSWERS = {
    200: {
        "description": "expired",
        "content": _json({"type": "object", "required": ["expired"], "properties": {"expired": {"type": "string"}}}),
    },
    **problems(401, 404),
}
