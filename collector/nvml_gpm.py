"""DCGM's profiling fields (DCGM_FI_PROF_*) from NVML's GPU Performance Monitoring (GPM).

GPM exists on Hopper and later (`nvmlGpmQueryDeviceSupport`); on older GPUs these fields are
left out, since NVML has no other source for them (DCGM reads Volta and Ampere's profiling
counters through its own profiling module). A `GpmSampler` keeps two NVML sample buffers for one
GPU, or for one MIG GPU instance of it; `read()` refills the older buffer and asks NVML for the
metrics between the two, so each reading covers the interval since the previous one. `prime()`
takes the first sample (at start), so the first poll already has a reading.

GPM reports percentages (0-100) and MiB/s; DCGM's fields are ratios (0-1) and bytes/s, so each
metric is scaled to DCGM's unit.

>>> from driftwarden.collector.nvml_fake import FakeNvml
>>> nvml = FakeNvml.h100_pair()
>>> nvml.nvmlInit()
>>> handle = nvml.nvmlDeviceGetHandleByIndex(0)
>>> sampler = GpmSampler(nvml, handle)
>>> sampler.prime()
>>> reading = sampler.read()
>>> reading["DCGM_FI_PROF_GR_ENGINE_ACTIVE"], reading["DCGM_FI_PROF_PCIE_RX_BYTES"]
(0.92, 3355443200.0)
>>> sampler.free()
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

from driftwarden.core.gpu import (
    PROF_DRAM_ACTIVE,
    PROF_GR_ENGINE_ACTIVE,
    PROF_NVLINK_RX_BYTES,
    PROF_NVLINK_TX_BYTES,
    PROF_PCIE_RX_BYTES,
    PROF_PCIE_TX_BYTES,
    PROF_PIPE_FP16_ACTIVE,
    PROF_PIPE_FP32_ACTIVE,
    PROF_PIPE_FP64_ACTIVE,
    PROF_PIPE_TENSOR_ACTIVE,
    PROF_SM_ACTIVE,
    PROF_SM_OCCUPANCY,
)

__all__ = ["GPM_METRICS", "GpmSampler", "gpm_supported"]


def ratio(percent: float) -> float:
    """GPM's 0-100 -> DCGM's 0-1."""
    return percent / 100.0


def bytes_per_second(mib_per_second: float) -> float:
    """GPM's MiB/s -> DCGM's bytes/s."""
    return mib_per_second * 2**20


PERCENT, MIB = ratio, bytes_per_second
# (pynvml's metric id constant, DCGM field, conversion to DCGM's unit)
GPM_METRICS: tuple[tuple[str, str, Callable[[float], float]], ...] = (
    ("NVML_GPM_METRIC_GRAPHICS_UTIL", PROF_GR_ENGINE_ACTIVE, PERCENT),
    ("NVML_GPM_METRIC_SM_UTIL", PROF_SM_ACTIVE, PERCENT),
    ("NVML_GPM_METRIC_SM_OCCUPANCY", PROF_SM_OCCUPANCY, PERCENT),
    ("NVML_GPM_METRIC_ANY_TENSOR_UTIL", PROF_PIPE_TENSOR_ACTIVE, PERCENT),
    ("NVML_GPM_METRIC_DRAM_BW_UTIL", PROF_DRAM_ACTIVE, PERCENT),
    ("NVML_GPM_METRIC_FP64_UTIL", PROF_PIPE_FP64_ACTIVE, PERCENT),
    ("NVML_GPM_METRIC_FP32_UTIL", PROF_PIPE_FP32_ACTIVE, PERCENT),
    ("NVML_GPM_METRIC_FP16_UTIL", PROF_PIPE_FP16_ACTIVE, PERCENT),
    ("NVML_GPM_METRIC_PCIE_TX_PER_SEC", PROF_PCIE_TX_BYTES, MIB),
    ("NVML_GPM_METRIC_PCIE_RX_PER_SEC", PROF_PCIE_RX_BYTES, MIB),
    ("NVML_GPM_METRIC_NVLINK_TOTAL_TX_PER_SEC", PROF_NVLINK_TX_BYTES, MIB),
    ("NVML_GPM_METRIC_NVLINK_TOTAL_RX_PER_SEC", PROF_NVLINK_RX_BYTES, MIB),
)


def gpm_supported(nvml: Any, handle: Any) -> bool:
    """Whether the GPU supports GPM; raises what NVML raises (NotSupported, FunctionNotFound,
    AttributeError for a pynvml without GPM), for the poller to classify."""
    return bool(nvml.nvmlGpmQueryDeviceSupport(handle).isSupportedDevice)


class GpmSampler:
    """Two GPM sample buffers of one GPU (`instance_id` None) or one of its MIG GPU instances."""

    def __init__(self, nvml: Any, handle: Any, instance_id: int | None = None) -> None:
        self.nvml = nvml
        self.handle = handle
        self.instance_id = instance_id
        first = nvml.nvmlGpmSampleAlloc()
        try:
            second = nvml.nvmlGpmSampleAlloc()
        except Exception:
            nvml.nvmlGpmSampleFree(first)
            raise
        self._older, self._latest = first, second
        self._primed = False
        self._metrics = [
            (getattr(nvml, name), field, convert) for name, field, convert in GPM_METRICS if hasattr(nvml, name)
        ]

    def prime(self) -> None:
        """Take the sample the first `read()` measures from."""
        self._take(self._latest)
        self._primed = True

    def read(self) -> dict[str, float]:
        """DCGM field -> value over the interval since the previous sample ({} on the first call
        when `prime()` was not called); a metric NVML does not report is left out."""
        self._take(self._older)
        self._older, self._latest = self._latest, self._older
        if not self._primed:
            self._primed = True
            return {}
        nvml = self.nvml
        request = nvml.c_nvmlGpmMetricsGet_t()
        request.version = nvml.NVML_GPM_METRICS_GET_VERSION
        request.numMetrics = len(self._metrics)
        request.sample1, request.sample2 = self._older, self._latest
        for i, (metric_id, _, _) in enumerate(self._metrics):
            request.metrics[i].metricId = metric_id
        nvml.nvmlGpmMetricsGet(request)
        reading = {}
        for metric, (_, field, convert) in zip(request.metrics, self._metrics, strict=False):  # 12 of 477 slots
            if metric.nvmlReturn == nvml.NVML_SUCCESS:
                reading[field] = convert(float(metric.value))
        return reading

    def free(self) -> None:
        """Free both buffers; never raises."""
        for sample in (self._older, self._latest):
            with contextlib.suppress(Exception):
                self.nvml.nvmlGpmSampleFree(sample)

    def _take(self, sample: Any) -> None:
        if self.instance_id is None:
            self.nvml.nvmlGpmSampleGet(self.handle, sample)
        else:
            self.nvml.nvmlGpmMigSampleGet(self.handle, self.instance_id, sample)
