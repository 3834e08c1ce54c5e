"""KServe / Seldon payload-logger events: parsing, joining, and the route over real HTTP."""

from __future__ import annotations

import base64
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import orjson
import pytest

from driftwarden.api.kserve import kserve_router
from driftwarden.api.plumbing import bearer_auth, body_reader, http_status
from driftwarden.collector.kserve import parse_events
from driftwarden.collector.kserve_events import read_events
from driftwarden.collector.kserve_join import EVICTED, EXPIRED, REPLACED, EventJoiner
from driftwarden.collector.kserve_payloads import Half, decode_event
from driftwarden.core.errors import BodyTooLarge, InputError
from tests.support.server import Daemon

KSERVE_REQUEST = "org.kubeflow.serving.inference.request"
KSERVE_RESPONSE = "org.kubeflow.serving.inference.response"
SELDON_REQUEST = "io.seldon.serving.inference.request"
SELDON_RESPONSE = "io.seldon.serving.inference.response"


def kserve_headers(kind: str, event_id: str = "0009174a", model: str | None = "sklearn-iris", **extra: str) -> dict:
    """The headers KServe's agent sends (binary mode), Content-Type copied from the inference request."""
    headers = {
        "ce-id": event_id,
        "ce-type": KSERVE_REQUEST if kind == "request" else KSERVE_RESPONSE,
        "ce-source": "http://localhost:9081/",
        "ce-specversion": "1.0",
        "ce-time": "2021-04-10T00:23:26.0789529Z",
        "ce-namespace": "default",
        "ce-component": "predictor",
        "ce-endpoint": "",
        "ce-metadata": "{}",
        "content-type": "application/json",
    }
    if model is not None:
        headers["ce-inferenceservicename"] = model
    return headers | extra


def post(joiner: EventJoiner, kind: str, payload: Any, **kwargs: Any):
    model = kwargs.pop("path_model", None)
    names = kwargs.pop("feature_names", None)
    return parse_events(kserve_headers(kind, **kwargs), orjson.dumps(payload), joiner, model=model, feature_names=names)


def pair(request: Any, response: Any, **kwargs: Any) -> list[dict]:
    """The records a request/response pair yields, straight from the joiner (values unvalidated)."""
    joiner = EventJoiner()
    halves = [
        decode_event(event, model=kwargs.get("model"), feature_names=kwargs.get("feature_names"))
        for kind, payload in (("request", request), ("response", response))
        for event in read_events(kserve_headers(kind), orjson.dumps(payload))
    ]
    assert joiner.add(halves[0]).records == []
    return joiner.add(halves[1]).records


def columns(result) -> dict[str, list[float]]:
    (batch,) = result.batches
    return {name: batch.values[:, j].tolist() for j, name in enumerate(batch.features)}


# -- KServe V1 --------------------------------------------------------------------------------------


def test_v1_list_instances_become_positional_features() -> None:
    joiner = EventJoiner()
    waiting = post(joiner, "request", {"instances": [[6.8, 2.8, 4.8, 1.4], [6.0, 3.4, 4.5, 1.6]]})
    assert waiting.to_dict() == {"accepted": 0, "rejected": 0, "errors": [], "pending": 1}
    done = post(joiner, "response", {"predictions": [1, 1]})
    assert done.to_dict() == {"accepted": 2, "rejected": 0, "errors": [], "pending": 0}
    assert columns(done) == {
        "f0": [6.8, 6.0],
        "f1": [2.8, 3.4],
        "f2": [4.8, 4.5],
        "f3": [1.4, 1.6],
        "prediction": [1.0, 1.0],  # the response's predictions: a column, for output drift
    }
    assert done.batches[0].model == "sklearn-iris"


def test_v1_configured_feature_names_then_positions() -> None:
    names = {"sklearn-iris": ["sepal_length", "sepal_width"]}
    records = pair({"instances": [[6.8, 2.8, 4.8]]}, {"predictions": [2]}, feature_names=names)
    assert records == [
        {
            "model": "sklearn-iris",
            "request_id": "0009174a",
            "features": {"sepal_length": 6.8, "sepal_width": 2.8, "f2": 4.8},
            "prediction": 2,
        }
    ]


