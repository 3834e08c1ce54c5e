"""Prediction records (JSON array or NDJSON) → per-model columnar batches.

A record is `{"model": "fraud", "features": {"amount": 12.5, "country": "DE"}, ...}`
(design.md). Bad records are reported one by one and the rest accepted; a body that
cannot be read at all raises an `InputError` (driftwarden.core.errors).

Numbers become float columns in one `np.array` call per group of records sharing a
feature layout; the per-record Python work is only the dict look-ups JSON parsing
already implies. Strings and booleans are categorical columns (object arrays). The
record's `prediction` (a score or a class) becomes one more column named "prediction",
so output drift is measured like input drift; `request_id` and `label` (ground truth)
travel with the rows for sampling and the label join, `trace_id` and `span_id` (W3C hex)
with them into the window, so a drift report can name the traces behind it. The record's `labels`
(`{"app_version": "1.4"}`: names to strings, numbers or booleans) travel with the rows too, to route them
to segments (`models.<m>.segments: [labels.app_version]`); they are not features.

`parse_objects()` is the part after the body is decoded: other ways in that produce records of
the same shape (OTLP log records, collector/otlp_logs.py) go through it, so they are validated,
grouped and rejected exactly as these are. `parse_tables()` takes the same records a column at a time
(`Table`: records that share their features, as OTLP log records that share an attribute layout) and
gives what `parse_objects()` gives for them as dicts, without making the dicts: a group of records whose
columns are all doubles becomes its float block at once.
"""

from __future__ import annotations

import math
import operator
import reprlib
from collections import defaultdict
from dataclasses import dataclass, field
from itertools import chain
from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt
import orjson

from driftwarden.collector.embeddings import check_embeddings, stack_embeddings
from driftwarden.core.arrays import FloatArray, ObjectArray
from driftwarden.core.errors import BodyTooLarge, InputError, UnsupportedMediaType
from driftwarden.core.records import (
    MODEL_NAME,
    PREDICTION,
    ParseResult,
    RecordBatch,
    number_label,
    pack_traces,
)
from driftwarden.core.text_columns import TextColumn, encode_text

__all__ = ["Table", "parse_objects", "parse_records", "parse_tables"]

JSON_TYPES = {"application/json"}
NDJSON_TYPES = {"application/x-ndjson", "application/ndjson", "application/jsonl", "application/x-jsonlines"}
MAX_FEATURE_NAME = 128
MAX_CATEGORY = 256  # characters in a categorical value
MAX_RECORD_LABELS = 32  # labels on one record
_REPR = reprlib.Repr()  # values quoted in messages: bounded, and safe however deep the JSON nests
_REPR.maxstring = _REPR.maxother = 80
_show = _REPR.repr
_NUMBER_TYPES = {int, float, type(None)}
_S = TypeVar("_S", bound=np.generic)


@dataclass
class _Rows:
    """Records of one model that share a feature layout, as parsed: the input of `_block`."""

    indexes: list[int] = field(default_factory=list)
    values: list[list[Any]] = field(default_factory=list)  # JSON values, one list per record
    request_ids: list[Any] = field(default_factory=list)
    labels: list[Any] = field(default_factory=list)
    trace_ids: list[Any] = field(default_factory=list)
    span_ids: list[Any] = field(default_factory=list)
    record_labels: list[dict[str, str] | None] = field(default_factory=list)
    embeddings: list[Any] = field(default_factory=list)  # collector.embeddings.check_embeddings, or None


@dataclass(frozen=True)
class _Block:
    numeric: tuple[str, ...]
    values: FloatArray
    categorical: tuple[str, ...]
    categorical_values: ObjectArray
    request_ids: list[Any]
    labels: list[Any]
    trace_ids: list[Any]
    span_ids: list[Any]
    record_labels: list[dict[str, str] | None]
    embeddings: list[Any] | None = None  # one per row (None: the rows sent none)
    text: tuple[TextColumn, ...] = ()  # categorical_values dictionary-encoded


