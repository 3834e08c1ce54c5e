"""OTLP log records (protobuf) → prediction records a column at a time: `predictions.Table`s, one per
layout of attribute keys in a scope, that `predictions.parse_tables` parses as it would the same records
as dicts (`otlp_logs_mapping.one_by_one` reads them so, attribute by attribute, at about 4 µs each).

A scope's attributes come from the request read again through `otlp_logs_wire`, in one of two ways:

- every log record with the same attributes in the same order and the same encoding but for the values
  of doubles and of strings of one length (what an SDK's logger sends for numeric features): the scope's
  attribute bytes are a table of as many rows as log records, each the first log record's attributes as
  a serializer writes them (checked byte for byte, but the values); a double column is one numpy view,
  a string column is read once per distinct value;
- else the attribute keys and values as two lists, cut by each log record's attribute count (as the full
  decode has them): the log records grouped by layout, each value column decoded at once when it is all
  doubles, else each distinct value once. A `KeyValue` without its key or its value (the lists then fall
  short of the counts) sends the scope to the one-by-one reading; one that repeats its key or value field,
  which no serializer writes, could shift that scope's attributes.

A log record whose body is a prediction record stays a dict (its attributes only name its model when
the body does not).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from itertools import accumulate
from typing import Any

import numpy as np
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue

from driftwarden.collector.otlp_logs_mapping import (
    Mapping,
    Plan,
    body_record,
    one_by_one,
    resource_model,
    value,
    with_ids,
)
from driftwarden.collector.otlp_logs_wire import ScopeAttributeBytes, ScopeAttributes
from driftwarden.collector.predictions import Table

__all__ = ["request_tables"]

Column = Callable[[int], Any]  # an attribute position -> its values (a float64 array when all doubles, else a list)
Layout = tuple[tuple[str, ...], Sequence[int], Column]  # (keys, the log records in the scope that have them, columns)

_TAGGED_DOUBLE = np.dtype([("tag", "u1"), ("value", "<f8")])  # AnyValue{double_value}: field 4, 64 bits
_DOUBLE_TAG = 0x21


class _Wire:
    """The request's bytes read through `otlp_logs_wire`'s schemas, each once, when first needed."""

    def __init__(self, body: bytes) -> None:
        self._body = body
        self._bytes: Any = None
        self._lists: Any = None

    def attribute_bytes(self, r: int, s: int) -> bytes:
        if self._bytes is None:
            self._bytes = ScopeAttributeBytes.FromString(self._body)
        scope = self._bytes.resource_logs[r].scope_logs[s]
        data: bytes = scope.log_records.attributes.SerializeToString()
        return data

    def attribute_lists(self, r: int, s: int) -> tuple[list[bytes], list[bytes]]:
        if self._lists is None:
            self._lists = ScopeAttributes.FromString(self._body)
        attributes = self._lists.resource_logs[r].scope_logs[s].log_records.attributes
        return list(attributes.key), list(attributes.value)


def request_tables(
    request: ExportLogsServiceRequest, body: bytes, mapping: Mapping, ignored: Counter[str]
) -> tuple[list[Table], list[tuple[int, Any]]]:
    """`request` (decoded from `body`, protobuf) as tables, and as (position, record) for the log records
    read as dicts: bodies that are records, and scopes read one by one. The others counted in `ignored`."""
    wire = _Wire(body)
    tables: list[Table] = []
    records: list[tuple[int, Any]] = []
    start = 0
    for r, resource_logs in enumerate(request.resource_logs):
        model = resource_model(resource_logs, mapping)
        for s, scope_logs in enumerate(resource_logs.scope_logs):
            logs = scope_logs.log_records
            if not _scope_tables(logs, wire, (r, s), start, mapping, model, ignored, tables, records):
                one_by_one(logs, start, mapping, model, ignored, records)
            start += len(logs)
    return tables, records


def _scope_tables(
    logs: Any,
    wire: _Wire,
    scope: tuple[int, int],
    start: int,
    mapping: Mapping,
    model: Any,
    ignored: Counter[str],
    tables: list[Table],
    records: list[tuple[int, Any]],
) -> bool:
    """A scope's log records as tables and records; False, with nothing done, where the attributes read
    in bulk do not line up with the log records'."""
    counts, bodies, trace_ids, span_ids = [], [], [], []
    for log in logs:
        counts.append(len(log.attributes))
        bodies.append(body_record(log.body) if log.HasField("body") else None)  # a body that is a record
        trace_ids.append(log.trace_id)
        span_ids.append(log.span_id)
    if not counts:
        return True
    layouts = _same_encoding(logs, counts, wire.attribute_bytes(*scope))
    if layouts is None:
        layouts = _layouts(counts, *wire.attribute_lists(*scope))
    if layouts is None:
        return False
    plans = [mapping.plan(keys) for keys, _, _ in layouts]
    if any(plan.labelled for plan in plans):
        return False  # record labels (labels_prefix): the scope read one by one
    for plan, (_, rows, column) in zip(plans, layouts, strict=True):
        table = _table(plan, rows, column, bodies, trace_ids, span_ids, start, model, ignored, records)
        if table is not None:
            tables.append(table)
    return True


