"""Which source counts, per service: spans or metrics (`traces.latency_source`), and which metric.

A service that sends both spans and latency metrics describes its requests twice; so does one that
sends two metrics of a kind (a GenAI server's HTTP and GenAI duration metrics, `http/dup`'s old and
new HTTP metric). Per service and kind (durations, time to first token, time per output token,
tokens) one source counts:

- `spans`: spans only; every metric point of those kinds is ignored (`latency_source`).
- `metrics`: metrics only; spans feed none of those series.
- `auto`: spans until the service's first metric point of the kind, metrics from then on.

Among metrics, the best ranked (`semconv.REQUEST_METRICS`) a service has sent counts; points of a
worse ranked one are ignored (`superseded`). When a service switches source (spans to metrics, or
to a better ranked metric), the points of the export that switched it, and any other of its points
for an interval ending no later, are ignored (`source_switch`): the source counted until then has
already counted those requests, so the switch loses at most one export interval and counts nothing
twice. Spans of a switched service that arrive late are dropped, not counted twice.

The per-service state is bounded: past `max_services` the least recently seen service is forgotten
(counted in `evicted`), and starts again as if new.
"""

from __future__ import annotations

import dataclasses
from collections import Counter, OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from driftwarden.core.arrays import BoolArray, FloatArray
from driftwarden.core.points import INPUT_TOKENS, OUTPUT_TOKENS, PointBatch
from driftwarden.core.semconv import MetricKind
from driftwarden.core.spans import SpanBatch

__all__ = ["LatencySource", "LatencySources", "SpanVerdict"]

LatencySource = Literal["spans", "metrics", "auto"]
_KINDS = tuple(MetricKind)


@dataclass
class _Source:
    """One service's source for one kind."""

    rank: int | None = None  # the metric counted; None: spans
    spans_counted: bool = False
    cutoff: float = float("-inf")  # points for intervals ending at or before this are ignored


@dataclass
class SpanVerdict:
    """What of a span batch counts: its rows' durations (None: all of them), and LLM columns blanked
    (NaN) where a service's metrics count instead."""

    latency: BoolArray | None = None
    blanked: dict[MetricKind, BoolArray] = field(default_factory=dict)

    def blank(self, batch: SpanBatch) -> SpanBatch:
        """The batch with the LLM columns of `blanked` rows made NaN (not counted)."""
        if not self.blanked:
            return batch

        def cleared(kind: MetricKind, values: FloatArray) -> FloatArray:
            mask = self.blanked.get(kind)
            return values if mask is None else np.where(mask, np.nan, values)

        return dataclasses.replace(
            batch,
            ttft=cleared(MetricKind.TTFT, batch.ttft),
            tpot=cleared(MetricKind.TPOT, batch.tpot),
            input_tokens=cleared(MetricKind.TOKENS, batch.input_tokens),
            output_tokens=cleared(MetricKind.TOKENS, batch.output_tokens),
        )


class LatencySources:
    def __init__(self, mode: LatencySource, max_services: int) -> None:
        self.mode = mode
        self.max_services = max_services
        self.evicted = 0
        self._services: OrderedDict[str, dict[MetricKind, _Source]] = OrderedDict()

    def points(self, batch: PointBatch) -> tuple[BoolArray, Counter[str]]:
        """Which of the batch's points count, and the others' count by reason."""
        n = len(batch)
        if self.mode == "spans":
            return np.zeros(n, dtype=bool), Counter({"latency_source": n} if n else {})
        family = np.where(np.isin(batch.kind, (INPUT_TOKENS, OUTPUT_TOKENS)), int(MetricKind.TOKENS), batch.kind)
        services, service = np.unique(batch.selectors["service"], return_inverse=True)
        combined = (service * len(MetricKind) + family) * 64 + np.minimum(batch.rank, 63)
        combos, code = np.unique(combined, return_inverse=True)
        keep = np.ones(n, dtype=bool)
        ignored: Counter[str] = Counter()
        for c in np.argsort(combos % 64, kind="stable").tolist():  # best rank first
            rank, kind = int(combos[c] % 64), int(combos[c] // 64 % len(MetricKind))
            mine = code == c
            source = self._source(str(services[combos[c] // 64 // len(MetricKind)]), MetricKind(kind))
            if source.rank is None or rank < source.rank:
                switching = source.rank is not None or (self.mode == "auto" and source.spans_counted)
                source.rank = rank
                if switching:
                    source.cutoff = max(source.cutoff, float(batch.end_time[mine].max()))
            elif rank > source.rank:
                keep[mine] = False
                ignored["superseded"] += int(mine.sum())
                continue
            late = mine & (batch.end_time <= source.cutoff)
            if late.any():
                keep[late] = False
                ignored["source_switch"] += int(late.sum())
        return keep, ignored

    def spans(self, batch: SpanBatch) -> SpanVerdict:
        """What of a span batch counts; notes, per service, that spans were counted."""
        if self.mode == "spans" or not len(batch):
            return SpanVerdict()
        if self.mode == "metrics":
            return SpanVerdict(latency=np.zeros(len(batch), dtype=bool), blanked=dict.fromkeys(_KINDS[1:], _all(batch)))
        present = {
            MetricKind.DURATION: True,
            MetricKind.TTFT: bool((~np.isnan(batch.ttft)).any()),
            MetricKind.TPOT: bool((~np.isnan(batch.tpot)).any()),
            MetricKind.TOKENS: bool((~np.isnan(batch.input_tokens)).any() or (~np.isnan(batch.output_tokens)).any()),
        }
        on_metrics: dict[MetricKind, list[str]] = {}
        for service in set(batch.service):
            sources = self._sources(service)
            for kind, there in present.items():
                source = sources.setdefault(kind, _Source())
                if source.rank is not None:
                    on_metrics.setdefault(kind, []).append(service)
                elif there:
                    source.spans_counted = True
        if not on_metrics:
            return SpanVerdict()
        masks = {kind: np.isin(batch.selectors["service"], services) for kind, services in on_metrics.items()}
        latency = masks.pop(MetricKind.DURATION, None)
        return SpanVerdict(latency=None if latency is None else ~latency, blanked=masks)

    def _source(self, service: str, kind: MetricKind) -> _Source:
        return self._sources(service).setdefault(kind, _Source())

    def _sources(self, service: str) -> dict[MetricKind, _Source]:
        sources = self._services.get(service)
        if sources is None:
            sources = self._services[service] = {}
            while len(self._services) > self.max_services:
                self._services.popitem(last=False)
                self.evicted += 1
        else:
            self._services.move_to_end(service)
        return sources

    def services(self) -> Iterable[str]:
        return iter(self._services)


def _all(batch: SpanBatch) -> BoolArray:
    return np.ones(len(batch), dtype=bool)