def parse_records(body: bytes, content_type: str | None, *, max_records: int = 100_000) -> ParseResult:
    media = (content_type or "").split(";")[0].strip().lower()
    result = ParseResult()
    if media in JSON_TYPES:
        records = _json_array(body)
    elif media in NDJSON_TYPES:
        lines = body.splitlines()
        if len(lines) > max_records:  # before any line is decoded
            raise BodyTooLarge(f"{len(lines)} records in one request; the limit is {max_records}: split the batch")
        try:  # every line a JSON value (no blank one): decoded in one C-level pass
            decoded = list(map(orjson.loads, lines))
        except orjson.JSONDecodeError:
            records = _ndjson_lines(body, result)
        else:
            if _uniform(decoded, result):
                return result
            records = list(enumerate(decoded))
    else:
        raise UnsupportedMediaType(
            f"unsupported Content-Type {media or '(none)'!r}: send application/json (an array of records) "
            "or application/x-ndjson (one record per line) or application/vnd.apache.arrow.stream (a column per "
            "feature)"
        )
    return parse_objects(records, result, max_records=max_records)


_FIELD_GETTERS = {
    name: operator.itemgetter(name) for name in ("request_id", "label", "trace_id", "span_id", "model_version")
}
# The fields the column-at-a-time path reads; a record with any other (labels, embeddings, ...) goes record by record.
_UNIFORM_FIELDS = frozenset({"model", "features", PREDICTION, *_FIELD_GETTERS})
_GET_MODEL = operator.itemgetter("model")
_GET_FEATURES = operator.itemgetter("features")
_GET_PREDICTION = operator.itemgetter(PREDICTION)


def _uniform(records: list[Any], result: ParseResult) -> bool:
    """The common request, taken a column at a time: every record an object with the same fields as the first,
    one valid model, features of the same names in the same order and only numbers or nulls, a prediction on every
    record or on none. Adds the batch `parse_objects` would make of them to `result` and answers True; False
    (nothing added) for any other request, which `parse_objects` then takes record by record.

    The per-record work is C-level: `map` over item getters, no Python statement per record."""
    if not records or set(map(type, records)) != {dict}:
        return False
    first = records[0]
    if len(set(map(len, records))) != 1 or not first.keys() <= _UNIFORM_FIELDS:
        return False
    try:
        models = list(map(_GET_MODEL, records))
        features = list(map(_GET_FEATURES, records))
    except KeyError:
        return False
    if set(map(type, models)) != {str}:
        return False
    distinct = set(models)
    (model,) = distinct if len(distinct) == 1 else (None,)
    if type(model) is not str or MODEL_NAME.fullmatch(model) is None or set(map(type, features)) != {dict}:
        return False
    names = tuple(features[0])
    if len(set(map(tuple, features))) != 1 or not names or any(not n or len(n) > MAX_FEATURE_NAME for n in names):
        return False  # features named in another order: grouped as parse_objects groups them
    try:
        fields = {name: list(map(getter, records)) for name, getter in _FIELD_GETTERS.items() if name in first}
        predictions = list(map(_GET_PREDICTION, records)) if PREDICTION in first else None
    except KeyError:  # a record without a field the first has (of the same count: with another one instead)
        return False
    kinds = set(map(type, chain.from_iterable(map(dict.values, features))))
    if not kinds <= _NUMBER_TYPES:
        return False
    if predictions is not None and PREDICTION not in names:
        if None in predictions or not set(map(type, predictions)) <= _NUMBER_TYPES:
            return False
    else:
        predictions = None
    values = np.empty((len(records), len(names) + (predictions is not None)), dtype=np.float64)
    if type(None) in kinds:  # None becomes NaN
        values[:, : len(names)] = list(map(list, map(dict.values, features)))
    else:
        flat = np.fromiter(chain.from_iterable(map(dict.values, features)), np.float64, len(records) * len(names))
        values[:, : len(names)] = flat.reshape(len(records), len(names))
    if predictions is not None:
        values[:, -1] = predictions
        names = (*names, PREDICTION)
    if np.isinf(values).any():
        return False
    none = [None] * len(records)
    block = _Block(
        names,
        values,
        (),
        np.empty((len(records), 0), dtype=object),
        fields.get("request_id", none),
        fields.get("label", none),
        fields.get("trace_id", none),
        fields.get("span_id", none),
        [None] * len(records),  # record labels: a record carrying them is not taken here
    )
    versions = fields.get("model_version", ())
    version = next((v for v in reversed(versions) if type(v) is str and 0 < len(v) <= 64), None)
    _batches([(model, block)], {model: version} if version else {}, result)
    return True


