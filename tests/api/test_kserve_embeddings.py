"""KServe V2 (Open Inference Protocol) payload-logger events carrying embeddings over real HTTP: the tensors
named in `models.<m>.embeddings.<name>.tensor` — a request input or a response output — become the records'
vectors (not features, not the prediction) and are judged as any embedding; a tensor of the wrong width is
refused with the reason a record gets, nothing stored."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import orjson

from tests.support.records import put_reference
from tests.support.server import Daemon, running

DIM = 8
MODELS = {
    "search": {
        "embeddings": {
            "query": {"dim": DIM, "tensor": "query_embedding", "window": 500},
            "doc": {"dim": DIM, "tensor": "doc_embedding", "window": 500},
        }
    }
}


def headers(kind: str, event_id: str) -> dict[str, str]:
    """The headers KServe's agent sends (binary mode)."""
    return {
        "ce-id": event_id,
        "ce-type": f"org.kubeflow.serving.inference.{kind}",
        "ce-source": "http://127.0.0.1:9081/",
        "ce-specversion": "1.0",
        "ce-inferenceservicename": "search",
        "ce-namespace": "default",
        "ce-component": "predictor",
        "content-type": "application/json",
    }


def tensor(name: str, values: np.ndarray, datatype: str = "FP32") -> dict[str, Any]:
    return {"name": name, "shape": list(values.shape), "datatype": datatype, "data": values.ravel().tolist()}


def exchange(d: Daemon, event_id: str, amount: np.ndarray, query: np.ndarray, doc: np.ndarray) -> Any:
    request = {"inputs": [tensor("amount", amount[:, None]), tensor("query_embedding", query)]}
    response = {"model_name": "search", "outputs": [tensor("score", amount * 0.5), tensor("doc_embedding", doc)]}
    first = d.client.post("/v1/kserve", content=orjson.dumps(request), headers=headers("request", event_id))
    assert first.status_code == 200, first.text
    return d.client.post("/v1/kserve", content=orjson.dumps(response), headers=headers("response", event_id))


def test_v2_tensors_named_in_the_config_are_the_records_embeddings(tmp_path: Path) -> None:
    import polars as pl

    rng = np.random.default_rng(21)
    with running(tmp_path / "s.db", models=MODELS) as d:
        n = 2000
        put_reference(
            d,
            pl.DataFrame(
                {
                    "amount": rng.normal(size=n),
                    "query": pl.Series(rng.normal(size=(n, DIM)).round(4).tolist(), dtype=pl.List(pl.Float32)),
                    "doc": pl.Series(rng.normal(size=(n, DIM)).round(4).tolist(), dtype=pl.List(pl.Float32)),
                }
            ),
            model="search",
        )
        for batch in range(5):  # 5 inference calls of 100 rows: the query moved, the doc vectors did not
            amount = rng.normal(size=100)
            answer = exchange(
                d, f"call-{batch}", amount, rng.normal(size=(100, DIM)) + 1.0, rng.normal(size=(100, DIM))
            )
            assert answer.status_code == 200, answer.text
            assert answer.json()["accepted"] == 100 and answer.json()["pending"] == 0
        d.evaluate(timeout=120)
        report = d.client.get("/v1/models/search/drift").json()
        verdicts = {(e["embedding"], e["method"]): e for e in report["embeddings"]}
        assert verdicts["query", "mmd"]["drifted"] and verdicts["query", "mmd"]["rows"]["current"] == 500
        assert not verdicts["doc", "mmd"]["drifted"] and verdicts["doc", "mmd"]["rows"]["current"] == 500
        features = {f["name"] for f in report["features"]}
        assert "amount" in features and not any(f.startswith(("query", "doc")) for f in features), features

        wide = rng.normal(size=(3, DIM + 1))  # the config says dim 8: refused as a record would be
        answer = exchange(d, "wide", rng.normal(size=3), wide, rng.normal(size=(3, DIM)))
        assert answer.status_code == 400, answer.text
        assert answer.json()["rejected"] == 3 and {e["reason"] for e in answer.json()["errors"]} == {"bad_embedding"}
        assert "query" in answer.text
        assert d.metric("driftwarden_records_rejected_total", source="kserve", reason="bad_embedding") == 3.0
