"""How an OTLP log record maps to a prediction record (design.md, "OpenTelemetry logs"), the pieces that the
one-by-one reading (`otlp_logs`) and the column-at-a-time one (`otlp_logs_columns`) share: the `LogParams`
as look-ups, a body that is a prediction record, and the trace and span ids."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

import orjson
from opentelemetry.proto.common.v1.common_pb2 import AnyValue

from driftwarden.collector.otlp_wire import SCALARS, any_value
from driftwarden.params import LogParams

__all__ = ["Mapping", "Plan", "body_record", "first", "one_by_one", "resource_model", "value", "with_ids"]


@dataclass(frozen=True)
class Plan:
    """Where a log record with a given layout (its attribute keys, in order) has its features and fields."""

    names: tuple[str, ...]  # the features, in the order of their first attribute
    features: tuple[int, ...]  # the position of each one's (last) attribute
    fields: tuple[tuple[str, int], ...]  # (record field, position): prediction, request_id, label, model_version
    models: tuple[int, ...]  # the positions of the model attributes present, in model_attributes' order
    labelled: bool = False  # some attribute is a record label (labels_prefix): read one by one


class Mapping:
    """LogParams as the look-ups need them, and the plans of the layouts seen."""

    def __init__(self, settings: LogParams) -> None:
        self.prefix, self.cut = settings.feature_prefix, len(settings.feature_prefix)
        self.model_keys = settings.model_attributes
        self.labels_prefix, self.labels_cut = settings.labels_prefix, len(settings.labels_prefix)
        self.fields = {
            settings.prediction_attribute: "prediction",
            settings.request_id_attribute: "request_id",
            settings.label_attribute: "label",
            settings.model_version_attribute: "model_version",
        }
        self.wanted = set(self.fields) | set(self.model_keys)
        self._plans: dict[tuple[str, ...], Plan] = {}

    def plan(self, layout: tuple[str, ...]) -> Plan:
        """A repeated key counts with its last value, as a dict keeps it; a feature keeps the place of its first."""
        plan = self._plans.get(layout)
        if plan is None:
            last = {key: j for j, key in enumerate(layout)}
            features: dict[str, int] = {}
            for key in layout:
                if key.startswith(self.prefix):
                    features.setdefault(key[self.cut :], last[key])
            found = {key: j for key, j in last.items() if key in self.wanted and not key.startswith(self.prefix)}
            plan = Plan(
                tuple(features),
                tuple(features.values()),
                tuple((name, found[a]) for a, name in self.fields.items() if a in found),
                tuple(found[key] for key in self.model_keys if key in found),
                any(key.startswith(self.labels_prefix) for key in layout),
            )
            self._plans[layout] = plan
        return plan


def value(v: AnyValue) -> Any:
    """An attribute's value: scalars as they are, the others as `any_value` gives them."""
    kind = v.WhichOneof("value")
    return getattr(v, kind) if kind in SCALARS else any_value(v)


def body_record(body: AnyValue) -> dict[str, Any] | None:
    """A body that is a prediction record: a map, or a JSON object in a string, with "features"."""
    kind = body.WhichOneof("value")
    parsed: Any
    if kind == "string_value":
        text = body.string_value
        if not text.lstrip().startswith("{"):
            return None
        try:
            parsed = orjson.loads(text)
        except orjson.JSONDecodeError:
            return None  # a log line that merely starts with a brace
    elif kind == "kvlist_value":
        parsed = any_value(body)
    else:
        return None  # none, or a scalar or array: a log line
    return parsed if type(parsed) is dict and "features" in parsed else None


def first(keys: tuple[str, ...], attributes: dict[str, Any]) -> Any:
    """The value of the first of `keys` that is set and not "" in `attributes`."""
    for key in keys:
        found = attributes.get(key)
        if found is not None and found != "":
            return found
    return None


def with_ids(record: dict[str, Any], trace_id: bytes, span_id: bytes) -> dict[str, Any]:
    """The log record's trace and span id (hex) on the record; `request_id` defaults to the trace id."""
    if trace_id:
        record["trace_id"] = trace_id.hex()
        record["span_id"] = span_id.hex() if span_id else None
    if record.get("request_id") is None and record.get("trace_id") is not None:
        record["request_id"] = record["trace_id"]
    return record


def resource_model(resource_logs: Any, mapping: Mapping) -> Any:
    """The model its resource names (`model_attributes`), for the log records that name none."""
    keys = mapping.model_keys
    attributes = {kv.key: any_value(kv.value) for kv in resource_logs.resource.attributes if kv.key in keys}
    return first(keys, attributes)


def one_by_one(
    logs: Any,
    start: int,
    mapping: Mapping,
    model: Any,
    ignored: Counter[str],
    records: list[tuple[int, Any]],
) -> None:
    """A scope's log records mapped one by one, each attribute looked at: (position, record) added to
    `records` for each prediction record, the others counted in `ignored`. `model`: the resource's."""
    prefix, cut, wanted, fields = mapping.prefix, mapping.cut, mapping.wanted, mapping.fields
    labels_prefix, labels_cut = mapping.labels_prefix, mapping.labels_cut
    for offset, log in enumerate(logs):
        record = body_record(log.body)
        if record is None or record.get("model") is None:  # the attributes are needed
            features: dict[str, Any] = {}
            found: dict[str, Any] = {}
            labels: dict[str, Any] = {}
            for kv in log.attributes:
                key = kv.key
                if key.startswith(prefix):
                    features[key[cut:]] = value(kv.value)
                elif key.startswith(labels_prefix):
                    labels[key[labels_cut:]] = value(kv.value)
                elif key in wanted:
                    found[key] = any_value(kv.value)
            if record is None:
                if not features:
                    ignored["no_features"] += 1
                    continue
                record = {"features": features}
                for attribute, name in fields.items():
                    if attribute in found:
                        record[name] = found[attribute]
                if labels:
                    record["labels"] = labels
            named = first(mapping.model_keys, found)
            if named is None:
                named = model
            if named is None:
                ignored["no_model"] += 1
                continue
            record["model"] = named
        records.append((start + offset, with_ids(record, log.trace_id, log.span_id)))
