"""Properties of the three body parsers, with hypothesis: what they raise, and that every record is counted.

- `collector.predictions.parse_records` (JSON array, NDJSON), beyond the two properties in
  tests/collector/test_predictions.py: JSON and NDJSON agree, the error list is capped and the counts exact,
  the batches' shapes match what was accepted.
- `collector.otlp.decode_request` (OTLP protobuf and JSON; gzip is the API's body reader's): observed + skipped +
  rejected == spans sent, the same for every encoding; damaged bodies raise `DriftwardenError` only.
- `collector.kserve.parse_events` (CloudEvents, binary/structured/batch): accepted + rejected ==
  records of the pairs the POST completed; anything else raises `InputError` only.

Plus JSON nested as deep as orjson reads (1024 levels) anywhere in a body: a 4xx, never a
RecursionError (a 500 over HTTP). `DRIFTWARDEN_FUZZ_EXAMPLES` raises the example counts, as for
tests/api/test_fuzz_api.py.
"""

from __future__ import annotations

import base64
import json
from typing import Any

import numpy as np
import orjson
import pytest
from google.protobuf import json_format
from hypothesis import given
from hypothesis import strategies as st
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, ArrayValue, KeyValue, KeyValueList
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, ScopeSpans, Span, Status

from driftwarden.api.plumbing import http_status
from driftwarden.collector import otlp
from driftwarden.collector.kserve import parse_events
from driftwarden.collector.kserve_events import read_events
from driftwarden.collector.kserve_join import EventJoiner
from driftwarden.collector.kserve_payloads import decode_event, kind_of
from driftwarden.collector.predictions import parse_objects, parse_records
from driftwarden.core.errors import DriftwardenError
from driftwarden.core.records import MAX_REPORTED_ERRORS
from driftwarden.params import TraceParams
from tests.support.fuzz import examples

NDJSON = "application/x-ndjson"
JSON = "application/json"
DEPTHS = [300, 1023]  # past orjson's writer (254 levels) and Python's stack (~1000 frames); orjson reads 1024


def nested(depth: int, kind: str = "list") -> str:
    return ("[" * depth + "1" + "]" * depth) if kind == "list" else ('{"a":' * depth + "1" + "}" * depth)


# -- prediction records ---------------------------------------------------------------------------------------------

scalars = (
    st.none() | st.booleans() | st.integers(-(2**63), 2**64 - 1) | st.floats(allow_nan=False, allow_infinity=False)
)
scalars |= st.text(max_size=4) | st.sampled_from(["DE", "FR", "", "x" * 300])
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner, max_size=3),
    max_leaves=8,
)
feature_names = st.sampled_from(["a", "b", "c", "prediction", "", "x" * 130, "a/b~c"])
prediction_records = st.fixed_dictionaries(
    {
        "model": st.sampled_from(["m", "n", "bad model", "", "x" * 70]) | json_values,
        "features": st.dictionaries(feature_names, scalars | json_values, max_size=5) | json_values,
    },
    optional={
        "prediction": scalars | json_values,
        "label": scalars | json_values,
        "request_id": st.text(max_size=3) | json_values,
        "model_version": st.text(max_size=3) | json_values,
    },
)
any_record = prediction_records | json_values


def check_result(result: Any, n: int) -> None:
    """What every ParseResult promises, for a body of `n` records."""
    assert result.accepted + result.rejected == n
    assert result.rejected == sum(result.rejected_by_reason.values())
    assert len(result.errors) <= MAX_REPORTED_ERRORS
    assert len(result.errors) == min(result.rejected, MAX_REPORTED_ERRORS)
    assert all(0 <= e.index < n for e in result.errors)
    body = result.to_dict()
    assert body.get("errors_truncated", False) == (result.rejected > MAX_REPORTED_ERRORS)
    orjson.dumps(body)  # the answer is serialisable as it stands
    assert sum(b.values.shape[0] for b in result.batches) == result.accepted
    assert len({b.model for b in result.batches}) == len(result.batches)
    for b in result.batches:
        rows = b.values.shape[0]
        assert rows > 0 and b.values.dtype == np.float64 and b.values.shape == (rows, len(b.features))
        assert not np.isinf(b.values).any()
        categorical = getattr(b, "categorical", ())
        if categorical:
            assert b.categorical_values.shape == (rows, len(categorical))
        assert not set(b.features) & set(categorical)
        for column in ("request_ids", "labels"):
            values = getattr(b, column, None)
            assert values is None or len(values) == rows


