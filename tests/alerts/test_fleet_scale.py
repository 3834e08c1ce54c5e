"""The fleet benchmark (benchmarks/fleet.py) at three replicas, a smoke test: a real Prometheus scrapes the
simulated sidecars with the generated rules, and the fleet PSI it records is the exact PSI of the pooled
rows, under the default export and under a `fleet.bin_features` allow-list; `fleet.export_bins: none`
leaves the fleet rules nothing to record."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.tools import required_tool

ROOT = Path(__file__).resolve().parents[2]
TOLERANCE = 1e-9


@pytest.mark.prometheus
@pytest.mark.slow
def test_fleet_psi_from_prometheus_is_the_pooled_psi_at_three_replicas(tmp_path: Path) -> None:
    required_tool("prometheus", package="prometheus")
    out = tmp_path / "fleet.json"
    command = [sys.executable, str(ROOT / "benchmarks" / "fleet.py"), "--replicas", "3", "--interval", "1"]
    command += ["--evaluations", "2", "--knob-replicas", "3", "--tolerance", str(TOLERANCE), "--workers", "1"]
    command += ["--workdir", str(tmp_path / "work"), "--json", str(out)]
    run = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=240, env=os.environ.copy())
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]

    rows = {row["knob"]: row for row in json.loads(out.read_text())["rows"]}
    every = rows["all"]
    assert every["replicas"] == 3 and every["psi_features"] == 50 and every["fleet_values_ok"]
    assert every["psi_max_error"] <= TOLERANCE
    assert every["bin_series_per_replica"] == 50 * 10 * 2
    listed = rows["bin_features: 10 of 50"]
    assert listed["psi_features"] == 10 and listed["psi_max_error"] <= TOLERANCE
    assert listed["bin_series_per_replica"] == 10 * 10 * 2
    none = rows["none"]
    assert none["psi_features"] == 0 and none["bin_series_per_replica"] == 0
    assert none["series"] < listed["series"] < every["series"]
