"""Fuzzing every HTTP endpoint with schemathesis, against a real daemon over HTTP.

The daemon runs on a free loopback port (`tests.conftest.running`), with a model that has a
reference and current rows, so that drift reports, the UI's model page and evaluation run on
fuzzed input. Each operation gets `FUZZ_EXAMPLES` generated requests (schema-valid and, where
the operation takes a body, schema-violating ones), and every answer must pass:

- no 5xx (`not_a_server_error`),
- a documented status code, Content-Type and headers,
- a body that conforms to the response schema of that status.

The document fuzzed is the daemon's own `/openapi.json` with the contract of docs/design.md
filled in where the served document lacks it (`CONTRACT` below, applied with `setdefault`:
whatever the app declares itself wins). The served document declares no request bodies (the
routes read `Request` directly), no error statuses, `application/json` for /metrics, and leaves
out the UI; without these additions the fuzzer sends only empty bodies and every 4xx fails as
undocumented. `test_the_served_document_lists_every_operation` keeps the list of operations in
step with the app.

CI runs 25 examples per operation (the whole file takes about 30 s on 2 cores). A long run:

    DRIFTWARDEN_FUZZ_EXAMPLES=2000 .venv/bin/pytest tests/test_fuzz_api.py --timeout 0 -q

A failure prints the request as a curl command (against the port of that run) and the answer.
"""

from __future__ import annotations

import base64
import copy
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
import requests
import schemathesis
from google.protobuf import json_format
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.conftest import Daemon, running

pytestmark = pytest.mark.server

FUZZ_EXAMPLES = int(os.environ.get("DRIFTWARDEN_FUZZ_EXAMPLES", "25"))
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
# Left out on purpose: `positive_data_acceptance` (a schema-valid batch is still refused when every record is
# for a 101st model, or a reference has no numeric column) and `negative_data_rejection` (bad records are
# reported one by one and the rest accepted: a batch with one schema-violating record answers 200).

MODEL = "fraud"
FEATURES = [f"x{j}" for j in range(6)]

# -- the contract of docs/design.md as OpenAPI -----------------------------------------------------------------------

MODEL_NAME = {"type": "string", "pattern": "^[A-Za-z0-9][A-Za-z0-9_.:-]{0,62}$"}
SOME_MODEL = {"anyOf": [{"enum": [MODEL, "other"]}, MODEL_NAME]}
SCALAR = {"type": ["number", "string", "boolean", "null"]}
FEATURE_NAME = {"anyOf": [{"enum": FEATURES}, {"type": "string", "maxLength": 20}]}


def _json(schema: dict[str, Any]) -> dict[str, Any]:
    return {"application/json": {"schema": schema}}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _problem(description: str) -> dict[str, Any]:
    return {"description": description, "content": _json(_ref("Problem"))}


def _path_param(name: str, likely: list[str]) -> dict[str, Any]:
    """Any string, and often one of `likely` (a model that exists): the fuzzing phase ignores `examples`."""
    return {"name": name, "in": "path", "required": True, "schema": {"anyOf": [{"enum": likely}, {"type": "string"}]}}


