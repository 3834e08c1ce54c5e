"""Scrape-time exposition of alert state: what is firing, and what waits in the outbox."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator

from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from driftwarden.alerts.alert import Alert, AlertStatus
from driftwarden.core import metric_names as m

__all__ = ["AlertCollector"]


class AlertCollector(Collector):
    def __init__(
        self,
        alerts: Callable[[], list[Alert]],
        pending: Callable[[], dict[str, int]],
        receivers: Callable[[], list[str]],
    ) -> None:
        self._alerts = alerts
        self._pending = pending
        self._receivers = receivers

    def describe(self) -> list[Metric]:
        return []

    def snapshot(self) -> AlertCollector:
        """On the loop: the alerts and receivers now; the outbox count is read when collected (it locks)."""
        alerts, receivers = self._alerts(), self._receivers()
        return AlertCollector(lambda: alerts, self._pending, lambda: receivers)

    def collect(self) -> Iterator[Metric]:
        firing = GaugeMetricFamily(
            m.ALERTS_FIRING, "Alerts firing now (silenced ones included).", labels=["alertname", "severity"]
        )
        counts = Counter(
            (a.name, a.labels.get("severity", "")) for a in self._alerts() if a.status is AlertStatus.FIRING
        )
        for (name, severity), count in sorted(counts.items()):
            firing.add_metric([name, severity], count)
        pending = GaugeMetricFamily(m.OUTBOX_PENDING, "Notifications waiting for delivery.", labels=["receiver"])
        waiting = self._pending()
        for receiver in self._receivers():
            pending.add_metric([receiver], waiting.get(receiver, 0))
        yield from (firing, pending)
