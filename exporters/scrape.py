"""A scrape in two steps: a snapshot on the event loop, the body rendered in a worker thread.

Rendering a large exposition takes seconds; done on the loop it stalls ingest and /healthz.
So /metrics first takes, on the loop, a `Scrape`: the state only the loop may read (models and
their reports, SLO counts, alerts), copied cheaply by each loop-owned collector's `snapshot()`.
Then a worker thread collects and encodes it, together with what is safe to read from any
thread: prometheus_client's own metrics (they lock), and the request histograms and counters
(`detectors.latency` locks them and a scrape only copies their arrays).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Protocol

from prometheus_client.core import Metric
from prometheus_client.registry import Collector

from driftwarden.exporters.exposition import HistogramFamily, render

__all__ = ["Exposition", "Frozen", "Scrape", "Snapshotting"]


class Snapshotting(Protocol):
    """A collector of state that only the event loop may read."""

    def snapshot(self) -> Collector:
        """On the loop: a collector over a copy of that state, safe to collect in any thread."""
        ...


class Frozen(Collector):
    """Metric families built already (the snapshot of a collector whose families are few)."""

    def __init__(self, metrics: Sequence[Metric]) -> None:
        self._metrics = tuple(metrics)

    def describe(self) -> list[Metric]:
        return []

    def collect(self) -> Iterator[Metric]:
        yield from self._metrics


@dataclass(frozen=True)
class Scrape(Collector):
    """One scrape's inputs; `render` it in a worker thread."""

    parts: tuple[Collector, ...]
    histograms: tuple[HistogramFamily, ...]

    def describe(self) -> list[Metric]:
        return []

    def collect(self) -> Iterator[Metric]:
        for part in self.parts:
            yield from part.collect()

    def render(self, accept: str) -> tuple[list[bytes], str]:
        """(body in chunks, content type) for an Accept header."""
        return render(self, self.histograms, accept)


class Exposition:
    """Everything /metrics shows: `registry` (collected in any thread), the loop-owned collectors
    (snapshotted on the loop) and the hand-rendered histograms."""

    def __init__(
        self, registry: Collector, loop_owned: Sequence[Snapshotting], histograms: Sequence[HistogramFamily]
    ) -> None:
        self._registry = registry
        self._loop_owned = tuple(loop_owned)
        self._histograms = tuple(histograms)

    def snapshot(self) -> Scrape:
        """On the event loop."""
        return Scrape((self._registry, *(c.snapshot() for c in self._loop_owned)), self._histograms)
