"""Running `driftwarden run` as its own process for a benchmark (its own GIL, its own CPU count)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

__all__ = ["cpu_seconds", "free_port", "start_server", "stop_server", "wait_healthy"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(workdir: Path, port: int, extra_config: str = "") -> subprocess.Popen:
    """The daemon on 127.0.0.1:port with state in `workdir`; `extra_config` is appended YAML."""
    config = workdir / "driftwarden.yaml"
    config.write_text(
        f"state_path: {workdir / 'state.db'}\nevaluate_every: 30s\ngpu: {{enabled: false}}\n" + extra_config
    )
    script = Path(sys.executable).with_name("driftwarden")
    command = [str(script)] if script.exists() else [sys.executable, "-m", "driftwarden"]
    log = (workdir / "server.log").open("wb")
    return subprocess.Popen(
        [*command, "run", "--config", str(config), "--listen", f"127.0.0.1:{port}"],
        stdout=log,
        stderr=subprocess.STDOUT,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )


def wait_healthy(base: str, server: subprocess.Popen, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"server exited with {server.returncode} before answering /healthz")
        try:
            if httpx.get(f"{base}/healthz", timeout=1.0).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"no answer from {base}/healthz within {timeout:.0f} s")


def stop_server(server: subprocess.Popen) -> None:
    if server.poll() is None:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=10)


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU seconds of a process (Linux /proc); None elsewhere."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
