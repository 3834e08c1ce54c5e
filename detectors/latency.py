"""Request latency and errors from spans and metrics: histograms with exemplars, and recent quantiles.

Label values come from the traffic (service, model, operation names), so each label keeps at
most `max_label_values` distinct values (later ones are folded into "other" and counted), and
each family at most `max_series` label sets (`label_sets.LabelSets`: later ones are folded into
the all-"other" set and counted). Histogram updates are vectorized per export request
(`searchsorted` + `bincount`).

OTLP histogram points (`PointBatch`) feed the same structures: each incoming bucket's count goes to
the smallest of our buckets whose bound is at least the incoming bucket's upper bound (exact where
our bounds are among the exporter's, an overestimate of at most one of our buckets otherwise), and
the recent rows behind the quantiles are the buckets' midpoints, weighted by their counts: quantiles
from metrics are exact only to the width of the exporter's bucket they fall in.

Spans are applied on the event loop; /metrics and /v1/slos read from a worker thread. Every
mutation and every read holds the structure's lock, and a read holds it only to copy (a
snapshot of the arrays, one ring's recent rows), so the loop never waits for a render.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import overload

import numpy as np

from driftwarden.core.arrays import BoolArray, FloatArray, IntArray, ObjectArray
from driftwarden.core.points import INPUT_TOKENS, OUTPUT_TOKENS, PointBatch
from driftwarden.core.semconv import MetricKind
from driftwarden.core.spans import SpanBatch
from driftwarden.detectors.label_sets import FOLDED, LabelSets, SeriesCounter

__all__ = [
    "TPOT_BUCKETS",
    "TTFT_BUCKETS",
    "HistogramSnapshot",
    "LabelFolder",
    "LatencyHistogram",
    "LatencyTable",
    "RequestStats",
]

TTFT_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
# the bounds the GenAI conventions advise for gen_ai.server.time_per_output_token
TPOT_BUCKETS = (0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0, 2.5)
QUANTILES = (0.5, 0.95, 0.99)
DEFAULT_MAX_SERIES = 10_000
YIELD_EVERY = 64  # series whose quantiles are computed between two hand-overs of the GIL (~2 ms)


class LabelFolder:
    """At most `max_values` distinct values per label name; the rest become "other"."""

    def __init__(self, max_values: int) -> None:
        self.max_values = max_values
        self._seen: dict[str, set[str]] = {}
        self.folded: Counter[str] = Counter()

    def fold(self, label: str, value: str) -> str:
        seen = self._seen.setdefault(label, set())
        if value in seen:
            return value
        if len(seen) < self.max_values:
            seen.add(value)
            return value
        self.folded[label] += 1
        return FOLDED


@dataclass(frozen=True)
class HistogramSnapshot:
    """A histogram family at one instant, copied: safe to read while the histogram changes."""

    label_names: tuple[str, ...]
    bounds: FloatArray
    keys: list[tuple[str, ...]]  # per series
    cumulative: IntArray  # (series, bounds + 1): per bound, then +Inf
    sums: FloatArray  # per series
    exemplars: tuple[ObjectArray, FloatArray, FloatArray] | None  # trace id, value, unix time (NaN: none)


class LatencyTable(Sequence[dict[str, str | float]]):
    """Recent latency per service/model/operation, column-wise; a row (a dict) is built when read.

    Thirty thousand series are then a few lists, not thirty thousand dicts alive at once, which
    would set off full collections of the garbage collector: each holds the GIL, and so the
    event loop, for tens of milliseconds.
    """

    def __init__(
        self, keys: list[tuple[str, ...]], counts: list[int], error_rates: list[float], quantiles: FloatArray
    ) -> None:
        self._keys = keys  # service, model, operation
        self._counts = counts
        self._error_rates = error_rates
        self._quantiles = quantiles  # (rows, len(QUANTILES))

    def __len__(self) -> int:
        return len(self._keys)

    @overload
    def __getitem__(self, index: int) -> dict[str, str | float]: ...

    @overload
    def __getitem__(self, index: slice) -> list[dict[str, str | float]]: ...

    def __getitem__(self, index: int | slice) -> dict[str, str | float] | list[dict[str, str | float]]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        service, model, operation = self._keys[index][:3]
        row: dict[str, str | float] = {
            "service": service,
            "model": model,
            "operation": operation,
            "count": self._counts[index],
            "error_rate": self._error_rates[index],
        }
        for p, value in zip(QUANTILES, self._quantiles[index].tolist(), strict=True):
            row[f"p{round(100 * p)}"] = value
        return row


class LatencyHistogram:
    """Prometheus-style cumulative histograms for many label sets, updated a batch at a time."""

    def __init__(
        self, bounds: Sequence[float], label_names: Sequence[str], *, max_series: int = DEFAULT_MAX_SERIES
    ) -> None:
        self.bounds: FloatArray = np.asarray(bounds, dtype=np.float64)
        self.label_names = tuple(label_names)
        self.label_sets = LabelSets(len(self.label_names), max_series)
        width = self.bounds.size + 1
        self._counts: IntArray = np.zeros((0, width), dtype=np.int64)
        self._sums: FloatArray = np.zeros(0)
        self._exemplar_trace: ObjectArray = np.empty((0, width), dtype=object)  # latest per (series, bucket)
        self._exemplar_value: FloatArray = np.zeros((0, width))
        self._exemplar_time: FloatArray = np.zeros((0, width))
        self._lock = threading.Lock()

    @property
    def folded(self) -> int:
        """Observations folded into the overflow label set."""
        return self.label_sets.folded

    def observe(
        self,
        keys: Sequence[tuple[str, ...]],
        values: FloatArray,
        trace_ids: Sequence[str] = (),
        now: float | None = None,
    ) -> list[tuple[str, ...]]:
        """Count one value per label set; returns the label sets they were counted under (folded or not)."""
        if not len(keys):
            return []
        with self._lock:
            sets = self.label_sets
            series = np.asarray(sets.indices(keys), dtype=np.intp)
            self._grow(len(sets))
            bucket = np.searchsorted(self.bounds, values, side="left")  # value <= bound[bucket]
            width = self.bounds.size + 1
            flat = series * width + bucket
            self._counts += np.bincount(flat, minlength=self._counts.size).reshape(self._counts.shape)
            self._sums += np.bincount(series, weights=values, minlength=self._sums.size)
            if len(trace_ids):
                cells, first_from_end = np.unique(flat[::-1], return_index=True)
                last = flat.size - 1 - first_from_end
                self._exemplar_trace.flat[cells] = np.asarray(trace_ids, dtype=object)[last]
                self._exemplar_value.flat[cells] = values[last]
                self._exemplar_time.flat[cells] = time.time() if now is None else now
            return [sets.keys[i] for i in series.tolist()]

    def observe_buckets(
        self,
        keys: Sequence[tuple[str, ...]],
        point: IntArray,
        upper: FloatArray,
        weight: IntArray,
        sums: FloatArray,
    ) -> list[tuple[str, ...]]:
        """Count histogram points: one label set and sum per point, and per bucket row (`point` its
        point) `weight` observations in the smallest of our buckets whose bound is >= `upper`.
        Returns the label sets the points were counted under."""
        if not len(keys):
            return []
        with self._lock:
            sets = self.label_sets
            series = np.asarray(sets.indices(keys), dtype=np.intp)
            self._grow(len(sets))
            bucket = np.searchsorted(self.bounds, upper, side="left")
            flat = series[point] * (self.bounds.size + 1) + bucket
            counts = np.bincount(flat, weights=weight, minlength=self._counts.size)
            self._counts += counts.astype(np.int64).reshape(self._counts.shape)
            self._sums += np.bincount(series, weights=sums, minlength=self._sums.size)
            return [sets.keys[i] for i in series.tolist()]

    def snapshot(self, *, exemplars: bool = False) -> HistogramSnapshot:
        """A copy of every series (taken under the lock: a few array copies, no per-series work)."""
        with self._lock:
            n = len(self.label_sets)
            return HistogramSnapshot(
                label_names=self.label_names,
                bounds=self.bounds,
                keys=self.label_sets.keys[:n],
                cumulative=np.cumsum(self._counts[:n], axis=1),
                sums=self._sums[:n].copy(),
                exemplars=(
                    (self._exemplar_trace[:n].copy(), self._exemplar_value[:n].copy(), self._exemplar_time[:n].copy())
                    if exemplars
                    else None
                ),
            )

    def _grow(self, series: int) -> None:
        have = self._counts.shape[0]
        if series <= have:
            return
        more = max(8, 2 * have, series) - have
        width = self.bounds.size + 1
        self._counts = np.vstack([self._counts, np.zeros((more, width), dtype=np.int64)])
        self._sums = np.concatenate([self._sums, np.zeros(more)])
        self._exemplar_trace = np.vstack([self._exemplar_trace, np.empty((more, width), dtype=object)])
        self._exemplar_value = np.vstack([self._exemplar_value, np.zeros((more, width))])
        self._exemplar_time = np.vstack([self._exemplar_time, np.full((more, width), np.nan)])


class RequestStats:
    """Everything the daemon keeps about requests seen in traces; `update` on the loop, reads from any thread."""

    def __init__(
        self,
        bounds: Sequence[float],
        *,
        extra_labels: Sequence[str] = (),
        max_label_values: int = 50,
        max_series: int = DEFAULT_MAX_SERIES,
        max_quantile_samples: int = 20_000,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.extra_labels = tuple(extra_labels)
        self.folder = LabelFolder(max_label_values)
        self.durations = LatencyHistogram(
            bounds, ("service", "model", "operation", "status", *self.extra_labels), max_series=max_series
        )
        self.ttft = LatencyHistogram(TTFT_BUCKETS, ("service", "model"), max_series=max_series)
        self.tpot = LatencyHistogram(TPOT_BUCKETS, ("service", "model"), max_series=max_series)
        self.input_tokens = SeriesCounter(2, max_series)
        self.output_tokens = SeriesCounter(2, max_series)
        self.max_quantile_samples = max_quantile_samples
        # per service/model/operation of the durations' label sets (so never more of them than of those)
        self._recent: dict[tuple[str, ...], _Ring] = {}
        self._folded: dict[tuple[str, str, str], tuple[str, str, str]] = {}
        self._clock = clock
        self._lock = threading.Lock()  # the token counters, the folder's counts and the rings

    def update(self, batch: SpanBatch, latency: BoolArray | None = None) -> None:
        """Count a span batch; `latency` (None: all) says which rows' durations count."""
        if not len(batch):
            return
        with self._lock:
            self._update(batch, latency)

    def update_points(self, batch: PointBatch) -> None:
        """Count histogram points (deltas) into the same series as spans."""
        if not len(batch):
            return
        with self._lock:
            self._update_points(batch)

    def usage(self) -> tuple[list[tuple[tuple[str, ...], float]], list[tuple[tuple[str, ...], float]]]:
        """(input, output) token counts per (service, model), copied."""
        with self._lock:
            return self.input_tokens.items(), self.output_tokens.items()

    def folded_label_values(self) -> dict[str, int]:
        """Values folded into "other" by the per-label cap, per label name (a copy)."""
        with self._lock:
            return dict(self.folder.folded)

    def overflow(self) -> dict[str, int]:
        """Observations folded into each family's overflow label set, by family: durations, ttft, tokens."""
        with self._lock:
            return {
                "durations": self.durations.folded,
                "ttft": self.ttft.folded,
                "tpot": self.tpot.folded,
                "input_tokens": self.input_tokens.folded,
                "output_tokens": self.output_tokens.folded,
            }

    def quantiles(self, window: float, now: float | None = None) -> LatencyTable:
        """p50/p95/p99, count and error rate per service/model/operation over the last `window` seconds.

        The lock is held per series, to copy its recent rows: the loop applies spans meanwhile."""
        now = self._clock() if now is None else now
        with self._lock:
            keys = sorted(self._recent)
        kept: list[tuple[str, ...]] = []
        counts: list[int] = []
        error_rates: list[float] = []
        quantiles: list[FloatArray] = []
        for i, key in enumerate(keys):
            if i % YIELD_EVERY == YIELD_EVERY - 1:
                time.sleep(0)  # hands the GIL to the event loop if it waits, instead of after the switch interval
            with self._lock:
                recent = self._recent[key].since(now - window)
            if not recent.shape[0]:
                continue
            weight = recent[:, 3]
            total = weight.sum()
            kept.append(key)
            counts.append(int(total))
            error_rates.append(float((recent[:, 2] * weight).sum() / total))
            if (weight == 1).all():  # spans: exact (linear interpolation between observations)
                quantiles.append(np.quantile(recent[:, 1], QUANTILES))
            else:  # weighted bucket midpoints: the smallest value with at least q of the weight below it
                quantiles.append(np.quantile(recent[:, 1], QUANTILES, weights=weight, method="inverted_cdf"))
        return LatencyTable(kept, counts, error_rates, np.array(quantiles).reshape(len(kept), len(QUANTILES)))

    def _targets(self, service: list[str], model: list[str], operation: list[str]) -> list[tuple[str, str, str]]:
        """(service, model, operation) per row, each value folded by the per-label cap."""
        fold = self.folder.fold
        cache = self._folded
        if len(cache) > 100_000:  # raw values are unbounded; the cache must not be
            cache.clear()
        raws = list(zip(service, model, operation, strict=True))
        target = list(map(cache.get, raws))  # one C-level pass in the usual case: every value seen before
        if None in target:
            for i, raw in enumerate(raws):
                if target[i] is None:
                    folded = (fold("service", raw[0]), fold("model", raw[1]), fold("operation", raw[2]))
                    target[i] = cache[raw] = folded
        return target  # type: ignore[return-value]

    def _keys(
        self, target: list[tuple[str, str, str]], error: BoolArray, extra: list[tuple[str, ...]]
    ) -> list[tuple[str, ...]]:
        """The durations' label sets: target, status and the extra labels."""
        status = ["error" if e else "ok" for e in error.tolist()]
        names = self.extra_labels
        if names:
            fold = self.folder.fold
            return [
                (*t, st, *(fold(n, v) for n, v in zip(names, x, strict=True)))
                for t, st, x in zip(target, status, extra, strict=True)
            ]
        return [(*t, st) for t, st in zip(target, status, strict=True)]

    def _update(self, batch: SpanBatch, latency: BoolArray | None) -> None:
        target = self._targets(batch.service, batch.model, batch.operation)
        now = self._clock()
        if latency is None:
            keys = self._keys(target, batch.error, batch.extra)
            counted = self.durations.observe(keys, batch.duration, batch.trace_id, now=now)
            self._remember([k[:3] for k in counted], batch.duration, batch.end_time, batch.error)
        elif latency.any():
            rows = np.flatnonzero(latency).tolist()
            keys = self._keys([target[i] for i in rows], batch.error[rows], [batch.extra[i] for i in rows])
            duration = batch.duration[rows]
            counted = self.durations.observe(keys, duration, [batch.trace_id[i] for i in rows], now=now)
            self._remember([k[:3] for k in counted], duration, batch.end_time[rows], batch.error[rows])
        self._llm(target, batch)

    def _update_points(self, batch: PointBatch) -> None:
        target = self._targets(batch.service, batch.model, batch.operation)
        for kind in (int(MetricKind.DURATION), int(MetricKind.TTFT), int(MetricKind.TPOT)):
            mask = batch.kind == kind
            if not mask.any():
                continue
            part = batch if mask.all() else batch.subset(mask)  # the usual export: one kind only
            mine = target if part is batch else [target[i] for i in np.flatnonzero(mask).tolist()]
            if kind == MetricKind.DURATION:
                keys = self._keys(mine, part.error, part.extra)
                counted = self.durations.observe_buckets(keys, part.point, part.upper, part.weight, part.total)
                self._remember(
                    [k[:3] for k in counted],
                    part.value,
                    part.end_time[part.point],
                    part.error[part.point],
                    part.weight,
                    part.point,
                )
            else:
                histogram = self.ttft if kind == MetricKind.TTFT else self.tpot
                histogram.observe_buckets([t[:2] for t in mine], part.point, part.upper, part.weight, part.total)
        for kind, counter in ((INPUT_TOKENS, self.input_tokens), (OUTPUT_TOKENS, self.output_tokens)):
            for i in np.flatnonzero(batch.kind == kind).tolist():
                counter.add(target[i][:2], float(batch.total[i]))

    def _remember(
        self,
        target: list[tuple[str, ...]],
        duration: FloatArray,
        end_time: FloatArray,
        error: BoolArray,
        weight: IntArray | None = None,
        point: IntArray | None = None,
    ) -> None:
        """Append rows (end time, duration, error, weight) to their series' rings; `target` per row, or
        per point with `point` giving each row's."""
        rows = np.empty((duration.size, 4))
        rows[:, 0], rows[:, 1], rows[:, 2], rows[:, 3] = end_time, duration, error, 1 if weight is None else weight
        codes = {key: code for code, key in enumerate(dict.fromkeys(target))}
        series = np.fromiter(map(codes.__getitem__, target), dtype=np.intp, count=len(target))
        if point is not None:
            series = series[point]
        order = np.argsort(series, kind="stable")
        rows = rows[order]  # each series' rows together, in arrival order: a slice each
        bounds = np.searchsorted(series[order], np.arange(len(codes) + 1)).tolist()
        recent = self._recent
        for key, code in codes.items():
            ring = recent.get(key)
            if ring is None:
                ring = recent[key] = _Ring(self.max_quantile_samples, 4)  # end time, duration, error, weight
            ring.append(rows[bounds[code] : bounds[code + 1]])

    def _llm(self, target: list[tuple[str, str, str]], batch: SpanBatch) -> None:
        for counter, tokens in ((self.input_tokens, batch.input_tokens), (self.output_tokens, batch.output_tokens)):
            for i in np.flatnonzero(~np.isnan(tokens)).tolist():
                counter.add(target[i][:2], int(tokens[i]))
        for histogram, values in ((self.ttft, batch.ttft), (self.tpot, batch.tpot)):
            present = np.flatnonzero(~np.isnan(values))
            if present.size:
                histogram.observe(
                    [target[i][:2] for i in present.tolist()],
                    values[present],
                    [batch.trace_id[i] for i in present.tolist()],
                    now=self._clock(),
                )


