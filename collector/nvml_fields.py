"""NVML field reading: what the poller asks pynvml for, one reader per group of DCGM fields.

Each reader takes the nvml module and a device handle and returns DCGM field -> value in DCGM's
units: framebuffer MiB (NVML gives bytes), power W (NVML: mW), energy mJ (as NVML), clocks MHz,
utilization %. A reader raises whatever NVML raises (NVMLError_NotSupported, GpuIsLost, ...);
`collector.gpu.NvmlPoller` decides what that means for the GPU.

`NVML_API`, `NVML_CONSTANTS`, `NVML_STRUCTURES` and `NVML_ERRORS` name every pynvml function,
constant, structure and error class used here, in `nvml_gpm`, `nvml_mig` and in the poller;
tests check that `collector.nvml_fake` and the real module agree on them.

>>> from driftwarden.collector.nvml_fake import FakeNvml
>>> nvml = FakeNvml.with_gpus(1)
>>> nvml.nvmlInit()
>>> handle = nvml.nvmlDeviceGetHandleByIndex(0)
>>> dict(READERS)["power"](nvml, handle)
{'DCGM_FI_DEV_POWER_USAGE': 250.0}
"""

from __future__ import annotations

import ctypes
from collections.abc import Callable
from types import ModuleType
from typing import Any

from driftwarden.core.gpu import (
    CORRECTABLE_REMAPPED_ROWS,
    DEC_UTIL,
    ECC_DBE_VOL_TOTAL,
    ECC_SBE_VOL_TOTAL,
    ENC_UTIL,
    FB_FREE,
    FB_RESERVED,
    FB_TOTAL,
    FB_USED,
    GPU_TEMP,
    GPU_UTIL,
    MEM_CLOCK,
    MEM_COPY_UTIL,
    MEMORY_TEMP,
    NVLINK_BANDWIDTH_TOTAL,
    PCIE_REPLAY_COUNTER,
    POWER_USAGE,
    ROW_REMAP_FAILURE,
    SM_CLOCK,
    TOTAL_ENERGY_CONSUMPTION,
    UNCORRECTABLE_REMAPPED_ROWS,
    VGPU_LICENSE_STATUS,
)

__all__ = [
    "NVML_API",
    "NVML_CONSTANTS",
    "NVML_ERRORS",
    "NVML_STRUCTURES",
    "READERS",
    "as_text",
    "handle_address",
    "load_nvml",
    "read_clocks_event_reasons",
    "read_memory",
    "read_processes",
]

