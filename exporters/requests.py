"""Scrape-time exposition of what traces tell: LLM usage, folded labels and series overflow.

The latency histograms themselves are rendered by `exporters.exposition` (`request_histograms`).
Their exemplars (the trace id of the latest request in each bucket) appear in the OpenMetrics
exposition, which Prometheus asks for when `--enable-feature=exemplar-storage` is on; Grafana
then links a latency spike to its trace. Everything here reads `RequestStats` through its
locked accessors, so it is collected in the scrape's worker thread; the SLOs are
`exporters.slos`.
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import CounterMetricFamily, Metric
from prometheus_client.registry import Collector

from driftwarden.core import metric_names as m
from driftwarden.detectors.latency import RequestStats
from driftwarden.exporters.exposition import HistogramFamily

__all__ = ["RequestCollector", "request_histograms"]

_FAMILIES = {  # RequestStats.overflow() key -> the family whose label sets it caps
    "durations": m.REQUEST_DURATION,
    "ttft": m.LLM_TIME_TO_FIRST_TOKEN,
    "tpot": m.LLM_TIME_PER_OUTPUT_TOKEN,
    "input_tokens": m.LLM_INPUT_TOKENS,
    "output_tokens": m.LLM_OUTPUT_TOKENS,
}


def request_histograms(requests: RequestStats) -> list[HistogramFamily]:
    return [
        HistogramFamily(
            m.REQUEST_DURATION, "Request latency from SERVER/root spans or OTLP duration metrics.", requests.durations
        ),
        HistogramFamily(m.LLM_TIME_TO_FIRST_TOKEN, "Time to first token of LLM requests.", requests.ttft),
        HistogramFamily(
            m.LLM_TIME_PER_OUTPUT_TOKEN, "Time per output token after the first, of LLM requests.", requests.tpot
        ),
    ]


class RequestCollector(Collector):
    def __init__(self, requests: RequestStats) -> None:
        self._requests = requests

    def describe(self) -> list[Metric]:
        return []

    def collect(self) -> Iterator[Metric]:
        r = self._requests
        input_tokens, output_tokens = r.usage()
        for name, doc, counts in (
            (m.LLM_INPUT_TOKENS, "LLM input tokens (gen_ai.usage.input_tokens).", input_tokens),
            (m.LLM_OUTPUT_TOKENS, "LLM output tokens (gen_ai.usage.output_tokens).", output_tokens),
        ):
            family = CounterMetricFamily(name, doc, labels=["service", "model"])
            for labels, value in sorted(counts):
                family.add_metric(list(labels), value)
            yield family
        folded = CounterMetricFamily(
            m.LABEL_VALUES_FOLDED, "Label values folded into 'other' by the cap.", labels=["label"]
        )
        for label, count in sorted(r.folded_label_values().items()):
            folded.add_metric([label], count)
        yield folded
        overflow = CounterMetricFamily(
            m.SERIES_OVERFLOW,
            "Observations counted under a family's all-'other' label set because the family held "
            "limits.max_series_per_metric label sets.",
            labels=["metric"],
        )
        for key, count in r.overflow().items():
            overflow.add_metric([_FAMILIES[key]], count)
        yield overflow
