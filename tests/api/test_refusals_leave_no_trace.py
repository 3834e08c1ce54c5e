"""Whatever is refused leaves no trace, whatever is stored is usable: references and pins with values
the statistics cannot hold, and silences without a finite end, answer 4xx naming the problem and
change nothing (issue 14, "stored though refused")."""

from __future__ import annotations

import io
import math
import sqlite3
from pathlib import Path

import numpy as np
import orjson
import polars as pl
import pytest

from driftwarden.alerts.signing import legacy_sign as sign
from driftwarden.alerts.signing import verify_legacy as verify
from tests.support.server import running

pytestmark = pytest.mark.server

PARQUET = {"content-type": "application/vnd.apache.parquet"}
NDJSON = {"content-type": "application/x-ndjson"}


def parquet(frame: pl.DataFrame) -> bytes:
    buf = io.BytesIO()
    frame.write_parquet(buf)
    return buf.getvalue()


def stored_references(state: Path) -> list[str]:
    with sqlite3.connect(state) as db:
        return [row[0] for row in db.execute("SELECT model FROM reference_profiles ORDER BY model")]


def test_a_reference_the_statistics_cannot_hold_is_refused_and_not_stored(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    huge = pl.DataFrame({"ok": rng.normal(size=500), "amount": rng.uniform(-1, 1, 500) * 1.7e308})
    with running(tmp_path / "state.db", evaluate_every="1h") as d:
        r = d.client.put("/v1/models/m/reference", content=parquet(huge), headers=PARQUET)
        assert r.status_code == 400 and "amount" in r.json()["error"] and "ok" not in r.json()["error"].split(":")[0]
        assert d.client.get("/v1/models").json()["models"] == []
        assert d.client.get("/v1/models/m/drift").status_code == 404
    assert stored_references(tmp_path / "state.db") == []


def test_values_the_statistics_cannot_hold_never_reach_a_window_to_be_pinned(tmp_path: Path) -> None:
    rng = np.random.default_rng(2)
    with running(tmp_path / "state.db", evaluate_every="1h") as d:
        normal = pl.DataFrame({"x": rng.normal(size=1000)})
        assert d.client.put("/v1/models/m/reference", content=parquet(normal), headers=PARQUET).is_success
        rows = b"\n".join(
            orjson.dumps({"model": "m", "features": {"x": v * 1e300}}) for v in rng.normal(size=200).tolist()
        )
        r = d.client.post("/v1/predictions", content=rows, headers=NDJSON)
        assert r.status_code == 400 and r.json()["errors"][0]["reason"] == "unrepresentable"
        r = d.client.post("/v1/models/m/reference/pin")
        assert r.status_code == 409 and r.json()["reason"] == "empty_window"
        d.evaluate()
        report = d.client.get("/v1/models/m/drift")
        assert report.status_code == 200 and report.json()["rows"]["reference"] == 1000  # the uploaded one
    assert stored_references(tmp_path / "state.db") == ["m"]


@pytest.mark.parametrize(
    "body",
    [
        b'{"matchers": {"model": "fraud"}, "ends_at": NaN}',
        b'{"matchers": {"model": "fraud"}, "ends_at": Infinity}',
        b'{"matchers": {"model": "fraud"}, "duration": "' + b"9" * 400 + b'd"}',
        b'{"matchers": {"model": "fraud"}, "duration": "400d"}',
    ],
    ids=["nan", "infinity", "infinite-duration", "over-a-year"],
)
def test_a_silence_without_a_usable_end_is_refused_and_not_stored(tmp_path: Path, body: bytes) -> None:
    with running(tmp_path / "state.db", evaluate_every="1h") as d:
        r = d.client.post("/v1/silences", content=body, headers={"content-type": "application/json"})
        assert r.status_code == 400, r.text
        assert d.client.get("/v1/silences").json() == {"silences": []}
        ok = d.client.post("/v1/silences", json={"matchers": {"model": "fraud"}, "duration": "2h"})
        assert ok.status_code == 200 and math.isfinite(ok.json()["ends_at"])
        assert d.client.delete(f"/v1/silences/{ok.json()['id']}").status_code == 200


@pytest.mark.parametrize(
    "headers",
    [
        {"x-driftwarden-timestamp": "²³", "x-driftwarden-signature": "sha256=00"},  # digits, not ASCII ones
        {"x-driftwarden-timestamp": "1", "x-driftwarden-signature": "sha256=ü"},  # a non-ASCII signature
        {"x-driftwarden-timestamp": "", "x-driftwarden-signature": ""},
        {},
    ],
)
def test_verify_says_false_to_any_malformed_header(headers: dict[str, str]) -> None:
    assert verify(b"{}", headers, b"secret", now=1) is False


def test_verify_still_accepts_what_sign_made() -> None:
    assert verify(b"{}", sign(b"{}", b"secret", 1000), b"secret", now=1000) is True


def test_a_name_is_matched_whole_a_trailing_newline_included(tmp_path: Path) -> None:
    with running(tmp_path / "state.db", evaluate_every="1h") as d:
        r = d.client.post(
            "/v1/predictions",
            content=orjson.dumps([{"model": "m\n", "features": {"x": 1.0}}]),
            headers={"content-type": "application/json"},
        )
        assert r.status_code == 400 and r.json()["errors"][0]["reason"] == "bad_model"
        r = d.client.put("/v1/models/m%0A/reference", content=b"x\n1\n", headers={"content-type": "text/csv"})
        assert r.status_code == 400 and r.json()["reason"] == "bad_model"
        r = d.client.post("/v1/labels", json=[{"model": "m\n", "request_id": "r", "label": 1}])
        assert r.status_code == 400 and r.json()["errors"][0]["reason"] == "bad_model"
        assert d.client.get("/v1/models").json()["models"] == []


def test_records_and_labels_the_statistics_cannot_hold_are_rejected_one_by_one(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    with running(tmp_path / "state.db", evaluate_every="1h") as d:
        normal = pl.DataFrame({"a": rng.normal(size=1000)})
        assert d.client.put("/v1/models/m/reference", content=parquet(normal), headers=PARQUET).is_success
        records = [
            {"model": "m", "request_id": f"r{i}", "features": {"a": float(v)}, "prediction": float(v)}
            for i, v in enumerate(rng.normal(size=50))
        ]
        records += [
            {"model": "m", "request_id": "huge-feature", "features": {"a": 1.7e308}, "prediction": 1.0},
            {"model": "m", "request_id": "huge-prediction", "features": {"a": 0.5}, "prediction": -1e200},
        ]
        r = d.client.post(
            "/v1/predictions", content=orjson.dumps(records), headers={"content-type": "application/json"}
        )
        assert r.status_code == 200 and (r.json()["accepted"], r.json()["rejected"]) == (50, 2), r.text
        assert r.json()["errors"][0]["reason"] == "unrepresentable" and "1e+150" in r.json()["errors"][0]["message"]
        only_huge = [{"model": "m", "features": {"a": 1e151}}]
        r = d.client.post(
            "/v1/predictions", content=orjson.dumps(only_huge), headers={"content-type": "application/json"}
        )
        assert r.status_code == 400 and r.json()["rejected"] == 1
        labels = [{"model": "m", "request_id": f"r{i}", "label": 1e300 if i == 0 else 0.5} for i in range(10)]
        r = d.client.post("/v1/labels", json=labels)
        assert (
            r.status_code == 200 and r.json()["rejected"] == 1 and r.json()["errors"][0]["reason"] == "unrepresentable"
        )
        d.evaluate()
        assert d.client.get("/v1/models/m/drift").json()["rows"]["current"] == 50
        assert d.metric("driftwarden_records_rejected_total", source="http", reason="unrepresentable") == 3
        scrape = d.client.get("/metrics").text
        assert "+Inf" not in "".join(line for line in scrape.splitlines() if 'le="' not in line)
