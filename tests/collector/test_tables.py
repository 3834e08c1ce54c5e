"""Reading reference/current files: every format, by extension or Content-Type, and why one is unreadable."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from driftwarden.collector.tables import TableError, TableLimits, format_from_content_type, read_table, scan_table
from driftwarden.core.errors import BodyTooLarge, TooManyFeatures

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


# -- limits, checked before the rows are read ----------------------------------------------------------


def refuse_to_decode(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any read of rows fails the test: what the limits refuse must be refused from the schema or footer."""

    def decoded(*args: object, **kwargs: object) -> None:
        raise AssertionError("rows were read")

    for name in ("read_parquet", "read_csv", "read_ndjson"):
        monkeypatch.setattr(pl, name, decoded)


def test_parquet_rows_and_decoded_size_are_refused_from_the_footer(monkeypatch: pytest.MonkeyPatch) -> None:
    buf = io.BytesIO()
    pl.DataFrame({"x": pl.repeat(1.0, 50_000, eager=True), "s": ["a"] * 50_000}).write_parquet(buf)
    refuse_to_decode(monkeypatch)
    with pytest.raises(BodyTooLarge, match="50,000 rows") as caught:
        read_table(buf.getvalue(), "parquet", limits=TableLimits(10, max_rows=49_999))
    assert caught.value.code == "too_many_rows"
    with pytest.raises(BodyTooLarge, match="about 1 MiB") as caught:  # 50,000 x (8 + 16) bytes
        read_table(buf.getvalue(), "parquet", limits=TableLimits(10, max_bytes=1_000_000))
    assert caught.value.code == "decoded_too_large"


@pytest.mark.parametrize("fmt", ["csv", "parquet", "ndjson"])
def test_columns_are_refused_from_the_header(monkeypatch: pytest.MonkeyPatch, fmt: str) -> None:
    body = as_bytes(fmt)
    refuse_to_decode(monkeypatch)
    with pytest.raises(TooManyFeatures, match=r"3 columns; at most 2 .*limits\.max_features"):
        read_table(body, fmt, limits=TableLimits(2))
    with pytest.raises(TableError, match="configured numeric"):
        read_table(body, fmt, kinds={"country": "numeric"}, limits=TableLimits(10))


def test_nested_columns_are_refused_before_their_values_are_decoded(monkeypatch: pytest.MonkeyPatch) -> None:
    buf = io.BytesIO()
    pl.DataFrame({"v": [[0.0] * 1000] * 100}).write_parquet(buf)
    refuse_to_decode(monkeypatch)
    with pytest.raises(TableError, match="unsupported type"):
        read_table(buf.getvalue(), "parquet", limits=TableLimits(10))


def test_dropped_columns_are_neither_read_nor_counted() -> None:
    table = read_table(as_bytes("csv"), "csv", limits=TableLimits(2), drop={"country"})
    assert table.numeric == ("amount", "age") and table.categories == {}


def test_a_file_scan_checks_its_columns_from_the_schema(tmp_path: Path) -> None:
    path = tmp_path / "wide.parquet"
    pl.DataFrame({f"c{j}": [1.0] for j in range(3)}).write_parquet(path)
    with pytest.raises(TooManyFeatures, match=r"limits\.max_features"):
        scan_table(path, sample=10, limits=TableLimits(2))
    long_name = tmp_path / "long.csv"
    long_name.write_text(f"{'n' * 129}\n1\n")
    with pytest.raises(TableError, match="129 characters") as caught:
        scan_table(long_name, sample=10, limits=TableLimits(2))
    assert caught.value.code == "bad_feature_name"
