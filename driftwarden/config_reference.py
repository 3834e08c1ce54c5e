"""docs/config-reference.md, rendered from the pydantic models in `driftwarden.config`.

Every key, its type, default, bounds and meaning come from the models themselves, so the
reference cannot drift from the code: `python -m driftwarden.config_reference` rewrites the
file, `--check` exits 1 when the committed file is stale (the test suite runs the same check).
"""

from __future__ import annotations

import argparse
import sys
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel
from pydantic.fields import FieldInfo

from driftwarden.config import Config, parse_duration

__all__ = ["DEFAULT_PATH", "NOTES", "fields", "main", "render", "sections"]

DEFAULT_PATH = Path("docs/config-reference.md")

# Meanings of the keys whose Field() has no description yet, keyed "Model.field". A test checks
# that each still names a field without one, so moving a note into config.py removes it here.
NOTES = {
    "Config.state_path": "SQLite database: references, windows, file offsets, SLO counts, alert outbox (WAL mode)",
    "Config.evaluate_every": "how often every model's drift and every SLO are evaluated; at least 1s",
    "Config.models": "per-model settings, by model name; a model not named here gets the defaults",
    "Config.limits": "bounds on memory and label cardinality",
    "Config.traces": "how spans become request observations",
    "Config.slos": "latency and availability SLOs",
    "Config.self_tracing": "send driftwarden's own spans over OTLP; null: off",
    "Config.gpu": "NVML polling and GPU health",
    "Config.alerting": "alert lifecycle and notification timing",
    "Config.receivers": "where notifications go",
    "Config.routes": "alert label matchers to receivers, in order",
    "Config.outbox": "durable delivery of notifications",
    "ModelSettings.window": "the current window: an integer (rows) or a mapping",
    "ModelSettings.critical_features": "features whose drift alone makes the model drifted",
    "ModelSettings.drift": "decision thresholds and statistics",
    "Limits.max_records_per_request": "records in one request (413 above)",
    "SLOSettings.name": "unique; the `slo` label of its metrics and rules",
    "SLOSettings.service": "matched on the span's service.name; null: any",
    "SLOSettings.model": "matched on the span's model attribute; null: any",
    "SLOSettings.operation": "matched on the span's operation (http.route or name); null: any",
    "SLOSettings.period": "the period the error budget is spent over",
    "GpuSettings.interval": "NVML poll interval (at least 100ms)",
    "AlertingSettings.group_by": (
        "labels that put alerts into one notification (names match [a-zA-Z_][a-zA-Z0-9_]*, as in Alertmanager)"
    ),
    "AlertingSettings.group_wait": "wait before the first notification of a new group",
    "AlertingSettings.group_interval": "wait before notifying a group's changes",
    "AlertingSettings.repeat_interval": "re-send a still-firing group this often",
    "AlertingSettings.drift_period": "the period of the drift budget",
    "ReceiverSettings.name": "unique; what routes name",
    "ReceiverSettings.type": (
        "pagerduty: Events API v2; opsgenie: Alert API v2 (create, close by alias); slack: Block Kit message per "
        "alert group (incoming webhook or chat.postMessage); webhook: Alertmanager webhook JSON; retrain: one POST "
        "per model and drift episode; alertmanager: POST /api/v2/alerts"
    ),
    "ReceiverSettings.routing_key_file": "pagerduty: file holding the integration's routing key",
    "ReceiverSettings.routing_key_env": "pagerduty: environment variable holding the routing key",
    "ReceiverSettings.hmac_secret_file": (
        "webhook, retrain: file of Standard Webhooks signing secrets, one a line (whsec_ then the base64 key, "
        "or any other text whose bytes are the key); each signs, for rotation"
    ),
    "ReceiverSettings.hmac_secret_env": (
        "webhook, retrain: environment variable holding the signing secrets, separated by whitespace"
    ),
    "ReceiverSettings.timeout": "per delivery attempt",
    "RouteSettings.receivers": "receiver names",
    "OutboxSettings.initial_backoff": "first retry delay, doubled with jitter; at least 100ms",
    "OutboxSettings.max_backoff": "longest retry delay; at least initial_backoff",
    "FileSource.file": "NDJSON file of prediction records",
    "FileSource.poll_interval": "how often the file is checked for new lines and rotation; at least 100ms",
    "SelfTracing.service_name": "service.name of driftwarden's own spans",
}

_SCALARS = {str: "string", int: "integer", float: "number", bool: "boolean", Path: "path"}
_UNIONS = (Union, types.UnionType)


def sections(model: type[BaseModel] = Config, path: str = "") -> Iterator[tuple[str, type[BaseModel]]]:
    """(key path, model) for the top level and every nested mapping, depth first in field order."""
    yield path, model
    for name, field in model.model_fields.items():
        nested = _nested(field.annotation)
        if nested is not None:
            sub, suffix = nested
            yield from sections(sub, f"{path}{field.alias or name}{suffix}.")


def fields(model: type[BaseModel]) -> Iterator[tuple[str, str, str, str]]:
    """(key, type, default, description) of each of the model's own keys."""
    for name, field in model.model_fields.items():
        key = field.alias or name
        nested = _nested(field.annotation)
        kind = _type(field.annotation, _is_duration(field.metadata))
        duration = kind.startswith(("duration", "list of duration"))
        default = "required" if field.is_required() else _default(field, duration)
        text = field.description or NOTES.get(f"{model.__name__}.{name}", "")
        bounds = _bounds(field.metadata)
        if bounds:
            text = f"{text}; {bounds}" if text else bounds
        if nested is not None:
            default = "see below" if default.startswith("`") else default
        yield key, kind, default, text


