"""GPU telemetry: the NVML poller against an honest fake, dcgm-exporter exposition, per-process
attribution, health findings, and energy / cost per inference."""

from __future__ import annotations

import ctypes
import inspect
import logging
import re
import subprocess
from pathlib import Path

import pynvml
import pytest
from prometheus_client import CollectorRegistry
from prometheus_client.openmetrics.parser import text_string_to_metric_families as parse_openmetrics
from prometheus_client.parser import text_string_to_metric_families

from driftwarden.collector import nvml_fake as fake_nvml
from driftwarden.collector.gpu import NvmlPoller
from driftwarden.collector.gpu_processes import ProcessMatcher, attribute_processes, parse_matchers
from driftwarden.collector.nvml_fake import FakeNvml
from driftwarden.collector.nvml_fields import NVML_API, NVML_CONSTANTS, NVML_ERRORS, NVML_STRUCTURES, load_nvml
from driftwarden.core import gpu as cg
from driftwarden.core import metric_names as eg
from driftwarden.core.gpu import GpuSample
from driftwarden.detectors import gpu as dg
from driftwarden.detectors.findings import FindingKind, Severity
from driftwarden.detectors.gpu import GpuHealth
from driftwarden.detectors.gpu_cost import (
    InferenceCost,
    RequestCounter,
    cost_per_inference,
    energy_per_inference,
    memory_shares,
)
from driftwarden.exporters.exposition import render
from driftwarden.exporters.gpu import DCGM_LABELS, DCGM_METRICS, GpuCollector, workload_labels
from driftwarden.params import GpuParams
from tests.support.tools import required_tool

GIB = 2**30
LOGGER = "driftwarden.gpu"


class Clock:
    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def started(nvml: FakeNvml, clock: Clock | None = None, **settings: object) -> NvmlPoller:
    poller = NvmlPoller(nvml, GpuParams(**settings), clock=clock or Clock(), hostname="node-a")
    assert poller.start()
    return poller


def exposition(collector: GpuCollector, accept: str = "text/plain") -> str:
    """The collector's part of /metrics, as the daemon renders it for `accept`."""
    registry = CollectorRegistry()
    registry.register(collector)
    chunks, _ = render(registry, [], accept)
    return b"".join(chunks).decode()


def families(text: str) -> dict:
    return {f.name: f for f in text_string_to_metric_families(text)}


def sample(at: float, index: int = 0, **kwargs: object) -> GpuSample:
    fields = kwargs.pop("fields", {})
    return GpuSample(index, f"GPU-{index}", "00000000:18:00.0", "H100", f"nvidia{index}", at, fields, **kwargs)


# --- the fake is honest: names, signatures, constants, errors and structures as in pynvml ------------


def fake_functions() -> list[str]:
    """Every pynvml function the fake provides (methods named nvml*, not the structure classes)."""
    return [n for n in vars(FakeNvml) if n.startswith("nvml") and inspect.isfunction(vars(FakeNvml)[n])]


def test_every_function_of_the_fake_is_pynvml_s_with_a_compatible_signature() -> None:
    names = fake_functions()
    assert set(NVML_API) <= set(names)
    assert {"nvmlGpmMetricsGet", "nvmlGpmMigSampleGet", "nvmlDeviceGetMigDeviceHandleByIndex"} <= set(names)
    for name in names:
        assert hasattr(pynvml, name), f"{name} is not a pynvml function"
        fake, real = inspect.signature(getattr(FakeNvml(), name)), inspect.signature(getattr(pynvml, name))
        described = [(p.name, p.kind, p.default) for p in fake.parameters.values()]
        assert described == [(p.name, p.kind, p.default) for p in real.parameters.values()], name


def test_the_fake_constants_equal_pynvml_values() -> None:
    names = [n for n in dir(fake_nvml) if n.startswith(("NVML_", "nvml")) and isinstance(getattr(fake_nvml, n), int)]
    assert set(NVML_CONSTANTS) <= set(names)
    assert len(names) > 90
    for name in names:
        assert getattr(pynvml, name) == getattr(fake_nvml, name), name
        assert getattr(FakeNvml, name) == getattr(fake_nvml, name), name  # read from the "module" a poller is given


def test_the_fake_error_tree_mirrors_pynvml() -> None:
    for name in NVML_ERRORS:
        assert issubclass(getattr(fake_nvml, name), fake_nvml.NVMLError)
        assert issubclass(getattr(pynvml, name), pynvml.NVMLError)
    for code, cls in fake_nvml.NVMLError._valClassMapping.items():
        assert pynvml.NVMLError._valClassMapping[code].__name__ == cls.__name__
        error = fake_nvml.NVMLError(code)  # the base class constructs the subclass, as pynvml's does
        assert type(error) is cls and error.value == code
        assert str(error) == str(pynvml.NVMLError(code)) or code not in fake_nvml._ERROR_STRINGS
    assert isinstance(fake_nvml.NVMLError_GpuIsLost(), fake_nvml.NVMLError)


FAKE_STRUCTURES = sorted(
    n
    for n, v in vars(fake_nvml).items()
    if isinstance(v, type) and issubclass(v, ctypes.Structure | ctypes.Union) and hasattr(v, "_fields_")
)


def test_the_fake_has_every_structure_it_is_asked_for() -> None:
    assert set(NVML_STRUCTURES) <= set(FAKE_STRUCTURES)
    assert {"c_nvmlGpmMetricsGet_t", "c_nvmlGpuInstanceInfo_t", "c_nvmlGridLicensableFeatures_v4_t"} <= set(
        FAKE_STRUCTURES
    )


@pytest.mark.parametrize("struct", FAKE_STRUCTURES)
def test_the_fake_structures_have_pynvml_layout(struct: str) -> None:
    fake, real = getattr(fake_nvml, struct), getattr(pynvml, struct)
    assert [f[0] for f in fake._fields_] == [f[0] for f in real._fields_]
    assert ctypes.sizeof(fake) == ctypes.sizeof(real)
    for (name, fake_type, *_), (_, real_type, *_) in zip(fake._fields_, real._fields_, strict=True):
        assert ctypes.sizeof(fake_type) == ctypes.sizeof(real_type), (struct, name)
        assert getattr(fake, name).offset == getattr(real, name).offset, (struct, name)