@examples(150)
@given(st.lists(any_record, max_size=25), st.data())
def test_json_array_and_ndjson_count_every_record_alike(batch: list, data: st.DataObject) -> None:
    lines = [json.dumps(r).encode() for r in batch]
    blank = data.draw(st.sampled_from([b"", b"  ", b"\t"]))  # blank lines are not records
    ndjson = parse_records(b"\n".join(line for r in lines for line in (r, blank)), NDJSON)
    array = parse_records(json.dumps(batch).encode(), JSON)
    for result in (ndjson, array):
        check_result(result, len(batch))
    assert (ndjson.accepted, ndjson.rejected_by_reason) == (array.accepted, array.rejected_by_reason)


numbers = st.none() | st.integers(-(2**63), 2**63) | st.floats(allow_nan=False, allow_infinity=False)
alike_records = st.fixed_dictionaries(
    {
        "model": st.sampled_from(["m", "m", "m", "n", "bad model"]),
        "features": st.sampled_from([("a", "b"), ("a", "b"), ("b", "a"), ("a",), ("a", "prediction")]).flatmap(
            lambda names: st.fixed_dictionaries({n: numbers | st.sampled_from([True, "DE"]) for n in names})
        ),
    },
    optional={"prediction": numbers, "request_id": st.text(max_size=3), "model_version": st.text(max_size=3)},
)


def batches_of(result: Any) -> list[tuple[Any, ...]]:
    def listed(a: Any) -> Any:
        return None if a is None else a.tolist()

    return [
        (
            b.model,
            b.features,
            b.values.tobytes(),
            b.model_version,
            b.categorical,
            listed(b.categorical_values),
            listed(b.request_ids),
            listed(b.labels),
        )
        for b in result.batches
    ]


@examples(150)
@given(st.lists(alike_records, min_size=1, max_size=20))
def test_ndjson_taken_a_column_at_a_time_gives_what_records_one_by_one_give(batch: list) -> None:
    """Alike records (one model, one feature layout, numbers) are taken a column at a time; any other request
    record by record. Both give the same batches and the same rejections."""
    columns = parse_records(b"\n".join(orjson.dumps(r) for r in batch), NDJSON)
    one_by_one = parse_objects(list(enumerate(batch)))
    assert batches_of(columns) == batches_of(one_by_one)
    assert (columns.accepted, columns.rejected_by_reason) == (one_by_one.accepted, one_by_one.rejected_by_reason)


@examples(30)
@given(
    st.lists(
        st.sampled_from([{"model": "bad model", "features": {}}, {"model": "m", "features": {"a": 1}}]),
        min_size=90,
        max_size=260,
    )
)
def test_the_error_list_is_capped_and_the_counts_exact(batch: list) -> None:
    check_result(parse_records(orjson.dumps(batch), JSON), len(batch))


@examples(100)
@given(
    st.binary(max_size=300) | st.text(max_size=100).map(str.encode),
    st.sampled_from([JSON, NDJSON, "application/json; charset=utf-8", "text/csv", None, "", "APPLICATION/JSON"]),
)
def test_any_body_and_content_type_is_counted_or_refused_with_a_status(body: bytes, ctype: str | None) -> None:
    try:
        result = parse_records(body, ctype, max_records=50)
    except DriftwardenError as exc:
        assert http_status(exc) in (400, 413, 415)
    else:
        assert result.accepted + result.rejected >= 0
        check_result(result, result.accepted + result.rejected)


