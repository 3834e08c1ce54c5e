"""Named vectors carried by prediction records: `{"embeddings": {"query": [0.1, ...]}}`.

`check_embeddings()` validates one record's field as it is parsed (an object of at most
MAX_EMBEDDINGS names, each a non-empty list of at most MAX_DIM finite numbers) and gives it as
float32 arrays; `stack_embeddings()` turns the records' fields into one (rows, dim) block per name,
NaN rows where a record did not send that name; `conform()` holds a batch to the dimensions its
model declares (models.<m>.embeddings), rejecting whole records that send an undeclared name or a
vector of another length. `read_vectors()` takes the reference's vectors from list/array columns of
a Parquet (or NDJSON) table.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterable, Mapping
from dataclasses import replace
from typing import Any

import numpy as np
import polars as pl

from driftwarden.core.arrays import BoolArray, Float32Array
from driftwarden.core.errors import InputError
from driftwarden.core.records import ParseResult, RecordBatch

__all__ = [
    "MAX_DIM",
    "MAX_EMBEDDINGS",
    "check_embeddings",
    "conform",
    "read_vectors",
    "stack_embeddings",
]

MAX_DIM = 4096
MAX_EMBEDDINGS = 8  # names in one record
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,62}$")
Vectors = dict[str, np.ndarray[Any, np.dtype[np.float32]]]


def check_embeddings(index: int, value: Any, result: ParseResult) -> Vectors | None:
    """A record's `embeddings` as float32 vectors; None (and the record rejected) when malformed."""

    def reject(message: str, pointer: str = "/embeddings") -> None:
        result.reject(index, "bad_embedding", f"record {index}: {message}", pointer)

    if type(value) is not dict:
        reject("'embeddings' must be an object of name: [numbers]")
        return None
    if len(value) > MAX_EMBEDDINGS:
        reject(f"{len(value)} embeddings in one record; at most {MAX_EMBEDDINGS}")
        return None
    out: Vectors = {}
    for name, vector in value.items():
        pointer = "/embeddings/" + str(name).replace("~", "~0").replace("/", "~1")
        if not _NAME.fullmatch(name):
            reject("embedding names are 1-63 letters, digits or _.:-", pointer)
            return None
        if type(vector) is not list or not vector:
            reject(f"embedding {name!r} must be a non-empty array of numbers", pointer)
            return None
        if len(vector) > MAX_DIM:
            reject(f"embedding {name!r} has {len(vector)} dimensions; at most {MAX_DIM}", pointer)
            return None
        try:
            array = np.array(vector, dtype=np.float64)
        except (TypeError, ValueError):
            reject(f"embedding {name!r} must hold numbers only", pointer)
            return None
        if array.ndim != 1 or not np.isfinite(array).all() or (np.abs(array) > 3e38).any():
            reject(f"embedding {name!r} must hold finite numbers (float32 range) only, no null", pointer)
            return None
        out[name] = array.astype(np.float32)
    return out


def stack_embeddings(fields: Iterable[Vectors | None]) -> dict[str, Float32Array] | None:
    """One (rows, dim) float32 block per name; NaN rows for records without it. None when no record
    had any. A name sent with two lengths keeps the first length's rows; the others are +inf rows, which
    `conform` rejects."""
    rows = list(fields)
    names = dict.fromkeys(name for f in rows if f for name in f)
    if not names:
        return None
    out: dict[str, Float32Array] = {}
    for name in names:
        dim = next(len(f[name]) for f in rows if f and name in f)
        block = np.full((len(rows), dim), np.nan, dtype=np.float32)
        at = [i for i, f in enumerate(rows) if f and name in f and len(f[name]) == dim]
        block[at] = np.stack([rows[i][name] for i in at])  # type: ignore[index]
        other = [i for i, f in enumerate(rows) if f and name in f and len(f[name]) != dim]
        block[other] = np.inf  # sent with another length: `conform` rejects these rows
        out[name] = block
    return out


def conform(batch: RecordBatch, dims: Mapping[str, int], result: ParseResult) -> RecordBatch | None:
    """The batch with the records whose vectors its model's declared `dims` (name -> length) accept;
    the others rejected (`bad_embedding`), counted in `result`. None when no row is left."""
    if not batch.embeddings:
        return batch
    keep: BoolArray = np.ones(batch.rows, dtype=bool)
    for name, block in batch.embeddings.items():
        sent = ~np.isnan(block).all(axis=1)
        dim = dims.get(name)
        if dim is None or block.shape[1] != dim:
            bad = sent.copy()  # the rows of another length (+inf) too
            why = (
                f"embedding {name!r} is not declared for model {batch.model!r} (models.{batch.model}.embeddings)"
                if dim is None
                else f"embedding {name!r} of model {batch.model!r} has {dim} dimensions, not {block.shape[1]}"
            )
        else:
            bad = np.isinf(block).any(axis=1)  # the rows stack_embeddings found of another length
            why = f"embedding {name!r} of model {batch.model!r} has {dim} dimensions"
        count = int((bad & keep).sum())
        if count:
            result.accepted -= count
            result.reject(-1, "bad_embedding", f"{count} record(s): {why}", f"/embeddings/{name}")
            result.rejected_by_reason["bad_embedding"] += count - 1
        keep &= ~bad
    declared = {
        name: block for name, block in batch.embeddings.items() if name in dims and block.shape[1] == dims[name]
    }
    batch = batch.subset(keep) if not keep.all() else batch
    if batch.rows == 0:
        return None
    return replace(batch, embeddings={n: b[keep] for n, b in declared.items()} or None)


def read_vectors(source: bytes | pl.DataFrame, names: Mapping[str, int], *, max_rows: int) -> dict[str, Float32Array]:
    """The list/array columns `names` (name -> dimension) of a Parquet body (or frame) as float32
    blocks; rows with a null or non-finite vector are left out. InputError with a reason otherwise."""
    frame = source if isinstance(source, pl.DataFrame) else _parquet_columns(source, list(names))
    out: dict[str, Float32Array] = {}
    for name, dim in names.items():
        if name not in frame.columns:
            continue
        column = frame[name].drop_nulls()
        if len(column) > max_rows:
            column = column.sample(max_rows, seed=0)
        if not isinstance(column.dtype, (pl.List, pl.Array)):
            raise InputError(f"column {name!r} holds {column.dtype}, not a list of numbers (an embedding)")
        lengths = column.list.len() if isinstance(column.dtype, pl.List) else None
        if lengths is not None and (lengths != dim).any():
            raise InputError(f"column {name!r}: every vector must have {dim} dimensions (models.<m>.embeddings)")
        try:
            values = np.asarray(column.cast(pl.Array(pl.Float32, dim)).to_numpy(), dtype=np.float32)
        except (pl.exceptions.PolarsError, ValueError) as exc:
            raise InputError(f"column {name!r} is not a list of {dim} numbers: {exc}") from exc
        values = values.reshape(len(column), dim)
        out[name] = values[np.isfinite(values).all(axis=1)]
    return out


def _parquet_columns(body: bytes, names: list[str]) -> pl.DataFrame:
    try:
        schema = pl.read_parquet_schema(io.BytesIO(body))
        present = [n for n in names if n in schema]
        return pl.read_parquet(io.BytesIO(body), columns=present) if present else pl.DataFrame()
    except (pl.exceptions.PolarsError, OSError) as exc:
        raise InputError(f"cannot read the embedding columns: {exc}") from exc
