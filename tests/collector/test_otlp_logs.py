"""Properties of the OTLP log-record mapping (collector/otlp_logs.py), with hypothesis.

Log records are drawn as what a model server would send — feature attributes under the prefix
beside unrelated ones, the model on the record, on the resource or nowhere, a prediction, a
request id, trace and span ids, and bodies that are plain text, a JSON record or a map — and:

- each maps to the record the documented mapping gives (written out plainly here), or is ignored
  for the documented reason;
- protobuf and OTLP JSON give the same result, and every log record is accepted, rejected or
  ignored exactly once;
- the records parse exactly as the same records posted to /v1/predictions as NDJSON do;
- damaged bodies raise body errors (400/413/415) only.
"""

from __future__ import annotations

import base64
import json
import math
import os
from collections import Counter
from typing import Any

import numpy as np
import orjson
from google.protobuf import json_format
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import (
    ExportLogsServiceRequest,
    ExportLogsServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue, KeyValueList
from opentelemetry.proto.logs.v1.logs_pb2 import LogRecord, ResourceLogs, ScopeLogs
from opentelemetry.proto.resource.v1.resource_pb2 import Resource

from driftwarden.api.plumbing import http_status
from driftwarden.collector import otlp_logs
from driftwarden.collector.predictions import parse_records
from driftwarden.core.errors import DriftwardenError
from driftwarden.core.records import ParseResult, RecordBatch
from driftwarden.params import LogParams

EXAMPLES = int(os.environ.get("DRIFTWARDEN_FUZZ_EXAMPLES", "0")) or None
SETTINGS = LogParams()
PREFIX = SETTINGS.feature_prefix
FIELDS = {
    SETTINGS.prediction_attribute: "prediction",
    SETTINGS.request_id_attribute: "request_id",
    SETTINGS.label_attribute: "label",
    SETTINGS.model_version_attribute: "model_version",
}


def examples(n: int) -> settings:
    return settings(
        max_examples=EXAMPLES or n, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow]
    )


# -- what is drawn -------------------------------------------------------------------------------------------------

names = st.sampled_from(["amount", "age", "country", "score", "a/b", "x" * 129])
models = st.sampled_from(["fraud", "churn", "bad model!", ""])
scalars = st.one_of(
    st.floats(allow_nan=False, allow_infinity=False, width=64),
    st.integers(-(2**53), 2**53),
    st.sampled_from(["DE", "FR", "x" * 300]),
    st.booleans(),
    st.none(),  # an attribute without a value: missing
)
ids = st.one_of(st.just(b""), st.binary(min_size=16, max_size=16).filter(any))
span_ids = st.one_of(st.just(b""), st.binary(min_size=8, max_size=8).filter(any))


def any_value(value: Any) -> AnyValue:
    if value is None:
        return AnyValue()
    if isinstance(value, bool):
        return AnyValue(bool_value=value)
    if isinstance(value, int):
        return AnyValue(int_value=value)
    if isinstance(value, float):
        return AnyValue(double_value=value)
    if isinstance(value, dict):
        return AnyValue(
            kvlist_value=KeyValueList(values=[KeyValue(key=k, value=any_value(v)) for k, v in value.items()])
        )
    return AnyValue(string_value=value)


@st.composite
def log_records(draw: st.DrawFn) -> dict[str, Any]:
    """A log record as a plain description: attributes (in order), body, ids."""
    attributes = [(PREFIX + n, v) for n, v in draw(st.dictionaries(names, scalars, max_size=4)).items()]
    attributes += draw(st.lists(st.tuples(st.sampled_from(["http.route", "service.version"]), scalars), max_size=2))
    if draw(st.booleans()):
        attributes.append((draw(st.sampled_from(SETTINGS.model_attributes)), draw(models)))
    for attribute in draw(st.lists(st.sampled_from(list(FIELDS)), max_size=3, unique=True)):
        attributes.append((attribute, draw(scalars)))
    record = draw(
        st.fixed_dictionaries(
            {"features": st.dictionaries(names, scalars, max_size=3)},
            optional={"model": models, "request_id": st.sampled_from(["r-1", "r-2"]), "prediction": scalars},
        )
    )
    body = draw(
        st.sampled_from(
            [None, "GET /healthz 200", "{braced, not JSON", orjson.dumps(record).decode(), record, {"event": "x"}]
        )
    )
    return {
        "attributes": draw(st.permutations(attributes)),
        "body": body,
        "trace_id": draw(ids),
        "span_id": draw(span_ids),
    }