@pytest.mark.parametrize("depth", DEPTHS)
@pytest.mark.parametrize("where", ["features", "prediction", "label", "request_id", "model_version", "record"])
def test_deeply_nested_values_are_rejected_records(depth: int, where: str) -> None:
    deep = nested(depth)
    if where == "record":
        record = deep
    elif where == "features":
        record = '{"model": "m", "features": {"a": DEEP}}'.replace("DEEP", deep)
    else:
        record = '{"model": "m", "features": {"a": 1}, "WHERE": DEEP}'.replace("WHERE", where).replace("DEEP", deep)
    for body, ctype in ((f"[{record}]", JSON), (record, NDJSON)):
        try:
            result = parse_records(body.encode(), ctype)
        except DriftwardenError as exc:  # an array around 1023 levels is past what orjson reads
            assert (http_status(exc), ctype) == (400, JSON)
        else:
            check_result(result, 1)


@pytest.mark.parametrize("kind", ["list", "dict"])
def test_a_deeply_nested_model_name_is_a_rejected_record(kind: str) -> None:
    body = '[{"model": DEEP, "features": {}}]'.replace("DEEP", nested(1000, kind))
    check_result(parse_records(body.encode(), JSON), 1)


# -- OTLP -----------------------------------------------------------------------------------------------------------

SETTINGS = TraceParams(label_attributes=("tenant",))
ATTRIBUTE_KEYS = st.sampled_from(
    [
        "service.name",
        "model.name",
        "gen_ai.request.model",
        "http.route",
        "http.response.status_code",
        "http.status_code",
        "gen_ai.usage.input_tokens",
        "gen_ai.usage.output_tokens",
        "gen_ai.server.time_to_first_token",
        "tenant",
        "other",
    ]
)
any_values = st.recursive(
    st.builds(AnyValue, string_value=st.text(max_size=5))
    | st.builds(AnyValue, int_value=st.integers(-(2**63), 2**63 - 1))
    | st.builds(AnyValue, double_value=st.floats())  # NaN and infinities are valid protobuf doubles
    | st.builds(AnyValue, bool_value=st.booleans())
    | st.builds(AnyValue, bytes_value=st.binary(max_size=4))
    | st.just(AnyValue()),
    lambda inner: (
        st.builds(lambda vs: AnyValue(array_value=ArrayValue(values=vs)), st.lists(inner, max_size=3))
        | st.builds(
            lambda kvs: AnyValue(kvlist_value=KeyValueList(values=[KeyValue(key=k, value=v) for k, v in kvs])),
            st.lists(st.tuples(st.text(max_size=3), inner), max_size=3),
        )
    ),
    max_leaves=5,
)
attributes = st.lists(st.builds(KeyValue, key=ATTRIBUTE_KEYS, value=any_values), max_size=5)
NOW = 1_764_000_000 * 10**9
times = st.sampled_from([0, 1, NOW]) | st.integers(0, 2**64 - 1) | st.integers(NOW - 10**12, NOW + 10**12)


@st.composite
def spans(draw: st.DrawFn) -> Span:
    start = draw(times)
    end = draw(st.sampled_from([start, start + 5 * 10**6]) | times)
    end = min(end, 2**64 - 1)
    events = draw(
        st.lists(
            st.builds(Span.Event, name=st.sampled_from(["gen_ai.content.first_token", "other"]), time_unix_nano=times),
            max_size=2,
        )
    )
    return Span(
        trace_id=draw(st.binary(min_size=16, max_size=16) | st.just(b"")),
        span_id=draw(st.binary(min_size=8, max_size=8)),
        parent_span_id=draw(st.just(b"") | st.binary(min_size=8, max_size=8)),
        name=draw(st.text(max_size=8)),
        kind=draw(st.integers(0, 5)),
        start_time_unix_nano=start,
        end_time_unix_nano=end,
        attributes=draw(attributes),
        events=events,
        status=Status(code=draw(st.integers(0, 2)), message=draw(st.text(max_size=3))),
    )


