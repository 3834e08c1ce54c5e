"""The request histograms rendered while spans keep arriving: every series stays consistent, and
the overflow label set renders like any other."""

from __future__ import annotations

import threading

import numpy as np
import pytest
from prometheus_client.openmetrics.parser import text_string_to_metric_families as parse_openmetrics
from prometheus_client.parser import text_string_to_metric_families

from driftwarden.detectors.latency import LatencyHistogram
from driftwarden.exporters.exposition import HistogramFamily

NAME = "test_duration_seconds"
VALUE = 0.02  # every observation: a series' sum is its count times this


def series(text: str) -> dict[tuple[tuple[str, str], ...], dict[str, float]]:
    """label set (without le) -> {"count", "sum", "+Inf", and each bucket's le}."""
    out: dict[tuple[tuple[str, str], ...], dict[str, float]] = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            key = tuple(sorted((k, v) for k, v in s.labels.items() if k != "le"))
            out.setdefault(key, {})[s.labels.get("le", s.name.rsplit("_", 1)[-1])] = s.value
    return out


def test_a_render_during_updates_reads_each_series_whole() -> None:
    histogram = LatencyHistogram([0.01, 0.05, 0.1], ["route"], max_series=50)
    family = HistogramFamily(NAME, "Test latency.", histogram)
    stop = threading.Event()

    def observe() -> None:
        i = 0
        while not stop.is_set():
            keys = [(f"/r{(i + j) % 40}",) for j in range(500)]
            histogram.observe(keys, np.full(len(keys), VALUE), [f"{i:032x}"] * len(keys))
            i += 1

    writer = threading.Thread(target=observe)
    writer.start()
    try:
        for _ in range(200):
            for labels, s in series(b"".join(family.chunks(openmetrics=False)).decode()).items():
                assert s["count"] == s["+Inf"] == s["0.05"] == s["0.1"], labels
                assert s["0.01"] == 0
                assert s["sum"] == pytest.approx(VALUE * s["count"], rel=1e-9), labels
    finally:
        stop.set()
        writer.join()


def test_the_overflow_set_renders_with_exemplars() -> None:
    histogram = LatencyHistogram([0.1, 1.0], ["service", "route"], max_series=3)
    keys = [("a", "/x"), ("b", "/x"), ("c", "/x"), ("d", "/y")]
    counted = histogram.observe(keys, np.array([0.05, 0.5, 2.0, 0.5]), ["1" * 32, "2" * 32, "3" * 32, "4" * 32])
    assert counted == [("a", "/x"), ("b", "/x"), ("other", "other"), ("other", "other")]
    assert histogram.folded == 2
    text = b"".join(HistogramFamily(NAME, "Test latency.", histogram).chunks(openmetrics=True)).decode() + "# EOF\n"
    (parsed,) = parse_openmetrics(text)
    overflow = [s for s in parsed.samples if s.labels.get("service") == "other"]
    buckets = {s.labels["le"]: s for s in overflow if s.name == f"{NAME}_bucket"}
    assert [buckets[le].value for le in ("0.1", "1.0", "+Inf")] == [0, 1, 2]
    assert buckets["1.0"].exemplar.labels == {"trace_id": "4" * 32}  # the latest in that bucket
    assert buckets["+Inf"].exemplar.labels == {"trace_id": "3" * 32}
    assert buckets["0.1"].exemplar is None
