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
from dataclasses import dataclass, field
from typing import Any, NamedTuple

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

from driftwarden.collector.otlp_attributes import first, label_value, lookup_chain, scalar
from driftwarden.collector.otlp_deltas import CumulativeDeltas, ExponentialPoints
from driftwarden.collector.otlp_metrics_wire import MetricsRequest, StreamKeys, varints
from driftwarden.collector.otlp_wire import JSON, PROTOBUF, hex_ids_to_base64
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


class _Labels(NamedTuple):
    """What a point's attribute set (with its resource's) maps to (a tuple: a batch's are transposed at once)."""

    service: str
    model: str
    operation: str
    extra: tuple[str, ...]
    error: bool
    token_kind: int | None  # INPUT_TOKENS / OUTPUT_TOKENS for token usage; None for another token type


@dataclass
class _Explicit:
    """The explicit-bucket points of one metric (name, unit, temporality) in a request, as read."""

    spec: RequestMetric
    scale: float  # to seconds
    cumulative: bool
    name: str
    keys: list[bytes] = field(default_factory=list)  # the stream's identity
    labels: list[_Labels] = field(default_factory=list)
    start: list[int] = field(default_factory=list)
    end: list[int] = field(default_factory=list)
    count: list[int] = field(default_factory=list)
    total: list[float] = field(default_factory=list)
    low: list[float] = field(default_factory=list)
    high: list[float] = field(default_factory=list)
    buckets: list[bytes] = field(default_factory=list)  # packed fixed64
    bounds: list[bytes] = field(default_factory=list)  # packed double