@st.composite
def exports(draw: st.DrawFn) -> tuple[ExportLogsServiceRequest, list[tuple[str | None, list[dict[str, Any]]]]]:
    """An export request and what it was built from: per resource, its model attribute and its log records."""
    described = draw(st.lists(st.tuples(st.one_of(st.none(), models), st.lists(log_records(), max_size=5)), max_size=3))
    request = ExportLogsServiceRequest()
    for resource_model, logs in described:
        resource = Resource(attributes=[KeyValue(key="service.name", value=any_value("svc"))])
        if resource_model is not None:
            resource.attributes.append(KeyValue(key="model.name", value=any_value(resource_model)))
        records = [
            LogRecord(
                attributes=[KeyValue(key=k, value=any_value(v)) for k, v in log["attributes"]],
                body=any_value(log["body"]) if log["body"] is not None else None,
                trace_id=log["trace_id"],
                span_id=log["span_id"],
            )
            for log in logs
        ]
        request.resource_logs.append(ResourceLogs(resource=resource, scope_logs=[ScopeLogs(log_records=records)]))
    return request, described


# -- the mapping, written out ---------------------------------------------------------------------------------------


def expected(described: list[tuple[str | None, list[dict[str, Any]]]]) -> tuple[list[tuple[int, Any]], Counter[str]]:
    """design.md's mapping, plainly: (position, record) per prediction, and the ignored by reason."""
    records, ignored, index = [], Counter[str](), -1
    for resource_model, logs in described:
        for log in logs:
            index += 1
            attributes = dict(log["attributes"])  # a repeated key: the last one, as the parser reads them
            body = log["body"]
            if isinstance(body, str) and body.startswith("{"):
                try:
                    body = json.loads(body)
                except ValueError:
                    body = None
            if isinstance(body, dict) and "features" in body:
                record = dict(body)
            else:
                features = {k.removeprefix(PREFIX): v for k, v in attributes.items() if k.startswith(PREFIX)}
                if not features:
                    ignored["no_features"] += 1
                    continue
                record = {"features": features}
                record |= {name: attributes[a] for a, name in FIELDS.items() if a in attributes}
            if record.get("model") is None:
                named = [attributes.get(k) for k in SETTINGS.model_attributes] + [resource_model]
                model = next((m for m in named if m not in (None, "")), None)
                if model is None:
                    ignored["no_model"] += 1
                    continue
                record["model"] = model
            if log["trace_id"]:
                record["trace_id"] = log["trace_id"].hex()
                record["span_id"] = log["span_id"].hex() or None
            if record.get("request_id") is None and record.get("trace_id") is not None:
                record["request_id"] = record["trace_id"]
            records.append((index, record))
    return records, ignored


def otlp_json(request: ExportLogsServiceRequest) -> bytes:
    """OTLP/JSON as exporters write it: hex ids (protobuf's JSON mapping writes base64)."""

    def hex_ids(node: Any) -> Any:
        if isinstance(node, dict):
            return {k: base64.b64decode(v).hex() if k in ("traceId", "spanId") else hex_ids(v) for k, v in node.items()}
        return [hex_ids(v) for v in node] if isinstance(node, list) else node

    return json.dumps(hex_ids(json_format.MessageToDict(request))).encode()


def same_batches(a: ParseResult, b: ParseResult) -> None:
    assert (a.accepted, a.rejected_by_reason) == (b.accepted, b.rejected_by_reason)
    assert [(e.index, e.reason, e.pointer) for e in a.errors] == [(e.index, e.reason, e.pointer) for e in b.errors]
    for x, y in zip(sorted(a.batches, key=_model), sorted(b.batches, key=_model), strict=True):
        assert (x.model, x.features, x.categorical, x.model_version) == (
            y.model,
            y.features,
            y.categorical,
            y.model_version,
        )
        np.testing.assert_array_equal(x.values, y.values)
        for p, q in (
            (x.categorical_values, y.categorical_values),
            (x.request_ids, y.request_ids),
            (x.labels, y.labels),
            (x.traces, y.traces),
        ):
            assert (p is None) == (q is None)
            if p is not None and q is not None:
                np.testing.assert_array_equal(p, q)


def _model(batch: RecordBatch) -> str:
    return batch.model


# -- properties ------------------------------------------------------------------------------------------------------


@examples(200)
@given(exports())
def test_each_log_record_maps_as_documented(export: tuple[ExportLogsServiceRequest, list[Any]]) -> None:
    request, described = export
    ignored = Counter[str]()
    records = otlp_logs.to_records(request, SETTINGS, ignored)
    want_records, want_ignored = expected(described)
    assert records == want_records
    assert ignored == want_ignored


