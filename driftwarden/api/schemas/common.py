"""What every router's contract shares: the problem body, answer builders, and the record shapes
that more than one way in answers with.

`Schema` is a JSON Schema (OpenAPI 3.1) as a plain dict, spliced into the served document as is;
`ok(...)` and `problems(...)` build a route's `responses=`:

    @router.get("/v1/alerts", responses=ok("pending and firing alerts", ALERTS))
    @router.post("/v1/silences", responses={**ok("the silence", SILENCE), **problems(400, 401, 413)})
"""

from __future__ import annotations

from typing import Any

from driftwarden.core import records

__all__ = [
    "BINARY",
    "CONTENT_ENCODING",
    "COUNT",
    "INGEST_RESULT",
    "MODEL_NAME",
    "NDJSON_NOTE",
    "NUMBER_OR_NULL",
    "PROBLEM",
    "READ_UNAUTHORIZED",
    "RECORD_ERROR",
    "RETRY_AFTER",
    "SCALAR",
    "WWW_AUTHENTICATE",
    "Answers",
    "Schema",
    "json_content",
    "ok",
    "problems",
]

Schema = dict[str, Any]  # JSON Schema
Answers = dict[int | str, dict[str, Any]]  # a route's `responses=`: status -> OpenAPI response object

# -- shared pieces -------------------------------------------------------------------------------------------------

NUMBER_OR_NULL: Schema = {"type": ["number", "null"]}
COUNT: Schema = {"type": "integer", "minimum": 0}
SCALAR: Schema = {"type": ["number", "string", "boolean", "null"]}
MODEL_NAME: Schema = {"type": "string", "pattern": records.MODEL_NAME.pattern}
BINARY: Schema = {"type": "string", "format": "binary"}

PROBLEM: Schema = {
    "title": "Problem",
    "description": "A refused request (plumbing.HTTPProblem); `reason` is the label counted in "
    "driftwarden_requests_rejected_total.",
    "type": "object",
    "required": ["error", "reason"],
    "properties": {"error": {"type": "string"}, "reason": {"type": "string"}},
}
CONTENT_ENCODING: Schema = {
    "name": "Content-Encoding",
    "in": "header",
    "required": False,
    "description": "gzip (inflated under limits.max_body_bytes) or identity; anything else answers 415",
    "schema": {"enum": ["gzip", "identity"]},
}
RETRY_AFTER = {"Retry-After": {"required": True, "description": "seconds", "schema": {"type": "string"}}}
WWW_AUTHENTICATE = {"WWW-Authenticate": {"required": True, "schema": {"type": "string"}}}
_PROBLEM_ANSWERS: dict[int, tuple[str, dict[str, Any]]] = {
    400: ("unusable body, model name or request", {}),
    401: ("missing or wrong bearer token (only when auth_token_file or auth.tokens is set)", WWW_AUTHENTICATE),
    404: ("no such model or silence", {}),
    408: ("the body did not arrive whole within server.body_timeout (body_timeout)", {}),
    409: ("conflict: too many models, an empty window, or the windows' memory budget (memory_budget)", {}),
    413: ("body larger than limits.max_body_bytes, too many records, or more than the whole queue holds", {}),
    415: ("unsupported Content-Type or Content-Encoding", {}),
    429: ("queue full (limits.max_queue_rows): retry after Retry-After", RETRY_AFTER),
    503: (
        "the state file refused the write, so nothing changed (storage; /readyz says why), "
        "or the model could not be evaluated (evaluation_failed)",
        {},
    ),
}
READ_UNAUTHORIZED: dict[str, Any] = {
    "description": "missing or wrong bearer token (only with auth.protect_reads; /metrics: with auth.protect_metrics)",
    "content": {"application/json": {"schema": PROBLEM}},
    "headers": WWW_AUTHENTICATE,
}


def json_content(schema: Schema) -> dict[str, Any]:
    """An answer's or a body's `content`: JSON of `schema`."""
    return {"application/json": {"schema": schema}}


def ok(description: str, schema: Schema) -> Answers:
    """`{200: answer}` with a JSON body of `schema`."""
    return {200: {"description": description, "content": json_content(schema)}}


def problems(*codes: int) -> Answers:
    """`{code: answer}` with the problem body `{"error", "reason"}` for each code."""
    out: Answers = {}
    for code in codes:
        description, headers = _PROBLEM_ANSWERS[code]
        out[code] = {"description": description, "content": json_content(PROBLEM)}
        if headers:
            out[code]["headers"] = headers
    return out


# -- records: answered by predictions, KServe events and labels ----------------------------------------------------

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
NDJSON_NOTE = "one JSON value a line (also application/ndjson, application/jsonl, application/x-jsonlines)"
