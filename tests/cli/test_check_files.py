"""`driftwarden check` on files as they come: an ID column, a column one side lacks, a high-cardinality
column, output to a pipe or a terminal with NO_COLOR, and a report written under the user's umask.

Every test runs the real command in a subprocess, as a user does.
"""

from __future__ import annotations

import json
import os
import pty
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from tests.support.processes import DRIFTWARDEN, ROOT, driftwarden

LONG_NAME = "average_transaction_amount_over_the_last_ninety_days_in_euros"


def customers(rng: np.random.Generator, n: int, *, shift: float, missing: float, plans: list[float]) -> pl.DataFrame:
    """Customer rows: an id, age (moved by `shift`), income (missing at rate `missing`), a plan, and a merchant
    among 12,000 (more categories than a profile keeps: the reference pools the rest, ties everywhere)."""
    income = rng.lognormal(10, 0.5, n).round(0)
    return pl.DataFrame(
        {
            "customer_id": [f"C{i:07d}" for i in rng.permutation(10**6)[:n]],
            "age": rng.normal(40 + shift, 10, n).round(1),
            "income": pl.Series(income).scatter(np.flatnonzero(rng.random(n) < missing), None),
            "plan": rng.choice(["basic", "pro", "team"], n, p=plans),
            "merchant": [f"M{i:05d}" for i in rng.integers(0, 12_000, n)],
            LONG_NAME: rng.normal(50, 5, n),
            "tenure": rng.integers(0, 60, n),
        }
    )


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A reference (Parquet) and a current file (CSV) without `tenure`: age moved, income's missing rate
    went from 3% to 9%, plans moved up."""
    root = tmp_path_factory.mktemp("check")
    rng = np.random.default_rng(21)
    paths = {"ref": root / "reference.parquet", "cur": root / "current.csv"}
    customers(rng, 60_000, shift=0.0, missing=0.03, plans=[0.5, 0.3, 0.2]).write_parquet(paths["ref"])
    customers(rng, 20_000, shift=4.0, missing=0.093, plans=[0.2, 0.4, 0.4]).drop("tenure").write_csv(paths["cur"])
    return paths


def check(files: dict[str, Path], *args: str) -> subprocess.CompletedProcess[str]:
    return driftwarden("check", "--reference", str(files["ref"]), "--current", str(files["cur"]), *args)


def stable(report: dict[str, object]) -> dict[str, object]:
    """The report less what differs between two runs by design (when it ran, how long it took)."""
    return {k: v for k, v in report.items() if k != "evaluated_at"}


def test_an_id_column_and_a_missing_column(files: dict[str, Path]) -> None:
    runs = [check(files, "--json") for _ in range(3)]
    for r in runs:
        assert r.returncode == 1, r.stderr  # age, income and plan drifted: 3 of 5 features
    report = json.loads(runs[0].stdout)
    assert [stable(json.loads(r.stdout)) for r in runs[1:]] == [stable(report)] * 2  # identical numbers, every run

    assert report["schema"] == {
        "missing_in_current": ["tenure"],
        "missing_in_reference": [],
        "excluded": [],
        "id_like": ["customer_id"],
        "kind_mismatch": [],
        "unsupported": [],
    }
    assert "customer_id: skipped as ID-like" in runs[0].stderr
    assert "tenure: in the reference, missing from the current data" in runs[0].stderr
    features = {f["name"]: f for f in report["features"]}
    assert set(features) == {"age", "income", "plan", "merchant", LONG_NAME}
    assert report["drifted"] is True and {n for n, f in features.items() if f["drifted"]} == {"age", "income", "plan"}
    (why,) = features["income"]["reasons"]  # its distribution did not move: the missing rate did
    assert why["test"] == "missing" and why["from"] == pytest.approx(0.03, abs=0.005)
    assert why["to"] == pytest.approx(0.093, abs=0.01) and why["threshold"] == 0.05 and why["pvalue"] < 1e-6
    assert {r["test"] for r in features["age"]["reasons"]} >= {"ks", "wasserstein"}
    assert report["title"] == "Drift report: current.csv vs reference.parquet"
    assert report["sources"] == {"reference": str(files["ref"]), "current": str(files["cur"])}


def test_pooled_reference_categories_are_not_unseen(files: dict[str, Path]) -> None:
    """The reference keeps its 1,000 most frequent merchants and pools the other 11,000: the current file's
    merchants among those are pooled likewise, not reported as new ones (and do not make drift)."""
    report = json.loads(check(files, "--json").stdout)
    (merchant,) = [f for f in report["features"] if f["name"] == "merchant"]
    known = set(pl.read_parquet(files["ref"]).get_column("merchant"))
    assert merchant["unseen"] and not {u["category"] for u in merchant["unseen"]} & known  # only the truly new
    assert merchant["drifted"] is False and merchant["scores"]["psi"] < 0.2  # it was 17 with them as unseen


def test_exclusions_from_flags_and_config(files: dict[str, Path], tmp_path: Path) -> None:
    r = check(files, "--json", "--id-column", "customer_id", "--exclude", "tenure", "--exclude", "plan")
    schema = json.loads(r.stdout)["schema"]
    assert schema["id_like"] == ["customer_id"] and schema["excluded"] == ["plan", "tenure"]
    assert schema["missing_in_current"] == [] and "warning" not in r.stderr  # nothing left out unasked

    config = tmp_path / "config.yaml"
    config.write_text(
        "redact: [age]\nmodels:\n  churn:\n    features: {customer_id: ignore, merchant: ignore, tenure: ignore}\n"
    )
    r = check(files, "--json", "--config", str(config), "--model", "churn")
    report = json.loads(r.stdout)
    assert report["schema"]["excluded"] == ["customer_id", "age", "merchant", "tenure"]
    assert report["schema"]["id_like"] == [] and "warning" not in r.stderr
    assert {f["name"] for f in report["features"]} == {"income", "plan", LONG_NAME}


def test_strict_schema_exits_2(files: dict[str, Path]) -> None:
    r = check(files, "--strict-schema", "--json")
    assert r.returncode == 2
    assert "error tenure: in the reference, missing from the current data" in r.stderr
    assert "--strict-schema" in r.stderr and json.loads(r.stdout)["schema"]["missing_in_current"] == ["tenure"]
    r = check(files, "--strict-schema", "--exclude", "tenure")
    assert r.returncode == 1, r.stderr  # the schemas agree: the verdict decides


def test_piped_output_is_neither_cut_nor_wrapped_nor_coloured(files: dict[str, Path]) -> None:
    r = check(files, "--title", "nightly churn check")  # stdout is a pipe
    assert r.returncode == 1, r.stderr
    assert "\x1b[" not in r.stdout and "…" not in r.stdout
    lines = r.stdout.splitlines()
    assert lines[0] == "nightly churn check"
    assert f"reference {files['ref']} (60,000 rows) · current {files['cur']} (20,000 rows)" in lines
    (row,) = [line for line in lines if LONG_NAME in line]  # whole, on one line
    assert row.startswith(f"│ {LONG_NAME} ")
    (income,) = [line for line in lines if line.startswith("│ income ")]
    assert re.search(r"│ missing rate \d\.\d% → 9\.\d% \(change [\d.]+ pts ≥ 5 pts; p\(BH\) [^)]+\) +│", income), income
    (summary,) = [line for line in lines if line.startswith("check: DRIFT")]
    assert summary.endswith(")")  # one line, not wrapped at 80 columns
    assert max(map(len, lines)) > 120


@pytest.mark.parametrize("no_color", ["1", None])
def test_no_color_in_a_terminal(files: dict[str, Path], no_color: str | None) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "FORCE_COLOR", "TERM")}
    env |= {"TERM": "xterm-256color", "COLUMNS": "200"} | ({"NO_COLOR": no_color} if no_color else {})
    out = _in_terminal([*DRIFTWARDEN, "check", "--reference", str(files["ref"]), "--current", str(files["cur"])], env)
    assert "DRIFT" in out
    assert ("\x1b[" in out) is (no_color is None)  # a terminal gets colours, unless NO_COLOR says no


def test_html_report_gets_the_umask(files: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "report.html"
    r = subprocess.run(
        [*DRIFTWARDEN, "check", "--reference", str(files["ref"]), "--current", str(files["cur"]), "--html", str(out)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        umask=0o027,
        check=False,
    )
    assert r.returncode == 1, r.stderr
    assert out.stat().st_mode & 0o777 == 0o640  # as any file the user writes, not a temporary file's 0600
    html = out.read_text(encoding="utf-8")
    assert "Drift report: current.csv vs reference.parquet" in html and str(files["ref"]) in html
    assert "missing in current: <code>tenure</code>" in html and "ID-like: <code>customer_id</code>" in html


def _in_terminal(command: list[str], env: dict[str, str]) -> str:
    """Run `command` with its stdout on a pseudo-terminal; what it wrote there."""
    leader, follower = pty.openpty()
    proc = subprocess.Popen(command, stdout=follower, stderr=subprocess.DEVNULL, cwd=ROOT, env=env)
    os.close(follower)
    chunks = []
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # EIO: the terminal closed
            break
        if not chunk:
            break
        chunks.append(chunk)
    proc.wait(timeout=120)
    os.close(leader)
    return b"".join(chunks).decode(errors="replace")


if sys.platform != "linux":  # pty and umask as Linux has them
    pytestmark = pytest.mark.skip("Linux only")
