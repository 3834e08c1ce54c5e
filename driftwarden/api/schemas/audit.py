"""The contract of the audit router (`driftwarden.api.audit`): GET /v1/audit."""

from __future__ import annotations

from typing import Any

from driftwarden.api.schemas.common import PROBLEM, WWW_AUTHENTICATE, Answers, Schema, json_content, ok, problems

__all__ = ["AUDIT_ANSWERS", "AUDIT_PAGE", "AUDIT_PARAMETERS"]

_DIGEST: Schema = {
    "type": ["string", "null"],
    "pattern": "^[0-9a-f]{64}$",
    "description": "sha256 of the canonical JSON of the subject's state; null: none",
}
_OR_NULL: Schema = {"type": ["string", "null"]}
AUDIT_ENTRY: Schema = {
    "title": "AuditEntry",
    "type": "object",
    "required": ["id", "at", "time", "action", "subject", "caller", "before", "after", "trace_id", "detail"],
    "properties": {
        "id": {"type": "integer", "minimum": 1},
        "at": {"type": "number", "description": "unix seconds"},
        "time": {"type": "string", "format": "date-time"},
        "action": {
            "type": "string",
            "examples": ["reference.upload", "reference.pin", "silence.add", "silence.expire", "retrain.delivered"],
        },
        "subject": {"type": "string", "description": "a model, a silence id; for config.load, 'config'"},
        "caller": {
            "type": "object",
            "required": ["name", "address", "tls_subject"],
            "properties": {
                "name": {
                    "type": "string",
                    "description": "the token's name (auth.tokens; 'default': auth_token_file), 'anonymous' "
                    "with no token configured, 'driftwarden' for the daemon's own actions, 'cli:<user>'",
                },
                "address": _OR_NULL,
                "tls_subject": _OR_NULL,
            },
        },
        "before": _DIGEST,
        "after": _DIGEST,
        "trace_id": {"type": "string", "pattern": "^[0-9a-f]{32}$"},
        "detail": {"type": "object"},
    },
}
AUDIT_PAGE: Schema = {
    "title": "AuditPage",
    "type": "object",
    "required": ["entries", "next_cursor"],
    "properties": {
        "entries": {"type": "array", "items": AUDIT_ENTRY, "description": "newest first"},
        "next_cursor": {
            "type": ["string", "null"],
            "description": "pass as cursor for the next (older) page; null: this is the last",
        },
    },
}


def _query(name: str, description: str, schema: Schema | None = None) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "description": description, "schema": schema or {}}


_TIME: Schema = {"type": "string", "examples": ["1767225600", "2026-01-01T00:00:00Z"]}
AUDIT_PARAMETERS = [
    _query("action", "this action only; a trailing * matches a prefix (retrain.*)", {"type": "string"}),
    _query("subject", "this subject only (a model, a silence id)", {"type": "string"}),
    _query("caller", "this caller's name only", {"type": "string"}),
    _query("since", "entries at or after: unix seconds or an RFC 3339 time", _TIME),
    _query("until", "entries before: unix seconds or an RFC 3339 time", _TIME),
    _query("cursor", "next_cursor of the previous page", {"type": "string", "pattern": "^[0-9]+$"}),
    _query("limit", "entries per page", {"type": "integer", "minimum": 1, "maximum": 1000, "default": 100}),
]
AUDIT_ANSWERS: Answers = {
    **ok("audit entries, newest first", AUDIT_PAGE),
    **problems(400),
    401: {
        "description": "missing or wrong bearer token: the audit trail needs one whenever a token is configured",
        "content": json_content(PROBLEM),
        "headers": WWW_AUTHENTICATE,
    },
    403: {
        "description": "no token is configured: the audit trail is read from loopback addresses only",
        "content": json_content(PROBLEM),
    },
}