NUMBER_OR_NULL = {"type": ["number", "null"]}
SCHEMAS: dict[str, Any] = {
    "Problem": {
        "type": "object",
        "required": ["error", "reason"],
        "properties": {"error": {"type": "string"}, "reason": {"type": "string"}},
    },
    "RecordError": {
        "type": "object",
        "required": ["index", "reason", "message"],
        "properties": {
            "index": {"type": "integer", "minimum": -1},
            "reason": {"type": "string"},
            "message": {"type": "string"},
        },
    },
    "IngestResult": {
        "type": "object",
        "required": ["accepted", "rejected", "errors"],
        "properties": {
            "accepted": {"type": "integer", "minimum": 0},
            "rejected": {"type": "integer", "minimum": 0},
            "errors": {"type": "array", "maxItems": 100, "items": _ref("RecordError")},
            "errors_truncated": {"const": True},
        },
    },
    "KServeResult": {
        "allOf": [_ref("IngestResult")],
        "required": ["pending"],
        "properties": {"pending": {"type": "integer", "minimum": 0}},
    },
    "PredictionRecord": {
        "type": "object",
        "required": ["model", "features"],
        "properties": {
            "model": SOME_MODEL,
            "model_version": {"type": "string", "maxLength": 64},
            "timestamp": {"type": ["string", "number"]},
            "request_id": {"type": "string"},
            "trace_id": {"type": "string"},
            "features": {
                "type": "object",
                "maxProperties": 12,
                "propertyNames": FEATURE_NAME,
                "additionalProperties": SCALAR,
            },
            "prediction": SCALAR,
            "label": SCALAR,
        },
    },
    "Records": {"type": "array", "maxItems": 12, "items": _ref("PredictionRecord")},
    # OTLP/JSON ExportTraceServiceRequest (ids in hex, 64-bit integers as strings, enums as numbers)
    "AnyValue": {
        "oneOf": [
            {
                "type": "object",
                "required": ["stringValue"],
                "properties": {"stringValue": {"type": "string"}},
                "additionalProperties": False,
            },
            {
                "type": "object",
                "required": ["intValue"],
                "properties": {"intValue": {"type": "string", "pattern": "^-?[0-9]{1,18}$"}},
                "additionalProperties": False,
            },
            {
                "type": "object",
                "required": ["doubleValue"],
                "properties": {"doubleValue": {"type": "number"}},
                "additionalProperties": False,
            },
            {
                "type": "object",
                "required": ["boolValue"],
                "properties": {"boolValue": {"type": "boolean"}},
                "additionalProperties": False,
            },
        ]
    },
    "KeyValue": {
        "type": "object",
        "required": ["key", "value"],
        "properties": {
            "key": {
                "anyOf": [
                    {
                        "enum": [
                            "service.name",
                            "model.name",
                            "gen_ai.request.model",
                            "http.route",
                            "http.response.status_code",
                            "http.status_code",
                            "gen_ai.usage.input_tokens",
                            "gen_ai.usage.output_tokens",
                            "gen_ai.server.time_to_first_token",
                        ]
                    },
                    {"type": "string"},
                ]
            },
            "value": _ref("AnyValue"),
        },
    },
    "Attributes": {"type": "array", "maxItems": 6, "items": _ref("KeyValue")},
    "Span": {
        "type": "object",
        "required": ["traceId", "spanId", "name", "startTimeUnixNano", "endTimeUnixNano"],
        "properties": {
            "traceId": {"type": "string", "pattern": "^[0-9a-f]{32}$"},
            "spanId": {"type": "string", "pattern": "^[0-9a-f]{16}$"},
            "parentSpanId": {"type": "string", "pattern": "^([0-9a-f]{16})?$"},
            "name": {"type": "string"},
            "kind": {"type": "integer", "minimum": 0, "maximum": 5},
            "startTimeUnixNano": {"type": "string", "pattern": "^[0-9]{1,19}$"},
            "endTimeUnixNano": {"type": "string", "pattern": "^[0-9]{1,19}$"},
            "attributes": _ref("Attributes"),
            "events": {
                "type": "array",
                "maxItems": 2,
                "items": {
                    "type": "object",
                    "properties": {
                        "name": {"anyOf": [{"const": "gen_ai.content.first_token"}, {"type": "string"}]},
                        "timeUnixNano": {"type": "string", "pattern": "^[0-9]{1,19}$"},
                    },
                },
            },
            "status": {
                "type": "object",
                "properties": {"code": {"type": "integer", "minimum": 0, "maximum": 2}, "message": {"type": "string"}},
            },
        },
    },
    "ExportTraceServiceRequest": {
        "type": "object",
        "properties": {
            "resourceSpans": {
                "type": "array",
                "maxItems": 3,
                "items": {
                    "type": "object",
                    "properties": {
                        "resource": {"type": "object", "properties": {"attributes": _ref("Attributes")}},
                        "scopeSpans": {
                            "type": "array",
                            "maxItems": 2,
                            "items": {
                                "type": "object",
                                "properties": {"spans": {"type": "array", "maxItems": 5, "items": _ref("Span")}},
                            },
                        },
                    },
                },
            }
        },
    },
    "ExportTraceServiceResponse": {
        "type": "object",
        "properties": {
            "partialSuccess": {
                "type": "object",
                "properties": {
                    "rejectedSpans": {"type": ["string", "integer"]},
                    "errorMessage": {"type": "string"},
                },
            }
        },
    },
    "RpcStatus": {
        "type": "object",
        "properties": {"code": {"type": "integer"}, "message": {"type": "string"}, "details": {"type": "array"}},
    },
    # KServe V1 / Open Inference Protocol V2 / Seldon bodies
    "InferenceBody": {
        "anyOf": [
            {
                "type": "object",
                "required": ["instances"],
                "properties": {
                    "instances": {
                        "type": "array",
                        "maxItems": 5,
                        "items": {
                            "anyOf": [
                                {"type": "array", "maxItems": 6, "items": SCALAR},
                                {"type": "object", "maxProperties": 6, "additionalProperties": SCALAR},
                                SCALAR,
                            ]
                        },
                    }
                },
            },
            {
                "type": "object",
                "required": ["predictions"],
                "properties": {"predictions": {"type": "array", "maxItems": 5, "items": SCALAR}},
            },
            {
                "type": "object",
                "properties": {
                    "inputs": {"type": "array", "minItems": 1, "maxItems": 3, "items": _ref("V2Tensor")},
                    "outputs": {"type": "array", "minItems": 1, "maxItems": 3, "items": _ref("V2Tensor")},
                    "model_name": {"type": "string"},
                    "model_version": {"type": "string"},
                },
            },
            {
                "type": "object",
                "required": ["data"],
                "properties": {
                    "data": {
                        "type": "object",
                        "properties": {
                            "names": {"type": "array", "maxItems": 6, "items": {"type": "string"}},
                            "ndarray": {
                                "type": "array",
                                "maxItems": 5,
                                "items": {"type": "array", "maxItems": 6, "items": SCALAR},
                            },
                            "tensor": {
                                "type": "object",
                                "properties": {
                                    "shape": {
                                        "type": "array",
                                        "maxItems": 3,
                                        "items": {"type": "integer", "minimum": 0, "maximum": 6},
                                    },
                                    "values": {"type": "array", "maxItems": 20, "items": {"type": "number"}},
                                },
                            },
                        },
                    }
                },
            },
        ]
    },
    "V2Tensor": {
        "type": "object",
        "required": ["name", "shape", "datatype", "data"],
        "properties": {
            "name": {"type": "string", "maxLength": 12},
            "shape": {"type": "array", "maxItems": 3, "items": {"type": "integer", "minimum": 0, "maximum": 5}},
            "datatype": {"enum": ["FP32", "FP64", "INT64", "BYTES", "BOOL"]},
            "data": {
                "type": "array",
                "maxItems": 20,
                "items": {"anyOf": [SCALAR, {"type": "array", "maxItems": 5, "items": SCALAR}]},
            },
        },
    },
    "StructuredEvent": {
        "type": "object",
        "required": ["specversion", "id", "source", "type"],
        "properties": {
            "specversion": {"const": "1.0"},
            "id": {"type": "string"},
            "source": {"type": "string"},
            "type": {
                "enum": [
                    "org.kubeflow.serving.inference.request",
                    "org.kubeflow.serving.inference.response",
                    "io.seldon.serving.inference.request",
                    "io.seldon.serving.inference.response",
                ]
            },
            "inferenceservicename": MODEL_NAME,
            "data": _ref("InferenceBody"),
            "data_base64": {"type": "string"},
        },
    },
    "ModelSummary": {
        "type": "object",
        "required": ["model", "has_reference", "rows", "drifted", "drift_share", "evaluated_at"],
        "properties": {
            "model": {"type": "string"},
            "has_reference": {"type": "boolean"},
            "rows": _ref("Rows"),
            "drifted": {"type": ["boolean", "null"]},
            "drift_share": NUMBER_OR_NULL,
            "evaluated_at": NUMBER_OR_NULL,
        },
    },
    "Rows": {
        "type": "object",
        "required": ["reference", "current"],
        "properties": {"reference": {"type": "integer", "minimum": 0}, "current": {"type": "integer", "minimum": 0}},
    },
    "DriftReport": {
        "type": "object",
        "required": ["model", "drifted", "drift_share", "rows", "features"],
        "properties": {
            "model": {"type": "string"},
            "model_version": {"type": ["string", "null"]},
            "drifted": {"type": "boolean"},
            "drift_share": {"type": "number", "minimum": 0, "maximum": 1},
            "rows": _ref("Rows"),
            "features": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["name", "kind", "drifted", "missing_rate", "scores", "pvalues"],
                    "properties": {
                        "name": {"type": "string"},
                        "kind": {"enum": ["numeric", "categorical"]},
                        "drifted": {"type": "boolean"},
                        "missing_rate": {"type": "object", "additionalProperties": NUMBER_OR_NULL},
                        "scores": {"type": "object", "additionalProperties": NUMBER_OR_NULL},
                        "pvalues": {"type": "object", "additionalProperties": NUMBER_OR_NULL},
                        "pvalues_adjusted": {"type": "object", "additionalProperties": NUMBER_OR_NULL},
                    },
                },
            },
        },
    },
    "Silence": {
        "type": "object",
        "required": ["id", "matchers", "ends_at"],
        "properties": {
            "id": {"type": "string"},
            "matchers": {"type": "object", "additionalProperties": {"type": "string"}},
            "ends_at": {"type": "number"},
        },
    },
    "SilenceRequest": {
        "type": "object",
        "required": ["matchers"],
        "additionalProperties": False,
        "properties": {
            "matchers": {
                "type": "object",
                "minProperties": 1,
                "maxProperties": 3,
                "propertyNames": {"anyOf": [{"enum": ["model", "kind", "alertname", "severity"]}, {"type": "string"}]},
                "additionalProperties": {"type": "string"},
            },
            "duration": {"anyOf": [{"type": "string", "pattern": "^[0-9]{1,4}(ms|s|m|h|d)$"}, {"type": "string"}]},
            "ends_at": {"type": "number"},
            "comment": {"type": "string"},
            "created_by": {"type": "string"},
        },
    },
}

