"""Request latency and errors from spans: histograms with exemplars, and exact recent quantiles.

Label values come from the traffic (service, model, operation names), so each label keeps at
most `max_label_values` distinct values; later ones are folded into "other" and counted.
Histogram updates are vectorized per export request (`searchsorted` + `bincount`).
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from driftwarden.core.arrays import BoolArray, FloatArray, IntArray
from driftwarden.core.spans import SpanBatch

__all__ = ["TTFT_BUCKETS", "HistogramSeries", "LabelFolder", "LatencyHistogram", "RequestStats"]

OTHER = "other"
TTFT_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
QUANTILES = (0.5, 0.95, 0.99)


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
        return OTHER


@dataclass(frozen=True)
class HistogramSeries:
    labels: tuple[str, ...]
    cumulative: list[int]  # per bound, then +Inf
    sum: float
    exemplars: dict[int, tuple[str, float, float]]  # bucket index -> (trace id, value, unix time)


class LatencyHistogram:
    """Prometheus-style cumulative histograms for many label sets, updated a batch at a time."""

    def __init__(self, bounds: Sequence[float], label_names: Sequence[str]) -> None:
        self.bounds: FloatArray = np.asarray(bounds, dtype=np.float64)
        self.label_names = tuple(label_names)
        self._index: dict[tuple[str, ...], int] = {}
        self._counts: IntArray = np.zeros((0, self.bounds.size + 1), dtype=np.int64)
        self._sums: FloatArray = np.zeros(0)
        self._exemplars: list[dict[int, tuple[str, float, float]]] = []  # per series: bucket -> exemplar

    def observe(
        self,
        keys: Sequence[tuple[str, ...]],
        values: FloatArray,
        trace_ids: Sequence[str] = (),
        now: float | None = None,
    ) -> None:
        if not len(keys):
            return
        series = np.fromiter((self._series(k) for k in keys), dtype=np.intp, count=len(keys))
        bucket = np.searchsorted(self.bounds, values, side="left")  # value <= bound[bucket]
        width = self.bounds.size + 1
        flat = series * width + bucket
        self._counts += np.bincount(flat, minlength=self._counts.size).reshape(self._counts.shape)
        self._sums += np.bincount(series, weights=values, minlength=self._sums.size)
        if len(trace_ids):
            cells, first_from_end = np.unique(flat[::-1], return_index=True)
            last = flat.size - 1 - first_from_end
            stamp = time.time() if now is None else now
            for cell, i in zip(cells.tolist(), last.tolist(), strict=True):
                s, b = divmod(cell, width)
                self._exemplars[s][b] = (trace_ids[i], float(values[i]), stamp)

    def series(self) -> list[HistogramSeries]:
        cumulative = np.cumsum(self._counts, axis=1)
        out = []
        for key, i in self._index.items():
            out.append(HistogramSeries(key, cumulative[i].tolist(), float(self._sums[i]), dict(self._exemplars[i])))
        return out

    def _series(self, key: tuple[str, ...]) -> int:
        i = self._index.get(key)
        if i is None:
            i = self._index[key] = len(self._index)
            self._exemplars.append({})
            if i >= self._counts.shape[0]:
                grown = max(8, 2 * self._counts.shape[0])
                self._counts = np.vstack(
                    [self._counts, np.zeros((grown - self._counts.shape[0], self._counts.shape[1]), dtype=np.int64)]
                )
                self._sums = np.concatenate([self._sums, np.zeros(grown - self._sums.size)])
        return i


class RequestStats:
    """Everything the daemon keeps about requests seen in traces."""

    def __init__(
        self,
        bounds: Sequence[float],
        *,
        extra_labels: Sequence[str] = (),
        max_label_values: int = 50,
        max_quantile_samples: int = 20_000,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.extra_labels = tuple(extra_labels)
        self.folder = LabelFolder(max_label_values)
        self.durations = LatencyHistogram(bounds, ("service", "model", "operation", "status", *self.extra_labels))
        self.ttft = LatencyHistogram(TTFT_BUCKETS, ("service", "model"))
        self.input_tokens: Counter[tuple[str, str]] = Counter()
        self.output_tokens: Counter[tuple[str, str]] = Counter()
        self.max_quantile_samples = max_quantile_samples
        self._recent: dict[tuple[str, str, str], _Ring] = {}
        self._folded: dict[tuple[str, str, str], tuple[str, str, str]] = {}
        self._clock = clock

    def update(self, batch: SpanBatch) -> None:
        if not len(batch):
            return
        fold = self.folder.fold
        names = self.extra_labels
        cache = self._folded
        if len(cache) > 100_000:  # raw values are unbounded; the cache must not be
            cache.clear()
        target = []
        for raw in zip(batch.service, batch.model, batch.operation, strict=True):
            key = cache.get(raw)
            if key is None:
                key = cache[raw] = (fold("service", raw[0]), fold("model", raw[1]), fold("operation", raw[2]))
            target.append(key)
        status = ["error" if e else "ok" for e in batch.error.tolist()]
        if names:
            keys = [
                (*t, st, *(fold(n, v) for n, v in zip(names, extra, strict=True)))
                for t, st, extra in zip(target, status, batch.extra, strict=True)
            ]
        else:
            keys = [(*t, st) for t, st in zip(target, status, strict=True)]
        self.durations.observe(keys, batch.duration, batch.trace_id, now=self._clock())
        self._remember(target, batch.duration, batch.end_time, batch.error)
        self._llm(target, batch)

    def quantiles(self, window: float, now: float | None = None) -> list[dict[str, str | float]]:
        """p50/p95/p99, count and error rate per service/model/operation over the last `window` seconds."""
        now = self._clock() if now is None else now
        out: list[dict[str, str | float]] = []
        for (service, model, operation), ring in sorted(self._recent.items()):
            values = ring.values()
            recent = values[values[:, 0] >= now - window]
            if not recent.shape[0]:
                continue
            q = np.quantile(recent[:, 1], QUANTILES)
            out.append(
                {
                    "service": service,
                    "model": model,
                    "operation": operation,
                    "count": int(recent.shape[0]),
                    "error_rate": float(recent[:, 2].mean()),
                    **{f"p{round(100 * p)}": float(v) for p, v in zip(QUANTILES, q, strict=True)},
                }
            )
        return out

    def _remember(
        self, target: list[tuple[str, str, str]], duration: FloatArray, end_time: FloatArray, error: BoolArray
    ) -> None:
        rows = np.column_stack([end_time, duration, error.astype(np.float64)])
        codes: dict[tuple[str, str, str], int] = {}
        series = np.fromiter((codes.setdefault(t, len(codes)) for t in target), dtype=np.intp, count=len(target))
        order = np.argsort(series, kind="stable")
        bounds = np.searchsorted(series[order], np.arange(len(codes) + 1))
        for key, code in codes.items():
            ring = self._recent.get(key)
            if ring is None:
                ring = self._recent[key] = _Ring(self.max_quantile_samples, 3)
            ring.append(rows[order[bounds[code] : bounds[code + 1]]])

    def _llm(self, target: list[tuple[str, str, str]], batch: SpanBatch) -> None:
        for counter, tokens in ((self.input_tokens, batch.input_tokens), (self.output_tokens, batch.output_tokens)):
            for i in np.flatnonzero(~np.isnan(tokens)).tolist():
                counter[target[i][:2]] += int(tokens[i])
        ttft = batch.ttft
        present = np.flatnonzero(~np.isnan(ttft))
        if present.size:
            self.ttft.observe(
                [target[i][:2] for i in present.tolist()],
                ttft[present],
                [batch.trace_id[i] for i in present.tolist()],
                now=self._clock(),
            )


class _Ring:
    """The last `capacity` rows of a fixed number of float columns (event-loop only: no lock)."""

    def __init__(self, capacity: int, columns: int) -> None:
        self._rows: FloatArray = np.empty((capacity, columns))
        self._next = 0
        self._size = 0

    def append(self, rows: FloatArray) -> None:
        capacity = self._rows.shape[0]
        rows = rows[-capacity:]
        n = rows.shape[0]
        first = min(n, capacity - self._next)
        self._rows[self._next : self._next + first] = rows[:first]
        self._rows[: n - first] = rows[first:]
        self._next = (self._next + n) % capacity
        self._size = min(capacity, self._size + n)

    def values(self) -> FloatArray:
        return self._rows[: self._size]
