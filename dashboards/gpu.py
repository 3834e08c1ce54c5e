"""gpu.json: dcgm-exporter's DCGM_FI_DEV_* and DCGM_FI_PROF_* panels from NVML, and cost and energy
per inference. Utilization is DCGM_FI_PROF_GR_ENGINE_ACTIVE where the GPU has it (Hopper and later,
per MIG instance too), as NVIDIA recommends over DCGM_FI_DEV_GPU_UTIL; DEV_GPU_UTIL elsewhere."""

from __future__ import annotations

from typing import Any

from driftwarden.core import gpu as dcgm
from driftwarden.core import metric_names as g
from driftwarden.core.gpu import CRITICAL_XIDS
from driftwarden.dashboards.panels import (
    Json,
    Panel,
    dashboard,
    defaults,
    mapping,
    sel,
    stat,
    target,
    timeseries,
    variable,
)

__all__ = ["gpu"]


def gpu() -> Json:
    gpu_ = "~$gpu"
    legend = "{{Hostname}} GPU {{gpu}}"
    instance_legend = legend + " {{GPU_I_PROFILE}} {{GPU_I_ID}}"  # the MIG instance, when there is one

    def series(name: str, title: str, unit: str, description: str, **kw: Any) -> Panel:
        return timeseries(title, [target(sel(name, gpu=gpu_), legend)], unit=unit, description=description, **kw)

    available = stat(
        "GPU availability",
        [target(f"sum({sel(g.GPU_AVAILABLE)})", "daemons with a GPU"), target(f"sum({sel(g.GPU_LOST)})", "GPUs lost")],
        w=6,
        h=8,
        description="Daemons whose NVML sees a GPU, and GPUs reported lost (fell off the bus).",
    )
    xid = stat(
        "Last XID error",
        [target(sel(dcgm.XID_ERRORS, gpu=gpu_), legend + ": {{err_msg}}")],
        steps=[("red", 1)],
        w=6,
        h=8,
        description=f"The last XID seen per GPU (0: none since start); "
        f"{', '.join(map(str, sorted(CRITICAL_XIDS)))} page.",
    )
    defaults(xid, mappings=mapping({"0": ("none", "green")}))
    memory = timeseries(
        "Framebuffer memory",
        [
            target(sel(dcgm.FB_USED, gpu=gpu_, GPU_I_ID=""), legend + " used"),
            target(sel(dcgm.FB_FREE, gpu=gpu_, GPU_I_ID=""), legend + " free"),
        ],
        unit="mbytes",
        description="DCGM_FI_DEV_FB_USED and _FB_FREE (MiB) of each whole GPU.",
    )
    utilization = timeseries(
        "GPU utilization",
        [
            target(
                f"{sel(dcgm.PROF_GR_ENGINE_ACTIVE, gpu=gpu_)} or {sel(dcgm.GPU_UTIL, gpu=gpu_)} / 100",
                instance_legend,
            )
        ],
        unit="percentunit",
        w=12,
        description="DCGM_FI_PROF_GR_ENGINE_ACTIVE, the share of time the graphics/compute engine was busy, per "
        "GPU and per MIG instance: NVIDIA recommends it over DCGM_FI_DEV_GPU_UTIL, which counts any kernel "
        "running as 100 % and has no value on MIG. GPUs before Hopper (no GPM in NVML) show DCGM_FI_DEV_GPU_UTIL.",
    )
    tensor = timeseries(
        "Tensor core and memory bandwidth activity",
        [
            target(sel(dcgm.PROF_PIPE_TENSOR_ACTIVE, gpu=gpu_), instance_legend + " tensor"),
            target(sel(dcgm.PROF_DRAM_ACTIVE, gpu=gpu_), instance_legend + " DRAM"),
        ],
        unit="percentunit",
        description="DCGM_FI_PROF_PIPE_TENSOR_ACTIVE and _DRAM_ACTIVE (Hopper and later): high DRAM activity with "
        "low tensor activity is a memory-bound model.",
    )
    temperature = timeseries(
        "Temperature",
        [
            target(sel(dcgm.GPU_TEMP, gpu=gpu_), legend + " core"),
            target(sel(dcgm.MEMORY_TEMP, gpu=gpu_), legend + " memory"),
        ],
        unit="celsius",
    )
    model = "~$model"
    cost = timeseries(
        "Cost per inference",
        [target(sel(g.INFERENCE_COST, model=model), "{{model}} ({{window}})")],
        unit="currencyUSD",
        description="GPU cost per request over the window: window x GPUs used x gpu.cost_per_hour / 3600 / "
        "requests (gpu.cost_per_hour must be set).",
    )
    energy = timeseries(
        "Energy per inference",
        [target(sel(g.INFERENCE_ENERGY, model=model), "{{model}} ({{window}})")],
        unit="joule",
        description="The model's share of its GPUs' energy over the window, divided by its requests.",
    )
    return dashboard(
        "driftwarden-gpu",
        "driftwarden / GPU",
        "dcgm-exporter-compatible GPU telemetry from NVML, and what an inference costs.",
        [variable("gpu", "GPU", sel(dcgm.FB_FREE)), variable("model", "Model", sel(g.INFERENCE_COST))],
        [
            utilization,
            available,
            xid,
            tensor,
            memory,
            series(dcgm.POWER_USAGE, "Power draw", "watt", "DCGM_FI_DEV_POWER_USAGE."),
            temperature,
            series(dcgm.SM_CLOCK, "SM clock", "rotmhz", "DCGM_FI_DEV_SM_CLOCK."),
            cost,
            energy,
        ],
    )