PROBLEMS = {
    "400": "unusable body or name",
    "401": "missing or wrong bearer token",
    "404": "unknown model or silence",
    "409": "too many models",
    "413": "body too large",
    "415": "unsupported media type",
    "429": "queue full",
}
RETRY_AFTER = {"Retry-After": {"required": True, "schema": {"type": "string"}}}


def _problems(*codes: str) -> dict[str, Any]:
    out = {code: _problem(PROBLEMS[code]) for code in codes}
    if "429" in out:
        out["429"]["headers"] = RETRY_AFTER
    return out


def _otlp_answer(description: str, schema: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {
            "application/json": {"schema": _ref(schema)},
            "application/x-protobuf": {"schema": {"type": "string", "format": "binary"}},
        },
    }


CE_HEADERS = [
    {
        "name": "ce-id",
        "in": "header",
        "required": True,
        "schema": {"anyOf": [{"enum": ["r-1", "r-2"]}, {"type": "string", "minLength": 1}]},
    },
    {"name": "ce-type", "in": "header", "required": True, "schema": SCHEMAS["StructuredEvent"]["properties"]["type"]},
    {"name": "ce-source", "in": "header", "required": True, "schema": {"type": "string", "minLength": 1}},
    {"name": "ce-specversion", "in": "header", "required": True, "schema": {"const": "1.0"}},
    {"name": "ce-inferenceservicename", "in": "header", "required": False, "schema": SOME_MODEL},
    {"name": "ce-requestid", "in": "header", "required": False, "schema": {"enum": ["r-1", "r-2"]}},
]
KSERVE_BODY = {
    "required": True,
    "content": {
        "application/json": {"schema": _ref("InferenceBody")},
        "application/cloudevents+json": {"schema": _ref("StructuredEvent")},
        "application/cloudevents-batch+json": {
            "schema": {"type": "array", "maxItems": 4, "items": _ref("StructuredEvent")}
        },
    },
}
KSERVE_ANSWERS = {
    "200": {"description": "records of the pairs completed", "content": _json(_ref("KServeResult"))},
    **_problems("401", "413", "415", "429"),
    "400": {
        "description": "every record rejected, or an unusable event",
        "content": _json({"anyOf": [_ref("KServeResult"), _ref("Problem")]}),
    },
}
HTML = {"text/html": {"schema": {"type": "string"}}}

