"""Scrape-time exposition of the SLOs: burn rates, budget left, objectives and event counts.

The trackers change on the event loop, so the families are built there (`snapshot`): a few
numbers per SLO.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from driftwarden.core import metric_names as m
from driftwarden.detectors.slo import WINDOWS, SLOTracker
from driftwarden.exporters.scrape import Frozen

__all__ = ["SloCollector"]


class SloCollector(Collector):
    def __init__(self, slos: Callable[[], Mapping[str, SLOTracker]]) -> None:
        self._slos = slos

    def describe(self) -> list[Metric]:
        return []

    def snapshot(self) -> Collector:
        return Frozen(list(self.collect()))

    def collect(self) -> Iterator[Metric]:
        burn = GaugeMetricFamily(
            m.SLO_BURN_RATE, "Error-budget burn rate (1 = spending exactly the budget).", labels=["slo", "window"]
        )
        remaining = GaugeMetricFamily(
            m.SLO_ERROR_BUDGET_REMAINING,
            "Share of the period's error budget left (0 = exhausted, never below).",
            labels=["slo"],
        )
        objective = GaugeMetricFamily(m.SLO_OBJECTIVE, "The SLO's objective (share of good events).", labels=["slo"])
        events = CounterMetricFamily(
            m.SLO_EVENTS, "Requests counted by the SLO, kept across restarts.", labels=["slo", "outcome"]
        )
        for name, tracker in sorted(self._slos().items()):
            for window in WINDOWS:
                burn.add_metric([name, window], tracker.burn_rate(window))
            remaining.add_metric([name], tracker.budget_remaining())
            objective.add_metric([name], tracker.slo.objective)
            events.add_metric([name, "good"], tracker.total_good)
            events.add_metric([name, "bad"], tracker.total_bad)
        yield from (burn, remaining, objective, events)
