"""Reading reference/current files: every format, by extension or Content-Type, and why one is unreadable."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from driftwarden.collector.tables import TableError, format_from_content_type, read_table

FRAME = pl.DataFrame({"amount": [1.0, 2.5, None], "age": [30, 40, 50], "country": ["DE", "FR", "DE"]})


def as_bytes(fmt: str) -> bytes:
    buf = io.BytesIO()
    {"csv": FRAME.write_csv, "parquet": FRAME.write_parquet, "ndjson": FRAME.write_ndjson}[fmt](buf)
    return buf.getvalue()


@pytest.mark.parametrize("fmt", ["csv", "parquet", "ndjson"])
def test_every_format_reads_to_the_same_table(fmt: str) -> None:
    table = read_table(as_bytes(fmt), fmt)
    assert table.numeric == ("amount", "age") and table.rows == 3
    np.testing.assert_array_equal(table.values, [[1.0, 30.0], [2.5, 40.0], [np.nan, 50.0]])
    assert table.categories == {"country": {"DE": 2, "FR": 1}}


def test_prediction_records_as_ndjson_use_their_features() -> None:
    body = b'{"model": "m", "features": {"a": 1.5, "c": "x"}}\n{"model": "m", "features": {"a": 2}}\n'
    table = read_table(body, "ndjson")
    assert table.numeric == ("a",) and table.values[:, 0].tolist() == [1.5, 2.0]


def test_files_are_read_by_extension(tmp_path: Path) -> None:
    path = tmp_path / "ref.parquet"
    path.write_bytes(as_bytes("parquet"))
    assert read_table(path).rows == 3
    with pytest.raises(TableError, match="extension"):
        read_table(tmp_path / "ref.xlsx")
    with pytest.raises(TableError, match="No such file"):
        read_table(tmp_path / "missing.csv")


@pytest.mark.parametrize(
    ("body", "fmt", "match"),
    [
        (b"", "csv", "empty"),
        (b"not parquet at all", "parquet", "cannot parse as parquet"),
        (b'{"a": 1}\n{"a": ', "ndjson", "cannot parse as ndjson"),
        (b"a,b\n1,inf\n", "csv", "infinite values in column"),
        (b'{"a": [1, 2]}\n', "ndjson", "unsupported type"),
    ],
)
def test_unreadable_input_says_why(body: bytes, fmt: str, match: str) -> None:
    with pytest.raises(TableError, match=match):
        read_table(body, fmt)


def test_format_from_content_type() -> None:
    assert format_from_content_type("text/csv; charset=utf-8", b"") == "csv"
    assert format_from_content_type("application/octet-stream", b"PAR1....") == "parquet"
    with pytest.raises(TableError, match="Content-Type"):
        format_from_content_type("application/pdf", b"%PDF")