export_requests = st.builds(
    lambda groups: ExportTraceServiceRequest(resource_spans=groups),
    st.lists(
        st.builds(
            lambda attrs, scopes: ResourceSpans(resource={"attributes": attrs}, scope_spans=scopes),
            attributes,
            st.lists(st.builds(lambda ss: ScopeSpans(spans=ss), st.lists(spans(), max_size=4)), max_size=2),
        ),
        max_size=3,
    ),
)


def otlp_json(request: ExportTraceServiceRequest) -> bytes:
    """OTLP/JSON as exporters write it: hex ids (protobuf's JSON mapping writes base64)."""

    def hex_ids(node: Any) -> Any:
        if isinstance(node, dict):
            return {
                k: base64.b64decode(v).hex() if k in ("traceId", "spanId", "parentSpanId") else hex_ids(v)
                for k, v in node.items()
            }
        return [hex_ids(v) for v in node] if isinstance(node, list) else node

    return json.dumps(hex_ids(json_format.MessageToDict(request))).encode()


def span_count(request: ExportTraceServiceRequest) -> int:
    return sum(len(ss.spans) for rs in request.resource_spans for ss in rs.scope_spans)


def check_batch(batch: otlp.SpanBatch) -> None:
    n = len(batch)
    for column in (batch.model, batch.operation, batch.extra, batch.trace_id):
        assert len(column) == n
    for array in (batch.duration, batch.end_time, batch.error, batch.input_tokens, batch.output_tokens, batch.ttft):
        assert array.shape == (n,)
    assert batch.error.dtype == bool and (batch.duration >= 0).all()
    assert batch.rejected == sum(batch.reasons.values()) and batch.skipped >= 0
    assert all(len(extra) == len(SETTINGS.label_attributes) for extra in batch.extra)
    for column in batch.selectors.values():
        assert column.shape == (n,)


@examples(120)
@given(export_requests)
def test_every_span_is_observed_skipped_or_rejected_in_every_encoding(request: ExportTraceServiceRequest) -> None:
    results = []
    for body, ctype in ((request.SerializeToString(), otlp.PROTOBUF), (otlp_json(request), otlp.JSON)):
        batch, media = otlp.decode_request(body, ctype, SETTINGS)
        assert media == ctype
        check_batch(batch)
        assert len(batch) + batch.skipped + batch.rejected == span_count(request)
        answer = ExportTraceServiceResponse()
        encoded = otlp.encode_response(batch, media)
        if media == otlp.PROTOBUF:
            answer.ParseFromString(encoded)
        else:
            json_format.Parse(encoded, answer)
        assert answer.partial_success.rejected_spans == batch.rejected
        results.append(batch)
    protobuf, from_json = results
    assert (len(protobuf), protobuf.skipped, protobuf.reasons) == (len(from_json), from_json.skipped, from_json.reasons)
    assert protobuf.service == from_json.service and protobuf.trace_id == from_json.trace_id
    np.testing.assert_array_equal(protobuf.duration, from_json.duration)


@examples(150)
@given(export_requests, st.data())
def test_damaged_bodies_raise_body_error_only(request: ExportTraceServiceRequest, data: st.DataObject) -> None:
    ctype = data.draw(st.sampled_from([otlp.PROTOBUF, otlp.JSON]))
    body = bytearray(request.SerializeToString() if ctype == otlp.PROTOBUF else otlp_json(request))
    for _ in range(data.draw(st.integers(1, 4))):  # flip, cut or insert bytes
        action = data.draw(st.sampled_from(["flip", "cut", "insert"]))
        at = data.draw(st.integers(0, len(body)))
        if action == "flip" and at < len(body):
            body[at] ^= data.draw(st.integers(1, 255))
        elif action == "cut":
            del body[at:]
        else:
            body[at:at] = data.draw(st.binary(min_size=1, max_size=4))
    try:
        batch, _ = otlp.decode_request(bytes(body), ctype, SETTINGS)
    except DriftwardenError as exc:
        assert http_status(exc) in (400, 413)
    else:
        check_batch(batch)


