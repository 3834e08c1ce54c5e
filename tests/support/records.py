"""A reference and prediction records for a three-feature model, and the upload of the reference.

The features are standard normals (`shift` moves their means, in standard deviations) plus a
`country` drawn from DE and FR in both, so only the shifted features drift.
"""

from __future__ import annotations

import io
from typing import Any

import numpy as np
import orjson
import polars as pl

from tests.support.server import Daemon

__all__ = ["ARROW", "FEATURES", "NDJSON", "arrow_stream", "put_reference", "records", "reference_frame"]

NDJSON = {"content-type": "application/x-ndjson"}
ARROW = {"content-type": "application/vnd.apache.arrow.stream"}
FEATURES = ["amount", "age", "score"]


def reference_frame(rng: np.random.Generator, rows: int = 5000) -> pl.DataFrame:
    values = rng.normal(size=(rows, 3))
    return pl.DataFrame({name: values[:, j] for j, name in enumerate(FEATURES)}).with_columns(
        country=pl.Series(rng.choice(["DE", "FR"], rows))
    )


def put_reference(daemon: Daemon, frame: pl.DataFrame, model: str = "fraud") -> dict:
    buf = io.BytesIO()
    frame.write_parquet(buf)
    r = daemon.client.put(
        f"/v1/models/{model}/reference",
        content=buf.getvalue(),
        headers={"content-type": "application/vnd.apache.parquet"},
    )
    assert r.status_code == 200, r.text
    return r.json()


def records(rng: np.random.Generator, n: int, shift: tuple[float, ...] = (0, 0, 0), model: str = "fraud") -> bytes:
    values = rng.normal(size=(n, 3)) + np.array(shift)
    countries = rng.choice(["DE", "FR"], n).tolist()  # as in the reference: categorical, no drift
    return b"\n".join(
        orjson.dumps({"model": model, "features": dict(zip(FEATURES, row, strict=True)) | {"country": country}})
        for row, country in zip(values.tolist(), countries, strict=True)
    )


def arrow_stream(columns: dict[str, Any], **options: Any) -> bytes:
    """An Arrow IPC stream of one record batch of `columns` (name: list or array), as a client would send it;
    `options` go to `pyarrow.ipc.IpcWriteOptions` (compression="zstd", ...)."""
    import pyarrow as pa  # only the tests that send Arrow load it

    table = pa.table(columns)
    sink = io.BytesIO()
    with pa.ipc.new_stream(sink, table.schema, options=pa.ipc.IpcWriteOptions(**options)) as writer:
        writer.write_table(table)
    return sink.getvalue()