CONTRACT: dict[str, dict[str, dict[str, Any]]] = {
    "/v1/predictions": {
        "post": {
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {"schema": {"anyOf": [_ref("Records"), _ref("PredictionRecord")]}},
                    "application/x-ndjson": {"schema": _ref("Records")},
                },
            },
            "responses": {
                "200": {"description": "counts and per-record errors", "content": _json(_ref("IngestResult"))},
                "400": {
                    "description": "every record rejected, or an unusable body",
                    "content": _json({"anyOf": [_ref("IngestResult"), _ref("Problem")]}),
                },
                **_problems("401", "413", "415", "429"),
            },
        }
    },
    "/v1/traces": {
        "post": {
            "parameters": [
                {
                    "name": "Content-Encoding",
                    "in": "header",
                    "required": False,
                    "schema": {"enum": ["gzip", "identity"]},
                }
            ],
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {"schema": _ref("ExportTraceServiceRequest")},
                    "application/x-protobuf": {"schema": _ref("ExportTraceServiceRequest")},
                },
            },
            "responses": {
                "200": _otlp_answer("ExportTraceServiceResponse", "ExportTraceServiceResponse"),
                **{code: _otlp_answer("google.rpc.Status", "RpcStatus") for code in ("400", "413", "415", "429")},
                **_problems("401"),
            },
        }
    },
    "/v1/models/{model}/reference": {
        "put": {
            "parameters": [_path_param("model", [MODEL, "other"])],
            "requestBody": {
                "required": True,
                "content": {
                    "text/csv": {"schema": {"type": "string"}},
                    "application/x-ndjson": {
                        "schema": {
                            "type": "array",
                            "maxItems": 30,
                            "items": {
                                "anyOf": [
                                    _ref("PredictionRecord"),
                                    {
                                        "type": "object",
                                        "maxProperties": 6,
                                        "propertyNames": FEATURE_NAME,
                                        "additionalProperties": SCALAR,
                                    },
                                ]
                            },
                        }
                    },
                    "application/vnd.apache.parquet": {"schema": {"type": "string", "format": "binary"}},
                },
            },
            "responses": {
                "200": {
                    "description": "the fitted profile",
                    "content": _json(
                        {"type": "object", "required": ["model"], "properties": {"model": {"type": "string"}}}
                    ),
                },
                **_problems("400", "401", "409", "413", "415"),
            },
        }
    },
    "/v1/kserve": {"post": {"parameters": CE_HEADERS, "requestBody": KSERVE_BODY, "responses": KSERVE_ANSWERS}},
    "/v1/kserve/{model}": {
        "post": {
            "parameters": [_path_param("model", [MODEL, "bad model"]), *CE_HEADERS],
            "requestBody": KSERVE_BODY,
            "responses": KSERVE_ANSWERS,
        }
    },
    "/v1/models": {
        "get": {
            "responses": {
                "200": {
                    "description": "models",
                    "content": _json(
                        {
                            "type": "object",
                            "required": ["models"],
                            "properties": {"models": {"type": "array", "items": _ref("ModelSummary")}},
                        }
                    ),
                }
            }
        }
    },
    "/v1/models/{model}/drift": {
        "get": {
            "parameters": [_path_param("model", [MODEL, "other"])],
            "responses": {
                "200": {"description": "the latest report", "content": _json(_ref("DriftReport"))},
                **_problems("404"),
            },
        }
    },
    "/v1/slos": {
        "get": {
            "responses": {
                "200": {
                    "description": "SLOs and latency",
                    "content": _json(
                        {
                            "type": "object",
                            "required": ["slos", "latency"],
                            "properties": {
                                "slos": {"type": "array"},
                                "latency": {"type": "object", "required": ["1m", "5m"]},
                            },
                        }
                    ),
                }
            }
        }
    },
    "/metrics": {
        "get": {
            "parameters": [
                {
                    "name": "Accept",
                    "in": "header",
                    "required": False,
                    "schema": {"enum": ["text/plain", "application/openmetrics-text; version=1.0.0", "*/*"]},
                }
            ],
            "responses": {
                "200": {
                    "description": "Prometheus exposition",
                    "content": {
                        "text/plain": {"schema": {"type": "string"}},
                        "application/openmetrics-text": {"schema": {"type": "string"}},
                    },
                }
            },
        }
    },
    "/healthz": {"get": {"responses": {}}},
    "/readyz": {
        "get": {
            "responses": {
                "200": {"description": "ready", "content": _json({"type": "object", "required": ["status"]})},
                "503": {
                    "description": "starting or saturated",
                    "content": _json({"type": "object", "required": ["status"]}),
                },
            }
        }
    },
    "/v1/alerts": {
        "get": {
            "responses": {
                "200": {
                    "description": "alerts",
                    "content": _json(
                        {"type": "object", "required": ["alerts"], "properties": {"alerts": {"type": "array"}}}
                    ),
                }
            }
        }
    },
    "/v1/silences": {
        "get": {
            "responses": {
                "200": {
                    "description": "silences",
                    "content": _json(
                        {
                            "type": "object",
                            "required": ["silences"],
                            "properties": {"silences": {"type": "array", "items": _ref("Silence")}},
                        }
                    ),
                }
            }
        },
        "post": {
            "requestBody": {"required": True, "content": _json(_ref("SilenceRequest"))},
            "responses": {
                "200": {"description": "the silence", "content": _json(_ref("Silence"))},
                **_problems("400", "401", "413"),
            },
        },
    },
    "/v1/silences/{silence_id}": {
        "delete": {
            "parameters": [_path_param("silence_id", ["0"])],
            "responses": {
                "200": {
                    "description": "expired",
                    "content": _json(
                        {"type": "object", "required": ["expired"], "properties": {"expired": {"type": "string"}}}
                    ),
                },
                **_problems("401", "404"),
            },
        }
    },
    # the UI is left out of the served document (include_in_schema=False)
    "/": {"get": {"responses": {"200": {"description": "overview", "content": HTML}}}},
    "/ui/models/{model}": {
        "get": {
            "parameters": [_path_param("model", [MODEL, "other"])],
            "responses": {
                "200": {"description": "a model's page", "content": HTML},
                "404": {"description": "no such model", "content": HTML},
            },
        }
    },
}
OPERATIONS = [(method.upper(), path) for path, item in CONTRACT.items() for method in item]
UI_PATHS = {"/", "/ui/models/{model}"}


