"""GPU telemetry as the rest of driftwarden sees it: one `GpuSample` per GPU per poll, keyed by
dcgm-exporter's field names, the XIDs that page, and the energy and cost figures per inference.

The NVML poller produces the samples, the health and cost detectors read them, the exporter
writes them under the same names, and the alert rules and dashboards query those names, so all
of them import the names from here rather than from one another.

>>> s = GpuSample(0, "GPU-a", "00000000:18:00.0", "NVIDIA H100", "nvidia0", 0.0, {POWER_USAGE: 250.0})
>>> gpu_key(s), s.fields["DCGM_FI_DEV_POWER_USAGE"]
('GPU-a', 250.0)
>>> xid_message(79), xid_message(0), xid_message(9999)
('GPU has fallen off the bus', 'No Error', 'Unknown Error')
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

__all__ = [
    "CORRECTABLE_REMAPPED_ROWS",
    "CRITICAL_XIDS",
    "DEC_UTIL",
    "ECC_DBE_VOL_TOTAL",
    "ECC_SBE_VOL_TOTAL",
    "ENC_UTIL",
    "FB_FREE",
    "FB_RESERVED",
    "FB_TOTAL",
    "FB_USED",
    "FIELDS",
    "GPU_TEMP",
    "GPU_UTIL",
    "INSTANCE_FIELDS",
    "MEMORY_TEMP",
    "MEM_CLOCK",
    "MEM_COPY_UTIL",
    "NVLINK_BANDWIDTH_TOTAL",
    "PCIE_REPLAY_COUNTER",
    "POWER_USAGE",
    "PROF_DRAM_ACTIVE",
    "PROF_FIELDS",
    "PROF_GR_ENGINE_ACTIVE",
    "PROF_NVLINK_RX_BYTES",
    "PROF_NVLINK_TX_BYTES",
    "PROF_PCIE_RX_BYTES",
    "PROF_PCIE_TX_BYTES",
    "PROF_PIPE_FP16_ACTIVE",
    "PROF_PIPE_FP32_ACTIVE",
    "PROF_PIPE_FP64_ACTIVE",
    "PROF_PIPE_TENSOR_ACTIVE",
    "PROF_SM_ACTIVE",
    "PROF_SM_OCCUPANCY",
    "ROW_REMAP_FAILURE",
    "SM_CLOCK",
    "TOTAL_ENERGY_CONSUMPTION",
    "UNCORRECTABLE_REMAPPED_ROWS",
    "VGPU_LICENSE_STATUS",
    "XID_ERRORS",
    "XID_MESSAGES",
    "GpuInstanceSample",
    "GpuSample",
    "InferenceFigure",
    "gpu_key",
    "xid_message",
]

# DCGM field identifiers: the keys of GpuSample.fields, in DCGM's units.
GPU_UTIL = "DCGM_FI_DEV_GPU_UTIL"  # %
MEM_COPY_UTIL = "DCGM_FI_DEV_MEM_COPY_UTIL"  # %
FB_USED = "DCGM_FI_DEV_FB_USED"  # MiB
FB_FREE = "DCGM_FI_DEV_FB_FREE"  # MiB
FB_TOTAL = "DCGM_FI_DEV_FB_TOTAL"  # MiB
FB_RESERVED = "DCGM_FI_DEV_FB_RESERVED"  # MiB the driver keeps for itself
POWER_USAGE = "DCGM_FI_DEV_POWER_USAGE"  # W
TOTAL_ENERGY_CONSUMPTION = "DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION"  # mJ since the driver was loaded
GPU_TEMP = "DCGM_FI_DEV_GPU_TEMP"  # °C
MEMORY_TEMP = "DCGM_FI_DEV_MEMORY_TEMP"  # °C
SM_CLOCK = "DCGM_FI_DEV_SM_CLOCK"  # MHz
MEM_CLOCK = "DCGM_FI_DEV_MEM_CLOCK"  # MHz
ENC_UTIL = "DCGM_FI_DEV_ENC_UTIL"  # %
DEC_UTIL = "DCGM_FI_DEV_DEC_UTIL"  # %
PCIE_REPLAY_COUNTER = "DCGM_FI_DEV_PCIE_REPLAY_COUNTER"
XID_ERRORS = "DCGM_FI_DEV_XID_ERRORS"  # the last XID seen (0: none since start)
CORRECTABLE_REMAPPED_ROWS = "DCGM_FI_DEV_CORRECTABLE_REMAPPED_ROWS"
UNCORRECTABLE_REMAPPED_ROWS = "DCGM_FI_DEV_UNCORRECTABLE_REMAPPED_ROWS"
ROW_REMAP_FAILURE = "DCGM_FI_DEV_ROW_REMAP_FAILURE"  # 0/1
ECC_SBE_VOL_TOTAL = "DCGM_FI_DEV_ECC_SBE_VOL_TOTAL"  # corrected, since the last driver load
ECC_DBE_VOL_TOTAL = "DCGM_FI_DEV_ECC_DBE_VOL_TOTAL"  # uncorrected, since the last driver load
NVLINK_BANDWIDTH_TOTAL = "DCGM_FI_DEV_NVLINK_BANDWIDTH_TOTAL"  # KiB of NVLink data, RX + TX, all links
VGPU_LICENSE_STATUS = "DCGM_FI_DEV_VGPU_LICENSE_STATUS"  # 1 licensed, 0 not (vGPU guests only)
# Profiling (DCP) fields, from NVML's GPU Performance Monitoring (Hopper and later). Ratios are
# 0..1 as DCGM reports them; the byte rates are bytes per second.
PROF_GR_ENGINE_ACTIVE = "DCGM_FI_PROF_GR_ENGINE_ACTIVE"
PROF_SM_ACTIVE = "DCGM_FI_PROF_SM_ACTIVE"
PROF_SM_OCCUPANCY = "DCGM_FI_PROF_SM_OCCUPANCY"
PROF_PIPE_TENSOR_ACTIVE = "DCGM_FI_PROF_PIPE_TENSOR_ACTIVE"
PROF_DRAM_ACTIVE = "DCGM_FI_PROF_DRAM_ACTIVE"
PROF_PIPE_FP64_ACTIVE = "DCGM_FI_PROF_PIPE_FP64_ACTIVE"
PROF_PIPE_FP32_ACTIVE = "DCGM_FI_PROF_PIPE_FP32_ACTIVE"
PROF_PIPE_FP16_ACTIVE = "DCGM_FI_PROF_PIPE_FP16_ACTIVE"
PROF_PCIE_TX_BYTES = "DCGM_FI_PROF_PCIE_TX_BYTES"
PROF_PCIE_RX_BYTES = "DCGM_FI_PROF_PCIE_RX_BYTES"
PROF_NVLINK_TX_BYTES = "DCGM_FI_PROF_NVLINK_TX_BYTES"
PROF_NVLINK_RX_BYTES = "DCGM_FI_PROF_NVLINK_RX_BYTES"
PROF_FIELDS = (
    PROF_GR_ENGINE_ACTIVE,
    PROF_SM_ACTIVE,
    PROF_SM_OCCUPANCY,
    PROF_PIPE_TENSOR_ACTIVE,
    PROF_DRAM_ACTIVE,
    PROF_PIPE_FP64_ACTIVE,
    PROF_PIPE_FP32_ACTIVE,
    PROF_PIPE_FP16_ACTIVE,
    PROF_PCIE_TX_BYTES,
    PROF_PCIE_RX_BYTES,
    PROF_NVLINK_TX_BYTES,
    PROF_NVLINK_RX_BYTES,
)
FIELDS = (
    GPU_UTIL,
    MEM_COPY_UTIL,
    FB_USED,
    FB_FREE,
    FB_TOTAL,
    POWER_USAGE,
    TOTAL_ENERGY_CONSUMPTION,
    GPU_TEMP,
    MEMORY_TEMP,
    SM_CLOCK,
    MEM_CLOCK,
    ENC_UTIL,
    DEC_UTIL,
    PCIE_REPLAY_COUNTER,
    XID_ERRORS,
    CORRECTABLE_REMAPPED_ROWS,
    UNCORRECTABLE_REMAPPED_ROWS,
    ROW_REMAP_FAILURE,
    ECC_SBE_VOL_TOTAL,
    ECC_DBE_VOL_TOTAL,
    FB_RESERVED,
    NVLINK_BANDWIDTH_TOTAL,
    VGPU_LICENSE_STATUS,
    *PROF_FIELDS,
)
# What a MIG instance (a GPU instance) reports of its own: its memory and its profiling fields.
INSTANCE_FIELDS = (FB_USED, FB_FREE, FB_TOTAL, FB_RESERVED, *PROF_FIELDS)

# XIDs that page: hardware, ECC, bus, NVLink and firmware faults that need a GPU reset, a drain or
# an RMA (NVIDIA's XID catalog: immediate action RESET_GPU / RESTART_BM / CONTACT_SUPPORT).
# Everything else (13, 31, 43, 45, ... mostly application faults) is a warning.
CRITICAL_XIDS: Mapping[int, str] = {
    48: "double-bit ECC error",
    61: "internal micro-controller breakpoint/warning",
    62: "internal micro-controller halt",
    63: "ECC page retirement or row remapping recording event",
    64: "ECC page retirement or row remapper recording failure",
    74: "NVLink error",
    79: "GPU has fallen off the bus",
    92: "high single-bit ECC error rate",
    94: "contained ECC error",
    95: "uncontained ECC error",
    119: "GSP RPC timeout",
    120: "GSP error",
    121: "C2C link error",
    140: "unrecovered ECC error",
    154: "GPU recovery action changed (reset or reboot required)",
}


# `err_msg` of DCGM_FI_DEV_XID_ERRORS, as dcgm-exporter 4.5+ labels it: the name NVIDIA's XID catalog
# (docs.nvidia.com/deploy/xid-errors) gives each XID. An XID not listed here is "Unknown Error".
XID_MESSAGES: Mapping[int, str] = {
    0: "No Error",
    8: "GPU stopped processing",
    13: "Graphics Engine Exception",
    31: "GPU memory page fault",
    32: "Invalid or corrupted push buffer stream",
    43: "GPU stopped processing",
    45: "Preemptive cleanup, due to previous errors -- Most likely to see when running multiple cuda",
    48: "Double Bit ECC Error",
    54: "Auxiliary power is not connected to the GPU board",
    56: "Display Engine error",
    57: "Error programming video memory interface",
    58: "Unstable video memory interface detected",
    61: "Internal micro-controller breakpoint/warning",
    62: "Internal micro-controller halt",
    63: "ECC page retirement or row remapping recording event",
    64: "ECC page retirement or row remapper recording failure",
    68: "NVDEC0 Exception",
    69: "Graphics Engine class error",
    74: "NVLINK Error",
    79: "GPU has fallen off the bus",
    92: "High single-bit ECC error rate",
    94: "Contained ECC error",
    95: "Uncontained ECC error",
    109: "Context Switch Timeout Error",
    119: "GSP RPC Timeout",
    120: "GSP Error",
    121: "C2C Link Error",
    136: "ALI Training Fail",
    140: "Unrecovered ECC Error",
    143: "GPU Initialization Failure",
    154: "GPU Recovery Action Changed",
}


def xid_message(xid: int) -> str:
    """The `err_msg` label of an XID (see XID_MESSAGES)."""
    return XID_MESSAGES.get(xid, "Unknown Error")


@dataclass(frozen=True)
class GpuInstanceSample:
    """One MIG GPU instance of a GPU, read once: NVML's GPU instance id, its profile name as
    `nvidia-smi mig -lgip` shows it without "MIG " (e.g. "1g.10gb"), its `INSTANCE_FIELDS` and
    the compute processes running in it, as (pid, GPU memory in bytes)."""

    instance_id: int
    profile: str
    fields: Mapping[str, float] = field(default_factory=dict)
    processes: tuple[tuple[int, int], ...] = ()


@dataclass(frozen=True)
class GpuSample:
    """One GPU read once. `fields` holds only what the GPU supports, in DCGM's units.

    `gpu_key` (the UUID, else the index) identifies the GPU across polls. `processes` are the
    compute processes as (pid, GPU memory in bytes); `xids` the XID events that arrived since
    the previous poll, oldest first; `clocks_event_reasons` NVML's bitmask (None: unsupported);
    `instances` its MIG GPU instances (empty when MIG is off).
    """

    index: int
    uuid: str
    pci_bus_id: str
    name: str
    device: str
    at: float
    fields: Mapping[str, float] = field(default_factory=dict)
    processes: tuple[tuple[int, int], ...] = ()
    clocks_event_reasons: int | None = None
    lost: bool = False
    xids: tuple[int, ...] = ()
    instances: tuple[GpuInstanceSample, ...] = ()


def gpu_key(sample: GpuSample) -> str:
    """The GPU's stable identity: its UUID, or its index when NVML gave none."""
    return sample.uuid or str(sample.index)


@dataclass(frozen=True)
class InferenceFigure:
    """One model's energy and cost per inference over one window (None: not computable)."""

    model: str
    window: str
    seconds: float  # the span covered (shorter than the window until that much history exists)
    requests: int
    gpus: float  # GPU-equivalents the model used over the span (sum of memory shares)
    energy_joules: float | None
    cost_dollars: float | None
