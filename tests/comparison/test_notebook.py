"""The notebook API, `driftwarden.compare`: the README's example run as written (a doctest of its
block), polars and pandas frames alike, the object `driftwarden check` prints, and `_repr_html_` as
Debian's headless Chromium draws it inside a notebook-like page (skipped without it, unless CI=true).
DRIFTWARDEN_SCREENSHOTS=docs/screenshots refreshes docs/screenshots/notebook-report.png.
"""

from __future__ import annotations

import doctest
import json
import os
import subprocess
import sys
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import polars as pl
import pytest

import driftwarden as dw
from driftwarden.collector.tables import read_frame
from driftwarden.comparison import Comparison, DriftwardenWarning, compare_frames
from tests.support.pages import Dom, browse, chromium
from tests.support.processes import ROOT, driftwarden

README = ROOT / "README.md"
MARKER = "<!-- the example below runs under pytest (tests/comparison/test_notebook.py) -->"


def readme_example() -> str:
    """The ```python block after MARKER in the README."""
    text = README.read_text(encoding="utf-8")
    after = text[text.index(MARKER) + len(MARKER) :].lstrip()
    assert after.startswith("```python\n")
    return after.removeprefix("```python\n").split("\n```", 1)[0] + "\n"


@pytest.fixture(scope="module")
def readme(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The README example run as a doctest in a directory of its own; its names after the run."""
    cwd = tmp_path_factory.mktemp("readme")
    test = doctest.DocTestParser().get_doctest(readme_example(), {}, "README.md", str(README), 0)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
    previous = Path.cwd()
    os.chdir(cwd)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            runner.run(test, clear_globs=False)
    finally:
        os.chdir(previous)
    return {"results": runner.summarize(verbose=False), "globs": test.globs, "cwd": cwd, "warnings": caught}


def test_the_readme_example_runs_as_written(readme: dict[str, Any]) -> None:
    results = readme["results"]
    assert results.attempted >= 8 and results.failed == 0
    assert (readme["cwd"] / "drift.html").read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    notes = [str(w.message) for w in readme["warnings"] if issubclass(w.category, DriftwardenWarning)]
    assert notes == ["customer_id: skipped as ID-like (100% of its reference values are distinct)"]


def test_the_report_is_check_s_report_object(readme: dict[str, Any]) -> None:
    report = readme["globs"]["report"]
    assert isinstance(report, Comparison) and isinstance(report, dw.Comparison)
    shown = report.to_dict()
    assert shown["drifted"] is True and shown["schema"]["id_like"] == ["customer_id"]
    assert {f["name"]: [r["test"] for r in f["reasons"]] for f in shown["features"]} == {
        "age": ["wasserstein", "ks", "psi"],
        "income": ["missing"],
        "plan": ["psi"],
    }
    # one shape for the notebook, `check --json` and GET /v1/models/{m}/drift: the report's Reason.to_dict()
    assert report.reasons == {f["name"]: f["reasons"] for f in shown["features"] if f["reasons"]}
    assert report.reasons == {f.name: [r.to_dict() for r in f.reasons] for f in report.features if f.reasons}
    assert {"pvalue_bh", "pvalue_test"} <= set(report.reasons["age"][0])
    json.dumps(shown)  # JSON-ready as it is
    fragment = report._repr_html_()
    assert fragment.startswith('<div class="driftwarden-report"') and "<script" not in fragment
    assert fragment.count('<section class="feature') == 3


def test_check_prints_what_compare_returns(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    ref = pl.DataFrame({"id": np.arange(3000), "x": rng.normal(size=3000), "c": rng.choice(["a", "b"], 3000)})
    cur = pl.DataFrame({"id": np.arange(1000), "x": rng.normal(0.5, 1, 1000), "c": rng.choice(["a", "b"], 1000)})
    paths = {"reference": tmp_path / "ref.parquet", "current": tmp_path / "cur.csv"}
    ref.write_parquet(paths["reference"])
    cur.write_csv(paths["current"])
    r = driftwarden("check", "--reference", str(paths["reference"]), "--current", str(paths["current"]), "--json")
    printed = json.loads(r.stdout)
    frames = {side: read_frame(path) for side, path in paths.items()}
    returned = compare_frames(
        frames["reference"],
        frames["current"],
        model="check",
        title=printed["title"],
        sources={side: str(path) for side, path in paths.items()},
    ).to_dict()
    for shown in (printed, returned):
        shown.pop("evaluated_at")
    assert printed == returned


def test_polars_and_pandas_frames_give_one_report() -> None:
    rng = np.random.default_rng(5)
    n = 2000
    ref = pl.DataFrame(
        {
            "amount": rng.lognormal(3, 1, n),
            "country": pl.Series(rng.choice(["DE", "FR", "IT"], n)).scatter([1, 5], None),
            "clicks": pl.Series(rng.integers(0, 50, n)).scatter([2], None),  # nullable integers
        }
    )
    cur = pl.DataFrame(
        {
            "amount": rng.lognormal(3.2, 1, n // 2),
            "country": rng.choice(["DE", "FR", "ES"], n // 2),
            "clicks": rng.integers(0, 50, n // 2),
        }
    )
    from_pandas = dw.compare(_pandas(ref), _pandas(cur)).to_dict()
    from_polars = dw.compare(ref, cur).to_dict()
    for shown in (from_pandas, from_polars):
        shown.pop("evaluated_at")
    assert from_pandas == from_polars
    (country,) = [f for f in from_polars["features"] if f["name"] == "country"]
    assert country["kind"] == "categorical" and country["unseen"] == [
        {"category": "ES", "count": country["unseen"][0]["count"]}
    ]


def test_what_is_left_out_and_why() -> None:
    rng = np.random.default_rng(6)
    ref = pl.DataFrame({"user": [f"u{i}" for i in range(500)], "x": rng.normal(size=500), "old": rng.normal(size=500)})
    cur = pl.DataFrame({"user": [f"u{i}" for i in range(300)], "x": rng.normal(size=300), "new": rng.normal(size=300)})
    with pytest.warns(DriftwardenWarning) as caught:
        report = dw.compare(ref, cur)
    assert sorted(str(w.message).split(":")[0] for w in caught) == ["new", "old", "user"]
    assert report.schema.to_dict() == {
        "missing_in_current": ["old"],
        "missing_in_reference": ["new"],
        "excluded": [],
        "id_like": ["user"],
        "kind_mismatch": [],
        "unsupported": [],
    }
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # asked for: no warning
        report = dw.compare(ref, cur, features=["x", "user"], kinds={"user": "categorical"})
    assert [f.name for f in report.features] == ["x", "user"] and report.schema.id_like == ()
    with pytest.warns(DriftwardenWarning) as caught:
        report = dw.compare(ref, cur, exclude=["old", "new"], id_columns=["usr"])
    assert "usr: named, but neither side has such a column" in [str(w.message) for w in caught]
    assert report.schema.id_like == ("user",)  # found all the same
    assert (
        dw.compare(ref, cur, exclude=["old", "new"], id_columns=["user"], thresholds={"psi": 0.5}).schema.differences
        == ()
    )


def test_import_driftwarden_loads_nothing_else() -> None:
    probe = "import sys, driftwarden\nprint(' '.join(sorted(sys.modules)))"
    loaded = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, cwd=ROOT)
    modules = set(loaded.stdout.split())
    assert {m for m in modules if m.startswith("driftwarden")} == {"driftwarden"}
    assert not modules & {"polars", "numpy", "pandas", "scipy", "rich"}


@pytest.mark.browser
def test_repr_html_in_a_notebook_page_in_headless_chromium(readme: dict[str, Any], tmp_path: Path) -> None:
    binary = chromium()
    fragment = readme["globs"]["report"]._repr_html_()
    probe = tmp_path / "probe.html"
    probe.write_text(_notebook(fragment, probe=True), encoding="utf-8")
    dom = Dom(browse(binary, tmp_path / "p1", "--dump-dom", probe.as_uri())).root
    measured = json.loads(dom.by_id("probe").all_text())
    assert measured["sections"] == 3 and measured["charts"] == 3 and measured["bars"] > 20
    assert measured["h1"] == "32px" and measured["body"] == "rgb(255, 255, 255)"  # the page's own styles stand
    assert measured["header"] == "rgb(200, 55, 45)"  # the report's: the drift colour on top of its header

    shots = Path(os.environ.get("DRIFTWARDEN_SCREENSHOTS", tmp_path / "screenshots"))
    shots.mkdir(parents=True, exist_ok=True)
    page = tmp_path / "notebook.html"
    page.write_text(_notebook(fragment, probe=False), encoding="utf-8")
    out = shots / "notebook-report.png"
    browse(binary, tmp_path / "p2", f"--screenshot={out}", "--window-size=1400,1400", page.as_uri())
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and out.stat().st_size > 50_000


def _notebook(fragment: str, *, probe: bool) -> str:
    """A page laid out like a notebook: the code cell, then `fragment` as its output. With `probe`, a
    script (the page's, not the report's) writes what the browser computed into <pre id="probe">."""
    script = """<pre id="probe"></pre><script>
const style = (el) => getComputedStyle(el);
document.getElementById("probe").textContent = JSON.stringify({
  h1: style(document.getElementById("outside")).fontSize,
  body: style(document.body).backgroundColor,
  header: style(document.querySelector(".driftwarden-report header.summary")).borderTopColor,
  sections: document.querySelectorAll(".driftwarden-report section.feature").length,
  charts: document.querySelectorAll(".driftwarden-report svg.chart").length,
  bars: document.querySelectorAll(".driftwarden-report svg.chart rect.bar").length,
});
</script>"""
    code = "report = dw.compare(reference, current)   # polars or pandas frames\nreport"
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><style>'
        "body{margin:0;background:#fff;color:#212121;font:14px/1.4 'DejaVu Sans',sans-serif}"
        "h1{font-size:32px;margin:16px 24px 4px}"
        ".cell{display:flex;margin:10px 24px 0}.prompt{flex:0 0 72px;font:13px monospace;padding:6px 8px 0 0;"
        "text-align:right;color:#307fc1}.out .prompt{color:#d84315}"
        ".input{flex:1;background:#f5f5f5;border:1px solid #e0e0e0;border-radius:2px}"
        ".input pre{margin:0;padding:6px 10px;font:13px/1.5 'DejaVu Sans Mono',monospace}.output{flex:1;min-width:0}"
        "</style></head><body>"
        '<h1 id="outside">Churn model: this week against last quarter</h1>'
        f'<div class="cell"><div class="prompt">In [3]:</div><div class="input"><pre>{code}</pre></div></div>'
        f'<div class="cell out"><div class="prompt">Out[3]:</div><div class="output">{fragment}</div></div>'
        f"{script if probe else ''}</body></html>"
    )


def _pandas(frame: pl.DataFrame) -> pd.DataFrame:
    """The frame as pandas holds it read from a CSV: floats, object strings with None, nullable integers."""
    out = pd.DataFrame()
    for name in frame.columns:
        column = frame.get_column(name)
        if column.dtype.is_integer():
            out[name] = pd.array(column.to_list(), dtype="Int64")
        elif column.dtype.is_float():
            out[name] = column.to_numpy()
        else:
            out[name] = pd.Series(column.to_list(), dtype=object)
    return out