def with_contract(served: dict[str, Any]) -> dict[str, Any]:
    """The served document plus what CONTRACT says and it does not (the app's own declarations win)."""
    doc = copy.deepcopy(served)
    doc.setdefault("components", {}).setdefault("schemas", {}).update(
        {k: v for k, v in SCHEMAS.items() if k not in doc["components"]["schemas"]}
    )
    for path, item in CONTRACT.items():
        for method, contract in item.items():
            operation = doc["paths"].setdefault(path, {}).setdefault(method, {})
            declared = {(p["name"].lower(), p["in"]) for p in operation.get("parameters", [])}
            params = operation.setdefault("parameters", [])
            for param in contract.get("parameters", []):
                if (param["name"].lower(), param["in"]) in declared:
                    params[:] = [
                        p for p in params if (p["name"].lower(), p["in"]) != (param["name"].lower(), param["in"])
                    ]
                params.append(copy.deepcopy(param))  # ours carry examples; the served ones none
            if "requestBody" in contract:
                operation.setdefault("requestBody", copy.deepcopy(contract["requestBody"]))
            responses = operation.setdefault("responses", {})
            for code, answer in contract["responses"].items():
                served_answer = responses.get(code)
                if (
                    served_answer is None
                    or served_answer.get("content", {}).get("application/json", {}).get("schema") == {}
                ):  # FastAPI's default 200: "any JSON"
                    responses[code] = copy.deepcopy(answer)
    return doc


