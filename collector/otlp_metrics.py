"""OTLP/HTTP metric export requests → histogram points as deltas (`PointBatch`).

Decodes `ExportMetricsServiceRequest` from protobuf or OTLP JSON (the API has decoded any gzip) and
answers `ExportMetricsServiceResponse` in the request's encoding, with `partial_success` counting
the data points it could not use. The histograms of `semconv.REQUEST_METRICS` (explicit buckets or
exponential, delta or cumulative temporality) become points; every other metric, and a recognised
one of another type, is acknowledged and counted as ignored, never an error.

A point maps to service / model / operation / status as a span does:

- service:   resource attribute `service.name`
- model:     first present of `model_attributes` (point, then resource), else "none"
- operation: first present of `operation_attributes`, else `http.request.method`, else "unknown"
- error:     `error.type` set, or `http.response.status_code` >= 500
- tokens:    `gen_ai.client.token.usage` by `gen_ai.token.type` (input, output), its sum the tokens

Durations are read in the metric's unit (`s`, `ms`, ...: `http.server.duration` is milliseconds).
Cumulative points become deltas per stream (`otlp_deltas`); the decoder keeps that state and the
caches of attribute sets, so one decoder serves every request: `decode`, then `commit` once the
points are admitted (or `discard`).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import orjson
from google.protobuf import json_format
from google.protobuf.message import DecodeError
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
    ExportMetricsServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import KeyValue
from opentelemetry.proto.resource.v1.resource_pb2 import Resource

from driftwarden.collector.otlp import JSON, PROTOBUF, _hex_ids_to_base64
from driftwarden.collector.otlp_attributes import first, label_value, lookup_chain, scalar
from driftwarden.collector.otlp_deltas import CumulativeDeltas, ExponentialCounts
from driftwarden.collector.otlp_wire import MetricsRequest
from driftwarden.core.arrays import FloatArray, IntArray
from driftwarden.core.errors import InputError, UnsupportedMediaType
from driftwarden.core.points import INPUT_TOKENS, OUTPUT_TOKENS, PointBatch
from driftwarden.core.semconv import (
    ERROR_TYPE,
    HTTP_METHOD,
    HTTP_STATUS,
    REQUEST_METRICS,
    TOKEN_TYPE,
    TOKEN_TYPES,
    UNIT_SECONDS,
    MetricKind,
    RequestMetric,
    with_aliases,
)
from driftwarden.params import TraceParams

__all__ = ["MetricsDecoder", "encode_response"]

_DELTA, _CUMULATIVE = 1, 2
_NO_RECORDED_VALUE = 1  # DataPointFlags: the stream had no value (a staleness marker)
_MAX_CACHED = 100_000  # attribute sets whose labels are cached; raw values are unbounded, the cache is not
_TOKEN_KINDS = {"input": INPUT_TOKENS, "output": OUTPUT_TOKENS}


@dataclass(frozen=True)
class _Labels:
    """What a point's attribute set (with its resource's) maps to."""

    service: str
    model: str
    operation: str
    extra: tuple[str, ...]
    error: bool
    token_kind: int | None  # INPUT_TOKENS / OUTPUT_TOKENS for token usage; None for another token type


@dataclass
class _Buckets:
    """Bucket rows of a group of points: `point` indexes the group."""

    point: IntArray
    upper: FloatArray
    value: FloatArray
    weight: IntArray


@dataclass
class _Rows:
    """Points and bucket rows gathered for a `PointBatch`, a metric at a time."""

    labels: list[_Labels]
    kind: list[int]
    rank: list[int]
    end_time: list[FloatArray]
    count: list[IntArray]
    total: list[FloatArray]
    point: list[IntArray]
    upper: list[FloatArray]
    value: list[FloatArray]
    weight: list[IntArray]

    @classmethod
    def empty(cls) -> _Rows:
        return cls([], [], [], [], [], [], [], [], [], [])

    def add(
        self,
        spec: RequestMetric,
        labels: list[_Labels],
        kind: IntArray,
        end_time: FloatArray,
        count: IntArray,
        total: FloatArray,
        buckets: _Buckets,
    ) -> None:
        """A group of points; a point that sent no sum gets its buckets' (midpoint x count); token
        usage keeps only the sums (the tokens), not its buckets."""
        missing = np.isnan(total)
        if missing.any():
            estimate = np.bincount(buckets.point, weights=buckets.value * buckets.weight, minlength=total.size)
            total = np.where(missing, estimate, total)
        if spec.kind != MetricKind.TOKENS:
            self.point.append(buckets.point + len(self.labels))
            self.upper.append(buckets.upper)
            self.value.append(buckets.value)
            self.weight.append(buckets.weight)
        self.labels.extend(labels)
        self.kind.extend(kind.tolist())
        self.rank.extend([spec.rank] * len(labels))
        self.end_time.append(end_time)
        self.count.append(count)
        self.total.append(total)

    def into(self, batch: PointBatch) -> None:
        batch.service = [x.service for x in self.labels]
        batch.model = [x.model for x in self.labels]
        batch.operation = [x.operation for x in self.labels]
        batch.extra = [x.extra for x in self.labels]
        batch.error = np.fromiter((x.error for x in self.labels), dtype=bool, count=len(self.labels))
        batch.kind = np.asarray(self.kind, dtype=np.int64)
        batch.rank = np.asarray(self.rank, dtype=np.int64)
        if not self.labels:
            return
        batch.end_time = np.concatenate(self.end_time)
        batch.count = np.concatenate(self.count).astype(np.int64)
        batch.total = np.concatenate(self.total)
        if self.point:
            batch.point = np.concatenate(self.point).astype(np.int64)
            batch.upper = np.concatenate(self.upper)
            batch.value = np.concatenate(self.value)
            batch.weight = np.concatenate(self.weight).astype(np.int64)


class MetricsDecoder:
    """Decodes metric exports into points; holds the cumulative streams' state and label caches."""

    def __init__(self, settings: TraceParams, *, max_streams: int, started_ns: int | None = None) -> None:
        self.deltas = CumulativeDeltas(max_streams, time.time_ns() if started_ns is None else started_ns)
        self._model = lookup_chain(settings.model_attributes)
        self._operation = (*lookup_chain(settings.operation_attributes), *with_aliases(HTTP_METHOD))
        self._extra = tuple(with_aliases(k) for k in settings.label_attributes)
        self._status = with_aliases(HTTP_STATUS)
        self._token_type = with_aliases(TOKEN_TYPE)
        self._labels: dict[tuple[bytes, tuple[bytes, ...]], _Labels] = {}
        self._resources: dict[bytes, dict[str, Any]] = {}

    def decode(self, body: bytes, content_type: str | None) -> tuple[PointBatch, str]:
        """Parse an export request (already decoded from any Content-Encoding) into deltas; returns
        them and the media type to answer in. The cumulative state changes only on `commit()`."""
        media = (content_type or "").split(";")[0].strip().lower()
        if media not in (PROTOBUF, JSON):
            raise UnsupportedMediaType(
                f"unsupported Content-Type {media or '(none)'!r}: OTLP/HTTP sends {PROTOBUF} or {JSON}"
            )
        self.deltas.discard()
        try:
            if media == PROTOBUF:
                request = MetricsRequest.FromString(body)
            else:
                request = MetricsRequest.FromString(_from_json(body).SerializeToString())
        except (DecodeError, orjson.JSONDecodeError, json_format.ParseError, ValueError, TypeError) as exc:
            raise InputError(f"not an OTLP ExportMetricsServiceRequest ({media}): {exc}") from exc
        except RecursionError:
            raise InputError(f"not an OTLP ExportMetricsServiceRequest ({media}): nested too deeply") from None
        try:
            return self._points(request), media
        except _Unpacked:  # bucket counts sent unpacked: the real schema reads them, and packs them again
            self.deltas.discard()
            full = ExportMetricsServiceRequest.FromString(body)
            return self._points(MetricsRequest.FromString(full.SerializeToString()), repacked=True), media

    def commit(self) -> None:
        """The last decoded request was admitted: its cumulative points become the streams' state."""
        self.deltas.commit()

    def discard(self) -> None:
        self.deltas.discard()

    # -- walking the request --------------------------------------------------------------------------------------
    def _points(self, request: Any, *, repacked: bool = False) -> PointBatch:
        batch = PointBatch()
        rows = _Rows.empty()
        if len(self._labels) > _MAX_CACHED:
            self._labels.clear()
        if len(self._resources) > _MAX_CACHED:
            self._resources.clear()
        for resource_metrics in request.resource_metrics:
            resource = resource_metrics.resource.SerializeToString()
            for scope_metrics in resource_metrics.scope_metrics:
                scope = scope_metrics.scope
                for metric in scope_metrics.metrics:
                    self._metric(batch, rows, resource, scope, metric, repacked)
        rows.into(batch)
        return batch

    def _metric(
        self, batch: PointBatch, rows: _Rows, resource: bytes, scope: bytes, metric: Any, repacked: bool
    ) -> None:
        spec = REQUEST_METRICS.get(metric.name)
        if metric.HasField("histogram"):
            data = metric.histogram
        elif metric.HasField("exponential_histogram"):
            data = metric.exponential_histogram
        else:
            points = next(
                (getattr(metric, f).data_points for f in ("sum", "gauge", "summary") if metric.HasField(f)), ()
            )
            if len(points):
                batch.ignored["other_metric" if spec is None else "not_a_histogram"] += len(points)
            return
        points = data.data_points
        if not len(points):
            return
        if spec is None:
            batch.ignored["other_metric"] += len(points)
            return
        unit = metric.unit or spec.unit
        scale = 1.0 if spec.kind == MetricKind.TOKENS else UNIT_SECONDS.get(unit)
        if scale is None:
            batch.ignored["unit"] += len(points)
            return
        temporality = data.aggregation_temporality
        if temporality not in (_DELTA, _CUMULATIVE):
            batch.reject(
                "temporality", f"{metric.name}: aggregation_temporality must be DELTA or CUMULATIVE", len(points)
            )
            return
        stream = (resource, scope, metric.name)
        if metric.HasField("histogram"):
            self._explicit(batch, rows, spec, scale, temporality == _CUMULATIVE, stream, points, repacked)
        else:
            self._exponential(batch, rows, spec, scale, temporality == _CUMULATIVE, stream, points)

    def _explicit(
        self,
        batch: PointBatch,
        rows: _Rows,
        spec: RequestMetric,
        scale: float,
        cumulative: bool,
        stream: tuple[bytes, bytes, str],
        points: Any,
        repacked: bool,
    ) -> None:
        resource, name = stream[0], stream[2]
        by_bounds: dict[bytes, list[int]] = {}
        attributes: list[tuple[bytes, ...]] = []
        start: list[int] = []
        end: list[int] = []
        count: list[int] = []
        total: list[float] = []
        low: list[float] = []
        high: list[float] = []
        buckets: list[bytes] = []
        for i, p in enumerate(points):
            if p.flags & _NO_RECORDED_VALUE:
                batch.ignored["no_recorded_value"] += 1
                continue
            counts = p.bucket_counts
            if not counts and p.count:
                if not p.explicit_bounds and repacked:
                    batch.ignored["no_buckets"] += 1  # count and sum only: nothing to put in a bucket
                    continue
                raise _Unpacked
            bounds = p.explicit_bounds
            if len(counts) != len(bounds) + 8 or len(bounds) % 8:
                batch.reject(
                    "bad_buckets",
                    f"{name}: point {i} has {len(counts) // 8} bucket counts for "
                    f"{len(bounds) // 8} explicit bounds (one more is needed)",
                )
                continue
            by_bounds.setdefault(bounds, []).append(len(attributes))
            attributes.append(tuple(sorted(p.attributes)))
            start.append(p.start_time_unix_nano)
            end.append(p.time_unix_nano)
            count.append(p.count)
            total.append(p.sum if p.HasField("sum") else math.nan)
            low.append(p.min if p.HasField("min") else math.nan)
            high.append(p.max if p.HasField("max") else math.nan)
            buckets.append(counts)
        if not attributes:
            return
        labels = [self._point_labels(resource, a) for a in attributes]
        for signature, members in by_bounds.items():
            take = np.asarray(members)
            bounds = np.frombuffer(signature, dtype="<f8") * scale
            if bounds.size and not (np.isfinite(bounds).all() and (np.diff(bounds) > 0).all()):
                batch.reject("bad_buckets", f"{name}: explicit bounds must be finite and increasing", take.size)
                continue
            matrix = np.frombuffer(b"".join(buckets[i] for i in members), dtype="<u8")
            matrix = matrix.reshape(take.size, bounds.size + 1).astype(np.int64)
            group_count = np.asarray(count, dtype=np.uint64)[take].astype(np.int64)
            wrong = matrix.sum(axis=1) != group_count
            if wrong.any():
                batch.reject(
                    "bad_count", f"{name}: a point's count is not the sum of its bucket counts", int(wrong.sum())
                )
                take, matrix, group_count = take[~wrong], matrix[~wrong], group_count[~wrong]
            group_total = np.asarray(total)[take] * scale
            group_end = np.asarray(end, dtype=np.uint64)[take].astype(np.int64)
            keep = np.ones(take.size, dtype=bool)
            if cumulative:
                group_start = np.asarray(start, dtype=np.uint64)[take].astype(np.int64)
                keys = [(*stream, attributes[i]) for i in take.tolist()]
                deltas = self.deltas.explicit(keys, signature, group_start, group_end, matrix, group_count, group_total)
                keep = deltas.counted
                merged, baseline = int((~deltas.latest).sum()), int((deltas.latest & ~deltas.counted).sum())
                batch.ignored.update({"merged": merged, "cumulative_baseline": baseline})
                matrix, group_count, group_total = deltas.buckets, deltas.count, deltas.total
            keep &= group_count > 0
            if not keep.any():
                continue
            kept = take[keep]
            matrix, group_count, group_total = matrix[keep], group_count[keep], group_total[keep]
            group_labels = [labels[i] for i in kept.tolist()]
            kinds = _kinds(spec, group_labels, batch)
            chosen = kinds >= 0
            if not chosen.all():
                matrix, group_count, group_total = matrix[chosen], group_count[chosen], group_total[chosen]
                kept, kinds = kept[chosen], kinds[chosen]
                group_labels = [x for x, c in zip(group_labels, chosen.tolist(), strict=True) if c]
            point, bucket = np.nonzero(matrix)
            uppers = np.append(bounds, np.inf)
            lowers = np.concatenate([[min(0.0, bounds[0]) if bounds.size else 0.0], bounds])
            lo = np.asarray(low)[kept] * scale
            hi = np.asarray(high)[kept] * scale
            upper, value = uppers[bucket], _midpoints(lowers[bucket], uppers[bucket], lo[point], hi[point])
            end_time = group_end[keep][chosen] / 1e9
            group_buckets = _Buckets(point, upper, value, matrix[point, bucket])
            rows.add(spec, group_labels, kinds, end_time, group_count, group_total, group_buckets)

    def _exponential(
        self,
        batch: PointBatch,
        rows: _Rows,
        spec: RequestMetric,
        scale: float,
        cumulative: bool,
        stream: tuple[bytes, bytes, str],
        points: Any,
    ) -> None:
        resource, name = stream[0], stream[2]
        for i, p in enumerate(points):
            if p.flags & _NO_RECORDED_VALUE:
                batch.ignored["no_recorded_value"] += 1
                continue
            positive = np.asarray(p.positive.bucket_counts, dtype=np.uint64).astype(np.int64)
            negative = sum(p.negative.bucket_counts)
            if negative:
                batch.reject("negative_values", f"{name}: point {i} counts negative values (no duration is negative)")
                continue
            if p.zero_count + int(positive.sum()) != p.count:
                batch.reject("bad_count", f"{name}: point {i}'s count is not the sum of its bucket counts")
                continue
            attributes = tuple(sorted(p.attributes))
            counts = ExponentialCounts(
                p.scale, p.zero_count, p.positive.offset, positive, p.count, p.sum if p.HasField("sum") else math.nan
            )
            if cumulative:
                delta = self.deltas.exponential((*stream, attributes), p.start_time_unix_nano, counts)
                if delta is None:
                    batch.ignored["cumulative_baseline"] += 1
                    continue
                counts = delta
            if counts.count <= 0:
                continue
            labels = self._point_labels(resource, attributes)
            kinds = _kinds(spec, [labels], batch)
            if kinds[0] < 0:
                continue
            index = counts.offset + np.arange(counts.counts.size)
            base = 2.0**-counts.scale
            uppers = np.exp2((index + 1) * base) * scale
            lowers = np.exp2(index * base) * scale
            threshold = p.zero_threshold * scale
            lo = np.full(1, p.min * scale if p.HasField("min") else math.nan)
            hi = np.full(1, p.max * scale if p.HasField("max") else math.nan)
            nonzero = np.flatnonzero(counts.counts)
            upper = np.concatenate([[threshold], uppers[nonzero]])
            lower = np.concatenate([[0.0], lowers[nonzero]])
            weight = np.concatenate([[counts.zero], counts.counts[nonzero]])
            has = weight > 0
            upper, lower, weight = upper[has], lower[has], weight[has]
            point = np.zeros(weight.size, dtype=np.int64)
            value = _midpoints(lower, upper, lo[point], hi[point])
            end_time = np.array([p.time_unix_nano / 1e9])
            total = np.array([counts.total * scale])
            rows.add(
                spec, [labels], kinds, end_time, np.array([counts.count]), total, _Buckets(point, upper, value, weight)
            )

    # -- labels ---------------------------------------------------------------------------------------------------
    def _point_labels(self, resource: bytes, attributes: tuple[bytes, ...]) -> _Labels:
        key = (resource, attributes)
        labels = self._labels.get(key)
        if labels is None:
            labels = self._labels[key] = self._resolve(self._resource(resource), _attributes(attributes))
        return labels

    def _resource(self, resource: bytes) -> dict[str, Any]:
        attrs = self._resources.get(resource)
        if attrs is None:
            attrs = {kv.key: scalar(kv.value) for kv in Resource.FromString(resource).attributes}
            self._resources[resource] = attrs
        return attrs

    def _resolve(self, resource: dict[str, Any], attrs: dict[str, Any]) -> _Labels:
        status = first(self._status, attrs)
        token_type = TOKEN_TYPES.get(str(first(self._token_type, attrs) or ""))
        return _Labels(
            service=str(resource.get("service.name") or "unknown_service"),
            model=str(first(self._model, attrs) or first(self._model, resource) or "none"),
            operation=str(first(self._operation, attrs) or "unknown"),
            extra=tuple(label_value(k, attrs, resource) for k in self._extra),
            error=bool(attrs.get(ERROR_TYPE)) or (type(status) is int and status >= 500),
            token_kind=_TOKEN_KINDS.get(token_type) if token_type else None,
        )


