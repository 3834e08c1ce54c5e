"""`driftwarden check --config --model` with `estimate`: a current file without labels gets its quality
estimated (CBPE) from a reference that has them; `driftwarden.compare(estimate=...)` is the same path."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import polars as pl
import pytest
import yaml

import driftwarden
from tests.support.processes import driftwarden as run


def scored(rng: np.random.Generator, n: int, *, spread: float) -> pl.DataFrame:
    x = rng.normal(0.0, spread, n)
    score = 1 / (1 + np.exp(-3.0 * x))
    return pl.DataFrame({"x": x, "prediction": score, "label": (rng.random(n) < score).astype(np.int64)})


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("estimate")
    rng = np.random.default_rng(4)
    paths = {"ref": root / "reference.parquet", "cur": root / "current.csv", "config": root / "driftwarden.yaml"}
    scored(rng, 20_000, spread=1.5).write_parquet(paths["ref"])
    scored(rng, 5_000, spread=0.3).drop("label").write_csv(paths["cur"])
    paths["config"].write_text(yaml.safe_dump({"models": {"fraud": {"estimate": {"kind": "binary"}}}}))
    return paths


def test_check_estimates_the_quality_of_a_current_file_without_labels(files: dict[str, Path]) -> None:
    args = ["check", "--reference", str(files["ref"]), "--current", str(files["cur"]), "--config", str(files["config"])]
    done = run(*args, "--model", "fraud", "--json")
    assert done.returncode == 1, done.stderr  # x moved: drift
    report = json.loads(done.stdout)
    estimated = report["estimated_quality"]
    assert estimated["method"] == "cbpe" and estimated["alert"]["degraded"] is True
    accuracy = estimated["metrics"]["accuracy"]
    assert accuracy["value"] < accuracy["reference"] - 0.1 and accuracy["lower"] <= accuracy["value"]
    assert "label" not in report["schema"]["missing_in_current"]  # the labels are not a feature
    table = run(*args, "--model", "fraud")
    assert "estimated accuracy (CBPE, current file: no labels)" in table.stdout and "DEGRADED" in table.stdout
    assert "estimated quality (CBPE, 5,000 rows)" in table.stdout and "roc_auc" in table.stdout
    assert "realized" not in table.stdout


def test_check_html_shows_estimated_quality_and_the_realized_beside_it_when_labelled(
    files: dict[str, Path], tmp_path: Path
) -> None:
    """No labels in the current file: the estimate, its band and the reference; labels: realized beside it."""
    labelled = tmp_path / "labelled.parquet"
    rng = np.random.default_rng(9)
    scored(rng, 5_000, spread=0.3).write_parquet(labelled)
    pages = {}
    for name, current in (("unlabelled", files["cur"]), ("labelled", labelled)):
        html = tmp_path / f"{name}.html"
        args = ["check", "--reference", str(files["ref"]), "--current", str(current), "--config", str(files["config"])]
        done = run(*args, "--model", "fraud", "--html", str(html))
        assert done.returncode == 1, done.stderr
        pages[name] = html.read_text()
        if name == "labelled":
            table, report = (
                run(*args, "--model", "fraud").stdout,
                json.loads(run(*args, "--model", "fraud", "--json").stdout),
            )
    bare = pages["unlabelled"]
    assert '<section id="estimated-quality" data-degraded="true">' in bare and "the current file has no labels" in bare
    assert '<tr data-metric="accuracy">' in bare and "realized" not in bare.split('id="estimated-quality"')[1]
    assert bare.index('id="estimated-quality"') < bare.index("<h2>Features")
    page = pages["labelled"]
    assert "the current file&#x27;s labels give the realized quality" in page or "labels give the realized" in page
    realized, estimated = report["realized_quality"], report["estimated_quality"]["metrics"]
    assert abs(realized["accuracy"] - estimated["accuracy"]["value"]) < 0.03  # covariate shift only: it tracks
    assert f"{realized['accuracy']:.3f}" in page.split('<tr data-metric="accuracy">')[1].split("</tr>")[0]
    assert "realized" in table and "|est - real|" in table


def test_compare_takes_the_same_estimate(files: dict[str, Path]) -> None:
    reference, current = pl.read_parquet(files["ref"]), pl.read_csv(files["cur"])
    result = driftwarden.compare(reference, current, estimate={"kind": "binary"})
    assert result.estimated_quality is not None and result.estimated_quality.degraded
    labelled = driftwarden.compare(reference, reference.head(5000), estimate={"kind": "binary"})
    assert labelled.estimated_quality is not None and labelled.realized_quality is not None  # both, side by side
    assert result.realized_quality is None and "realized_quality" not in result.to_dict()
    assert labelled.to_dict()["realized_quality"]["accuracy"] == labelled.realized_quality["accuracy"]
    assert 'id="estimated-quality"' in labelled._repr_html_()


def test_reference_build_checks_the_estimate_before_storing(files: dict[str, Path], tmp_path: Path) -> None:
    config = tmp_path / "c.yaml"
    config.write_text(
        yaml.safe_dump(
            {"state_path": str(tmp_path / "state.db"), "models": {"fraud": {"estimate": {"kind": "binary"}}}}
        )
    )
    unlabelled = tmp_path / "unlabelled.parquet"
    pl.read_parquet(files["ref"]).drop("label").write_parquet(unlabelled)
    refused = run("reference", "build", "--model", "fraud", "--input", str(unlabelled), "--config", str(config))
    assert refused.returncode == 2 and "no label column 'label'" in refused.stderr, refused.stderr
    built = run("reference", "build", "--model", "fraud", "--input", str(files["ref"]), "--config", str(config))
    assert built.returncode == 0, built.stderr