# -- bodies schemathesis has no serializer for ---------------------------------------------------------------------


def _dumps(value: Any) -> bytes:
    """JSON as Python writes it: integers beyond 64 bits (orjson refuses them) are something to send."""
    return value if isinstance(value, bytes) else json.dumps(value, default=repr).encode()


def _ndjson(ctx: object, value: Any) -> bytes:
    if isinstance(value, list):
        return b"\n".join(_dumps(v) for v in value)
    return _dumps(value)


def _hex_to_base64(node: Any) -> Any:
    if isinstance(node, dict):
        return {
            k: base64.b64encode(bytes.fromhex(v)).decode()
            if k.endswith("Id") and isinstance(v, str)
            else _hex_to_base64(v)
            for k, v in node.items()
        }
    if isinstance(node, list):
        return [_hex_to_base64(v) for v in node]
    return node


def _protobuf(ctx: object, value: Any) -> bytes:
    """OTLP JSON-shaped data → the ExportTraceServiceRequest it describes; what does not fit goes as JSON bytes."""
    if isinstance(value, bytes):
        return value
    try:
        request = json_format.ParseDict(_hex_to_base64(value), ExportTraceServiceRequest())
    except (json_format.ParseError, ValueError, TypeError, AttributeError):
        return _dumps(value)
    return request.SerializeToString()


