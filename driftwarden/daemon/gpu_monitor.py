"""The GPU loop: poll NVML every `gpu.interval` in a worker thread, judge health, price inferences.

Requests for cost per inference come from traces when the model server sends any, else from
prediction records, never both (a request is counted once).
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Callable, Mapping

from driftwarden.collector.gpu import NvmlPoller
from driftwarden.collector.nvml_fields import load_nvml
from driftwarden.config import Config
from driftwarden.detectors.findings import Finding
from driftwarden.detectors.gpu import GpuHealth
from driftwarden.detectors.gpu_cost import InferenceCost, RequestCounter
from driftwarden.exporters.gpu import GpuCollector, workload_labels
from driftwarden.params import gpu_params

__all__ = ["GpuMonitor"]

log = logging.getLogger("driftwarden.gpu")


class GpuMonitor:
    """The daemon's GPU wiring: builds the poller, health and cost detectors from `config.gpu`."""

    def __init__(
        self,
        config: Config,
        *,
        nvml: object | None = None,
        environ: Mapping[str, str] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """`environ` (default: the process's) names the pod, namespace and container of the GPU series;
        `clock` times the samples and the requests counted (the daemon's, so tests can move it)."""
        params = gpu_params(config.gpu)
        self.workload = workload_labels(os.environ if environ is None else environ)
        self.params = params
        wanted = params.enabled is not False
        self.poller = NvmlPoller(nvml if nvml is not None else (load_nvml() if wanted else None), params, clock=clock)
        self.health = GpuHealth()
        self.traced = RequestCounter(clock=clock)
        self.logged = RequestCounter(clock=clock)
        only_model = next(iter(config.models)) if len(config.models) == 1 and not params.model_processes else None
        self.cost = InferenceCost(params.cost_per_hour, fallback_model=only_model)
        self._wanted = wanted
        self._task: asyncio.Task[None] | None = None
        self._findings: list[Finding] = []

    def collector(self) -> GpuCollector:
        return GpuCollector.from_poller(self.poller, inference=lambda: self.cost.latest, workload=self.workload)

    async def start(self) -> None:
        if not self._wanted:
            log.info("GPU monitoring disabled (gpu.enabled: false)")
            return
        if await asyncio.to_thread(self.poller.start):
            self._task = asyncio.create_task(self._run(), name="driftwarden-gpu")
        elif self.params.enabled is True:
            log.error("gpu.enabled is true but no GPU could be opened through NVML; GPU metrics stay off")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        await asyncio.to_thread(self.poller.shutdown)

    def count_requests(self, model: str, count: int, *, traced: bool) -> None:
        (self.traced if traced else self.logged).add(model, count)

    def findings(self) -> list[Finding]:
        return list(self._findings)

    async def poll_once(self) -> None:
        samples = await asyncio.to_thread(self.poller.poll)
        requests = self.traced if self.traced.count(3600) else self.logged
        self.health.update(samples, requests=requests.count(self.params.interval))
        self.cost.update(samples, self.poller.model_memory_by_gpu())
        self.cost.evaluate(requests.windows())
        self._findings = self.health.evaluate()

    async def _run(self) -> None:
        while True:
            try:
                await self.poll_once()
            except Exception:  # NVML trouble is reported, never fatal to the daemon
                log.exception("GPU poll failed")
            await asyncio.sleep(self.params.interval)