def test_clocks_event_reason_bits_equal_pynvml() -> None:
    for name, bit in dg.CLOCKS_EVENT_REASONS.items():
        assert getattr(pynvml, name) == bit, name
        assert getattr(pynvml, name.replace("ClocksEvent", "ClocksThrottle")) == bit


def test_real_pynvml_without_a_gpu_reports_unavailable_and_never_raises(caplog: pytest.LogCaptureFixture) -> None:
    assert load_nvml() is pynvml
    poller = NvmlPoller(nvml=pynvml, hostname="node-a")
    with caplog.at_level(logging.INFO, logger=LOGGER):
        ok = poller.start()
    try:
        if ok:  # a machine with a driver and a GPU: the real path must work too
            samples = poller.poll()
            assert samples and all(s.device.startswith("nvidia") for s in samples)
            return
        assert poller.available is False
        assert poller.poll() == []
        assert len([r for r in caplog.records if r.name == LOGGER]) == 1
        assert "driftwarden_gpu_available 0.0" in exposition(GpuCollector.from_poller(poller))
    finally:
        poller.shutdown()


# --- the poller ---------------------------------------------------------------------------------


def test_poll_of_eight_gpus_reads_every_field_in_dcgm_units() -> None:
    nvml = FakeNvml.with_gpus(8)
    poller = started(nvml)
    samples = poller.poll()
    assert [s.index for s in samples] == list(range(8))
    assert [s.device for s in samples] == [f"nvidia{i}" for i in range(8)]
    assert len({s.uuid for s in samples}) == 8 and samples[1].pci_bus_id == "00000000:28:00.0"
    assert {s.name for s in samples} == {"NVIDIA H100 80GB HBM3"}
    fields = samples[0].fields
    assert set(fields) == set(cg.FIELDS) - {cg.VGPU_LICENSE_STATUS}  # bare metal: no vGPU license
    gpu = nvml.gpus[0]
    assert fields[cg.POWER_USAGE] == 250.0  # 250,000 mW
    assert fields[cg.TOTAL_ENERGY_CONSUMPTION] == gpu.energy_mj  # mJ, as NVML
    assert fields[cg.FB_USED] == 40 * 1024  # MiB, without the reserved 553 MiB (NVML v2 memory info)
    assert fields[cg.FB_FREE] == 81559 - 40 * 1024 - 553
    assert fields[cg.FB_TOTAL] == 81559
    assert (fields[cg.SM_CLOCK], fields[cg.MEM_CLOCK]) == (1980, 2619)
    assert (fields[cg.GPU_TEMP], fields[cg.MEMORY_TEMP]) == (54, 62)
    assert (fields[cg.GPU_UTIL], fields[cg.MEM_COPY_UTIL]) == (87, 41)
    assert fields[cg.FB_RESERVED] == 553
    assert fields[cg.NVLINK_BANDWIDTH_TOTAL] == sum(gpu.nvlink_data_kib or ())  # KiB, RX + TX
    # GPM from the first poll on (start() took the first sample), in DCGM's units: ratios and bytes/s
    assert (fields[cg.PROF_GR_ENGINE_ACTIVE], fields[cg.PROF_PIPE_TENSOR_ACTIVE]) == (0.92, 0.63)
    assert (fields[cg.PROF_SM_ACTIVE], fields[cg.PROF_SM_OCCUPANCY], fields[cg.PROF_DRAM_ACTIVE]) == (0.85, 0.41, 0.55)
    assert fields[cg.PROF_PCIE_TX_BYTES] == 1500 * 2**20 and fields[cg.PROF_NVLINK_RX_BYTES] == 12000 * 2**20
    assert samples[0].instances == ()  # MIG off
    assert fields[cg.XID_ERRORS] == 0
    assert samples[0].clocks_event_reasons == 0 and samples[0].lost is False
    assert poller.driver_version == "550.54.15"
    poller.shutdown()
    assert poller.poll() == [] and nvml._refcount == 0


def test_unsupported_fields_are_left_out_never_zero_and_not_asked_again() -> None:
    nvml = FakeNvml.with_gpus(8)
    nvml.gpus[3].unsupported = {
        "nvmlDeviceGetPcieReplayCounter",
        "nvmlDeviceGetRemappedRows",
        "nvmlDeviceGetTotalEccErrors",
        "nvmlDeviceGetCurrentClocksEventReasons",
        "nvmlDeviceGetCurrentClocksThrottleReasons",
        "NVML_FI_DEV_MEMORY_TEMP",
    }
    poller = started(nvml)
    sample3 = poller.poll()[3]
    missing = {
        cg.PCIE_REPLAY_COUNTER,
        cg.MEMORY_TEMP,
        cg.CORRECTABLE_REMAPPED_ROWS,
        cg.UNCORRECTABLE_REMAPPED_ROWS,
        cg.ROW_REMAP_FAILURE,
        cg.ECC_SBE_VOL_TOTAL,
        cg.ECC_DBE_VOL_TOTAL,
    }
    assert set(sample3.fields) == set(cg.FIELDS) - missing - {cg.VGPU_LICENSE_STATUS}
    assert sample3.clocks_event_reasons is None
    before = nvml.calls["nvmlDeviceGetPcieReplayCounter"]
    poller.poll()
    assert nvml.calls["nvmlDeviceGetPcieReplayCounter"] == before + 7  # GPU 3 is not asked again

    text = exposition(GpuCollector.from_poller(poller))
    replay = families(text)["DCGM_FI_DEV_PCIE_REPLAY_COUNTER"]
    assert sorted(s.labels["gpu"] for s in replay.samples) == [str(i) for i in range(8) if i != 3]


def test_memory_falls_back_to_v1_and_clock_reasons_to_the_older_name(monkeypatch: pytest.MonkeyPatch) -> None:
    nvml = FakeNvml.with_gpus(1)
    nvml.gpus[0].unsupported = {"nvmlDeviceGetMemoryInfo_v2"}  # an older driver: FunctionNotFound
    nvml.gpus[0].clocks_event_reasons = 0x40

    def no_such_function(handle: object) -> int:
        raise fake_nvml.NVMLError(fake_nvml.NVML_ERROR_FUNCTION_NOT_FOUND)

    monkeypatch.setattr(nvml, "nvmlDeviceGetCurrentClocksEventReasons", no_such_function)
    s = started(nvml).poll()[0]
    assert s.fields[cg.FB_USED] == 40 * 1024 + 553  # v1 counts the reserved memory as used
    assert s.clocks_event_reasons == 0x40
    assert nvml.calls["nvmlDeviceGetCurrentClocksThrottleReasons"] == 1