@examples(100)
@given(
    st.binary(max_size=200),
    st.sampled_from([otlp.PROTOBUF, otlp.JSON, "text/plain", None]),
)
def test_arbitrary_bytes_raise_body_error_only(body: bytes, ctype: str | None) -> None:
    try:
        batch, _ = otlp.decode_request(body, ctype, SETTINGS)
    except DriftwardenError as exc:
        assert http_status(exc) in (400, 413, 415)
    else:
        check_batch(batch)


@pytest.mark.parametrize("depth", DEPTHS)
@pytest.mark.parametrize("kind", ["list", "dict"])
def test_deeply_nested_otlp_json_is_a_400(depth: int, kind: str) -> None:
    for body in (nested(depth, kind), '{"resourceSpans": [DEEP]}'.replace("DEEP", nested(depth, kind))):
        try:
            batch, _ = otlp.decode_request(body.encode(), otlp.JSON, SETTINGS)
        except DriftwardenError as exc:
            assert http_status(exc) == 400
        else:  # unknown keys are ignored: {"a": {"a": ...}} is an empty request
            assert len(batch) == batch.skipped == batch.rejected == 0


# -- KServe / Seldon CloudEvents -----------------------------------------------------------------------------------

REQUEST_TYPES = ["org.kubeflow.serving.inference.request", "io.seldon.serving.inference.request"]
RESPONSE_TYPES = ["org.kubeflow.serving.inference.response", "io.seldon.serving.inference.response"]
EVENT_TYPES = st.sampled_from([*REQUEST_TYPES, *RESPONSE_TYPES, "io.seldon.serving.feedback", "other"])
MODELS = st.sampled_from(["fraud", "fraud", "fraud", "bad model"])
IDS = st.sampled_from(["r1", "r2"])
small = st.integers(-3, 3) | st.floats(-1e3, 1e3) | st.sampled_from(["DE", True, None])
cells = small | json_values
shapes = st.lists(st.integers(0, 4), max_size=3) | json_values


@st.composite
def tensors(draw: st.DrawFn, rows: int) -> dict[str, Any]:
    """A V2 tensor of `rows` rows, whose shape matches its data unless broken."""
    width = draw(st.integers(1, 3))
    data = draw(st.lists(small, min_size=rows * width, max_size=rows * width))
    tensor = {
        "name": draw(st.sampled_from(["x", "y", "predict"])),
        "shape": [rows, width] if width > 1 else [rows],
        "datatype": draw(st.sampled_from(["FP32", "BYTES"])),
        "data": data,
    }
    if draw(st.integers(0, 5)) == 0:
        tensor[draw(st.sampled_from(["name", "shape", "data"]))] = draw(shapes | cells)
    return tensor


@st.composite
def inference_bodies(draw: st.DrawFn, kind: str) -> Any:
    """A request or response body in one of the formats, mostly well formed, with its rows numbered alike."""
    rows = draw(st.integers(0, 4))
    row = st.lists(cells, min_size=1, max_size=4) | st.dictionaries(st.sampled_from(["a", "b"]), cells, max_size=2)
    fmt = draw(st.sampled_from(["v1", "v1", "v2", "v2", "seldon", "seldon", "garbage"]))
    if fmt == "garbage":
        return draw(json_values | st.fixed_dictionaries({"instances": cells, "inputs": json_values}))
    if fmt == "v1":
        key, value = ("instances", row) if kind == "request" else ("predictions", cells)
        return {key: draw(st.lists(value, min_size=rows, max_size=rows))}
    if fmt == "v2":
        key = "inputs" if kind == "request" else "outputs"
        body: dict[str, Any] = {key: draw(st.lists(tensors(rows), min_size=1, max_size=3))}
        if kind == "response":
            body["model_version"] = draw(st.sampled_from(["v1", ""]) | json_values)
        return body
    width = draw(st.integers(1, 3))
    table = draw(st.lists(st.lists(cells, min_size=width, max_size=width), min_size=rows, max_size=rows))
    data: dict[str, Any] = (
        {"ndarray": table}
        if draw(st.booleans())
        else {"tensor": {"shape": [rows, width], "values": [v for r in table for v in r]}}
    )
    if draw(st.booleans()):
        data["names"] = draw(st.lists(st.sampled_from(["a", "b", "c"]), min_size=width, max_size=width) | json_values)
    return {"data": data}