def render() -> str:
    lines = [
        "# Configuration reference",
        "",
        "<!-- Generated by `python -m driftwarden.config_reference` from driftwarden/config.py: do not edit. -->",
        "",
        "A YAML file (`driftwarden run --config FILE`, checked by `driftwarden config validate FILE`). Every key is",
        "optional unless marked required; an unknown key is an error that names it. Durations are strings with a",
        "unit: `500ms`, `30s`, `5m`, `24h`, `30d`. `<name>` stands for a key of your choosing (a model name);",
        "`[]` for an item of a list.",
    ]
    for path, model in sections():
        title = path.rstrip(".") or "Top level"
        lines += ["", f"## {title}", ""]
        if model.__doc__:
            lines += [" ".join(model.__doc__.split("\n\n")[0].split()), ""]
        lines += ["| key | type | default | meaning |", "|---|---|---|---|"]
        for key, kind, default, text in fields(model):
            lines.append(f"| `{path}{key}` | {kind} | {default} | {_cell(text)} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m driftwarden.config_reference", description=__doc__)
    parser.add_argument("--path", type=Path, default=DEFAULT_PATH, help=f"the file (default {DEFAULT_PATH})")
    parser.add_argument("--check", action="store_true", help="exit 1 when the file is not what would be written")
    args = parser.parse_args(argv)
    text = render()
    if args.check:
        current = args.path.read_text() if args.path.exists() else None
        if current != text:
            print(f"{args.path} is stale: run python -m driftwarden.config_reference", file=sys.stderr)
            return 1
        print(f"{args.path} is up to date")
        return 0
    args.path.parent.mkdir(parents=True, exist_ok=True)
    args.path.write_text(text)
    print(f"wrote {args.path}")
    return 0


def _nested(annotation: Any) -> tuple[type[BaseModel], str] | None:
    """The model a key holds, and how its keys are written under it: '' (a mapping), '[]' (a list
    of them), '.<name>' (a mapping of names to them)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation, ""
    origin, args = get_origin(annotation), get_args(annotation)
    if origin in _UNIONS:
        found = [n for n in (_nested(a) for a in args) if n is not None]
        return found[0] if found else None
    if origin is list and args:
        inner = _nested(args[0])
        return (inner[0], "[]" + inner[1]) if inner else None
    if origin is dict and len(args) == 2:
        inner = _nested(args[1])
        return (inner[0], ".<name>" + inner[1]) if inner else None
    return None


def _is_duration(metadata: list[Any]) -> bool:
    return any(getattr(m, "func", None) is parse_duration for m in metadata)


def _type(annotation: Any, duration: bool = False) -> str:
    origin, args = get_origin(annotation), get_args(annotation)
    if origin is Annotated:
        return _type(args[0], duration or _is_duration(list(args[1:])))
    if duration:
        return "duration"
    if origin in _UNIONS:
        kinds = [_type(a) for a in args if a is not type(None)]
        return " or ".join(kinds) + (" or null" if type(None) in args else "")
    if origin is Literal:
        return " or ".join(f"`{v}`" for v in args)
    if origin is list:
        return f"list of {_type(args[0])}"
    if origin is dict:
        return f"mapping of {_type(args[0])} to {_type(args[1])}"
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return "mapping"
    return _SCALARS.get(annotation, getattr(annotation, "__name__", str(annotation)))


def _default(field: FieldInfo, duration: bool) -> str:
    value = field.default_factory() if field.default_factory is not None else field.default  # type: ignore[call-arg]
    if isinstance(value, BaseModel):
        return "`" + ", ".join(f"{k}: {_yaml(v)}" for k, v in value.model_dump(by_alias=True).items()) + "`"
    return f"`{_yaml(value, duration)}`"


def _yaml(value: Any, duration: bool = False) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "[" + ", ".join(_yaml(v, duration) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {_yaml(v)}" for k, v in value.items()) + "}"
    if isinstance(value, float):
        return _duration(value) if duration else format(value, ".10g")
    return str(value)


def _duration(seconds: float) -> str:
    """2592000.0 -> '30d', 2.5 -> '2.5s': the largest unit that gives at least 1, as a config file says it."""
    for unit in ("d", "h", "m", "s", "ms"):
        count = seconds / parse_duration(f"1{unit}")
        if count >= 1 and abs(count - round(count, 3)) < 1e-9:
            return f"{format(round(count, 3), 'g')}{unit}"
    return f"{format(seconds, '.10g')}s"


def _bounds(metadata: list[Any]) -> str:
    words = []
    for m in metadata:
        for attr, sign in (("gt", ">"), ("ge", "≥"), ("lt", "<"), ("le", "≤")):
            if getattr(m, attr, None) is not None:
                words.append(f"{sign} {format(getattr(m, attr), ',')}")
        if getattr(m, "pattern", None):
            words.append(f"matches `{m.pattern}`")
    return ", ".join(words)


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


if __name__ == "__main__":
    sys.exit(main())
