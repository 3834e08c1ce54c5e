"""`driftwarden demo` end to end: the first thing a new user runs."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from driftwarden.demo import SHIFTED_FEATURES
from tests.conftest import free_port

pytestmark = [pytest.mark.server, pytest.mark.slow]


def test_demo_detects_the_injected_shift_and_names_it(tmp_path: Path) -> None:
    port = free_port()
    cmd = [
        sys.executable,
        "-m",
        "driftwarden",
        "demo",
        "--duration",
        "24",
        "--rate",
        "1000",
        "--listen",
        f"127.0.0.1:{port}",
        "--state",
        str(tmp_path / "state.db"),
        "--exit",
    ]
    proc = subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=os.environ | {"COLUMNS": "200"}
    )
    drifted: dict[str, float] = {}
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and proc.poll() is None:
            time.sleep(1)
            try:
                text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=2).text
            except httpx.HTTPError:
                continue
            drifted = {
                m[1]: float(m[2])
                for m in re.finditer(r'driftwarden_feature_drifted\{feature="(\w+)",model="fraud"\} (\S+)', text)
            }
            if drifted and all(drifted[f] == 1.0 for f in SHIFTED_FEATURES):
                break
        out, _ = proc.communicate(timeout=90)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, out
    # the shifted inputs, and the model's output, which follows amount
    assert {f for f, v in drifted.items() if v == 1.0} == {*SHIFTED_FEATURES, "prediction"}, drifted
    assert len(drifted) == 10 and "country" in drifted  # 8 numeric inputs, a categorical one, the output
    assert "shift injected" in out and "DRIFT DETECTED" in out
    detected = out[out.index("DRIFT DETECTED") :]
    assert all(f in detected for f in SHIFTED_FEATURES)
    assert "SLO fraud-latency: PAGE" in out  # the latency regression, seen through the real OTLP exporter
    # the drift alert reaches the local webhook signed, triggers retraining, and resolves after the rollback
    assert "ALERT FIRING to the local webhook (signature ok)" in out
    assert "retraining triggered for fraud" in out
    resolved = out[out.index("shift rolled back") :]
    assert "ALERT RESOLVED" in resolved or "resolved FeatureDrift" in resolved