def parse_objects(
    records: list[tuple[int, Any]], result: ParseResult | None = None, *, max_records: int = 100_000
) -> ParseResult:
    """(index, decoded record) pairs → per-model batches, adding to `result` (a new one when None)."""
    result = ParseResult() if result is None else result
    if len(records) > max_records:
        raise BodyTooLarge(f"{len(records)} records in one request; the limit is {max_records}: split the batch")

    groups: dict[tuple[str, tuple[str, ...]], _Rows] = defaultdict(_Rows)
    good_models: set[str] = set()
    versions: dict[str, str] = {}
    for index, record in records:
        model = record.get("model") if type(record) is dict else None
        if type(model) is str and model in good_models and type(record.get("features")) is dict:
            features = record["features"]  # the common case, checked cheaply
        else:
            checked = _check_record(index, record, result)
            if checked is None:
                continue
            model, features = checked
            good_models.add(model)
        tags = record.get("labels")
        if tags is not None:
            tags = _record_labels(index, tags, result)
            if tags is None:
                continue
        vectors = record.get("embeddings")
        if vectors is not None and (vectors := check_embeddings(index, vectors, result)) is None:
            continue
        names, values = tuple(features), list(features.values())
        prediction = record.get("prediction")
        if prediction is not None and PREDICTION not in features:
            names, values = (*names, PREDICTION), [*values, prediction]
        rows = groups[(model, names)]
        rows.indexes.append(index)
        rows.values.append(values)
        rows.request_ids.append(record.get("request_id"))
        rows.labels.append(record.get("label"))
        rows.trace_ids.append(record.get("trace_id"))
        rows.span_ids.append(record.get("span_id"))
        rows.record_labels.append(tags)
        rows.embeddings.append(vectors)
        version = record.get("model_version")
        if type(version) is str and 0 < len(version) <= 64:
            versions[model] = version

    _batches([(model, _block(names, rows, result)) for (model, names), rows in groups.items()], versions, result)
    return result


def _batches(blocks: list[tuple[str, _Block | None]], versions: dict[str, str], result: ParseResult) -> None:
    """Each model's blocks (in the order given) merged into its batch, added to `result`."""
    per_model: dict[str, list[_Block]] = defaultdict(list)
    for model, block in blocks:
        if block is not None:
            per_model[model].append(block)
    for model, model_blocks in per_model.items():
        batch = _merge(model, model_blocks, versions.get(model))
        result.batches.append(batch)
        result.accepted += batch.rows


@dataclass
class Table:
    """Prediction records given a column at a time: record k, at position `indexes[k]` of its request, is
    `{"model": models[k], "features": dict(zip(names, (c[k] for c in columns))), "prediction":
    predictions[k], "request_id": request_ids[k], "label": labels[k], "trace_id": trace_ids[k],
    "span_id": span_ids[k], "model_version": model_versions[k]}` (a field that is None: left out)."""

    indexes: list[int]  # increasing
    names: tuple[str, ...]  # distinct
    columns: list[Any]  # one per name: a list of values, or a float64 array when every value is a double
    models: list[Any]
    predictions: Any  # a list (None: none), or a float64 array when every record has a double prediction
    request_ids: list[Any]
    labels: list[Any]
    trace_ids: list[Any]
    span_ids: list[Any]
    model_versions: list[Any]

    def records(self) -> list[tuple[int, dict[str, Any]]]:
        """The records as `parse_objects` takes them."""
        columns = [c.tolist() if isinstance(c, np.ndarray) else c for c in self.columns]
        predictions = self.predictions.tolist() if isinstance(self.predictions, np.ndarray) else self.predictions
        rows = list(zip(*columns, strict=True)) if columns else [()] * len(self.indexes)
        fields = (self.models, predictions, self.request_ids, self.labels, self.trace_ids, self.span_ids)
        out = []
        for index, row, *values in zip(self.indexes, rows, *fields, self.model_versions, strict=True):
            record = {"features": dict(zip(self.names, row, strict=True))}
            record.update((k, v) for k, v in zip(_TABLE_FIELDS, values, strict=True) if v is not None)
            out.append((index, record))
        return out


