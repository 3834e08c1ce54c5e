"""A clock for the daemon's burn-rate trackers (`running(..., clock=...)`): minutes pass in an instant."""

from __future__ import annotations

import time

__all__ = ["ShiftedClock"]


class ShiftedClock:
    """Wall-clock time moved on by `shift` seconds."""

    def __init__(self) -> None:
        self.shift = 0.0

    def __call__(self) -> float:
        return time.time() + self.shift
