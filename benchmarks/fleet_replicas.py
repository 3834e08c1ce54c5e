"""The replicas of the fleet benchmark: each one's data, drawn from known distributions, and the /metrics
body a driftwarden sidecar would serve for it, built by the daemon's own exporters.

One model (`fraud`, 50 numeric features, the reference's 10 quantile bins) on every replica, configured
as deploy/kubernetes configures it (`CONFIG`: the latency SLOs, the default histogram buckets). Replica i
holds 300-3,000 current rows (its share of the traffic) drawn as:

    f00-f34  N(0, 1), as the reference (f00-f04 with 2 % of values missing)   no drift
    f35-f39  N(0.1, 1) on every replica                                        a slight shift: the larger
                                                                               replicas tell it, the smaller not
    f40-f44  N(0.5, 1) on every replica                                        the fleet drifts
    f45-f49  N(+0.5, 1) on even replicas, N(-0.5, 1) on odd ones               sticky routing: each
                                                                               replica drifts, the fleet less

Its drift report is `detectors.drift.compare()` on those rows (what the daemon's evaluator computes),
exported by `exporters.prometheus.DriftCollector` (the per-feature gauges and the bin values, through
`fleet.export_bins` / `fleet.bin_features`), beside the request histograms of `exporters.requests` fed by
a few thousand simulated requests, the SLO gauges of `exporters.slos` and the counters of
`exporters.prometheus.Instruments`, rendered by `exporters.scrape` as the daemon renders /metrics.

`pooled_psi` is the exact PSI of the fleet: the same `compare()` on every replica's rows put together,
what one daemon would report had it seen all the traffic. The fleet rules must reproduce it.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np
from prometheus_client import CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families

from driftwarden.config import Config, load_config
from driftwarden.core.metric_names import FEATURE_BIN_VALUES
from driftwarden.detectors.drift import DriftReport, compare
from driftwarden.detectors.latency import RequestStats
from driftwarden.detectors.reference import ReferenceProfile
from driftwarden.detectors.slo import SLOTracker
from driftwarden.exporters.prometheus import DriftCollector, Instruments, ModelState
from driftwarden.exporters.requests import RequestCollector, request_histograms
from driftwarden.exporters.scrape import Exposition
from driftwarden.exporters.slos import SloCollector
from driftwarden.params import BinExportParams, slo_params

__all__ = [
    "CONFIG",
    "FEATURES",
    "MODEL",
    "Replica",
    "bin_samples",
    "exposition",
    "pod_name",
    "pooled_psi",
    "reference",
    "replica",
    "samples",
]

MODEL, SERVICE = "fraud", "fraud-model"
FEATURES = tuple(f"f{j:02d}" for j in range(50))
SLIGHT_SHIFT = slice(35, 40)
FLEET_SHIFT = slice(40, 45)
SPLIT = slice(45, 50)
REFERENCE_ROWS = 20_000
CONFIG = {  # deploy/kubernetes/configmap.yaml's model and SLOs
    "models": {MODEL: {"window": 5000}},
    "slos": [
        {"name": "fraud-latency", "service": SERVICE, "objective": 0.99, "threshold": "250ms"},
        {"name": "fraud-availability", "service": SERVICE, "objective": 0.999},
    ],
    "gpu": {"enabled": False},
}


@dataclass(frozen=True)
class Replica:
    index: int
    current: np.ndarray  # (rows, features), NaN missing
    report: DriftReport

    @property
    def pod(self) -> str:
        return pod_name(self.index)


def reference() -> ReferenceProfile:
    return ReferenceProfile.fit(FEATURES, np.random.default_rng(0).normal(size=(REFERENCE_ROWS, len(FEATURES))))


def replica(index: int, profile: ReferenceProfile) -> Replica:
    rng = np.random.default_rng(1000 + index)
    rows = int(rng.integers(300, 3001))
    current = rng.normal(size=(rows, len(FEATURES)))
    current[:, SLIGHT_SHIFT] += 0.1
    current[:, FLEET_SHIFT] += 0.5
    current[:, SPLIT] += 0.5 if index % 2 == 0 else -0.5
    current[:, :5][rng.random((rows, 5)) < 0.02] = np.nan
    return Replica(index, current, compare(MODEL, profile, FEATURES, current))


def pod_name(index: int) -> str:
    """A Deployment's pod name: fraud-model-<template hash>-<5 characters>, stable per index."""
    digest = hashlib.sha256(str(index).encode()).hexdigest()
    return f"{SERVICE}-7d9f8c6b5-{digest[:5]}"


def exposition(r: Replica, bins: BinExportParams, config: Config | None = None) -> bytes:
    """The /metrics body (text format 0.0.4) replica `r`'s sidecar serves."""
    config = config or load_config(None, **CONFIG)
    rng = np.random.default_rng(r.index)
    registry = CollectorRegistry()
    instruments = Instruments(registry)
    rows = r.current.shape[0]
    instruments.records.labels(MODEL, "file").inc(rows * 7)  # the window holds the latest of more records
    for seconds in rng.gamma(2.0, 0.01, 20):
        instruments.evaluation_duration.observe(seconds)

    requests = RequestStats(config.latency_buckets())
    calls = rows * 7
    failed = rng.random(calls) < 0.002
    keys = [(SERVICE, MODEL, "POST /predict", "error" if bad else "ok") for bad in failed.tolist()]
    requests.durations.observe(keys, rng.lognormal(np.log(0.08), 0.6, calls))
    registry.register(RequestCollector(requests))

    slos = {s.name: SLOTracker(slo_params(s)) for s in config.slos}
    for tracker in slos.values():
        tracker.total_good, tracker.total_bad = calls - int(failed.sum()), int(failed.sum())
    state = ModelState(MODEL, r.report, rows, REFERENCE_ROWS, window_bytes=r.current.nbytes)
    drift = DriftCollector(lambda: [state], lambda: (0, 500_000), bins)
    scrape = Exposition(registry, [drift, SloCollector(lambda: slos)], request_histograms(requests)).snapshot()
    chunks, _ = scrape.render("text/plain")
    return b"".join(chunks)


def samples(body: bytes, name: str | None = None) -> int:
    """Samples (series, once scraped) in an exposition, of one metric or all."""
    families = text_string_to_metric_families(body.decode())
    return sum(1 for f in families for s in f.samples if name is None or s.name == name)


def bin_samples(body: bytes) -> int:
    return samples(body, FEATURE_BIN_VALUES)


def pooled_psi(profile: ReferenceProfile, pooled: np.ndarray) -> dict[str, float]:
    """feature -> the daemon's PSI of `pooled` (every replica's current rows together) against the reference."""
    return {f.name: float(f.scores["psi"]) for f in compare(MODEL, profile, FEATURES, pooled).features}
