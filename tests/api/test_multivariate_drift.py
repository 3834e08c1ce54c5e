"""Multivariate drift over real HTTP: a relation between two features flips while every marginal stays as it
was; the per-feature tests see nothing, `drift.multivariate` (pca, classifier) sees it and names the two."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import polars as pl
import pytest

from tests.support.server import Daemon, running

pytestmark = pytest.mark.server
NDJSON = {"content-type": "application/x-ndjson"}
PARQUET = {"content-type": "application/vnd.apache.parquet"}
WINDOW = 3000
FEATURES = tuple(f"x{j}" for j in range(10))


def rows(rng: np.random.Generator, n: int, *, rho: float) -> pl.DataFrame:
    """Ten standard normal features; x0 and x1 correlated by `rho` (their marginals stay standard normal);
    a categorical column drawn independently."""
    values = rng.normal(size=(n, 10))
    values[:, 1] = rho * values[:, 0] + np.sqrt(1 - rho**2) * values[:, 1]
    frame = pl.DataFrame({name: values[:, j] for j, name in enumerate(FEATURES)})
    return frame.with_columns(pl.Series("plan", rng.choice(["free", "pro", "team"], n, p=[0.6, 0.3, 0.1])))


def parquet(frame: pl.DataFrame) -> bytes:
    buf = io.BytesIO()
    frame.write_parquet(buf)
    return buf.getvalue()


def records(model: str, frame: pl.DataFrame) -> bytes:
    return b"\n".join(orjson.dumps({"model": model, "features": row}) for row in frame.iter_rows(named=True))


def drift(d: Daemon, model: str) -> dict[str, Any]:
    return dict(d.client.get(f"/v1/models/{model}/drift").json())


def firing(d: Daemon, alertname: str) -> list[dict[str, Any]]:
    return [
        a
        for a in d.client.get("/v1/alerts").json()["alerts"]
        if a["labels"]["alertname"] == alertname and a["status"] == "firing"
    ]


def test_a_correlation_flip_turns_the_multivariate_verdict_on_and_no_univariate_one(tmp_path: Path) -> None:
    rng = np.random.default_rng(11)
    reference = rows(rng, 20_000, rho=0.9)
    models = {"m": {"window": WINDOW, "drift": {"multivariate": ["pca", "classifier"], "multivariate_budget": "60s"}}}
    with running(tmp_path / "s.db", models=models) as d:
        answer = d.client.put("/v1/models/m/reference", content=parquet(reference), headers=PARQUET)
        assert answer.status_code == 200, answer.text

        # the same process: nothing flagged, by either method
        d.client.post("/v1/predictions", content=records("m", rows(rng, WINDOW, rho=0.9)), headers=NDJSON)
        d.evaluate()
        calm = drift(d, "m")
        assert [r["method"] for r in calm["multivariate"]] == ["pca", "classifier"]
        assert not any(r["drifted"] for r in calm["multivariate"]), calm["multivariate"]
        assert all(r["skipped"] is None and r["score"] is not None for r in calm["multivariate"])
        assert not calm["drifted"]
        assert d.metric("driftwarden_model_multivariate_drifted", model="m", method="pca") == 0.0
        assert d.metric("driftwarden_model_multivariate_drifted", model="m", method="classifier") == 0.0

        # x0 and x1 now move against each other: marginals unchanged, the relation flipped
        d.client.post("/v1/predictions", content=records("m", rows(rng, WINDOW, rho=-0.9)), headers=NDJSON)
        d.evaluate()
        flipped = drift(d, "m")
        assert not any(f["drifted"] for f in flipped["features"]), [
            f["name"] for f in flipped["features"] if f["drifted"]
        ]
        by_method = {r["method"]: r for r in flipped["multivariate"]}
        for method in ("pca", "classifier"):
            r = by_method[method]
            assert r["drifted"] and r["score"] > r["threshold"] and r["pvalue"] < 0.001, r
            assert {"x0", "x1"} <= set(r["top_features"][:3]), r
            assert d.metric("driftwarden_model_multivariate_drifted", model="m", method=method) == 1.0
            score = d.metric("driftwarden_model_multivariate_drift_score", model="m", method=method)
            assert score is not None and score == pytest.approx(r["score"])
        assert 0.5 < by_method["classifier"]["score"] <= 1.0
        # the model drifts as when half its features do, and says why
        assert flipped["drifted"] and flipped["drift_share"] == 0.0
        assert {r["test"] for r in flipped["reasons"]} == {"multivariate"}

        d.evaluate()  # alerting.for: the alert fires once the finding persists
        alerts = {a["labels"]["subject"]: a for a in firing(d, "ModelMultivariateDrift")}
        assert set(alerts) == {"__multivariate__:pca", "__multivariate__:classifier"}
        pca = alerts["__multivariate__:pca"]
        assert "x0" in pca["annotations"]["summary"] and "x1" in pca["annotations"]["summary"]
        assert "reconstruction error" in pca["annotations"]["summary"]
        assert "x0" in alerts["__multivariate__:classifier"]["annotations"]["summary"]
        assert firing(d, "ModelDrift") and not firing(d, "FeatureDrift")


def test_identical_streams_are_not_flagged_and_none_is_configured_by_choice(tmp_path: Path) -> None:
    rng = np.random.default_rng(12)
    reference = rows(rng, 20_000, rho=0.5)
    models = {"m": {"window": WINDOW}, "off": {"window": WINDOW, "drift": {"multivariate": []}}}
    with running(tmp_path / "s.db", models=models) as d:
        for model in models:
            answer = d.client.put(f"/v1/models/{model}/reference", content=parquet(reference), headers=PARQUET)
            assert answer.status_code == 200, answer.text
        for _ in range(3):
            for model in models:
                d.client.post("/v1/predictions", content=records(model, rows(rng, WINDOW, rho=0.5)), headers=NDJSON)
            d.evaluate()
            report = drift(d, "m")
            assert [r["method"] for r in report["multivariate"]] == ["pca"]  # the default
            assert not report["multivariate"][0]["drifted"], report["multivariate"]
            assert drift(d, "off")["multivariate"] == []
        assert not firing(d, "ModelMultivariateDrift")
        assert d.metric("driftwarden_model_multivariate_drifted", model="off", method="pca") is None
