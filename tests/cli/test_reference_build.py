"""`driftwarden reference build`: files scanned lazily, numeric values sampled, categories counted over every row."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from driftwarden.cli import main
from driftwarden.collector.tables import TableError, _sample_rows, read_table, scan_table
from driftwarden.config import load_config
from driftwarden.core.errors import BodyTooLarge
from driftwarden.daemon.references import fit_reference
from driftwarden.persistence.database import Database
from driftwarden.persistence.store import Store
from tests.support.processes import driftwarden

ROWS = 300_000
# the verb in a child that reports its own peak resident memory: VmHWM of its own address space.
# (ru_maxrss from wait4 is no good here: at exec, Linux carries the parent's peak into the child's,
# and the parent is this test process.)
PEAK = (
    "import sys; from driftwarden.cli import main; code = main(sys.argv[1:]); "
    "print(next(l for l in open('/proc/self/status') if l.startswith('VmHWM')), file=sys.stderr); sys.exit(code)"
)


def printed_kinds(stdout: str) -> dict[str, str]:
    """feature -> kind from the summary table's rows (`│ name │ kind │ ...`)."""
    cells = [[c.strip() for c in line.split("│")[1:3]] for line in stdout.splitlines() if line.startswith("│")]
    return dict(cells)


def wide_frame(rows: int) -> pl.DataFrame:
    """20 columns: 16 numeric (one 10% missing, one with 11 distinct integers), 4 categorical."""
    rng = np.random.default_rng(1)
    row = np.arange(rows)
    columns: dict[str, object] = {f"f{j}": rng.normal(j, 1 + j, rows) for j in range(14)}
    columns["row"] = row  # integers, all distinct: numeric
    columns["eleven"] = row % 11  # 11 distinct integers: still numeric
    columns["code"] = rng.integers(0, 10, rows)  # 10 distinct integers: categorical
    columns["country"] = rng.choice(
        ["DE", "FR", "US", "GB", "IT", "ES", "NL"], rows, p=[0.3, 0.2, 0.2, 0.1, 0.1, 0.05, 0.05]
    )
    columns["flag"] = rng.random(rows) < 0.25
    columns["grade"] = [f"g{k:02d}" for k in rng.zipf(1.5, rows) % 40]  # 40 categories
    frame = pl.DataFrame(columns)
    return frame.with_columns(
        pl.when(pl.col("row") % 10 == 0).then(None).otherwise(pl.col("f0")).alias("f0"),  # exactly 10% missing
        pl.when(pl.col("row") % 20 == 1).then(None).otherwise(pl.col("country")).alias("country"),  # 5%
    )


def test_build_samples_numeric_values_and_counts_categories_over_every_row(tmp_path: Path) -> None:
    frame = wide_frame(ROWS)
    path = tmp_path / "ref.parquet"
    frame.write_parquet(path)
    config = tmp_path / "c.yaml"
    config.write_text(f"state_path: {tmp_path / 'state.db'}\n")

    built = driftwarden(
        "reference", "build", "--model", "m", "--input", str(path), "--sample", "50000", "--config", str(config)
    )

    assert built.returncode == 0, built.stderr
    assert "300,000 rows (numeric values from a uniform sample of 50,000)" in built.stdout
    numeric = [*(f"f{j}" for j in range(14)), "row", "eleven"]
    categorical = ["code", "country", "flag", "grade"]
    assert printed_kinds(built.stdout) == {
        **dict.fromkeys(numeric, "numeric"),
        **dict.fromkeys(categorical, "categorical"),
    }
    # schema, counts, sample, fit, the rows kept whole for multivariate drift (on by default), store
    assert "6/6" in built.stderr

    store = Store(Database(tmp_path / "state.db"))
    profile = store.load_references()["m"]
    store.close()
    assert profile.features == tuple(numeric)
    assert profile.rows == 50_000 and profile.sorted_values.shape == (50_000, 16)
    assert profile.category_rows == ROWS
    for name in categorical:
        counts = frame.get_column(name).cast(pl.String).drop_nulls().value_counts()
        assert profile.categories[name] == dict(zip(counts[name], counts["count"], strict=True)), name
    # a uniform sample without replacement: 50,000 distinct rows from the whole file
    rows = profile.sorted_values[:, numeric.index("row")]
    assert np.unique(rows).size == 50_000
    assert 140_000 < np.median(rows) < 160_000 and rows[0] < 1_000 and rows[-1] > ROWS - 1_000
    # the stored missing rate is the sample's (unbiased); the printed one is over every row
    assert profile.missing_rate[0] == pytest.approx(0.1, abs=0.01)
    assert "│ f0 " in built.stdout and "10.0%" in next(line for line in built.stdout.splitlines() if "│ f0 " in line)

    summary = {f["name"]: f for f in profile.summary()["features"]}
    country = summary["country"]
    assert country["monitored"] is True and country["categories"] == 7
    assert country["missing_rate"] == pytest.approx(0.05)
    assert country["top"][0]["value"] == "DE" and country["top"][0]["share"] == pytest.approx(0.3, abs=0.01)
    assert len(summary["grade"]["top"]) == 5
    assert set(summary["f3"]["quantiles"]) == {"p1", "p25", "p50", "p75", "p99"}
    assert summary["f3"]["quantiles"]["p50"] == pytest.approx(3, abs=0.1)