def _same_encoding(logs: Any, counts: list[int], data: bytes) -> list[Layout] | None:
    """The scope's attributes (`data`, as sent) as rows of the first log record's, when every log record
    encodes the same attributes alike but for the values of doubles and of strings of one length."""
    n, width = len(counts), counts[0]
    if counts.count(width) != n:
        return None
    first = logs[0].attributes
    pieces = [kv.SerializeToString() for kv in first]  # as serializers write a KeyValue: key, then value
    template = b"".join(pieces)
    size = len(template)
    if len(data) != n * size or data[:size] != template:
        return None
    table = np.frombuffer(data, dtype=np.uint8).reshape(n, size)
    varies = np.zeros(size, dtype=bool)
    values: list[tuple[str | None, int, int, AnyValue]] = []  # per attribute: kind, offset, size of its value
    end = 0
    for kv, piece in zip(first, pieces, strict=True):
        end += len(piece)
        kind = kv.value.WhichOneof("value")
        length = 8 if kind == "double_value" else len(kv.value.string_value.encode()) if kind == "string_value" else 0
        varies[end - length : end] = True
        values.append((kind, end - length, length, kv.value))
    if n > 1 and not ((table == table[0]) | varies).all():
        return None

    def column(j: int) -> Any:
        kind, offset, length, first_value = values[j]
        if kind == "double_value":
            return np.ascontiguousarray(table[:, offset : offset + 8]).view("<f8").reshape(n)
        if kind == "string_value" and length:
            raw = np.ascontiguousarray(table[:, offset : offset + length]).view(f"V{length}").reshape(n)
            distinct, inverse = np.unique(raw, return_inverse=True)
            texts = [d.tobytes().decode() for d in distinct]  # UTF-8: the full decode has checked the strings
            return [texts[i] for i in inverse.tolist()]
        return [value(first_value)] * n  # the same bytes in every log record

    return [(tuple(kv.key for kv in first), range(n), column)]


def _layouts(counts: list[int], keys: list[bytes], values: list[bytes]) -> list[Layout] | None:
    """The scope's attribute keys and values cut by each log record's attribute count, grouped by layout."""
    if not (len(keys) == len(values) == sum(counts)):
        return None  # a KeyValue without its key or its value
    n, width = len(counts), counts[0]
    if counts.count(width) == n and keys == keys[:width] * n:  # one layout
        return [(_keys(keys[:width]), range(n), _Columns(values, width, None))]
    ends = list(accumulate(counts))
    groups: dict[tuple[bytes, ...], list[int]] = {}
    for r, (end, count) in enumerate(zip(ends, counts, strict=True)):
        groups.setdefault(tuple(keys[end - count : end]), []).append(r)
    return [
        (_keys(layout), rows, _Columns(values, 0, [ends[r] - counts[r] for r in rows]))
        for layout, rows in groups.items()
    ]


