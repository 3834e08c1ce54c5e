"""Scrape-time exposition of the state file's health: whether it takes writes, which writes
failed, and which stored rows were skipped because they no longer load."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from driftwarden.core.metric_names import STATE_ROWS_SKIPPED, STATE_WRITABLE, STATE_WRITE_FAILURES
from driftwarden.persistence.database import ROW_KINDS, Database

__all__ = ["StorageCollector"]


class StorageCollector(Collector):
    """Reads the database's write health and skip counts when Prometheus scrapes."""

    def __init__(self, database: Database) -> None:
        self._database = database

    def collect(self) -> Iterator[Metric]:
        db = self._database
        yield GaugeMetricFamily(
            STATE_WRITABLE,
            "1 while the state file takes writes; 0 from a failed write until one succeeds (/readyz is 503).",
            value=float(db.writable),
        )
        failures = CounterMetricFamily(
            STATE_WRITE_FAILURES,
            "Writes the state file refused (disk full, read-only, I/O error).",
            labels=["operation"],
        )
        for operation, count in sorted(dict(db.write_failures).items()):  # dict(): one copy, taken at once
            failures.add_metric([operation], count)
        yield failures
        skipped = CounterMetricFamily(
            STATE_ROWS_SKIPPED, "Stored rows skipped at load because they no longer decode.", labels=["kind"]
        )
        counts = dict(db.skipped_rows)
        for kind in sorted(ROW_KINDS.keys() | counts.keys()):
            skipped.add_metric([kind], counts.get(kind, 0))
        yield skipped
