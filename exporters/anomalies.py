"""Scrape-time exposition of the anomaly detector (`detectors/seasonal.py`): per series its score, baseline and
observed value, labelled `signal` and the series' own labels (service, model, operation; gpu; model), every
one of them bounded: request series by the daemon's label caps, GPUs by the node, models by the config, and
the whole by `anomaly.max_series`."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from driftwarden.core import metric_names as m
from driftwarden.detectors.seasonal import Score, SeriesKey

__all__ = ["AnomalyCollector"]


class AnomalyCollector(Collector):
    """Reads the latest scores (a mapping replaced whole by each evaluation) when Prometheus scrapes."""

    def __init__(self, scores: Callable[[], Mapping[SeriesKey, Score]], counts: Callable[[], tuple[int, int]]) -> None:
        """`counts`: (series with a history, new series dropped at the bound)."""
        self._scores = scores
        self._counts = counts

    def collect(self) -> Iterator[Metric]:
        labels = list(m.ANOMALY_LABELS)
        score = GaugeMetricFamily(
            m.ANOMALY_SCORE,
            "Robust z-score of the signal against the same time of the past seasons: (observed - baseline) / "
            "(1.4826 x MAD, at least its floor).",
            labels=labels,
        )
        baseline = GaugeMetricFamily(
            m.ANOMALY_BASELINE, "Median of the signal at the same time of the past seasons.", labels=labels
        )
        observed = GaugeMetricFamily(m.ANOMALY_OBSERVED, "The signal's value judged for anomalies.", labels=labels)
        for (signal, pairs), s in sorted(self._scores().items()):
            values = dict(pairs)
            row = [signal, *(values.get(name, "") for name in labels[1:])]
            score.add_metric(row, s.score)
            baseline.add_metric(row, s.baseline)
            observed.add_metric(row, s.observed)
        series, dropped = self._counts()
        yield score
        yield baseline
        yield observed
        yield GaugeMetricFamily(m.ANOMALY_SERIES, "Series with an anomaly history (bounded).", value=series)
        yield CounterMetricFamily(
            m.ANOMALY_SERIES_DROPPED, "New series not judged: anomaly.max_series have a history.", value=dropped
        )