def _binary(ctx: object, value: Any) -> bytes:
    return _dumps(value)


schemathesis.serializer("application/x-ndjson")(_ndjson)
schemathesis.serializer("application/x-protobuf")(_protobuf)
schemathesis.serializer("application/vnd.apache.parquet")(_binary)


# -- the daemon ----------------------------------------------------------------------------------------------------


def _seed(daemon: Daemon) -> None:
    """A model with a reference and current rows: drift reports and the model page have something to show."""
    import numpy as np

    rng = np.random.default_rng(8)
    ref = rng.normal(size=(500, len(FEATURES)))
    csv = ",".join(FEATURES) + "\n" + "\n".join(",".join(f"{v:.4f}" for v in row) for row in ref)
    put = daemon.client.put(f"/v1/models/{MODEL}/reference", content=csv, headers={"content-type": "text/csv"})
    assert put.status_code == 200, put.text
    records = [
        {"model": MODEL, "features": dict(zip(FEATURES, map(float, row), strict=True)), "prediction": 0.5}
        for row in rng.normal(0.3, 1.0, size=(300, len(FEATURES)))
    ]
    post = daemon.client.post(
        "/v1/predictions", content=orjson.dumps(records), headers={"content-type": "application/json"}
    )
    assert post.json()["accepted"] == 300, post.text
    daemon.evaluate()


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Daemon]:
    with running(tmp_path_factory.mktemp("fuzz") / "state.db", evaluate_every="2s") as d:
        _seed(d)
        yield d


@pytest.fixture(scope="module")
def served(daemon: Daemon) -> dict[str, Any]:
    answer = httpx.get(f"{daemon.url}/openapi.json")
    assert answer.status_code == 200
    return answer.json()


@pytest.fixture(scope="module")
def schema(daemon: Daemon, served: dict[str, Any]) -> schemathesis.BaseSchema:
    config = schemathesis.Config.from_dict({"base-url": daemon.url})
    return schemathesis.openapi.from_dict(with_contract(served), config=config)


@pytest.fixture(scope="module")
def session() -> Iterator[requests.Session]:
    with requests.Session() as s:
        yield s


def test_the_served_document_lists_every_operation(served: dict[str, Any]) -> None:
    """A new endpoint must be added to CONTRACT (and so fuzzed); a removed one is a contract change."""
    served_ops = {(m.upper(), p) for p, item in served["paths"].items() for m in item}
    assert served_ops == {op for op in OPERATIONS if op[1] not in UI_PATHS}


