"""Prediction records as an Arrow IPC stream (`application/vnd.apache.arrow.stream`) → per-model batches.

A column per feature, plus `model` (string, required), and optionally `prediction` (number or string),
`request_id`, `model_version`, `trace_id`, `span_id` (strings), `label` (number or string) and `timestamp`
(any type; not used: windows follow arrival, as for JSON records). Numeric and boolean columns are what the
same records give as JSON: numbers become float64 (null: NaN), strings and booleans ("true"/"false") are
categorical, the prediction is a column named "prediction" after the features.

Bounded before anything is decoded: the body is at most `limits.max_body_bytes` (the API's body reader), its
schema names at most `max_columns` columns, and the rows its record batch messages declare (read from each
message's header, not its data) are at most `max_records`. Compressed IPC buffers are refused: uncompressed,
the columns are the body's own bytes (read without a copy), so what is decoded is never larger than what was
sent. A stream that cannot be read (truncated, not Arrow), a column of a type records cannot hold (lists,
structs, binary, ...; so no embeddings, which come in JSON records only), a missing `model` column or a bad
column name refuses the request whole (`InputError`, 400; `BodyTooLarge`, 413); a row with a bad model name,
an infinite number or an over-long category is rejected alone, as the JSON record would be.

pyarrow is imported when the first Arrow body arrives: a daemon that never receives one never loads it.
"""

from __future__ import annotations

import struct
from typing import Any

import numpy as np

from driftwarden.core.arrays import FloatArray, ObjectArray
from driftwarden.core.errors import BodyTooLarge, InputError
from driftwarden.core.records import MODEL_NAME, PREDICTION, ParseResult, RecordBatch, pack_traces

__all__ = ["ARROW_STREAM", "parse_arrow"]

ARROW_STREAM = "application/vnd.apache.arrow.stream"
MAX_FEATURE_NAME = 128
MAX_CATEGORY = 256
FIELDS = ("model", "prediction", "request_id", "model_version", "label", "trace_id", "span_id", "timestamp")
_SCHEMA, _DICTIONARY, _RECORD_BATCH = 1, 2, 3  # flatbuffers MessageHeader union tags (Message.fbs)


def parse_arrow(body: bytes, *, max_records: int, max_columns: int) -> ParseResult:
    """The stream's rows as batches (one per model) in a new `ParseResult`; see the module's doc."""
    rows, columns = _declared(body)  # from the message headers: nothing decoded yet
    if columns > max_columns:
        raise BodyTooLarge(
            f"{columns} columns in the Arrow schema; at most {max_columns} (limits.max_features plus the record "
            "fields): send fewer features"
        )
    if rows > max_records:
        raise BodyTooLarge(f"{rows} rows in one request; the limit is {max_records}: split the batch")
    import pyarrow as pa  # loaded with the first Arrow body (start-up time)
    import pyarrow.compute  # pa.compute

    try:
        table = pa.ipc.open_stream(pa.py_buffer(body)).read_all()
    except (pa.ArrowException, OSError, ValueError) as exc:
        raise InputError(f"body is not a readable Arrow IPC stream: {exc}", code="bad_arrow") from None
    return _table(table, pa)


def _declared(body: bytes) -> tuple[int, int]:
    """(rows declared by the record batch messages, columns of the schema), from the messages' flatbuffer
    headers (Arrow's Message.fbs) without reading any column; `InputError` for a stream that is not one."""
    view = memoryview(body)
    at, rows, columns, seen_schema = 0, 0, -1, False
    try:
        while at + 8 <= len(body):
            (length,) = struct.unpack_from("<i", body, at)
            at += 4
            if length == -1:  # the continuation marker of the current format; the length follows
                (length,) = struct.unpack_from("<i", body, at)
                at += 4
            if length == 0:  # end of stream
                break
            if length < 0 or at + length > len(body):
                raise InputError(
                    "the Arrow stream is truncated (a message header runs past the body)", code="bad_arrow"
                )
            meta = view[at : at + length]
            kind, header, body_length = _message(meta)
            at += length + body_length
            if at > len(body):
                raise InputError("the Arrow stream is truncated (a message body runs past the body)", code="bad_arrow")
            if kind == _SCHEMA and not seen_schema:
                seen_schema, columns = True, _vector_length(meta, header, 1)  # Schema.fields
            elif kind in (_RECORD_BATCH, _DICTIONARY):
                if header is None:
                    raise InputError("an Arrow IPC message without its header", code="bad_arrow")
                batch = header if kind == _RECORD_BATCH else _offset_field(meta, header, 1)  # DictionaryBatch.data
                if batch is not None and _offset_field(meta, batch, 3) is not None:  # RecordBatch.compression
                    raise InputError(
                        "compressed Arrow IPC buffers are not accepted: write the stream uncompressed (compress the "
                        "HTTP body with Content-Encoding: gzip instead)",
                        code="bad_arrow",
                    )
                if kind == _RECORD_BATCH and batch is not None:
                    rows += _scalar(meta, batch, 0, "<q")  # RecordBatch.length
            elif kind != _SCHEMA:
                raise InputError(f"unexpected Arrow IPC message (type {kind}) in the stream", code="bad_arrow")
    except (struct.error, IndexError):
        raise InputError(
            "body is not an Arrow IPC stream (its message headers cannot be read)", code="bad_arrow"
        ) from None
    if not seen_schema:
        raise InputError("body is not an Arrow IPC stream (no schema message)", code="bad_arrow")
    return rows, columns


