"""Scrape-time exposition of GPU telemetry under dcgm-exporter's names, units and labels.

NVIDIA's Grafana dashboard and the usual alert rules query `DCGM_FI_DEV_*{gpu, UUID,
pci_bus_id, device, modelName, Hostname}`; this collector writes exactly those series from the
poller's latest samples (plus `DCGM_FI_DRIVER_VERSION`, as dcgm-exporter 3.x+ does), leaving a
field out for a GPU that does not support it.

One deliberate difference: the fields dcgm-exporter declares `counter` (energy, PCIe replays,
remapped rows, ECC totals) are typed `untyped` here (`unknown` in OpenMetrics), with the same
sample names. prometheus_client's text writer appends `_total` to every counter family's
HELP/TYPE name, which would orphan the un-suffixed samples, and `promtool check metrics` (as well
as the OpenMetrics format) refuses a counter without `_total`; dcgm-exporter's own output fails
that check. `rate()`/`increase()` work on untyped series, so queries are unaffected.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence

from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from driftwarden.collector.gpu import NvmlPoller
from driftwarden.core.gpu import GpuSample, InferenceFigure
from driftwarden.core.metric_names import GPU_AVAILABLE, GPU_LOST, INFERENCE_COST, INFERENCE_ENERGY, MODEL_GPU_MEMORY

__all__ = ["DCGM_LABELS", "DCGM_METRICS", "GpuCollector"]

INFERENCE_WINDOWS = ("1m", "1h")
DCGM_LABELS = ("gpu", "UUID", "pci_bus_id", "device", "modelName", "Hostname")
DCGM_DRIVER_LABEL = "DCGM_FI_DRIVER_VERSION"
# name, dcgm-exporter's type, help (dcgm-exporter's etc/default-counters.csv wording and units)
DCGM_METRICS: tuple[tuple[str, str, str], ...] = (
    ("DCGM_FI_DEV_SM_CLOCK", "gauge", "SM clock frequency (in MHz)."),
    ("DCGM_FI_DEV_MEM_CLOCK", "gauge", "Memory clock frequency (in MHz)."),
    ("DCGM_FI_DEV_MEMORY_TEMP", "gauge", "Memory temperature (in C)."),
    ("DCGM_FI_DEV_GPU_TEMP", "gauge", "GPU temperature (in C)."),
    ("DCGM_FI_DEV_POWER_USAGE", "gauge", "Power draw (in W)."),
    ("DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION", "counter", "Total energy consumption since boot (in mJ)."),
    ("DCGM_FI_DEV_PCIE_REPLAY_COUNTER", "counter", "Total number of PCIe retries."),
    ("DCGM_FI_DEV_GPU_UTIL", "gauge", "GPU utilization (in %)."),
    ("DCGM_FI_DEV_MEM_COPY_UTIL", "gauge", "Memory utilization (in %)."),
    ("DCGM_FI_DEV_ENC_UTIL", "gauge", "Encoder utilization (in %)."),
    ("DCGM_FI_DEV_DEC_UTIL", "gauge", "Decoder utilization (in %)."),
    ("DCGM_FI_DEV_XID_ERRORS", "gauge", "Value of the last XID error encountered."),
    ("DCGM_FI_DEV_FB_FREE", "gauge", "Framebuffer memory free (in MiB)."),
    ("DCGM_FI_DEV_FB_USED", "gauge", "Framebuffer memory used (in MiB)."),
    ("DCGM_FI_DEV_FB_TOTAL", "gauge", "Framebuffer memory total (in MiB)."),
    ("DCGM_FI_DEV_ECC_SBE_VOL_TOTAL", "counter", "Total number of single-bit volatile ECC errors."),
    ("DCGM_FI_DEV_ECC_DBE_VOL_TOTAL", "counter", "Total number of double-bit volatile ECC errors."),
    ("DCGM_FI_DEV_UNCORRECTABLE_REMAPPED_ROWS", "counter", "Number of remapped rows for uncorrectable errors"),
    ("DCGM_FI_DEV_CORRECTABLE_REMAPPED_ROWS", "counter", "Number of remapped rows for correctable errors"),
    ("DCGM_FI_DEV_ROW_REMAP_FAILURE", "gauge", "Whether remapping of rows has failed"),
)
# How each dcgm-exporter type is exposed here (see the module docstring for counters).
EXPOSED_TYPE = {"gauge": "gauge", "counter": "unknown"}


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
    ) -> None:
        self._samples = latest_samples
        self._available = available
        self.hostname = hostname
        self._driver_version = driver_version if callable(driver_version) else (lambda: driver_version)
        self._model_memory = model_memory
        self._inference = inference

    @classmethod
    def from_poller(
        cls, poller: NvmlPoller, *, inference: Callable[[], Sequence[InferenceFigure]] | None = None
    ) -> GpuCollector:
        """Reads `poller.latest()`, `poller.available`, `poller.model_memory()` (when matchers are configured)."""
        return cls(
            poller.latest,
            available=lambda: poller.available,
            hostname=poller.hostname,
            driver_version=lambda: poller.driver_version,  # known once start() ran
            model_memory=poller.model_memory if poller.matchers else None,
            inference=inference,
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
        driver_version = self._driver_version()
        labels = [self._labels(s, driver_version) for s in samples]
        for name, dcgm_type, documentation in DCGM_METRICS:
            family = None
            for s, label_values in zip(samples, labels, strict=True):
                value = s.fields.get(name)
                if value is None:
                    continue
                if family is None:
                    family = Metric(name, documentation, EXPOSED_TYPE[dcgm_type])
                family.add_sample(name, label_values, value)
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
        return labels


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
