"""The daemon's anomaly wiring: reads its own signals every evaluation and hands them to the seasonal detector.

Signals (`anomaly.signals`), each a series per label set the daemon already bounds:

    request_rate       requests per second over the last 5 minutes, per service/model/operation (traces, metrics),
                       from the request histogram's counts, as Prometheus' rate() reads them
    error_ratio        the share of them that failed (status="error")
    p99_latency        the 99th percentile duration of the recent requests, in seconds
    gpu_utilization    DCGM_FI_DEV_GPU_UTIL of each GPU (percent), from the latest NVML poll
    gpu_memory         FB_USED / (FB_USED + FB_FREE) of each GPU
    prediction_volume  prediction records accepted per second since the previous evaluation, per model

The detector runs in a worker thread (`evaluate`), its history in the state file; `findings` hands the
latest anomalies to the alert engine with every other finding.
"""

from __future__ import annotations

import contextlib
import time
from collections import defaultdict, deque
from collections.abc import Callable, Sequence

from prometheus_client import Counter

from driftwarden.config import Config
from driftwarden.core.errors import StorageError
from driftwarden.core.gpu import FB_FREE, FB_USED, GPU_UTIL, GpuSample, gpu_key
from driftwarden.detectors.findings import AnomalyFinding, Finding
from driftwarden.detectors.latency import RequestStats
from driftwarden.detectors.seasonal import SeasonalDetector, SeriesKey, series_key
from driftwarden.exporters.anomalies import AnomalyCollector
from driftwarden.params import anomaly_params
from driftwarden.persistence.anomaly_history import AnomalyHistory
from driftwarden.persistence.database import Database

__all__ = ["RATE_WINDOW", "AnomalyMonitor"]

RATE_WINDOW = 300.0  # seconds: rates are over the last 5 minutes (or `resolution` when shorter), as rate(x[5m])


class AnomalyMonitor:
    def __init__(
        self,
        config: Config,
        database: Database,
        requests: RequestStats,
        records: Counter,
        *,
        gpu_samples: Callable[[], Sequence[GpuSample]] = list,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.params = anomaly_params(config.anomaly)
        self.enabled = config.anomaly.enabled
        self.requests = requests
        self.records = records
        self.gpu_samples = gpu_samples
        self._clock = clock
        self.window = min(RATE_WINDOW, self.params.resolution)
        self._counts: deque[tuple[float, dict[SeriesKey, float]]] = deque()  # (at, counter totals) per evaluation
        self._findings: list[AnomalyFinding] = []
        self.detector: SeasonalDetector | None = None
        if self.enabled:
            self.detector = SeasonalDetector(self.params, AnomalyHistory(database))

    def evaluate(self) -> None:
        """One evaluation: every signal read and judged (a worker thread; never raises for storage)."""
        if self.detector is None:
            return
        now = self._clock()
        try:
            self._findings = self.detector.observe(self.signals(now), now)
        except StorageError:  # logged and counted by the database; judged again at the next evaluation
            self._findings = []

    def flush(self) -> None:
        if self.detector is not None:
            with contextlib.suppress(StorageError):  # logged and counted by the database
                self.detector.flush()

    def collector(self) -> AnomalyCollector:
        """/metrics: driftwarden_anomaly_score and its kin (empty while disabled)."""
        return AnomalyCollector(
            lambda: self.detector.scores if self.detector is not None else {},
            lambda: (self.detector.series_count(), self.detector.dropped) if self.detector is not None else (0, 0),
        )

    def findings(self) -> list[Finding]:
        return list(self._findings)

    def signals(self, now: float) -> dict[SeriesKey, float]:
        wanted = set(self.params.signals)
        values: dict[SeriesKey, float] = {}
        values.update(self._rates(now, self._counters(wanted)))
        if "p99_latency" in wanted:
            for row in self.requests.quantiles(self.window, now=now):
                labels = {
                    "service": str(row["service"]),
                    "model": str(row["model"]),
                    "operation": str(row["operation"]),
                }
                values[series_key("p99_latency", labels)] = float(row["p99"])
        if wanted & {"gpu_utilization", "gpu_memory"}:
            for sample in self.gpu_samples():
                if sample.lost:
                    continue
                labels = {"gpu": gpu_key(sample)}
                fields = sample.fields
                if "gpu_utilization" in wanted and GPU_UTIL in fields:
                    values[series_key("gpu_utilization", labels)] = float(fields[GPU_UTIL])
                total = fields.get(FB_USED, 0.0) + fields.get(FB_FREE, 0.0)
                if "gpu_memory" in wanted and FB_USED in fields and total > 0:
                    values[series_key("gpu_memory", labels)] = float(fields[FB_USED]) / total
        return {k: v for k, v in values.items() if k[0] in wanted}

    def _counters(self, wanted: set[str]) -> dict[SeriesKey, float]:
        """Counter totals now: requests and failed requests per service/model/operation, records per model."""
        totals: dict[SeriesKey, float] = defaultdict(float)
        if wanted & {"request_rate", "error_ratio"}:
            snapshot = self.requests.durations.snapshot()
            counts = snapshot.cumulative[:, -1].tolist() if len(snapshot.keys) else []
            for key, count in zip(snapshot.keys, counts, strict=True):
                labels = {"service": key[0], "model": key[1], "operation": key[2]}
                totals[series_key("request_rate", labels)] += count
                totals[series_key("error_ratio", labels)] += count if key[3] == "error" else 0.0
        if "prediction_volume" in wanted:
            for metric in self.records.collect():
                for sample in metric.samples:
                    if sample.name.endswith("_total"):
                        totals[series_key("prediction_volume", {"model": sample.labels["model"]})] += sample.value
        return totals

    def _rates(self, now: float, totals: dict[SeriesKey, float]) -> dict[SeriesKey, float]:
        """Per second over the trailing window; error_ratio: failed over all requests in it."""
        counts = self._counts
        while counts and (counts[0][0] > now or (len(counts) > 1 and counts[1][0] <= now - self.window)):
            counts.popleft()  # keeps one sample at or before the window's start (or the clock went back)
        counts.append((now, totals))
        start, before = counts[0]
        elapsed = now - start
        if elapsed <= 0:
            return {}
        rates: dict[SeriesKey, float] = {}
        for key, total in totals.items():
            increase = max(total - before.get(key, 0.0), 0.0)
            if key[0] == "error_ratio":
                requests = max(totals[("request_rate", key[1])] - before.get(("request_rate", key[1]), 0.0), 0.0)
                if requests > 0:
                    rates[key] = increase / requests
            else:
                rates[key] = increase / elapsed
        return rates
