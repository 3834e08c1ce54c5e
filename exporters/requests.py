"""Scrape-time exposition of what traces tell: LLM usage, folded labels and SLOs.

The latency histograms themselves are rendered by `exporters.exposition` (`request_histograms`).
Their exemplars (the trace id of the latest request in each bucket) appear in the OpenMetrics
exposition, which Prometheus asks for when `--enable-feature=exemplar-storage` is on; Grafana
then links a latency spike to its trace.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from driftwarden.core import metric_names as m
from driftwarden.detectors.latency import RequestStats
from driftwarden.detectors.slo import WINDOWS, SLOTracker
from driftwarden.exporters.exposition import HistogramFamily

__all__ = ["RequestCollector", "request_histograms"]


def request_histograms(requests: RequestStats) -> list[HistogramFamily]:
    return [
        HistogramFamily(m.REQUEST_DURATION, "Request latency from SERVER/root spans.", requests.durations),
        HistogramFamily(m.LLM_TIME_TO_FIRST_TOKEN, "Time to first token of LLM requests.", requests.ttft),
    ]


class RequestCollector(Collector):
    def __init__(self, requests: RequestStats, slos: Callable[[], Mapping[str, SLOTracker]]) -> None:
        self._requests = requests
        self._slos = slos

    def describe(self) -> list[Metric]:
        return []

    def collect(self) -> Iterator[Metric]:
        r = self._requests
        for name, doc, counts in (
            (m.LLM_INPUT_TOKENS, "LLM input tokens (gen_ai.usage.input_tokens).", r.input_tokens),
            (m.LLM_OUTPUT_TOKENS, "LLM output tokens (gen_ai.usage.output_tokens).", r.output_tokens),
        ):
            family = CounterMetricFamily(name, doc, labels=["service", "model"])
            for (service, model), value in sorted(counts.items()):
                family.add_metric([service, model], value)
            yield family
        folded = CounterMetricFamily(
            m.LABEL_VALUES_FOLDED, "Label values folded into 'other' by the cap.", labels=["label"]
        )
        for label, count in sorted(r.folder.folded.items()):
            folded.add_metric([label], count)
        yield folded
        yield from _slo_families(self._slos())


def _slo_families(slos: Mapping[str, SLOTracker]) -> Iterator[Metric]:
    burn = GaugeMetricFamily(
        m.SLO_BURN_RATE, "Error-budget burn rate (1 = spending exactly the budget).", labels=["slo", "window"]
    )
    remaining = GaugeMetricFamily(
        m.SLO_ERROR_BUDGET_REMAINING, "Share of the period's error budget left.", labels=["slo"]
    )
    objective = GaugeMetricFamily(m.SLO_OBJECTIVE, "The SLO's objective (share of good events).", labels=["slo"])
    events = CounterMetricFamily(
        m.SLO_EVENTS, "Requests counted by the SLO, kept across restarts.", labels=["slo", "outcome"]
    )
    for name, tracker in sorted(slos.items()):
        for window in WINDOWS:
            burn.add_metric([name, window], tracker.burn_rate(window))
        remaining.add_metric([name], tracker.budget_remaining())
        objective.add_metric([name], tracker.slo.objective)
        events.add_metric([name, "good"], tracker.total_good)
        events.add_metric([name, "bad"], tracker.total_bad)
    yield from (burn, remaining, objective, events)
