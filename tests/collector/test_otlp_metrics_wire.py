"""The narrower OTLP metrics schema reads what the real one writes; packed varints decode exactly."""

from __future__ import annotations

import pytest
from google.protobuf.internal.encoder import _VarintBytes
from hypothesis import given, settings
from hypothesis import strategies as st
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest

from driftwarden.collector.otlp_metrics_wire import MetricsRequest, StreamKeys, varints

runs = st.lists(st.lists(st.integers(0, 2**53 - 1), max_size=20), max_size=8)


@settings(max_examples=300, deadline=None)
@given(runs)
def test_packed_varint_runs_decode_to_their_values(values: list[list[int]]) -> None:
    encoded = [b"".join(_VarintBytes(v) for v in run) for run in values]
    decoded, per_run = varints(b"".join(encoded), [len(e) for e in encoded])
    assert decoded.tolist() == [v for run in values for v in run]
    assert per_run.tolist() == [len(run) for run in values]


def test_a_run_that_ends_inside_a_varint_is_refused() -> None:
    with pytest.raises(ValueError, match="inside a varint"):
        varints(b"\x80\x01\x80", [2, 1])


def test_the_narrow_schema_reads_the_real_one() -> None:
    request = ExportMetricsServiceRequest()
    metrics = request.resource_metrics.add().scope_metrics.add().metrics
    explicit = metrics.add(name="http.server.request.duration").histogram.data_points.add(
        count=3, bucket_counts=[1, 2], explicit_bounds=[0.5], sum=1.5
    )
    explicit.attributes.add(key="http.route").value.string_value = "/a"
    exponential = metrics.add(name="e").exponential_histogram.data_points.add(count=300, zero_count=0, scale=3)
    exponential.positive.offset = -2
    exponential.positive.bucket_counts.extend([100, 200])
    exponential.attributes.add(key="k").value.int_value = 7
    data = request.SerializeToString()
    wire = MetricsRequest.FromString(data).resource_metrics[0].scope_metrics[0].metrics
    point = wire[0].histogram.data_points[0]
    assert point.HasField("sum") and not point.HasField("min") and len(point.bucket_counts) == 16
    packed = wire[1].exponential_histogram.data_points[0].positive.bucket_counts
    counts, sizes = varints(packed, [len(packed)])
    assert counts.tolist() == [100, 200] and sizes.tolist() == [2]
    keys = StreamKeys.FromString(data)
    keys.DiscardUnknownFields()
    attributes = keys.resource_metrics[0].scope_metrics[0].metrics[0].histogram.data_points[0].SerializeToString()
    assert explicit.attributes[0].SerializeToString() in attributes


def test_bucket_counts_sent_unpacked_are_read_through_the_real_schema() -> None:
    """Parsers must take repeated scalars packed or not; the narrow schema reads only the packed form,
    so the decoder re-encodes such a request in the real schema (which packs) and reads it again."""
    from opentelemetry.proto.metrics.v1.metrics_pb2 import Histogram, HistogramDataPoint

    from driftwarden.collector.otlp_metrics import MetricsDecoder
    from driftwarden.params import TraceParams

    def field(number: int, payload: bytes) -> bytes:
        return _VarintBytes(number << 3 | 2) + _VarintBytes(len(payload)) + payload

    point = HistogramDataPoint(count=6, sum=1.0, explicit_bounds=[0.1, 0.5], time_unix_nano=10**18)
    unpacked = point.SerializeToString() + b"".join(b"\x31" + c.to_bytes(8, "little") for c in (1, 2, 3))
    histogram = Histogram(aggregation_temporality=1).SerializeToString() + field(1, unpacked)
    metric = field(1, b"http.server.request.duration") + field(9, histogram)
    data = field(1, field(2, field(2, metric)))
    real = ExportMetricsServiceRequest.FromString(data)
    assert list(real.resource_metrics[0].scope_metrics[0].metrics[0].histogram.data_points[0].bucket_counts) == [
        1,
        2,
        3,
    ]
    batch, _ = MetricsDecoder(TraceParams(), max_streams=10).decode(data, "application/x-protobuf")
    assert batch.count.tolist() == [6] and batch.weight.tolist() == [1, 2, 3] and not batch.rejected
