"""An honest stand-in for the `pynvml` module (package nvidia-ml-py), for tests without a GPU.

Shipped in the package as its own test double, as OpenTelemetry's SDK ships
`InMemorySpanExporter`: the tests, `benchmarks/gpu.py`, the poller's doctest and anyone trying
driftwarden's GPU telemetry on a machine without a GPU use the same fake. It is one abstraction
over 400 lines because it mirrors the module's surface the poller reads: its constants, its
error tree, its ctypes structures and each function `collector.nvml_fields.NVML_API` names.

`FakeNvml()` is passed where the real module would be: `NvmlPoller(nvml=FakeNvml(...))`. It
has pynvml's function names and parameter names, returns what pynvml returns (ctypes
structures with the same fields, lists and tuples where pynvml gives lists and tuples, `str`
where pynvml decodes bytes), in the same units (bytes, milliwatts, millijoules, MHz, %), and
raises the same exception tree, built the way pynvml builds it::

    NVMLError(Exception)                 .value = the NVML_ERROR_* code; NVMLError(code) makes the subclass
    ├── NVMLError_Uninitialized          a call before nvmlInit (or after the last nvmlShutdown)
    ├── NVMLError_NotSupported           the GPU lacks the feature
    ├── NVMLError_Timeout                nvmlEventSetWait_v2 found no event
    ├── NVMLError_LibraryNotFound        libnvidia-ml.so.1 missing (nvmlInit)
    ├── NVMLError_DriverNotLoaded        no kernel driver (nvmlInit)
    ├── NVMLError_GpuIsLost              the GPU fell off the bus
    └── ... one per NVML_ERROR_* constant

Constants keep pynvml's names and values; the tests check them, the signatures and the
structure layouts against the real module.

    >>> nvml = FakeNvml(gpus=[FakeGpu(unsupported={"nvmlDeviceGetPcieReplayCounter"})])
    >>> nvml.nvmlInit()
    >>> handle = nvml.nvmlDeviceGetHandleByIndex(0)
    >>> nvml.nvmlDeviceGetMemoryInfo(handle).total // 2**20, nvml.nvmlDeviceGetPowerUsage(handle)
    (81559, 250000)
    >>> nvml.nvmlDeviceGetPcieReplayCounter(handle)
    Traceback (most recent call last):
    ...
    driftwarden.collector.nvml_fake.NVMLError_NotSupported: Not Supported
"""

from __future__ import annotations

import ctypes
import string
import sys
import threading
from collections import deque
from ctypes import (
    POINTER,
    Structure,
    Union,
    c_char,
    c_char_p,
    c_int64,
    c_longlong,
    c_uint,
    c_uint8,
    c_uint16,
    c_uint32,
    c_ulong,
    c_ulonglong,
    c_ushort,
)
from dataclasses import dataclass, field
from typing import Any

# The rest of the module's names are pynvml's (constants, NVMLError_* classes, structures), also
# reachable as attributes of every FakeNvml, as a poller reads them from the module it is given.
__all__ = ["FakeGpu", "FakeNvml", "NVMLError"]

# --- constants (names and values as in pynvml) -------------------------------------------------

NVML_SUCCESS = 0
NVML_ERROR_UNINITIALIZED = 1
NVML_ERROR_INVALID_ARGUMENT = 2
NVML_ERROR_NOT_SUPPORTED = 3
NVML_ERROR_NO_PERMISSION = 4
NVML_ERROR_ALREADY_INITIALIZED = 5
NVML_ERROR_NOT_FOUND = 6
NVML_ERROR_INSUFFICIENT_SIZE = 7
NVML_ERROR_INSUFFICIENT_POWER = 8
NVML_ERROR_DRIVER_NOT_LOADED = 9
NVML_ERROR_TIMEOUT = 10
NVML_ERROR_IRQ_ISSUE = 11
NVML_ERROR_LIBRARY_NOT_FOUND = 12
NVML_ERROR_FUNCTION_NOT_FOUND = 13
NVML_ERROR_CORRUPTED_INFOROM = 14
NVML_ERROR_GPU_IS_LOST = 15
NVML_ERROR_RESET_REQUIRED = 16
NVML_ERROR_OPERATING_SYSTEM = 17
NVML_ERROR_LIB_RM_VERSION_MISMATCH = 18
NVML_ERROR_IN_USE = 19
NVML_ERROR_MEMORY = 20
NVML_ERROR_NO_DATA = 21
NVML_ERROR_UNKNOWN = 999

NVML_TEMPERATURE_GPU = 0
NVML_CLOCK_GRAPHICS = 0
NVML_CLOCK_SM = 1
NVML_CLOCK_MEM = 2
NVML_CLOCK_VIDEO = 3
NVML_VOLATILE_ECC = 0
NVML_AGGREGATE_ECC = 1
NVML_MEMORY_ERROR_TYPE_CORRECTED = 0
NVML_MEMORY_ERROR_TYPE_UNCORRECTED = 1

NVML_VALUE_TYPE_DOUBLE = 0
NVML_VALUE_TYPE_UNSIGNED_INT = 1
NVML_VALUE_TYPE_UNSIGNED_LONG = 2
NVML_VALUE_TYPE_UNSIGNED_LONG_LONG = 3
NVML_VALUE_TYPE_SIGNED_LONG_LONG = 4
NVML_VALUE_TYPE_SIGNED_INT = 5
NVML_VALUE_TYPE_UNSIGNED_SHORT = 6
NVML_FI_DEV_MEMORY_TEMP = 82
NVML_FI_DEV_TOTAL_ENERGY_CONSUMPTION = 83
NVML_FI_DEV_PCIE_REPLAY_COUNTER = 94

NVML_DEVICE_PCI_BUS_ID_BUFFER_SIZE = 32
NVML_DEVICE_PCI_BUS_ID_BUFFER_V2_SIZE = 16
NVML_DEVICE_NAME_V2_BUFFER_SIZE = 96
nvmlMemory_v2 = 0x02000028

NVML_FI_DEV_NVLINK_THROUGHPUT_DATA_TX = 138  # KiB, all links with scopeId 0xFFFFFFFF
NVML_FI_DEV_NVLINK_THROUGHPUT_DATA_RX = 139