def _table_at(meta: memoryview) -> int:
    (root,) = struct.unpack_from("<I", meta, 0)
    return int(root)


def _field_position(meta: memoryview, table: int, field: int) -> int | None:
    (vtable_back,) = struct.unpack_from("<i", meta, table)
    vtable = table - vtable_back
    (vtable_size,) = struct.unpack_from("<H", meta, vtable)
    if 4 + 2 * field >= vtable_size:
        return None
    (offset,) = struct.unpack_from("<H", meta, vtable + 4 + 2 * field)
    return table + offset if offset else None


def _scalar(meta: memoryview, table: int, field: int, fmt: str) -> int:
    at = _field_position(meta, table, field)
    if at is None:
        return 0
    (value,) = struct.unpack_from(fmt, meta, at)
    if value < 0:
        raise InputError("the Arrow stream declares a negative length", code="bad_arrow")
    return int(value)


def _offset_field(meta: memoryview, table: int, field: int) -> int | None:
    at = _field_position(meta, table, field)
    if at is None:
        return None
    (offset,) = struct.unpack_from("<I", meta, at)
    return at + int(offset)


def _vector_length(meta: memoryview, table: int | None, field: int) -> int:
    vector = None if table is None else _offset_field(meta, table, field)
    if vector is None:
        return 0
    (n,) = struct.unpack_from("<I", meta, vector)
    return int(n)


def _message(meta: memoryview) -> tuple[int, int | None, int]:
    """(header type, header table position, body length) of a Message (version 0, header_type 1, header 2,
    bodyLength 3)."""
    message = _table_at(meta)
    return _scalar(meta, message, 1, "<B"), _offset_field(meta, message, 2), _scalar(meta, message, 3, "<q")


def _table(table: Any, pa: Any) -> ParseResult:
    result = ParseResult()
    names = table.column_names
    problems = [n for n in names if not n or len(n) > MAX_FEATURE_NAME]
    if problems:
        raise InputError(
            f"column names are 1-{MAX_FEATURE_NAME} characters (got one of {len(problems[0])})", code="bad_feature_name"
        )
    if len(set(names)) != len(names):
        raise InputError("the Arrow schema names a column twice", code="bad_arrow")
    if "model" not in names:
        raise InputError("the Arrow stream has no 'model' column (a string per row)", code="bad_arrow")
    kinds = {name: _kind(name, table.schema.field(name).type, pa) for name in names}
    if table.num_rows == 0:
        return result
    table = table.combine_chunks()
    model_column = table.column("model")
    distinct = list(dict.fromkeys(_plain(model_column).unique().to_pylist()))
    if model_column.null_count and None not in distinct:
        distinct.append(None)
    good = {m for m in distinct if type(m) is str and MODEL_NAME.fullmatch(m)}
    one = len(distinct) == 1 and len(good) == 1
    models = None if one else _strings(model_column)  # one model (the common case): no per-row array
    features = [n for n in names if n not in FIELDS]
    keep = np.ones(table.num_rows, dtype=bool)
    if models is not None and good != set(distinct):
        for index in np.flatnonzero([m not in good for m in models]).tolist():
            keep[index] = False
            result.reject(
                index,
                "bad_model",
                f"record {index}: 'model' must be a name of 1-63 letters, digits or _.:- (got {models[index]!r:.80})",
                "/model",
            )
    numeric = [n for n in features if kinds[n] == "number"]
    text = [n for n in features if kinds[n] != "number"]
    if "prediction" in names and PREDICTION not in features:
        (numeric if kinds["prediction"] == "number" else text).append(PREDICTION)
    values = np.empty((len(numeric), table.num_rows), dtype=np.float64).T  # column by column: contiguous writes
    for j, name in enumerate(numeric):
        values[:, j] = _floats(table.column(name), pa)
    categorical = np.empty((table.num_rows, len(text)), dtype=object)
    long_text = np.zeros((table.num_rows, len(text)), dtype=bool)
    for j, name in enumerate(text):
        categorical[:, j], long_text[:, j] = _categories(table.column(name), kinds[name], pa)
    _reject_rows(result, keep, values, numeric, long_text, text)
    request_ids = _strings(table.column("request_id")) if "request_id" in names else None
    labels = _labels(table.column("label"), kinds["label"]) if "label" in names else None
    versions = _strings(table.column("model_version")) if "model_version" in names else None
    traces = None
    if "trace_id" in names:
        spans = _strings(table.column("span_id")).tolist() if "span_id" in names else [None] * table.num_rows
        traces = pack_traces(_strings(table.column("trace_id")).tolist(), spans)
    for model in (m for m in distinct if m in good):
        rows = keep if models is None else keep & (models == model)
        whole = bool(rows.all())
        if not whole and not rows.any():
            continue

        def pick(a: Any, rows: Any = rows, whole: bool = whole) -> Any:
            return a if a is None or whole else a[rows]

        version = None
        if versions is not None:
            named = [v for v in pick(versions).tolist() if type(v) is str and 0 < len(v) <= 64]
            version = named[-1] if named else None
        batch = RecordBatch(
            model,
            tuple(numeric),
            pick(values),
            version,
            tuple(text),
            pick(categorical),
            pick(request_ids),
            pick(labels),
            pick(traces),
        )
        result.batches.append(batch)
        result.accepted += batch.rows
    return result


