"""NVML polling: one `GpuSample` per GPU per poll, keyed by dcgm-exporter's field names.

The nvml module is injected (`NvmlPoller(nvml=pynvml)` with `import pynvml` from the
nvidia-ml-py package; `tests/fake_nvml.py` in tests), so nothing here imports it. Units are
converted to DCGM's: framebuffer MiB (NVML gives bytes), power W (NVML: mW), energy mJ (as
NVML), clocks MHz, utilization %.

Failures of the environment never raise out of this module:

* no library, no driver, no GPU, or `gpu.enabled: false`: `start()` logs one line and leaves
  `available` False; `poll()` then returns [];
* a field a GPU does not support (NVMLError_NotSupported, or a function the driver lacks) is
  left out of that GPU's samples, never reported as 0, and not asked for again;
* NVMLError_GpuIsLost marks that GPU lost (one warning) and its samples `lost=True` with no
  fields; the other GPUs go on being read.

`poll()` blocks on NVML and reads /proc, so call it from a worker thread
(`await asyncio.to_thread(poller.poll)`); `latest()` and `model_memory()` are cheap reads of
the last poll for the scrape.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import socket
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any, Literal

from driftwarden.config import GpuSettings

__all__ = [
    "FIELDS",
    "GpuSample",
    "NvmlPoller",
    "ProcessMatcher",
    "attribute_by_gpu",
    "attribute_processes",
    "gpu_key",
    "load_nvml",
    "parse_matchers",
]

log = logging.getLogger("driftwarden.gpu")

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

# The pynvml functions this module calls; tests check that the fake and the real module agree on them.
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
)
NVML_ERRORS = (
    "NVMLError",
    "NVMLError_NotSupported",
    "NVMLError_FunctionNotFound",
    "NVMLError_GpuIsLost",
    "NVMLError_Timeout",
    "NVMLError_LibraryNotFound",
    "NVMLError_DriverNotLoaded",
)

MIB = 2**20
MAX_EVENTS_PER_POLL = 256  # XID events drained per poll; the rest wait for the next one


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


def load_nvml() -> ModuleType | None:
    """`pynvml` from nvidia-ml-py, or None when it is not installed (the poller then reports no GPU)."""
    try:
        import pynvml
    except ImportError:
        return None
    return pynvml


@dataclass
class _Device:
    index: int
    handle: Any
    uuid: str = ""
    pci_bus_id: str = ""
    name: str = ""
    address: int | None = None
    lost: bool = False
    xid_registered: bool = False
    last_xid: int = 0
    unsupported: set[str] = field(default_factory=set)


class _Lost(Exception):
    pass


class _Never(Exception):
    """Stands in for an NVMLError_* class the injected module lacks."""


class NvmlPoller:
    """Reads every GPU through NVML, once per `poll()`.

    >>> from tests.fake_nvml import FakeNvml
    >>> poller = NvmlPoller(nvml=FakeNvml.with_gpus(2), settings=GpuSettings(), hostname="node-a")
    >>> poller.start()
    True
    >>> [(s.device, s.fields["DCGM_FI_DEV_POWER_USAGE"], s.fields["DCGM_FI_DEV_FB_USED"]) for s in poller.poll()]
    [('nvidia0', 250.0, 40960.0), ('nvidia1', 250.0, 40960.0)]
    >>> poller.shutdown()
    """

    def __init__(
        self,
        nvml: ModuleType | Any | None,
        settings: GpuSettings,
        *,
        clock: Callable[[], float] = time.time,
        hostname: str | None = None,
        proc_root: str | Path = "/proc",
    ) -> None:
        self.nvml = nvml
        self.settings = settings
        self.hostname = hostname or settings.hostname or socket.gethostname()
        self.proc_root = Path(proc_root)
        self.matchers = parse_matchers(settings.model_processes)  # ValueError on a malformed matcher
        self.available = False
        self.driver_version = ""
        self._clock = clock
        self._lock = threading.Lock()
        self._devices: list[_Device] = []
        self._events: Any = None
        self._latest: list[GpuSample] = []
        self._memory_by_gpu: dict[str, dict[str, int]] = {}
        self._warned: set[tuple[Any, ...]] = set()
        self._initialized = False
        err = (lambda name: getattr(nvml, name, _Never)) if nvml is not None else (lambda name: _Never)
        self._nvml_error: type[BaseException] = err("NVMLError")
        self._gpu_is_lost: type[BaseException] = err("NVMLError_GpuIsLost")
        self._timeout: type[BaseException] = err("NVMLError_Timeout")
        self._not_supported: tuple[type[BaseException], ...] = (
            err("NVMLError_NotSupported"),
            err("NVMLError_FunctionNotFound"),
            AttributeError,  # an older pynvml without the function
        )

    # -- lifecycle

    def start(self) -> bool:
        """Initialize NVML and enumerate the GPUs; True when at least one can be polled. Never raises."""
        with self._lock:
            if self.available:
                return True
            if self.settings.enabled is False:
                log.info("GPU telemetry disabled (gpu.enabled: false)")
                return False
            quiet = self.settings.enabled == "auto"
            if self.nvml is None:
                self._unavailable("nvidia-ml-py (pynvml) is not installed", quiet)
                return False
            try:
                self.nvml.nvmlInit()
                self._initialized = True
                count = int(self.nvml.nvmlDeviceGetCount())
                try:
                    self.driver_version = str(self.nvml.nvmlSystemGetDriverVersion())
                except self._nvml_error:
                    self.driver_version = ""
                devices = [d for d in (self._open(i) for i in range(count)) if d is not None]
            except Exception as exc:  # NVMLError_LibraryNotFound, DriverNotLoaded, ... or anything odd
                self._unavailable(f"NVML unavailable ({type(exc).__name__}: {exc})", quiet)
                self._release()
                return False
            if not devices:
                self._unavailable("NVML found no GPU", quiet)
                self._release()
                return False
            self._devices = devices
            self._register_xid_events()
            self.available = True
            log.info(
                "GPU telemetry: %d GPU(s) (%s), driver %s, every %gs",
                len(devices),
                ", ".join(sorted({d.name for d in devices if d.name})) or "unknown",
                self.driver_version or "unknown",
                self.settings.interval,
            )
            return True

    def shutdown(self) -> None:
        """Free the XID event set and shut NVML down. Idempotent; never raises."""
        with self._lock:
            self.available = False
            self._release()

    # -- polling

    def poll(self) -> list[GpuSample]:
        """Read every GPU once ([] when unavailable); also refreshes the per-model memory attribution."""
        with self._lock:
            if not self.available:
                return []
            now = self._clock()
            xids = self._drain_xids()
            samples = [self._read(device, now, tuple(xids.get(device.index, ()))) for device in self._devices]
            self._memory_by_gpu = attribute_by_gpu(samples, self.matchers, proc_root=self.proc_root)
            self._latest = samples
            return samples

    def latest(self) -> list[GpuSample]:
        """The last poll's samples (for the scrape)."""
        return self._latest

    def model_memory_by_gpu(self) -> dict[str, dict[str, int]]:
        """gpu_key -> model -> GPU memory bytes of the model's processes, from the last poll."""
        return self._memory_by_gpu

    def model_memory(self) -> dict[str, int]:
        """model -> GPU memory bytes over all GPUs (0 for a configured model with nothing on a GPU)."""
        totals = dict.fromkeys(self.matchers, 0)
        for per_model in self._memory_by_gpu.values():
            for model, used in per_model.items():
                totals[model] = totals.get(model, 0) + used
        return totals

    # -- internals

    def _unavailable(self, reason: str, quiet: bool) -> None:
        (log.info if quiet else log.warning)("GPU telemetry off: %s; driftwarden_gpu_available is 0", reason)

    def _release(self) -> None:
        nvml = self.nvml
        if self._events is not None:
            with contextlib.suppress(Exception):
                nvml.nvmlEventSetFree(self._events)
            self._events = None
        if self._initialized:
            with contextlib.suppress(Exception):
                nvml.nvmlShutdown()
            self._initialized = False

    def _open(self, index: int) -> _Device | None:
        nvml = self.nvml
        try:
            handle = nvml.nvmlDeviceGetHandleByIndex(index)
        except self._gpu_is_lost:
            log.warning("GPU %d is lost (NVML: GPU is lost) at start", index)
            return _Device(index=index, handle=None, lost=True)
        except self._nvml_error as exc:
            log.warning("GPU %d skipped: %s", index, exc)
            return None
        device = _Device(index=index, handle=handle, address=_address(handle))
        for attr, read in (
            ("uuid", lambda: nvml.nvmlDeviceGetUUID(handle)),
            ("name", lambda: nvml.nvmlDeviceGetName(handle)),
            ("pci_bus_id", lambda: nvml.nvmlDeviceGetPciInfo(handle).busId),
        ):
            try:
                setattr(device, attr, _text(read()))
            except self._gpu_is_lost:
                device.lost = True
                log.warning("GPU %d is lost (NVML: GPU is lost) at start", index)
                break
            except self._nvml_error:
                pass
        return device

    def _register_xid_events(self) -> None:
        nvml = self.nvml
        try:
            self._events = nvml.nvmlEventSetCreate()
        except Exception as exc:
            log.info("XID events unavailable: %s", exc)
            return
        for device in self._devices:
            if device.lost:
                continue
            try:
                nvml.nvmlDeviceRegisterEvents(device.handle, nvml.nvmlEventTypeXidCriticalError, self._events)
                device.xid_registered = True
            except Exception as exc:
                log.info("GPU %d: XID events unavailable (%s); DCGM_FI_DEV_XID_ERRORS left out", device.index, exc)

    def _drain_xids(self) -> dict[int, list[int]]:
        """XID events waiting in the event set, by GPU index; never blocks (timeout 0 ms)."""
        out: dict[int, list[int]] = {}
        if self._events is None:
            return out
        nvml = self.nvml
        for _ in range(MAX_EVENTS_PER_POLL):
            try:
                data = nvml.nvmlEventSetWait_v2(self._events, 0)
            except self._timeout:
                break
            except Exception as exc:
                self._warn_once(("events", type(exc).__name__), "reading XID events failed: %s", exc)
                break
            if not int(data.eventType) & nvml.nvmlEventTypeXidCriticalError:
                continue
            device = self._device_of(data.device)
            if device is None:
                self._warn_once(("events", "device"), "an XID event (%d) for an unknown GPU", int(data.eventData))
                continue
            out.setdefault(device.index, []).append(int(data.eventData))
        return out

    def _device_of(self, handle: Any) -> _Device | None:
        address = _address(handle)
        if address is not None:
            for device in self._devices:
                if device.address == address:
                    return device
        try:
            uuid = _text(self.nvml.nvmlDeviceGetUUID(handle))
        except Exception:
            return None
        return next((d for d in self._devices if d.uuid and d.uuid == uuid), None)

    def _read(self, device: _Device, now: float, xids: tuple[int, ...]) -> GpuSample:
        if xids:
            device.last_xid = xids[-1]
        if not device.lost:
            try:
                fields: dict[str, float] = {}
                for key, reader in _READERS:
                    values = self._call(device, key, reader)
                    if values:
                        fields.update(values)
                if device.xid_registered:
                    fields[XID_ERRORS] = float(device.last_xid)
                reasons = self._call(device, "clocks_event_reasons", _clocks_event_reasons)
                processes = self._call(device, "processes", _processes) or ()
                return self._sample(device, now, xids, fields, processes, reasons)
            except _Lost:
                device.lost = True
                log.warning("GPU %d (%s) is lost (NVML: GPU is lost); reported as lost", device.index, device.uuid)
        return self._sample(device, now, xids, {}, (), None)

    def _sample(
        self,
        device: _Device,
        now: float,
        xids: tuple[int, ...],
        fields: dict[str, float],
        processes: tuple[tuple[int, int], ...],
        reasons: int | None,
    ) -> GpuSample:
        return GpuSample(
            index=device.index,
            uuid=device.uuid,
            pci_bus_id=device.pci_bus_id,
            name=device.name,
            device=f"nvidia{device.index}",
            at=now,
            fields=fields,
            processes=processes,
            clocks_event_reasons=reasons,
            lost=device.lost,
            xids=xids,
        )

    def _call(self, device: _Device, key: str, reader: Callable[[Any, Any], Any]) -> Any:
        """`reader(nvml, handle)`, or None when unsupported / failing; raises _Lost for a lost GPU."""
        if key in device.unsupported:
            return None
        try:
            return reader(self.nvml, device.handle)
        except self._gpu_is_lost:
            raise _Lost from None
        except self._not_supported:
            device.unsupported.add(key)
            return None
        except self._nvml_error as exc:  # e.g. NoPermission, Unknown: skip this poll, retry the next
            self._warn_once((device.index, key, type(exc).__name__), "GPU %d: %s failed: %s", device.index, key, exc)
            return None
        except Exception as exc:  # a reader bug or a library mismatch: stop asking
            device.unsupported.add(key)
            self._warn_once((device.index, key), "GPU %d: %s left out: %r", device.index, key, exc)
            return None

    def _warn_once(self, key: tuple[Any, ...], message: str, *args: Any) -> None:
        if key not in self._warned:
            self._warned.add(key)
            log.warning(message, *args)