# The pynvml functions read here and in the poller; tests check that the fake and the real module agree on them.
NVML_API = (
    "nvmlInit",
    "nvmlShutdown",
    "nvmlSystemGetDriverVersion",
    "nvmlDeviceGetCount",
    "nvmlDeviceGetHandleByIndex",
    "nvmlDeviceGetUUID",
    "nvmlDeviceGetName",
    "nvmlDeviceGetPciInfo",
    "nvmlDeviceGetUtilizationRates",
    "nvmlDeviceGetMemoryInfo",
    "nvmlDeviceGetPowerUsage",
    "nvmlDeviceGetTotalEnergyConsumption",
    "nvmlDeviceGetTemperature",
    "nvmlDeviceGetFieldValues",
    "nvmlDeviceGetClockInfo",
    "nvmlDeviceGetEncoderUtilization",
    "nvmlDeviceGetDecoderUtilization",
    "nvmlDeviceGetPcieReplayCounter",
    "nvmlDeviceGetRemappedRows",
    "nvmlDeviceGetTotalEccErrors",
    "nvmlDeviceGetCurrentClocksEventReasons",
    "nvmlDeviceGetCurrentClocksThrottleReasons",
    "nvmlDeviceGetComputeRunningProcesses",
    "nvmlEventSetCreate",
    "nvmlDeviceRegisterEvents",
    "nvmlEventSetWait_v2",
    "nvmlEventSetFree",
    "nvmlDeviceGetVirtualizationMode",
    "nvmlDeviceGetGridLicensableFeatures",
    "nvmlGpmQueryDeviceSupport",
    "nvmlGpmSampleAlloc",
    "nvmlGpmSampleFree",
    "nvmlGpmSampleGet",
    "nvmlGpmMigSampleGet",
    "nvmlGpmMetricsGet",
    "nvmlDeviceGetMigMode",
    "nvmlDeviceGetMaxMigDeviceCount",
    "nvmlDeviceGetMigDeviceHandleByIndex",
    "nvmlDeviceGetGpuInstanceId",
    "nvmlDeviceGetGpuInstanceById",
    "nvmlGpuInstanceGetInfo",
    "nvmlDeviceGetGpuInstanceProfileInfoById",
)
NVML_CONSTANTS = (
    "NVML_SUCCESS",
    "NVML_ERROR_NOT_SUPPORTED",
    "NVML_TEMPERATURE_GPU",
    "NVML_CLOCK_SM",
    "NVML_CLOCK_MEM",
    "NVML_MEMORY_ERROR_TYPE_CORRECTED",
    "NVML_MEMORY_ERROR_TYPE_UNCORRECTED",
    "NVML_VOLATILE_ECC",
    "NVML_FI_DEV_MEMORY_TEMP",
    "NVML_VALUE_TYPE_DOUBLE",
    "NVML_VALUE_TYPE_UNSIGNED_INT",
    "NVML_VALUE_TYPE_UNSIGNED_LONG",
    "NVML_VALUE_TYPE_UNSIGNED_LONG_LONG",
    "NVML_VALUE_TYPE_SIGNED_LONG_LONG",
    "NVML_VALUE_TYPE_SIGNED_INT",
    "NVML_VALUE_TYPE_UNSIGNED_SHORT",
    "nvmlEventTypeXidCriticalError",
    "nvmlMemory_v2",
    "NVML_FI_DEV_NVLINK_THROUGHPUT_DATA_RX",
    "NVML_FI_DEV_NVLINK_THROUGHPUT_DATA_TX",
    "NVML_GPU_VIRTUALIZATION_MODE_VGPU",
    "NVML_DEVICE_MIG_ENABLE",
    "NVML_GPM_METRICS_GET_VERSION",
    "NVML_GPM_METRIC_MAX",
    "NVML_GPM_METRIC_GRAPHICS_UTIL",
    "NVML_GPM_METRIC_SM_UTIL",
    "NVML_GPM_METRIC_SM_OCCUPANCY",
    "NVML_GPM_METRIC_ANY_TENSOR_UTIL",
    "NVML_GPM_METRIC_DRAM_BW_UTIL",
    "NVML_GPM_METRIC_FP64_UTIL",
    "NVML_GPM_METRIC_FP32_UTIL",
    "NVML_GPM_METRIC_FP16_UTIL",
    "NVML_GPM_METRIC_PCIE_TX_PER_SEC",
    "NVML_GPM_METRIC_PCIE_RX_PER_SEC",
    "NVML_GPM_METRIC_NVLINK_TOTAL_TX_PER_SEC",
    "NVML_GPM_METRIC_NVLINK_TOTAL_RX_PER_SEC",
)
NVML_STRUCTURES = ("c_nvmlGpmMetricsGet_t",)  # built here and filled by NVML
NVML_ERRORS = (
    "NVMLError",
    "NVMLError_NotSupported",
    "NVMLError_NotFound",
    "NVMLError_FunctionNotFound",
    "NVMLError_GpuIsLost",
    "NVMLError_Timeout",
    "NVMLError_LibraryNotFound",
    "NVMLError_DriverNotLoaded",
)

MIB = 2**20
ALL_LINKS = 0xFFFFFFFF  # a field value's scopeId for the sum over every NVLink


def load_nvml() -> ModuleType | None:
    """`pynvml` from nvidia-ml-py, or None when it is not installed (the poller then reports no GPU)."""
    try:
        import pynvml
    except ImportError:
        return None
    module: ModuleType = pynvml
    return module


def _utilization(nvml: Any, handle: Any) -> dict[str, float]:
    rates = nvml.nvmlDeviceGetUtilizationRates(handle)
    return {GPU_UTIL: float(rates.gpu), MEM_COPY_UTIL: float(rates.memory)}