@st.composite
def logger_posts(draw: st.DrawFn) -> tuple[dict[str, str], bytes]:
    """One POST as a payload logger sends it: binary, structured or batched, now and then broken."""
    mode = draw(st.sampled_from(["binary", "binary", "structured", "batch"]))

    def broken() -> bool:
        return draw(st.integers(0, 11)) == 0

    def event(prefix: str) -> tuple[dict[str, Any], Any]:
        kind = draw(st.sampled_from(["request", "response"]))
        seldon = draw(st.booleans())
        attrs = {
            f"{prefix}id": draw(IDS),
            f"{prefix}type": REQUEST_TYPES[seldon] if kind == "request" else RESPONSE_TYPES[seldon],
            f"{prefix}source": "http://localhost:9081/",
            f"{prefix}specversion": "1.0",
            f"{prefix}inferenceservicename": draw(MODELS),
        }
        if seldon and draw(st.booleans()):
            attrs[prefix + "requestid"] = draw(IDS)
            attrs[prefix + "id"] = draw(st.text(min_size=1, max_size=4))
        if broken():
            attrs[draw(st.sampled_from(sorted(attrs)))] = draw(st.sampled_from(["", "0.3", "other"]))
        if broken():
            attrs[f"{prefix}type"] = draw(EVENT_TYPES)
        if broken():
            del attrs[draw(st.sampled_from(sorted(attrs)))]
        return attrs, draw(inference_bodies(kind))

    if mode == "binary":
        headers, data = event("ce-")
        ctype = draw(st.sampled_from([JSON, JSON, "application/x-www-form-urlencoded", "text/plain", "image/png"]))
        body = draw(st.binary(max_size=30)) if broken() else json.dumps(data).encode()
        return {**headers, "content-type": ctype}, body

    def structured() -> Any:
        attrs, data = event("")
        how = draw(st.sampled_from(["data", "data", "data", "text", "base64", "bad base64"]))
        if how == "data":
            attrs["data"] = data
        elif how == "text":
            attrs["data"] = json.dumps(data)
        elif how == "base64":
            attrs["data_base64"] = base64.b64encode(json.dumps(data).encode()).decode()
        else:
            attrs["data_base64"] = draw(st.text(max_size=6))
        return draw(json_values) if broken() else attrs

    if mode == "structured":
        return {"content-type": "application/cloudevents+json"}, json.dumps(structured()).encode()
    events = [structured() for _ in range(draw(st.integers(0, 4)))]
    return {"content-type": "application/cloudevents-batch+json"}, json.dumps(events).encode()


def completed_records(headers: dict[str, str], body: bytes, shadow: EventJoiner, model: str | None) -> int | None:
    """Records the POST completes, by the same steps as parse_events on a joiner kept in step; None if refused."""
    left = {"request": 100, "response": 100}  # the request rows and the response rows of one POST
    halves = []
    try:
        for e in read_events(headers, body):
            kind = kind_of(e)
            half = decode_event(e, model=model, max_records=left[kind] if kind else 100, max_features=8)
            if half is not None:
                left[half.kind] -= len(half.rows)
                halves.append(half)
    except DriftwardenError:
        return None
    return sum(len(shadow.add(h).records) for h in halves)


@examples(250)
@given(st.lists(logger_posts(), min_size=1, max_size=8), st.sampled_from([None, "fraud"]))
def test_every_completed_record_is_accepted_or_rejected(posts: list, model: str | None) -> None:
    joiner, shadow = EventJoiner(max_pending=3, max_pending_rows=20), EventJoiner(max_pending=3, max_pending_rows=20)
    for headers, body in posts:
        expected = completed_records(headers, body, shadow, model)
        try:
            result = parse_events(headers, body, joiner, model=model, max_records=100, max_features=8)
        except DriftwardenError as exc:
            assert expected is None
            assert http_status(exc) in (400, 413, 415) and exc.code
            continue
        assert expected is not None
        check_result(result, expected)
        assert result.pending == joiner.pending == shadow.pending <= 3
        assert joiner.pending_rows <= 20
        assert all(rows >= 0 for rows in result.dropped_rows.values())