def test_a_gpu_lost_mid_run_is_reported_not_fatal(caplog: pytest.LogCaptureFixture) -> None:
    nvml = FakeNvml.with_gpus(4)
    poller = started(nvml)
    poller.poll()
    nvml.gpus[2].lost = True
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        samples = poller.poll()
        poller.poll()
    assert [s.lost for s in samples] == [False, False, True, False]
    assert samples[2].fields == {} and samples[2].uuid == nvml.gpus[2].uuid
    assert all(samples[i].fields for i in (0, 1, 3))
    assert len([r for r in caplog.records if "lost" in r.getMessage()]) == 1

    fams = families(exposition(GpuCollector.from_poller(poller)))
    lost = {s.labels["gpu"]: s.value for s in fams["driftwarden_gpu_lost"].samples}
    assert lost == {"0": 0.0, "1": 0.0, "2": 1.0, "3": 0.0}
    assert {s.labels["gpu"] for s in fams["DCGM_FI_DEV_GPU_UTIL"].samples} == {"0", "1", "3"}
    health = GpuHealth()
    health.update(samples)
    assert [(f.subject, f.severity, f.gpu) for f in health.evaluate()] == [("lost", Severity.PAGE, nvml.gpus[2].uuid)]


def test_a_gpu_lost_before_start_is_listed_as_lost() -> None:
    nvml = FakeNvml.with_gpus(2)
    nvml.gpus[1].lost = True
    samples = started(nvml).poll()
    assert [s.lost for s in samples] == [False, True]


@pytest.mark.parametrize(
    ("nvml", "enabled", "level"),
    [
        (FakeNvml(library_missing=True), "auto", logging.INFO),
        (FakeNvml(init_error=fake_nvml.NVML_ERROR_DRIVER_NOT_LOADED), True, logging.WARNING),
        (FakeNvml(gpus=[]), "auto", logging.INFO),
        (None, "auto", logging.INFO),
        (FakeNvml(), False, logging.INFO),
    ],
    ids=["no-library", "no-driver", "no-gpu", "not-installed", "disabled"],
)
def test_no_gpu_means_one_log_line_and_available_zero(
    nvml: FakeNvml | None, enabled: object, level: int, caplog: pytest.LogCaptureFixture
) -> None:
    poller = NvmlPoller(nvml, GpuParams(enabled=enabled), hostname="node-a")
    with caplog.at_level(logging.DEBUG, logger=LOGGER):
        assert poller.start() is False
        assert poller.poll() == []
        poller.shutdown()
    records = [r for r in caplog.records if r.name == LOGGER]
    assert len(records) == 1 and records[0].levelno == level
    text = exposition(GpuCollector.from_poller(poller))
    assert "driftwarden_gpu_available 0.0" in text
    assert "DCGM_" not in text
    if nvml is not None:
        assert nvml._refcount == 0  # whatever was initialized was shut down
        if enabled is False:
            assert "nvmlInit" not in nvml.calls


def test_profiling_fields_come_from_gpm_on_hopper_and_are_absent_elsewhere() -> None:
    nvml = FakeNvml.with_gpus(3)
    older = nvml.gpus[1]  # an A100: no GPM
    older.name, older.gpm_supported = "NVIDIA A100-SXM4-80GB", False
    pcie = nvml.gpus[2]  # an H100 PCIe: GPM without NVLink
    pcie.nvlink_data_kib = None
    for metric in (
        fake_nvml.NVML_GPM_METRIC_NVLINK_TOTAL_RX_PER_SEC,
        fake_nvml.NVML_GPM_METRIC_NVLINK_TOTAL_TX_PER_SEC,
    ):
        del pcie.gpm[metric]
    poller = started(nvml)
    hopper, ampere, h100_pcie = poller.poll()
    assert set(cg.PROF_FIELDS) <= set(hopper.fields)
    assert not set(cg.PROF_FIELDS) & set(ampere.fields)
    assert set(cg.PROF_FIELDS) - set(h100_pcie.fields) == {cg.PROF_NVLINK_RX_BYTES, cg.PROF_NVLINK_TX_BYTES}
    assert cg.NVLINK_BANDWIDTH_TOTAL not in h100_pcie.fields
    nvml.gpus[0].gpm[fake_nvml.NVML_GPM_METRIC_ANY_TENSOR_UTIL] = 10.0  # the next interval
    assert poller.poll()[0].fields[cg.PROF_PIPE_TENSOR_ACTIVE] == 0.1
    assert nvml.calls["nvmlGpmQueryDeviceSupport"] == 3  # asked once per GPU
    assert nvml.calls["nvmlGpmSampleGet"] == 2 * 3  # two GPM GPUs: the priming sample, then one a poll
    poller.shutdown()
    assert nvml._gpm_samples == {}  # every sample buffer freed


def mig_h100(nvml: FakeNvml, index: int = 0) -> fake_nvml.FakeGpu:
    gpu = nvml.gpus[index]
    gpu.mig_mode = fake_nvml.NVML_DEVICE_MIG_ENABLE
    gpu.mig_instances = [
        fake_nvml.FakeMigInstance(
            instance_id=1, profile_id=9, profile_name="MIG 3g.40gb", slices=3, memory_total=40 * GIB
        ),
        fake_nvml.FakeMigInstance(instance_id=5, memory_used=2 * GIB),
    ]
    gpu.mig_instances[1].gpm[fake_nvml.NVML_GPM_METRIC_GRAPHICS_UTIL] = 15.0
    return gpu