@examples(150)
@given(exports())
def test_every_encoding_agrees_and_every_log_record_is_counted_once(
    export: tuple[ExportLogsServiceRequest, list[Any]],
) -> None:
    request, described = export
    total = sum(len(logs) for _, logs in described)
    results = []
    for body, media in ((request.SerializeToString(), otlp_logs.PROTOBUF), (otlp_json(request), otlp_logs.JSON)):
        exported, answer_media = otlp_logs.decode_request(body, media, SETTINGS)
        assert answer_media == media and exported.log_records == total
        result = exported.result
        assert result.accepted + result.rejected + sum(exported.ignored.values()) == total
        assert sum(b.rows for b in result.batches) == result.accepted
        answer = ExportLogsServiceResponse()
        encoded = otlp_logs.encode_response(result, media)
        if media == otlp_logs.PROTOBUF:
            answer.ParseFromString(encoded)
        else:
            json_format.Parse(encoded, answer)
        assert answer.partial_success.rejected_log_records == result.rejected
        results.append(exported)
    protobuf, from_json = results
    assert protobuf.ignored == from_json.ignored
    same_batches(protobuf.result, from_json.result)


@examples(150)
@given(exports())
def test_log_records_parse_as_the_same_records_posted_to_predictions(
    export: tuple[ExportLogsServiceRequest, list[Any]],
) -> None:
    request, described = export
    exported, _ = otlp_logs.decode_request(request.SerializeToString(), otlp_logs.PROTOBUF, SETTINGS)
    records, _ = expected(described)
    # as NDJSON, one line per prediction record: positions renumbered, so compare what does not name them
    posted = parse_records(b"\n".join(orjson.dumps(r) for _, r in records), "application/x-ndjson")
    renumber = {i: k for k, (i, _) in enumerate(records)}
    for error in exported.result.errors:
        assert renumber[error.index] >= 0
    exported.result.errors = [type(e)(renumber[e.index], e.reason, "", e.pointer) for e in exported.result.errors]
    posted.errors = [type(e)(e.index, e.reason, "", e.pointer) for e in posted.errors]
    same_batches(exported.result, posted)


@examples(10)
@given(st.sampled_from([math.nan, math.inf, -math.inf]))
def test_a_nan_double_is_missing_and_an_infinite_one_rejected(x: float) -> None:
    attributes = [KeyValue(key=PREFIX + "amount", value=any_value(x)), KeyValue(key="model.name", value=any_value("m"))]
    request = ExportLogsServiceRequest(
        resource_logs=[ResourceLogs(scope_logs=[ScopeLogs(log_records=[LogRecord(attributes=attributes)])])]
    )
    for body, media in ((request.SerializeToString(), otlp_logs.PROTOBUF), (otlp_json(request), otlp_logs.JSON)):
        result = otlp_logs.decode_request(body, media, SETTINGS)[0].result
        if math.isnan(x):
            assert result.accepted == 1 and np.isnan(result.batches[0].values).all()
        else:
            assert result.rejected_by_reason == {"bad_feature_value": 1}
            assert result.errors[0].pointer == "/features/amount"


@examples(150)
@given(exports(), st.data())
def test_damaged_bodies_raise_body_errors_only(
    export: tuple[ExportLogsServiceRequest, list[Any]], data: st.DataObject
) -> None:
    request, _ = export
    media = data.draw(st.sampled_from([otlp_logs.PROTOBUF, otlp_logs.JSON, "text/plain"]))
    body = bytearray(request.SerializeToString() if media == otlp_logs.PROTOBUF else otlp_json(request))
    for _ in range(data.draw(st.integers(1, 4))):
        at = data.draw(st.integers(0, len(body)))
        action = data.draw(st.sampled_from(["flip", "cut", "insert"]))
        if action == "flip" and at < len(body):
            body[at] ^= data.draw(st.integers(1, 255))
        elif action == "cut":
            del body[at:]
        else:
            body[at:at] = data.draw(st.binary(min_size=1, max_size=4))
    try:
        exported, _ = otlp_logs.decode_request(bytes(body), media, SETTINGS, max_records=8)
    except DriftwardenError as exc:
        assert http_status(exc) in (400, 413, 415)
    else:
        assert (
            exported.result.accepted + exported.result.rejected + sum(exported.ignored.values()) == exported.log_records
        )


# -- read a column at a time (protobuf) ------------------------------------------------------------------------------

