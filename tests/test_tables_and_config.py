"""Reading reference/current files, and the configuration contract."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from driftwarden.collector.tables import TableError, format_from_content_type, read_table
from driftwarden.config import ConfigError, load_config, parse_duration

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


def test_embedded_default_is_loopback_and_local_sqlite() -> None:
    config = load_config(None)
    assert config.listen == "127.0.0.1:4318" and config.host == "127.0.0.1" and config.port == 4318
    assert config.state_path == Path("driftwarden-data/state.db")
    assert config.evaluate_every == 30.0 and config.auth_token_file is None
    assert config.model("anything").window.rows == 5000


def test_config_file_with_design_keys(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(
        "listen: 0.0.0.0:9000\nevaluate_every: 500ms\nmodels:\n  fraud:\n    window: 2000\n"
        "    critical_features: [amount]\n    drift: {psi: 0.3, alpha: 0.01}\n"
    )
    config = load_config(path, listen="127.0.0.1:9001")
    assert config.listen == "127.0.0.1:9001" and config.evaluate_every == 0.5
    fraud = config.model("fraud")
    assert fraud.window.rows == 2000 and fraud.drift.psi == 0.3 and fraud.drift.ks == 0.1
    assert fraud.critical_features == ["amount"]


def test_config_errors_name_their_key_path(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("evaluate_every: 30\nmodels:\n  fraud:\n    windw: 10\n    drift: {psi: -1}\nlisten: nope\n")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    problems = "\n".join(info.value.problems)
    assert "evaluate_every: expected a duration" in problems
    assert "models.fraud.windw: unknown key" in problems
    assert "models.fraud.drift.psi" in problems
    assert "listen: expected HOST:PORT" in problems


@pytest.mark.parametrize(
    ("text", "seconds"), [("500ms", 0.5), ("30s", 30), ("5m", 300), ("24h", 86400), ("30d", 2592000)]
)
def test_durations(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("bad", ["30", 30, "5 minutes", "", None])
def test_durations_need_a_unit(bad: object) -> None:
    with pytest.raises(ValueError, match="unit"):
        parse_duration(bad)