def _kind(name: str, kind: Any, pa: Any) -> str:
    """ "number", "text" or "bool" for a column records can hold; `InputError` for any other."""
    types = pa.types
    if pa.types.is_dictionary(kind):
        kind = kind.value_type
    if name == "timestamp":
        return "any"
    strings = types.is_string(kind) or types.is_large_string(kind) or types.is_string_view(kind)
    if name in ("model", "request_id", "model_version", "trace_id", "span_id"):
        if not strings and not types.is_null(kind):
            raise InputError(f"column {name!r} is {kind}; it must be a string column", code="bad_arrow_type")
        return "text"
    if types.is_integer(kind) or types.is_floating(kind) or types.is_null(kind):
        return "number"
    if types.is_boolean(kind):
        return "bool"
    if strings:
        return "text"
    vectors = types.is_list(kind) or types.is_large_list(kind) or types.is_fixed_size_list(kind)
    raise InputError(
        f"column {name!r} is {kind}; features, prediction and label are numbers, strings or booleans"
        + ("; embeddings (models.<m>.embeddings) are sent in JSON or NDJSON records, not in Arrow" if vectors else ""),
        code="bad_arrow_type",
    )


def _plain(column: Any) -> Any:
    """A dictionary-encoded column as its values."""
    import pyarrow as pa

    return column.cast(column.type.value_type) if pa.types.is_dictionary(column.type) else column


def _strings(column: Any) -> ObjectArray:
    """A (rows,) object array of a string column's values, None where null."""
    out = np.empty(len(column), dtype=object)
    out[:] = _plain(column).to_numpy(zero_copy_only=False)
    return out


def _floats(column: Any, pa: Any) -> FloatArray:
    """A numeric column as float64, NaN where null: a view of the body's bytes when it is already a float64
    column without nulls (a chunked array's `to_numpy` would copy it)."""
    if column.null_count:
        column = column.cast(pa.float64()).fill_null(np.nan)
    array = column.chunk(0) if column.num_chunks == 1 else column.combine_chunks()
    out: FloatArray = array.to_numpy(zero_copy_only=False).astype(np.float64, copy=False)
    return out


def _categories(column: Any, kind: str, pa: Any) -> tuple[ObjectArray, Any]:
    """A categorical column's values (booleans spelled "true"/"false") and where they are longer than
    MAX_CATEGORY characters."""
    column = _plain(column)
    if kind == "bool":
        column = column.cast(pa.string())
    if pa.types.is_null(column.type):
        return np.full(len(column), None, dtype=object), np.zeros(len(column), dtype=bool)
    too_long = pa.compute.greater(pa.compute.utf8_length(column), MAX_CATEGORY).fill_null(False)
    return _strings(column), too_long.to_numpy(zero_copy_only=False)


def _labels(column: Any, kind: str) -> ObjectArray:
    out = np.empty(len(column), dtype=object)
    out[:] = column.to_pylist()
    if kind == "bool":  # as JSON records spell a boolean class
        out[:] = [None if v is None else ("true" if v else "false") for v in out]
    return out


def _reject_rows(
    result: ParseResult,
    keep: Any,
    values: FloatArray,
    numeric: list[str],
    long_text: Any,
    text: list[str],
) -> None:
    """Rows with an infinite number or an over-long category, rejected as the JSON record would be."""
    bad_numbers = np.isinf(values)
    rows = keep & (bad_numbers.any(axis=1) | long_text.any(axis=1))
    for index in np.flatnonzero(rows).tolist():
        keep[index] = False
        j = int(np.argmax(bad_numbers[index])) if bad_numbers[index].any() else -1
        name = numeric[j] if j >= 0 else text[int(np.argmax(long_text[index]))]
        problem = "is not finite; use a finite number (or null when missing)" if j >= 0 else "is a string longer than "
        if j < 0:
            problem += f"{MAX_CATEGORY} characters"
        pointer = "/prediction" if name == PREDICTION else "/features/" + name.replace("~", "~0").replace("/", "~1")
        result.reject(index, "bad_feature_value", f"record {index}: {name!r} {problem}", pointer)