layout_values = st.one_of(
    st.floats(width=64),  # NaN and infinities too
    st.integers(-(2**63), 2**63 - 1),
    st.sampled_from(["DE", "FR", "US", "xyz", "", "\x00a", "é"]),
    st.booleans(),
    st.none(),
    st.just({"nested": 1.0}),
)


@st.composite
def sdk_exports(draw: st.DrawFn) -> ExportLogsServiceRequest:
    """Scopes whose log records mostly share one layout, as an SDK's logger sends them: the same keys in the
    same order, each key's values of one kind (doubles, or strings of one length) or of any; some records
    with another layout, a body, or no trace id."""
    request = ExportLogsServiceRequest()
    for _ in range(draw(st.integers(1, 2))):
        scopes = []
        for _ in range(draw(st.integers(1, 2))):
            keys = draw(
                st.lists(
                    st.sampled_from([PREFIX + "a", PREFIX + "b", PREFIX + "prediction", *FIELDS, "model.name", "x"]),
                    max_size=6,
                )
            )
            kinds = {key: draw(st.sampled_from(["double", "two letters", "any"])) for key in keys}
            drawn = {
                "double": st.floats(width=64),
                "two letters": st.sampled_from(["DE", "FR", "é"]),
                "any": layout_values,
            }
            records = []
            for _ in range(draw(st.integers(0, 6))):
                layout = keys if draw(st.integers(0, 4)) else draw(st.permutations(keys))[: draw(st.integers(0, 6))]
                attributes = [KeyValue(key=k, value=any_value(draw(drawn[kinds.get(k, "any")]))) for k in layout]
                body = draw(st.sampled_from([None, None, None, "prediction", orjson.dumps({"features": {"z": 1}})]))
                records.append(
                    LogRecord(
                        attributes=attributes,
                        body=any_value(body.decode() if isinstance(body, bytes) else body) if body else None,
                        trace_id=draw(ids),
                        span_id=draw(span_ids),
                        time_unix_nano=draw(st.integers(0, 2**64 - 1)),
                    )
                )
            scopes.append(ScopeLogs(log_records=records))
        model = draw(st.one_of(st.none(), models))
        resource = Resource(attributes=[KeyValue(key="model.name", value=any_value(model))] if model else [])
        request.resource_logs.append(ResourceLogs(resource=resource, scope_logs=scopes))
    return request


def without_nones(records: list[tuple[int, Any]]) -> list[tuple[int, Any]]:
    return [(i, {k: v for k, v in r.items() if v is not None}) for i, r in records]


def same_records(a: list[tuple[int, Any]], b: list[tuple[int, Any]]) -> None:
    """Equal, NaN equal to NaN (orjson writes it null: compared as JSON)."""
    assert orjson.dumps(without_nones(a), option=orjson.OPT_SORT_KEYS) == orjson.dumps(
        without_nones(b), option=orjson.OPT_SORT_KEYS
    )


@examples(300)
@given(st.one_of(sdk_exports(), exports().map(lambda e: e[0])))
def test_protobuf_read_a_column_at_a_time_maps_and_parses_as_one_by_one(request: ExportLogsServiceRequest) -> None:
    body = request.SerializeToString()
    one, columns = Counter[str](), Counter[str]()
    same_records(otlp_logs.to_records(request, SETTINGS, columns, body), otlp_logs.to_records(request, SETTINGS, one))
    assert columns == one
    from_columns, _ = otlp_logs.decode_request(body, otlp_logs.PROTOBUF, SETTINGS)
    from_json, _ = otlp_logs.decode_request(otlp_json(request), otlp_logs.JSON, SETTINGS)
    assert from_columns.ignored == from_json.ignored and from_columns.log_records == from_json.log_records
    assert [e.message for e in from_columns.result.errors] == [e.message for e in from_json.result.errors]
    same_batches(from_columns.result, from_json.result)


def test_a_key_value_without_its_value_or_key_is_read_one_by_one() -> None:
    """Wire bytes no SDK writes but protobuf reads: the bulk lists would not line up with the attributes."""
    no_value, no_key = KeyValue(key=PREFIX + "a"), KeyValue(value=any_value(1.5))
    records = [LogRecord(attributes=[no_value, no_key, KeyValue(key="model.name", value=any_value("m"))])] * 2
    request = ExportLogsServiceRequest(resource_logs=[ResourceLogs(scope_logs=[ScopeLogs(log_records=records)])])
    exported, _ = otlp_logs.decode_request(request.SerializeToString(), otlp_logs.PROTOBUF, SETTINGS)
    (batch,) = exported.result.batches
    assert batch.features == ("a",) and np.isnan(batch.values).all()  # the value-less attribute: missing
