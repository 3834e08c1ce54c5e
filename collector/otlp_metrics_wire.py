"""`ExportMetricsServiceRequest` read through a narrower schema that is wire-compatible with it.

The OTLP messages decoded in full cost Python a wrapper object per attribute and per bucket count
(about 5 µs a histogram point). These message types read the same bytes but keep what we only
hash or copy as bytes: each attribute `KeyValue` stays its serialized form (a point's attribute
tuple is then a ready dictionary key: the stream's identity and the cache key of its labels), the
instrumentation scope stays bytes, and an explicit histogram's packed `bucket_counts` (fixed64) and
`explicit_bounds` (double) stay the packed bytes, read by `numpy.frombuffer` for a whole metric at
once; an exponential histogram's packed `bucket_counts` (uint64 varints, 160 a point by the SDK's
default) stay bytes too, decoded for a whole metric at once by `varints`. Gauges, sums and
summaries keep only their points' bytes, to be counted. Field numbers and wire types are those of
opentelemetry-proto's metrics.proto; a field not declared here is skipped.

`StreamKeys` reads the same bytes keeping only the histogram points' attributes: with every
other field discarded (`DiscardUnknownFields`), a point serialized is its attribute list as sent,
which costs less than joining the attributes one by one; the walks of the two stay aligned (the same
resource, scope and metric lists, in the same order).

proto2 syntax, so that `sum`, `min` and `max` keep their presence (`HasField`), as proto3
`optional` does in the real schema. Parsers must also accept repeated scalars *not* packed; a point
that sent its `bucket_counts` so arrives here with none, and the decoder re-encodes the request in
the real schema (which packs) and reads it again.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
from google.protobuf.descriptor_pb2 import FieldDescriptorProto

__all__ = ["MetricsRequest", "StreamKeys", "varints"]

_PACKAGE = "driftwarden.otlp_wire"
_F = FieldDescriptorProto
_MESSAGE, _BYTES, _STRING = _F.TYPE_MESSAGE, _F.TYPE_BYTES, _F.TYPE_STRING
_FIXED64, _DOUBLE, _INT32, _SINT32, _UINT32, _UINT64 = (
    _F.TYPE_FIXED64,
    _F.TYPE_DOUBLE,
    _F.TYPE_INT32,
    _F.TYPE_SINT32,
    _F.TYPE_UINT32,
    _F.TYPE_UINT64,
)
_REPEATED = {"attributes", "data_points", "resource_metrics", "scope_metrics", "metrics"}

# message -> (field, number, type, message type for TYPE_MESSAGE)
_SCHEMA: dict[str, list[tuple[str, int, int, str]]] = {
    "Request": [("resource_metrics", 1, _MESSAGE, "ResourceMetrics")],
    "ResourceMetrics": [("resource", 1, _MESSAGE, "Resource"), ("scope_metrics", 2, _MESSAGE, "ScopeMetrics")],
    "Resource": [("attributes", 1, _BYTES, "")],
    "ScopeMetrics": [("scope", 1, _BYTES, ""), ("metrics", 2, _MESSAGE, "Metric")],
    "Metric": [
        ("name", 1, _STRING, ""),
        ("unit", 3, _STRING, ""),
        ("gauge", 5, _MESSAGE, "Points"),
        ("sum", 7, _MESSAGE, "Points"),
        ("histogram", 9, _MESSAGE, "Histogram"),
        ("exponential_histogram", 10, _MESSAGE, "ExponentialHistogram"),
        ("summary", 11, _MESSAGE, "Points"),
    ],
    "Points": [("data_points", 1, _BYTES, "")],
    "Histogram": [("data_points", 1, _MESSAGE, "HistogramDataPoint"), ("aggregation_temporality", 2, _INT32, "")],
    "HistogramDataPoint": [
        ("start_time_unix_nano", 2, _FIXED64, ""),
        ("time_unix_nano", 3, _FIXED64, ""),
        ("count", 4, _FIXED64, ""),
        ("sum", 5, _DOUBLE, ""),
        ("bucket_counts", 6, _BYTES, ""),  # packed fixed64: its bytes
        ("explicit_bounds", 7, _BYTES, ""),  # packed double: its bytes
        ("attributes", 9, _BYTES, ""),
        ("flags", 10, _UINT32, ""),
        ("min", 11, _DOUBLE, ""),
        ("max", 12, _DOUBLE, ""),
    ],
    "ExponentialHistogram": [
        ("data_points", 1, _MESSAGE, "ExponentialHistogramDataPoint"),
        ("aggregation_temporality", 2, _INT32, ""),
    ],
    "ExponentialHistogramDataPoint": [
        ("attributes", 1, _BYTES, ""),
        ("start_time_unix_nano", 2, _FIXED64, ""),
        ("time_unix_nano", 3, _FIXED64, ""),
        ("count", 4, _FIXED64, ""),
        ("sum", 5, _DOUBLE, ""),
        ("scale", 6, _SINT32, ""),
        ("zero_count", 7, _FIXED64, ""),
        ("positive", 8, _MESSAGE, "Buckets"),
        ("negative", 9, _MESSAGE, "Buckets"),
        ("flags", 10, _UINT32, ""),
        ("min", 12, _DOUBLE, ""),
        ("max", 13, _DOUBLE, ""),
        ("zero_threshold", 14, _DOUBLE, ""),
    ],
    "Buckets": [("offset", 1, _SINT32, ""), ("bucket_counts", 2, _BYTES, "")],  # packed uint64 varints: bytes
}


_KEYS_SCHEMA: dict[str, list[tuple[str, int, int, str]]] = {
    "KeysRequest": [("resource_metrics", 1, _MESSAGE, "KeysResourceMetrics")],
    "KeysResourceMetrics": [("scope_metrics", 2, _MESSAGE, "KeysScopeMetrics")],
    "KeysScopeMetrics": [("metrics", 2, _MESSAGE, "KeysMetric")],
    "KeysMetric": [
        ("histogram", 9, _MESSAGE, "KeysHistogram"),
        ("exponential_histogram", 10, _MESSAGE, "KeysExponentialHistogram"),
    ],
    "KeysHistogram": [("data_points", 1, _MESSAGE, "KeysPoint")],
    "KeysPoint": [("attributes", 9, _BYTES, "")],
    "KeysExponentialHistogram": [("data_points", 1, _MESSAGE, "KeysExponentialPoint")],
    "KeysExponentialPoint": [("attributes", 1, _BYTES, "")],
}


def _message_class(name: str) -> Any:
    file = descriptor_pb2.FileDescriptorProto(name="driftwarden/otlp_wire.proto", package=_PACKAGE, syntax="proto2")
    for message, fields in {**_SCHEMA, **_KEYS_SCHEMA}.items():
        descriptor = file.message_type.add(name=message)
        for field_name, number, kind, type_name in fields:
            repeated = field_name in _REPEATED
            descriptor.field.add(
                name=field_name,
                number=number,
                type=kind,
                label=_F.LABEL_REPEATED if repeated else _F.LABEL_OPTIONAL,
                type_name=f".{_PACKAGE}.{type_name}" if type_name else None,
            )
    pool = descriptor_pool.DescriptorPool()
    pool.Add(file)
    return message_factory.GetMessageClass(pool.FindMessageTypeByName(f"{_PACKAGE}.{name}"))


MetricsRequest: Any = _message_class("Request")
StreamKeys: Any = _message_class("KeysRequest")


def varints(data: bytes, sizes: list[int]) -> tuple[Any, Any]:
    """Packed unsigned varints, several runs of them joined (`sizes`: each run's bytes): the values, and
    how many each run holds. Values are exact below 2**53 (bucket counts far below it). Raises ValueError
    when a run ends inside a varint."""
    raw = np.frombuffer(data, dtype=np.uint8)
    if not raw.size or raw.max() < 0x80:  # the usual case: every count below 128, a byte each
        return raw.astype(np.int64), np.asarray(sizes, dtype=np.int64)
    ends = raw < 0x80  # the last byte of each varint
    edges = np.cumsum(np.asarray(sizes, dtype=np.int64))
    if raw.size and not ends[edges[np.asarray(sizes) > 0] - 1].all():
        raise ValueError("a packed varint run ends inside a varint")
    value: Any = np.cumsum(ends) - ends  # which varint each byte belongs to
    first = np.flatnonzero(np.concatenate([[True], ends[:-1]])) if raw.size else np.zeros(0, dtype=np.int64)
    shift = np.arange(raw.size) - first[value]
    values = np.bincount(value, weights=(raw & 0x7F) * np.exp2(7.0 * shift), minlength=int(ends.sum()))
    ended = np.concatenate([[0], np.cumsum(ends)])  # varints ended before each byte offset
    per_run = np.diff(ended[np.concatenate([np.zeros(1, dtype=np.int64), edges])])
    return values.astype(np.int64), per_run.astype(np.int64)
