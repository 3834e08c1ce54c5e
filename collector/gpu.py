"""NVML polling: one `GpuSample` per GPU per poll, keyed by dcgm-exporter's field names.

The nvml module is injected (`NvmlPoller(nvml=pynvml)` with `import pynvml` from the
nvidia-ml-py package; `collector.nvml_fake.FakeNvml` in tests and benchmarks), so nothing
here imports it. The fields are read by `collector.nvml_fields`, the profiling fields by
`collector.nvml_gpm` (Hopper and later), MIG instances found by `collector.nvml_mig`; the
per-model memory comes from `collector.gpu_processes`.

Failures of the environment never raise out of this module:

* no library, no driver, no GPU, or `enabled=False`: `start()` logs one line and leaves
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
import logging
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from types import ModuleType
from typing import Any

from driftwarden.collector.gpu_processes import attribute_by_gpu, parse_matchers
from driftwarden.collector.nvml_fields import (
    READERS,
    as_text,
    handle_address,
    read_clocks_event_reasons,
    read_memory,
    read_processes,
)
from driftwarden.collector.nvml_gpm import GpmSampler, gpm_supported
from driftwarden.collector.nvml_mig import MigInstance, mig_instances
from driftwarden.core.gpu import XID_ERRORS, GpuInstanceSample, GpuSample
from driftwarden.params import GpuParams

__all__ = ["NvmlPoller"]

log = logging.getLogger("driftwarden.gpu")

MAX_EVENTS_PER_POLL = 256  # XID events drained per poll; the rest wait for the next one


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
    gpm: GpmSampler | None = None
    instances: dict[int, _Instance] = field(default_factory=dict)  # MIG GPU instance id -> instance


@dataclass
class _Instance:
    mig: MigInstance
    gpm: GpmSampler | None = None


class _Lost(Exception):
    """NVMLError_GpuIsLost from a reader: the GPU is reported lost from then on."""


class _Never(Exception):
    """Stands in for an NVMLError_* class the injected module lacks."""


class NvmlPoller:
    """Reads every GPU through NVML, once per `poll()`.

    `params` (default `GpuParams()`) gives `enabled`, `hostname` (the `hostname` argument wins,
    then this host's name) and `model_processes`; `interval` is only logged, the caller polls.

    >>> from driftwarden.collector.nvml_fake import FakeNvml
    >>> poller = NvmlPoller(nvml=FakeNvml.with_gpus(2), hostname="node-a")
    >>> poller.start()
    True
    >>> [(s.device, s.fields["DCGM_FI_DEV_POWER_USAGE"], s.fields["DCGM_FI_DEV_FB_USED"]) for s in poller.poll()]
    [('nvidia0', 250.0, 40960.0), ('nvidia1', 250.0, 40960.0)]
    >>> poller.shutdown()
    """

    def __init__(
        self,
        nvml: ModuleType | Any | None,
        params: GpuParams | None = None,
        *,
        clock: Callable[[], float] = time.time,
        hostname: str | None = None,
        proc_root: str | Path = "/proc",
    ) -> None:
        self.nvml: Any = nvml  # pynvml is untyped; a fake stands in for it in tests
        params = params if params is not None else GpuParams()
        self.params = params
        self.hostname = hostname or params.hostname or socket.gethostname()
        self.proc_root = Path(proc_root)
        self.matchers = parse_matchers(params.model_processes)  # ValueError on a malformed matcher
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

        def err(name: str) -> type[BaseException]:
            found: type[BaseException] = getattr(nvml, name, _Never) if nvml is not None else _Never
            return found

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
            if self.params.enabled is False:
                log.info("GPU telemetry disabled (gpu.enabled: false)")
                return False
            quiet = self.params.enabled == "auto"
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
            for device in devices:
                self._start_profiling(device)
            self.available = True
            log.info(
                "GPU telemetry: %d GPU(s) (%s), driver %s, every %gs",
                len(devices),
                ", ".join(sorted({d.name for d in devices if d.name})) or "unknown",
                self.driver_version or "unknown",
                self.params.interval,
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
        for device in self._devices:
            for sampler in self._samplers(device):
                sampler.free()
            device.gpm, device.instances = None, {}
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
        device = _Device(index=index, handle=handle, address=handle_address(handle))
        readers: tuple[tuple[str, Callable[[], Any]], ...] = (
            ("uuid", lambda: nvml.nvmlDeviceGetUUID(handle)),
            ("name", lambda: nvml.nvmlDeviceGetName(handle)),
            ("pci_bus_id", lambda: nvml.nvmlDeviceGetPciInfo(handle).busId),
        )
        for attr, read in readers:
            try:
                setattr(device, attr, as_text(read()))
            except self._gpu_is_lost:
                device.lost = True
                log.warning("GPU %d is lost (NVML: GPU is lost) at start", index)
                break
            except self._nvml_error:
                pass
        return device

    def _start_profiling(self, device: _Device) -> None:
        """GPM samplers for a GPU that supports GPM, and for its MIG instances, each primed."""
        if device.lost:
            return
        try:
            if self._call(device, "gpm", gpm_supported):
                device.gpm = self._call(device, "gpm", partial(self._sampler, instance_id=None))
            self._refresh_instances(device)
        except _Lost:
            device.lost = True
            log.warning("GPU %d (%s) is lost (NVML: GPU is lost) at start", device.index, device.uuid)

    def _sampler(self, nvml: Any, handle: Any, instance_id: int | None) -> GpmSampler:
        sampler = GpmSampler(nvml, handle, instance_id)
        try:
            sampler.prime()
        except BaseException:
            sampler.free()
            raise
        return sampler

    def _samplers(self, device: _Device) -> list[GpmSampler]:
        return [s for s in (device.gpm, *(i.gpm for i in device.instances.values())) if s is not None]

    def _refresh_instances(self, device: _Device) -> None:
        """The GPU's MIG instances now: new ones get a primed sampler, gone ones are freed."""
        known = {i: instance.mig.profile for i, instance in device.instances.items()}
        found = self._call(device, "mig", lambda nvml, handle: mig_instances(nvml, handle, known))
        if found is None:  # unsupported, or failing this poll: keep what was there
            return
        current = {m.instance_id: m for m in found}
        for instance_id in set(device.instances) - set(current):
            gone = device.instances.pop(instance_id)
            if gone.gpm is not None:
                gone.gpm.free()
        for instance_id, mig in current.items():
            instance = device.instances.get(instance_id)
            if instance is None:
                sampler = None
                if device.gpm is not None:
                    sampler = self._call(device, "mig_gpm", partial(self._sampler, instance_id=instance_id))
                device.instances[instance_id] = _Instance(mig, sampler)
            else:
                device.instances[instance_id] = _Instance(mig, instance.gpm)

    def _read_instances(self, device: _Device) -> tuple[GpuInstanceSample, ...]:
        """Each MIG instance's memory, compute processes and, from its second poll on, its profiling
        fields (the first poll that sees an instance takes its first GPM sample)."""
        before = set(device.instances)
        self._refresh_instances(device)
        out = []
        for instance_id, instance in sorted(device.instances.items()):
            fields: dict[str, float] = {}
            fields.update(self._call(device, "mig_memory", _on_handle(read_memory, instance.mig.handle)) or {})
            if instance.gpm is not None and instance_id in before:
                fields.update(self._call(device, "mig_gpm", _reading(instance.gpm)) or {})
            processes = self._call(device, "mig_processes", _on_handle(read_processes, instance.mig.handle)) or ()
            out.append(GpuInstanceSample(instance_id, instance.mig.profile, fields, processes))
        return tuple(out)

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
        address = handle_address(handle)
        if address is not None:
            for device in self._devices:
                if device.address == address:
                    return device
        try:
            uuid = as_text(self.nvml.nvmlDeviceGetUUID(handle))
        except Exception:
            return None
        return next((d for d in self._devices if d.uuid and d.uuid == uuid), None)

    def _read(self, device: _Device, now: float, xids: tuple[int, ...]) -> GpuSample:
        if xids:
            device.last_xid = xids[-1]
        if not device.lost:
            try:
                fields: dict[str, float] = {}
                for key, reader in READERS:
                    values = self._call(device, key, reader)
                    if values:
                        fields.update(values)
                if device.xid_registered:
                    fields[XID_ERRORS] = float(device.last_xid)
                if device.gpm is not None:
                    fields.update(self._call(device, "gpm", _reading(device.gpm)) or {})
                instances = self._read_instances(device)
                reasons = self._call(device, "clocks_event_reasons", read_clocks_event_reasons)
                processes = self._call(device, "processes", read_processes) or ()
                return self._sample(device, now, xids, fields, processes, reasons, instances)
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
        instances: tuple[GpuInstanceSample, ...] = (),
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
            instances=instances,
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


def _reading(sampler: GpmSampler) -> Callable[[Any, Any], dict[str, float]]:
    """A `_call` reader of a GPM sampler."""
    return lambda _nvml, _handle: sampler.read()


def _on_handle(reader: Callable[[Any, Any], Any], handle: Any) -> Callable[[Any, Any], Any]:
    """A `_call` reader that reads another handle of the GPU (a MIG device's)."""
    return lambda nvml, _handle: reader(nvml, handle)