NVML_GPU_VIRTUALIZATION_MODE_NONE = 0
NVML_GPU_VIRTUALIZATION_MODE_PASSTHROUGH = 1
NVML_GPU_VIRTUALIZATION_MODE_VGPU = 2
NVML_GRID_LICENSE_BUFFER_SIZE = 128
NVML_GRID_LICENSE_FEATURE_MAX_COUNT = 3
NVML_GRID_LICENSE_FEATURE_CODE_VGPU = 1

NVML_DEVICE_MIG_DISABLE = 0x0
NVML_DEVICE_MIG_ENABLE = 0x1
nvmlGpuInstanceProfileInfo_v2 = 0x02000098

# GPU Performance Monitoring (Hopper and later): metric ids, 0-100 % or MiB/s
NVML_GPM_METRIC_GRAPHICS_UTIL = 1
NVML_GPM_METRIC_SM_UTIL = 2
NVML_GPM_METRIC_SM_OCCUPANCY = 3
NVML_GPM_METRIC_ANY_TENSOR_UTIL = 5
NVML_GPM_METRIC_DRAM_BW_UTIL = 10
NVML_GPM_METRIC_FP64_UTIL = 11
NVML_GPM_METRIC_FP32_UTIL = 12
NVML_GPM_METRIC_FP16_UTIL = 13
NVML_GPM_METRIC_PCIE_TX_PER_SEC = 20
NVML_GPM_METRIC_PCIE_RX_PER_SEC = 21
NVML_GPM_METRIC_NVLINK_TOTAL_RX_PER_SEC = 60
NVML_GPM_METRIC_NVLINK_TOTAL_TX_PER_SEC = 61
NVML_GPM_METRIC_MAX = 477
NVML_GPM_METRICS_GET_VERSION = 1
NVML_GPM_SUPPORT_VERSION = 1

nvmlEventTypeSingleBitEccError = 0x0000000000000001
nvmlEventTypeDoubleBitEccError = 0x0000000000000002
nvmlEventTypePState = 0x0000000000000004
nvmlEventTypeXidCriticalError = 0x0000000000000008
nvmlEventTypeClock = 0x0000000000000010
nvmlEventTypeNone = 0x0000000000000000

nvmlClocksEventReasonGpuIdle = 0x0000000000000001
nvmlClocksEventReasonApplicationsClocksSetting = 0x0000000000000002
nvmlClocksEventReasonSwPowerCap = 0x0000000000000004
nvmlClocksEventReasonHwSlowdown = 0x0000000000000008
nvmlClocksEventReasonSyncBoost = 0x0000000000000010
nvmlClocksEventReasonSwThermalSlowdown = 0x0000000000000020
nvmlClocksEventReasonHwThermalSlowdown = 0x0000000000000040
nvmlClocksEventReasonHwPowerBrakeSlowdown = 0x0000000000000080
nvmlClocksEventReasonDisplayClockSetting = 0x0000000000000100
nvmlClocksEventReasonNone = 0x0000000000000000
nvmlClocksThrottleReasonGpuIdle = nvmlClocksEventReasonGpuIdle
nvmlClocksThrottleReasonSwPowerCap = nvmlClocksEventReasonSwPowerCap
nvmlClocksThrottleReasonHwSlowdown = nvmlClocksEventReasonHwSlowdown
nvmlClocksThrottleReasonSwThermalSlowdown = nvmlClocksEventReasonSwThermalSlowdown
nvmlClocksThrottleReasonHwThermalSlowdown = nvmlClocksEventReasonHwThermalSlowdown
nvmlClocksThrottleReasonHwPowerBrakeSlowdown = nvmlClocksEventReasonHwPowerBrakeSlowdown
nvmlClocksThrottleReasonNone = nvmlClocksEventReasonNone

# --- exceptions, generated as pynvml generates them ------------------------------------------

_ERROR_STRINGS = {
    NVML_ERROR_UNINITIALIZED: "Uninitialized",
    NVML_ERROR_INVALID_ARGUMENT: "Invalid Argument",
    NVML_ERROR_NOT_SUPPORTED: "Not Supported",
    NVML_ERROR_NO_PERMISSION: "Insufficient Permissions",
    NVML_ERROR_ALREADY_INITIALIZED: "Already Initialized",
    NVML_ERROR_NOT_FOUND: "Not Found",
    NVML_ERROR_INSUFFICIENT_SIZE: "Insufficient Size",
    NVML_ERROR_INSUFFICIENT_POWER: "Insufficient External Power",
    NVML_ERROR_DRIVER_NOT_LOADED: "Driver Not Loaded",
    NVML_ERROR_TIMEOUT: "Timeout",
    NVML_ERROR_IRQ_ISSUE: "Interrupt Request Issue",
    NVML_ERROR_LIBRARY_NOT_FOUND: "NVML Shared Library Not Found",
    NVML_ERROR_FUNCTION_NOT_FOUND: "Function Not Found",
    NVML_ERROR_CORRUPTED_INFOROM: "Corrupted infoROM",
    NVML_ERROR_GPU_IS_LOST: "GPU is lost",
    NVML_ERROR_RESET_REQUIRED: "GPU requires restart",
    NVML_ERROR_OPERATING_SYSTEM: "The operating system has blocked the request.",
    NVML_ERROR_LIB_RM_VERSION_MISMATCH: "RM has detected an NVML/RM version mismatch.",
    NVML_ERROR_MEMORY: "Insufficient Memory",
    NVML_ERROR_UNKNOWN: "Unknown Error",
}


class NVMLError(Exception):
    """pynvml's base error: `NVMLError(code)` returns an instance of the code's subclass."""

    _valClassMapping: dict[int, type[NVMLError]] = {}  # noqa: RUF012 - pynvml's name and shape

    value: int

    def __new__(cls, value: int) -> NVMLError:
        if cls is NVMLError:
            cls = NVMLError._valClassMapping.get(value, cls)
        obj = Exception.__new__(cls)
        obj.value = value
        return obj

    def __str__(self) -> str:
        return _ERROR_STRINGS.get(self.value, f"NVML Error with code {self.value}")

    def __eq__(self, other: object) -> bool:
        return isinstance(other, NVMLError) and self.value == other.value

    __hash__ = Exception.__hash__