def test_v1_dict_instances_keep_their_keys_and_batches_number_request_ids() -> None:
    records = pair(
        {"instances": [{"amount": 12.5, "country": "DE"}, {"amount": 3.0, "country": "FR"}]},
        {"predictions": [0.1, 0.9]},
    )
    assert [r["features"] for r in records] == [{"amount": 12.5, "country": "DE"}, {"amount": 3.0, "country": "FR"}]
    assert [r["prediction"] for r in records] == [0.1, 0.9]
    assert [r["request_id"] for r in records] == ["0009174a/0", "0009174a/1"]


def test_v1_inputs_alias_scalars_and_bad_rows_are_rejected_one_by_one() -> None:
    joiner = EventJoiner()
    post(joiner, "request", {"inputs": [[1.0, 2.0], None, [3.0, [4.0]], "text"]})
    result = post(joiner, "response", {"predictions": [0, 1, 0, 1]})
    assert result.accepted == 2  # row 0 and the scalar row 3 (a categorical f0)
    assert [(e.index, e.reason) for e in result.errors] == [(1, "bad_features"), (2, "bad_feature_value")]


# -- Open Inference Protocol V2 -----------------------------------------------------------------------


def test_v2_inputs_of_shape_n_and_n_by_1_are_named_features_bytes_are_categorical() -> None:
    request = {
        "id": "r-1",
        "inputs": [
            {"name": "amount", "shape": [3, 1], "datatype": "FP32", "data": [[1.5], [2.5], [3.5]]},
            {"name": "age", "shape": [3], "datatype": "INT32", "data": [30, 40, 50]},
            {"name": "country", "shape": [3], "datatype": "BYTES", "data": ["DE", "FR", "DE"]},
        ],
    }
    response = {
        "model_name": "fraud",
        "model_version": "v7",
        "outputs": [{"name": "predict", "shape": [3, 1], "datatype": "INT64", "data": [0, 1, 0]}],
    }
    records = pair(request, response)
    assert records[1] == {
        "model": "sklearn-iris",
        "request_id": "0009174a/1",
        "features": {"amount": 2.5, "age": 40, "country": "FR"},
        "prediction": 1,
        "model_version": "v7",
    }
    joiner = EventJoiner()
    post(joiner, "request", request)
    result = post(joiner, "response", response)
    assert result.accepted == 3 and result.rejected == 0
    assert columns(result) == {"amount": [1.5, 2.5, 3.5], "age": [30.0, 40.0, 50.0], "prediction": [0.0, 1.0, 0.0]}
    (batch,) = result.batches
    assert batch.categorical == ("country",)  # strings: a categorical column
    assert batch.categorical_values[:, 0].tolist() == ["DE", "FR", "DE"]
    assert result.batches[0].model_version == "v7"


@pytest.mark.parametrize("data", [[1, 2, 3, 4, 5, 6], [[1, 2, 3], [4, 5, 6]]], ids=["flat", "nested"])
def test_v2_n_by_k_input_gives_positional_features(data: list) -> None:
    request = {"inputs": [{"name": "predict", "shape": [2, 3], "datatype": "FP64", "data": data}]}
    response = {
        "outputs": [
            {"name": "label", "shape": [2], "datatype": "INT64", "data": [1, 0]},
            {"name": "proba", "shape": [2, 2], "datatype": "FP64", "data": [0.2, 0.8, 0.9, 0.1]},
        ]
    }
    records = pair(request, response)
    assert [r["features"] for r in records] == [
        {"predict_0": 1, "predict_1": 2, "predict_2": 3},
        {"predict_0": 4, "predict_1": 5, "predict_2": 6},
    ]
    assert [r["prediction"] for r in records] == [{"label": 1, "proba": [0.2, 0.8]}, {"label": 0, "proba": [0.9, 0.1]}]
    named = pair(request, response, feature_names={"sklearn-iris": ["a", "b"]})
    assert named[0]["features"] == {"a": 1, "b": 2, "predict_2": 3}


def test_v2_shape_that_does_not_match_the_data_is_refused() -> None:
    joiner = EventJoiner()
    bad = {"inputs": [{"name": "x", "shape": [2, 3], "datatype": "FP32", "data": [1, 2, 3, 4, 5]}]}
    with pytest.raises(InputError) as caught:
        post(joiner, "request", bad)
    assert http_status(caught.value) == 400 and "needs 6 values, data has 5" in caught.value.reason
    disagree = {
        "inputs": [
            {"name": "x", "shape": [2], "datatype": "FP32", "data": [1, 2]},
            {"name": "y", "shape": [3], "datatype": "FP32", "data": [1, 2, 3]},
        ]
    }
    with pytest.raises(InputError, match="3 rows"):
        post(joiner, "request", disagree)
    assert joiner.pending == 0  # nothing of a refused event reaches the table


