"""The contract of the KServe router (`driftwarden.api.kserve`): payload-logger CloudEvents, binary
(ce-* headers), structured or batched."""

from __future__ import annotations

from driftwarden.api.schemas.common import (
    COUNT,
    INGEST_RESULT,
    MODEL_NAME,
    PROBLEM,
    Answers,
    Schema,
    json_content,
    problems,
)

__all__ = ["CE_HEADERS", "KSERVE_ANSWERS", "KSERVE_BODY"]

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
KSERVE_ANSWERS: Answers = {
    200: {
        "description": "records of the pairs completed, and halves still waiting",
        "content": json_content(KSERVE_RESULT),
    },
    **problems(401, 408, 409, 413, 415, 429),
    400: {
        "description": "every record rejected (counts and errors), or an unusable event (a problem)",
        "content": json_content({"anyOf": [KSERVE_RESULT, PROBLEM]}),
    },
}
