"""Request observations from traces, column-wise: what the OTLP decoder produces and the latency
histograms and SLO trackers consume.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from driftwarden.core.arrays import BoolArray, FloatArray, StrArray

__all__ = ["SpanBatch"]


@dataclass
class SpanBatch:
    """Observations from one export request, column-wise."""

    service: list[str] = field(default_factory=list)
    model: list[str] = field(default_factory=list)
    operation: list[str] = field(default_factory=list)
    extra: list[tuple[str, ...]] = field(default_factory=list)  # values of traces.label_attributes
    trace_id: list[str] = field(default_factory=list)
    duration: FloatArray = field(default_factory=lambda: np.empty(0))  # seconds
    end_time: FloatArray = field(default_factory=lambda: np.empty(0))  # unix seconds
    error: BoolArray = field(default_factory=lambda: np.empty(0, dtype=bool))
    input_tokens: FloatArray = field(default_factory=lambda: np.empty(0))  # NaN where absent
    output_tokens: FloatArray = field(default_factory=lambda: np.empty(0))
    ttft: FloatArray = field(default_factory=lambda: np.empty(0))  # seconds, NaN where absent
    tpot: FloatArray = field(default_factory=lambda: np.empty(0))  # seconds per output token after the first
    skipped: int = 0  # spans that are not requests (CLIENT, INTERNAL children, ...)
    rejected: int = 0
    reasons: dict[str, int] = field(default_factory=dict)
    first_error: str = ""

    def __len__(self) -> int:
        return len(self.service)

    @cached_property
    def selectors(self) -> dict[str, StrArray]:
        """service/model/operation as numpy string arrays, for vectorized SLO selection."""
        return {
            "service": np.asarray(self.service),
            "model": np.asarray(self.model),
            "operation": np.asarray(self.operation),
        }

    def reject(self, reason: str, message: str) -> None:
        self.rejected += 1
        self.reasons[reason] = self.reasons.get(reason, 0) + 1
        self.first_error = self.first_error or message