def test_mig_instances_report_their_memory_and_profiling_fields_with_dcgm_exporter_labels() -> None:
    nvml = FakeNvml.h100_pair()
    mig_h100(nvml)
    poller = started(nvml)
    mig, whole = poller.poll()
    assert whole.instances == ()
    assert [(i.instance_id, i.profile) for i in mig.instances] == [(1, "3g.40gb"), (5, "1g.10gb")]
    small = mig.instances[1].fields
    assert set(small) == set(cg.INSTANCE_FIELDS)
    assert small[cg.FB_USED] == 2 * 1024 and small[cg.PROF_GR_ENGINE_ACTIVE] == 0.15
    assert mig.fields[cg.PROF_GR_ENGINE_ACTIVE] == 0.92  # the whole GPU, as before

    fams = families(exposition(GpuCollector.from_poller(poller)))
    engine = {
        (s.labels["gpu"], s.labels.get("GPU_I_ID"), s.labels.get("GPU_I_PROFILE")): s.value
        for s in fams[cg.PROF_GR_ENGINE_ACTIVE].samples
    }
    assert engine == {
        ("0", None, None): 0.92,
        ("0", "1", "3g.40gb"): 0.92,
        ("0", "5", "1g.10gb"): 0.15,
        ("1", None, None): 0.92,
    }
    instance_series = [s for s in fams[cg.FB_USED].samples if "GPU_I_ID" in s.labels]
    assert {s.labels["UUID"] for s in instance_series} == {nvml.gpus[0].uuid}  # the parent GPU's identity
    assert all(
        set(s.labels) == {*DCGM_LABELS, "DCGM_FI_DRIVER_VERSION", "GPU_I_PROFILE", "GPU_I_ID"} for s in instance_series
    )
    assert cg.GPU_TEMP in fams and all("GPU_I_ID" not in s.labels for s in fams[cg.GPU_TEMP].samples)


def test_a_gpu_in_mig_mode_has_no_gpu_util_and_each_instance_its_own_processes() -> None:
    nvml = FakeNvml.h100_pair()
    gpu = mig_h100(nvml)
    gpu.processes = [(7, GIB)]  # outside any instance (never on real MIG; the aggregate keeps it)
    gpu.mig_instances[0].processes = [(41, 3 * GIB), (42, None)]
    gpu.mig_instances[1].processes = [(51, GIB)]
    poller = started(nvml)
    mig, whole = poller.poll()
    assert cg.GPU_UTIL not in mig.fields and cg.MEM_COPY_UTIL not in mig.fields  # nvml.h: not supported on MIG
    assert whole.fields[cg.GPU_UTIL] == 87.0
    assert [i.processes for i in mig.instances] == [((41, 3 * GIB),), ((51, GIB),)]
    assert sorted(pid for pid, _ in mig.processes) == [7, 41, 51]  # the parent handle: the aggregate
    poller.shutdown()


def test_mig_instances_created_and_destroyed_while_running() -> None:
    nvml = FakeNvml.h100_pair()
    gpu = mig_h100(nvml)
    poller = started(nvml)
    poller.poll()
    buffers = len(nvml._gpm_samples)
    gpu.mig_instances = [gpu.mig_instances[1], fake_nvml.FakeMigInstance(instance_id=13)]  # 1 destroyed, 13 made
    changed = poller.poll()[0].instances
    assert [i.instance_id for i in changed] == [5, 13]
    assert cg.PROF_GR_ENGINE_ACTIVE not in changed[1].fields and changed[1].fields[cg.FB_USED] == 6 * 1024
    assert len(nvml._gpm_samples) == buffers  # 1's two buffers freed, 13's two allocated
    assert cg.PROF_GR_ENGINE_ACTIVE in poller.poll()[0].instances[1].fields  # measured from its second poll
    profile_lookups = nvml.calls["nvmlDeviceGetGpuInstanceProfileInfoById"]
    poller.poll()
    assert nvml.calls["nvmlDeviceGetGpuInstanceProfileInfoById"] == profile_lookups  # names are remembered
    poller.shutdown()
    assert nvml._gpm_samples == {}


def test_gpus_without_mig_are_asked_once() -> None:
    nvml = FakeNvml.with_gpus(2)
    nvml.gpus[1].mig_supported = False  # e.g. an L40S
    poller = started(nvml)
    poller.poll()
    poller.poll()
    assert nvml.calls["nvmlDeviceGetMigMode"] == 3 + 1  # GPU 0 at start and every poll; GPU 1 once


def test_xid_events_reach_their_gpu_and_the_last_one_is_exported() -> None:
    nvml = FakeNvml.with_gpus(3)
    nvml.gpus[2].xid_supported = False
    poller = started(nvml)
    nvml.inject_xid(1, 13)
    nvml.inject_xid(1, 79)
    nvml.inject_xid(2, 48)  # not registered on GPU 2: never delivered
    first = poller.poll()
    assert [s.xids for s in first] == [(), (13, 79), ()]
    assert first[1].fields[cg.XID_ERRORS] == 79 and first[0].fields[cg.XID_ERRORS] == 0
    assert cg.XID_ERRORS not in first[2].fields
    second = poller.poll()
    assert second[1].xids == () and second[1].fields[cg.XID_ERRORS] == 79


# --- exposition -------------------------------------------------------------------------------


def test_dcgm_metric_table_covers_exactly_the_collected_fields() -> None:
    assert {name for name, _, _ in DCGM_METRICS} == set(cg.FIELDS)
    assert set(cg.INSTANCE_FIELDS) <= set(cg.FIELDS) and set(cg.PROF_FIELDS) <= set(cg.INSTANCE_FIELDS)
    assert DCGM_LABELS == ("gpu", "UUID", "pci_bus_id", "device", "modelName", "Hostname")


def type_lines(text: str) -> dict[str, str]:
    """name -> type, from the exposition's `# TYPE` lines (prometheus_client's parser renames a
    counter's samples to <name>_total, which hides what was written)."""
    return dict(re.findall(r"^# TYPE (\S+) (\S+)$", text, re.MULTILINE))


def sample_names(text: str) -> set[str]:
    return {re.split(r"[{ ]", line, maxsplit=1)[0] for line in text.splitlines() if line and not line.startswith("#")}


