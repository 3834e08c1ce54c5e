"""GPU telemetry as the rest of driftwarden sees it: one `GpuSample` per GPU per poll, keyed by
dcgm-exporter's field names, the XIDs that page, and the energy and cost figures per inference.

The NVML poller produces the samples, the health and cost detectors read them, the exporter
writes them under the same names, and the alert rules and dashboards query those names, so all
of them import the names from here rather than from one another.

>>> s = GpuSample(0, "GPU-a", "00000000:18:00.0", "NVIDIA H100", "nvidia0", 0.0, {POWER_USAGE: 250.0})
>>> gpu_key(s), s.fields["DCGM_FI_DEV_POWER_USAGE"]
('GPU-a', 250.0)
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
    "FB_TOTAL",
    "FB_USED",
    "FIELDS",
    "GPU_TEMP",
    "GPU_UTIL",
    "MEMORY_TEMP",
    "MEM_CLOCK",
    "MEM_COPY_UTIL",
    "PCIE_REPLAY_COUNTER",
    "POWER_USAGE",
    "ROW_REMAP_FAILURE",
    "SM_CLOCK",
    "TOTAL_ENERGY_CONSUMPTION",
    "UNCORRECTABLE_REMAPPED_ROWS",
    "XID_ERRORS",
    "GpuSample",
    "InferenceFigure",
    "gpu_key",
]

# DCGM field identifiers: the keys of GpuSample.fields, in DCGM's units.
GPU_UTIL = "DCGM_FI_DEV_GPU_UTIL"  # %
MEM_COPY_UTIL = "DCGM_FI_DEV_MEM_COPY_UTIL"  # %
FB_USED = "DCGM_FI_DEV_FB_USED"  # MiB
FB_FREE = "DCGM_FI_DEV_FB_FREE"  # MiB
FB_TOTAL = "DCGM_FI_DEV_FB_TOTAL"  # MiB
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
)

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


@dataclass(frozen=True)
class GpuSample:
    """One GPU read once. `fields` holds only what the GPU supports, in DCGM's units.

    `gpu_key` (the UUID, else the index) identifies the GPU across polls. `processes` are the
    compute processes as (pid, GPU memory in bytes); `xids` the XID events that arrived since
    the previous poll, oldest first; `clocks_event_reasons` NVML's bitmask (None: unsupported).
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
