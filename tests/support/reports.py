"""Drift reports compared across daemons or paths: their dict without what differs from run to run."""

from __future__ import annotations

from typing import Any

__all__ = ["comparable"]


def comparable(report: Any) -> dict[str, Any]:
    """`report.to_dict()` less its timestamps and durations (the report's and each multivariate result's)."""
    out: dict[str, Any] = report.to_dict()
    for key in ("evaluated_at", "duration_seconds"):
        out.pop(key, None)
    for result in out["multivariate"]:
        result.pop("duration_seconds", None)
    return out
