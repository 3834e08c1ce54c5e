"""GPU telemetry in the running daemon, with the honest fake NVML module."""

from __future__ import annotations

import asyncio
from pathlib import Path

import numpy as np
import pytest

from driftwarden.collector import nvml_fake
from driftwarden.collector.nvml_fake import FakeMigInstance, FakeNvml
from driftwarden.sink import WebhookSink
from tests.support.records import NDJSON, records
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


GIB = 2**30


def h100_pair_one_hung_instance(gpu0_gpm: bool) -> FakeNvml:
    """The H100 pair: GPU 0 whole and idle while its process waits; GPU 1 in MIG mode with one
    instance idle under a process (hung), one busy and one idle with nothing running in it."""
    nvml = FakeNvml.h100_pair()
    whole, mig = nvml.gpus
    whole.processes = [(4100, 8 * GIB)]
    if gpu0_gpm:  # GPM says the engine does nothing; GPU_UTIL, had it been read, says 87 %
        whole.gpm[nvml_fake.NVML_GPM_METRIC_GRAPHICS_UTIL] = 0.0
    else:  # no GPM (as before Hopper): GPU_UTIL is what there is
        whole.gpm_supported = False
        whole.utilization_gpu = 0
    mig.mig_mode = nvml_fake.NVML_DEVICE_MIG_ENABLE
    mig.mig_instances = [
        FakeMigInstance(instance_id=1, profile_id=9, profile_name="MIG 3g.40gb", slices=3, processes=[(4201, GIB)]),
        FakeMigInstance(instance_id=5, processes=[(4205, GIB)]),
        FakeMigInstance(instance_id=13),
    ]
    for instance in (mig.mig_instances[0], mig.mig_instances[2]):
        instance.gpm[nvml_fake.NVML_GPM_METRIC_GRAPHICS_UTIL] = 0.0
    mig.mig_instances[1].gpm[nvml_fake.NVML_GPM_METRIC_GRAPHICS_UTIL] = 40.0
    return nvml


@pytest.mark.parametrize("gpu0_gpm", [True, False], ids=["gr-engine-active", "gpu-util"])
def test_a_hung_gpu_and_a_hung_mig_instance_page(tmp_path: Path, gpu0_gpm: bool) -> None:
    """NVML reads no GPU_UTIL on a GPU in MIG mode: the hung check goes by PROF_GR_ENGINE_ACTIVE
    where GPM measures it (per GPU, and per MIG instance with that instance's processes), else by
    GPU_UTIL. Over a minute of requests, GPU 0 and GPU 1's instance 1 page; instance 5 (busy) and
    13 (nothing in it) do not."""
    nvml = h100_pair_one_hung_instance(gpu0_gpm)
    now = [1_750_000_000.0]
    config = {"gpu": {"enabled": True, "interval": "1h"}, "alerting": {"for": 1}, "evaluate_every": "1h"}
    with running(tmp_path / "s.db", nvml, lambda: now[0], **config) as d:
        r = d.client.post("/v1/predictions", content=records(np.random.default_rng(7), 200), headers=NDJSON)
        assert r.json()["accepted"] == 200, r.text
        d.evaluate()  # the records are applied: requests flow over the last hour
        for _ in range(14):  # 65 s of polls, 5 s apart
            poll(d)
            now[0] += 5.0
        text = d.client.get("/metrics").text
        util = [x for x in text.splitlines() if x.startswith("DCGM_FI_DEV_GPU_UTIL{")]
        assert len(util) == 1 and f'UUID="{nvml.gpus[0].uuid}"' in util[0]  # none for MIG
        d.evaluate()
        alerts = d.client.get("/v1/alerts").json()["alerts"]
    hung = {
        (a["labels"]["UUID"], a["labels"].get("GPU_I_ID"), a["labels"].get("GPU_I_PROFILE"), a["labels"]["severity"])
        for a in alerts
        if a["labels"]["alertname"] == "GPUHung"
    }
    assert hung == {(nvml.gpus[0].uuid, None, None, "page"), (nvml.gpus[1].uuid, "1", "3g.40gb", "page")}
    (instance_alert,) = (a for a in alerts if a["labels"].get("GPU_I_ID") == "1")
    assert "MIG instance 1 (3g.40gb): hung" in instance_alert["annotations"]["summary"]