class _Ring:
    """The last `capacity` rows of a fixed number of float columns; storage grows with the rows
    appended (doubling), so a series seen a few times costs a few rows, not `capacity`."""

    def __init__(self, capacity: int, columns: int) -> None:
        self.capacity = capacity
        self._rows: FloatArray = np.empty((min(capacity, 16), columns))
        self._next = 0
        self._size = 0

    def append(self, rows: FloatArray) -> None:
        n = rows.shape[0]
        if n > self.capacity:
            rows, n = rows[-self.capacity :], self.capacity
        room = self._rows.shape[0]
        if room < self.capacity and self._size + n > room:
            self._reserve(min(self.capacity, max(2 * room, self._size + n)))
            room = self._rows.shape[0]
        at = self._next
        if at + n <= room:  # the usual case: no wrap
            self._rows[at : at + n] = rows
        else:
            first = room - at
            self._rows[at:] = rows[:first]
            self._rows[: n - first] = rows[first:]
        self._next = (at + n) % room
        self._size = min(room, self._size + n)

    def since(self, start: float) -> FloatArray:
        """The rows whose first column is >= `start`, copied."""
        rows = self._rows[: self._size]
        return rows[rows[:, 0] >= start]

    def _reserve(self, room: int) -> None:
        """Grow the storage to `room` rows, oldest row first (only before the ring has wrapped)."""
        grown = np.empty((room, self._rows.shape[1]))
        grown[: self._size] = self._rows[: self._size]
        self._rows = grown
        self._next = self._size
