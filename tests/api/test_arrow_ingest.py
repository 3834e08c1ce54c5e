"""POST /v1/predictions with an Arrow IPC stream, over real HTTP (issue 19).

The same records sent as NDJSON to one model and as Arrow columns to another give the same drift report;
an Arrow body the daemon cannot take (truncated, compressed buffers, a column of a type records cannot hold,
no model column, too many rows or columns) is refused whole with a reason, counted, and nothing is queued.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pytest

from tests.support.records import ARROW, FEATURES, NDJSON, arrow_stream, put_reference, reference_frame
from tests.support.server import Daemon, running

pytestmark = pytest.mark.server
MAX_RECORDS = 3000
MAX_FEATURES = 10


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Daemon]:
    limits = {"max_records_per_request": MAX_RECORDS, "max_features": MAX_FEATURES}
    with running(tmp_path_factory.mktemp("arrow") / "state.db", evaluate_every="1h", limits=limits) as d:
        yield d


def columns(n: int, seed: int, model: str) -> dict[str, Any]:
    rng = np.random.default_rng(seed)
    values = rng.normal(size=(n, 3)) + np.array([0.0, 0.8, 0.0])  # age drifts
    cols: dict[str, Any] = {"model": [model] * n, "request_id": [f"r{i}" for i in range(n)]}
    cols |= {name: values[:, j] for j, name in enumerate(FEATURES)}
    cols["amount"] = np.where(rng.random(n) < 0.05, np.nan, cols["amount"])  # some missing
    cols["country"] = rng.choice(["DE", "FR", "IT"], n).tolist()
    cols["prediction"] = rng.random(n)
    return cols


def ndjson(cols: dict[str, Any]) -> bytes:
    n = len(cols["model"])
    lines = []
    for i in range(n):
        features = {name: cols[name][i] for name in [*FEATURES, "country"]}
        features = {k: (None if isinstance(v, float) and np.isnan(v) else v) for k, v in features.items()}
        record = {"model": cols["model"][i], "request_id": cols["request_id"][i], "features": features}
        lines.append(orjson.dumps(record | {"prediction": cols["prediction"][i]}, option=orjson.OPT_SERIALIZE_NUMPY))
    return b"\n".join(lines)


def report(d: Daemon, model: str) -> Any:
    body = d.client.get(f"/v1/models/{model}/drift").json()
    body.pop("evaluated_at")  # the two models are evaluated one after the other
    return orjson.loads(orjson.dumps(body).replace(model.encode(), b"MODEL"))


def test_arrow_columns_give_the_drift_report_the_same_ndjson_records_give(daemon: Daemon) -> None:
    rng = np.random.default_rng(3)
    frame = reference_frame(rng, 3000)
    for model in ("viajson", "viaarrow"):
        put_reference(daemon, frame, model)
    for seed in range(2):
        sent_json = daemon.client.post(
            "/v1/predictions", content=ndjson(columns(1000, seed, "viajson")), headers=NDJSON
        )
        sent_arrow = daemon.client.post(
            "/v1/predictions", content=arrow_stream(columns(1000, seed, "viaarrow")), headers=ARROW
        )
        assert sent_json.json() == sent_arrow.json() == {"accepted": 1000, "rejected": 0, "errors": []}
    daemon.evaluate()
    json_report, arrow_report = report(daemon, "viajson"), report(daemon, "viaarrow")
    assert arrow_report == json_report
    assert json_report["drifted"] and "prediction" in str(json_report)  # a report with something in it


def test_bad_rows_of_an_arrow_body_are_rejected_alone_as_json_records_are(daemon: Daemon) -> None:
    body = arrow_stream(
        {
            "model": ["rows", "bad model", "rows", None],
            "amount": [1.0, 2.0, float("inf"), 3.0],
            "country": ["DE", "FR", "DE", "x" * 300],
        }
    )
    answer = daemon.client.post("/v1/predictions", content=body, headers=ARROW)
    assert answer.status_code == 200, answer.text
    got = answer.json()
    assert (got["accepted"], got["rejected"]) == (1, 3)
    assert {(e["index"], e["reason"]) for e in got["errors"]} == {
        (1, "bad_model"),
        (3, "bad_model"),
        (2, "bad_feature_value"),
    }


def _refusals(d: Daemon) -> float:
    text = d.client.get("/metrics").text
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith("driftwarden_requests_rejected_total{") and 'endpoint="/v1/predictions"' in line
    )


GOOD = {"model": ["refused"] * 3, "amount": [1.0, 2.0, 3.0]}


@pytest.mark.parametrize(
    ("body", "status", "reason"),
    [
        (arrow_stream(GOOD)[:-40], 400, "bad_arrow"),
        (arrow_stream(GOOD)[:30], 400, "bad_arrow"),
        (b"\xffnot arrow at all", 400, "bad_arrow"),
        (arrow_stream(GOOD, compression="zstd"), 400, "bad_arrow"),
        (arrow_stream({"model": ["refused"], "amount": [[1.0, 2.0]]}), 400, "bad_arrow_type"),
        (arrow_stream({"model": [1], "amount": [1.0]}), 400, "bad_arrow_type"),
        (arrow_stream({"amount": [1.0]}), 400, "bad_arrow"),
        (arrow_stream({"model": ["refused"] * (MAX_RECORDS + 1), "amount": [1.0] * (MAX_RECORDS + 1)}), 413, None),
        (arrow_stream({"model": ["refused"], **{f"f{j}": [1.0] for j in range(MAX_FEATURES + 9)}}), 413, None),
        (arrow_stream({"model": ["refused"], "x" * 129: [1.0]}), 400, "bad_feature_name"),
    ],
    ids=[
        "truncated",
        "header-only",
        "not-arrow",
        "compressed",
        "list-column",
        "numeric-model",
        "no-model",
        "too-many-rows",
        "too-many-columns",
        "long-name",
    ],
)
def test_an_arrow_body_the_daemon_cannot_take_is_refused_whole_and_counted(
    daemon: Daemon, body: bytes, status: int, reason: str | None
) -> None:
    before = _refusals(daemon)
    answer = daemon.client.post("/v1/predictions", content=body, headers=ARROW)
    assert answer.status_code == status, answer.text
    problem = answer.json()
    assert problem["error"]
    if reason:
        assert problem["reason"] == reason
    assert _refusals(daemon) == before + 1
    assert daemon.client.get("/v1/models/refused/drift").status_code == 404  # nothing of it tracked


def test_an_arrow_body_goes_through_auth_and_sampling(tmp_path: Path) -> None:
    token = tmp_path / "token"
    token.write_text("t0k3n\n")
    models = {"sampled": {"sample_rate": 0.5}}
    with running(tmp_path / "state.db", evaluate_every="1h", auth_token_file=str(token), models=models) as d:
        n = 2000
        body = arrow_stream({"model": ["sampled"] * n, "request_id": [f"q{i}" for i in range(n)], "a": [1.0] * n})
        assert d.client.post("/v1/predictions", content=body, headers=ARROW).status_code == 401
        answer = d.client.post("/v1/predictions", content=body, headers={**ARROW, "authorization": "Bearer t0k3n"})
        assert answer.json()["accepted"] == n
        sampled_out = d.metric("driftwarden_records_sampled_out_total", model="sampled", source="http")
        assert sampled_out is not None and 0.3 * n < sampled_out < 0.7 * n