def test_memory_follows_the_sample_not_the_file(tmp_path: Path) -> None:
    """5,000,000 rows x 20 float64 columns: 800 MB as a frame, and `read_table` needs twice that
    (frame + array; measured 2.05 GB). Scanned, the child peaks near 300 MB: ~175 MB of imports
    (polars, scipy) and polars' streaming batches, whatever the file size."""
    path = tmp_path / "big.parquet"
    rows = 5_000_000
    index = pl.int_range(rows, dtype=pl.UInt64)
    columns = [((index.hash(j) % 1000).cast(pl.Float64) / 8).alias(f"x{j}") for j in range(20)]
    pl.LazyFrame().select(columns).sink_parquet(path, compression="lz4")
    assert rows * 20 * 8 >= 800e6
    config = tmp_path / "c.yaml"
    config.write_text(f"state_path: {tmp_path / 'state.db'}\n")
    args = ["reference", "build", "--model", "m", "--input", str(path), "--sample", "50000", "--config", str(config)]

    built = subprocess.run(
        [sys.executable, "-c", PEAK, *args], capture_output=True, text=True, timeout=120, check=False
    )

    assert built.returncode == 0, built.stderr
    out = built.stdout
    assert "5,000,000 rows" in out
    peak_mb = int(built.stderr.rsplit("VmHWM:", 1)[1].split()[0]) / 1024  # kB
    assert peak_mb < 400, f"reference build peaked at {peak_mb:.0f} MB"


SMALL = pl.DataFrame(
    {
        "amount": [float(i % 97) if i % 13 else None for i in range(400)],
        "age": [20 + i % 50 for i in range(400)],
        "stars": [1 + i % 5 for i in range(400)],  # 5 distinct: categorical
        "tier": [i % 10 if i % 7 else None for i in range(400)],  # 10 values + null = 11 distinct: numeric
        "zip": [i % 3 for i in range(400)],  # configured numeric below
        "plan": [["free", "pro", None][i % 3] for i in range(400)],
        "paid": [i % 4 == 0 for i in range(400)],
        "empty": [None] * 400,
    }
)
KINDS = {"age": "categorical", "zip": "numeric"}


def write(frame: pl.DataFrame, path: Path) -> Path:
    {".csv": frame.write_csv, ".parquet": frame.write_parquet, ".ndjson": frame.write_ndjson}[path.suffix](path)
    return path


@pytest.mark.parametrize("suffix", [".csv", ".parquet", ".ndjson"])
def test_scan_decides_kinds_and_counts_like_read_table(tmp_path: Path, suffix: str) -> None:
    path = write(SMALL, tmp_path / f"small{suffix}")
    eager = read_table(path, kinds=KINDS)
    lazy = scan_table(path, kinds=KINDS, sample=1_000)
    assert lazy.numeric == eager.numeric and lazy.numeric[:3] == ("amount", "tier", "zip")  # CSV: "empty" is text
    assert lazy.rows == eager.rows == 400 and not lazy.sampled
    np.testing.assert_array_equal(lazy.values, eager.values)  # every row, in file order
    assert lazy.categories == eager.categories and {"age", "stars", "plan", "paid"} <= set(lazy.categories)
    assert lazy.nulls["amount"] == 31 and lazy.nulls["plan"] == 133 and lazy.nulls["empty"] == 400


