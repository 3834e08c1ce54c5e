"""Parsing prediction records: good records in, bad ones reported one by one."""

from __future__ import annotations

import json

import numpy as np
import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from driftwarden.api.plumbing import http_status
from driftwarden.collector.predictions import parse_records
from driftwarden.core.errors import DriftwardenError

NDJSON = "application/x-ndjson"


def lines(*records: object) -> bytes:
    return b"\n".join(orjson.dumps(r) for r in records)


def test_json_array_and_ndjson_give_the_same_batches() -> None:
    records = [
        {"model": "fraud", "features": {"amount": 12.5, "age": None, "country": "DE"}, "prediction": 0.9},
        {"model": "fraud", "features": {"amount": 3, "age": 40, "country": "FR"}, "extra": "ignored"},
        {"model": "churn", "features": {"tenure": 7}},
    ]
    for body, ctype in ((orjson.dumps(records), "application/json"), (lines(*records), NDJSON)):
        result = parse_records(body, ctype)
        assert (result.accepted, result.rejected) == (3, 0)
        by_model = {b.model: b for b in result.batches}
        fraud = by_model["fraud"]
        # the two fraud records have different layouts (one has a prediction): merged by name
        assert fraud.features == ("amount", "age", "prediction")
        np.testing.assert_array_equal(fraud.values, [[12.5, np.nan, 0.9], [3.0, 40.0, np.nan]])
        assert fraud.categorical == ("country",)
        assert fraud.categorical_values.tolist() == [["DE"], ["FR"]]
        assert by_model["churn"].values.tolist() == [[7.0]]
        assert by_model["fraud"].model_version is None


def test_the_latest_model_version_is_kept() -> None:
    body = lines(
        {"model": "m", "model_version": "v2", "features": {"a": 1}},
        {"model": "m", "model_version": "v3", "features": {"a": 2}},
        {"model": "m", "features": {"a": 3}},
    )
    assert parse_records(body, NDJSON).batches[0].model_version == "v3"


def test_records_with_different_feature_sets_are_merged_by_name() -> None:
    result = parse_records(
        lines({"model": "m", "features": {"a": 1}}, {"model": "m", "features": {"b": 2, "a": 3}}), NDJSON
    )
    (batch,) = result.batches
    assert batch.features == ("a", "b")
    np.testing.assert_array_equal(batch.values, [[1.0, np.nan], [3.0, 2.0]])


def test_bad_records_are_reported_one_by_one_and_the_rest_accepted() -> None:
    body = b"\n".join(
        [
            b'{"model": "m", "features": {"a": 1}}',
            b'{"model": "m", "features": {"a": ',  # truncated line
            b"[1, 2]",
            b'{"features": {"a": 1}}',
            b'{"model": "bad model!", "features": {"a": 1}}',
            b'{"model": "m", "features": [1, 2]}',
            b'{"model": "m", "features": {"a": [1, 2]}}',
            b'{"model": "m", "features": {"a": 1e999}}',
            b'{"model": "m", "features": {"a": "oops"}}',
            b'{"model": "m", "features": {"a": 2}}',
        ]
    )
    result = parse_records(body, NDJSON)
    assert result.accepted == 2
    reasons = {e.index: e.reason for e in result.errors}
    assert reasons == {
        1: "invalid_json",
        2: "not_an_object",
        3: "bad_model",
        4: "bad_model",
        5: "bad_features",
        6: "bad_feature_value",
        7: "invalid_json",
        8: "bad_feature_value",  # 1e999 overflows: not JSON we accept
    }
    assert all(e.message for e in result.errors)
    assert result.to_dict()["rejected"] == 8
    assert result.batches[0].values[:, 0].tolist() == [1.0, 2.0]


@pytest.mark.parametrize(
    ("body", "ctype", "status"),
    [
        (b"{}", "application/x-www-form-urlencoded", 415),
        (b"{}", None, 415),
        (b"[{", "application/json", 400),
        (b"42", "application/json", 400),
    ],
)
def test_unusable_bodies_raise_with_a_status(body: bytes, ctype: str | None, status: int) -> None:
    with pytest.raises(DriftwardenError) as info:
        parse_records(body, ctype)
    assert http_status(info.value) == status and info.value.reason