_TABLE_FIELDS = ("model", "prediction", "request_id", "label", "trace_id", "span_id", "model_version")


def parse_tables(tables: list[Table], result: ParseResult | None = None, *, max_records: int = 100_000) -> ParseResult:
    """What `parse_objects` gives for the tables' records as dicts, in the order of their indexes."""
    result = ParseResult() if result is None else result
    total = sum(len(t.indexes) for t in tables)
    if total > max_records:
        raise BodyTooLarge(f"{total} records in one request; the limit is {max_records}: split the batch")
    # each record's group, as parse_objects groups them: (model, names, with "prediction" when it has one)
    valid: dict[str, bool] = {}

    def is_valid(model: Any) -> bool:
        if type(model) is not str:
            return False
        ok = valid.get(model)
        if ok is None:
            ok = valid[model] = MODEL_NAME.fullmatch(model) is not None
        return ok

    groups: dict[tuple[str, tuple[str, ...]], dict[int, list[int]]] = {}  # -> table -> its rows, in order
    firsts: dict[tuple[str, tuple[str, ...]], int] = {}  # -> the index of its first record
    bad: list[tuple[int, Any]] = []
    versions: list[tuple[int, str, str]] = []
    for t, table in enumerate(tables):
        with_prediction = table.names if PREDICTION in table.names else (*table.names, PREDICTION)
        predictions = table.predictions
        every = isinstance(predictions, np.ndarray) or predictions.count(None) == 0
        uniform = table.models and (every or predictions.count(None) == len(predictions))
        model = table.models[0] if uniform else None
        if uniform and type(model) is str and table.models.count(model) == len(table.models):
            if is_valid(model):  # one model, and a prediction on every record or on none: one group
                key = (model, with_prediction if every else table.names)
                groups.setdefault(key, {})[t] = list(range(len(table.indexes)))
                firsts[key] = min(firsts.get(key, table.indexes[0]), table.indexes[0])
            else:
                bad.extend(zip(table.indexes, table.models, strict=True))
        else:
            for k, (index, model_) in enumerate(zip(table.indexes, table.models, strict=True)):
                if not is_valid(model_):
                    bad.append((index, model_))
                    continue
                has_prediction = every or predictions[k] is not None
                key = (model_, with_prediction if has_prediction else table.names)
                groups.setdefault(key, {}).setdefault(t, []).append(k)
                firsts.setdefault(key, index)
                firsts[key] = min(firsts[key], index)
        if table.model_versions.count(None) != len(table.model_versions):
            for index, model_, version in zip(table.indexes, table.models, table.model_versions, strict=True):
                if type(version) is str and 0 < len(version) <= 64 and is_valid(model_):
                    versions.append((index, model_, version))
    for index, model_ in sorted(bad, key=_first_item):
        result.reject(
            index,
            "bad_model",
            f"record {index}: 'model' must be a name of 1-63 letters, digits or _.:- (got {_show(model_)})",
            "/model",
        )
    last_version = {model_: version for _, model_, version in sorted(versions, key=_first_item)}
    ordered = sorted(groups.items(), key=_by_first(firsts))
    blocks = [(key[0], _table_block(key[1], parts, tables, result)) for key, parts in ordered]
    _batches(blocks, last_version, result)
    return result


def _by_first(firsts: dict[Any, int]) -> Any:
    return lambda item: firsts[item[0]]


def _first_item(pair: tuple[Any, ...]) -> Any:
    return pair[0]


