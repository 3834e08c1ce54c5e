"""What the daemon's anomaly monitor reads as each signal: request rate, error ratio and p99 from the request
series, GPU utilisation and memory from the latest NVML samples, prediction volume from the records counter;
rates over the trailing five minutes, on an injected clock."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from prometheus_client import CollectorRegistry, Counter

from driftwarden.config import load_config
from driftwarden.core.gpu import FB_FREE, FB_USED, GPU_UTIL, GpuSample
from driftwarden.core.spans import SpanBatch
from driftwarden.daemon.anomalies import AnomalyMonitor
from driftwarden.detectors.latency import RequestStats
from driftwarden.detectors.seasonal import series_key
from driftwarden.persistence.database import Database
from tests.support.clock import ShiftedClock

REQUEST = {"service": "api", "model": "fraud", "operation": "/predict"}


def spans(n: int, errors: int, end: float, seconds: float = 0.1) -> SpanBatch:
    return SpanBatch(
        service=["api"] * n,
        model=["fraud"] * n,
        operation=["/predict"] * n,
        extra=[()] * n,
        trace_id=[f"{i:032x}" for i in range(n)],
        duration=np.full(n, seconds),
        end_time=np.full(n, end),
        error=np.arange(n) < errors,
        input_tokens=np.full(n, np.nan),
        output_tokens=np.full(n, np.nan),
        ttft=np.full(n, np.nan),
        tpot=np.full(n, np.nan),
    )


def test_each_signal_is_read_from_its_source(tmp_path: Path) -> None:
    clock = ShiftedClock()
    config = load_config(None, state_path=str(tmp_path / "s.db"))
    requests = RequestStats(config.latency_buckets(), clock=clock)
    records = Counter("driftwarden_records", "records", ["model", "source"], registry=CollectorRegistry())
    gpu = GpuSample(
        index=0,
        uuid="GPU-0",
        pci_bus_id="0",
        name="H100",
        device="nvidia0",
        at=0.0,
        fields={GPU_UTIL: 85.0, FB_USED: 30_000.0, FB_FREE: 50_000.0},
    )
    db = Database(tmp_path / "s.db")
    monitor = AnomalyMonitor(config, db, requests, records, gpu_samples=lambda: [gpu], clock=clock)
    first = monitor.signals(clock())  # counters' first sample: no rate yet
    assert series_key("gpu_utilization", {"gpu": "GPU-0"}) in first and series_key("request_rate", REQUEST) not in first

    clock.shift = 300.0
    requests.update(spans(600, errors=30, end=clock()))
    records.labels("fraud", "http").inc(1500)
    values = monitor.signals(clock())
    assert values[series_key("request_rate", REQUEST)] == pytest.approx(2.0, rel=1e-3)  # 600 in 300 s (real time ticks)
    assert values[series_key("error_ratio", REQUEST)] == pytest.approx(0.05)
    assert values[series_key("p99_latency", REQUEST)] == pytest.approx(0.1)
    assert values[series_key("prediction_volume", {"model": "fraud"})] == pytest.approx(5.0, rel=1e-3)
    assert values[series_key("gpu_utilization", {"gpu": "GPU-0"})] == 85.0
    assert values[series_key("gpu_memory", {"gpu": "GPU-0"})] == pytest.approx(0.375)

    clock.shift = 900.0  # ten minutes of nothing: the trailing window holds no request
    later = monitor.signals(clock())
    assert later[series_key("request_rate", REQUEST)] == 0.0 and series_key("error_ratio", REQUEST) not in later
    db.close()


def test_disabled_or_narrowed_signals(tmp_path: Path) -> None:
    registry = CollectorRegistry()
    records = Counter("driftwarden_records", "records", ["model", "source"], registry=registry)
    db = Database(tmp_path / "s.db")
    off = load_config(None, anomaly={"enabled": False})
    monitor = AnomalyMonitor(off, db, RequestStats([0.1]), records)
    monitor.evaluate()
    score, *_ = monitor.collector().collect()
    assert monitor.detector is None and monitor.findings() == [] and score.samples == []
    only_gpu = load_config(None, anomaly={"signals": ["gpu_memory"]})
    sample = GpuSample(0, "GPU-1", "0", "H100", "nvidia0", 0.0, fields={FB_USED: 1.0, FB_FREE: 3.0})
    narrowed = AnomalyMonitor(only_gpu, db, RequestStats([0.1]), records, gpu_samples=lambda: [sample])
    assert narrowed.signals(0.0) == {series_key("gpu_memory", {"gpu": "GPU-1"}): 0.25}
    db.close()
