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

from driftwarden.alerts.signing import sign, verify
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


def test_a_window_the_statistics_cannot_hold_is_not_pinned(tmp_path: Path) -> None:
    rng = np.random.default_rng(2)
    with running(tmp_path / "state.db", evaluate_every="1h") as d:
        normal = pl.DataFrame({"x": rng.normal(size=1000)})
        assert d.client.put("/v1/models/m/reference", content=parquet(normal), headers=PARQUET).is_success
        rows = b"\n".join(
            orjson.dumps({"model": "m", "features": {"x": v * 1e300}}) for v in rng.normal(size=200).tolist()
        )
        assert d.client.post("/v1/predictions", content=rows, headers=NDJSON).is_success
        r = d.client.post("/v1/models/m/reference/pin")
        assert r.status_code == 409 and "x" in r.json()["error"] and r.json()["reason"] == "unrepresentable"
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
