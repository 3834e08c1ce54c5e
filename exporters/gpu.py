"""Scrape-time exposition of GPU telemetry under dcgm-exporter's names, types, units and labels.

NVIDIA's Grafana dashboard and the usual alert rules query `DCGM_FI_DEV_*` and `DCGM_FI_PROF_*`
`{gpu, UUID, pci_bus_id, device, modelName, Hostname}`; this collector writes exactly those series
from the poller's latest samples, with dcgm-exporter's other labels where they apply:
`DCGM_FI_DRIVER_VERSION` (dcgm-exporter 3.x+), `err_code` and `err_msg` on
`DCGM_FI_DEV_XID_ERRORS` (4.5+), `GPU_I_PROFILE` and `GPU_I_ID` on a MIG instance's series, and
`pod`, `namespace`, `container` in Kubernetes (`workload_labels`). A field a GPU does not support
is left out, never written as 0.

dcgm-exporter's counters (energy, PCIe replays, remapped rows, ECC totals) keep their names, with
no `_total`: typed `counter` in the text format 0.0.4, as dcgm-exporter types them, and `unknown`
in OpenMetrics, which has no counter without `_total`. The families are `exporters.exposition.TextFamily`s:
each GPU's label set is escaped once a scrape, not once for each of its ~30 fields.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence

from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from driftwarden.collector.gpu import NvmlPoller
from driftwarden.core import gpu as dcgm
from driftwarden.core.gpu import GpuSample, InferenceFigure, xid_message
from driftwarden.core.metric_names import GPU_AVAILABLE, GPU_LOST, INFERENCE_COST, INFERENCE_ENERGY, MODEL_GPU_MEMORY
from driftwarden.exporters.exposition import TextFamily, label_text

__all__ = [
    "DCGM_LABELS",
    "DCGM_METRICS",
    "INSTANCE_LABELS",
    "WORKLOAD_ENV",
    "XID_LABELS",
    "GpuCollector",
    "workload_labels",
]

INFERENCE_WINDOWS = ("1m", "1h")
DCGM_LABELS = ("gpu", "UUID", "pci_bus_id", "device", "modelName", "Hostname")
DCGM_DRIVER_LABEL = "DCGM_FI_DRIVER_VERSION"
INSTANCE_LABELS = ("GPU_I_PROFILE", "GPU_I_ID")  # a MIG GPU instance's series
XID_LABELS = ("err_code", "err_msg")
# label -> the environment variable it comes from; the manifests set POD_NAME and POD_NAMESPACE
# from the downward API and GPU_CONTAINER to the name of the container the GPUs serve (the
# downward API has no container names). A label whose variable is unset or empty is left out.
WORKLOAD_ENV = {"pod": "POD_NAME", "namespace": "POD_NAMESPACE", "container": "GPU_CONTAINER"}
# name, dcgm-exporter's type, help (with the unit)
DCGM_METRICS: tuple[tuple[str, str, str], ...] = (
    (dcgm.SM_CLOCK, "gauge", "SM clock frequency (in MHz)."),
    (dcgm.MEM_CLOCK, "gauge", "Memory clock frequency (in MHz)."),
    (dcgm.MEMORY_TEMP, "gauge", "Memory temperature (in C)."),
    (dcgm.GPU_TEMP, "gauge", "GPU temperature (in C)."),
    (dcgm.POWER_USAGE, "gauge", "Power draw (in W)."),
    (dcgm.TOTAL_ENERGY_CONSUMPTION, "counter", "Total energy consumption since boot (in mJ)."),
    (dcgm.PCIE_REPLAY_COUNTER, "counter", "Total number of PCIe retries."),
    (dcgm.GPU_UTIL, "gauge", "GPU utilization (in %)."),
    (dcgm.MEM_COPY_UTIL, "gauge", "Memory utilization (in %)."),
    (dcgm.ENC_UTIL, "gauge", "Encoder utilization (in %)."),
    (dcgm.DEC_UTIL, "gauge", "Decoder utilization (in %)."),
    (dcgm.XID_ERRORS, "gauge", "Value of the last XID error encountered."),
    (dcgm.FB_FREE, "gauge", "Framebuffer memory free (in MiB)."),
    (dcgm.FB_USED, "gauge", "Framebuffer memory used (in MiB)."),
    (dcgm.FB_TOTAL, "gauge", "Framebuffer memory total (in MiB)."),
    (dcgm.FB_RESERVED, "gauge", "Framebuffer memory reserved by the driver (in MiB)."),
    (dcgm.ECC_SBE_VOL_TOTAL, "counter", "Total number of single-bit volatile ECC errors."),
    (dcgm.ECC_DBE_VOL_TOTAL, "counter", "Total number of double-bit volatile ECC errors."),
    (dcgm.UNCORRECTABLE_REMAPPED_ROWS, "counter", "Number of remapped rows for uncorrectable errors"),
    (dcgm.CORRECTABLE_REMAPPED_ROWS, "counter", "Number of remapped rows for correctable errors"),
    (dcgm.ROW_REMAP_FAILURE, "gauge", "Whether remapping of rows has failed"),
    (
        dcgm.NVLINK_BANDWIDTH_TOTAL,
        "gauge",
        "NVLink data received and transmitted over all links since the driver loaded (in KiB).",
    ),
    (dcgm.VGPU_LICENSE_STATUS, "gauge", "vGPU license status (1: licensed, 0: not; vGPU guests only)."),
    (dcgm.PROF_GR_ENGINE_ACTIVE, "gauge", "Ratio of time the graphics engine is active (0-1)."),
    (dcgm.PROF_SM_ACTIVE, "gauge", "Ratio of cycles an SM has at least one warp assigned (0-1)."),
    (dcgm.PROF_SM_OCCUPANCY, "gauge", "Ratio of warps resident on an SM to the maximum (0-1)."),
    (dcgm.PROF_PIPE_TENSOR_ACTIVE, "gauge", "Ratio of cycles any tensor pipe is active (0-1)."),
    (dcgm.PROF_DRAM_ACTIVE, "gauge", "Ratio of cycles the device memory interface is active (0-1)."),
    (dcgm.PROF_PIPE_FP64_ACTIVE, "gauge", "Ratio of cycles the fp64 pipes are active (0-1)."),
    (dcgm.PROF_PIPE_FP32_ACTIVE, "gauge", "Ratio of cycles the fp32 pipes are active (0-1)."),
    (dcgm.PROF_PIPE_FP16_ACTIVE, "gauge", "Ratio of cycles the fp16 pipes are active (0-1)."),
    (dcgm.PROF_PCIE_TX_BYTES, "gauge", "Rate of data transmitted over the PCIe bus, headers included (in B/s)."),
    (dcgm.PROF_PCIE_RX_BYTES, "gauge", "Rate of data received over the PCIe bus, headers included (in B/s)."),
    (dcgm.PROF_NVLINK_TX_BYTES, "gauge", "Rate of data transmitted over NVLink, all links (in B/s)."),
    (dcgm.PROF_NVLINK_RX_BYTES, "gauge", "Rate of data received over NVLink, all links (in B/s)."),
)


def workload_labels(environ: Mapping[str, str]) -> dict[str, str]:
    """`pod`, `namespace` and `container` of the GPUs' workload, from the environment (WORKLOAD_ENV).

    >>> workload_labels({"POD_NAME": "fraud-0", "POD_NAMESPACE": "ml", "GPU_CONTAINER": ""})
    {'pod': 'fraud-0', 'namespace': 'ml'}
    """
    return {label: environ[name] for label, name in WORKLOAD_ENV.items() if environ.get(name)}


class GpuCollector(Collector):
    """DCGM_FI_DEV_* per GPU, GPU availability and loss, and per-model GPU memory, energy and
    cost per inference, all read at scrape time from what the poller and `InferenceCost` keep.

    `latest_samples` and the other callables must be cheap (they run on every scrape).
    """

    def __init__(
        self,
        latest_samples: Callable[[], Sequence[GpuSample]],
        *,
        available: Callable[[], bool],
        hostname: str,
        driver_version: str | Callable[[], str] = "",
        model_memory: Callable[[], Mapping[str, int]] | None = None,
        inference: Callable[[], Sequence[InferenceFigure]] | None = None,
        workload: Mapping[str, str] | None = None,
    ) -> None:
        self._samples = latest_samples
        self._available = available
        self.hostname = hostname
        self.workload = dict(workload or {})
        self._driver_version = driver_version if callable(driver_version) else (lambda: driver_version)
        self._model_memory = model_memory
        self._inference = inference

    @classmethod
    def from_poller(
        cls,
        poller: NvmlPoller,
        *,
        inference: Callable[[], Sequence[InferenceFigure]] | None = None,
        workload: Mapping[str, str] | None = None,
    ) -> GpuCollector:
        """Reads `poller.latest()`, `poller.available`, `poller.model_memory()` (when matchers are
        configured); `workload` is `workload_labels(os.environ)` in the daemon."""
        return cls(
            poller.latest,
            available=lambda: poller.available,
            hostname=poller.hostname,
            driver_version=lambda: poller.driver_version,  # known once start() ran
            model_memory=poller.model_memory if poller.matchers else None,
            inference=inference,
            workload=workload,
        )

    def describe(self) -> list[Metric]:
        return []  # the series depend on the GPUs present: skip the registration-time collect

    def collect(self) -> Iterator[Metric]:
        available = bool(self._available())
        yield GaugeMetricFamily(
            GPU_AVAILABLE, "1 when NVML is initialized and sees at least one GPU.", value=float(available)
        )
        samples = list(self._samples()) if available else []
        yield from self._dcgm(samples)
        lost = GaugeMetricFamily(
            GPU_LOST, "1 when NVML reports the GPU lost (fell off the bus).", labels=["gpu", "UUID"]
        )
        for s in samples:
            lost.add_metric([str(s.index), s.uuid], float(s.lost))
        yield lost
        if self._model_memory is not None:
            memory = GaugeMetricFamily(
                MODEL_GPU_MEMORY, "GPU memory used by the model's processes (gpu.model_processes).", labels=["model"]
            )
            for model, used in sorted(self._model_memory().items()):
                memory.add_metric([model], float(used))
            yield memory
        if self._inference is not None:
            yield from _inference_families(self._inference())

    def _dcgm(self, samples: Sequence[GpuSample]) -> Iterator[Metric]:
        """One family per field: each GPU's series, then each of its MIG instances' series."""
        driver_version = self._driver_version()
        series: list[tuple[dict[str, str], str, Mapping[str, float]]] = []
        for s in samples:
            labels = self._labels(s, driver_version)
            series.append((labels, label_text(labels), s.fields))
            for instance in s.instances:
                instance_labels = {**labels, "GPU_I_PROFILE": instance.profile, "GPU_I_ID": str(instance.instance_id)}
                series.append((instance_labels, label_text(instance_labels), instance.fields))
        for name, dcgm_type, documentation in DCGM_METRICS:
            family: TextFamily | None = None
            for labels, text, fields in series:
                value = fields.get(name)
                if value is None:
                    continue
                if family is None:
                    family = TextFamily(name, documentation, counter=dcgm_type == "counter")
                if name == dcgm.XID_ERRORS:
                    xid = {**labels, "err_code": str(int(value)), "err_msg": xid_message(int(value))}
                    family.add(xid, label_text(xid), value)
                else:
                    family.add(labels, text, value)
            if family is not None:
                yield family

    def _labels(self, s: GpuSample, driver_version: str) -> dict[str, str]:
        labels = {
            "gpu": str(s.index),
            "UUID": s.uuid,
            "pci_bus_id": s.pci_bus_id,
            "device": s.device,
            "modelName": s.name,
            "Hostname": self.hostname,
        }
        if driver_version:
            labels[DCGM_DRIVER_LABEL] = driver_version
        return {**labels, **self.workload}


def _inference_families(figures: Sequence[InferenceFigure]) -> Iterator[Metric]:
    energy = GaugeMetricFamily(
        INFERENCE_ENERGY,
        "GPU energy per request over the window (the model's share of its GPUs' energy / requests).",
        labels=["model", "window"],
    )
    cost = GaugeMetricFamily(
        INFERENCE_COST,
        "GPU cost per request over the window (window × GPUs used × gpu.cost_per_hour / 3600 / requests).",
        labels=["model", "window"],
    )
    for f in figures:
        if f.energy_joules is not None:
            energy.add_metric([f.model, f.window], f.energy_joules)
        if f.cost_dollars is not None:
            cost.add_metric([f.model, f.window], f.cost_dollars)
    yield from (energy, cost)