def _error_classes() -> dict[str, type[NVMLError]]:
    """One subclass per NVML_ERROR_* constant, named as pynvml names them (NVMLError_GpuIsLost)."""
    module = sys.modules[__name__]
    made = {}
    for constant in [name for name in dir(module) if name.startswith("NVML_ERROR_")]:
        class_name = "NVMLError_" + string.capwords(constant.replace("NVML_ERROR_", ""), "_").replace("_", "")
        code = getattr(module, constant)

        def new(cls: type[NVMLError], *args: Any, _code: int = code) -> NVMLError:
            return NVMLError.__new__(cls, _code)

        cls = type(class_name, (NVMLError,), {"__new__": new, "__module__": __name__})
        NVMLError._valClassMapping[code] = cls
        made[class_name] = cls
    return made


globals().update(_error_classes())
NVMLError_Uninitialized: type[NVMLError]
NVMLError_NotSupported: type[NVMLError]
NVMLError_Timeout: type[NVMLError]
NVMLError_LibraryNotFound: type[NVMLError]
NVMLError_DriverNotLoaded: type[NVMLError]
NVMLError_GpuIsLost: type[NVMLError]
NVMLError_FunctionNotFound: type[NVMLError]
NVMLError_NoPermission: type[NVMLError]
NVMLError_InvalidArgument: type[NVMLError]
NVMLError_Unknown: type[NVMLError]

# --- structures (same fields and ctypes types as pynvml's) -----------------------------------


class _PrintableStructure(Structure):
    """Like pynvml's: char arrays read back as `str`."""

    def __getattribute__(self, name: str) -> Any:
        value = super().__getattribute__(name)
        return value.decode() if isinstance(value, bytes) else value

    def __setattr__(self, name: str, value: Any) -> None:
        super().__setattr__(name, value.encode() if isinstance(value, str) else value)


class struct_c_nvmlDevice_t(Structure):
    pass  # opaque


c_nvmlDevice_t = POINTER(struct_c_nvmlDevice_t)


class struct_c_nvmlEventSet_t(Structure):
    pass  # opaque


c_nvmlEventSet_t = POINTER(struct_c_nvmlEventSet_t)


class c_nvmlMemory_t(_PrintableStructure):
    _fields_ = [("total", c_ulonglong), ("free", c_ulonglong), ("used", c_ulonglong)]


class c_nvmlMemory_v2_t(_PrintableStructure):
    _fields_ = [
        ("version", c_uint),
        ("total", c_ulonglong),
        ("reserved", c_ulonglong),
        ("free", c_ulonglong),
        ("used", c_ulonglong),
    ]


class c_nvmlUtilization_t(_PrintableStructure):
    _fields_ = [("gpu", c_uint), ("memory", c_uint)]


class nvmlPciInfo_t(_PrintableStructure):
    _fields_ = [
        ("busIdLegacy", c_char * NVML_DEVICE_PCI_BUS_ID_BUFFER_V2_SIZE),
        ("domain", c_uint),
        ("bus", c_uint),
        ("device", c_uint),
        ("pciDeviceId", c_uint),
        ("pciSubSystemId", c_uint),
        ("busId", c_char * NVML_DEVICE_PCI_BUS_ID_BUFFER_SIZE),
    ]


class c_nvmlEventData_t(_PrintableStructure):
    _fields_ = [
        ("device", c_nvmlDevice_t),
        ("eventType", c_ulonglong),
        ("eventData", c_ulonglong),
        ("gpuInstanceId", c_uint),
        ("computeInstanceId", c_uint),
    ]


class c_nvmlValue_t(Union):
    _fields_ = [
        ("dVal", ctypes.c_double),
        ("uiVal", c_uint),
        ("ulVal", c_ulong),
        ("ullVal", c_ulonglong),
        ("sllVal", c_longlong),
        ("siVal", ctypes.c_int),
        ("usVal", c_ushort),
    ]


class c_nvmlFieldValue_t(_PrintableStructure):
    _fields_ = [
        ("fieldId", c_uint32),
        ("scopeId", c_uint32),
        ("timestamp", c_int64),
        ("latencyUsec", c_int64),
        ("valueType", c_uint),
        ("nvmlReturn", c_uint),
        ("value", c_nvmlValue_t),
    ]


class c_nvmlProcessInfo_v2_t(_PrintableStructure):
    _fields_ = [
        ("pid", c_uint),
        ("usedGpuMemory", c_ulonglong),
        ("gpuInstanceId", c_uint),
        ("computeInstanceId", c_uint),
    ]


class struct_c_nvmlGpmSample_t(Structure):
    pass  # opaque


c_nvmlGpmSample_t = POINTER(struct_c_nvmlGpmSample_t)


class c_metricInfo_t(Structure):
    _fields_ = [("shortName", c_char_p), ("longName", c_char_p), ("unit", c_char_p)]


class c_nvmlGpmMetric_t(_PrintableStructure):
    _fields_ = [
        ("metricId", c_uint),
        ("nvmlReturn", c_uint),
        ("value", ctypes.c_double),
        ("metricInfo", c_metricInfo_t),
    ]


class c_nvmlGpmMetricsGet_t(_PrintableStructure):
    _fields_ = [
        ("version", c_uint),
        ("numMetrics", c_uint),
        ("sample1", c_nvmlGpmSample_t),
        ("sample2", c_nvmlGpmSample_t),
        ("metrics", c_nvmlGpmMetric_t * NVML_GPM_METRIC_MAX),
    ]


class c_nvmlGpmSupport_t(_PrintableStructure):
    _fields_ = [("version", c_uint), ("isSupportedDevice", c_uint)]


class struct_c_nvmlGpuInstance_t(Structure):
    pass  # opaque


c_nvmlGpuInstance_t = POINTER(struct_c_nvmlGpuInstance_t)


class c_nvmlGpuInstancePlacement_t(Structure):
    _fields_ = [("start", c_uint), ("size", c_uint)]


class c_nvmlGpuInstanceInfo_t(Structure):
    _fields_ = [
        ("device", c_nvmlDevice_t),
        ("id", c_uint),
        ("profileId", c_uint),
        ("placement", c_nvmlGpuInstancePlacement_t),
    ]


class c_nvmlGpuInstanceProfileInfo_v2_t(_PrintableStructure):
    _fields_ = [
        ("version", c_uint),
        ("id", c_uint),
        ("isP2pSupported", c_uint),
        ("sliceCount", c_uint),
        ("instanceCount", c_uint),
        ("multiprocessorCount", c_uint),
        ("copyEngineCount", c_uint),
        ("decoderCount", c_uint),
        ("encoderCount", c_uint),
        ("jpegCount", c_uint),
        ("ofaCount", c_uint),
        ("memorySizeMB", c_ulonglong),
        ("name", c_char * NVML_DEVICE_NAME_V2_BUFFER_SIZE),
    ]