@dataclass
class _Exponential:
    """The exponential-histogram points of one metric (name, unit, temporality) in a request, as read;
    their positive bucket counts one flat list (`lengths` of each point's)."""

    spec: RequestMetric
    scale: float  # to seconds
    cumulative: bool
    name: str
    keys: list[bytes] = field(default_factory=list)
    labels: list[_Labels] = field(default_factory=list)
    start: list[int] = field(default_factory=list)
    end: list[int] = field(default_factory=list)
    count: list[int] = field(default_factory=list)
    total: list[float] = field(default_factory=list)
    low: list[float] = field(default_factory=list)
    high: list[float] = field(default_factory=list)
    exponent: list[int] = field(default_factory=list)  # the point's scale
    zero: list[int] = field(default_factory=list)
    threshold: list[float] = field(default_factory=list)
    offset: list[int] = field(default_factory=list)
    sizes: list[int] = field(default_factory=list)  # bytes of each point's packed counts
    counts: list[bytes] = field(default_factory=list)  # packed uint64 varints


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
        missing = ~(np.isfinite(total) & (total >= 0))  # not sent, or no sum of durations or tokens
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
        batch.kind = np.asarray(self.kind, dtype=np.int64)
        batch.rank = np.asarray(self.rank, dtype=np.int64)
        if not self.labels:
            return
        service, model, operation, extra, error, _ = zip(*self.labels, strict=True)
        batch.service, batch.model, batch.operation, batch.extra = (
            list(service),
            list(model),
            list(operation),
            list(extra),
        )
        batch.error = np.array(error, dtype=bool)
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
        self._labels: dict[bytes, tuple[bytes, _Labels]] = {}  # stream as sent -> its identity, labels
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
            data = body if media == PROTOBUF else _from_json(body).SerializeToString()
            request = MetricsRequest.FromString(data)
        except (DecodeError, orjson.JSONDecodeError, json_format.ParseError, ValueError, TypeError) as exc:
            raise InputError(f"not an OTLP ExportMetricsServiceRequest ({media}): {exc}") from exc
        except RecursionError:
            raise InputError(f"not an OTLP ExportMetricsServiceRequest ({media}): nested too deeply") from None
        try:  # the narrow schema keeps attributes and resources as bytes: they are parsed (and may fail) here
            try:
                return self._points(request, _keys(data)), media
            except _Unpacked:  # bucket counts sent unpacked: the real schema reads them, and packs them again
                self.deltas.discard()
                data = ExportMetricsServiceRequest.FromString(data).SerializeToString()
                return self._points(MetricsRequest.FromString(data), _keys(data), repacked=True), media
        except DecodeError as exc:
            self.deltas.discard()
            raise InputError(f"not an OTLP ExportMetricsServiceRequest ({media}): {exc}") from exc

    def commit(self) -> None:
        """The last decoded request was admitted: its cumulative points become the streams' state."""
        self.deltas.commit()

    def discard(self) -> None:
        self.deltas.discard()

    # -- walking the request --------------------------------------------------------------------------------------
    def _points(self, request: Any, keys: Any, *, repacked: bool = False) -> PointBatch:
        """Points gathered per metric across resources and scopes, then converted a metric at a time."""
        batch = PointBatch()
        rows = _Rows.empty()
        if len(self._labels) > _MAX_CACHED:
            self._labels.clear()
        if len(self._resources) > _MAX_CACHED:
            self._resources.clear()
        groups: dict[tuple[str, str, int, bool], _Explicit | _Exponential] = {}
        for resource_metrics, resource_keys in zip(request.resource_metrics, keys.resource_metrics, strict=True):
            resource = resource_metrics.resource.SerializeToString()
            for scope_metrics, scope_keys in zip(
                resource_metrics.scope_metrics, resource_keys.scope_metrics, strict=True
            ):
                scope = scope_metrics.scope
                for metric, metric_keys in zip(scope_metrics.metrics, scope_keys.metrics, strict=True):
                    self._metric(batch, rows, groups, resource, scope, metric, metric_keys, repacked)
        for group in groups.values():
            if isinstance(group, _Explicit):
                self._explicit(batch, rows, group)
            else:
                self._exponential(batch, rows, group)
        rows.into(batch)
        return batch

    def _metric(
        self,
        batch: PointBatch,
        rows: _Rows,
        groups: dict[tuple[str, str, int, bool], _Explicit | _Exponential],
        resource: bytes,
        scope: bytes,
        metric: Any,
        metric_keys: Any,
        repacked: bool,
    ) -> None:
        name = metric.name
        spec = REQUEST_METRICS.get(name)
        explicit = metric.HasField("histogram")
        if explicit:
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
            batch.reject("temporality", f"{name}: aggregation_temporality must be DELTA or CUMULATIVE", len(points))
            return
        # the stream's identity: resource, scope, metric, then (per point) its attributes, sorted
        prefix = b"".join(len(part).to_bytes(4, "little") + part for part in (resource, scope, name.encode()))
        group = groups.get((name, unit, temporality, explicit))
        if group is None:
            kind = _Explicit if explicit else _Exponential
            group = groups[(name, unit, temporality, explicit)] = kind(spec, scale, temporality == _CUMULATIVE, name)
        if isinstance(group, _Explicit):
            sent = [p.SerializeToString() for p in metric_keys.histogram.data_points]  # each point's attributes
            self._gather(batch, group, resource, prefix, points, sent, repacked)
        else:
            sent = [p.SerializeToString() for p in metric_keys.exponential_histogram.data_points]
            self._gather_exponential(batch, group, resource, prefix, points, sent, repacked)

    def _gather(
        self,
        batch: PointBatch,
        group: _Explicit,
        resource: bytes,
        prefix: bytes,
        points: Any,
        sent: list[bytes],
        repacked: bool,
    ) -> None:
        """Each usable point's fields, as they are: the per-point work (what bounds the throughput) is
        field reads and one dict look-up. `sent`: each point's attributes, serialized as sent."""
        labels, keys, found, buckets, edges = self._labels, group.keys, group.labels, group.buckets, group.bounds
        usable = []
        for p, attributes in zip(points, sent, strict=True):
            counts, bounds = p.bucket_counts, p.explicit_bounds
            if p.flags & _NO_RECORDED_VALUE or len(counts) != len(bounds) + 8 or len(bounds) % 8:
                _unusable(batch, group.name, p, repacked)
                continue
            as_sent = prefix + attributes  # the attributes' order is an exporter's: the stream's key is sorted
            known = labels.get(as_sent) or self._stream(resource, as_sent, prefix, p.attributes)
            keys.append(known[0])
            found.append(known[1])
            buckets.append(counts)
            edges.append(bounds)
            usable.append(p)
        if group.cumulative:
            group.start += [p.start_time_unix_nano for p in usable]
        group.end += [p.time_unix_nano for p in usable]
        group.count += [p.count for p in usable]
        group.total += [p.sum if p.HasField("sum") else math.nan for p in usable]
        group.low += [p.min for p in usable]  # 0 when not sent: no narrower than a duration's lower edge
        group.high += [p.max for p in usable]  # 0 when not sent: read as unknown (`_explicit`)

    def _explicit(self, batch: PointBatch, rows: _Rows, group: _Explicit) -> None:
        """A metric's explicit-bucket points, vectorized per bounds signature."""
        if not group.keys:
            return
        spec, scale, name = group.spec, group.scale, group.name
        by_bounds: dict[bytes, list[int]] = {}
        if group.bounds.count(group.bounds[0]) == len(group.bounds):  # the usual case: one set of bounds
            by_bounds[group.bounds[0]] = list(range(len(group.bounds)))
        else:
            for i, signature in enumerate(group.bounds):
                by_bounds.setdefault(signature, []).append(i)
        count_all = np.asarray(group.count, dtype=np.uint64).astype(np.int64)
        end_all = np.asarray(group.end, dtype=np.uint64).astype(np.int64)
        total_all, low_all, high_all = (np.asarray(x) * scale for x in (group.total, group.low, group.high))
        for signature, members in by_bounds.items():
            take = np.asarray(members)
            bounds = np.frombuffer(signature, dtype="<f8") * scale
            if bounds.size and not (np.isfinite(bounds).all() and (np.diff(bounds) > 0).all()):
                batch.reject("bad_buckets", f"{name}: explicit bounds must be finite and increasing", take.size)
                continue
            buckets = group.buckets
            matrix = np.frombuffer(b"".join(_pick(buckets, members)), dtype="<u8")
            matrix = matrix.reshape(take.size, bounds.size + 1).astype(np.int64)
            count = count_all[take]
            wrong = matrix.sum(axis=1) != count
            if wrong.any():
                batch.reject(
                    "bad_count", f"{name}: a point's count is not the sum of its bucket counts", int(wrong.sum())
                )
                take, matrix, count = take[~wrong], matrix[~wrong], count[~wrong]
                if not take.size:
                    continue
            below = (bounds < 0).sum()  # buckets that end below 0: no duration (nor token count) is there
            if below and (negative := matrix[:, :below].any(axis=1)).any():
                batch.reject("negative_values", f"{name}: a point counts values below 0", int(negative.sum()))
                take, matrix, count = take[~negative], matrix[~negative], count[~negative]
                if not take.size:
                    continue
            total = total_all[take]
            if group.cumulative:
                start = np.asarray(group.start, dtype=np.uint64)[take].astype(np.int64)
                keys = _pick(group.keys, take.tolist())
                deltas = self.deltas.explicit(keys, signature, start, end_all[take], matrix, count, total)
                merged, baseline = int((~deltas.latest).sum()), int((deltas.latest & ~deltas.counted).sum())
                batch.ignored.update({"merged": merged, "cumulative_baseline": baseline})
                keep = deltas.counted & (deltas.count > 0)
                batch.ignored["empty"] += int((deltas.counted & (deltas.count == 0)).sum())
                matrix, count, total = deltas.buckets[keep], deltas.count[keep], deltas.total[keep]
            else:
                keep = count > 0
                batch.ignored["empty"] += int((~keep).sum())
                matrix, count, total = matrix[keep], count[keep], total[keep]
            take = take[keep]
            if not take.size:
                continue
            labels = _pick(group.labels, take.tolist())
            kinds = _kinds(spec, labels, batch)
            chosen = kinds >= 0
            if not chosen.all():
                matrix, count, total, take, kinds = (
                    matrix[chosen],
                    count[chosen],
                    total[chosen],
                    take[chosen],
                    kinds[chosen],
                )
                labels = [x for x, c in zip(labels, chosen.tolist(), strict=True) if c]
            point, bucket = np.nonzero(matrix)
            uppers = np.append(bounds, np.inf)
            lowers = np.maximum(np.concatenate([[0.0], bounds]), 0.0)  # values are >= 0 (checked above)
            uppers = np.maximum(uppers, 0.0)
            lo, hi = low_all[take], high_all[take]
            hi = np.where(hi > 0, hi, np.nan)  # a max of 0 was not sent (or every value was 0: the same midpoint)
            upper, value = uppers[bucket], _midpoints(lowers[bucket], uppers[bucket], lo[point], hi[point])
            found = _Buckets(point, upper, value, matrix[point, bucket])
            rows.add(spec, labels, kinds, end_all[take] / 1e9, count, total, found)

    def _gather_exponential(
        self,
        batch: PointBatch,
        group: _Exponential,
        resource: bytes,
        prefix: bytes,
        points: Any,
        sent: list[bytes],
        repacked: bool,
    ) -> None:
        """Each usable exponential point's fields; its positive bucket counts appended to one flat list."""
        labels, packed, sizes = self._labels, group.counts, group.sizes
        usable = []
        for p, attributes in zip(points, sent, strict=True):
            if p.flags & _NO_RECORDED_VALUE:
                batch.ignored["no_recorded_value"] += 1
                continue
            if p.negative.bucket_counts.strip(b"\x00"):  # a varint other than 0
                batch.reject("negative_values", f"{group.name}: a point counts negative values (no duration is)")
                continue
            positive = p.positive
            counts = positive.bucket_counts
            if not counts and p.count > p.zero_count and not repacked:
                raise _Unpacked  # or a count without buckets (then refused below): the real schema tells
            as_sent = prefix + attributes
            known = labels.get(as_sent) or self._stream(resource, as_sent, prefix, p.attributes)
            group.keys.append(known[0])
            group.labels.append(known[1])
            group.offset.append(positive.offset)
            sizes.append(len(counts))
            packed.append(counts)
            usable.append(p)
        if group.cumulative:
            group.start += [p.start_time_unix_nano for p in usable]
        group.end += [p.time_unix_nano for p in usable]
        group.count += [p.count for p in usable]
        group.total += [p.sum if p.HasField("sum") else math.nan for p in usable]
        group.low += [p.min for p in usable]  # 0 when not sent: no narrower than a duration's lower edge
        group.high += [p.max for p in usable]  # 0 when not sent: read as unknown
        group.exponent += [p.scale for p in usable]
        group.zero += [p.zero_count for p in usable]
        group.threshold += [p.zero_threshold for p in usable]

    def _exponential(self, batch: PointBatch, rows: _Rows, group: _Exponential) -> None:
        """A metric's exponential points: bucket index i at scale s spans (2^(i/2^s), 2^((i+1)/2^s)]."""
        if not group.keys:
            return
        spec, scale, name = group.spec, group.scale, group.name
        n = len(group.keys)
        try:
            counts, lengths = varints(b"".join(group.counts), group.sizes)
        except ValueError as exc:
            raise InputError(f"{name}: exponential bucket counts are not packed varints ({exc})") from None
        point = np.repeat(np.arange(n), lengths)
        count = np.asarray(group.count, dtype=np.uint64).astype(np.int64)
        zero = np.asarray(group.zero, dtype=np.uint64).astype(np.int64)
        offset = np.asarray(group.offset, dtype=np.int64)
        exponent = np.asarray(group.exponent, dtype=np.int64)
        total = np.asarray(group.total) * scale
        wrong = zero + np.bincount(point, weights=counts, minlength=n).astype(np.int64) != count
        if wrong.any():
            batch.reject("bad_count", f"{name}: a point's count is not the sum of its bucket counts", int(wrong.sum()))
        keep = ~wrong
        if group.cumulative:  # the points with a right count, converted, then put back in their places
            use = np.flatnonzero(keep)
            sent = ExponentialPoints(
                exponent[use],
                zero[use],
                offset[use],
                counts[np.repeat(keep, lengths)],
                lengths[use],
                count[use],
                total[use],
            )
            end = np.asarray(group.end, dtype=np.uint64).astype(np.int64)[use]
            start = np.asarray(group.start, dtype=np.uint64).astype(np.int64)[use]
            latest, counted, deltas = self.deltas.exponential_many(_pick(group.keys, use.tolist()), start, end, sent)
            batch.ignored["merged"] += int((~latest).sum())
            batch.ignored["cumulative_baseline"] += int((latest & ~counted).sum())
            keep[:] = False
            keep[use[counted]] = True
            exponent[use], zero[use], offset[use] = deltas.scale, deltas.zero, deltas.offset
            count[use], total[use] = deltas.count, deltas.total
            lengths = np.zeros(n, dtype=np.int64)
            lengths[use] = deltas.lengths
            counts = deltas.counts  # in the order of `use`, the points left out having none
            point = np.repeat(np.arange(n), lengths)
        empty = keep & (count <= 0)
        batch.ignored["empty"] += int(empty.sum())
        keep &= ~empty
        labels_all = group.labels
        kinds_all = np.full(n, -1, dtype=np.int64)
        kept = np.flatnonzero(keep)
        kinds_all[kept] = _kinds(spec, [labels_all[i] for i in kept.tolist()], batch)
        keep &= kinds_all >= 0
        if not keep.any():
            return
        position = np.arange(point.size) - np.repeat(np.cumsum(lengths) - lengths, lengths)
        row = np.flatnonzero((counts > 0) & keep[point])  # most of an SDK point's 160 buckets are empty
        point, index, weight = point[row], offset[point[row]] + position[row], counts[row]
        width = np.exp2(-exponent[point].astype(np.float64))
        with np.errstate(over="ignore"):
            upper, lower = np.exp2((index + 1) * width) * scale, np.exp2(index * width) * scale
        huge = np.bincount(point, weights=~np.isfinite(upper), minlength=n) > 0  # no float holds the bucket
        threshold = np.asarray(group.threshold) * scale
        huge |= ~np.isfinite(threshold) | (threshold < 0)
        if (huge & keep).any():
            batch.reject("bad_buckets", f"{name}: exponential buckets beyond any duration", int((huge & keep).sum()))
            keep &= ~huge
            inside = keep[point]
            point, upper, lower, weight = point[inside], upper[inside], lower[inside], weight[inside]
            if not keep.any():
                return
        zeros = np.flatnonzero((zero > 0) & keep)  # the zero bucket: [0, its threshold]
        point = np.concatenate([point, zeros])
        upper = np.concatenate([upper, threshold[zeros]])
        lower = np.concatenate([lower, np.zeros(zeros.size)])
        weight = np.concatenate([weight, zero[zeros]])
        lo, hi = np.asarray(group.low) * scale, np.asarray(group.high) * scale
        hi = np.where(hi > 0, hi, np.nan)  # a max of 0 was not sent (or every value was 0: the same midpoint)
        value = _midpoints(lower, upper, lo[point], hi[point])
        renumber = np.cumsum(keep) - 1
        labels = [labels_all[i] for i in np.flatnonzero(keep).tolist()]
        end_time = np.asarray(group.end, dtype=np.uint64)[keep].astype(np.int64) / 1e9
        found = _Buckets(renumber[point], upper, value, weight)
        rows.add(spec, labels, kinds_all[keep], end_time, count[keep], total[keep], found)

    # -- labels ---------------------------------------------------------------------------------------------------
    def _stream(self, resource: bytes, as_sent: bytes, prefix: bytes, attributes: Any) -> tuple[bytes, _Labels]:
        """A stream's identity (its attributes sorted: the set, not the order it was sent in) and labels,
        cached under `as_sent` (the prefix and the attributes in some form of how they were sent)."""
        known = self._labels.get(as_sent)
        if known is None:
            key = prefix + b"".join(sorted(attributes))
            known = self._labels[as_sent] = (key, self._resolve(self._resource(resource), _attributes(attributes)))
        return known

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