def test_record_limit() -> None:
    with pytest.raises(DriftwardenError) as info:
        parse_records(lines(*[{"model": "m", "features": {"a": 1}}] * 5), NDJSON, max_records=4)
    assert http_status(info.value) == 413


def test_error_list_is_capped_but_counts_are_exact() -> None:
    result = parse_records(b"\n".join([b"nope"] * 250), NDJSON)
    body = result.to_dict()
    assert body["rejected"] == 250 and len(body["errors"]) == 100 and body["errors_truncated"] is True


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=10,
)
records = st.one_of(
    json_values,
    st.fixed_dictionaries(
        {"model": st.sampled_from(["m", "n", "", "bad name"]) | st.integers()},
        optional={"features": st.dictionaries(st.sampled_from("abcd"), json_values, max_size=4) | json_values},
    ),
)


@settings(max_examples=200, deadline=None)
@given(st.lists(records, max_size=20))
def test_any_json_is_either_accepted_or_rejected_never_crashes(batch: list) -> None:
    body = b"\n".join(json.dumps(r).encode() for r in batch)
    result = parse_records(body, NDJSON)
    assert result.accepted + result.rejected == len(batch)
    assert sum(b.values.shape[0] for b in result.batches) == result.accepted
    for b in result.batches:
        assert b.values.dtype == np.float64 and b.values.shape[1] == len(b.features)
        assert not np.isinf(b.values).any()


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=200))
def test_arbitrary_bytes_never_crash(body: bytes) -> None:
    for ctype in (NDJSON, "application/json"):
        try:
            result = parse_records(body, ctype)
        except DriftwardenError as exc:
            assert http_status(exc) == 400
        else:
            assert result.accepted + result.rejected >= 0


def test_strings_and_booleans_are_categorical_columns_and_ids_travel_with_their_rows() -> None:
    body = lines(
        {"model": "m", "request_id": "r1", "features": {"x": 1, "c": "a", "b": True}, "prediction": "yes"},
        {"model": "m", "request_id": "r2", "features": {"x": 2, "c": None, "b": False}, "label": "no"},
        {"model": "m", "features": {"x": 3}},
    )
    (batch,) = parse_records(body, NDJSON).batches
    assert batch.features == ("x",)
    assert batch.categorical == ("c", "b", "prediction")
    assert batch.categorical_values.tolist() == [["a", "true", "yes"], [None, "false", None], [None, None, None]]
    assert batch.request_ids.tolist() == ["r1", "r2", None]
    assert batch.labels.tolist() == [None, "no", None]


def test_errors_carry_a_json_pointer_into_the_record() -> None:
    body = lines(
        {"model": "m", "features": {"a/b": {"nested": 1}}},
        {"model": "m", "features": {"x": 1}, "prediction": [1, 2]},
        {"model": "bad model", "features": {}},
        {"model": "m", "features": 3},
    )
    result = parse_records(body, NDJSON)
    assert [(e.index, e.pointer) for e in result.errors] == [
        (2, "/model"),
        (3, "/features"),
        (0, "/features/a~1b"),
        (1, "/prediction"),
    ]
    assert result.to_dict()["errors"][0] == {
        "index": 2,
        "pointer": "/model",
        "reason": "bad_model",
        "message": result.errors[0].message,
    }


def test_uniform_ndjson_records_keep_their_embeddings_and_labels() -> None:
    """Records otherwise fit for the column-at-a-time NDJSON path: the `embeddings` (and `labels`) they carry
    send them record by record, and both arrive with their rows."""
    body = lines(
        *(
            {"model": "m", "features": {"a": float(i)}, "embeddings": {"q": [i, 1.0]}, "labels": {"v": str(i)}}
            for i in range(3)
        )
    )
    (batch,) = parse_records(body, NDJSON).batches
    assert batch.embeddings is not None
    np.testing.assert_array_equal(batch.embeddings["q"], [[0, 1], [1, 1], [2, 1]])
    assert batch.record_labels is not None
    assert batch.record_labels.tolist() == [{"v": "0"}, {"v": "1"}, {"v": "2"}]
    (only,) = parse_records(
        lines(*({"model": "m", "features": {"a": 1.0}, "embeddings": {"q": [1]}},) * 2), NDJSON
    ).batches
    assert only.embeddings is not None and only.embeddings["q"].shape == (2, 1)
