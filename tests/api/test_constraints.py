"""Data-quality constraints over real HTTP: each kind of violation raises its counter, its share of the
window and a DataQualityViolation alert with example values, while traffic within the constraints raises
none; a redacted feature's examples are never shown."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from tests.support.quality import CONSTRAINTS, frame, ndjson
from tests.support.records import NDJSON
from tests.support.server import Daemon, running

pytestmark = pytest.mark.server

COUNTER = "driftwarden_constraint_violations_total"
SHARE = "driftwarden_constraint_violating_share"
ALERTING = {"for": 1, "group_wait": "0s", "group_interval": "0s"}


def post(d: Daemon, body: bytes) -> None:
    r = d.client.post("/v1/predictions", content=body, headers=NDJSON)
    assert r.status_code in (200, 202), r.text


def put_reference(d: Daemon, df: pl.DataFrame) -> None:
    buf = io.BytesIO()
    df.write_parquet(buf)
    r = d.client.put(
        "/v1/models/shop/reference", content=buf.getvalue(), headers={"content-type": "application/vnd.apache.parquet"}
    )
    assert r.status_code == 200, r.text


def violations(d: Daemon) -> list[dict]:
    return d.client.get("/v1/models/shop/drift").json()["constraints"]


def quality_alerts(d: Daemon) -> list[dict]:
    alerts = d.client.get("/v1/alerts").json()["alerts"]
    return [a for a in alerts if a["labels"]["alertname"] == "DataQualityViolation"]


def faulty(rng: np.random.Generator, kind: str) -> bytes:
    df = frame(rng, 50)
    match kind:
        case "range":  # negative ages
            df = df.with_columns(age=-df["age"])
        case "category":
            df = df.with_columns(country=pl.lit("XX"))
        case "regex":
            df = df.with_columns(email=pl.lit("not an email"))
        case "type":  # age as text
            df = df.with_columns(age=df["age"].cast(pl.Int64).cast(pl.String))
        case "missing":  # 45 of 50 rows without an age: the share of the window passes max_missing 0.2
            df = df.with_columns(age=pl.when(pl.int_range(pl.len()) < 45).then(None).otherwise(pl.col("age")))
        case "undeclared":
            df = df.with_columns(coupon=pl.lit("SPRING"))
        case "absent":
            df = df.drop("email")
    return ndjson(df)


EXPECTED = {  # kind -> (feature, violating values in the faulty batch, an example)
    "range": ("age", 50, None),
    "category": ("country", 50, "XX"),
    "regex": ("email", 50, "not an email"),
    "type": ("age", 50, None),
    "missing": ("age", 45, None),
    "undeclared": ("coupon", 50, "SPRING"),
    "absent": ("email", 50, None),
}


def test_traffic_within_the_constraints_raises_no_violation(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    models = {"shop": {"constraints": CONSTRAINTS}}
    with running(tmp_path / "s.db", evaluate_every="1h", models=models, alerting=ALERTING) as d:
        put_reference(d, frame(rng, 2000))
        post(d, ndjson(frame(rng, 500)))
        d.evaluate()
        d.evaluate()
        assert violations(d) == []
        assert quality_alerts(d) == []
        text = d.client.get("/metrics").text
        assert COUNTER not in text.replace(f"# HELP {COUNTER}", "").replace(f"# TYPE {COUNTER}", "")


@pytest.mark.parametrize("kind", list(EXPECTED))
def test_each_violation_raises_its_counter_share_and_alert(tmp_path: Path, kind: str) -> None:
    rng = np.random.default_rng(2)
    feature, count, example = EXPECTED[kind]
    models = {"shop": {"constraints": CONSTRAINTS, "window": {"rows": 1000}}}
    with running(tmp_path / "s.db", evaluate_every="1h", models=models, alerting=ALERTING) as d:
        put_reference(d, frame(rng, 2000))
        post(d, ndjson(frame(rng, 150)))
        post(d, faulty(rng, kind))
        assert d.metric(COUNTER, model="shop", feature=feature, constraint=kind) == count
        d.evaluate()
        d.evaluate()
        assert d.metric(SHARE, model="shop", feature=feature, constraint=kind) == pytest.approx(count / 200)
        [found] = [v for v in violations(d) if v["constraint"] == kind]
        assert (found["feature"], found["violations"], found["rows"], found["violated"]) == (feature, count, 200, True)
        if example is not None:
            assert found["examples"][0] == example
        if kind == "range":
            assert float(found["examples"][0]) < 0
        [alert] = [a for a in quality_alerts(d) if a["labels"]["constraint"] == kind]
        assert alert["labels"]["subject"] == feature and alert["labels"]["model"] == "shop"
        assert alert["status"] == "firing" and kind in alert["annotations"]["summary"]
        others = {(v["feature"], v["constraint"]) for v in violations(d)} - {(feature, kind)}
        assert others <= {("age", "range"), ("age", "missing")}, others  # text ages are missing numbers
        page = d.client.get("/ui/models/shop").text
        assert f'data-feature="{feature}" data-constraint="{kind}" data-violated="true"' in page


def test_a_redacted_feature_is_checked_but_its_values_never_shown(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    models = {"shop": {"constraints": CONSTRAINTS}}
    with running(tmp_path / "s.db", evaluate_every="1h", models=models, alerting=ALERTING, redact=["email"]) as d:
        put_reference(d, frame(rng, 2000).drop("email"))
        post(d, faulty(rng, "regex"))
        assert d.metric(COUNTER, model="shop", feature="email", constraint="regex") == 50
        d.evaluate()
        [found] = [v for v in violations(d) if v["feature"] == "email"]
        assert found["examples"] == ["[redacted]"]
        assert "not an email" not in d.client.get("/v1/alerts").text
        assert "not an email" not in d.client.get("/ui/models/shop").text


def test_violations_leave_the_window_with_their_rows(tmp_path: Path) -> None:
    rng = np.random.default_rng(4)
    models = {"shop": {"constraints": CONSTRAINTS, "window": {"rows": 200}}}
    with running(tmp_path / "s.db", evaluate_every="1h", models=models) as d:
        put_reference(d, frame(rng, 2000))
        post(d, faulty(rng, "category"))
        for _ in range(5):
            post(d, ndjson(frame(rng, 100)))
        d.evaluate()
        assert violations(d) == []
        assert d.metric(COUNTER, model="shop", feature="country", constraint="category") == 50
