"""One model's failed evaluation costs only that model: over real HTTP, the other models, the SLOs
and the alerts are still evaluated on time, and the failure is on /metrics, in the drift report
and on the model's UI page until the model evaluates again."""

from __future__ import annotations

import io
import logging
import time
from pathlib import Path

import numpy as np
import orjson
import polars as pl
import pytest

from tests.support.server import running

pytestmark = pytest.mark.server

NDJSON = {"content-type": "application/x-ndjson"}


def reference(rng: np.random.Generator, rows: int = 2000) -> bytes:
    frame = pl.DataFrame({"x": rng.normal(size=rows), "y": rng.normal(size=rows)})
    buf = io.BytesIO()
    frame.write_parquet(buf)
    return buf.getvalue()


def records(model: str, rng: np.random.Generator, rows: int, shift: float = 0.0) -> bytes:
    values = rng.normal(size=(rows, 2)) + shift
    return b"\n".join(orjson.dumps({"model": model, "features": {"x": x, "y": y}}) for x, y in values.tolist())


def failing_spans(rows: int, ago: float = 0.0) -> bytes:
    now = time.time_ns() - int(ago * 1e9)
    span = {
        "traceId": "5b8efff798038103d269b633813fc60c",
        "spanId": "eee19b7ec3c1b174",
        "name": "POST /predict",
        "kind": 2,
        "startTimeUnixNano": str(now - 50_000_000),
        "endTimeUnixNano": str(now - 1_000_000),
        "status": {"code": 2},
        "attributes": [{"key": "http.route", "value": {"stringValue": "/predict"}}],
    }
    resource = {"attributes": [{"key": "service.name", "value": {"stringValue": "fraud-model"}}]}
    body = {"resourceSpans": [{"resource": resource, "scopeSpans": [{"spans": [span] * rows}]}]}
    return orjson.dumps(body)


class Boom(RuntimeError):
    pass


def test_a_failing_model_costs_only_itself(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    rng = np.random.default_rng(3)
    slo = {"name": "fraud-availability", "service": "fraud-model", "objective": 0.99, "min_requests": 1}
    with running(tmp_path / "state.db", evaluate_every="1h", slos=[slo], alerting={"for": 1}) as d:
        for model in ("broken", "good"):
            r = d.client.put(
                f"/v1/models/{model}/reference",
                content=reference(rng),
                headers={"content-type": "application/vnd.apache.parquet"},
            )
            assert r.status_code == 200, r.text
            r = d.client.post("/v1/predictions", content=records(model, rng, 1000, shift=2.0), headers=NDJSON)
            assert r.status_code == 200, r.text
        for ago in (360.0, 0.0):  # a span six minutes old: the SLO's 5m window has its history
            r = d.client.post(
                "/v1/traces", content=failing_spans(50, ago), headers={"content-type": "application/json"}
            )
            assert r.status_code == 200, r.text

        def explode(*args: object, **kwargs: object) -> None:
            raise Boom("bins overflowed")

        d.daemon.models.get("broken").detector.evaluate = explode  # "broken" sorts first: evaluated first
        with caplog.at_level(logging.ERROR, logger="driftwarden.faults"):
            d.evaluate()
            first = d.metric("driftwarden_last_evaluation_timestamp_seconds", model="good")
            time.sleep(0.05)
            d.evaluate()
        second = d.metric("driftwarden_last_evaluation_timestamp_seconds", model="good")

        # every other part was evaluated, twice, on time
        assert first is not None and second is not None and second > first
        assert d.metric("driftwarden_model_drifted", model="good") == 1.0
        assert d.metric("driftwarden_last_evaluation_timestamp_seconds", model="broken") is None
        slos = d.client.get("/v1/slos").json()["slos"]
        assert slos[0]["alerts"], "the SLO was evaluated and burns"
        firing = d.client.get("/v1/alerts").json()
        names = {a["labels"]["alertname"] for a in firing["alerts"] if a["labels"].get("model") != "broken"}
        assert {"FeatureDrift", "SLOErrorBudgetBurn"} <= names, firing

        # the failure: counted per evaluation, logged once, in the report and on the page
        assert d.metric("driftwarden_evaluation_failures_total", model="broken", stage="drift") == 2.0
        logged = [r for r in caplog.records if "broken" in r.getMessage()]
        assert len(logged) == 1 and "bins overflowed" in logged[0].getMessage()
        r = d.client.get("/v1/models/broken/drift")
        assert r.status_code == 503 and "bins overflowed" in r.json()["error"]
        page = d.client.get("/ui/models/broken").text
        assert (
            'id="evaluation-failures"' in page and "bins overflowed" in page and "<b>drift</b> failed 3×" in page
        )  # twice on the clock, once for the first look

        # once it evaluates again, the failure is gone from the report
        del d.daemon.models.get("broken").detector.evaluate
        d.evaluate()
        r = d.client.get("/v1/models/broken/drift")
        assert r.status_code == 200 and "evaluation_failures" not in r.json()
        assert "bins overflowed" not in d.client.get("/ui/models/broken").text


def test_a_model_that_stops_evaluating_keeps_its_last_verdict(tmp_path: Path) -> None:
    """Its alerts neither resolve nor flap because the judge broke: the failure is reported apart."""
    rng = np.random.default_rng(5)
    with running(tmp_path / "state.db", evaluate_every="1h", alerting={"for": 1, "resolve_hold": "0s"}) as d:
        r = d.client.put(
            "/v1/models/m/reference",
            content=reference(rng),
            headers={"content-type": "application/vnd.apache.parquet"},
        )
        assert r.status_code == 200, r.text
        assert d.client.post("/v1/predictions", content=records("m", rng, 1000, shift=2.0), headers=NDJSON).is_success
        d.evaluate()

        def firing() -> set[str]:
            alerts = d.client.get("/v1/alerts").json()["alerts"]
            return {a["labels"]["alertname"] for a in alerts if a["status"] == "firing"}

        assert "FeatureDrift" in firing()

        def explode(*args: object, **kwargs: object) -> None:
            raise Boom("judge broke")

        d.daemon.models.get("m").detector.evaluate = explode
        d.evaluate()
        d.evaluate()
        assert "FeatureDrift" in firing()
        assert d.metric("driftwarden_evaluation_failures_total", model="m", stage="drift") == 2.0
