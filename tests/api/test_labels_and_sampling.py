"""Sampling by request id, delayed labels joined to their predictions, and GET /v1/config (real HTTP)."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from tests.support.server import running

pytestmark = pytest.mark.server
NDJSON = {"content-type": "application/x-ndjson"}
JSON = {"content-type": "application/json"}


def predictions(n: int, model: str = "m") -> bytes:
    return b"\n".join(
        orjson.dumps({"model": model, "request_id": f"r{i}", "features": {"x": i % 7}, "prediction": i % 2})
        for i in range(n)
    )


def metric(text: str, name: str) -> float:
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith(name))


def test_sampling_keeps_the_configured_share_and_the_same_requests_every_time(tmp_path: Path) -> None:
    with running(tmp_path / "s.db", models={"m": {"sample_rate": 0.2}}) as d:
        for _ in range(2):  # the same ids twice: the same rows are kept
            assert d.client.post("/v1/predictions", content=predictions(5000), headers=NDJSON).status_code == 200
        text = d.client.get("/metrics").text
    kept = metric(text, 'driftwarden_records_total{model="m"')
    dropped = metric(text, 'driftwarden_records_sampled_out_total{model="m"')
    assert kept + dropped == 10_000 and 0.17 < kept / 10_000 < 0.23
    assert kept % 2 == 0  # each request kept both times or neither


def test_labels_join_their_sampled_predictions_and_give_realized_quality(tmp_path: Path) -> None:
    with running(tmp_path / "s.db", models={"m": {"sample_rate": 0.5}}) as d:
        d.client.post("/v1/predictions", content=predictions(2000), headers=NDJSON)
        d.evaluate()  # flushes the queue into the windows and the label join
        # the true label is the prediction for even requests and the other class for a quarter of them
        labels = [{"model": "m", "request_id": f"r{i}", "label": (i % 2) ^ int(i % 4 == 1)} for i in range(2000)]
        labels.append({"model": "m", "request_id": "never-sent", "label": 1})
        labels.append({"model": "m", "request_id": 7, "label": 1})
        answer = d.client.post("/v1/labels", content=orjson.dumps(labels), headers=JSON)
        assert answer.status_code == 200, answer.text
        body = answer.json()
        # every label of an unsampled request is unmatched, like an unknown id
        assert body["matched"] + body["unmatched"] == 2001 and 850 < body["matched"] < 1150
        assert body["rejected"] == 1 and body["errors"][0]["pointer"] == "/request_id"
        text = d.client.get("/metrics").text
        accuracy = metric(text, 'driftwarden_model_quality{metric="accuracy",model="m"}') or metric(
            text, 'driftwarden_model_quality{model="m",metric="accuracy"}'
        )
        assert 0.70 < accuracy < 0.80  # a quarter of the labels disagree
        again = d.client.post("/v1/labels", content=orjson.dumps(labels[:10]), headers=JSON).json()
        assert again["matched"] == 0  # a prediction joins once


def test_labels_with_a_bad_body_get_a_reason(tmp_path: Path) -> None:
    with running(tmp_path / "s.db") as d:
        assert d.client.post("/v1/labels", content=b"{", headers=JSON).status_code == 400
        assert d.client.post("/v1/labels", content=b"[]", headers={"content-type": "text/plain"}).status_code == 415
        bad = d.client.post("/v1/labels", content=b'[{"model": "m", "request_id": "a", "label": [1]}]', headers=JSON)
        assert bad.status_code == 400 and bad.json()["errors"][0]["reason"] == "bad_label"
        assert d.client.get("/healthz").status_code == 200


def test_config_endpoint_shows_the_config_in_effect_without_credentials(tmp_path: Path) -> None:
    receivers = [{"name": "hook", "type": "webhook", "url": "https://user:pw@hooks.example/path?token=abc"}]
    with running(tmp_path / "s.db", receivers=receivers, models={"m": {"sample_rate": 0.5}}) as d:
        config = d.client.get("/v1/config").json()
    assert config["models"]["m"]["sample_rate"] == 0.5 and config["limits"]["max_models"] == 100
    url = config["receivers"][0]["url"]
    assert url == "https://***@hooks.example/***"  # the path may be the secret too (tests/api/test_secrets.py)


def test_realized_quality_is_drift_checked_against_the_first_labelled_window(tmp_path: Path) -> None:
    def labelled(start: int, n: int, wrong_every: int) -> bytes:
        return b"\n".join(
            orjson.dumps(
                {
                    "model": "m",
                    "request_id": f"r{i}",
                    "features": {"x": i % 7},
                    "prediction": i % 2,
                    "label": (i % 2) ^ int(i % wrong_every == 0),  # every wrong_every-th prediction is wrong
                }
            )
            for i in range(start, start + n)
        )

    with running(tmp_path / "s.db", models={"m": {"window": 1000}}) as d:
        d.client.post("/v1/predictions", content=labelled(0, 1000, 20), headers=NDJSON)  # 95 % right: the baseline
        d.evaluate()
        d.client.post("/v1/predictions", content=labelled(1000, 1000, 19), headers=NDJSON)  # about the same
        d.evaluate()
        assert not [
            a for a in d.client.get("/v1/alerts").json()["alerts"] if a["labels"]["alertname"] == "ModelQualityDegraded"
        ]
        d.client.post("/v1/predictions", content=labelled(2000, 1000, 4), headers=NDJSON)  # 75 % right
        d.evaluate()
        alerts = [
            a for a in d.client.get("/v1/alerts").json()["alerts"] if a["labels"]["alertname"] == "ModelQualityDegraded"
        ]
        text = d.client.get("/metrics").text
    assert len(alerts) == 1 and "accuracy" in alerts[0]["annotations"]["summary"]
    assert 'driftwarden_model_quality_baseline{metric="accuracy",model="m"} 0.95' in text
