"""Embedding drift over real HTTP: records carry named vectors (`embeddings: {"query": [...]}`), the
reference takes them from a Parquet list column, and a centroid that moves by 0.1 of the spread in 8
of 384 dimensions is flagged (report, /metrics, the ModelEmbeddingDrift alert) while an identical
stream is not. Malformed vectors are refused with a reason and counted, nothing stored."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import orjson
import polars as pl

from tests.support.records import NDJSON, put_reference
from tests.support.server import Daemon, running

DIM = 384
ROWS = 5000
MODELS = {name: {"embeddings": {"query": {"dim": DIM}}} for name in ("moved", "same")}


def _reference(rng: np.random.Generator) -> pl.DataFrame:
    vectors = rng.normal(size=(ROWS, DIM)).astype(np.float32)
    return pl.DataFrame(
        {"amount": rng.normal(size=ROWS), "query": pl.Series(vectors.round(4).tolist(), dtype=pl.List(pl.Float32))}
    )


def _send(d: Daemon, model: str, vectors: np.ndarray, amounts: np.ndarray) -> None:
    for start in range(0, len(vectors), 1000):
        lines = [
            orjson.dumps({"model": model, "features": {"amount": float(a)}, "embeddings": {"query": v}})
            for a, v in zip(amounts[start : start + 1000], vectors[start : start + 1000].round(4).tolist(), strict=True)
        ]
        r = d.client.post("/v1/predictions", content=b"\n".join(lines), headers=NDJSON)
        assert r.status_code == 200, r.text
        assert r.json()["accepted"] == len(lines)


def test_a_small_centroid_shift_is_flagged_and_an_identical_stream_is_not(tmp_path: Path) -> None:
    rng = np.random.default_rng(17)
    with running(tmp_path / "s.db", models=MODELS) as d:
        reference = _reference(rng)
        for model in ("moved", "same"):
            put_reference(d, reference, model=model)
        shift = np.zeros(DIM)
        shift[:8] = 0.1  # 0.1 of the spread (sd 1) in 8 of 384 dimensions
        _send(d, "moved", rng.normal(size=(ROWS, DIM)) + shift, rng.normal(size=ROWS))
        _send(d, "same", rng.normal(size=(ROWS, DIM)), rng.normal(size=ROWS))
        d.evaluate(timeout=300)  # two models of 5,000 x 384 vectors: first fits, on a shared machine

        moved = d.client.get("/v1/models/moved/drift").json()["embeddings"]
        if not any(e["drifted"] for e in moved):  # flagged within two evaluations (a second full window)
            _send(d, "moved", rng.normal(size=(ROWS, DIM)) + shift, rng.normal(size=ROWS))
            d.evaluate(timeout=300)  # two models of 5,000 x 384 vectors: first fits, on a shared machine
            moved = d.client.get("/v1/models/moved/drift").json()["embeddings"]
        same = d.client.get("/v1/models/same/drift").json()["embeddings"]
        assert {(e["embedding"], e["method"]) for e in moved} == {("query", "mmd"), ("query", "pcs")}
        mmd = next(e for e in moved if e["method"] == "mmd")
        assert mmd["drifted"] and mmd["pvalue"] < 0.005 and mmd["rows"] == {"reference": ROWS, "current": ROWS}
        assert [(e["method"], e["drifted"]) for e in same] == [("mmd", False), ("pcs", False)], same
        labels = {"embedding": "query", "method": "mmd"}
        assert d.metric("driftwarden_embedding_drifted", model="moved", **labels) == 1.0
        assert d.metric("driftwarden_embedding_drifted", model="same", **labels) == 0.0
        assert d.metric("driftwarden_embedding_drift_score", model="moved", **labels) == mmd["score"]
        page = d.client.get("/ui/models/moved").text
        assert '<section class="embedding" data-embedding="query" data-drifted="true">' in page
        assert '<svg class="chart scatter"' in page and '<g class="reference"' in page and '<g class="current"' in page
        assert 'data-drifted="false"' in d.client.get("/ui/models/same").text
        alerts = d.client.get("/v1/alerts").json()
        names = {(a["labels"]["alertname"], a["labels"].get("model")) for a in alerts.get("alerts", alerts)}
        assert ("ModelEmbeddingDrift", "moved") in names
        assert ("ModelEmbeddingDrift", "same") not in names


def test_malformed_vectors_are_refused_with_a_reason_and_counted(tmp_path: Path) -> None:
    with running(tmp_path / "s.db", models={"search": {"embeddings": {"query": {"dim": 4}}}}) as d:
        bad = [
            {"model": "search", "features": {"x": 1.0}, "embeddings": {"query": [1.0, 2.0, 3.0]}},  # wrong dim
            {"model": "search", "features": {"x": 1.0}, "embeddings": {"query": [1.0, None, 3.0, 4.0]}},
            {"model": "search", "features": {"x": 1.0}, "embeddings": {"other": [1.0, 2.0, 3.0, 4.0]}},  # undeclared
            {"model": "search", "features": {"x": 1.0}, "embeddings": {f"e{k}": [1.0] for k in range(9)}},
            {"model": "search", "features": {"x": 1.0}, "embeddings": {"query": "1,2,3,4"}},
        ]
        r = d.client.post("/v1/predictions", json=bad)
        assert r.status_code == 400, r.text
        body = r.json()
        assert body["accepted"] == 0 and body["rejected"] == len(bad)
        assert {e["reason"] for e in body["errors"]} == {"bad_embedding"}
        messages = " ".join(e["message"] for e in body["errors"])
        assert "4 dimensions" in messages and "not declared" in messages and "at most 8" in messages
        assert d.metric("driftwarden_records_rejected_total", source="http", reason="bad_embedding") == len(bad)
        good = {"model": "search", "features": {"x": 1.0}, "embeddings": {"query": [1.0, 2.0, 3.0, 4.0]}}
        r = d.client.post("/v1/predictions", json=[good, bad[0]])
        assert r.status_code == 200 and r.json()["accepted"] == 1, r.text
        d.evaluate(timeout=300)  # two models of 5,000 x 384 vectors: first fits, on a shared machine
        assert d.daemon.models.get("search").embeddings.windows["query"].rows == 1  # type: ignore[union-attr]


def test_the_opt_in_classifier_and_the_components_see_a_large_shift(tmp_path: Path) -> None:
    rng = np.random.default_rng(5)
    embeddings = {"query": {"dim": 16, "window": 1000, "methods": ["mmd", "pcs", "classifier"], "pcs_share": 0.05}}
    with running(tmp_path / "s.db", models={"m": {"embeddings": embeddings}}) as d:
        vectors = rng.normal(size=(2000, 16)).astype(np.float32)
        frame = pl.DataFrame({"amount": rng.normal(size=2000), "query": pl.Series(vectors.tolist())})
        put_reference(d, frame, model="m")
        moved = rng.normal(size=(1000, 16))
        moved[:, 0] *= 2.0  # the spread of one direction doubles
        _send(d, "m", moved, rng.normal(size=1000))
        d.evaluate(timeout=300)  # two models of 5,000 x 384 vectors: first fits, on a shared machine
        verdicts = {e["method"]: e for e in d.client.get("/v1/models/m/drift").json()["embeddings"]}
        assert set(verdicts) == {"mmd", "pcs", "classifier"}
        assert all(v["drifted"] for v in verdicts.values()), verdicts
        assert verdicts["classifier"]["score"] > 0.55 and verdicts["pcs"]["score"] > 0
