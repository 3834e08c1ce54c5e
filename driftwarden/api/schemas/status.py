"""The contract of the status router (`driftwarden.api.status`): models and their drift, SLOs, metrics,
readiness."""

from __future__ import annotations

from driftwarden.api.schemas.common import COUNT, NUMBER_OR_NULL, Answers, Schema, json_content, problems

__all__ = ["DRIFT_ANSWERS", "METRICS_ANSWERS", "MODELS", "READYZ_ANSWERS", "SLOS"]

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
_REASON: Schema = {
    "description": "a test that fired (detectors/reasons.py): an effect size at or over its threshold whose gating "
    "test's BH-adjusted p-value is under alpha, or a model's drift share / critical features",
    "type": "object",
    "required": ["test", "value", "threshold"],
    "properties": {
        "test": {"enum": ["psi", "ks", "wasserstein", "missing", "drift_share", "critical"]},
        "value": NUMBER_OR_NULL,
        "threshold": {"type": "number"},
        "pvalue": {"type": "number"},
        "pvalue_bh": {"type": "number"},
        "pvalue_test": {"enum": ["ks", "chi2", "missing"]},
        "from": NUMBER_OR_NULL,
        "to": NUMBER_OR_NULL,
        "features": {"type": "array", "items": {"type": "string"}},
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
        "reasons",
        "held_reasons",
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
        "reasons": {"type": "array", "items": _REASON, "description": "the tests that fired, headline first"},
        "held_reasons": {"type": "array", "items": _REASON, "description": "held by hysteresis: its last reasons"},
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
        "trace_examples": {
            "type": "object",
            "description": "the worst drifted features whose rows carried trace ids: a few current rows of the bin "
            "that gained the most share (or __missing__), by trace and span id",
            "required": ["bin", "traces"],
            "properties": {
                "bin": {"type": "string"},
                "traces": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["trace_id", "span_id"],
                        "properties": {
                            "trace_id": {"type": "string", "pattern": "^[0-9a-f]{32}$"},
                            "span_id": {"type": ["string", "null"], "pattern": "^[0-9a-f]{16}$"},
                        },
                    },
                },
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
        "reasons",
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
        "reasons": {"type": "array", "items": _REASON, "description": "why the model drifted; empty when not"},
        "prediction_drifted": {"type": ["boolean", "null"]},
        "drift_share": {"type": "number", "minimum": 0, "maximum": 1},
        "rows": ROWS,
        "thresholds": {"type": "object"},
        "critical_features": {"type": "array", "items": {"type": "string"}},
        "evaluated_at": {"type": "number"},
        "features": {"type": "array", "items": _FEATURE_DRIFT},
        "constraints": {
            "type": "array",
            "description": "a model with data-quality constraints: each constraint broken in the current window",
            "items": {
                "type": "object",
                "required": ["feature", "constraint", "violations", "rows", "share", "threshold", "violated"],
                "properties": {
                    "feature": {"type": "string"},
                    "constraint": {"enum": ["range", "category", "regex", "type", "missing", "undeclared", "absent"]},
                    "violations": COUNT,
                    "rows": COUNT,
                    "share": {"type": "number", "minimum": 0},
                    "threshold": {"type": "number", "minimum": 0, "maximum": 1},
                    "violated": {"type": "boolean"},
                    "expected": {"type": "string"},
                    "examples": {"type": "array", "items": {"type": "string"}},
                },
            },
        },
    },
}
DRIFT_ANSWERS: Answers = {
    200: {"description": "the latest report", "content": json_content(DRIFT_REPORT)},
    **problems(404, 503),
}

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
                    "error_budget_exhausted",
                    "history_seconds",
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
                    "error_budget_remaining": {"type": "number", "minimum": 0, "maximum": 1},
                    "error_budget_exhausted": {"type": "boolean"},
                    "history_seconds": {
                        "type": "number",
                        "description": "seconds observed, restarts included: a burn-rate tier is judged only "
                        "once its short window holds its span",
                    },
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

METRICS_ANSWERS: Answers = {
    200: {
        "description": "Prometheus text exposition; OpenMetrics when the Accept header asks for it",
        "content": {"application/openmetrics-text": {"schema": {"type": "string"}}},
    }
}
READYZ_ANSWERS: Answers = {
    200: {
        "description": "ready",
        "content": json_content(
            {"type": "object", "required": ["status"], "properties": {"status": {"const": "ready"}}}
        ),
    },
    503: {
        "description": "starting (state not loaded yet), unready (the state file refuses writes: `reason` says "
        "why), or saturated (the queue is full)",
        "content": json_content(
            {
                "type": "object",
                "required": ["status"],
                "properties": {
                    "status": {"enum": ["starting", "unready", "saturated"]},
                    "reason": {"type": "string"},
                    "queue_rows": COUNT,
                    "capacity": COUNT,
                },
            }
        ),
    },
}
