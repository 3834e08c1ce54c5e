"""Deterministic sampling of prediction records by `request_id`.

A record is kept when a hash of its request id falls below `rate`, so the decision is
the same wherever and whenever it is made: a request's input (sampled at ingest) and its
label (posted later to /v1/labels) land together. Records without an id are kept with
probability `rate` at random. The hash is polars' vectorized string hash (seeded),
stable within a polars version, which is all a restart needs.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import polars as pl

from driftwarden.core.arrays import BoolArray, ObjectArray
from driftwarden.core.records import RecordBatch

__all__ = ["kept", "sampled"]

_SEED = 0x5EED
_rng = np.random.default_rng()


def kept(request_ids: ObjectArray | None, rows: int, rate: float) -> BoolArray:
    """Boolean mask of the rows a sample at `rate` keeps.

    >>> ids = np.array([f"r{i}" for i in range(10_000)], dtype=object)
    >>> mask = kept(ids, 10_000, 0.25)
    >>> bool(0.23 < mask.mean() < 0.27), bool((kept(ids, 10_000, 0.25) == mask).all())
    (True, True)
    """
    if rate >= 1.0:
        return np.ones(rows, dtype=bool)
    if request_ids is None:
        return _rng.random(rows) < rate
    ids = pl.Series("id", request_ids, dtype=pl.String)
    hashed = ids.hash(seed=_SEED).to_numpy()
    mask = hashed < np.uint64(rate * 2.0**64)
    missing = ids.is_null().to_numpy()
    if missing.any():
        mask[missing] = _rng.random(int(missing.sum())) < rate
    return mask


def sampled(batch: RecordBatch, rate: float) -> tuple[RecordBatch, int]:
    """The batch's sampled rows and how many were left out."""
    if rate >= 1.0:
        return batch, 0
    mask = kept(batch.request_ids, batch.rows, rate)
    dropped = int(batch.rows - mask.sum())
    if not dropped:
        return batch, 0

    def rows(a: ObjectArray | None) -> ObjectArray | None:
        return None if a is None else a[mask]

    return (
        dataclasses.replace(
            batch,
            values=batch.values[mask],
            categorical_values=rows(batch.categorical_values),
            request_ids=rows(batch.request_ids),
            labels=rows(batch.labels),
            traces=None if batch.traces is None else batch.traces[mask],
        ),
        dropped,
    )
