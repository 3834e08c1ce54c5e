"""Estimated quality before labels arrive (CBPE, DLE), over real HTTP: the reference carries the model's
outputs and labels, windows carry neither labels nor anything else, and the estimate is checked against
the realized quality of the labels posted afterwards."""

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
JSON = {"content-type": "application/json"}
PARQUET = {"content-type": "application/vnd.apache.parquet"}
WINDOW = 5000


def parquet(frame: pl.DataFrame) -> bytes:
    buf = io.BytesIO()
    frame.write_parquet(buf)
    return buf.getvalue()


# --- a calibrated binary classifier -------------------------------------------------------------


def classifier_rows(rng: np.random.Generator, n: int, *, spread: float) -> pl.DataFrame:
    """The model's score is P(label = 1 | x0) exactly (calibrated); a small `spread` puts the rows in its
    uncertain region, near x0 = 0 where the score is near 0.5."""
    x0 = rng.normal(0.0, spread, n)
    score = 1 / (1 + np.exp(-2.5 * x0))
    return pl.DataFrame(
        {
            "x0": x0,
            "x1": rng.normal(0.0, 1.0, n),
            "prediction": score,
            "label": (rng.random(n) < score).astype(np.int64),
        }
    )


def records(model: str, rows: pl.DataFrame, start: int, features: tuple[str, ...]) -> bytes:
    return b"\n".join(
        orjson.dumps(
            {
                "model": model,
                "request_id": f"r{start + i}",
                "features": {f: row[f] for f in features},
                "prediction": row["prediction"],
            }
        )
        for i, row in enumerate(rows.iter_rows(named=True))
    )


def labels(model: str, rows: pl.DataFrame, start: int) -> bytes:
    return orjson.dumps(
        [{"model": model, "request_id": f"r{start + i}", "label": t} for i, t in enumerate(rows["label"].to_list())]
    )


def estimated(d: Daemon, model: str) -> dict[str, Any]:
    body = d.client.get(f"/v1/models/{model}/drift").json()
    return dict(body["estimated_quality"])


def firing(d: Daemon, alertname: str) -> list[dict[str, Any]]:
    return [
        a
        for a in d.client.get("/v1/alerts").json()["alerts"]
        if a["labels"]["alertname"] == alertname and a["status"] == "firing"
    ]


def realized_accuracy(d: Daemon, model: str) -> float | None:
    return d.metric("driftwarden_model_quality", model=model, metric="accuracy")


def test_cbpe_estimate_falls_with_a_shift_to_the_uncertain_region_and_tracks_realized_accuracy(tmp_path: Path) -> None:
    rng = np.random.default_rng(7)
    reference = classifier_rows(rng, 20_000, spread=1.5)
    calm, shifted = classifier_rows(rng, WINDOW, spread=1.5), classifier_rows(rng, WINDOW, spread=0.35)
    models = {"clf": {"window": WINDOW, "estimate": {"kind": "binary"}}}
    with running(tmp_path / "s.db", models=models, alerting={"for": 2}) as d:
        answer = d.client.put("/v1/models/clf/reference", content=parquet(reference), headers=PARQUET)
        assert answer.status_code == 200, answer.text
        fit = answer.json()["estimate"]
        assert fit["method"] == "cbpe" and fit["kind"] == "binary"
        assert fit["calibration"]["ece"] < 0.02 and 0.0 < fit["calibration"]["brier"] < 0.25
        assert "label" not in {f["name"] for f in answer.json()["features"]}  # not a drift feature
        reference_accuracy = fit["reference_metrics"]["accuracy"]

        # no shift: the reference's accuracy and the realized one lie in the estimate's band, no alert
        d.client.post("/v1/predictions", content=records("clf", calm, 0, ("x0", "x1")), headers=NDJSON)
        d.evaluate()
        d.evaluate()
        calm_estimate = estimated(d, "clf")["metrics"]["accuracy"]
        assert calm_estimate["lower"] <= reference_accuracy <= calm_estimate["upper"]
        assert not firing(d, "ModelQualityEstimatedDegraded")
        assert d.client.post("/v1/labels", content=labels("clf", calm, 0), headers=JSON).json()["matched"] == WINDOW
        calm_realized = realized_accuracy(d, "clf")
        assert calm_realized is not None and calm_estimate["lower"] <= calm_realized <= calm_estimate["upper"]
        assert abs(calm_estimate["value"] - calm_realized) < 0.02

        # the inputs move toward the score's uncertain region: the estimate falls, the alert fires, no label yet
        d.client.post("/v1/predictions", content=records("clf", shifted, WINDOW, ("x0", "x1")), headers=NDJSON)
        d.evaluate()
        d.evaluate()
        shifted_estimate = estimated(d, "clf")
        accuracy = shifted_estimate["metrics"]["accuracy"]
        assert accuracy["value"] < reference_accuracy - 0.1
        assert shifted_estimate["alert"] == {
            "metric": "accuracy",
            "margin": 0.05,
            "threshold": pytest.approx(reference_accuracy - 0.05),
            "degraded": True,
        }
        alerts = firing(d, "ModelQualityEstimatedDegraded")
        assert len(alerts) == 1 and alerts[0]["labels"]["model"] == "clf"
        assert "Estimated accuracy of clf degraded" in alerts[0]["annotations"]["summary"]
        assert d.metric("driftwarden_labels_total", model="clf", outcome="matched") == WINDOW  # the calm ones only
        scraped = {
            name: d.metric(name, model="clf", metric="accuracy")
            for name in (
                "driftwarden_model_quality_estimated",
                "driftwarden_model_quality_estimated_lower",
                "driftwarden_model_quality_estimated_upper",
                "driftwarden_model_quality_reference",
            )
        }
        assert scraped == {
            "driftwarden_model_quality_estimated": pytest.approx(accuracy["value"]),
            "driftwarden_model_quality_estimated_lower": pytest.approx(accuracy["lower"]),
            "driftwarden_model_quality_estimated_upper": pytest.approx(accuracy["upper"]),
            "driftwarden_model_quality_reference": pytest.approx(reference_accuracy),
        }

        # the labels come later: the realized accuracy of the same rows is within 2 points of the estimate
        d.client.post("/v1/labels", content=labels("clf", shifted, WINDOW), headers=JSON)
        shifted_realized = realized_accuracy(d, "clf")
        page = d.client.get("/ui/models/clf").text
    assert shifted_realized is not None and abs(accuracy["value"] - shifted_realized) < 0.02
    assert shifted_realized < reference_accuracy - 0.1
    assert 'id="quality-chart"' in page and "estimated" in page and "realized" in page


