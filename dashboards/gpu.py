"""gpu.json: dcgm-exporter's DCGM_FI_DEV_* panels from NVML, and cost and energy per inference."""

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
        [target(sel(dcgm.XID_ERRORS, gpu=gpu_), legend)],
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
            target(sel(dcgm.FB_USED, gpu=gpu_), legend + " used"),
            target(sel(dcgm.FB_FREE, gpu=gpu_), legend + " free"),
        ],
        unit="mbytes",
        description="DCGM_FI_DEV_FB_USED and _FB_FREE (MiB).",
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
        [variable("gpu", "GPU", sel(dcgm.GPU_UTIL)), variable("model", "Model", sel(g.INFERENCE_COST))],
        [
            series(dcgm.GPU_UTIL, "GPU utilization", "percent", "DCGM_FI_DEV_GPU_UTIL.", w=12),
            available,
            xid,
            memory,
            series(dcgm.POWER_USAGE, "Power draw", "watt", "DCGM_FI_DEV_POWER_USAGE."),
            temperature,
            series(dcgm.SM_CLOCK, "SM clock", "rotmhz", "DCGM_FI_DEV_SM_CLOCK."),
            cost,
            energy,
        ],
    )