def _pick(items: list[Any], index: list[int]) -> list[Any]:
    """items[i] for i in index; the list itself when the index is all of it, in order."""
    if len(index) == len(items) and (not index or index[-1] == len(items) - 1):
        return items
    return [items[i] for i in index]


def _unusable(batch: PointBatch, name: str, p: Any, repacked: bool) -> None:
    """Count an explicit-bucket point that cannot be counted; raise `_Unpacked` for one whose bucket
    counts were sent as repeated fields (the schema here reads only the packed form)."""
    counts, bounds = p.bucket_counts, p.explicit_bounds
    if p.flags & _NO_RECORDED_VALUE:
        batch.ignored["no_recorded_value"] += 1
    elif not counts and p.count and not repacked:
        raise _Unpacked
    elif not counts and not bounds and p.count:
        batch.ignored["no_buckets"] += 1  # count and sum only: nothing to put in a bucket
    elif counts or bounds:
        batch.reject(
            "bad_buckets",
            f"{name}: a point has {len(counts) // 8} bucket counts for {len(bounds) // 8} explicit bounds "
            "(one more is needed)",
        )
    else:  # no buckets, no count: nothing observed
        batch.ignored["empty"] += 1


class _Unpacked(Exception):
    """A point's bucket counts were sent as repeated fields, not packed."""


def _keys(data: bytes) -> Any:
    """The request read for its histogram points' attributes only (`otlp_metrics_wire.StreamKeys`)."""
    keys = StreamKeys.FromString(data)
    keys.DiscardUnknownFields()
    return keys


def _from_json(body: bytes) -> ExportMetricsServiceRequest:
    request = ExportMetricsServiceRequest()
    json_format.ParseDict(hex_ids_to_base64(orjson.loads(body)), request, ignore_unknown_fields=True)
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
    lo = np.fmax(lower, np.where(np.isfinite(low), low, np.nan))  # fmax/fmin skip an unknown min or max (NaN)
    hi = np.fmin(upper, np.where(np.isfinite(high), high, np.nan))
    hi = np.where(np.isinf(hi), lo, hi)
    return (lo + np.minimum(hi, np.maximum(lo, hi))) / 2


def _attributes(attributes: tuple[bytes, ...]) -> dict[str, Any]:
    decoded = {}
    for raw in attributes:
        kv = KeyValue.FromString(raw)
        decoded[kv.key] = scalar(kv.value)
    return decoded