@examples(100)
@given(
    st.dictionaries(
        st.sampled_from(
            [
                "content-type",
                "ce-id",
                "ce-type",
                "ce-source",
                "ce-specversion",
                "ce-time",
                "ce-inferenceservicename",
                "Content-Type",
                "CE-ID",
            ]
        ),
        st.text(max_size=12),
        max_size=6,
    ),
    st.binary(max_size=120),
)
def test_arbitrary_headers_and_bytes_raise_event_error_only(headers: dict[str, str], body: bytes) -> None:
    try:
        result = parse_events(headers, body, EventJoiner())
    except DriftwardenError as exc:
        assert http_status(exc) in (400, 413, 415)
    else:
        assert result.accepted == result.rejected == 0  # a lone half completes nothing


def _kserve(kind: str) -> dict[str, str]:
    return {
        "ce-id": "r1",
        "ce-type": f"org.kubeflow.serving.inference.{kind}",
        "ce-source": "s",
        "ce-specversion": "1.0",
        "ce-inferenceservicename": "fraud",
        "content-type": JSON,
    }


@pytest.mark.parametrize("depth", DEPTHS)
@pytest.mark.parametrize(
    ("half", "template"),
    [
        ("request", '{"instances": [[DEEP]]}'),
        ("request", '{"instances": [{"a": DEEP}]}'),
        ("request", '{"inputs": [{"name": "a", "shape": [1], "datatype": "FP32", "data": DEEP}]}'),
        ("request", '{"inputs": [{"name": "a", "shape": DEEP, "datatype": "FP32", "data": [1]}]}'),
        ("request", '{"inputs": [{"name": DEEP, "shape": [1], "datatype": "FP32", "data": [1]}]}'),
        ("request", '{"data": {"ndarray": [[DEEP]]}}'),
        ("request", '{"data": {"tensor": {"shape": DEEP, "values": [1]}}}'),
        ("response", '{"predictions": [DEEP]}'),
        ("response", '{"outputs": [{"name": DEEP, "shape": [1], "datatype": "FP32", "data": [1]}]}'),
        (
            "response",
            '{"outputs": [{"name": "p", "shape": [1], "datatype": "FP32", "data": [1]}], "model_version": DEEP}',
        ),
    ],
)
def test_deeply_nested_inference_bodies_are_a_4xx_or_rejected_records(depth: int, half: str, template: str) -> None:
    other = {"request": b'{"instances": [[1]]}', "response": b'{"predictions": [1]}'}
    deep = template.replace("DEEP", nested(depth)).encode()
    bodies = (
        {"request": deep, "response": other["response"]}
        if half == "request"
        else {"request": other["request"], "response": deep}
    )
    joiner = EventJoiner()
    try:
        first = parse_events(_kserve("request"), bodies["request"], joiner)
        second = parse_events(_kserve("response"), bodies["response"], joiner)
    except DriftwardenError as exc:
        assert http_status(exc) == 400
    else:
        check_result(first, 0)
        assert second.accepted + second.rejected >= 1
        check_result(second, second.accepted + second.rejected)


@pytest.mark.parametrize("depth", DEPTHS)
@pytest.mark.parametrize("key", ["id", "type", "inferenceservicename", "data_base64"])
def test_deeply_nested_structured_events_are_a_400(depth: int, key: str) -> None:
    event = {"specversion": "1.0", "id": "r1", "source": "s", "type": REQUEST_TYPES[0], "data": {"instances": [[1]]}}
    body = json.dumps({**event, key: "@"}).replace('"@"', nested(depth))
    with pytest.raises(DriftwardenError) as refused:
        parse_events({"content-type": "application/cloudevents+json"}, body.encode(), EventJoiner())
    assert http_status(refused.value) == 400
