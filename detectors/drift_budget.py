"""Drift budgets: evaluations in drift spend an error budget, and burn rates decide the alert.

A per-evaluation verdict flaps when a feature hovers at its threshold. Counting "windows in
drift" as bad events against an objective (default: 99 % of evaluations clean over 7 days) and
alerting on multi-window burn rates, as for SLOs, pages on sustained drift and opens a ticket
(or triggers retraining) on slow, persistent drift.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np

from driftwarden.detectors.findings import DriftBudgetFinding
from driftwarden.detectors.slo import SLOTracker
from driftwarden.params import AlertingParams, SLOParams

__all__ = ["DriftBudget"]


class DriftBudget:
    def __init__(self, model: str, settings: AlertingParams, *, clock: Callable[[], float] = time.time) -> None:
        self.model = model
        slo = SLOParams(
            name="drift-budget",
            objective=settings.drift_objective,
            period=settings.drift_period,
            min_requests=settings.drift_min_evaluations,
        )
        self.tracker = SLOTracker(slo, clock=clock)

    def record(self, drifted: bool, at: float) -> None:
        self.tracker.record(np.array([at]), np.array([drifted]))

    def evaluate(self, now: float | None = None) -> list[DriftBudgetFinding]:
        return [
            DriftBudgetFinding(
                model=self.model,
                severity=f.severity,
                value=f.value,
                threshold=f.threshold,
                long_window=f.long_window,
                short_window=f.short_window,
                long_burn_rate=f.long_burn_rate,
                short_burn_rate=f.short_burn_rate,
                requests_short_window=f.requests_short_window,
                objective=self.tracker.slo.objective,
                budget_remaining=f.budget_remaining,
                at=f.at,
            )
            for f in self.tracker.evaluate(now)
        ]
