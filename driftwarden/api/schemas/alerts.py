"""The contract of the alerts router (`driftwarden.api.alerts`): alerts and silences."""

from __future__ import annotations

from driftwarden.api.schemas.common import NUMBER_OR_NULL, Answers, Schema, json_content, problems

__all__ = ["ALERTS", "DELETE_SILENCE_ANSWERS", "SILENCES", "SILENCE_ANSWERS", "SILENCE_BODY"]

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
                "required": [
                    "fingerprint",
                    "status",
                    "labels",
                    "annotations",
                    "startsAt",
                    "endsAt",
                    "silencedBy",
                    "inhibitedBy",
                ],
                "properties": {
                    "fingerprint": {
                        "type": "string",
                        "pattern": "^[0-9a-f]{16}$",
                        "description": "Alertmanager's fingerprint of the labels, as webhooks and Alertmanager show it",
                    },
                    "status": {"enum": ["pending", "firing", "resolved"]},
                    "labels": _STRINGS,
                    "annotations": _STRINGS,
                    "value": NUMBER_OR_NULL,
                    "threshold": NUMBER_OR_NULL,
                    "startsAt": NUMBER_OR_NULL,
                    "endsAt": NUMBER_OR_NULL,
                    "silencedBy": {"type": "array", "items": {"type": "string"}},
                    "inhibitedBy": {
                        "type": "array",
                        "items": {"type": "string"},
                        "description": "fingerprints of the firing alerts that mute this one (alerting.inhibit)",
                    },
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
SILENCE_BODY: Schema = {"required": True, "content": json_content(SILENCE_REQUEST)}
SILENCE_ANSWERS: Answers = {
    200: {"description": "the silence", "content": json_content(SILENCE)},
    **problems(400, 401, 408, 413, 415, 503),
}
DELETE_SILENCE_ANSWERS: Answers = {
    200: {
        "description": "expired",
        "content": json_content(
            {"type": "object", "required": ["expired"], "properties": {"expired": {"type": "string"}}}
        ),
    },
    **problems(401, 404, 503),
}
