"""Histogram data points from OTLP metrics, as deltas, column-wise: what the metrics decoder produces
and the latency histograms, quantiles, SLO trackers and LLM series consume, beside `SpanBatch`.

A point is one stream's counts over one collection interval; each of its buckets with a count is a
*bucket row*: the bucket's upper bound (which of our buckets, and whether the SLO threshold is
passed), a value standing for its observations (for quantiles) and how many there were.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from driftwarden.core.arrays import BoolArray, FloatArray, IntArray, StrArray

__all__ = ["INPUT_TOKENS", "OUTPUT_TOKENS", "PointBatch"]

# `PointBatch.kind` beside `semconv.MetricKind`'s DURATION, TTFT and TPOT: token usage split by type
INPUT_TOKENS = 3
OUTPUT_TOKENS = 4


def _floats() -> FloatArray:
    return np.empty(0)


def _ints() -> IntArray:
    return np.empty(0, dtype=np.int64)


@dataclass
class PointBatch:
    """Points from one export request (per point), and their buckets that have counts (per bucket row)."""

    service: list[str] = field(default_factory=list)
    model: list[str] = field(default_factory=list)
    operation: list[str] = field(default_factory=list)
    extra: list[tuple[str, ...]] = field(default_factory=list)  # values of traces.label_attributes
    kind: IntArray = field(default_factory=_ints)  # MetricKind DURATION/TTFT/TPOT, INPUT_TOKENS, OUTPUT_TOKENS
    rank: IntArray = field(default_factory=_ints)  # semconv.RequestMetric.rank
    end_time: FloatArray = field(default_factory=_floats)  # unix seconds: the end of the interval
    error: BoolArray = field(default_factory=lambda: np.empty(0, dtype=bool))
    count: IntArray = field(default_factory=_ints)  # observations in the interval
    total: FloatArray = field(default_factory=_floats)  # their sum (seconds, or tokens)
    point: IntArray = field(default_factory=_ints)  # per bucket row: its point
    upper: FloatArray = field(default_factory=_floats)  # the bucket's upper bound (inf for the last)
    value: FloatArray = field(default_factory=_floats)  # its midpoint, within the point's min and max
    weight: IntArray = field(default_factory=_ints)  # observations in the bucket
    ignored: Counter[str] = field(default_factory=Counter)  # points acknowledged but not counted, by reason
    rejected: int = 0
    reasons: dict[str, int] = field(default_factory=dict)
    first_error: str = ""

    def __len__(self) -> int:
        return len(self.service)

    @cached_property
    def selectors(self) -> dict[str, StrArray]:
        """service/model/operation per point as numpy string arrays, for vectorized SLO selection."""
        return {
            "service": np.asarray(self.service),
            "model": np.asarray(self.model),
            "operation": np.asarray(self.operation),
        }

    def reject(self, reason: str, message: str, points: int = 1) -> None:
        self.rejected += points
        self.reasons[reason] = self.reasons.get(reason, 0) + points
        self.first_error = self.first_error or message

    def subset(self, keep: BoolArray) -> PointBatch:
        """The points where `keep`, with their bucket rows (the tallies stay with the original)."""
        index = np.flatnonzero(keep)
        renumber = np.cumsum(keep) - 1
        rows = keep[self.point]
        return PointBatch(
            service=[self.service[i] for i in index.tolist()],
            model=[self.model[i] for i in index.tolist()],
            operation=[self.operation[i] for i in index.tolist()],
            extra=[self.extra[i] for i in index.tolist()],
            kind=self.kind[index],
            rank=self.rank[index],
            end_time=self.end_time[index],
            error=self.error[index],
            count=self.count[index],
            total=self.total[index],
            point=renumber[self.point[rows]],
            upper=self.upper[rows],
            value=self.value[rows],
            weight=self.weight[rows],
        )
