"""The contract of `POST /v1/metrics` (`driftwarden.api.otlp_metrics`): OTLP/HTTP metric exports."""

from __future__ import annotations

from typing import Any

from driftwarden.api.schemas.common import BINARY, RETRY_AFTER, WWW_AUTHENTICATE, Answers, Schema
from driftwarden.api.schemas.otlp import ATTRIBUTES, RPC_STATUS, export_request, export_response

__all__ = ["METRICS_ANSWERS", "METRICS_BODY"]

_UINT64 = {"anyOf": [{"type": "string", "pattern": "^[0-9]{1,20}$"}, {"type": "integer", "minimum": 0}]}
_POINT_COMMON: dict[str, Schema] = {
    "attributes": ATTRIBUTES,
    "startTimeUnixNano": _UINT64,
    "timeUnixNano": _UINT64,
    "count": _UINT64,
    "sum": {"type": "number"},
    "min": {"type": "number"},
    "max": {"type": "number"},
    "flags": {"type": "integer", "minimum": 0},
}
_TEMPORALITY = {"type": "integer", "enum": [1, 2], "description": "1 DELTA, 2 CUMULATIVE"}
_HISTOGRAM: Schema = {
    "type": "object",
    "properties": {
        "aggregationTemporality": _TEMPORALITY,
        "dataPoints": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    **_POINT_COMMON,
                    "bucketCounts": {"type": "array", "items": _UINT64},
                    "explicitBounds": {"type": "array", "items": {"type": "number"}},
                },
            },
        },
    },
}
_BUCKETS: Schema = {
    "type": "object",
    "properties": {"offset": {"type": "integer"}, "bucketCounts": {"type": "array", "items": _UINT64}},
}
_EXPONENTIAL_HISTOGRAM: Schema = {
    "type": "object",
    "properties": {
        "aggregationTemporality": _TEMPORALITY,
        "dataPoints": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    **_POINT_COMMON,
                    "scale": {"type": "integer"},
                    "zeroCount": _UINT64,
                    "zeroThreshold": {"type": "number"},
                    "positive": _BUCKETS,
                    "negative": _BUCKETS,
                },
            },
        },
    },
}
METRIC: Schema = {
    "title": "Metric",
    "type": "object",
    "description": "the histograms of http.server.request.duration and the GenAI duration and token metrics "
    "are counted; other metrics and types (gauge, sum, summary) are acknowledged and ignored",
    "properties": {
        "name": {"type": "string"},
        "unit": {"type": "string"},
        "histogram": _HISTOGRAM,
        "exponentialHistogram": _EXPONENTIAL_HISTOGRAM,
        "gauge": {"type": "object"},
        "sum": {"type": "object"},
        "summary": {"type": "object"},
    },
}
EXPORT_METRICS_SERVICE_REQUEST = export_request("Metrics", "Metrics", "metrics", METRIC, hex_ids=False)
EXPORT_METRICS_SERVICE_RESPONSE = export_response("Metrics", "rejectedDataPoints", _UINT64)
METRICS_BODY: Schema = {
    "required": True,
    "description": "an OTLP ExportMetricsServiceRequest, protobuf or OTLP JSON, optionally gzip-compressed",
    "content": {
        "application/x-protobuf": {
            "schema": EXPORT_METRICS_SERVICE_REQUEST,
            "description": "the message in protobuf binary encoding (the schema shows its JSON mapping)",
        },
        "application/json": {"schema": EXPORT_METRICS_SERVICE_REQUEST},
    },
}


def _otlp(description: str, schema: Schema) -> dict[str, Any]:
    return {
        "description": f"{description}, in the request's encoding",
        "content": {"application/json": {"schema": schema}, "application/x-protobuf": {"schema": BINARY}},
    }


METRICS_ANSWERS: Answers = {
    200: _otlp(
        "ExportMetricsServiceResponse (partialSuccess when data points were rejected; ignored ones are not)",
        EXPORT_METRICS_SERVICE_RESPONSE,
    ),
    400: _otlp("google.rpc.Status: an unusable export", RPC_STATUS),
    401: {
        **_otlp("google.rpc.Status: missing or wrong bearer token (only when auth_token_file is set)", RPC_STATUS),
        "headers": WWW_AUTHENTICATE,
    },
    408: _otlp("google.rpc.Status: the body did not arrive within server.body_timeout", RPC_STATUS),
    413: _otlp(
        "google.rpc.Status: the body (as sent or decompressed) passes limits.max_body_bytes, "
        "or has more data points than the queue holds (limits.max_queue_rows)",
        RPC_STATUS,
    ),
    415: _otlp("google.rpc.Status: unsupported Content-Type or Content-Encoding", RPC_STATUS),
    429: {**_otlp("google.rpc.Status: queue full, retry after Retry-After", RPC_STATUS), "headers": RETRY_AFTER},
}