def test_prediction_records_in_ndjson_use_their_features(tmp_path: Path) -> None:
    path = tmp_path / "records.ndjson"
    path.write_text("".join(f'{{"model": "m", "features": {{"a": {i}.5, "c": "{"xy"[i % 2]}"}}}}\n' for i in range(10)))
    lazy = scan_table(path, sample=4)
    assert lazy.numeric == ("a",) and lazy.values.shape == (4, 1) and lazy.sampled
    assert lazy.categories == {"c": {"x": 5, "y": 5}} and lazy.rows == 10


@pytest.mark.parametrize("suffix", [".csv", ".ndjson"])
def test_cli_builds_from_csv_and_ndjson(tmp_path: Path, suffix: str, capsys: pytest.CaptureFixture[str]) -> None:
    frame = wide_frame(5_000)
    path = write(frame.drop("grade") if suffix == ".csv" else frame, tmp_path / f"ref{suffix}")
    config = tmp_path / "c.yaml"
    config.write_text(f"state_path: {tmp_path / 'state.db'}\nredact: [f13]\n")

    code = main(
        ["reference", "build", "--model", "m", "--input", str(path), "--sample", "1000", "--config", str(config)]
    )

    out = capsys.readouterr().out
    assert code == 0, out
    kinds = printed_kinds(out)
    assert kinds["f0"] == "numeric" and kinds["code"] == "categorical" and kinds["country"] == "categorical"
    assert "f13" not in kinds  # redacted: neither sampled nor counted
    store = Store(Database(tmp_path / "state.db"))
    profile = store.load_references()["m"]
    store.close()
    assert profile.rows == 1_000 and profile.category_rows == 5_000 and "f13" not in profile.features
    counts = frame.get_column("country").drop_nulls().value_counts()
    assert profile.categories["country"] == dict(zip(counts["country"], counts["count"], strict=True))


def test_the_daemons_file_path_scans_and_keeps_all_row_counts(tmp_path: Path) -> None:
    path = write(SMALL, tmp_path / "small.parquet")
    config = load_config(None, limits={"max_reference_rows": 100}, models={"m": {"features": KINDS}})
    profile = fit_reference(path, None, config, "m")
    assert profile.rows == 100 and profile.category_rows == 400
    assert profile.categories["stars"] == {str(s): 80 for s in range(1, 6)}
    with pytest.raises(BodyTooLarge, match=r"limits\.max_reference_rows"):  # PUT: bytes, read whole, not sampled
        fit_reference(path.read_bytes(), "parquet", config, "m")
    roomy = load_config(None, limits={"max_reference_rows": 400}, models={"m": {"features": KINDS}})
    uploaded = fit_reference(path.read_bytes(), "parquet", roomy, "m")
    assert uploaded.features == profile.features and uploaded.categories == profile.categories


@pytest.mark.parametrize(
    ("content", "name", "match"),
    [
        (b"", "empty.csv", "empty"),
        (b"not parquet at all", "bad.parquet", "cannot parse as parquet"),
        (b'{"a": 1}\n{"a": ', "bad.ndjson", "cannot parse as ndjson"),
        (b"a,b\n1,inf\n", "inf.csv", "infinite values in column"),
        (b'{"a": [1, 2]}\n', "nested.ndjson", "unsupported type"),
        (b"a\n1\n", "ref.xlsx", "extension"),
        (None, "missing.csv", "No such file"),
    ],
)
def test_unreadable_files_say_why_like_read_table(tmp_path: Path, content: bytes | None, name: str, match: str) -> None:
    path = tmp_path / name
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(TableError, match=match):
        read_table(path)
    with pytest.raises(TableError, match=match):
        scan_table(path, sample=10)