def test_exposition_uses_dcgm_exporter_names_types_labels_and_units() -> None:
    nvml = FakeNvml.with_gpus(8)
    nvml.gpus[0].processes = [(4242, 30 * GIB)]
    for gpu in nvml.gpus:
        gpu.virtualization_mode = fake_nvml.NVML_GPU_VIRTUALIZATION_MODE_VGPU  # so every field is there
    nvml.gpus[7].vgpu_licensed = False
    poller = started(nvml, model_processes={"fraud": ("pid:4242",), "idle": ("pid:1",)})
    nvml.inject_xid(5, 94)
    poller.poll()
    text = exposition(GpuCollector.from_poller(poller))
    fams = families(text)

    dcgm = {name: kind for name, kind, _ in DCGM_METRICS}
    assert {n for n in type_lines(text) if n.startswith("DCGM_")} == set(dcgm)
    assert {n for n in sample_names(text) if n.startswith("DCGM_")} == set(dcgm)  # no _total, no suffix of any kind
    for name, kind in dcgm.items():
        assert type_lines(text)[name] == kind, name  # as dcgm-exporter types them in the text format
        family = fams[name]
        assert len(family.samples) == 8
        for s in family.samples:
            extra = {"err_code", "err_msg"} if name == cg.XID_ERRORS else set()
            assert set(s.labels) == {*DCGM_LABELS, "DCGM_FI_DRIVER_VERSION", *extra}, name
    assert "_total" not in text
    by_gpu = {s.labels["gpu"]: s for s in fams["DCGM_FI_DEV_POWER_USAGE"].samples}
    assert by_gpu["0"].value == 250.0
    assert by_gpu["3"].labels == {
        "gpu": "3",
        "UUID": nvml.gpus[3].uuid,
        "pci_bus_id": "00000000:48:00.0",
        "device": "nvidia3",
        "modelName": "NVIDIA H100 80GB HBM3",
        "Hostname": "node-a",
        "DCGM_FI_DRIVER_VERSION": "550.54.15",
    }
    energy = {s.labels["gpu"]: s.value for s in fams["DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION"].samples}
    assert energy["2"] == nvml.gpus[2].energy_mj
    xids = {s.labels["gpu"]: (s.value, s.labels["err_code"], s.labels["err_msg"]) for s in fams[cg.XID_ERRORS].samples}
    assert xids["5"] == (94, "94", "Contained ECC error") and xids["0"] == (0, "0", "No Error")
    assert {s.labels["gpu"]: s.value for s in fams["DCGM_FI_DEV_FB_USED"].samples}["0"] == 40960
    assert {s.labels["gpu"]: s.value for s in fams["DCGM_FI_PROF_GR_ENGINE_ACTIVE"].samples}["0"] == 0.92
    licensed = {s.labels["gpu"]: s.value for s in fams["DCGM_FI_DEV_VGPU_LICENSE_STATUS"].samples}
    assert licensed["0"] == 1.0 and licensed["7"] == 0.0
    assert fams["driftwarden_gpu_available"].samples[0].value == 1.0
    memory = {s.labels["model"]: s.value for s in fams["driftwarden_model_gpu_memory_bytes"].samples}
    assert memory == {"fraud": 30 * GIB, "idle": 0.0}

    # OpenMetrics has no counter without _total: the same names, typed unknown
    openmetrics = exposition(GpuCollector.from_poller(poller), "application/openmetrics-text; version=1.0.0")
    assert {f.name for f in parse_openmetrics(openmetrics)} >= set(dcgm)
    for name, kind in dcgm.items():
        assert type_lines(openmetrics)[name] == ("gauge" if kind == "gauge" else "unknown"), name
    assert {n for n in sample_names(openmetrics) if n.startswith("DCGM_")} == set(dcgm)


def test_xid_labels_follow_the_last_xid_as_dcgm_exporter_writes_them() -> None:
    nvml = FakeNvml.h100_pair()
    poller = started(nvml)
    nvml.inject_xid(1, 79)
    poller.poll()
    nvml.inject_xid(0, 9999)  # not in NVIDIA's catalog
    poller.poll()
    xids = families(exposition(GpuCollector.from_poller(poller)))[cg.XID_ERRORS].samples
    assert [(s.labels["gpu"], s.value, s.labels["err_code"], s.labels["err_msg"]) for s in xids] == [
        ("0", 9999.0, "9999", "Unknown Error"),
        ("1", 79.0, "79", "GPU has fallen off the bus"),
    ]
    assert all(cg.xid_message(xid) != "Unknown Error" for xid in cg.CRITICAL_XIDS)  # every paging XID is named


def test_pod_namespace_and_container_of_the_workload_label_every_gpu_series() -> None:
    environ = {"POD_NAME": "fraud-gpu-0", "POD_NAMESPACE": "ml", "GPU_CONTAINER": "model", "HOME": "/root"}
    assert workload_labels(environ) == {"pod": "fraud-gpu-0", "namespace": "ml", "container": "model"}
    assert workload_labels({"POD_NAME": "fraud-gpu-0", "POD_NAMESPACE": ""}) == {"pod": "fraud-gpu-0"}
    poller = started(FakeNvml.h100_pair())
    poller.poll()
    fams = families(exposition(GpuCollector.from_poller(poller, workload=workload_labels(environ))))
    dcgm = [s for name, f in fams.items() if name.startswith("DCGM_") for s in f.samples]
    assert dcgm and all(s.labels.items() >= workload_labels(environ).items() for s in dcgm)
    own = [s for name, f in fams.items() if not name.startswith("DCGM_") for s in f.samples]
    assert own and not any("pod" in s.labels for s in own)  # the scrape's target labels say that


def promtool() -> str:
    return required_tool("promtool", package="prometheus")


# What `promtool check metrics` lints in dcgm-exporter's own names and labels (its output gets
# the same complaints); anything else is a defect of ours.
DCGM_LINT = re.compile(
    r"^DCGM_FI_(DEV|PROF)_\w+ (label names should be written in 'snake_case' not 'camelCase'"
    r"|metric name should not include type 'counter'|counter metrics should have \"_total\" suffix)$"
)