def test_a_reference_without_the_label_column_is_refused_and_nothing_is_stored(tmp_path: Path) -> None:
    rows = classifier_rows(np.random.default_rng(1), 500, spread=1.0).drop("label")
    with running(tmp_path / "s.db", models={"clf": {"estimate": {"kind": "binary"}}}) as d:
        answer = d.client.put("/v1/models/clf/reference", content=parquet(rows), headers=PARQUET)
        assert answer.status_code == 400, answer.text
        assert answer.json()["reason"] == "bad_estimate_reference" and "'label'" in answer.json()["error"]
        assert d.client.get("/v1/models/clf/drift").status_code == 404  # no reference: no model either


# --- a multiclass classifier -------------------------------------------------------------------

CLASSES = ("cat", "dog", "fox")


def multiclass_rows(rng: np.random.Generator, n: int, *, spread: float) -> pl.DataFrame:
    """Softmax scores of three classes that are the true class probabilities; the predicted class the best."""
    x = rng.normal(0.0, spread, (n, 2))
    logits = x @ np.array([[2.0, -1.0, -1.0], [0.0, 1.7, -1.7]])
    p = np.exp(logits - logits.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    truth = (rng.random(n)[:, None] > np.cumsum(p, axis=1)).sum(axis=1)
    return pl.DataFrame(
        {
            "x0": x[:, 0],
            "x1": x[:, 1],
            **{f"p_{c}": p[:, j] for j, c in enumerate(CLASSES)},
            "prediction": np.array(CLASSES)[p.argmax(axis=1)],
            "label": np.array(CLASSES)[np.minimum(truth, 2)],
        }
    )


def test_multiclass_cbpe_tracks_realized_accuracy_through_a_shift(tmp_path: Path) -> None:
    rng = np.random.default_rng(11)
    reference = multiclass_rows(rng, 20_000, spread=1.5)
    shifted = multiclass_rows(rng, WINDOW, spread=0.5)
    scores = {c: f"p_{c}" for c in CLASSES}
    models = {"mc": {"window": WINDOW, "estimate": {"kind": "multiclass", "scores": scores}}}
    features = ("x0", "x1", *scores.values())
    with running(tmp_path / "s.db", models=models, alerting={"for": 1}) as d:
        answer = d.client.put("/v1/models/mc/reference", content=parquet(reference), headers=PARQUET)
        assert answer.status_code == 200, answer.text
        fit = answer.json()["estimate"]
        assert fit["kind"] == "multiclass" and set(fit["per_class"]) == set(CLASSES)
        d.client.post("/v1/predictions", content=records("mc", shifted, 0, features), headers=NDJSON)
        d.evaluate()
        accuracy = estimated(d, "mc")["metrics"]["accuracy"]
        assert firing(d, "ModelQualityEstimatedDegraded")  # before any label
        d.client.post("/v1/labels", content=labels("mc", shifted, 0), headers=JSON)
        realized = realized_accuracy(d, "mc")
    assert accuracy["value"] < fit["reference_metrics"]["accuracy"] - 0.1
    assert realized is not None and abs(accuracy["value"] - realized) < 0.02


# --- a regression model (DLE) ------------------------------------------------------------------


def regression_rows(rng: np.random.Generator, n: int, *, shift: float) -> pl.DataFrame:
    """The model's error grows with |x0| and in country "c": where the inputs move decides the error."""
    x0, x1 = rng.normal(shift, 1.0, n), rng.normal(0.0, 1.0, n)
    country = rng.choice(["a", "b", "c"], n, p=[0.5, 0.3, 0.2])
    prediction = 2.0 * x0 + x1
    noise = rng.normal(0.0, 0.3 + 0.8 * np.abs(x0) + 0.5 * (country == "c"), n)
    return pl.DataFrame({"x0": x0, "x1": x1, "country": country, "prediction": prediction, "label": prediction + noise})


def test_dle_estimates_mae_and_rmse_within_ten_percent_of_the_realized_ones(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    reference = regression_rows(rng, 20_000, shift=0.0)
    calm, shifted = regression_rows(rng, WINDOW, shift=0.0), regression_rows(rng, WINDOW, shift=1.5)
    models = {"reg": {"window": WINDOW, "estimate": {"kind": "regression", "margin": 0.2}}}
    features = ("x0", "x1", "country")
    with running(tmp_path / "s.db", models=models, alerting={"for": 1}) as d:
        answer = d.client.put("/v1/models/reg/reference", content=parquet(reference), headers=PARQUET)
        assert answer.status_code == 200, answer.text
        fit = answer.json()["estimate"]
        assert fit["method"] == "dle" and fit["r2_absolute_error"] > 0.1
        outcomes = []
        for start, rows in ((0, calm), (WINDOW, shifted)):
            d.client.post("/v1/predictions", content=records("reg", rows, start, features), headers=NDJSON)
            d.evaluate()
            mae, rmse = (estimated(d, "reg")["metrics"][m] for m in ("mae", "rmse"))
            alerts = firing(d, "ModelQualityEstimatedDegraded")
            d.client.post("/v1/labels", content=labels("reg", rows, start), headers=JSON)
            realized = {m: d.metric("driftwarden_model_quality", model="reg", metric=m) for m in ("mae", "rmse")}
            assert realized["rmse"] is not None and abs(rmse["value"] - realized["rmse"]) < 0.1 * realized["rmse"]
            assert d.metric("driftwarden_model_quality_estimated", model="reg", metric="rmse") == rmse["value"]
            outcomes.append((mae, realized["mae"], alerts))
    (calm_mae, calm_realized, calm_alerts), (shifted_mae, shifted_realized, shifted_alerts) = outcomes
    assert calm_realized is not None and shifted_realized is not None
    assert abs(calm_mae["value"] - calm_realized) < 0.1 * calm_realized and not calm_alerts
    assert calm_mae["lower"] <= fit["reference_metrics"]["mae"] <= calm_mae["upper"]
    assert abs(shifted_mae["value"] - shifted_realized) < 0.1 * shifted_realized
    assert shifted_realized > 1.5 * calm_realized and len(shifted_alerts) == 1


def test_a_reference_file_keeps_its_rows_and_the_estimator_is_fitted_again_after_a_restart(tmp_path: Path) -> None:
    rng = np.random.default_rng(2)
    path = tmp_path / "reference.csv"
    classifier_rows(rng, 5000, spread=1.5).write_csv(path)
    shifted = classifier_rows(rng, 2000, spread=0.35)
    estimate = {"kind": "binary"}
    with running(tmp_path / "s.db", models={"clf": {"reference": str(path), "estimate": estimate}}) as d:
        d.client.post("/v1/predictions", content=records("clf", shifted, 0, ("x0", "x1")), headers=NDJSON)
        d.evaluate()
        before = estimated(d, "clf")
    with running(tmp_path / "s.db", models={"clf": {"estimate": estimate}}) as d:  # the stored reference
        d.evaluate()
        after = estimated(d, "clf")
        failures = d.client.get("/v1/models/clf/drift").json().get("evaluation_failures")
    assert before["metrics"]["accuracy"]["value"] < before["metrics"]["accuracy"]["reference"] - 0.1
    assert after["metrics"] == before["metrics"] and not failures  # the same rows, the same fit, the same window
