"""What a detector tells the rest of driftwarden: plain, frozen values."""

from __future__ import annotations

import enum
import time
from dataclasses import dataclass, field
from typing import Any

__all__ = ["QUALITY_SUBJECT", "Finding", "FindingKind", "Severity"]


class FindingKind(enum.StrEnum):
    DRIFT = "drift"
    SLO = "slo"
    GPU = "gpu"


class Severity(enum.StrEnum):
    INFO = "info"
    WARNING = "warning"
    TICKET = "ticket"
    PAGE = "page"


@dataclass(frozen=True)
class Finding:
    """One thing a detector found in one evaluation.

    `subject` names what inside the model/SLO/GPU it is about (a feature, a burn-rate
    window, a metric); `value` is compared with `threshold`; `evidence` carries what an
    on-call engineer needs to check it (scores, p-values, example trace ids).
    """

    kind: FindingKind
    subject: str
    severity: Severity
    value: float
    threshold: float
    model: str | None = None
    slo: str | None = None
    gpu: str | None = None
    labels: dict[str, str] = field(default_factory=dict)
    evidence: dict[str, Any] = field(default_factory=dict)
    at: float = field(default_factory=time.time)


QUALITY_SUBJECT = "__quality__"  # a drift finding about realized quality (joined labels), not a feature