@pytest.mark.promtool
def test_promtool_accepts_the_exposition() -> None:
    nvml = FakeNvml.with_gpus(8)
    poller = started(nvml, cost_per_hour=2.5, model_processes={"fraud": ("pid:1",)})
    poller.poll()
    cost = InferenceCost(2.5, fallback_model="fraud")
    cost.update(poller.latest(), {})
    cost.update([sample(s.at + 60, s.index, fields=s.fields) for s in poller.latest()], {})
    cost.evaluate({"1m": {"fraud": 100}, "1h": {"fraud": 1000}})
    text = exposition(GpuCollector.from_poller(poller, inference=lambda: cost.latest))
    assert "driftwarden_inference_cost_dollars" in text
    done = subprocess.run([promtool(), "check", "metrics"], input=text, capture_output=True, text=True, timeout=60)
    problems = [line for line in (done.stdout + done.stderr).splitlines() if line.strip()]
    assert done.returncode in (0, 3), problems  # 3: lint findings only; 1 would be a parse error
    assert [p for p in problems if not DCGM_LINT.match(p)] == []
    ours = "\n".join(line for line in text.splitlines(keepends=False) if "DCGM_" not in line) + "\n"
    done = subprocess.run([promtool(), "check", "metrics"], input=ours, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr


# --- per-process attribution ---------------------------------------------------------------------


def fake_proc(root: Path) -> Path:
    entries = {
        100: {"cmdline": b"python3\0-m\0vllm.entrypoints.openai.api_server\0--model\0llama\0", "cgroup": b"0::/x\n"},
        200: {"cmdline": b"tritonserver\0", "cgroup": b"0::/kubepods/burstable/pod-abc123/cri-containerd-9f\n"},
        300: {"cmdline": b"python3\0batch.py\0", "cgroup": b"0::/system.slice\n"},
        500: {"cmdline": b"python3\0train.py\0", "cgroup": b"0::/user.slice\n"},
    }
    for pid, files in entries.items():
        (root / str(pid)).mkdir(parents=True)
        for name, content in files.items():
            (root / str(pid) / name).write_bytes(content)
    return root


def test_processes_map_to_models_by_pid_cgroup_and_command_line(tmp_path: Path) -> None:
    proc = fake_proc(tmp_path / "proc")
    matchers = parse_matchers(
        {"llm": ["cmd:vllm.entrypoints"], "fraud": ["cgroup:pod-abc123"], "batch": ["pid:300", "cmd:nothing"]}
    )
    processes = [(100, 10 * GIB), (200, 2 * GIB), (300, GIB), (400, 5 * GIB), (500, 3 * GIB), (100, GIB)]
    got = attribute_processes(processes, matchers, proc_root=proc)
    assert got == {"llm": 11 * GIB, "fraud": 2 * GIB, "batch": GIB}  # 400 has no /proc entry, 500 matches nothing


def test_poller_attributes_gpu_memory_per_model_across_gpus(tmp_path: Path) -> None:
    proc = fake_proc(tmp_path / "proc")
    nvml = FakeNvml.with_gpus(2)
    nvml.gpus[0].processes = [(100, 10 * GIB), (200, 2 * GIB)]
    nvml.gpus[1].processes = [(100, 20 * GIB), (999, GIB), (300, None)]  # None: WDDM, left out
    settings = GpuParams(model_processes={"llm": ("cmd:vllm",), "fraud": ("cgroup:pod-abc123",), "x": ("pid:7",)})
    poller = NvmlPoller(nvml, settings, hostname="h", proc_root=proc)
    assert poller.start()
    samples = poller.poll()
    assert samples[1].processes == ((100, 20 * GIB), (999, GIB))
    assert poller.model_memory() == {"llm": 30 * GIB, "fraud": 2 * GIB, "x": 0}
    assert poller.model_memory_by_gpu() == {
        nvml.gpus[0].uuid: {"llm": 10 * GIB, "fraud": 2 * GIB},
        nvml.gpus[1].uuid: {"llm": 20 * GIB},
    }


@pytest.mark.parametrize("text", ["foo:bar", "pid:abc", "cmd:", "vllm"])
def test_malformed_process_matchers_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match="process matcher"):
        ProcessMatcher.parse(text)


# --- health findings -----------------------------------------------------------------------------


def findings_of(health: GpuHealth, now: float | None = None) -> list[tuple[str, Severity]]:
    return [(f.subject, f.severity) for f in health.evaluate(now)]


def test_xid_findings_page_for_critical_ones_and_expire() -> None:
    health = GpuHealth(event_hold=300.0)
    health.update([sample(1000.0, 0, xids=(13,)), sample(1000.0, 1, xids=(79, 79))])
    got = health.evaluate()
    assert [(f.subject, f.severity, f.gpu, f.labels["xid"], f.value) for f in got] == [
        ("xid", Severity.WARNING, "GPU-0", "13", 13.0),
        ("xid", Severity.PAGE, "GPU-1", "79", 79.0),
    ]
    assert got[1].kind is FindingKind.GPU and got[1].evidence["count"] == 2
    assert got[1].labels["UUID"] == "GPU-1" and got[1].labels["gpu"] == "1"
    for xid in (48, 63, 64, 74, 79, 92, 94, 95):
        assert dg.xid_severity(xid) is Severity.PAGE
    health.update([sample(1300.0, 0), sample(1300.0, 1)])
    assert len(health.evaluate()) == 2
    health.update([sample(1301.0, 0), sample(1301.0, 1)])
    assert health.evaluate() == []


def test_framebuffer_above_95_percent_for_five_minutes() -> None:
    def fb(at: float, free: float) -> GpuSample:
        return sample(at, fields={cg.FB_FREE: free, cg.FB_USED: 81920.0 - free, cg.FB_TOTAL: 81920.0})

    health = GpuHealth()
    for t in range(0, 300, 10):
        health.update([fb(t, 2000.0)])  # 97.6 % used
    assert findings_of(health) == []  # 290 s so far
    health.update([fb(299.0, 2000.0)])
    assert findings_of(health) == []
    health.update([fb(300.0, 2000.0)])
    assert findings_of(health) == [("framebuffer", Severity.WARNING)]
    health.update([fb(310.0, 8000.0)])  # 90 %: clears, and the clock starts over
    health.update([fb(320.0, 2000.0)])
    assert findings_of(health) == []
    assert dg.framebuffer_ratio({cg.FB_USED: 95.0, cg.FB_FREE: 5.0}) == pytest.approx(0.95)