def test_too_wide_tensor_and_too_many_rows_are_refused_whole() -> None:
    image = {"inputs": [{"name": "img", "shape": [1, 3, 32, 32], "datatype": "FP32", "data": [0.0] * 3072}]}
    with pytest.raises(InputError) as caught:
        parse_events(kserve_headers("request"), orjson.dumps(image), EventJoiner(), max_features=1000)
    assert caught.value.code == "too_many_features" and "limits.max_features" in caught.value.reason
    many = {"instances": [[1.0]] * 11}
    with pytest.raises(BodyTooLarge) as caught:
        parse_events(kserve_headers("request"), orjson.dumps(many), EventJoiner(), max_records=10)
    assert http_status(caught.value) == 413


def test_shapes_are_checked_before_rows_are_built() -> None:
    def request(shape: list[int], data: list[Any]) -> Any:
        payload = {"inputs": [{"name": "x", "shape": shape, "datatype": "FP32", "data": data}]}
        return parse_events(kserve_headers("request"), orjson.dumps(payload), EventJoiner(), max_records=10)

    assert request([0, 0], []).pending == 1  # no rows, no values: an empty batch
    with pytest.raises(InputError, match="zero dimension") as caught:
        request([3, 0], [])
    assert caught.value.code == "bad_shape" and http_status(caught.value) == 400
    with pytest.raises(BodyTooLarge) as caught:  # the shape's rows, before the data is looked at
        request([11, 1], [])
    assert caught.value.code == "too_many_records"
    with pytest.raises(InputError) as caught:  # the width, before the data is flattened
        request([1, 10**12], [])
    assert caught.value.code == "too_many_features"
    wide = {"instances": [[0.0] * 1001]}
    with pytest.raises(InputError) as caught:
        parse_events(kserve_headers("request"), orjson.dumps(wide), EventJoiner(), max_features=1000)
    assert caught.value.code == "too_many_features"


def test_request_and_response_rows_of_a_batch_are_bounded_apart() -> None:
    pair = [structured("request", {"instances": [[1.0]] * 6}), structured("response", {"predictions": [1] * 6})]
    headers = {"content-type": "application/cloudevents-batch+json"}
    result = parse_events(headers, orjson.dumps(pair), EventJoiner(), max_records=6)
    assert result.accepted == 6  # 6 request rows and 6 response rows: each within the limit
    one_more = structured("request", {"instances": [[1.0]]}, id="s-2")
    joiner = EventJoiner()
    with pytest.raises(BodyTooLarge, match="shared by the events of one POST"):
        parse_events(headers, orjson.dumps([*pair, one_more]), joiner, max_records=6)
    assert joiner.pending == 0


# -- CloudEvents modes and Seldon ------------------------------------------------------------------------


def structured(kind: str, data: Any = None, **attributes: Any) -> dict:
    event = {
        "specversion": "1.0",
        "id": "s-1",
        "source": "http://localhost:9081/",
        "type": KSERVE_REQUEST if kind == "request" else KSERVE_RESPONSE,
        "inferenceservicename": "iris",
        "datacontenttype": "application/json",
        "time": "2024-01-01T00:00:00Z",
    }
    if data is not None:
        event["data"] = data
    return event | attributes


def test_structured_mode_with_data_and_data_base64() -> None:
    joiner = EventJoiner()
    ctype = {"content-type": "application/cloudevents+json; charset=utf-8"}
    request = structured("request", {"instances": [[1.0, 2.0]]})
    assert parse_events(ctype, orjson.dumps(request), joiner).pending == 1
    encoded = base64.b64encode(orjson.dumps({"predictions": [7]})).decode()
    result = parse_events(ctype, orjson.dumps(structured("response", data_base64=encoded)), joiner)
    assert result.accepted == 1 and result.pending == 0
    assert columns(result) == {"f0": [1.0], "f1": [2.0], "prediction": [7.0]} and result.batches[0].model == "iris"


