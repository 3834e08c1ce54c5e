"""Tabular files (CSV, Parquet, NDJSON) → named float columns plus category counts.

Used for reference uploads and `driftwarden check`. A row of an NDJSON file may be a
prediction record (`{"model": ..., "features": {...}}`): its `features` are the columns.

`read_table` reads everything into memory (request bodies, small files); `scan_table` reads a
file with polars' lazy scans and streaming engine, so that its memory follows the sample size
and the number of categories, not the file size. Both decide kinds with `column_kinds`.

`TableLimits` are checked before rows are read: the columns kept (count, names, types) from the
header or schema, and for a body read whole its rows and decoded size, from the Parquet footer
(a few KB of zstd can stand for a billion rows) or by reading CSV/NDJSON up to one row past the limit.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl

from driftwarden.collector.predictions import MAX_FEATURE_NAME
from driftwarden.core.arrays import FloatArray, IntArray
from driftwarden.core.errors import BodyTooLarge, DriftwardenError, InputError, TooManyFeatures

__all__ = [
    "IGNORE",
    "ScannedTable",
    "Table",
    "TableError",
    "TableLimits",
    "check_readable",
    "column_kinds",
    "format_from_content_type",
    "format_from_path",
    "read_frame",
    "read_table",
    "sample_frame",
    "scan_table",
    "table_from_frame",
]

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
IGNORE = "ignore"  # the kind (config `features:`) of a column left out, as if it were not there
LOW_CARDINALITY = 10  # integer columns with at most this many distinct values are categorical
_EXACT_BELOW = 100  # scan_table counts exactly the distinct values of integer columns estimated below this
_NULL_VALUES = ["", "NA", "null", "NaN"]
_INFER_ROWS = 10_000
_SUFFIXES = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet", ".ndjson": "ndjson", ".jsonl": "ndjson"}


class TableError(InputError):
    """The input cannot be read as a table; the message says why, for a person."""


@dataclass(frozen=True)
class TableLimits:
    """What a table fitted as a reference may hold, checked before its rows are read.

    `max_columns` (limits.max_features) and the record rule for names (1-128 characters) apply to
    the columns kept; `max_rows` and `max_bytes` (its decoded size, estimated at 8 bytes a number
    and 16 any other value) to a body read whole: a file is sampled to a bounded size instead.
    """

    max_columns: int
    max_rows: int | None = None
    max_bytes: int | None = None

    def check_columns(self, schema: Mapping[str, pl.DataType], kinds: Mapping[str, str] | None) -> None:
        """Names, count and types of the kept columns; raises TableError or TooManyFeatures."""
        for position, name in enumerate(schema, 1):
            if not name:
                raise TableError(
                    f"column {position} has no name (an index written by pandas' to_csv? write it with "
                    f"index=False); feature names are 1-{MAX_FEATURE_NAME} characters, as in prediction records",
                    code="bad_feature_name",
                )
            if len(name) > MAX_FEATURE_NAME:
                raise TableError(
                    f"column {position} ({name[:40]!r}...) has a name of {len(name)} characters; feature names "
                    f"are 1-{MAX_FEATURE_NAME}, as in prediction records",
                    code="bad_feature_name",
                )
        if len(schema) > self.max_columns:
            raise TooManyFeatures(
                f"{len(schema)} columns; at most {self.max_columns} features are tracked per model "
                "(limits.max_features): keep only the model's features, or list the others in redact"
            )
        column_kinds(schema, 0, kinds, lambda _: 0)  # unsupported types refused before any value is decoded

    def check_size(self, rows: int, schema: Mapping[str, pl.DataType], *, all_rows: bool = True) -> None:
        """Rows (all of them, or those read up to one past the limit) and estimated decoded size of a
        body read whole; raises BodyTooLarge."""
        if self.max_rows is not None and rows > self.max_rows:
            raise BodyTooLarge(
                f"{f'{rows:,}' if all_rows else f'more than {self.max_rows:,}'} rows; a reference upload holds "
                f"at most {self.max_rows:,} "
                "(limits.max_reference_rows): upload a sample, or fit the file with `driftwarden reference build` "
                "or models.<model>.reference, which sample it",
                code="too_many_rows",
            )
        size = rows * sum(8 if dtype.is_numeric() or dtype == pl.Boolean else 16 for dtype in schema.values())
        if self.max_bytes is not None and size > self.max_bytes:
            raise BodyTooLarge(
                f"{rows:,} rows of {len(schema)} columns decode to about {size / 2**20:,.0f} MiB; the limit is "
                f"{self.max_bytes / 2**20:,.0f} MiB (limits.max_reference_bytes): upload fewer rows or columns",
                code="decoded_too_large",
            )


@dataclass(frozen=True)
class Table:
    numeric: tuple[str, ...]
    values: FloatArray  # (rows, numeric), NaN for missing
    categories: dict[str, dict[str, int]]  # non-numeric column -> value -> count
    rows: int


@dataclass(frozen=True)
class ScannedTable:
    """A file summarised by `scan_table`: counts over all rows, numeric values from a sample."""

    numeric: tuple[str, ...]
    values: FloatArray  # (sampled rows, numeric), NaN for missing: a uniform sample, in file order
    categories: dict[str, dict[str, int]]  # categorical column -> value -> count, over all rows
    rows: int  # all rows of the file
    nulls: dict[str, int]  # kept column -> missing values over all rows

    @property
    def sampled(self) -> bool:
        return len(self.values) < self.rows


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


def read_table(
    source: bytes | Path,
    fmt: str | None = None,
    kinds: dict[str, str] | None = None,
    *,
    limits: TableLimits | None = None,
    drop: Collection[str] = (),
) -> Table:
    """Read CSV/Parquet/NDJSON bytes or a file into numeric columns and category counts.

    Numbers are numeric and strings and booleans categorical, except integer columns with at
    most LOW_CARDINALITY distinct values in 20 times as many rows (categorical) and what `kinds` (feature -> "numeric" |
    "categorical", the config's `features:`) says. Columns in `drop` are not read. `limits` are
    checked before the rows are read (TableError, TooManyFeatures, BodyTooLarge).
    """
    return table_from_frame(read_frame(source, fmt, kinds, limits=limits, drop=drop), kinds)


def read_frame(
    source: bytes | Path,
    fmt: str | None = None,
    kinds: Mapping[str, str] | None = None,
    *,
    limits: TableLimits | None = None,
    drop: Collection[str] = (),
) -> pl.DataFrame:
    """The columns of CSV/Parquet/NDJSON bytes or a file as they are (kinds not decided yet): what
    `read_table` reads, for a caller that picks its columns first (`driftwarden check`)."""
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
        return _read_frame(data, fmt, kinds, limits, drop)
    except DriftwardenError:
        raise
    except (pl.exceptions.PolarsError, OSError, ValueError) as exc:
        raise TableError(f"cannot parse as {fmt}: {_first_line(exc)}") from exc


def scan_table(
    path: Path,
    fmt: str | None = None,
    kinds: dict[str, str] | None = None,
    *,
    sample: int,
    drop: Collection[str] = (),
    limits: TableLimits | None = None,
    seed: int = 0,
    on_step: Callable[[str], None] | None = None,
) -> ScannedTable:
    """Summarise a CSV/Parquet/NDJSON file without loading it: three streaming passes over the file.

    1. rows, nulls per column, infinities, and an estimate of each integer column's distinct values;
    2. value counts of every column that may be categorical (strings, booleans, integer columns
       estimated to have fewer than 100 distinct values, counted exactly to decide their kind);
    3. the numeric columns of `sample` rows drawn uniformly without replacement (seeded), or of
       every row when there are no more.

    Kinds are those `read_table` gives (`column_kinds`); columns in `drop` are neither counted nor
    sampled. The columns of `limits` are checked from the schema, before pass 1. Memory: the sample
    (rows x numeric columns x 8 bytes), the distinct values of the categorical columns and polars'
    batches. `on_step` is told what each pass is about to do.
    """
    step = on_step or (lambda _: None)
    fmt = fmt or format_from_path(path)
    if fmt not in FORMATS:
        raise TableError(f"unknown format {fmt!r}; expected one of {', '.join(FORMATS)}")
    try:
        with path.open("rb") as f:
            if not f.read(1 << 16).strip() and not f.read(1):
                raise TableError("the input is empty")
    except OSError as exc:
        raise TableError(exc.strerror or str(exc)) from exc
    try:
        step("reading the schema")
        frame = _scan_frame(path, fmt)
        schema = frame.collect_schema()
        if not schema:
            raise TableError("the input has no rows or no columns")
        if limits is not None:
            limits.check_columns(_kept(schema, drop), kinds)
        step("counting rows, missing values and categories")
        rows, nulls, estimates, infinite = _counts(frame, schema, kinds or {})
        if rows == 0:
            raise TableError("the input has no rows or no columns")
        maybe = column_kinds(schema, rows, kinds, lambda name: 0 if estimates[name] < _EXACT_BELOW else estimates[name])
        counted = [name for name, kind in maybe.items() if kind == "categorical" and name not in drop]
        counts = _value_counts(frame, counted)
        distinct = {name: len(freq) + (nulls[name] > 0) for name, freq in counts.items()}
        decided = column_kinds(schema, rows, kinds, lambda name: distinct.get(name, estimates[name]))
        bad = [name for name in infinite if decided[name] == "numeric"]
        if bad:
            raise TableError(f"infinite values in column(s) {', '.join(bad)}: remove them or use null")
        numeric = [name for name, kind in decided.items() if kind == "numeric" and name not in drop]
        categories = {name: counts[name] for name, kind in decided.items() if kind == "categorical" and name in counts}
        step(f"sampling {min(sample, rows):,} of {rows:,} rows" if sample < rows else f"reading {rows:,} rows")
        values = _sample(frame, numeric, rows, sample, seed, row_index=_unused("__row", schema))
    except (pl.exceptions.PolarsError, OSError, ValueError) as exc:
        if isinstance(exc, DriftwardenError):
            raise
        raise TableError(f"cannot parse as {fmt}: {_first_line(exc)}") from exc
    kept = {name: nulls[name] for name in decided if name not in drop}
    return ScannedTable(numeric=tuple(numeric), values=values, categories=categories, rows=rows, nulls=kept)


def sample_frame(
    path: Path, fmt: str | None = None, *, columns: Collection[str], size: int, seed: int = 0
) -> pl.DataFrame:
    """`columns` (those the file has) of `size` uniformly drawn rows of a file (all rows if there are no
    more), whole and in file order: a streaming pass, memory of the sample only."""
    fmt = fmt or format_from_path(path)
    try:
        frame = _scan_frame(path, fmt)
        schema = frame.collect_schema()
        kept = [name for name in schema if name in set(columns)]
        rows = int(frame.select(pl.len()).collect(engine="streaming").item())
        if size < rows:
            index = pl.Series(_sample_rows(rows, size, seed), dtype=pl.get_index_type())
            row_index = _unused("__row", schema)
            frame = frame.with_row_index(row_index).filter(pl.col(row_index).is_in(index.implode()))
        return frame.select(kept).collect(engine="streaming")
    except (pl.exceptions.PolarsError, OSError, ValueError) as exc:
        if isinstance(exc, DriftwardenError):
            raise
        raise TableError(f"cannot parse as {fmt}: {_first_line(exc)}") from exc


def check_readable(path: Path, fmt: str | None = None) -> None:
    """Raise TableError unless `path` opens as a table with columns: its schema only, no rows read."""
    fmt = fmt or format_from_path(path)
    try:
        path.open("rb").close()
    except OSError as exc:
        raise TableError(exc.strerror or str(exc)) from exc
    try:
        if not _scan_frame(path, fmt).collect_schema():
            raise TableError("the input has no rows or no columns")
    except (pl.exceptions.PolarsError, OSError, ValueError) as exc:
        if isinstance(exc, TableError):
            raise
        raise TableError(f"cannot parse as {fmt}: {_first_line(exc)}") from exc


def _scan_frame(path: Path | io.BytesIO, fmt: str) -> pl.LazyFrame:
    if fmt == "csv":
        return pl.scan_csv(path, infer_schema_length=_INFER_ROWS, null_values=_NULL_VALUES)
    if fmt == "parquet":
        return pl.scan_parquet(path)
    frame = pl.scan_ndjson(path, infer_schema_length=_INFER_ROWS)
    schema = frame.collect_schema()
    if "features" in schema and isinstance(schema["features"], pl.Struct):
        return frame.select(pl.col("features").struct.unnest())
    return frame


def _counts(
    frame: pl.LazyFrame, schema: pl.Schema, kinds: Mapping[str, str]
) -> tuple[int, dict[str, int], dict[str, int], list[str]]:
    """Rows, nulls per column, estimated distinct values per integer column, float columns with infinities."""
    ints = [name for name, dtype in schema.items() if dtype.is_integer() and name not in kinds]
    floats = [name for name, dtype in schema.items() if dtype.is_float()]
    exprs = [
        pl.len().alias("rows"),
        pl.struct(pl.all().null_count()).alias("nulls"),  # struct fields keep the column names
        pl.struct(pl.col(ints).approx_n_unique()).alias("estimates") if ints else pl.lit(None).alias("estimates"),
        pl.struct(pl.col(floats).is_infinite().any()).alias("infinite") if floats else pl.lit(None).alias("infinite"),
    ]
    row = frame.select(exprs).collect(engine="streaming").row(0, named=True)
    infinite = [name for name, yes in (row["infinite"] or {}).items() if yes]
    return int(row["rows"]), {k: int(v) for k, v in row["nulls"].items()}, dict(row["estimates"] or {}), infinite


def _value_counts(frame: pl.LazyFrame, columns: list[str]) -> dict[str, dict[str, int]]:
    """Column -> value -> count over all rows, nulls left out; one streaming group-by per column."""
    count = {name: _unused("__count", [name]) for name in columns}
    queries = [frame.group_by(pl.col(name).cast(pl.String)).agg(pl.len().alias(count[name])) for name in columns]
    out = {}
    for name, counts in zip(columns, pl.collect_all(queries, engine="streaming"), strict=True):
        counts = counts.drop_nulls(name).sort([count[name], name], descending=[True, False])
        out[name] = dict(zip(counts[name].to_list(), counts[count[name]].to_list(), strict=True))
    return out


def _unused(name: str, taken: Collection[str]) -> str:
    while name in taken:
        name = f"_{name}"
    return name


def _sample(frame: pl.LazyFrame, numeric: list[str], rows: int, size: int, seed: int, *, row_index: str) -> FloatArray:
    """The numeric columns of `size` uniformly drawn rows (all rows if there are no more), in file order."""
    if not numeric:
        return np.empty((min(size, rows), 0))
    if size < rows:
        index = pl.Series(_sample_rows(rows, size, seed), dtype=pl.get_index_type())
        frame = frame.with_row_index(row_index).filter(pl.col(row_index).is_in(index.implode()))
    picked = frame.select(pl.col(numeric).cast(pl.Float64)).collect(engine="streaming")
    values = np.empty(picked.shape, order="F")
    for j, name in enumerate(numeric):  # column by column, each freed once copied
        values[:, j] = picked.get_column(name).to_numpy()
        picked = picked.drop(name)
    return values


def _sample_rows(rows: int, size: int, seed: int) -> IntArray:
    """`size` distinct row numbers below `rows`, sorted, each subset equally likely; memory O(size).

    (numpy's `choice(rows, size, replace=False)` allocates all `rows` numbers when `size` > rows / 50.)
    """
    rng = np.random.default_rng(seed)
    if 4 * size >= rows:
        return np.sort(rng.permutation(rows)[:size])
    picked = _distinct(rng.integers(0, rows, size))
    while picked.size < size:  # draws that repeated: draw again; few rounds, as size < rows / 4
        picked = _distinct(np.concatenate([picked, rng.integers(0, rows, size - picked.size)]))
    return picked


def _distinct(numbers: IntArray) -> IntArray:
    """Sorted distinct values (np.unique is ten times slower on a million integers)."""
    numbers = np.sort(numbers)
    return numbers[np.concatenate(([True], numbers[1:] != numbers[:-1]))]


def _read_frame(
    data: bytes, fmt: str, kinds: Mapping[str, str] | None, limits: TableLimits | None, drop: Collection[str]
) -> pl.DataFrame:
    """The kept columns of the body, refused by `limits` from its schema (and Parquet footer) first."""
    columns: list[str] | None = None
    if limits is not None or drop:  # the schema first: what the limits refuse, they refuse before rows are read
        schema = _kept(_scan_frame(io.BytesIO(data), fmt).collect_schema(), drop)
        columns = list(schema) if drop else None
        if limits is not None:
            limits.check_columns(schema, kinds)
            if fmt == "parquet":  # the footer counts the rows: nothing is decoded yet
                limits.check_size(pl.scan_parquet(io.BytesIO(data)).select(pl.len()).collect().item(), schema)
    n_rows = None if limits is None or limits.max_rows is None else limits.max_rows + 1
    buf = io.BytesIO(data)
    if fmt == "csv":
        frame = pl.read_csv(
            buf, infer_schema_length=_INFER_ROWS, null_values=_NULL_VALUES, columns=columns, n_rows=n_rows
        )
    elif fmt == "parquet":
        frame = pl.read_parquet(buf, columns=columns)
    else:
        frame = pl.read_ndjson(buf, infer_schema_length=_INFER_ROWS, n_rows=n_rows)
        if "features" in frame.columns and isinstance(frame.schema["features"], pl.Struct):
            frame = frame.get_column("features").struct.unnest()
        if columns is not None:
            frame = frame.select(columns)
    if limits is not None:
        limits.check_columns(frame.schema, kinds)  # NDJSON: a field may first appear past the rows inferred from
        limits.check_size(frame.height, frame.schema, all_rows=fmt == "parquet")
    return frame


def _kept(schema: Mapping[str, pl.DataType], drop: Collection[str]) -> dict[str, pl.DataType]:
    return {name: dtype for name, dtype in schema.items() if name not in drop}


def column_kinds(
    schema: Mapping[str, pl.DataType],
    rows: int,
    kinds: Mapping[str, str] | None,
    n_unique: Callable[[str], int],
) -> dict[str, str]:
    """Column -> "numeric" | "categorical", in schema order; raises TableError naming the bad columns.

    Numbers are numeric and strings and booleans categorical, except integer columns with at most
    LOW_CARDINALITY distinct values (nulls count as one) in at least 20 times as many rows, which are
    codes, flags or ratings, and what `kinds` (the config's `features:`) says; a column it calls
    "ignore" is left out. `n_unique(column)` is asked only for those integer columns.
    """
    out, unsupported = {}, []
    kinds = kinds or {}
    for name, dtype in schema.items():
        kind = kinds.get(name)
        if kind == IGNORE:
            continue  # neither read nor compared
        if kind == "categorical" and dtype != pl.Null:
            out[name] = "categorical"
        elif kind == "numeric" and not dtype.is_numeric() and dtype != pl.Null:
            raise TableError(f"column {name!r} is configured numeric but holds {dtype} values")
        elif (
            dtype.is_integer()
            and kind is None
            # a few rows say nothing about cardinality: three distinct ages in three rows are still ages
            and rows >= 20 * LOW_CARDINALITY
            and n_unique(name) <= LOW_CARDINALITY
        ):
            out[name] = "categorical"  # counted per value, not ranked
        elif dtype.is_numeric() or dtype == pl.Null:  # all missing: kept so that its missing rate is reported
            out[name] = "numeric"
        elif dtype in (pl.String, pl.Boolean, pl.Categorical) or isinstance(dtype, pl.Enum):
            out[name] = "categorical"
        else:
            unsupported.append(f"{name} ({dtype.base_type() if dtype.is_nested() else dtype})")  # repr recurses
    if unsupported:
        raise TableError(f"columns of unsupported type (use numbers or strings): {', '.join(unsupported)}")
    return out


def table_from_frame(frame: pl.DataFrame, kinds: Mapping[str, str] | None = None) -> Table:
    """A frame's columns as numeric values and category counts, kinds decided by `column_kinds`."""
    if frame.width == 0 or frame.height == 0:
        raise TableError("the input has no rows or no columns")
    decided = column_kinds(frame.schema, frame.height, kinds, lambda name: frame.get_column(name).n_unique())
    numeric = [name for name, kind in decided.items() if kind == "numeric"]
    categorical = [name for name, kind in decided.items() if kind == "categorical"]
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
        count = _unused("count", [name])
        counts = (
            frame.get_column(name)
            .cast(pl.String)  # 3 -> "3", True -> "true"
            .drop_nulls()
            .value_counts(name=count)
            # value_counts' order follows its threads: ties must not decide which categories a capped
            # reference keeps (the same files gave different PSI from run to run)
            .sort([count, name], descending=[True, False])
        )
        categories[name] = dict(zip(counts[name].to_list(), counts[count].to_list(), strict=True))
    return Table(numeric=tuple(numeric), values=values, categories=categories, rows=frame.height)


def _first_line(exc: Exception) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