@pytest.mark.parametrize(
    ("mask", "expected"),
    [
        (0x0, []),
        (0x1, []),  # idle is not throttling
        (0x40, [("thermal_throttle", Severity.WARNING)]),
        (0x20, [("thermal_throttle", Severity.WARNING)]),
        (0x4, [("power_throttle", Severity.INFO)]),
        (0x80 | 0x8, [("power_throttle", Severity.WARNING)]),
        (0x8, [("hw_slowdown", Severity.WARNING)]),
        (0x40 | 0x4, [("thermal_throttle", Severity.WARNING), ("power_throttle", Severity.INFO)]),
    ],
)
def test_throttling_from_clocks_event_reasons(mask: int, expected: list) -> None:
    health = GpuHealth()
    health.update([sample(0.0, clocks_event_reasons=mask)])
    assert findings_of(health) == expected


def test_a_gpu_stuck_at_zero_utilization_while_requests_flow_is_hung() -> None:
    def util(at: float, value: float, processes: tuple = ((42, GIB),)) -> GpuSample:
        return sample(at, fields={cg.GPU_UTIL: value}, processes=processes)

    health = GpuHealth(hung_after=60.0)
    for t in range(0, 60, 5):
        health.update([util(t, 0.0)], requests=50)
    assert findings_of(health) == []
    health.update([util(60.0, 0.0)], requests=50)
    got = health.evaluate()
    assert [(f.subject, f.severity, f.value) for f in got] == [("hung", Severity.PAGE, 60.0)]
    health.update([util(65.0, 3.0)], requests=50)
    assert findings_of(health) == []

    quiet = GpuHealth(hung_after=0.0)
    quiet.update([util(0.0, 0.0)], requests=0)  # no traffic: an idle GPU, not a hung one
    quiet.update([util(5.0, 0.0, processes=())], requests=10)  # nothing runs on it
    quiet.update([util(10.0, 0.0)], requests=None)  # request counts unknown
    assert findings_of(quiet) == []


def test_hung_goes_by_gr_engine_active_where_gpm_measures_it() -> None:
    def busy(at: float, active: float, util: float) -> GpuSample:
        return sample(at, fields={cg.PROF_GR_ENGINE_ACTIVE: active, cg.GPU_UTIL: util}, processes=((42, GIB),))

    health = GpuHealth(hung_after=0.0)
    health.update([busy(0.0, 0.0, 87.0)], requests=10)
    assert findings_of(health) == [("hung", Severity.PAGE)]
    health.update([busy(5.0, 0.004, 0.0)], requests=10)  # under 1 %: what GPU_UTIL rounds to 0
    assert findings_of(health) == [("hung", Severity.PAGE)]
    health.update([busy(10.0, 0.3, 0.0)], requests=10)
    assert findings_of(health) == []


def test_a_gpu_in_mig_mode_is_judged_per_instance() -> None:
    def mig(at: float, *instances: cg.GpuInstanceSample) -> GpuSample:
        return sample(at, fields={cg.PROF_GR_ENGINE_ACTIVE: 0.0}, processes=((41, GIB), (51, GIB)), instances=instances)

    def instance(instance_id: int, active: float | None, *pids: int) -> cg.GpuInstanceSample:
        fields = {} if active is None else {cg.PROF_GR_ENGINE_ACTIVE: active}
        return cg.GpuInstanceSample(instance_id, "1g.10gb", fields, tuple((pid, GIB) for pid in pids))

    health = GpuHealth(hung_after=60.0)
    health.update([mig(0.0, instance(1, None, 41), instance(5, None, 51))], requests=10)  # GPM from the next poll
    for t in (5.0, 60.0):
        health.update([mig(t, instance(1, 0.0, 41), instance(5, 0.5, 51), instance(9, 0.0))], requests=10)
    assert findings_of(health) == []  # 55 s stuck: not yet
    health.update([mig(65.0, instance(1, 0.0, 41), instance(5, 0.5, 51), instance(9, 0.0))], requests=10)
    (hung,) = health.evaluate()
    assert (hung.subject, hung.value, hung.labels["GPU_I_ID"], hung.labels["GPU_I_PROFILE"]) == (
        "hung",
        60.0,
        "1",
        "1g.10gb",
    )
    assert hung.details["processes"] == [41]
    health.update([mig(70.0, instance(1, 0.2, 41), instance(5, 0.5, 51))], requests=10)
    assert findings_of(health) == []


def test_ecc_and_row_remapping_failures() -> None:
    health = GpuHealth(event_hold=300.0)
    health.update([sample(0.0, fields={cg.ECC_SBE_VOL_TOTAL: 12.0, cg.ECC_DBE_VOL_TOTAL: 0.0})])
    assert findings_of(health) == []
    health.update([sample(5.0, fields={cg.ECC_SBE_VOL_TOTAL: 12.0, cg.ECC_DBE_VOL_TOTAL: 2.0})])
    assert findings_of(health) == [("ecc", Severity.PAGE)]

    rows = GpuHealth(event_hold=300.0)
    rows.update([sample(0.0, fields={cg.UNCORRECTABLE_REMAPPED_ROWS: 3.0, cg.ROW_REMAP_FAILURE: 0.0})])
    assert findings_of(rows) == []  # rows remapped before we started are history
    rows.update([sample(5.0, fields={cg.UNCORRECTABLE_REMAPPED_ROWS: 4.0, cg.ROW_REMAP_FAILURE: 0.0})])
    assert findings_of(rows) == [("remapped_rows", Severity.WARNING)]
    rows.update([sample(400.0, fields={cg.UNCORRECTABLE_REMAPPED_ROWS: 4.0, cg.ROW_REMAP_FAILURE: 0.0})])
    assert findings_of(rows) == []
    rows.update([sample(405.0, fields={cg.UNCORRECTABLE_REMAPPED_ROWS: 4.0, cg.ROW_REMAP_FAILURE: 1.0})])
    assert findings_of(rows) == [("remapped_rows", Severity.PAGE)]


def test_health_from_the_poller_end_to_end() -> None:
    nvml = FakeNvml.with_gpus(2)
    clock = Clock(0.0)
    poller = started(nvml, clock)
    health = GpuHealth()
    nvml.inject_xid(0, 79)
    nvml.gpus[1].clocks_event_reasons = 0x40
    nvml.gpus[1].ecc_volatile = (0, 1)
    health.update(poller.poll(), requests=10)
    got = {(f.subject, f.gpu, f.severity) for f in health.evaluate()}
    assert got == {
        ("xid", nvml.gpus[0].uuid, Severity.PAGE),
        ("thermal_throttle", nvml.gpus[1].uuid, Severity.WARNING),
        ("ecc", nvml.gpus[1].uuid, Severity.PAGE),
    }