def _table_block(
    names: tuple[str, ...], parts: dict[int, list[int]], tables: list[Table], result: ParseResult
) -> _Block | None:
    """A group's block (`parts`: its rows in each table): its float columns stacked when it comes from one
    table whose columns are all doubles (as `_block` would make them), else its records as rows through
    `_block`."""
    if len(parts) == 1:
        ((t, ks),) = parts.items()
        table = tables[t]
        whole = len(ks) == len(table.indexes)
        columns = [*table.columns, table.predictions] if len(names) > len(table.names) else table.columns
        bad_name = any(not n or len(n) > MAX_FEATURE_NAME for n in names)
        if all(isinstance(c, np.ndarray) for c in columns) and not bad_name:
            at = np.asarray(ks, dtype=np.intp)
            values = np.empty((len(ks), len(columns)), dtype=np.float64)
            for j, c in enumerate(columns):
                values[:, j] = c if whole else c[at]
            if not np.isinf(values).any():

                def pick(field_values: list[Any]) -> list[Any]:
                    return field_values if whole else [field_values[k] for k in ks]

                return _Block(
                    names,
                    values,
                    (),
                    np.empty((len(ks), 0), dtype=object),
                    pick(table.request_ids),
                    pick(table.labels),
                    pick(table.trace_ids),
                    pick(table.span_ids),
                    [None] * len(ks),  # a table's records carry no labels (otlp_logs_columns reads those one by one)
                )
    members = sorted((tables[t].indexes[k], t, k) for t, ks in parts.items() for k in ks)
    rows = _Rows()
    for index, t, k in members:
        source = tables[t]
        row = [c[k] for c in source.columns]
        if len(names) > len(source.names):
            row.append(source.predictions[k])
        rows.indexes.append(index)
        rows.values.append([v.item() if isinstance(v, np.generic) else v for v in row])
        rows.request_ids.append(source.request_ids[k])
        rows.labels.append(source.labels[k])
        rows.trace_ids.append(source.trace_ids[k])
        rows.span_ids.append(source.span_ids[k])
        rows.record_labels.append(None)
    return _block(names, rows, result)


def _json_array(body: bytes) -> list[tuple[int, Any]]:
    try:
        parsed = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise InputError(f"body is not valid JSON: {exc}") from exc
    if isinstance(parsed, dict):
        parsed = [parsed]
    if not isinstance(parsed, list):
        raise InputError(f"expected a JSON array of records, got {type(parsed).__name__}")
    return list(enumerate(parsed))


def _ndjson_lines(body: bytes, result: ParseResult) -> list[tuple[int, Any]]:
    records = []
    for index, line in enumerate(line for line in body.splitlines() if line and not line.isspace()):
        try:
            records.append((index, orjson.loads(line)))
        except orjson.JSONDecodeError as exc:
            result.reject(index, "invalid_json", f"record {index} is not valid JSON: {exc}")
    return records


def _check_record(index: int, record: Any, result: ParseResult) -> tuple[str, dict[str, Any]] | None:
    if not isinstance(record, dict):
        result.reject(index, "not_an_object", f"record {index} is a {type(record).__name__}, expected an object")
        return None
    model = record.get("model")
    if not isinstance(model, str) or not MODEL_NAME.fullmatch(model):
        result.reject(
            index,
            "bad_model",
            f"record {index}: 'model' must be a name of 1-63 letters, digits or _.:- (got {_show(model)})",
            "/model",
        )
        return None
    features = record.get("features")
    if not isinstance(features, dict):
        result.reject(
            index, "bad_features", f"record {index}: 'features' must be an object of name: value", "/features"
        )
        return None
    return model, features


def _record_labels(index: int, labels: Any, result: ParseResult) -> dict[str, str] | None:
    """The record's `labels` as segment values (numbers as `number_label`, booleans as JSON spells them, nulls
    left out); None, with the record rejected (`bad_record_labels`), when they are not such an object."""
    if type(labels) is not dict:
        result.reject(
            index,
            "bad_record_labels",
            f"record {index}: 'labels' is a {type(labels).__name__}; send an object of label name: string, "
            "number or boolean",
            "/labels",
        )
        return None
    if len(labels) > MAX_RECORD_LABELS:
        result.reject(
            index,
            "bad_record_labels",
            f"record {index}: {len(labels)} labels; a record carries at most {MAX_RECORD_LABELS}",
            "/labels",
        )
        return None
    out: dict[str, str] = {}
    for name, value in labels.items():
        problem = None
        if not name or len(name) > MAX_FEATURE_NAME:
            problem = f"label names are 1-{MAX_FEATURE_NAME} characters (got {len(name)})"
        elif type(value) is str:
            if len(value) > MAX_CATEGORY:
                problem = f"label {name!r} is a string of {len(value)} characters; at most {MAX_CATEGORY}"
            else:
                out[name] = value
        elif type(value) is bool:
            out[name] = "true" if value else "false"
        elif type(value) in (int, float) and math.isfinite(value):
            out[name] = number_label(value)
        elif value is not None:
            problem = f"label {name!r} is {_show(value)}; use a string, a finite number, a boolean or null"
        if problem:
            pointer = "/labels/" + name.replace("~", "~0").replace("/", "~1")
            result.reject(index, "bad_record_labels", f"record {index}: {problem}", pointer)
            return None
    return out