def test_batched_structured_events_pair_in_one_post() -> None:
    batch = [structured("request", {"instances": [[1.0], [2.0]]}), structured("response", {"predictions": [0, 1]})]
    result = parse_events(
        {"content-type": "application/cloudevents-batch+json"}, orjson.dumps(batch), joiner := EventJoiner()
    )
    assert result.accepted == 2 and joiner.pending == 0 and joiner.paired == 1


def test_seldon_halves_join_by_requestid_and_read_seldon_messages() -> None:
    def seldon(kind: str, event_id: str) -> dict:
        return {
            "Ce-Id": event_id,  # Seldon: a fresh id per half
            "Ce-Type": SELDON_REQUEST if kind == "request" else SELDON_RESPONSE,
            "Ce-Source": "http://seldon-model-example-classifier:9000/",
            "Ce-Specversion": "1.0",
            "Ce-Modelid": "classifier",
            "Ce-Requestid": "puid-42",
            "Ce-Inferenceservicename": "seldon-model",
            "Ce-Namespace": "seldon",
            "Ce-Endpoint": "example",
            "Ce-Protocol": "seldon",
            "Content-Type": "application/json",
        }

    joiner = EventJoiner()
    request = {"data": {"names": ["a", "b"], "ndarray": [[1.0, 2.0], [3.0, 4.0]]}}
    assert parse_events(seldon("request", "e-1"), orjson.dumps(request), joiner).pending == 1
    response = {"data": {"names": ["proba"], "tensor": {"shape": [2, 1], "values": [0.2, 0.7]}}}
    result = parse_events(seldon("response", "e-2"), orjson.dumps(response), joiner)
    assert result.accepted == 2 and result.batches[0].model == "seldon-model"
    assert columns(result) == {"a": [1.0, 3.0], "b": [2.0, 4.0], "prediction": [0.2, 0.7]}


def test_an_unparsable_ce_time_is_not_a_reason_to_lose_predictions() -> None:
    headers = kserve_headers("request", **{"ce-time": "yesterday"})
    assert parse_events(headers, b'{"instances": [[1.0]]}', EventJoiner()).pending == 1


def test_seldon_feedback_is_ignored() -> None:
    headers = kserve_headers("request") | {"ce-type": "io.seldon.serving.feedback"}
    result = parse_events(headers, b'{"reward": 1}', joiner := EventJoiner())
    assert result.to_dict() == {"accepted": 0, "rejected": 0, "errors": [], "pending": 0} and joiner.pending == 0


def test_model_from_path_when_the_header_is_absent() -> None:
    joiner = EventJoiner()
    post(joiner, "request", {"instances": [[1.0]]}, model=None, path_model="fraud")
    result = post(joiner, "response", {"predictions": [0]}, model=None, path_model="fraud")
    assert result.batches[0].model == "fraud"
    with pytest.raises(InputError) as caught:
        post(joiner, "request", {"instances": [[1.0]]}, model=None)
    assert caught.value.code == "no_model" and "/v1/kserve/{model}" in caught.value.reason


@pytest.mark.parametrize(
    ("headers", "body", "status", "code"),
    [
        ({"content-type": "application/json"}, b'{"instances": [[1]]}', 415, "not_a_cloudevent"),
        (kserve_headers("request") | {"ce-type": "com.example.other"}, b"{}", 400, "unknown_event_type"),
        (kserve_headers("request"), b'{"instances": [[1]', 400, "bad_json"),
        (kserve_headers("request"), b"\x1f\x8b\x08\x00", 400, "bad_json"),
        (kserve_headers("request", **{"content-type": "application/octet-stream"}), b"\x00\x01", 415, None),
        ({k: v for k, v in kserve_headers("request").items() if k != "ce-source"}, b"{}", 400, "not_a_cloudevent"),
        ({k: v for k, v in kserve_headers("request").items() if k != "ce-id"}, b"{}", 400, "not_a_cloudevent"),
        (kserve_headers("request"), b"[1, 2]", 400, "bad_body"),
        (kserve_headers("request"), b'{"text": "hello"}', 400, "bad_body"),
        ({"content-type": "application/cloudevents+json"}, b"[1]", 400, "not_a_cloudevent"),
        ({"content-type": "application/cloudevents+json"}, b'{"type": "x", "source": "y"}', 400, "not_a_cloudevent"),
        ({"content-type": "application/cloudevents+xml"}, b"<e/>", 415, "unsupported_media_type"),
    ],
    ids=[
        "plain-json",
        "unknown-type",
        "bad-json",
        "gzip",
        "binary-data",
        "no-source",
        "no-id",
        "array-body",
        "unknown-body",
        "structured-array",
        "structured-no-id",
        "structured-xml",
    ],
)
def test_unusable_events_are_refused_with_a_reason(headers: dict, body: bytes, status: int, code: str | None) -> None:
    with pytest.raises(InputError) as caught:
        parse_events(headers, body, EventJoiner())
    assert http_status(caught.value) == status
    assert caught.value.code == (code or "unsupported_media_type")
    assert caught.value.reason  # a sentence for the logger's log