def test_cli_refuses_a_bad_file_and_a_bad_sample(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "c.yaml"
    config.write_text(f"state_path: {tmp_path / 'state.db'}\n")
    bad = tmp_path / "bad.parquet"
    bad.write_bytes(b"nope")
    assert main(["reference", "build", "--model", "m", "--input", str(bad), "--config", str(config)]) == 2
    assert "cannot parse as parquet" in capsys.readouterr().err
    good = write(SMALL, tmp_path / "small.csv")
    assert (
        main(["reference", "build", "--model", "m", "--input", str(good), "--sample", "0", "--config", str(config)])
        == 2
    )


def test_cli_holds_a_file_to_the_feature_rules_of_records(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "c.yaml"
    config.write_text(f"state_path: {tmp_path / 'state.db'}\nlimits: {{max_features: 3}}\n")
    wide = write(pl.DataFrame({f"f{j}": [1.0, 2.0] for j in range(4)}), tmp_path / "wide.parquet")
    assert main(["reference", "build", "--model", "m", "--input", str(wide), "--config", str(config)]) == 2
    assert "4 columns; at most 3 features" in capsys.readouterr().err
    long_name = write(pl.DataFrame({"n" * 129: [1.0, 2.0]}), tmp_path / "long.csv")
    assert main(["reference", "build", "--model", "m", "--input", str(long_name), "--config", str(config)]) == 2
    assert "1-128" in capsys.readouterr().err
    assert not (tmp_path / "state.db").exists()  # refused before the state file is opened


@pytest.mark.parametrize(("rows", "size"), [(10, 10), (1_000, 900), (1_000_000, 1_000)])
def test_sampled_rows_are_distinct_sorted_and_reproducible(rows: int, size: int) -> None:
    picked = _sample_rows(rows, size, seed=0)
    assert picked.size == size and np.all(np.diff(picked) > 0) and picked[0] >= 0 and picked[-1] < rows
    np.testing.assert_array_equal(picked, _sample_rows(rows, size, seed=0))


def test_sampled_rows_are_uniform() -> None:
    hits = np.zeros(100)
    for seed in range(400):
        np.add.at(hits, _sample_rows(100, 10, seed), 1)  # the dedup branch: size < rows / 4
    assert hits.sum() == 4_000 and hits.reshape(10, 10).sum(axis=1).min() > 320  # 400 expected per decile


def test_summary_of_a_categorical_feature() -> None:
    from driftwarden.detectors.reference import ReferenceProfile

    profile = ReferenceProfile.fit(
        ["x"], np.arange(100.0)[:, None], categories={"c": {"a": 50, "b": 30, "c": 10, "d": 5, "e": 2, "f": 1}}
    )
    feature = {f["name"]: f for f in profile.summary()["features"]}["c"]
    assert feature["count"] == 98 and feature["missing_rate"] == pytest.approx(0.02)
    assert [t["value"] for t in feature["top"]] == ["a", "b", "c", "d", "e"] and feature["categories"] == 6
    assert feature["top"][0]["share"] == pytest.approx(50 / 98) and feature["monitored"] is True
    x = {f["name"]: f for f in profile.summary()["features"]}["x"]
    assert x["quantiles"]["p1"] == pytest.approx(0.99) and x["quantiles"]["p99"] == pytest.approx(98.01)


def test_columns_named_like_the_helpers_columns(tmp_path: Path) -> None:
    frame = pl.DataFrame(
        {"__row": [float(i) for i in range(300)], "count": ["a", "b", "c"] * 100, "__count": [1, 2] * 150}
    )
    path = write(frame, tmp_path / "odd.parquet")
    lazy, eager = scan_table(path, sample=100), read_table(path)
    assert lazy.numeric == eager.numeric == ("__row",) and lazy.values.shape == (100, 1)
    assert (
        lazy.categories
        == eager.categories
        == {"count": {"a": 100, "b": 100, "c": 100}, "__count": {"1": 150, "2": 150}}
    )


@pytest.mark.parametrize("columns", ["40", "300"])
def test_an_error_is_one_line_whatever_the_terminal(tmp_path: Path, columns: str) -> None:
    """Rich must not hard-wrap an error at the terminal's width: a person greps for it."""
    bad = tmp_path / ("a-long-directory-name-" * 4) / "bad.parquet"
    bad.parent.mkdir()
    bad.write_bytes(b"nope")
    config = tmp_path / "c.yaml"
    config.write_text(f"state_path: {tmp_path / 'state.db'}\n")
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "driftwarden",
            "reference",
            "build",
            "--model",
            "m",
            "--input",
            str(bad),
            "--config",
            str(config),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "COLUMNS": columns},
        check=False,
    )
    assert done.returncode == 2
    [line] = [line for line in done.stderr.splitlines() if "cannot parse as parquet" in line]
    assert str(bad) in line