def _block(names: tuple[str, ...], rows: _Rows, result: ParseResult, *, checked: bool = False) -> _Block | None:
    """Rows that share a feature layout → numeric and categorical columns, rejecting bad rows
    (`checked`: each value looked at, as when a fast pass found infinities)."""
    bad_name = next((n for n in names if not n or len(n) > MAX_FEATURE_NAME), None)
    if bad_name is not None:
        for index in rows.indexes:
            result.reject(
                index,
                "bad_feature_name",
                f"record {index}: feature names are 1-{MAX_FEATURE_NAME} characters (got {len(bad_name)})",
                _pointer(bad_name),
            )
        return None
    kinds = set(map(type, chain.from_iterable(rows.values)))
    text: list[int] = []  # positions of the categorical columns
    if kinds <= _NUMBER_TYPES and not checked:
        keep, numeric = list(range(len(rows.indexes))), list(range(len(names)))
    else:
        keep, numeric, text = _valid_rows(names, rows, result)
    if not keep:
        return None
    if len(keep) == len(rows.indexes):
        table, request_ids, labels = rows.values, rows.request_ids, rows.labels
        trace_ids, span_ids, record_labels = rows.trace_ids, rows.span_ids, rows.record_labels
        embeddings = rows.embeddings
    else:
        table = [rows.values[i] for i in keep]
        request_ids = [rows.request_ids[i] for i in keep]
        labels = [rows.labels[i] for i in keep]
        trace_ids = [rows.trace_ids[i] for i in keep]
        span_ids = [rows.span_ids[i] for i in keep]
        record_labels = [rows.record_labels[i] for i in keep]
        embeddings = [rows.embeddings[i] for i in keep] if rows.embeddings else []
    numbers = table if len(numeric) == len(names) else [[values[j] for j in numeric] for values in table]
    # orjson refuses NaN, Infinity, 1e999 and integers beyond 64 bits; other decoders (OTLP's doubles)
    # may not: NaN is missing, as null is, and a row with an infinity is looked at value by value
    values = np.array(numbers, dtype=np.float64).reshape(len(table), len(numeric))
    if not checked and np.isinf(values).any():
        return _block(names, rows, result, checked=True)
    categorical_values = np.empty((len(table), len(text)), dtype=object)
    encoded = []
    for k, j in enumerate(text):
        column = [_category(values_[j]) for values_ in table]
        categorical_values[:, k] = column
        encoded.append(encode_text(column))
    return _Block(
        tuple(names[j] for j in numeric),
        values,
        tuple(names[j] for j in text),
        categorical_values,
        request_ids,
        labels,
        trace_ids,
        span_ids,
        record_labels,
        embeddings if any(e is not None for e in embeddings) else None,
        tuple(encoded),
    )


def _valid_rows(names: tuple[str, ...], rows: _Rows, result: ParseResult) -> tuple[list[int], list[int], list[int]]:
    """The slow path: reject nested values and features mixing numbers with strings.

    Returns the positions of the rows kept, of the numeric columns and of the text (categorical) ones.
    """
    is_number = [False] * len(names)
    is_text = [False] * len(names)
    for values in rows.values:
        for j, v in enumerate(values):
            if isinstance(v, (int, float)) and not isinstance(v, bool):
                is_number[j] = True
            elif isinstance(v, (str, bool)):
                is_text[j] = True
    keep = []
    for i, values in enumerate(rows.values):
        index = rows.indexes[i]
        problem = None
        for j, v in enumerate(values):
            if isinstance(v, (dict, list)):
                problem = f"is a {type(v).__name__}; use a number, string, boolean or null"
            elif isinstance(v, float) and math.isinf(v):
                problem = f"is {v}; use a finite number (or null when missing)"
            elif is_number[j] and isinstance(v, (str, bool)):
                problem = f"is {v!r:.40} but other records send numbers for it"
            elif isinstance(v, str) and len(v) > MAX_CATEGORY:
                problem = f"is a string of {len(v)} characters; categories are at most {MAX_CATEGORY}"
            if problem:
                what = "'prediction'" if names[j] == PREDICTION and j == len(names) - 1 else f"feature {names[j]!r}"
                result.reject(
                    index, "bad_feature_value", f"record {index}: {what} {problem}", _pointer(names[j], j, names)
                )
                break
        else:
            keep.append(i)
    numeric = [j for j in range(len(names)) if is_number[j] or not is_text[j]]
    text = [j for j in range(len(names)) if is_text[j] and not is_number[j]]
    return keep, numeric, text


