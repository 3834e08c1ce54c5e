"""A daily and weekly traffic rhythm for the anomaly tests (the daemon's detector and the PromQL rules alike).

Requests per second peak at 14:00 UTC and bottom out at 02:00, weekends carry 60 % of a weekday, and a
seeded noise of a few percent rides on top. `MONDAY` is a Monday 00:00 UTC: time 0 of every simulation.
"""

from __future__ import annotations

import math

import numpy as np
import orjson

__all__ = ["DAY", "MONDAY", "PEAK", "WEEK", "rate", "span_export"]

DAY = 86400.0
WEEK = 7 * DAY
MONDAY = 1_700_438_400.0  # 2023-11-20 00:00 UTC, a Monday
PEAK = 100.0  # requests per second at 14:00 on a weekday


def rate(t: float, *, noise: float = 0.03, seed: int = 0, peak: float = PEAK) -> float:
    """Requests per second at unix time `t` (noise: the relative spread of a seeded, per-10-minute jitter)."""
    since = t - MONDAY
    hour = (since % DAY) / 3600.0
    weekday = int(since // DAY) % 7
    daily = 0.6 - 0.4 * math.cos(2 * math.pi * (hour - 2.0) / 24.0)  # 0.2 at 02:00, 1.0 at 14:00
    weekly = 0.6 if weekday >= 5 else 1.0
    jitter = np.random.default_rng([seed, int(since // 600)]).normal(0.0, noise) if noise else 0.0
    return peak * daily * weekly * (1.0 + float(jitter))


def span_export(
    count: int, end: float, *, service: str = "fraud-model", model: str = "fraud", route: str = "/predict"
) -> bytes:
    """`count` SERVER spans of 50 ms ending at unix time `end`, as one OTLP/HTTP JSON body."""
    end_ns = round(end * 1e9)
    spans = [
        {
            "traceId": f"{i + 1:032x}",
            "spanId": f"{i + 1:016x}",
            "name": "POST " + route,
            "kind": 2,
            "startTimeUnixNano": str(end_ns - 50_000_000),
            "endTimeUnixNano": str(end_ns),
            "attributes": [
                {"key": "model.name", "value": {"stringValue": model}},
                {"key": "http.route", "value": {"stringValue": route}},
            ],
        }
        for i in range(count)
    ]
    resource = {"attributes": [{"key": "service.name", "value": {"stringValue": service}}]}
    return orjson.dumps({"resourceSpans": [{"resource": resource, "scopeSpans": [{"spans": spans}]}]})