class c_nvmlGridLicenseExpiry_t(_PrintableStructure):
    _fields_ = [
        ("year", c_uint32),
        ("month", c_uint16),
        ("day", c_uint16),
        ("hour", c_uint16),
        ("min", c_uint16),
        ("sec", c_uint16),
        ("status", c_uint8),
    ]


class c_nvmlGridLicensableFeature_v4_t(_PrintableStructure):
    _fields_ = [
        ("featureCode", c_uint),
        ("featureState", c_uint),
        ("licenseInfo", c_char * NVML_GRID_LICENSE_BUFFER_SIZE),
        ("productName", c_char * NVML_GRID_LICENSE_BUFFER_SIZE),
        ("featureEnabled", c_uint),
        ("licenseExpiry", c_nvmlGridLicenseExpiry_t),
    ]


class c_nvmlGridLicensableFeatures_v4_t(_PrintableStructure):
    _fields_ = [
        ("isGridLicenseSupported", ctypes.c_int),
        ("licensableFeaturesCount", c_uint),
        ("gridLicensableFeatures", c_nvmlGridLicensableFeature_v4_t * NVML_GRID_LICENSE_FEATURE_MAX_COUNT),
    ]


class nvmlFriendlyObject:
    """What pynvml turns process structures into: plain attributes."""

    def __init__(self, dictionary: dict[str, Any]) -> None:
        for key, value in dictionary.items():
            setattr(self, key, value)

    def __str__(self) -> str:
        return str(self.__dict__)


# --- the configurable fake ----------------------------------------------------------------------

# What a busy H100 reports through GPM: metric id -> % (0-100) or MiB/s over the sampling interval.
H100_GPM: dict[int, float] = {
    NVML_GPM_METRIC_GRAPHICS_UTIL: 92.0,
    NVML_GPM_METRIC_SM_UTIL: 85.0,
    NVML_GPM_METRIC_SM_OCCUPANCY: 41.0,
    NVML_GPM_METRIC_ANY_TENSOR_UTIL: 63.0,
    NVML_GPM_METRIC_DRAM_BW_UTIL: 55.0,
    NVML_GPM_METRIC_FP64_UTIL: 0.5,
    NVML_GPM_METRIC_FP32_UTIL: 12.0,
    NVML_GPM_METRIC_FP16_UTIL: 20.0,
    NVML_GPM_METRIC_PCIE_TX_PER_SEC: 1500.0,
    NVML_GPM_METRIC_PCIE_RX_PER_SEC: 3200.0,
    NVML_GPM_METRIC_NVLINK_TOTAL_RX_PER_SEC: 12000.0,
    NVML_GPM_METRIC_NVLINK_TOTAL_TX_PER_SEC: 11000.0,
}


@dataclass
class FakeMigInstance:
    """One MIG GPU instance (with one compute instance) of a FakeGpu whose `mig_mode` is enabled.

    `profile_name` is what nvmlDeviceGetGpuInstanceProfileInfoById names its profile; `gpm`
    what nvmlGpmMigSampleGet measures on it; `processes` the compute processes running in it.
    """

    instance_id: int
    profile_id: int = 19
    profile_name: str = "MIG 1g.10gb"
    slices: int = 1
    memory_total: int = 10 * 2**30 - 256 * 2**20
    memory_used: int = 6 * 2**30
    memory_reserved: int = 0
    uuid: str = ""
    gpm: dict[int, float] = field(default_factory=lambda: dict(H100_GPM))
    processes: list[tuple[int, int | None]] = field(default_factory=list)  # (pid, used bytes or None)


@dataclass
class FakeGpu:
    """One simulated GPU; every reading in pynvml's unit. Change attributes between polls.

    `unsupported` names pynvml functions that raise NVMLError_NotSupported on this GPU
    ("NVML_FI_DEV_MEMORY_TEMP" makes that field value come back NOT_SUPPORTED instead);
    `lost = True` makes every call on it raise NVMLError_GpuIsLost.
    """

    name: str = "NVIDIA H100 80GB HBM3"
    uuid: str = "GPU-00000000-0000-0000-0000-000000000000"
    pci_bus_id: str = "00000000:18:00.0"
    memory_total: int = 85520809984  # bytes (81559 MiB)
    memory_used: int = 40 * 2**30  # bytes, without the reserved part
    memory_reserved: int = 553 * 2**20  # bytes the driver keeps (nvmlDeviceGetMemoryInfo v1 counts it as used)
    utilization_gpu: int = 87  # %
    utilization_memory: int = 41  # %
    power_mw: int = 250000  # milliwatts
    energy_mj: int = 123_456_789  # millijoules since the driver was loaded
    temperature_c: int = 54
    memory_temperature_c: int = 62
    sm_clock_mhz: int = 1980
    mem_clock_mhz: int = 2619
    encoder_util: int = 0  # %
    decoder_util: int = 0  # %
    sampling_period_us: int = 167000
    pcie_replay: int = 0
    remapped_rows: tuple[int, int, int, int] = (0, 0, 0, 0)  # correctable, uncorrectable, pending, failure
    ecc_volatile: tuple[int, int] = (0, 0)  # corrected (single-bit), uncorrected (double-bit)
    clocks_event_reasons: int = 0
    processes: list[tuple[int, int | None]] = field(default_factory=list)  # (pid, used bytes or None)
    unsupported: set[str] = field(default_factory=set)
    xid_supported: bool = True
    lost: bool = False
    gpm_supported: bool = True  # Hopper and later; nvmlGpmQueryDeviceSupport
    gpm: dict[int, float] = field(default_factory=lambda: dict(H100_GPM))
    nvlink_data_kib: tuple[int, int] | None = (7_340_032, 6_291_456)  # RX, TX since driver load; None: no NVLink
    virtualization_mode: int = NVML_GPU_VIRTUALIZATION_MODE_NONE  # _VGPU: a vGPU guest
    vgpu_licensed: bool = True  # in a vGPU guest
    mig_supported: bool = True
    mig_mode: int = NVML_DEVICE_MIG_DISABLE
    mig_instances: list[FakeMigInstance] = field(default_factory=list)


