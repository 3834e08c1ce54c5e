"""Processes the tests start and stop: `driftwarden run`, `driftwarden demo`, Prometheus, Alertmanager.

One loop for all of them, `serving`: start the command with its output in a log file, wait until a
readiness URL answers 200 (failing the test with the log's tail when the process exits first or the
time is up), hand over a `Served`, and stop the process when the block ends: SIGTERM, then SIGKILL
after a grace period, reaped either way. A process the test already stopped (`os.kill(pid, SIGKILL)`,
`proc.terminate()`) is left as it is. A block that ended normally fails when the process needed
SIGKILL: a server that ignores SIGTERM is a defect, not a detail.

`driftwarden_run` and `driftwarden_demo` build the daemon's two commands on a free loopback port;
`driftwarden` runs any other verb to completion, as a user does.
"""

from __future__ import annotations

import os
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.support.ports import free_port

__all__ = ["Served", "driftwarden", "driftwarden_demo", "driftwarden_run", "serving", "stop"]

ROOT = Path(__file__).resolve().parents[2]
DRIFTWARDEN = (sys.executable, "-m", "driftwarden")
GRACE = 20.0  # seconds between SIGTERM and SIGKILL
LOG_TAIL = 6000  # characters of the log shown when a process fails to start


@dataclass(frozen=True)
class Served:
    """A started process that answers on `base_url`; its stdout and stderr go to `log`."""

    proc: subprocess.Popen[bytes]
    base_url: str
    log: Path

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")


def driftwarden(*args: str, cwd: Path | None = ROOT, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """`python -m driftwarden ARGS` run to completion: its exit code, stdout and stderr as text."""
    return subprocess.run([*DRIFTWARDEN, *args], capture_output=True, text=True, timeout=timeout, cwd=cwd, check=False)


def driftwarden_run(
    config: Path,
    log: Path,
    *,
    port: int | None = None,
    scheme: str = "http",
    verify: ssl.SSLContext | bool = True,
    ready: str = "/readyz",
) -> AbstractContextManager[Served]:
    """`driftwarden run --config CONFIG` listening on 127.0.0.1:`port` (a free one unless given: a
    restart passes the port of the first run), served once `ready` answers 200."""
    port = port or free_port()
    command = [*DRIFTWARDEN, "run", "--config", str(config), "--listen", f"127.0.0.1:{port}"]
    return serving(command, base_url=f"{scheme}://127.0.0.1:{port}", log=log, ready=ready, verify=verify)


def driftwarden_demo(log: Path, *args: str, port: int | None = None) -> AbstractContextManager[Served]:
    """`driftwarden demo ARGS` listening on 127.0.0.1:`port` with a 200-column terminal, served once
    /healthz answers. With `--exit` among ARGS it ends by itself: `proc.wait()` and read the log."""
    port = port or free_port()
    command = [*DRIFTWARDEN, "demo", *args, "--listen", f"127.0.0.1:{port}"]
    env = os.environ | {"COLUMNS": "200"}
    return serving(command, base_url=f"http://127.0.0.1:{port}", log=log, ready="/healthz", env=env)


@contextmanager
def serving(
    command: Sequence[str],
    *,
    base_url: str,
    log: Path,
    ready: str = "/readyz",
    timeout: float = 30.0,
    env: Mapping[str, str] | None = None,
    verify: ssl.SSLContext | bool = True,
) -> Iterator[Served]:
    """`command` as a child process for the block, once GET `base_url + ready` answers 200."""
    with log.open("wb") as out:  # the child holds its own descriptor; ours is closed whatever happens
        proc = subprocess.Popen(list(command), stdout=out, stderr=subprocess.STDOUT, env=env)
    served = Served(proc, base_url, log)
    try:
        _wait_ready(served, ready, timeout, verify)
        yield served
    finally:
        killed = stop(proc)
    if killed:
        pytest.fail(f"{_name(command)} did not exit within {GRACE:.0f} s of SIGTERM\n" + served.log_text()[-LOG_TAIL:])


def stop(proc: subprocess.Popen[bytes], grace: float = GRACE) -> bool:
    """SIGTERM, then SIGKILL if the process is still there after `grace` seconds. True when it took SIGKILL."""
    if proc.poll() is not None:
        return False
    proc.terminate()
    try:
        proc.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)
        return True
    return False


def _wait_ready(served: Served, path: str, timeout: float, verify: ssl.SSLContext | bool) -> None:
    deadline = time.monotonic() + timeout
    with httpx.Client(base_url=served.base_url, verify=verify, timeout=1) as client:
        while True:
            if served.proc.poll() is not None:
                pytest.fail(
                    f"{_name(served.proc.args)} exited with {served.proc.returncode} before {path} answered\n"
                    + served.log_text()[-LOG_TAIL:]
                )
            try:
                if client.get(path).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(
                    f"{served.base_url}{path} did not answer 200 within {timeout:.0f} s\n"
                    + served.log_text()[-LOG_TAIL:]
                )
            time.sleep(0.1)


def _name(command: Sequence[str]) -> str:
    return " ".join(str(word) for word in command[:4])