def encode_response(batch: PointBatch, media: str) -> bytes:
    response = ExportMetricsServiceResponse()
    if batch.rejected:
        response.partial_success.rejected_data_points = batch.rejected
        response.partial_success.error_message = f"{batch.rejected} data point(s) rejected; first: {batch.first_error}"
    if media == PROTOBUF:
        return response.SerializeToString()
    return json_format.MessageToJson(response, indent=None).encode()


class _Unpacked(Exception):
    """A point's bucket counts were sent as repeated fields, not packed."""


def _from_json(body: bytes) -> ExportMetricsServiceRequest:
    request = ExportMetricsServiceRequest()
    json_format.ParseDict(_hex_ids_to_base64(orjson.loads(body)), request, ignore_unknown_fields=True)
    return request


def _kinds(spec: RequestMetric, labels: list[_Labels], batch: PointBatch) -> IntArray:
    """The `PointBatch.kind` of each point; token usage of another type than input or output: -1 (ignored)."""
    if spec.kind != MetricKind.TOKENS:
        return np.full(len(labels), int(spec.kind), dtype=np.int64)
    kinds = np.fromiter((-1 if x.token_kind is None else x.token_kind for x in labels), dtype=np.int64)
    other = int((kinds < 0).sum())
    if other:
        batch.ignored["token_type"] += other
    return kinds


def _midpoints(lower: FloatArray, upper: FloatArray, low: FloatArray, high: FloatArray) -> FloatArray:
    """Each bucket's midpoint, its edges first narrowed to the point's min and max where known; the
    last bucket (no upper bound) without a max stands at its lower bound."""
    lo = np.fmax(lower, low)  # fmax/fmin skip the NaN of an unknown min or max
    hi = np.fmin(upper, high)
    hi = np.where(np.isinf(hi), lo, hi)
    return (lo + np.minimum(hi, np.maximum(lo, hi))) / 2


def _attributes(attributes: tuple[bytes, ...]) -> dict[str, Any]:
    decoded = {}
    for raw in attributes:
        kv = KeyValue.FromString(raw)
        decoded[kv.key] = scalar(kv.value)
    return decoded