# --- energy and cost per inference ------------------------------------------------------------


def energy_sample(at: float, mj: float, index: int = 0) -> GpuSample:
    return sample(at, index, fields={cg.TOTAL_ENERGY_CONSUMPTION: mj})


def test_energy_and_cost_per_inference_by_hand() -> None:
    # 300 W for 60 s = 18,000 J; 1,200 requests -> 15 J each; $2.50/h -> 60 s * 2.5 / 3600 / 1200
    assert energy_per_inference(18_000.0, 1200) == 15.0
    assert cost_per_inference(60.0, 2.5, 1200) == pytest.approx(60 * 2.5 / 3600 / 1200)
    assert energy_per_inference(1.0, 0) is None and cost_per_inference(60.0, None, 10) is None
    assert memory_shares({"a": 3 * GIB, "b": GIB, "c": 0}) == {"a": 0.75, "b": 0.25}


def test_a_model_alone_on_its_gpu_gets_all_its_energy() -> None:
    cost = InferenceCost(cost_per_hour=2.5)
    uuid = "GPU-0"
    memory = {uuid: {"fraud": 30 * GIB}}
    cost.update([energy_sample(0.0, 5_000_000.0)], memory)
    cost.update([energy_sample(60.0, 23_000_000.0)], memory)  # +18,000 J in 60 s
    (figure,) = cost.evaluate({"1m": {"fraud": 1200}})
    assert (figure.model, figure.window, figure.seconds) == ("fraud", "1m", 60.0)
    assert (figure.requests, figure.gpus) == (1200, 1.0)
    assert figure.energy_joules == pytest.approx(15.0)
    assert figure.cost_dollars == pytest.approx(60 * 1 * 2.5 / 3600 / 1200)


def test_models_sharing_a_gpu_split_energy_and_cost_by_memory_share() -> None:
    cost = InferenceCost(cost_per_hour=3.6)  # $0.001 per GPU-second
    memory = {"GPU-0": {"llm": 30 * GIB, "rank": 10 * GIB}, "GPU-1": {"llm": 8 * GIB}}
    cost.update([energy_sample(0.0, 0.0, 0), energy_sample(0.0, 0.0, 1)], memory)
    cost.update([energy_sample(60.0, 24_000_000.0, 0), energy_sample(60.0, 12_000_000.0, 1)], memory)
    got = {f.model: f for f in cost.evaluate({"1m": {"llm": 100, "rank": 50}})}
    # llm: 0.75 * 24,000 J + 12,000 J = 30,000 J over 100 requests; GPUs used 1.75
    assert got["llm"].energy_joules == pytest.approx(300.0)
    assert got["llm"].gpus == pytest.approx(1.75)
    assert got["llm"].cost_dollars == pytest.approx(60 * 1.75 * 0.001 / 100)
    # rank: 0.25 * 24,000 J = 6,000 J over 50 requests; GPUs used 0.25
    assert got["rank"].energy_joules == pytest.approx(120.0)
    assert got["rank"].cost_dollars == pytest.approx(60 * 0.25 * 0.001 / 50)


def test_windows_counter_resets_and_missing_inputs() -> None:
    cost = InferenceCost(cost_per_hour=None, fallback_model="m")
    mj = 0.0
    for t in range(0, 130, 10):
        watts = 100.0 if t <= 60 else 400.0
        mj += watts * 10 * 1000 if t else 0.0
        cost.update([energy_sample(float(t), mj)], {})
    got = {f.window: f for f in cost.evaluate({"1m": {"m": 10}, "1h": {"m": 40}})}
    assert got["1m"].seconds == 60.0 and got["1m"].energy_joules == pytest.approx(400 * 60 / 10)
    assert got["1h"].seconds == 120.0  # only two minutes of history so far
    assert got["1h"].energy_joules == pytest.approx((100 * 60 + 400 * 60) / 40)
    assert got["1m"].cost_dollars is None  # no gpu.cost_per_hour

    reset = InferenceCost(cost_per_hour=1.0, fallback_model="m")
    reset.update([energy_sample(0.0, 9_000_000.0)], {})
    reset.update([energy_sample(10.0, 1_000_000.0)], {})  # the driver reloaded: counts from 0
    assert reset.evaluate({"1m": {"m": 1}})[0].energy_joules == pytest.approx(1000.0)
    assert reset.evaluate({"1m": {"m": 0}, "1h": {"other": 5}}) == []  # no requests / no GPU time


def test_inference_figures_are_exported_per_model_and_window() -> None:
    cost = InferenceCost(cost_per_hour=2.5, fallback_model="fraud")
    cost.update([energy_sample(0.0, 0.0)], {})
    cost.update([energy_sample(60.0, 18_000_000.0)], {})
    cost.evaluate({"1m": {"fraud": 1200}, "1h": {"fraud": 2400}})
    collector = GpuCollector(list, available=lambda: True, hostname="h", inference=lambda: cost.latest)
    fams = families(exposition(collector))
    energy = {s.labels["window"]: s.value for s in fams[eg.INFERENCE_ENERGY].samples}
    dollars = {s.labels["window"]: s.value for s in fams[eg.INFERENCE_COST].samples}
    assert energy == pytest.approx({"1m": 15.0, "1h": 7.5})
    assert dollars == pytest.approx({"1m": 60 * 2.5 / 3600 / 1200, "1h": 60 * 2.5 / 3600 / 2400})


def test_request_counter_windows() -> None:
    clock = Clock(10_000.0)
    counter = RequestCounter(clock=clock, max_models=2)
    counter.add("a", 5, at=9_999.0)
    counter.add("a", 7, at=9_930.0)
    counter.add("b", 3, at=7_000.0)
    counter.add("c", 1)  # a third model: counted as "other"
    assert counter.counts(60.0) == {"a": 5, "b": 0, "other": 1}
    assert counter.windows() == {"1m": {"a": 5, "b": 0, "other": 1}, "1h": {"a": 12, "b": 3, "other": 1}}
    assert counter.count(5.0) == 6
    clock.now += 3_600
    assert counter.count(3_600.0) == 0  # everything aged out