# --- readers: (nvml, handle) -> DCGM field -> value ----------------------------------------------


def _utilization(nvml: Any, handle: Any) -> dict[str, float]:
    rates = nvml.nvmlDeviceGetUtilizationRates(handle)
    return {GPU_UTIL: float(rates.gpu), MEM_COPY_UTIL: float(rates.memory)}


def _memory(nvml: Any, handle: Any) -> dict[str, float]:
    """Like DCGM (and nvidia-smi on R510+): `used` leaves out the driver's reserved memory when
    NVML's v2 memory info is there; v1 counts it as used."""
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
    return {FB_USED: float(info.used // MIB), FB_FREE: float(info.free // MIB), FB_TOTAL: float(info.total // MIB)}


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


_READERS: tuple[tuple[str, Callable[[Any, Any], dict[str, float]]], ...] = (
    ("utilization", _utilization),
    ("memory", _memory),
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
)


def _clocks_event_reasons(nvml: Any, handle: Any) -> int:
    """nvmlDeviceGetCurrentClocksEventReasons (driver 535+), else its older name ...ThrottleReasons."""
    current = getattr(nvml, "nvmlDeviceGetCurrentClocksEventReasons", None)
    if current is not None:
        try:
            return int(current(handle))
        except nvml.NVMLError_FunctionNotFound:
            pass
    return int(nvml.nvmlDeviceGetCurrentClocksThrottleReasons(handle))


def _processes(nvml: Any, handle: Any) -> tuple[tuple[int, int], ...]:
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


def _address(handle: Any) -> int | None:
    """The address a ctypes device handle points at (stable per GPU), or None."""
    try:
        return ctypes.cast(handle, ctypes.c_void_p).value
    except (TypeError, ctypes.ArgumentError):
        return None


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


# --- per-process attribution ---------------------------------------------------------------------


@dataclass(frozen=True)
class ProcessMatcher:
    """Which processes belong to a model: `pid:1234` (exact pid), `cgroup:<substring>` (of
    /proc/<pid>/cgroup, e.g. a pod UID or container id), `cmd:<substring>` (of the command line).

    >>> ProcessMatcher.parse("cmd:vllm serve")
    ProcessMatcher(kind='cmd', value='vllm serve')
    """

    kind: Literal["pid", "cgroup", "cmd"]
    value: str

    @classmethod
    def parse(cls, text: str) -> ProcessMatcher:
        kind, sep, value = text.partition(":")
        if not sep or not value:
            raise ValueError(f"process matcher {text!r}: expected 'pid:N', 'cgroup:<substring>' or 'cmd:<substring>'")
        if kind == "pid":
            if not value.isdigit():
                raise ValueError(f"process matcher {text!r}: pid must be a number")
            return cls("pid", value)
        if kind in ("cgroup", "cmd"):
            return cls(kind, value)  # type: ignore[arg-type]
        raise ValueError(f"process matcher {text!r}: unknown kind {kind!r} (pid, cgroup, cmd)")

    def matches(self, pid: int, proc: _Proc) -> bool:
        if self.kind == "pid":
            return pid == int(self.value)
        text = proc.cgroup(pid) if self.kind == "cgroup" else proc.cmdline(pid)
        return text is not None and self.value in text


def parse_matchers(model_processes: Mapping[str, Sequence[str]]) -> dict[str, tuple[ProcessMatcher, ...]]:
    """`gpu.model_processes` -> parsed matchers per model; ValueError names a malformed one."""
    return {model: tuple(ProcessMatcher.parse(m) for m in matchers) for model, matchers in model_processes.items()}


class _Proc:
    """Reads /proc/<pid>/{cgroup,cmdline} once per attribution."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._cache: dict[tuple[int, str], str | None] = {}

    def _read(self, pid: int, name: str) -> str | None:
        key = (pid, name)
        if key not in self._cache:
            try:
                raw = (self.root / str(pid) / name).read_bytes()
                self._cache[key] = raw.replace(b"\0", b" ").decode(errors="replace").strip()
            except OSError:  # gone, or another pid namespace
                self._cache[key] = None
        return self._cache[key]

    def cgroup(self, pid: int) -> str | None:
        return self._read(pid, "cgroup")

    def cmdline(self, pid: int) -> str | None:
        return self._read(pid, "cmdline")


def attribute_processes(
    processes: Iterable[tuple[int, int]],
    matchers: Mapping[str, Sequence[ProcessMatcher]],
    *,
    proc_root: str | Path = "/proc",
    _proc: _Proc | None = None,
) -> dict[str, int]:
    """model -> bytes of GPU memory of the processes it matches (the first model whose matcher
    matches claims a process; unmatched processes are left out).

    NVML reports pids in the host's pid namespace: in a pod, this needs `hostPID: true` (or the
    model server in the same pid namespace) for cgroup/cmd matchers to find /proc/<pid>.
    """
    proc = _proc or _Proc(Path(proc_root))
    out: dict[str, int] = {}
    for pid, used in processes:
        for model, model_matchers in matchers.items():
            if any(m.matches(pid, proc) for m in model_matchers):
                out[model] = out.get(model, 0) + used
                break
    return out


def attribute_by_gpu(
    samples: Iterable[GpuSample],
    matchers: Mapping[str, Sequence[ProcessMatcher]],
    *,
    proc_root: str | Path = "/proc",
) -> dict[str, dict[str, int]]:
    """gpu_key -> model -> bytes, for the GPUs where some model's processes run."""
    if not matchers:
        return {}
    proc = _Proc(Path(proc_root))
    out = {}
    for sample in samples:
        per_model = attribute_processes(sample.processes, matchers, _proc=proc)
        if per_model:
            out[gpu_key(sample)] = per_model
    return out
