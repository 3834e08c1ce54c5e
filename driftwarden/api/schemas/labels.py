"""The contract of the labels router (`driftwarden.api.labels`): delayed ground truth and its join counts."""

from __future__ import annotations

from driftwarden.api.schemas.common import (
    COUNT,
    MODEL_NAME,
    NDJSON_NOTE,
    PROBLEM,
    RECORD_ERROR,
    Answers,
    Schema,
    json_content,
    problems,
)

__all__ = ["LABELS_ANSWERS", "LABELS_BODY"]

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
LABELS_ANSWERS: Answers = {
    200: {"description": "join counts and per-label errors", "content": json_content(LABEL_RESULT)},
    **problems(401, 408, 413, 415),
    400: {
        "description": "every label rejected (counts and errors), or a body that is not JSON (a problem)",
        "content": json_content({"anyOf": [LABEL_RESULT, PROBLEM]}),
    },
}
