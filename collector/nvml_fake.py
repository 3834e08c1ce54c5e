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
    c_int64,
    c_longlong,
    c_uint,
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
nvmlMemory_v2 = 0x02000028

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


class nvmlFriendlyObject:
    """What pynvml turns process structures into: plain attributes."""

    def __init__(self, dictionary: dict[str, Any]) -> None:
        for key, value in dictionary.items():
            setattr(self, key, value)

    def __str__(self) -> str:
        return str(self.__dict__)


# --- the configurable fake ----------------------------------------------------------------------


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
        self._check_init(name)
        index = _handle_index(handle)
        if index is None or not 0 <= index < len(self.gpus):
            raise NVMLError(NVML_ERROR_INVALID_ARGUMENT)
        gpu = self.gpus[index]
        if gpu.lost:
            raise NVMLError(NVML_ERROR_GPU_IS_LOST)
        if name in gpu.unsupported:
            raise NVMLError(NVML_ERROR_NOT_SUPPORTED)
        return gpu

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
        return c_nvmlUtilization_t(gpu=gpu.utilization_gpu, memory=gpu.utilization_memory)

    def nvmlDeviceGetMemoryInfo(self, handle: Any, version: int | None = None) -> c_nvmlMemory_t | c_nvmlMemory_v2_t:
        gpu = self._gpu(handle, "nvmlDeviceGetMemoryInfo")
        free = gpu.memory_total - gpu.memory_used - gpu.memory_reserved
        if not version:
            return c_nvmlMemory_t(total=gpu.memory_total, free=free, used=gpu.memory_used + gpu.memory_reserved)
        if version != nvmlMemory_v2:
            raise NVMLError(NVML_ERROR_INVALID_ARGUMENT)
        if "nvmlDeviceGetMemoryInfo_v2" in gpu.unsupported:
            raise NVMLError(NVML_ERROR_FUNCTION_NOT_FOUND)
        return c_nvmlMemory_v2_t(
            version=version, total=gpu.memory_total, reserved=gpu.memory_reserved, free=free, used=gpu.memory_used
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

    def nvmlDeviceGetFieldValues(self, handle: Any, fieldIds: list[int]) -> Any:
        gpu = self._gpu(handle, "nvmlDeviceGetFieldValues")
        values = (c_nvmlFieldValue_t * len(fieldIds))()
        for i, field_id in enumerate(fieldIds):
            values[i].fieldId = field_id
            if field_id == NVML_FI_DEV_MEMORY_TEMP and "NVML_FI_DEV_MEMORY_TEMP" not in gpu.unsupported:
                values[i].valueType = NVML_VALUE_TYPE_UNSIGNED_INT
                values[i].value.uiVal = gpu.memory_temperature_c
                values[i].nvmlReturn = NVML_SUCCESS
            else:
                values[i].nvmlReturn = NVML_ERROR_NOT_SUPPORTED
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
        gpu = self._gpu(handle, "nvmlDeviceGetComputeRunningProcesses")
        return [
            nvmlFriendlyObject({"pid": pid, "usedGpuMemory": used, "gpuInstanceId": 0xFFFFFFFF, "computeInstanceId": 0})
            for pid, used in gpu.processes
        ]

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
