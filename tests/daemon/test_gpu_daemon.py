"""GPU telemetry in the running daemon, with the honest fake NVML module."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from driftwarden.collector.nvml_fake import FakeNvml
from driftwarden.sink import WebhookSink
from tests.support.server import Daemon, running

pytestmark = pytest.mark.server


def poll(d: Daemon) -> None:
    gpu = d.app.state.gpu
    asyncio.run_coroutine_threadsafe(gpu.poll_once(), d.server.servers[0].get_loop()).result(timeout=10)


def test_dcgm_metrics_and_a_critical_xid_pages(tmp_path: Path) -> None:
    nvml = FakeNvml.with_gpus(2)
    sink = WebhookSink().start()
    config = {
        "gpu": {"enabled": True, "interval": "1h"},  # polled by the test, not the timer
        "alerting": {"for": 1, "group_wait": "0s"},
        "receivers": [{"name": "oncall", "type": "webhook", "url": sink.url}],
        "routes": [{"match": {"severity": "page"}, "receivers": ["oncall"]}],
    }
    try:
        with running(tmp_path / "s.db", nvml, **config) as d:
            poll(d)
            text = d.client.get("/metrics").text
            assert "driftwarden_gpu_available 1.0" in text
            util = [x for x in text.splitlines() if x.startswith("DCGM_FI_DEV_GPU_UTIL{")]
            assert len(util) == 2 and all(x.endswith(" 87.0") for x in util)
            assert 'UUID="GPU-00000000-1111-2222-3333-000000000000"' in util[0] and 'device="nvidia0"' in util[0]
            nvml.inject_xid(1, 79)  # fallen off the bus
            poll(d)
            d.evaluate()
            (delivery,) = sink.wait_for(1)
            alert = delivery.json()["alerts"][0]
            assert alert["labels"]["alertname"] == "GPUXid" and alert["labels"]["severity"] == "page"
    finally:
        sink.stop()


def test_no_gpu_leaves_the_daemon_working(tmp_path: Path) -> None:
    with running(tmp_path / "s.db", FakeNvml(library_missing=True), gpu={"enabled": "auto"}) as d:
        assert "driftwarden_gpu_available 0.0" in d.client.get("/metrics").text
        assert d.client.get("/readyz").status_code == 200
