"""Every input is bounded before work (issue 14, "Hardening II"): a shape, a row count, a decoded size, a
feature count or a name is checked from the header, the shape or the metadata before any row is built,
and a reference is held to the same feature rules as a record. Each refusal answers a 4xx naming the
limit, is counted, and leaves nothing behind."""

from __future__ import annotations

import io
import sqlite3
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import polars as pl
import pytest

from tests.support.server import running

pytestmark = pytest.mark.server

PARQUET = {"content-type": "application/vnd.apache.parquet"}
CSV = {"content-type": "text/csv"}
NDJSON = {"content-type": "application/x-ndjson"}
REFERENCE = "/v1/models/m/reference"


def kserve(kind: str, event_id: str = "e-1") -> dict[str, str]:
    return {
        "ce-id": event_id,
        "ce-type": f"org.kubeflow.serving.inference.{kind}",
        "ce-source": "http://localhost:9081/",
        "ce-specversion": "1.0",
        "ce-inferenceservicename": "m",
        "content-type": "application/json",
    }


def parquet(frame: pl.DataFrame) -> bytes:
    buf = io.BytesIO()
    frame.write_parquet(buf, compression="zstd")
    return buf.getvalue()


def stored_references(state: Path) -> list[str]:
    with sqlite3.connect(state) as db:
        return [row[0] for row in db.execute("SELECT model FROM reference_profiles")]


# -- KServe: the shape says how many rows, before the rows are built -----------------------------------


@pytest.mark.parametrize(
    ("kind", "payload"),
    [
        ("request", {"inputs": [{"name": "x", "shape": [6000000, 0], "datatype": "FP32", "data": []}]}),
        ("response", {"outputs": [{"name": "p", "shape": [6000000, 0], "datatype": "FP32", "data": []}]}),
        ("request", {"data": {"tensor": {"shape": [6000000, 0], "values": []}}}),
    ],
)
def test_a_zero_width_tensor_is_a_400_before_any_row_is_built(tmp_path: Path, kind: str, payload: Any) -> None:
    body = orjson.dumps(payload)  # 73 bytes for the V2 request: it used to build 6 million empty rows, then 413
    with running(tmp_path / "s.db", evaluate_every="1h") as d:
        r = d.client.post("/v1/kserve", content=body, headers=kserve(kind))
        assert r.status_code == 400 and r.json()["reason"] == "bad_shape"
        assert "[6000000, 0]" in r.json()["error"] and "zero dimension" in r.json()["error"]
        assert d.metric("driftwarden_requests_rejected_total", endpoint="/v1/kserve", reason="bad_shape") == 1
        assert d.client.get("/v1/models").json()["models"] == []


def test_a_tensor_with_more_rows_than_the_limit_is_a_413_before_its_data_is_read(tmp_path: Path) -> None:
    with running(tmp_path / "s.db", evaluate_every="1h") as d:
        tall = {"inputs": [{"name": "x", "shape": [6000000, 1], "datatype": "FP32", "data": [1.0]}]}
        r = d.client.post("/v1/kserve", content=orjson.dumps(tall), headers=kserve("request"))
        assert r.status_code == 413 and r.json()["reason"] == "too_many_records"
        assert "limits.max_records_per_request" in r.json()["error"]
        short = {"inputs": [{"name": "x", "shape": [2, 3], "datatype": "FP32", "data": [1, 2, 3, 4, 5]}]}
        r = d.client.post("/v1/kserve", content=orjson.dumps(short), headers=kserve("request"))
        assert r.status_code == 400 and r.json()["reason"] == "bad_shape"
        assert "needs 6 values, data has 5" in r.json()["error"]


def test_the_events_of_one_post_share_the_record_limit(tmp_path: Path) -> None:
    def event(event_id: str) -> dict[str, Any]:
        return {
            "specversion": "1.0",
            "id": event_id,
            "source": "http://localhost:9081/",
            "type": "org.kubeflow.serving.inference.request",
            "inferenceservicename": "m",
            "data": {"instances": [[1.0, 2.0]] * 6},
        }

    batch = {"content-type": "application/cloudevents-batch+json"}
    with running(tmp_path / "s.db", evaluate_every="1h", limits={"max_records_per_request": 10}) as d:
        r = d.client.post("/v1/kserve", content=orjson.dumps([event("a"), event("b")]), headers=batch)
        assert r.status_code == 413 and r.json()["reason"] == "too_many_records"
        # nothing of the refused batch waits for its response
        done = d.client.post(
            "/v1/kserve", content=b'{"predictions": [1, 1, 1, 1, 1, 1]}', headers=kserve("response", "a")
        )
        assert done.json() == {"accepted": 0, "rejected": 0, "errors": [], "pending": 1}
        r = d.client.post("/v1/kserve", content=orjson.dumps([event("c")]), headers=batch)
        assert r.status_code == 200 and r.json()["pending"] == 2


# -- references: rows and decoded size from the footer or the first rows past the limit ---------------


