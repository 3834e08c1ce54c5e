"""NVIDIA's own dcgm-exporter dashboard (`grafana/dcgm-exporter-dashboard.json`, vendored) on a real
Prometheus scraping driftwarden with the stand-in H100 pair: every panel query returns series.

The template variables are replaced as Grafana does with "All" selected (`.*`); each variable's
own `label_values` query must offer our GPUs too. One GPU has MIG on with two instances, so the
panels grouped by GPU_I_ID and GPU_I_PROFILE show them.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest

from driftwarden.collector import nvml_fake
from driftwarden.collector.nvml_fake import FakeMigInstance, FakeNvml
from tests.support.dcgm_exporter import grafana_substitute, upstream
from tests.support.prometheus import prometheus
from tests.support.server import running

JOB = "driftwarden-gpu"


def panel_queries(dashboard: dict) -> Iterator[tuple[str, str]]:
    """(panel title, expr) of every query, rows' panels included."""
    for panel in dashboard["panels"]:
        for inner in [panel, *panel.get("panels", [])]:
            for target in inner.get("targets", []):
                if target.get("expr"):
                    yield inner["title"], target["expr"]


def variable_queries(dashboard: dict) -> Iterator[tuple[str, str]]:
    for variable in dashboard["templating"]["list"]:
        if variable["type"] == "query":
            query = variable["query"]
            yield variable["name"], query["query"] if isinstance(query, dict) else query


def h100_pair_with_mig() -> FakeNvml:
    nvml = FakeNvml.h100_pair()
    mig = nvml.gpus[1]
    mig.mig_mode = nvml_fake.NVML_DEVICE_MIG_ENABLE
    mig.mig_instances = [
        FakeMigInstance(instance_id=1, profile_id=9, profile_name="MIG 3g.40gb", slices=3),
        FakeMigInstance(instance_id=5),
    ]
    return nvml


@pytest.mark.prometheus
@pytest.mark.server
@pytest.mark.slow
def test_every_panel_of_nvidias_dashboard_shows_series_from_driftwarden(tmp_path: Path) -> None:
    dashboard = orjson.loads(upstream("dcgm-exporter-dashboard.json").read_bytes())
    queries = list(panel_queries(dashboard))
    assert len(queries) >= 8
    gpu = {"enabled": True, "interval": "1s"}
    with (
        running(tmp_path / "gpu.db", h100_pair_with_mig(), gpu=gpu) as d,
        prometheus(tmp_path, {JOB: (d.url[7:], {"namespace": "ml", "pod": "fraud-gpu-0"})}) as prom,
    ):
        exprs = [grafana_substitute(expr) for _, expr in queries]
        # the GPM fields need two polls; the counters two scrapes
        late = prom.wait_for(
            [f'up{{job="{JOB}"}} == 1', "DCGM_FI_PROF_GR_ENGINE_ACTIVE", *exprs], time.monotonic() + 30
        )
        empty = [f"{title}: {expr}" for title, expr in queries if grafana_substitute(expr) in late]
        assert not empty, f"{len(empty)} of {len(queries)} panel queries returned no series:\n" + "\n".join(empty)

        for name, query in variable_queries(dashboard):
            found = re.fullmatch(r"label_values\((.+), *(\w+)\)", query)
            assert found, query
            values = prom.http.get(
                f"/api/v1/label/{found[2]}/values", params={"match[]": grafana_substitute(found[1])}
            ).json()["data"]
            assert values, (name, query)

        utilization = next(e for t, e in queries if "GR_ENGINE_ACTIVE" in e or "GPU_UTIL" in e)
        groups = prom.query(grafana_substitute(utilization))
        if "GPU_I_ID" in utilization:  # per MIG instance, as NVIDIA's newer dashboards group it
            instances = {
                (g["metric"].get("gpu"), g["metric"].get("GPU_I_ID"), g["metric"].get("GPU_I_PROFILE")) for g in groups
            }
            assert {("1", "1", "3g.40gb"), ("1", "5", "1g.10gb"), ("0", None, None)} <= instances, instances
        tensor = next(e for _, e in queries if "PIPE_TENSOR_ACTIVE" in e)
        assert all(0 < float(g["value"][1]) <= 1 for g in prom.query(grafana_substitute(tensor)))  # a ratio