@pytest.mark.parametrize(("method", "path"), OPERATIONS, ids=[f"{m} {p}" for m, p in OPERATIONS])
def test_fuzz(
    method: str, path: str, schema: schemathesis.BaseSchema, daemon: Daemon, session: requests.Session
) -> None:
    operation = schema[path][method]
    cases = operation.as_strategy(generation_mode=GenerationMode.POSITIVE)
    if operation.body:  # something to violate: a body (path and header strings take any value)
        cases = st.one_of(cases, operation.as_strategy(generation_mode=GenerationMode.NEGATIVE))

    @settings(
        max_examples=FUZZ_EXAMPLES,
        deadline=None,
        database=None,
        derandomize=not os.environ.get("DRIFTWARDEN_FUZZ_EXAMPLES"),
        suppress_health_check=list(HealthCheck),
        print_blob=True,
    )
    @given(case=cases)
    def fuzz(case: schemathesis.Case) -> None:
        case.call_and_validate(base_url=daemon.url, session=session, checks=CHECKS, timeout=30)

    fuzz()


def test_the_daemon_still_evaluates_and_answers_after_the_fuzz(daemon: Daemon) -> None:
    daemon.evaluate()  # raises if an evaluation of the fuzzed windows fails
    assert daemon.client.get("/readyz").status_code == 200
    report = daemon.client.get(f"/v1/models/{MODEL}/drift")
    assert report.status_code == 200 and report.json()["rows"]["current"] >= 300


DEEP = "[" * 1000 + "1" + "]" * 1000  # orjson reads up to 1024 levels; Python's stack holds ~1000 frames
DEEP_BODIES = [
    ("/v1/predictions", "application/json", '[{"model": "m", "features": {"a": DEEP}, "label": DEEP}]'),
    ("/v1/traces", "application/json", '{"resourceSpans": [DEEP]}'),
    (
        "/v1/kserve/fraud",
        "application/cloudevents+json",
        '{"specversion": "1.0", "id": "d", "source": "s", "type": "org.kubeflow.serving.inference.request", '
        '"data": {"inputs": [{"name": DEEP, "shape": DEEP, "datatype": "FP32", "data": DEEP}]}}',
    ),
    # 600 levels: past the repr of polars' List(List(...)) dtype; polars reads 1000 levels in ~20 s (cubic)
    ("/v1/models/deep/reference", "application/x-ndjson", '{"a": ' + "[" * 600 + "1" + "]" * 600 + "}"),
    ("/v1/silences", "application/json", '{"matchers": DEEP}'),
]
DEEP_MODEL = pytest.param(
    "/v1/predictions",
    "application/json",
    '[{"model": DEEP, "features": {}}]',
    id="/v1/predictions-model",
)


@pytest.mark.parametrize(("path", "ctype", "template"), [*DEEP_BODIES, DEEP_MODEL])
def test_json_nested_a_thousand_levels_deep_is_not_a_server_error(
    daemon: Daemon, path: str, ctype: str, template: str
) -> None:
    method = "PUT" if path.endswith("/reference") else "POST"
    answer = daemon.client.request(
        method, path, content=template.replace("DEEP", DEEP), headers={"content-type": ctype}
    )
    assert answer.status_code < 500, answer.text


def test_the_error_list_stays_capped_when_models_are_refused(tmp_path: Path) -> None:
    """design.md: at most 100 errors are listed, the counts are always exact (found by the fuzzer)."""
    records = [{"model": f"m{i}", "features": {"a": 1.0}} for i in range(150)]
    with running(tmp_path / "state.db", evaluate_every="1h", limits={"max_models": 1}) as d:
        answer = d.client.post(
            "/v1/predictions", content=orjson.dumps(records), headers={"content-type": "application/json"}
        )
    body = answer.json()
    assert (body["accepted"], body["rejected"]) == (1, 149)
    assert body.get("errors_truncated") is True
    assert len(body["errors"]) <= 100
