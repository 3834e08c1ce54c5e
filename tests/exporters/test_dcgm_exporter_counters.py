"""driftwarden's GPU series against dcgm-exporter's own `etc/default-counters.csv` (vendored):
every field it enables is exported under its name, with its type and dcgm-exporter's labels, or
listed in the README as unavailable through NVML, with the reason.

Read over real HTTP from a daemon polling the stand-in H100 pair (as vGPU guests, so that the
license status exists), in the text format dcgm-exporter serves (0.0.4), in a pod.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from driftwarden.collector import nvml_fake
from driftwarden.collector.nvml_fake import FakeNvml
from driftwarden.exporters.gpu import DCGM_METRICS
from tests.support.dcgm_exporter import counters, unavailable_through_nvml
from tests.support.server import Daemon, running

pytestmark = pytest.mark.server

DCGM_EXPORTER_LABELS = {"gpu", "UUID", "pci_bus_id", "device", "modelName", "Hostname"}
POD = {"POD_NAME": "fraud-gpu-7d9f-x2kq", "POD_NAMESPACE": "ml", "GPU_CONTAINER": "model"}
TEXT_FORMAT = "text/plain; version=0.0.4"


@pytest.fixture
def in_a_pod(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in POD.items():
        monkeypatch.setenv(name, value)


def polled(d: Daemon) -> str:
    """/metrics in the text format after one poll of the GPUs."""
    loop = d.server.servers[0].get_loop()
    asyncio.run_coroutine_threadsafe(d.app.state.gpu.poll_once(), loop).result(timeout=10)
    response = d.client.get("/metrics", headers={"accept": TEXT_FORMAT})
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    return response.text


def exported(text: str) -> Iterator[tuple[str, str, list[dict[str, str]]]]:
    """(name, type as written, label sets) of each DCGM family."""
    types = dict(re.findall(r"^# TYPE (DCGM_\S+) (\S+)$", text, re.MULTILINE))
    for family in text_string_to_metric_families(text):
        if family.name in types:
            yield family.name, types[family.name], [s.labels for s in family.samples]


def h100_vgpu_pair() -> FakeNvml:
    nvml = FakeNvml.h100_pair()
    for gpu in nvml.gpus:
        gpu.virtualization_mode = nvml_fake.NVML_GPU_VIRTUALIZATION_MODE_VGPU
    return nvml


@pytest.mark.usefixtures("in_a_pod")
def test_every_default_counter_is_exported_with_its_type_and_dcgm_exporter_labels(tmp_path: Path) -> None:
    enabled = counters()
    assert len(enabled) >= 20 and {c.type for c in enabled} <= {"gauge", "counter", "label"}
    with running(tmp_path / "s.db", h100_vgpu_pair(), gpu={"enabled": True, "interval": "1h"}) as d:
        families = {name: (kind, labels) for name, kind, labels in exported(polled(d))}
    missing = []
    for counter in enabled:
        if counter.type == "label":  # e.g. DCGM_FI_DRIVER_VERSION: a label on every series
            for name, (_, label_sets) in families.items():
                assert all(counter.field in labels for labels in label_sets), (counter.field, name)
            continue
        if counter.field not in families:
            missing.append(counter.field)
            continue
        kind, label_sets = families[counter.field]
        assert kind == counter.type, counter.field
        assert len(label_sets) == 2, counter.field  # one series per GPU
        for labels in label_sets:
            assert set(labels) >= DCGM_EXPORTER_LABELS, counter.field
            assert {labels[k] for k in ("pod", "namespace", "container")} == {*POD.values()}, counter.field
            if counter.field == "DCGM_FI_DEV_XID_ERRORS":
                assert (labels["err_code"], labels["err_msg"]) == ("0", "No Error")
    assert missing == [], f"enabled in default-counters.csv, not exported by the stand-in H100 pair: {missing}"
    ours = {name: kind for name, kind, _ in DCGM_METRICS}
    assert {c.field: c.type for c in enabled if c.field in ours} == {
        c.field: ours[c.field] for c in enabled if c.field in ours
    }


def test_what_an_older_gpu_cannot_give_is_listed_in_the_readme_with_the_reason(tmp_path: Path) -> None:
    """An A100 PCIe (Ampere: no GPM, no NVLink bridge, bare metal): every enabled field it does not
    export is in the README's table, and the table names only real fields, each with a reason."""
    table = unavailable_through_nvml()
    assert table and all(len(reason) > 20 for reason in table.values()), table
    assert set(table) <= {name for name, _, _ in DCGM_METRICS}
    nvml = FakeNvml.with_gpus(1)
    a100 = nvml.gpus[0]
    a100.name, a100.gpm_supported, a100.nvlink_data_kib = "NVIDIA A100 80GB PCIe", False, None
    with running(tmp_path / "s.db", nvml, gpu={"enabled": True, "interval": "1h"}) as d:
        present = {name for name, _, _ in exported(polled(d))}
    absent = {c.field for c in counters() if c.type != "label"} - present
    assert absent, "the A100 stand-in should lack the profiling fields"
    assert absent <= set(table), f"not exported on an A100 and not in the README's table: {absent - set(table)}"
