"""The quick soak (benchmarks/soak.py --quick): five minutes of 5,000 records/s and 1,000 spans/s against
`driftwarden run`; passes when the daemon's RSS grows at most 10 % after warm-up and at least 95 % of the
records/s are accepted. Selected with `-m soak`."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.soak
@pytest.mark.timeout(900)
def test_quick_soak_keeps_memory_flat_and_the_rate_up() -> None:
    run = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "soak.py"), "--quick"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=840,
        env={**os.environ, "COLUMNS": "100"},
    )
    print(run.stdout[-6000:], run.stderr[-3000:])
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