# -- joining ------------------------------------------------------------------------------------------------


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def half(kind: str, request_id: str, rows: int = 1) -> Half:
    values = [{"x": float(i)} for i in range(rows)] if kind == "request" else list(range(rows))
    return Half(kind, ("m", "", "", "", "", request_id), "m", request_id, values)  # type: ignore[arg-type]


def test_response_before_request_pairs_the_same_way() -> None:
    joiner = EventJoiner()
    assert joiner.add(half("response", "a", 2)).records == []
    joined = joiner.add(half("request", "a", 2))
    assert [(r["features"], r["prediction"]) for r in joined.records] == [({"x": 0.0}, 0), ({"x": 1.0}, 1)]
    assert joiner.pending == 0 and joiner.pending_rows == 0 and joiner.paired == 1


def test_unpaired_halves_expire_after_the_ttl_and_are_counted() -> None:
    clock = FakeClock()
    joiner = EventJoiner(ttl=60.0, clock=clock)
    joiner.add(half("request", "a", 3))
    clock.now += 30
    joiner.add(half("request", "b"))
    clock.now += 31  # a: 61 s old, b: 31 s
    joined = joiner.add(half("response", "a", 3))
    assert joined.records == [] and joined.dropped_rows == {EXPIRED: 3}
    assert joiner.unpaired == {EXPIRED: 1} and joiner.pending == 2  # b, and a's response now waits
    assert len(joiner.add(half("response", "b")).records) == 1
    clock.now += 60
    assert joiner.expire() == {EXPIRED: 3} and joiner.pending == 0 and joiner.pending_rows == 0


def test_the_table_never_exceeds_its_bounds_oldest_dropped_first() -> None:
    joiner = EventJoiner(max_pending=2, max_pending_rows=10)
    joiner.add(half("request", "a"))
    joiner.add(half("request", "b"))
    joined = joiner.add(half("request", "c"))
    assert joined.dropped_rows == {EVICTED: 1} and joiner.pending == 2
    assert joiner.add(half("response", "a")).records == []  # a is gone: its response waits now, b was dropped
    assert joiner.unpaired == {EVICTED: 2}
    assert len(joiner.add(half("response", "c")).records) == 1
    joined = joiner.add(half("request", "big", 10))  # row bound: the rest makes room
    assert joiner.pending == 1 and joiner.pending_rows == 10 and joined.dropped_rows == {EVICTED: 1}


def test_a_repeated_half_replaces_the_waiting_one() -> None:
    joiner = EventJoiner()
    joiner.add(half("request", "a", 1))
    assert joiner.add(half("request", "a", 2)).dropped_rows == {REPLACED: 1}
    assert len(joiner.add(half("response", "a", 2)).records) == 2


def test_prediction_count_mismatch_keeps_the_features() -> None:
    joiner = EventJoiner()
    joiner.add(half("request", "a", 3))
    records = joiner.add(half("response", "a", 1)).records
    assert [r["prediction"] for r in records] == [0, None, None]


def test_bad_joiner_settings_raise() -> None:
    with pytest.raises(ValueError):
        EventJoiner(max_pending=0)
    with pytest.raises(ValueError):
        EventJoiner(ttl=0)


# -- over real HTTP -------------------------------------------------------------------------------------------


@contextmanager
def kserve_daemon(state: Path, **config: object) -> Iterator[Daemon]:
    """The daemon with the KServe route, built as create_app does (unless the app already mounts it)."""
    daemon = Daemon(state, **config)
    if not any(getattr(route, "path", None) == "/v1/kserve" for route in daemon.app.routes):
        daemon.app.include_router(
            kserve_router(
                daemon.config,
                daemon.daemon.ingest,
                bearer_auth(daemon.config.auth_token()),
                body_reader(daemon.config.limits.max_body_bytes),
                EventJoiner(),
            )
        )
    daemon.start()
    try:
        yield daemon
    finally:
        daemon.stop()