def test_a_parquet_bomb_is_refused_from_its_footer(tmp_path: Path) -> None:
    bomb = parquet(pl.DataFrame({"x": pl.repeat(1, 20_000_000, dtype=pl.Int8, eager=True)}))  # ~40 KB
    assert len(bomb) < 100_000
    with running(tmp_path / "s.db", evaluate_every="1h") as d:
        r = d.client.put(REFERENCE, content=bomb, headers=PARQUET)
        assert r.status_code == 413 and r.json()["reason"] == "too_many_rows"
        assert "20,000,000 rows" in r.json()["error"] and "limits.max_reference_rows" in r.json()["error"]
        assert (
            d.metric(
                "driftwarden_requests_rejected_total",
                endpoint=REFERENCE.replace("/m/", "/{model}/"),
                reason="too_many_rows",
            )
            == 1
        )
        assert d.client.get("/v1/models").json()["models"] == []
    assert stored_references(tmp_path / "s.db") == []


def test_a_reference_that_decodes_beyond_the_byte_limit_is_refused(tmp_path: Path) -> None:
    wide = parquet(pl.DataFrame({f"c{j}": pl.repeat(0.5, 100_000, eager=True) for j in range(4)}))  # 3.2 MB decoded
    limits = {"max_reference_bytes": 2 * 1024 * 1024}
    with running(tmp_path / "s.db", evaluate_every="1h", limits=limits) as d:
        r = d.client.put(REFERENCE, content=wide, headers=PARQUET)
        assert r.status_code == 413 and r.json()["reason"] == "decoded_too_large"
        assert "limits.max_reference_bytes" in r.json()["error"]
        narrow = parquet(pl.DataFrame({"c0": np.random.default_rng(0).normal(size=100_000)}))
        assert d.client.put(REFERENCE, content=narrow, headers=PARQUET).status_code == 200


@pytest.mark.parametrize("fmt", ["csv", "ndjson"])
def test_a_text_reference_is_read_one_row_past_the_row_limit(tmp_path: Path, fmt: str) -> None:
    frame = pl.DataFrame({"x": np.random.default_rng(1).normal(size=101)})
    body = (frame.write_csv() if fmt == "csv" else frame.write_ndjson()).encode()
    headers = CSV if fmt == "csv" else NDJSON
    with running(tmp_path / "s.db", evaluate_every="1h", limits={"max_reference_rows": 100}) as d:
        r = d.client.put(REFERENCE, content=body, headers=headers)
        assert r.status_code == 413 and r.json()["reason"] == "too_many_rows"
        assert "more than 100 rows" in r.json()["error"]
        fits = frame.head(100)
        body = (fits.write_csv() if fmt == "csv" else fits.write_ndjson()).encode()
        assert d.client.put(REFERENCE, content=body, headers=headers).json()["rows"] == 100
    assert stored_references(tmp_path / "s.db") == ["m"]


# -- references: the feature rules of records ---------------------------------------------------------


def columns_csv(names: list[str], rows: int = 50) -> bytes:
    rng = np.random.default_rng(2)
    return pl.DataFrame({name: rng.normal(size=rows) for name in names}).write_csv().encode()


def test_a_reference_with_more_columns_than_max_features_is_refused_and_not_stored(tmp_path: Path) -> None:
    with running(tmp_path / "s.db", evaluate_every="1h", limits={"max_features": 5}, redact=["secret"]) as d:
        r = d.client.put(REFERENCE, content=columns_csv([f"f{j}" for j in range(6)]), headers=CSV)
        assert r.status_code == 409 and r.json()["reason"] == "too_many_features"
        assert "6 columns" in r.json()["error"] and "limits.max_features" in r.json()["error"]
        assert d.client.get("/v1/models").json()["models"] == []
        assert d.metric("driftwarden_feature_missing_ratio", model="m", feature="f0", window="reference") is None
        # redacted columns are not read, so not counted
        ok = d.client.put(REFERENCE, content=columns_csv([*(f"f{j}" for j in range(5)), "secret"]), headers=CSV)
        assert ok.status_code == 200 and [f["name"] for f in ok.json()["features"]] == [f"f{j}" for j in range(5)]


def test_a_reference_cannot_pass_max_features_with_the_features_records_brought(tmp_path: Path) -> None:
    with running(tmp_path / "s.db", evaluate_every="1h", limits={"max_features": 5}) as d:
        record = {"model": "m", "features": {f"a{j}": 1.0 for j in range(4)}}
        assert d.client.post("/v1/predictions", content=orjson.dumps(record), headers=NDJSON).json()["accepted"] == 1
        r = d.client.put(REFERENCE, content=columns_csv(["b0", "b1"]), headers=CSV)
        assert r.status_code == 409 and r.json()["reason"] == "too_many_features"
        assert "2 new features" in r.json()["error"] and "limits.max_features" in r.json()["error"]
        assert d.client.get("/v1/models").json()["models"][0]["has_reference"] is False
        assert d.client.put(REFERENCE, content=columns_csv(["a0", "b0"]), headers=CSV).status_code == 200
    assert stored_references(tmp_path / "s.db") == ["m"]


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (columns_csv(["ok", "x" * 129]), "129 characters"),
        (b",a\n0,1.5\n1,2.5\n", "column 1 has no name"),  # pandas' to_csv writes its index under no name
    ],
)
def test_a_reference_column_name_records_could_not_send_is_refused(tmp_path: Path, body: bytes, expected: str) -> None:
    with running(tmp_path / "s.db", evaluate_every="1h") as d:
        r = d.client.put(REFERENCE, content=body, headers=CSV)
        assert r.status_code == 400 and r.json()["reason"] == "bad_feature_name"
        assert expected in r.json()["error"] and "1-128" in r.json()["error"]
        assert d.client.get("/v1/models").json()["models"] == []
    assert stored_references(tmp_path / "s.db") == []
