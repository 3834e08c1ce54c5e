"""Prediction records (JSON array or NDJSON) → per-model columnar batches.

A record is `{"model": "fraud", "features": {"amount": 12.5, "country": "DE"}, ...}`
(design.md). Bad records are reported one by one and the rest accepted; a body that
cannot be read at all raises `BodyError` with the HTTP status to answer.

Numbers become float columns in one `np.array` call per group of records sharing a
feature layout; the per-record Python work is only the dict look-ups JSON parsing
already implies. Strings and booleans are categorical values: validated and counted
here, not yet monitored downstream.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from itertools import chain
from typing import Any

import numpy as np
import orjson

from collector.errors import BodyError

__all__ = ["BodyError", "ParseResult", "RecordBatch", "RecordError", "parse_records"]

JSON_TYPES = {"application/json"}
NDJSON_TYPES = {"application/x-ndjson", "application/ndjson", "application/jsonl", "application/x-jsonlines"}
MODEL_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,62}$")
MAX_FEATURE_NAME = 128
MAX_REPORTED_ERRORS = 100
_NUMBER_TYPES = {int, float, type(None)}


@dataclass(frozen=True)
class RecordError:
    index: int  # 0-based position of the record (NDJSON: of the non-blank line)
    reason: str  # a short code, also the label of the rejected-records counter
    message: str

    def to_dict(self) -> dict[str, Any]:
        return {"index": self.index, "reason": self.reason, "message": self.message}


@dataclass(frozen=True)
class RecordBatch:
    model: str
    features: tuple[str, ...]
    values: np.ndarray  # (rows, features) float64, NaN missing
    model_version: str | None = None  # the last one the records named


@dataclass
class ParseResult:
    batches: list[RecordBatch] = field(default_factory=list)
    accepted: int = 0
    errors: list[RecordError] = field(default_factory=list)  # the first MAX_REPORTED_ERRORS
    rejected_by_reason: Counter[str] = field(default_factory=Counter)

    @property
    def rejected(self) -> int:
        return sum(self.rejected_by_reason.values())

    def reject(self, index: int, reason: str, message: str) -> None:
        self.rejected_by_reason[reason] += 1
        if len(self.errors) < MAX_REPORTED_ERRORS:
            self.errors.append(RecordError(index, reason, message))

    def to_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "accepted": self.accepted,
            "rejected": self.rejected,
            "errors": [e.to_dict() for e in self.errors],
        }
        if self.rejected > len(self.errors):
            body["errors_truncated"] = True
        return body


def parse_records(body: bytes, content_type: str | None, *, max_records: int = 100_000) -> ParseResult:
    media = (content_type or "").split(";")[0].strip().lower()
    result = ParseResult()
    if media in JSON_TYPES:
        records = _json_array(body)
    elif media in NDJSON_TYPES:
        records = _ndjson_lines(body, result)
    else:
        raise BodyError(
            415,
            f"unsupported Content-Type {media or '(none)'!r}: send application/json (an array of records) "
            "or application/x-ndjson (one record per line)",
        )
    if len(records) > max_records:
        raise BodyError(413, f"{len(records)} records in one request; the limit is {max_records}: split the batch")

    groups: dict[tuple[str, tuple[str, ...]], list[tuple[int, list]]] = defaultdict(list)
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
        groups[(model, tuple(features))].append((index, list(features.values())))
        version = record.get("model_version")
        if type(version) is str and 0 < len(version) <= 64:
            versions[model] = version

    per_model: dict[str, list[tuple[tuple[str, ...], np.ndarray]]] = defaultdict(list)
    for (model, names), rows in groups.items():
        kept = _numeric_block(names, rows, result)
        if kept is not None:
            per_model[model].append(kept)
    for model, blocks in per_model.items():
        batch = _merge(model, blocks, versions.get(model))
        result.batches.append(batch)
        result.accepted += batch.values.shape[0]
    return result


def _json_array(body: bytes) -> list[tuple[int, Any]]:
    try:
        parsed = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise BodyError(400, f"body is not valid JSON: {exc}") from exc
    if isinstance(parsed, dict):
        parsed = [parsed]
    if not isinstance(parsed, list):
        raise BodyError(400, f"expected a JSON array of records, got {type(parsed).__name__}")
    return list(enumerate(parsed))


def _ndjson_lines(body: bytes, result: ParseResult) -> list[tuple[int, Any]]:
    records = []
    for index, line in enumerate(line for line in body.splitlines() if line and not line.isspace()):
        try:
            records.append((index, orjson.loads(line)))
        except orjson.JSONDecodeError as exc:
            result.reject(index, "invalid_json", f"record {index} is not valid JSON: {exc}")
    return records


def _check_record(index: int, record: Any, result: ParseResult) -> tuple[str, dict] | None:
    if not isinstance(record, dict):
        result.reject(index, "not_an_object", f"record {index} is a {type(record).__name__}, expected an object")
        return None
    model = record.get("model")
    if not isinstance(model, str) or not MODEL_NAME.match(model):
        result.reject(
            index,
            "bad_model",
            f"record {index}: 'model' must be a name of 1-63 letters, digits or _.:- (got {model!r:.80})",
        )
        return None
    features = record.get("features")
    if not isinstance(features, dict):
        result.reject(index, "bad_features", f"record {index}: 'features' must be an object of name: value")
        return None
    return model, features


def _numeric_block(
    names: tuple[str, ...], rows: list[tuple[int, list]], result: ParseResult
) -> tuple[tuple[str, ...], np.ndarray] | None:
    """Rows that share a feature layout → (numeric names, float array), rejecting bad rows."""
    bad_name = next((n for n in names if not n or len(n) > MAX_FEATURE_NAME), None)
    if bad_name is not None:
        for index, _ in rows:
            result.reject(
                index, "bad_feature_name", f"record {index}: feature names are 1-{MAX_FEATURE_NAME} characters"
            )
        return None
    kinds = set(map(type, chain.from_iterable(values for _, values in rows)))
    if kinds <= _NUMBER_TYPES:
        good_rows, numeric = rows, list(range(len(names)))
    else:
        good_rows, numeric = _rows_with_valid_values(names, rows, result)
    if not good_rows:
        return None
    if len(numeric) == len(names):
        table = [values for _, values in good_rows]
    else:
        table = [[values[j] for j in numeric] for _, values in good_rows]
    # orjson refuses NaN, Infinity, 1e999 and integers beyond 64 bits: every number here is finite
    values = np.array(table, dtype=np.float64).reshape(len(good_rows), len(numeric))
    return tuple(names[j] for j in numeric), values


def _rows_with_valid_values(
    names: tuple[str, ...], rows: list[tuple[int, list]], result: ParseResult
) -> tuple[list[tuple[int, list]], list[int]]:
    """The slow path: find nested values and features mixing numbers with strings."""
    is_number = [False] * len(names)
    is_text = [False] * len(names)
    for _, values in rows:
        for j, v in enumerate(values):
            if isinstance(v, (int, float)) and not isinstance(v, bool):
                is_number[j] = True
            elif isinstance(v, (str, bool)):
                is_text[j] = True
    good = []
    for index, values in rows:
        problem = None
        for j, v in enumerate(values):
            if isinstance(v, (dict, list)):
                problem = f"feature {names[j]!r} is a {type(v).__name__}; use a number, string, boolean or null"
            elif is_number[j] and isinstance(v, (str, bool)):
                problem = f"feature {names[j]!r} is {v!r:.40} but other records send numbers for it"
            if problem:
                result.reject(index, "bad_feature_value", f"record {index}: {problem}")
                break
        else:
            good.append((index, values))
    numeric = [j for j in range(len(names)) if is_number[j] or not is_text[j]]
    return good, numeric


def _merge(model: str, blocks: list[tuple[tuple[str, ...], np.ndarray]], version: str | None) -> RecordBatch:
    if len(blocks) == 1:
        names, values = blocks[0]
        return RecordBatch(model, names, values, version)
    names = tuple(dict.fromkeys(chain.from_iterable(b[0] for b in blocks)))
    column = {n: j for j, n in enumerate(names)}
    out = np.full((sum(b[1].shape[0] for b in blocks), len(names)), np.nan)
    start = 0
    for block_names, values in blocks:
        cols = [column[n] for n in block_names]
        out[start : start + values.shape[0], cols] = values
        start += values.shape[0]
    return RecordBatch(model, names, out, version)