def read_memory(nvml: Any, handle: Any) -> dict[str, float]:
    """Like DCGM (and nvidia-smi on R510+): `used` leaves out the driver's reserved memory when
    NVML's v2 memory info is there (FB_RESERVED then says how much); v1 counts it as used and has
    no FB_RESERVED. The handle may be a MIG device's: then it is the instance's memory."""
    info = None
    version = getattr(nvml, "nvmlMemory_v2", None)
    if version is not None:
        try:
            info = nvml.nvmlDeviceGetMemoryInfo(handle, version=version)
        except nvml.NVMLError as exc:  # FunctionNotFound, ArgumentVersionMismatch...: fall back to v1
            if isinstance(exc, getattr(nvml, "NVMLError_GpuIsLost", ())):
                raise
    if info is None:
        info = nvml.nvmlDeviceGetMemoryInfo(handle)
    fields = {FB_USED: float(info.used // MIB), FB_FREE: float(info.free // MIB), FB_TOTAL: float(info.total // MIB)}
    if hasattr(info, "reserved"):
        fields[FB_RESERVED] = float(info.reserved // MIB)
    return fields


def _power(nvml: Any, handle: Any) -> dict[str, float]:
    return {POWER_USAGE: nvml.nvmlDeviceGetPowerUsage(handle) / 1000.0}  # mW -> W


def _energy(nvml: Any, handle: Any) -> dict[str, float]:
    return {TOTAL_ENERGY_CONSUMPTION: float(nvml.nvmlDeviceGetTotalEnergyConsumption(handle))}  # mJ


def _gpu_temp(nvml: Any, handle: Any) -> dict[str, float]:
    return {GPU_TEMP: float(nvml.nvmlDeviceGetTemperature(handle, nvml.NVML_TEMPERATURE_GPU))}


def _memory_temp(nvml: Any, handle: Any) -> dict[str, float]:
    value = nvml.nvmlDeviceGetFieldValues(handle, [nvml.NVML_FI_DEV_MEMORY_TEMP])[0]
    if value.nvmlReturn != nvml.NVML_SUCCESS:
        raise nvml.NVMLError(value.nvmlReturn)  # NOT_SUPPORTED becomes NVMLError_NotSupported
    return {MEMORY_TEMP: float(_field_value(nvml, value))}


def _sm_clock(nvml: Any, handle: Any) -> dict[str, float]:
    return {SM_CLOCK: float(nvml.nvmlDeviceGetClockInfo(handle, nvml.NVML_CLOCK_SM))}


def _mem_clock(nvml: Any, handle: Any) -> dict[str, float]:
    return {MEM_CLOCK: float(nvml.nvmlDeviceGetClockInfo(handle, nvml.NVML_CLOCK_MEM))}


def _encoder(nvml: Any, handle: Any) -> dict[str, float]:
    utilization, _sampling_period_us = nvml.nvmlDeviceGetEncoderUtilization(handle)
    return {ENC_UTIL: float(utilization)}


def _decoder(nvml: Any, handle: Any) -> dict[str, float]:
    utilization, _sampling_period_us = nvml.nvmlDeviceGetDecoderUtilization(handle)
    return {DEC_UTIL: float(utilization)}


def _pcie_replay(nvml: Any, handle: Any) -> dict[str, float]:
    return {PCIE_REPLAY_COUNTER: float(nvml.nvmlDeviceGetPcieReplayCounter(handle))}


def _remapped_rows(nvml: Any, handle: Any) -> dict[str, float]:
    correctable, uncorrectable, _pending, failure = nvml.nvmlDeviceGetRemappedRows(handle)
    return {
        CORRECTABLE_REMAPPED_ROWS: float(correctable),
        UNCORRECTABLE_REMAPPED_ROWS: float(uncorrectable),
        ROW_REMAP_FAILURE: float(bool(failure)),
    }


def _ecc_sbe(nvml: Any, handle: Any) -> dict[str, float]:
    count = nvml.nvmlDeviceGetTotalEccErrors(handle, nvml.NVML_MEMORY_ERROR_TYPE_CORRECTED, nvml.NVML_VOLATILE_ECC)
    return {ECC_SBE_VOL_TOTAL: float(count)}


def _ecc_dbe(nvml: Any, handle: Any) -> dict[str, float]:
    count = nvml.nvmlDeviceGetTotalEccErrors(handle, nvml.NVML_MEMORY_ERROR_TYPE_UNCORRECTED, nvml.NVML_VOLATILE_ECC)
    return {ECC_DBE_VOL_TOTAL: float(count)}


def _nvlink_bandwidth(nvml: Any, handle: Any) -> dict[str, float]:
    """NVML's NVLink data counters (KiB received and transmitted since the driver loaded) summed
    over every link; a GPU without NVLink answers NOT_SUPPORTED."""
    rx, tx = nvml.nvmlDeviceGetFieldValues(
        handle,
        [
            (nvml.NVML_FI_DEV_NVLINK_THROUGHPUT_DATA_RX, ALL_LINKS),
            (nvml.NVML_FI_DEV_NVLINK_THROUGHPUT_DATA_TX, ALL_LINKS),
        ],
    )
    for value in (rx, tx):
        if value.nvmlReturn != nvml.NVML_SUCCESS:
            raise nvml.NVMLError(value.nvmlReturn)
    return {NVLINK_BANDWIDTH_TOTAL: _field_value(nvml, rx) + _field_value(nvml, tx)}


def _vgpu_license(nvml: Any, handle: Any) -> dict[str, float]:
    """1 when a vGPU guest's GPU holds a license for any of its licensable features, 0 when it
    does not; bare metal and passthrough have no vGPU license (NOT_SUPPORTED: left out)."""
    if nvml.nvmlDeviceGetVirtualizationMode(handle) != nvml.NVML_GPU_VIRTUALIZATION_MODE_VGPU:
        raise nvml.NVMLError(nvml.NVML_ERROR_NOT_SUPPORTED)
    features = nvml.nvmlDeviceGetGridLicensableFeatures(handle)
    if not features.isGridLicenseSupported:
        raise nvml.NVMLError(nvml.NVML_ERROR_NOT_SUPPORTED)
    count = min(int(features.licensableFeaturesCount), len(features.gridLicensableFeatures))
    licensed = any(features.gridLicensableFeatures[i].featureState for i in range(count))
    return {VGPU_LICENSE_STATUS: float(licensed)}


# (key, reader) in the order a poll reads them; the poller stops asking a GPU for a key it does not support.
READERS: tuple[tuple[str, Callable[[Any, Any], dict[str, float]]], ...] = (
    ("utilization", _utilization),
    ("memory", read_memory),
    ("power", _power),
    ("energy", _energy),
    ("gpu_temp", _gpu_temp),
    ("memory_temp", _memory_temp),
    ("sm_clock", _sm_clock),
    ("mem_clock", _mem_clock),
    ("encoder", _encoder),
    ("decoder", _decoder),
    ("pcie_replay", _pcie_replay),
    ("remapped_rows", _remapped_rows),
    ("ecc_sbe", _ecc_sbe),
    ("ecc_dbe", _ecc_dbe),
    ("nvlink_bandwidth", _nvlink_bandwidth),
    ("vgpu_license", _vgpu_license),
)


def read_clocks_event_reasons(nvml: Any, handle: Any) -> int:
    """nvmlDeviceGetCurrentClocksEventReasons (driver 535+), else its older name ...ThrottleReasons."""
    current = getattr(nvml, "nvmlDeviceGetCurrentClocksEventReasons", None)
    if current is not None:
        try:
            return int(current(handle))
        except nvml.NVMLError_FunctionNotFound:
            pass
    return int(nvml.nvmlDeviceGetCurrentClocksThrottleReasons(handle))


def read_processes(nvml: Any, handle: Any) -> tuple[tuple[int, int], ...]:
    """(pid, bytes) per compute process; pynvml gives usedGpuMemory None where the driver cannot
    tell (Windows WDDM): such processes are left out."""
    return tuple(
        (int(p.pid), int(p.usedGpuMemory))
        for p in nvml.nvmlDeviceGetComputeRunningProcesses(handle)
        if p.usedGpuMemory is not None
    )


def _field_value(nvml: Any, value: Any) -> float:
    member = {
        nvml.NVML_VALUE_TYPE_DOUBLE: "dVal",
        nvml.NVML_VALUE_TYPE_UNSIGNED_INT: "uiVal",
        nvml.NVML_VALUE_TYPE_UNSIGNED_LONG: "ulVal",
        nvml.NVML_VALUE_TYPE_UNSIGNED_LONG_LONG: "ullVal",
        nvml.NVML_VALUE_TYPE_SIGNED_LONG_LONG: "sllVal",
        nvml.NVML_VALUE_TYPE_SIGNED_INT: "siVal",
        nvml.NVML_VALUE_TYPE_UNSIGNED_SHORT: "usVal",
    }.get(value.valueType, "uiVal")
    return float(getattr(value.value, member))


def handle_address(handle: Any) -> int | None:
    """The address a ctypes device handle points at (stable per GPU), or None."""
    try:
        return ctypes.cast(handle, ctypes.c_void_p).value
    except (TypeError, ctypes.ArgumentError):
        return None


def as_text(value: Any) -> str:
    """A name NVML returned: pynvml decodes most of them, older versions give bytes."""
    return value.decode() if isinstance(value, bytes) else str(value)
