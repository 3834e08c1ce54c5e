"""Tabular files (CSV, Parquet, NDJSON) → named float columns plus category counts.

Used for reference uploads and `driftwarden check`. A row of an NDJSON file may be a
prediction record (`{"model": ..., "features": {...}}`): its `features` are the columns.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl

__all__ = ["Table", "TableError", "format_from_content_type", "format_from_path", "read_table"]

FORMATS = ("csv", "parquet", "ndjson")
_CONTENT_TYPES = {
    "text/csv": "csv",
    "application/csv": "csv",
    "application/vnd.apache.parquet": "parquet",
    "application/x-parquet": "parquet",
    "application/parquet": "parquet",
    "application/x-ndjson": "ndjson",
    "application/ndjson": "ndjson",
    "application/jsonl": "ndjson",
    "application/x-jsonlines": "ndjson",
}
LOW_CARDINALITY = 10  # integer columns with at most this many distinct values are categorical
_SUFFIXES = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet", ".ndjson": "ndjson", ".jsonl": "ndjson"}


class TableError(ValueError):
    """The input cannot be read as a table; the message says why, for a person."""


@dataclass(frozen=True)
class Table:
    numeric: tuple[str, ...]
    values: np.ndarray  # (rows, numeric) float64, NaN for missing
    categories: dict[str, dict[str, int]]  # non-numeric column -> value -> count
    rows: int


def format_from_content_type(content_type: str | None, body: bytes) -> str:
    media = (content_type or "").split(";")[0].strip().lower()
    if media in _CONTENT_TYPES:
        return _CONTENT_TYPES[media]
    if body[:4] == b"PAR1":
        return "parquet"
    raise TableError(
        f"unsupported Content-Type {media or '(none)'!r}: send text/csv, "
        "application/vnd.apache.parquet or application/x-ndjson"
    )


def format_from_path(path: Path) -> str:
    fmt = _SUFFIXES.get(path.suffix.lower())
    if fmt is None:
        raise TableError(f"cannot tell the format from the extension {path.suffix!r}: use .csv, .parquet or .ndjson")
    return fmt


def read_table(source: bytes | Path, fmt: str | None = None, kinds: dict[str, str] | None = None) -> Table:
    """Read CSV/Parquet/NDJSON bytes or a file into numeric columns and category counts.

    Numbers are numeric and strings and booleans categorical, except integer columns with at
    most LOW_CARDINALITY distinct values in 20 times as many rows (categorical) and what `kinds` (feature -> "numeric" |
    "categorical", the config's `features:`) says.
    """
    if isinstance(source, Path):
        fmt = fmt or format_from_path(source)
        try:
            data = source.read_bytes()
        except OSError as exc:
            raise TableError(exc.strerror or str(exc)) from exc
    else:
        data = source
    if fmt not in FORMATS:
        raise TableError(f"unknown format {fmt!r}; expected one of {', '.join(FORMATS)}")
    if not data.strip():
        raise TableError("the input is empty")
    try:
        frame = _read_frame(data, fmt)
    except (pl.exceptions.PolarsError, OSError, ValueError) as exc:
        raise TableError(f"cannot parse as {fmt}: {_first_line(exc)}") from exc
    return _to_table(frame, kinds)


def _read_frame(data: bytes, fmt: str) -> pl.DataFrame:
    buf = io.BytesIO(data)
    if fmt == "csv":
        return pl.read_csv(buf, infer_schema_length=10_000, null_values=["", "NA", "null", "NaN"])
    if fmt == "parquet":
        return pl.read_parquet(buf)
    frame = pl.read_ndjson(buf, infer_schema_length=10_000)
    if "features" in frame.columns and isinstance(frame.schema["features"], pl.Struct):
        return frame.get_column("features").struct.unnest()
    return frame


def _low_cardinality(column: pl.Series) -> bool:
    # a few rows say nothing about cardinality: three distinct ages in three rows are still ages
    return len(column) >= 20 * LOW_CARDINALITY and column.n_unique() <= LOW_CARDINALITY


def _to_table(frame: pl.DataFrame, kinds: dict[str, str] | None = None) -> Table:
    if frame.width == 0 or frame.height == 0:
        raise TableError("the input has no rows or no columns")
    numeric, categorical, unsupported = [], [], []
    kinds = kinds or {}
    for name, dtype in frame.schema.items():
        kind = kinds.get(name)
        if kind == "categorical" and dtype != pl.Null:
            categorical.append(name)
        elif kind == "numeric" and not dtype.is_numeric() and dtype != pl.Null:
            raise TableError(f"column {name!r} is configured numeric but holds {dtype} values")
        elif dtype.is_integer() and kind is None and _low_cardinality(frame.get_column(name)):
            categorical.append(name)  # codes, flags, ratings: counted per value, not ranked
        elif dtype.is_numeric():
            numeric.append(name)
        elif dtype in (pl.String, pl.Boolean, pl.Categorical) or isinstance(dtype, pl.Enum):
            categorical.append(name)
        elif dtype == pl.Null:
            numeric.append(name)  # all missing: kept so that its missing rate is reported
        else:
            unsupported.append(f"{name} ({dtype.base_type() if dtype.is_nested() else dtype})")  # repr recurses
    if unsupported:
        raise TableError(f"columns of unsupported type (use numbers or strings): {', '.join(unsupported)}")
    values = (
        frame.select(pl.col(numeric).cast(pl.Float64)).to_numpy(order="fortran").astype(np.float64, copy=False)
        if numeric
        else np.empty((frame.height, 0))
    )
    if np.isinf(values).any():
        bad = [numeric[j] for j in np.flatnonzero(np.isinf(values).any(axis=0))]
        raise TableError(f"infinite values in column(s) {', '.join(bad)}: remove them or use null")
    categories = {}
    for name in categorical:
        counts = frame.get_column(name).cast(pl.String).drop_nulls().value_counts()  # 3 -> "3", True -> "true"
        categories[name] = dict(zip(counts[name].to_list(), counts["count"].to_list(), strict=True))
    return Table(numeric=tuple(numeric), values=values, categories=categories, rows=frame.height)


def _first_line(exc: Exception) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