def current_rows(daemon: Daemon, model: str, expected: int) -> int:
    deadline = time.monotonic() + 10
    while True:
        rows = {m["model"]: m["rows"]["current"] for m in daemon.client.get("/v1/models").json()["models"]}
        if rows.get(model) == expected or time.monotonic() > deadline:
            return rows.get(model, 0)
        time.sleep(0.02)


@pytest.mark.server
def test_a_kserve_logger_pair_reaches_the_window_and_metrics(tmp_path: Path) -> None:
    with kserve_daemon(tmp_path / "state.db", evaluate_every="1h") as daemon:
        request = {"instances": [[6.8, 2.8, 4.8, 1.4], [6.0, 3.4, 4.5, 1.6]]}
        first = daemon.client.post("/v1/kserve", content=orjson.dumps(request), headers=kserve_headers("request"))
        assert first.status_code == 200, first.text
        assert first.json() == {"accepted": 0, "rejected": 0, "errors": [], "pending": 1}
        second = daemon.client.post(
            "/v1/kserve", content=b'{"predictions": [1, 1]}', headers=kserve_headers("response")
        )
        assert second.json() == {"accepted": 2, "rejected": 0, "errors": [], "pending": 0}
        assert current_rows(daemon, "sklearn-iris", 2) == 2
        assert daemon.metric("driftwarden_records_total", model="sklearn-iris", source="kserve") == 2

        # a logger url that names the model, for events without ce-inferenceservicename
        for kind, body in (("request", b'{"instances": [[1.0]]}'), ("response", b'{"predictions": [0]}')):
            r = daemon.client.post("/v1/kserve/fraud", content=body, headers=kserve_headers(kind, "x1", model=None))
            assert r.status_code == 200, r.text
        assert current_rows(daemon, "fraud", 1) == 1

        plain = daemon.client.post("/v1/kserve", content=orjson.dumps(request), headers={"content-type": "text/x"})
        assert plain.status_code == 415 and plain.json()["reason"] == "not_a_cloudevent"
        assert daemon.metric("driftwarden_requests_rejected_total", endpoint="/v1/kserve", reason="not_a_cloudevent")
        bad_name = daemon.client.post("/v1/kserve/bad name!", content=b"{}", headers=kserve_headers("request"))
        assert bad_name.status_code == 400 and bad_name.json()["reason"] == "bad_model"

        rows = {"instances": [[1.0], [[2.0]]]}
        daemon.client.post("/v1/kserve", content=orjson.dumps(rows), headers=kserve_headers("request", "x2"))
        mixed = daemon.client.post(
            "/v1/kserve", content=b'{"predictions": [0, 1]}', headers=kserve_headers("response", "x2")
        )
        assert mixed.status_code == 200 and mixed.json()["accepted"] == 1 and mixed.json()["errors"][0]["index"] == 1
        assert daemon.metric("driftwarden_records_rejected_total", source="kserve", reason="bad_feature_value") == 1


def test_v2_embedding_tensors_become_the_records_vectors_and_must_match_the_batch() -> None:
    tensors = {"sklearn-iris": {"emb": "query"}}
    joiner = EventJoiner()
    vectors = {"name": "emb", "shape": [2, 3], "datatype": "FP32", "data": [1, 2, 3, 4, 5, 6]}
    only = orjson.dumps({"inputs": [vectors]})  # an embedding model's request: the vectors and nothing else
    parse_events(kserve_headers("request"), only, joiner, embedding_tensors=tensors)
    answer = {"outputs": [{"name": "score", "shape": [2], "datatype": "FP32", "data": [0.1, 0.2]}]}
    result = parse_events(kserve_headers("response"), orjson.dumps(answer), joiner, embedding_tensors=tensors)
    assert result.accepted == 2 and not result.errors
    (batch,) = result.batches
    assert batch.embeddings is not None
    assert batch.embeddings["query"].tolist() == [[1, 2, 3], [4, 5, 6]]
    three = {"name": "x", "shape": [3], "datatype": "FP32", "data": [1, 2, 3]}
    with pytest.raises(InputError, match="embedding tensors 2"):
        parse_events(
            kserve_headers("request", event_id="b"),
            orjson.dumps({"inputs": [three, vectors]}),
            EventJoiner(),
            embedding_tensors=tensors,
        )
