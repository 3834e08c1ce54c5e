"""Drift per segment over real HTTP: a segment holding 5 % of the traffic shifts completely; its own
verdict says so (report, /metrics, an alert naming the segment, the UI) while the model's stays off."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import orjson
import polars as pl
import pytest

from tests.support.server import running

pytestmark = pytest.mark.server
NDJSON = {"content-type": "application/x-ndjson"}
PARQUET = {"content-type": "application/vnd.apache.parquet"}
COUNTRIES = ["BR", *(f"C{k:02d}" for k in range(19))]  # BR: 5 % of the rows, like every other country


def rows(rng: np.random.Generator, n: int, *, shift_br: float) -> pl.DataFrame:
    country = np.array(COUNTRIES)[rng.integers(0, len(COUNTRIES), n)]
    moved = (country == "BR") * shift_br
    x0, x1 = rng.normal(moved, 1.0, n), rng.normal(moved, 1.0, n)
    return pl.DataFrame({"x0": x0, "x1": x1, "country": country, "prediction": 1 / (1 + np.exp(-x0))})


def test_a_five_percent_segment_that_shifts_is_flagged_while_the_model_is_not(tmp_path: Path) -> None:
    rng = np.random.default_rng(5)
    reference, current = rows(rng, 40_000, shift_br=0.0), rows(rng, 20_000, shift_br=1.5)
    buf = io.BytesIO()
    reference.write_parquet(buf)
    body = b"\n".join(
        orjson.dumps(
            {"model": "m", "features": {k: r[k] for k in ("x0", "x1", "country")}, "prediction": r["prediction"]}
        )
        for r in current.iter_rows(named=True)
    )
    models = {"m": {"window": 5000, "segments": ["country"], "segmenting": {"top": 20, "min_rows": 800}}}
    with running(tmp_path / "s.db", models=models, alerting={"for": 1}) as d:
        answer = d.client.put("/v1/models/m/reference", content=buf.getvalue(), headers=PARQUET)
        assert answer.status_code == 200 and answer.json()["segments"] == 20, answer.text
        assert d.client.post("/v1/predictions", content=body, headers=NDJSON).json()["accepted"] == 20_000
        d.evaluate()
        report = d.client.get("/v1/models/m/drift").json()
        drifted = d.metric("driftwarden_segment_drifted", model="m", segment="country=BR")
        model_drifted = d.metric("driftwarden_model_drifted", model="m")
        alerts = [a for a in d.client.get("/v1/alerts").json()["alerts"] if a["labels"]["alertname"] == "ModelDrift"]
        page = d.client.get("/ui/models/m").text
    assert report["drifted"] is False and model_drifted == 0.0  # 5 % of the rows moved: the model is calm
    worst = report["segments"][0]
    assert worst["segment"] == "country=BR" and worst["drifted"] is True and worst["judged"] is True
    assert set(worst["drifted_features"]) == {"x0", "x1"} and worst["rows"]["current"] == 800
    assert len(report["segments"]) == 20 and all(s["judged"] for s in report["segments"])
    assert drifted == 1.0
    assert [a["labels"]["segment"] for a in alerts] == ["country=BR"]
    assert "Model drift on m segment country=BR" in alerts[0]["annotations"]["summary"]
    assert page.index('data-segment="country=BR"') < page.index('data-segment="country=C00"')


def test_a_reference_without_the_segment_column_is_refused(tmp_path: Path) -> None:
    buf = io.BytesIO()
    rows(np.random.default_rng(1), 1000, shift_br=0.0).drop("country").write_parquet(buf)
    with running(tmp_path / "s.db", models={"m": {"segments": ["country"]}}) as d:
        answer = d.client.put("/v1/models/m/reference", content=buf.getvalue(), headers=PARQUET)
        assert answer.status_code == 400 and answer.json()["reason"] == "bad_segment_reference", answer.text
        assert d.client.get("/v1/models/m/drift").status_code == 404
