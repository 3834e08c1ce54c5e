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
with them into the window, so a drift report can name the traces behind it.

`parse_objects()` is the part after the body is decoded: other ways in that produce records of
the same shape (OTLP log records, collector/otlp_logs.py) go through it, so they are validated,
grouped and rejected exactly as these are.
"""

from __future__ import annotations

import math
import reprlib
from collections import defaultdict
from dataclasses import dataclass, field
from itertools import chain
from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt
import orjson

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

__all__ = ["parse_objects", "parse_records"]

JSON_TYPES = {"application/json"}
NDJSON_TYPES = {"application/x-ndjson", "application/ndjson", "application/jsonl", "application/x-jsonlines"}
MAX_FEATURE_NAME = 128
MAX_CATEGORY = 256  # characters in a categorical value
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


def parse_records(body: bytes, content_type: str | None, *, max_records: int = 100_000) -> ParseResult:
    media = (content_type or "").split(";")[0].strip().lower()
    result = ParseResult()
    if media in JSON_TYPES:
        records = _json_array(body)
    elif media in NDJSON_TYPES:
        records = _ndjson_lines(body, result)
    else:
        raise UnsupportedMediaType(
            f"unsupported Content-Type {media or '(none)'!r}: send application/json (an array of records) "
            "or application/x-ndjson (one record per line)"
        )
    return parse_objects(records, result, max_records=max_records)


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
        version = record.get("model_version")
        if type(version) is str and 0 < len(version) <= 64:
            versions[model] = version

    per_model: dict[str, list[_Block]] = defaultdict(list)
    for (model, names), rows in groups.items():
        block = _block(names, rows, result)
        if block is not None:
            per_model[model].append(block)
    for model, blocks in per_model.items():
        batch = _merge(model, blocks, versions.get(model))
        result.batches.append(batch)
        result.accepted += batch.rows
    return result


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
        trace_ids, span_ids = rows.trace_ids, rows.span_ids
    else:
        table = [rows.values[i] for i in keep]
        request_ids = [rows.request_ids[i] for i in keep]
        labels = [rows.labels[i] for i in keep]
        trace_ids = [rows.trace_ids[i] for i in keep]
        span_ids = [rows.span_ids[i] for i in keep]
    numbers = table if len(numeric) == len(names) else [[values[j] for j in numeric] for values in table]
    # orjson refuses NaN, Infinity, 1e999 and integers beyond 64 bits; other decoders (OTLP's doubles)
    # may not: NaN is missing, as null is, and a row with an infinity is looked at value by value
    values = np.array(numbers, dtype=np.float64).reshape(len(table), len(numeric))
    if not checked and np.isinf(values).any():
        return _block(names, rows, result, checked=True)
    categorical_values = np.empty((len(table), len(text)), dtype=object)
    for k, j in enumerate(text):
        categorical_values[:, k] = [_category(values_[j]) for values_ in table]
    return _Block(
        tuple(names[j] for j in numeric),
        values,
        tuple(names[j] for j in text),
        categorical_values,
        request_ids,
        labels,
        trace_ids,
        span_ids,
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
    traces = (
        None if all(t is None for t in trace_ids) else pack_traces(trace_ids, [*chain(*(b.span_ids for b in blocks))])
    )
    if len(blocks) == 1:
        b = blocks[0]
        return RecordBatch(model, b.numeric, b.values, version, b.categorical, b.categorical_values, ids, truth, traces)
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
    return RecordBatch(model, numeric, values, version, categorical, categorical_values, ids, truth, traces)


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
