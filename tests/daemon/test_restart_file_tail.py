"""kill -9 while following a file: no line lost, none counted twice (offsets commit with the windows)."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import httpx
import orjson
import pytest

from tests.support.ports import free_port
from tests.support.processes import driftwarden_run

pytestmark = [pytest.mark.server, pytest.mark.slow]


def append(path: Path, start: int, count: int) -> None:
    with path.open("ab") as f:
        f.write(
            b"".join(orjson.dumps({"model": "m", "features": {"x": i}}) + b"\n" for i in range(start, start + count))
        )


def current_rows(url: str) -> int:
    models = httpx.get(f"{url}/v1/models").json()["models"]
    return models[0]["rows"]["current"] if models else 0


def wait_for_rows(url: str, expected: int, timeout: float = 20.0) -> int:
    deadline = time.monotonic() + timeout
    while (rows := current_rows(url)) < expected and time.monotonic() < deadline:
        time.sleep(0.1)
    return rows


def test_kill_9_mid_stream_loses_and_repeats_no_line(tmp_path: Path) -> None:
    log_file = tmp_path / "predictions.ndjson"
    config = tmp_path / "c.yaml"
    config.write_text(
        f"state_path: {tmp_path / 'state.db'}\nevaluate_every: 1s\ncheckpoint_every: 1s\ngpu: {{enabled: false}}\n"
        f"models: {{m: {{window: 100000}}}}\n"
        f"sources: [{{file: {log_file}, poll_interval: 100ms}}]\n"
    )
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    append(log_file, 0, 2000)
    with driftwarden_run(config, tmp_path / "first.log", port=port) as served:
        assert wait_for_rows(url, 2000) == 2000
        time.sleep(1.5)  # a checkpoint holds those 2,000 rows and their offset
        append(log_file, 2000, 1500)
        assert wait_for_rows(url, 3500) == 3500  # read and admitted, maybe not checkpointed yet
        os.kill(served.proc.pid, signal.SIGKILL)
        served.proc.wait(timeout=10)
    append(log_file, 3500, 500)  # written while the sidecar was down
    with driftwarden_run(config, tmp_path / "second.log", port=port):
        assert wait_for_rows(url, 4000) == 4000
        time.sleep(1.0)  # anything read twice would show up by now
        assert current_rows(url) == 4000