def _keys(layout: Sequence[bytes]) -> tuple[str, ...]:
    return tuple(key.decode() for key in layout)  # UTF-8: the full decode has checked the keys


class _Columns:
    """The values of one attribute position for the log records of a layout: every `width`th value from
    the position (one layout), or the value at the position after each log record's first (`firsts`)."""

    def __init__(self, values: list[bytes], width: int, firsts: list[int] | None) -> None:
        self._values, self._width, self._firsts = values, width, firsts

    def __call__(self, j: int) -> Any:
        if self._firsts is None:
            return _decode(self._values[j :: self._width])
        return _decode([self._values[i + j] for i in self._firsts])


def _decode(column: list[bytes]) -> Any:
    """AnyValues (as bytes) → their values: a float64 array when every one is a double (9 bytes: its tag and
    value), else a list, each distinct value decoded once."""
    if set(map(len, column)) == {9}:
        tagged = np.frombuffer(b"".join(column), dtype=_TAGGED_DOUBLE)
        if (tagged["tag"] == _DOUBLE_TAG).all():
            return np.array(tagged["value"], dtype=np.float64)
    distinct = {raw: value(AnyValue.FromString(raw)) for raw in set(column)}
    return [distinct[raw] for raw in column]


def _as_list(column: Any) -> list[Any]:
    return column.tolist() if isinstance(column, np.ndarray) else list(column)


def _table(
    plan: Plan,
    rows: Sequence[int],
    column: Column,
    bodies: list[dict[str, Any] | None],
    trace_ids: list[bytes],
    span_ids: list[bytes],
    start: int,
    resource_model: Any,
    ignored: Counter[str],
    records: list[tuple[int, Any]],
) -> Table | None:
    """The log records `rows` of one layout: the prediction records among them as a table, but those whose
    body is a record (`bodies`: added to `records`); the others counted in `ignored`."""
    named = [_as_list(column(j)) for j in plan.models]
    keep: list[int] = []  # positions in `rows`
    models: list[Any] = []
    if plan.names and named and None not in named[0] and "" not in named[0] and bodies.count(None) == len(bodies):
        keep, models = list(range(len(rows))), named[0]  # what an SDK's logger sends: every one a prediction
    for i, r in enumerate(rows if not keep else ()):
        model = next((m[i] for m in named if m[i] is not None and m[i] != ""), resource_model)
        record = bodies[r]
        if record is not None:
            if record.get("model") is None:
                if model is None:
                    ignored["no_model"] += 1
                    continue
                record["model"] = model
            records.append((start + r, with_ids(record, trace_ids[r], span_ids[r])))
        elif not plan.names:
            ignored["no_features"] += 1
        elif model is None:
            ignored["no_model"] += 1
        else:
            keep.append(i)
            models.append(model)
    if not keep:
        return None
    every = len(keep) == len(rows)
    at = np.asarray(keep, dtype=np.intp)

    def take(values: Any) -> Any:
        if every:
            return values
        return values[at] if isinstance(values, np.ndarray) else [values[i] for i in keep]

    kept = list(rows) if every else [rows[i] for i in keep]
    fields = {name: take(column(j)) for name, j in plan.fields}
    none = [None] * len(kept)
    traces = [trace_ids[r] for r in kept]
    trace_hex = [t.hex() if t else None for t in traces]
    span_hex = [s.hex() if t and s else None for t, s in zip(traces, (span_ids[r] for r in kept), strict=True)]
    request_ids = _as_list(fields["request_id"]) if "request_id" in fields else none
    prediction = fields.get("prediction")
    return Table(
        indexes=[start + r for r in kept],
        names=plan.names,
        columns=[take(column(j)) for j in plan.features],
        models=models,
        predictions=none if prediction is None else prediction,
        request_ids=[t if rid is None else rid for rid, t in zip(request_ids, trace_hex, strict=True)],
        labels=_as_list(fields["label"]) if "label" in fields else none,
        trace_ids=trace_hex,
        span_ids=span_hex,
        model_versions=_as_list(fields["model_version"]) if "model_version" in fields else none,
    )