class FakeNvml:
    """A stand-in for the pynvml module; see the module docstring.

    `library_missing=True` makes nvmlInit raise NVMLError_LibraryNotFound; `init_error` any
    other NVML_ERROR_* code (e.g. NVML_ERROR_DRIVER_NOT_LOADED). `calls` counts each function
    called, by name. `inject_xid(index, xid)` queues an XID event for nvmlEventSetWait_v2.
    """

    def __init__(
        self,
        gpus: list[FakeGpu] | None = None,
        *,
        library_missing: bool = False,
        init_error: int | None = None,
        driver_version: str = "550.54.15",
    ) -> None:
        self.gpus = list(gpus) if gpus is not None else [FakeGpu()]
        self.library_missing = library_missing
        self.init_error = init_error
        self.driver_version = driver_version
        self.calls: dict[str, int] = {}
        self._refcount = 0
        self._lock = threading.Lock()
        self._events: dict[int, deque[tuple[int, int, int]]] = {}  # event set id -> (gpu, type, data)
        self._registered: dict[int, dict[int, int]] = {}  # event set id -> gpu index -> event mask
        self._next_set = 1
        self._gpm_samples: dict[int, tuple[int, int | None, int, dict[int, float]] | None] = {}
        self._gpm_sequence = 0

    @classmethod
    def with_gpus(cls, n: int, **kwargs: Any) -> FakeNvml:
        """`n` distinct GPUs with realistic identities."""
        gpus = [
            FakeGpu(
                uuid=f"GPU-{i:08x}-1111-2222-3333-{i:012x}",
                pci_bus_id=f"00000000:{0x18 + 0x10 * i:02X}:00.0",
                energy_mj=100_000_000 + i * 1_000_000,
            )
            for i in range(n)
        ]
        return cls(gpus, **kwargs)

    @classmethod
    def h100_pair(cls, **kwargs: Any) -> FakeNvml:
        """The stand-in for a two-GPU Hopper node: two H100 SXM with GPM and NVLink, MIG off."""
        return cls.with_gpus(2, **kwargs)

    # -- test controls

    def inject_xid(self, index: int, xid: int) -> None:
        with self._lock:
            for set_id, masks in self._registered.items():
                if masks.get(index, 0) & nvmlEventTypeXidCriticalError:
                    self._events[set_id].append((index, nvmlEventTypeXidCriticalError, xid))

    # -- helpers

    def _count(self, name: str) -> None:
        self.calls[name] = self.calls.get(name, 0) + 1

    def _check_init(self, name: str) -> None:
        self._count(name)
        if self._refcount <= 0:  # pynvml: no library loaded, or not initialized
            raise NVMLError(NVML_ERROR_UNINITIALIZED)

    def _gpu(self, handle: Any, name: str) -> FakeGpu:
        """The GPU of a device handle; a MIG device handle is refused (NOT_SUPPORTED), as NVML
        refuses most device queries on one."""
        gpu, instance = self._device(handle, name)
        if instance is not None:
            raise NVMLError(NVML_ERROR_NOT_SUPPORTED)
        return gpu

    def _device(self, handle: Any, name: str) -> tuple[FakeGpu, FakeMigInstance | None]:
        """(GPU, MIG instance or None) of a GPU or MIG device handle."""
        self._check_init(name)
        index = _handle_index(handle)
        if index is None or not 0 <= index < len(self.gpus):
            raise NVMLError(NVML_ERROR_INVALID_ARGUMENT)
        gpu = self.gpus[index]
        if gpu.lost:
            raise NVMLError(NVML_ERROR_GPU_IS_LOST)
        if name in gpu.unsupported:
            raise NVMLError(NVML_ERROR_NOT_SUPPORTED)
        slot = _mig_slot(handle)
        if slot is None:
            return gpu, None
        if gpu.mig_mode != NVML_DEVICE_MIG_ENABLE or slot >= len(gpu.mig_instances):
            raise NVMLError(NVML_ERROR_INVALID_ARGUMENT)  # the instance is gone
        return gpu, gpu.mig_instances[slot]

    def _mig_gpu(self, handle: Any, name: str) -> FakeGpu:
        gpu = self._gpu(handle, name)
        if not gpu.mig_supported:
            raise NVMLError(NVML_ERROR_NOT_SUPPORTED)
        return gpu

    def _instance(self, gpu: FakeGpu, instance_id: int) -> FakeMigInstance:
        if gpu.mig_mode != NVML_DEVICE_MIG_ENABLE:
            raise NVMLError(NVML_ERROR_INVALID_ARGUMENT)
        found = next((i for i in gpu.mig_instances if i.instance_id == instance_id), None)
        if found is None:
            raise NVMLError(NVML_ERROR_NOT_FOUND)
        return found

    # -- library

    def nvmlInit(self) -> None:
        self._count("nvmlInit")
        if self.library_missing:
            raise NVMLError(NVML_ERROR_LIBRARY_NOT_FOUND)
        if self.init_error is not None:
            raise NVMLError(self.init_error)
        self._refcount += 1

    def nvmlShutdown(self) -> None:
        self._check_init("nvmlShutdown")
        self._refcount -= 1

    def nvmlSystemGetDriverVersion(self) -> str:
        self._check_init("nvmlSystemGetDriverVersion")
        return self.driver_version

    def nvmlDeviceGetCount(self) -> int:
        self._check_init("nvmlDeviceGetCount")
        return len(self.gpus)

    def nvmlDeviceGetHandleByIndex(self, index: int) -> Any:
        self._check_init("nvmlDeviceGetHandleByIndex")
        if not 0 <= index < len(self.gpus):
            raise NVMLError(NVML_ERROR_INVALID_ARGUMENT)
        if self.gpus[index].lost:
            raise NVMLError(NVML_ERROR_GPU_IS_LOST)
        return _handle(index)

    # -- identity

    def nvmlDeviceGetUUID(self, handle: Any) -> str:
        return self._gpu(handle, "nvmlDeviceGetUUID").uuid

    def nvmlDeviceGetName(self, handle: Any) -> str:
        return self._gpu(handle, "nvmlDeviceGetName").name

    def nvmlDeviceGetPciInfo(self, handle: Any) -> nvmlPciInfo_t:
        gpu = self._gpu(handle, "nvmlDeviceGetPciInfo")
        info = nvmlPciInfo_t()
        domain, bus, rest = gpu.pci_bus_id.split(":")
        info.busId = gpu.pci_bus_id
        info.busIdLegacy = f"{int(domain, 16):04x}:{bus}:{rest}"
        info.domain, info.bus, info.device = int(domain, 16), int(bus, 16), int(rest.split(".")[0], 16)
        return info

    # -- readings

    def nvmlDeviceGetUtilizationRates(self, handle: Any) -> c_nvmlUtilization_t:
        gpu = self._gpu(handle, "nvmlDeviceGetUtilizationRates")
        if gpu.mig_mode == NVML_DEVICE_MIG_ENABLE:  # nvml.h: "not currently supported" on MIG-enabled GPUs
            raise NVMLError(NVML_ERROR_NOT_SUPPORTED)
        return c_nvmlUtilization_t(gpu=gpu.utilization_gpu, memory=gpu.utilization_memory)

    def nvmlDeviceGetMemoryInfo(self, handle: Any, version: int | None = None) -> c_nvmlMemory_t | c_nvmlMemory_v2_t:
        gpu, instance = self._device(handle, "nvmlDeviceGetMemoryInfo")  # a MIG device: the instance's memory
        memory = instance if instance is not None else gpu
        free = memory.memory_total - memory.memory_used - memory.memory_reserved
        if not version:
            used = memory.memory_used + memory.memory_reserved
            return c_nvmlMemory_t(total=memory.memory_total, free=free, used=used)
        if version != nvmlMemory_v2:
            raise NVMLError(NVML_ERROR_INVALID_ARGUMENT)
        if "nvmlDeviceGetMemoryInfo_v2" in gpu.unsupported:
            raise NVMLError(NVML_ERROR_FUNCTION_NOT_FOUND)
        return c_nvmlMemory_v2_t(
            version=version,
            total=memory.memory_total,
            reserved=memory.memory_reserved,
            free=free,
            used=memory.memory_used,
        )

    def nvmlDeviceGetPowerUsage(self, handle: Any) -> int:
        return self._gpu(handle, "nvmlDeviceGetPowerUsage").power_mw

    def nvmlDeviceGetTotalEnergyConsumption(self, handle: Any) -> int:
        return self._gpu(handle, "nvmlDeviceGetTotalEnergyConsumption").energy_mj

    def nvmlDeviceGetTemperature(self, handle: Any, sensor: int) -> int:
        gpu = self._gpu(handle, "nvmlDeviceGetTemperature")
        if sensor != NVML_TEMPERATURE_GPU:
            raise NVMLError(NVML_ERROR_INVALID_ARGUMENT)
        return gpu.temperature_c

    def nvmlDeviceGetFieldValues(self, handle: Any, fieldIds: list[Any]) -> Any:
        """Field ids alone or (field id, scope id) pairs, as pynvml takes them."""
        gpu = self._gpu(handle, "nvmlDeviceGetFieldValues")
        values = (c_nvmlFieldValue_t * len(fieldIds))()
        for i, requested in enumerate(fieldIds):
            field_id, scope = requested if isinstance(requested, tuple | list) else (requested, 0)
            values[i].fieldId, values[i].scopeId = field_id, scope
            values[i].nvmlReturn = NVML_ERROR_NOT_SUPPORTED
            if field_id == NVML_FI_DEV_MEMORY_TEMP and "NVML_FI_DEV_MEMORY_TEMP" not in gpu.unsupported:
                values[i].valueType = NVML_VALUE_TYPE_UNSIGNED_INT
                values[i].value.uiVal = gpu.memory_temperature_c
                values[i].nvmlReturn = NVML_SUCCESS
            nvlink = (NVML_FI_DEV_NVLINK_THROUGHPUT_DATA_RX, NVML_FI_DEV_NVLINK_THROUGHPUT_DATA_TX)
            if field_id in nvlink and gpu.nvlink_data_kib is not None and scope == 0xFFFFFFFF:  # all links
                values[i].valueType = NVML_VALUE_TYPE_UNSIGNED_LONG_LONG
                values[i].value.ullVal = gpu.nvlink_data_kib[nvlink.index(field_id)]
                values[i].nvmlReturn = NVML_SUCCESS
        return values

    def nvmlDeviceGetClockInfo(self, handle: Any, type: int) -> int:  # pynvml's parameter name
        gpu = self._gpu(handle, "nvmlDeviceGetClockInfo")
        if type == NVML_CLOCK_SM:
            return gpu.sm_clock_mhz
        if type == NVML_CLOCK_MEM:
            return gpu.mem_clock_mhz
        raise NVMLError(NVML_ERROR_NOT_SUPPORTED)

    def nvmlDeviceGetEncoderUtilization(self, handle: Any) -> list[int]:
        gpu = self._gpu(handle, "nvmlDeviceGetEncoderUtilization")
        return [gpu.encoder_util, gpu.sampling_period_us]

    def nvmlDeviceGetDecoderUtilization(self, handle: Any) -> list[int]:
        gpu = self._gpu(handle, "nvmlDeviceGetDecoderUtilization")
        return [gpu.decoder_util, gpu.sampling_period_us]

    def nvmlDeviceGetPcieReplayCounter(self, handle: Any) -> int:
        return self._gpu(handle, "nvmlDeviceGetPcieReplayCounter").pcie_replay

    def nvmlDeviceGetRemappedRows(self, device: Any) -> tuple[int, int, int, int]:
        return tuple(self._gpu(device, "nvmlDeviceGetRemappedRows").remapped_rows)  # type: ignore[return-value]

    def nvmlDeviceGetTotalEccErrors(self, handle: Any, errorType: int, counterType: int) -> int:
        gpu = self._gpu(handle, "nvmlDeviceGetTotalEccErrors")
        if counterType != NVML_VOLATILE_ECC or errorType not in (0, 1):
            raise NVMLError(NVML_ERROR_NOT_SUPPORTED)
        return gpu.ecc_volatile[errorType]

    def nvmlDeviceGetCurrentClocksEventReasons(self, handle: Any) -> int:
        return self._gpu(handle, "nvmlDeviceGetCurrentClocksEventReasons").clocks_event_reasons

    def nvmlDeviceGetCurrentClocksThrottleReasons(self, handle: Any) -> int:
        return self._gpu(handle, "nvmlDeviceGetCurrentClocksThrottleReasons").clocks_event_reasons

    def nvmlDeviceGetComputeRunningProcesses(self, handle: Any) -> list[nvmlFriendlyObject]:
        """A GPU's processes; on a MIG-enabled GPU also every instance's (nvml.h: the aggregate, for a
        caller with the privileges this fake assumes), and a MIG device handle's: its instance's only."""
        gpu, instance = self._device(handle, "nvmlDeviceGetComputeRunningProcesses")
        mig = gpu.mig_mode == NVML_DEVICE_MIG_ENABLE
        running: list[tuple[int, int | None, int]] = []  # (pid, used bytes, GPU instance id)
        if instance is None:
            running += [(pid, used, 0xFFFFFFFF) for pid, used in gpu.processes]
        for each in gpu.mig_instances if mig else ():
            if instance is None or each is instance:
                running += [(pid, used, each.instance_id) for pid, used in each.processes]
        return [
            nvmlFriendlyObject({"pid": pid, "usedGpuMemory": used, "gpuInstanceId": gi, "computeInstanceId": 0})
            for pid, used, gi in running
        ]

    # -- virtualization

    def nvmlDeviceGetVirtualizationMode(self, handle: Any) -> int:
        return self._gpu(handle, "nvmlDeviceGetVirtualizationMode").virtualization_mode

    def nvmlDeviceGetGridLicensableFeatures(self, handle: Any) -> c_nvmlGridLicensableFeatures_v4_t:
        gpu = self._gpu(handle, "nvmlDeviceGetGridLicensableFeatures")
        features = c_nvmlGridLicensableFeatures_v4_t()
        if gpu.virtualization_mode == NVML_GPU_VIRTUALIZATION_MODE_VGPU:
            features.isGridLicenseSupported = 1
            features.licensableFeaturesCount = 1
            vgpu = features.gridLicensableFeatures[0]
            vgpu.featureCode = NVML_GRID_LICENSE_FEATURE_CODE_VGPU
            vgpu.featureState = int(gpu.vgpu_licensed)
            vgpu.featureEnabled = 1
            vgpu.productName = "NVIDIA Virtual Compute Server"
        return features

    # -- MIG

    def nvmlDeviceGetMigMode(self, device: Any) -> list[int]:
        gpu = self._mig_gpu(device, "nvmlDeviceGetMigMode")
        return [gpu.mig_mode, gpu.mig_mode]  # current, pending

    def nvmlDeviceGetMaxMigDeviceCount(self, device: Any) -> int:
        self._mig_gpu(device, "nvmlDeviceGetMaxMigDeviceCount")
        return 7

    def nvmlDeviceGetMigDeviceHandleByIndex(self, device: Any, index: int) -> Any:
        gpu = self._mig_gpu(device, "nvmlDeviceGetMigDeviceHandleByIndex")
        if gpu.mig_mode != NVML_DEVICE_MIG_ENABLE or not 0 <= index < 7:
            raise NVMLError(NVML_ERROR_INVALID_ARGUMENT)
        if index >= len(gpu.mig_instances):
            raise NVMLError(NVML_ERROR_NOT_FOUND)  # no MIG device at this index
        return _mig_handle(self.gpus.index(gpu), index)

    def nvmlDeviceGetGpuInstanceId(self, device: Any) -> int:
        _, instance = self._device(device, "nvmlDeviceGetGpuInstanceId")
        if instance is None:
            raise NVMLError(NVML_ERROR_NOT_SUPPORTED)  # not a MIG device handle
        return instance.instance_id

    def nvmlDeviceGetGpuInstanceById(self, device: Any, gpuInstanceId: int) -> Any:
        gpu = self._mig_gpu(device, "nvmlDeviceGetGpuInstanceById")
        self._instance(gpu, gpuInstanceId)
        address = _GPU_INSTANCE_BASE + 0x100 * self.gpus.index(gpu) + gpuInstanceId
        return ctypes.cast(ctypes.c_void_p(address), c_nvmlGpuInstance_t)

    def nvmlGpuInstanceGetInfo(self, gpuInstance: Any) -> c_nvmlGpuInstanceInfo_t:
        self._check_init("nvmlGpuInstanceGetInfo")
        address = ctypes.cast(gpuInstance, ctypes.c_void_p).value
        if address is None or not 0 <= address - _GPU_INSTANCE_BASE < 0x100 * len(self.gpus):
            raise NVMLError(NVML_ERROR_INVALID_ARGUMENT)
        index, instance_id = divmod(address - _GPU_INSTANCE_BASE, 0x100)
        instance = self._instance(self.gpus[index], instance_id)
        return c_nvmlGpuInstanceInfo_t(device=_handle(index), id=instance.instance_id, profileId=instance.profile_id)

    def nvmlDeviceGetGpuInstanceProfileInfoById(self, device: Any, profileId: int) -> Any:
        gpu = self._mig_gpu(device, "nvmlDeviceGetGpuInstanceProfileInfoById")
        profile = next((i for i in gpu.mig_instances if i.profile_id == profileId), None)
        if profile is None:
            raise NVMLError(NVML_ERROR_NOT_SUPPORTED)  # a profile this fake GPU does not know
        info = c_nvmlGpuInstanceProfileInfo_v2_t(
            version=nvmlGpuInstanceProfileInfo_v2,
            id=profileId,
            sliceCount=profile.slices,
            memorySizeMB=profile.memory_total // 2**20,
        )
        info.name = profile.profile_name
        return info

    # -- GPU Performance Monitoring

    def nvmlGpmQueryDeviceSupport(self, device: Any) -> c_nvmlGpmSupport_t:
        gpu = self._gpu(device, "nvmlGpmQueryDeviceSupport")
        return c_nvmlGpmSupport_t(version=NVML_GPM_SUPPORT_VERSION, isSupportedDevice=int(gpu.gpm_supported))

    def nvmlGpmSampleAlloc(self) -> Any:
        self._check_init("nvmlGpmSampleAlloc")
        with self._lock:
            self._gpm_sequence += 1
            sample_id = self._gpm_sequence
            self._gpm_samples[sample_id] = None
        return ctypes.cast(ctypes.c_void_p(_GPM_SAMPLE_BASE + sample_id), c_nvmlGpmSample_t)

    def nvmlGpmSampleFree(self, gpmSample: Any) -> None:
        self._check_init("nvmlGpmSampleFree")
        with self._lock:
            if self._gpm_samples.pop(_sample_id(gpmSample), False) is False:
                raise NVMLError(NVML_ERROR_INVALID_ARGUMENT)

    def nvmlGpmSampleGet(self, device: Any, gpmSample: Any) -> Any:
        gpu = self._gpu(device, "nvmlGpmSampleGet")
        if not gpu.gpm_supported:
            raise NVMLError(NVML_ERROR_NOT_SUPPORTED)
        self._record(gpmSample, self.gpus.index(gpu), None, gpu.gpm)
        return gpmSample

    def nvmlGpmMigSampleGet(self, device: Any, gpuInstanceId: int, gpmSample: Any) -> Any:
        gpu = self._gpu(device, "nvmlGpmMigSampleGet")
        if not gpu.gpm_supported:
            raise NVMLError(NVML_ERROR_NOT_SUPPORTED)
        instance = self._instance(gpu, gpuInstanceId)
        self._record(gpmSample, self.gpus.index(gpu), gpuInstanceId, instance.gpm)
        return gpmSample

    def nvmlGpmMetricsGet(self, metricsGet: Any) -> Any:
        """Each metric over the interval between the two samples: this fake reports the device's
        `gpm` values as they were at the second sample."""
        self._check_init("nvmlGpmMetricsGet")
        if metricsGet.version != NVML_GPM_METRICS_GET_VERSION or metricsGet.numMetrics > NVML_GPM_METRIC_MAX:
            raise NVMLError(NVML_ERROR_INVALID_ARGUMENT)
        with self._lock:
            first = self._gpm_samples.get(_sample_id(metricsGet.sample1))
            second = self._gpm_samples.get(_sample_id(metricsGet.sample2))
        if first is None or second is None or first[:2] != second[:2] or first[2] >= second[2]:
            raise NVMLError(NVML_ERROR_INVALID_ARGUMENT)  # unfilled, of two devices, or out of order
        measured = second[3]
        for i in range(metricsGet.numMetrics):
            metric = metricsGet.metrics[i]
            if metric.metricId in measured:
                metric.value, metric.nvmlReturn = measured[metric.metricId], NVML_SUCCESS
            else:
                metric.value, metric.nvmlReturn = 0.0, NVML_ERROR_NOT_SUPPORTED
        return metricsGet

    def _record(self, sample: Any, index: int, instance_id: int | None, measured: dict[int, float]) -> None:
        sample_id = _sample_id(sample)
        with self._lock:
            if sample_id not in self._gpm_samples:
                raise NVMLError(NVML_ERROR_INVALID_ARGUMENT)
            self._gpm_sequence += 1
            self._gpm_samples[sample_id] = (index, instance_id, self._gpm_sequence, dict(measured))

    # -- events

    def nvmlEventSetCreate(self) -> Any:
        self._check_init("nvmlEventSetCreate")
        with self._lock:
            set_id = self._next_set
            self._next_set += 1
            self._events[set_id] = deque()
            self._registered[set_id] = {}
        return ctypes.cast(ctypes.c_void_p(0x7E000000 + set_id), c_nvmlEventSet_t)

    def nvmlDeviceRegisterEvents(self, handle: Any, eventTypes: int, eventSet: Any) -> None:
        gpu = self._gpu(handle, "nvmlDeviceRegisterEvents")
        if eventTypes & nvmlEventTypeXidCriticalError and not gpu.xid_supported:
            raise NVMLError(NVML_ERROR_NOT_SUPPORTED)
        set_id = _set_id(eventSet)
        with self._lock:
            masks = self._registered[set_id]
            index = _handle_index(handle)
            assert index is not None
            masks[index] = masks.get(index, 0) | eventTypes

    def nvmlEventSetWait_v2(self, eventSet: Any, timeoutms: int) -> c_nvmlEventData_t:
        self._check_init("nvmlEventSetWait_v2")
        with self._lock:
            queue = self._events[_set_id(eventSet)]
            if not queue:
                raise NVMLError(NVML_ERROR_TIMEOUT)  # the fake never blocks: as if `timeoutms` passed
            index, event_type, data = queue.popleft()
        return c_nvmlEventData_t(device=_handle(index), eventType=event_type, eventData=data)

    def nvmlEventSetWait(self, eventSet: Any, timeoutms: int) -> c_nvmlEventData_t:
        return self.nvmlEventSetWait_v2(eventSet, timeoutms)

    def nvmlEventSetFree(self, eventSet: Any) -> None:
        self._check_init("nvmlEventSetFree")
        with self._lock:
            set_id = _set_id(eventSet)
            self._events.pop(set_id, None)
            self._registered.pop(set_id, None)