def _category(value: str | bool | None) -> str | None:
    """A categorical value as stored: booleans spelled as JSON (and Parquet/CSV readers) spell them."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return value


def _pointer(name: str, j: int = 0, names: tuple[str, ...] = ()) -> str:
    """JSON pointer (RFC 6901) to a feature of a record; the prediction sits at the top level."""
    if names and name == PREDICTION and j == len(names) - 1 and names.count(PREDICTION) == 1:
        return "/prediction"
    return "/features/" + name.replace("~", "~0").replace("/", "~1")


def _merge(model: str, blocks: list[_Block], version: str | None) -> RecordBatch:
    request_ids = list(chain.from_iterable(b.request_ids for b in blocks))
    labels = list(chain.from_iterable(b.labels for b in blocks))
    ids = _objects(request_ids, str)
    truth = _objects(labels, (str, int, float))
    trace_ids = list(chain.from_iterable(b.trace_ids for b in blocks))
    tags = list(chain.from_iterable(b.record_labels for b in blocks))
    record_labels = _objects(tags, dict)
    traces = (
        None if all(t is None for t in trace_ids) else pack_traces(trace_ids, [*chain(*(b.span_ids for b in blocks))])
    )
    vectors = (
        None
        if all(b.embeddings is None for b in blocks)
        else stack_embeddings(chain.from_iterable(b.embeddings or [None] * len(b.values) for b in blocks))
    )
    if len(blocks) == 1:
        b = blocks[0]
        return RecordBatch(
            model,
            b.numeric,
            b.values,
            version,
            b.categorical,
            b.categorical_values,
            ids,
            truth,
            traces,
            record_labels,
            vectors,
            b.text,
        )
    numeric, values = _stack([(b.numeric, b.values) for b in blocks], np.nan, np.float64)
    categorical, categorical_values = _stack([(b.categorical, b.categorical_values) for b in blocks], None, np.object_)
    both = set(numeric) & set(categorical)
    if both:  # text in some records, numbers or only nulls in others: a categorical column
        for k, name in enumerate(categorical):
            if name in both:
                column = values[:, numeric.index(name)]
                filled = ~np.isnan(column)
                categorical_values[filled, k] = [number_label(x) for x in column[filled]]
        keep = [j for j, name in enumerate(numeric) if name not in both]
        numeric, values = tuple(numeric[j] for j in keep), values[:, keep]
    return RecordBatch(
        model, numeric, values, version, categorical, categorical_values, ids, truth, traces, record_labels, vectors
    )


def _stack(
    blocks: list[tuple[tuple[str, ...], npt.NDArray[_S]]], fill: float | None, dtype: type[_S]
) -> tuple[tuple[str, ...], npt.NDArray[_S]]:
    names = tuple(dict.fromkeys(chain.from_iterable(b[0] for b in blocks)))
    column = {n: j for j, n in enumerate(names)}
    out = np.full((sum(b[1].shape[0] for b in blocks), len(names)), fill, dtype=dtype)
    start = 0
    for block_names, values in blocks:
        cols = [column[n] for n in block_names]
        out[start : start + values.shape[0], cols] = values
        start += values.shape[0]
    return names, out


def _objects(values: list[Any], types: type | tuple[type, ...]) -> ObjectArray | None:
    """A (rows,) object array of the values of the right type (others None); None when there are none."""
    if all(v is None for v in values):
        return None
    out = np.empty(len(values), dtype=object)
    out[:] = [v if isinstance(v, types) and not isinstance(v, bool) else None for v in values]
    return out
