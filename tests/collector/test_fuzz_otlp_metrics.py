"""Property tests of `collector.otlp_metrics.MetricsDecoder` over generated ExportMetricsServiceRequests:
in protobuf and OTLP JSON alike, every data point is counted, ignored or rejected (exactly one of them),
the answer encodes what was rejected, and a damaged body raises nothing but a body error."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
from google.protobuf import json_format
from hypothesis import given
from hypothesis import strategies as st
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
    ExportMetricsServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.metrics.v1.metrics_pb2 import (
    ExponentialHistogram,
    ExponentialHistogramDataPoint,
    Gauge,
    Histogram,
    HistogramDataPoint,
    Metric,
    NumberDataPoint,
    ResourceMetrics,
    ScopeMetrics,
)

from driftwarden.api.plumbing import http_status
from driftwarden.collector.otlp import JSON, PROTOBUF
from driftwarden.collector.otlp_metrics import MetricsDecoder, encode_response
from driftwarden.core.errors import DriftwardenError
from driftwarden.core.points import PointBatch
from driftwarden.params import TraceParams
from tests.support.fuzz import examples

SETTINGS = TraceParams(label_attributes=("tenant",))
NAMES = st.sampled_from(
    [
        "http.server.request.duration",
        "http.server.duration",
        "gen_ai.server.request.duration",
        "gen_ai.server.time_to_first_token",
        "gen_ai.client.token.usage",
        "db.client.operation.duration",
    ]
)
KEYS = st.sampled_from(
    [
        "service.name",
        "model.name",
        "http.route",
        "http.response.status_code",
        "error.type",
        "gen_ai.token.type",
        "tenant",
    ]
)
VALUES = (
    st.builds(AnyValue, string_value=st.sampled_from(["", "a", "input", "output", "500"]))
    | st.builds(AnyValue, int_value=st.sampled_from([0, 200, 503]))
    | st.builds(AnyValue, double_value=st.floats())
)
attributes = st.lists(st.builds(KeyValue, key=KEYS, value=VALUES), max_size=4)
counts = st.lists(st.integers(0, 2**40), max_size=6)
times = st.sampled_from([0, 1, 2**63]) | st.integers(0, 2**64 - 1)


@st.composite
def explicit_points(draw: st.DrawFn) -> HistogramDataPoint:
    buckets = draw(counts)
    bounds = sorted(draw(st.lists(st.floats(allow_nan=True), min_size=0, max_size=len(buckets))))
    total = sum(buckets) if draw(st.booleans()) else draw(st.integers(0, 2**41))
    point = HistogramDataPoint(
        attributes=draw(attributes),
        start_time_unix_nano=draw(times),
        time_unix_nano=draw(times),
        count=total,
        bucket_counts=buckets,
        explicit_bounds=bounds[: max(len(buckets) - 1, 0)] if draw(st.booleans()) else bounds,
        flags=draw(st.sampled_from([0, 0, 1])),
    )
    if draw(st.booleans()):
        point.sum = draw(st.floats())
    if draw(st.booleans()):
        point.max = draw(st.floats())
    return point


@st.composite
def exponential_points(draw: st.DrawFn) -> ExponentialHistogramDataPoint:
    positive = draw(counts)
    zero = draw(st.integers(0, 5))
    point = ExponentialHistogramDataPoint(
        attributes=draw(attributes),
        start_time_unix_nano=draw(times),
        time_unix_nano=draw(times),
        count=zero + sum(positive) if draw(st.booleans()) else draw(st.integers(0, 2**41)),
        scale=draw(st.integers(-10, 20)),
        zero_count=zero,
        zero_threshold=draw(st.floats(0, 1)),
    )
    point.positive.offset = draw(st.integers(-(2**31), 2**31 - 1))
    point.positive.bucket_counts.extend(positive)
    point.negative.bucket_counts.extend(draw(st.lists(st.integers(0, 3), max_size=2)))
    return point


@st.composite
def metrics(draw: st.DrawFn) -> Metric:
    metric = Metric(name=draw(NAMES), unit=draw(st.sampled_from(["", "s", "ms", "{token}", "By"])))
    temporality = draw(st.integers(0, 2))
    kind = draw(st.sampled_from(["explicit", "exponential", "gauge"]))
    if kind == "explicit":
        metric.histogram.CopyFrom(
            Histogram(aggregation_temporality=temporality, data_points=draw(st.lists(explicit_points(), max_size=4)))
        )
    elif kind == "exponential":
        metric.exponential_histogram.CopyFrom(
            ExponentialHistogram(
                aggregation_temporality=temporality, data_points=draw(st.lists(exponential_points(), max_size=3))
            )
        )
    else:
        metric.gauge.CopyFrom(Gauge(data_points=[NumberDataPoint(as_double=1.0)] * draw(st.integers(0, 3))))
    return metric


export_requests = st.builds(
    lambda groups: ExportMetricsServiceRequest(resource_metrics=groups),
    st.lists(
        st.builds(
            lambda attrs, scopes: ResourceMetrics(resource={"attributes": attrs}, scope_metrics=scopes),
            attributes,
            st.lists(st.builds(lambda ms: ScopeMetrics(metrics=ms), st.lists(metrics(), max_size=3)), max_size=2),
        ),
        max_size=2,
    ),
)


def point_count(request: ExportMetricsServiceRequest) -> int:
    total = 0
    for rm in request.resource_metrics:
        for sm in rm.scope_metrics:
            for m in sm.metrics:
                kind = m.WhichOneof("data")
                total += len(getattr(m, kind).data_points) if kind else 0
    return total


def otlp_json(request: ExportMetricsServiceRequest) -> bytes:
    return json.dumps(json_format.MessageToDict(request)).encode()


def check(batch: PointBatch) -> None:
    n = len(batch)
    for column in (batch.model, batch.operation, batch.extra):
        assert len(column) == n
    for array in (batch.kind, batch.rank, batch.end_time, batch.error, batch.count, batch.total):
        assert array.shape == (n,)
    rows = batch.point.size
    for array in (batch.upper, batch.value, batch.weight):
        assert array.shape == (rows,)
    assert ((batch.point >= 0) & (batch.point < max(n, 1))).all() and (batch.weight > 0).all()
    assert (batch.count > 0).all() and batch.rejected == sum(batch.reasons.values())
    assert (np.isfinite(batch.total) & (batch.total >= 0)).all()  # what histogram sums and token counters add
    assert (np.isfinite(batch.value) & (batch.value >= 0)).all() and (batch.upper >= 0).all()


@examples(150)
@given(export_requests)
def test_every_point_is_counted_ignored_or_rejected_in_every_encoding(request: ExportMetricsServiceRequest) -> None:
    seen: list[tuple[Any, ...]] = []
    for body, ctype in ((request.SerializeToString(), PROTOBUF), (otlp_json(request), JSON)):
        decoder = MetricsDecoder(SETTINGS, max_streams=100, started_ns=0)
        batch, media = decoder.decode(body, ctype)
        decoder.commit()
        check(batch)
        assert len(batch) + sum(batch.ignored.values()) + batch.rejected == point_count(request)
        answer = ExportMetricsServiceResponse()
        encoded = encode_response(batch, media)
        if media == PROTOBUF:
            answer.ParseFromString(encoded)
        else:
            json_format.Parse(encoded, answer)
        assert answer.partial_success.rejected_data_points == batch.rejected
        seen.append((len(batch), dict(batch.ignored), batch.reasons, batch.weight.tolist()))
    protobuf, from_json = seen
    assert protobuf[:3] == from_json[:3]
    assert np.array_equal(protobuf[3], from_json[3])


@examples(150)
@given(export_requests, st.data())
def test_damaged_bodies_raise_body_error_only(request: ExportMetricsServiceRequest, data: st.DataObject) -> None:
    ctype = data.draw(st.sampled_from([PROTOBUF, JSON]))
    body = bytearray(request.SerializeToString() if ctype == PROTOBUF else otlp_json(request))
    for _ in range(data.draw(st.integers(1, 4))):
        action = data.draw(st.sampled_from(["flip", "cut", "insert"]))
        at = data.draw(st.integers(0, len(body)))
        if action == "flip" and at < len(body):
            body[at] ^= data.draw(st.integers(1, 255))
        elif action == "cut":
            del body[at:]
        else:
            body[at:at] = data.draw(st.binary(min_size=1, max_size=4))
    decoder = MetricsDecoder(SETTINGS, max_streams=100, started_ns=0)
    try:
        batch, _ = decoder.decode(bytes(body), ctype)
    except DriftwardenError as exc:
        assert http_status(exc) in (400, 413, 415)
    else:
        check(batch)