_HANDLE_BASE = 0x7F000000
_GPU_INSTANCE_BASE = 0x7D000000
_GPM_SAMPLE_BASE = 0x7C000000


def _handle(index: int) -> Any:
    """A device handle as pynvml gives one: a ctypes pointer to an opaque struct (never dereferenced)."""
    return ctypes.cast(ctypes.c_void_p(_HANDLE_BASE + 0x100 * (index + 1)), c_nvmlDevice_t)


def _handle_index(handle: Any) -> int | None:
    try:
        address = ctypes.cast(handle, ctypes.c_void_p).value
    except (TypeError, ctypes.ArgumentError):
        return None
    if address is None:
        return None
    return (address - _HANDLE_BASE) // 0x100 - 1


def _mig_handle(index: int, slot: int) -> Any:
    """A MIG device handle: inside its GPU's handle block, never equal to the GPU's handle."""
    return ctypes.cast(ctypes.c_void_p(_HANDLE_BASE + 0x100 * (index + 1) + 0x10 * (slot + 1)), c_nvmlDevice_t)


def _mig_slot(handle: Any) -> int | None:
    """The MIG device index of a MIG device handle; None for a GPU's own handle."""
    address = ctypes.cast(handle, ctypes.c_void_p).value
    offset = ((address or 0) - _HANDLE_BASE) % 0x100
    return offset // 0x10 - 1 if offset else None


def _sample_id(sample: Any) -> int:
    address = ctypes.cast(sample, ctypes.c_void_p).value
    if address is None:
        raise NVMLError(NVML_ERROR_INVALID_ARGUMENT)
    return address - _GPM_SAMPLE_BASE


def _set_id(event_set: Any) -> int:
    address = ctypes.cast(event_set, ctypes.c_void_p).value
    if address is None:
        raise NVMLError(NVML_ERROR_INVALID_ARGUMENT)
    return address - 0x7E000000


# The module-level names a poller reads from the nvml "module" (constants, exceptions,
# structure classes) are attributes of every FakeNvml as well.
for _name, _value in list(globals().items()):
    if _name.startswith(("NVML_", "nvml", "NVMLError", "c_nvml")) and not hasattr(FakeNvml, _name):
        setattr(FakeNvml, _name, _value)
