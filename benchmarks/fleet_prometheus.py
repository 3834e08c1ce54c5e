"""The fleet benchmark's two servers: the replicas' /metrics from one process, and a real Prometheus.

`Targets` serves each replica's body at /replicas/<i>/metrics from one uvicorn server (a thread of
this process). Prometheus scrapes them as one job of static targets, each with the labels the
PodMonitor of deploy/kubernetes gives a sidecar (namespace, pod, instance = the pod's IP, container,
endpoint, model_version) and its own `__metrics_path__`; it loads the rule files `driftwarden rules
generate` writes, and evaluates them at the scrape interval.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Awaitable, Callable, MutableMapping, Sequence
from pathlib import Path
from typing import Any

import httpx
import uvicorn
import yaml
from prometheus_client.parser import text_string_to_metric_families

__all__ = [
    "JOB",
    "Prometheus",
    "Targets",
    "free_port",
    "generate_rules",
    "metrics_path",
    "prometheus_binary",
    "target_groups",
]

JOB = "driftwarden"
NAMESPACE, MODEL_VERSION = "prod", "v3"
Scope = MutableMapping[str, Any]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def metrics_path(index: int) -> str:
    return f"/replicas/{index}/metrics"


class Targets:
    """Every replica's /metrics body, served from memory by one uvicorn server in a thread."""

    def __init__(self) -> None:
        self.bodies: dict[str, bytes] = {}
        self.port = free_port()
        config = uvicorn.Config(
            self._app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="off", interface="asgi3"
        )
        config.access_log = False
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, name="fleet-targets", daemon=True)

    def __enter__(self) -> Targets:
        self._thread.start()
        deadline = time.monotonic() + 20
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("the targets' server did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *_: object) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=20)

    async def _app(
        self, scope: Scope, receive: Callable[[], Awaitable[Any]], send: Callable[[Any], Awaitable[None]]
    ) -> None:
        body = self.bodies.get(scope["path"])
        status, headers = (200, [(b"content-type", b"text/plain; version=0.0.4; charset=utf-8")]) if body else (404, [])
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body or b""})


def target_groups(port: int, replicas: int, pods: Sequence[str]) -> list[dict[str, Any]]:
    """One static target per replica, labelled as the PodMonitor labels a sidecar's series."""
    return [
        {
            "targets": [f"127.0.0.1:{port}"],
            "labels": {
                "__metrics_path__": metrics_path(i),
                "instance": f"10.{8 + i // 62500}.{i // 250 % 250}.{i % 250 + 1}:4318",  # the pod's IP
                "namespace": NAMESPACE,
                "pod": pods[i],
                "container": "driftwarden",
                "endpoint": "driftwarden",
                "model_version": MODEL_VERSION,
            },
        }
        for i in range(replicas)
    ]


def generate_rules(config: Path, out: Path) -> list[Path]:
    """`driftwarden rules generate --config CONFIG --out OUT`, as an operator runs it."""
    command = [sys.executable, "-m", "driftwarden", "rules", "generate", "--config", str(config), "--out", str(out)]
    subprocess.run(command, check=True, capture_output=True, timeout=120)
    return sorted(out.glob("*.yml"))


def prometheus_binary() -> str | None:
    return shutil.which("prometheus") or ("/usr/bin/prometheus" if Path("/usr/bin/prometheus").exists() else None)


class Prometheus:
    """A Prometheus process for one measurement: its own TSDB under `workdir`, stopped by `close()`."""

    def __init__(
        self, binary: str, workdir: Path, groups: list[dict[str, Any]], rules: list[Path], interval: float
    ) -> None:
        workdir.mkdir(parents=True, exist_ok=True)
        every = f"{interval:g}s"
        config = {
            "global": {
                "scrape_interval": every,
                "scrape_timeout": f"{min(interval, 10):g}s",
                "evaluation_interval": every,
            },
            "rule_files": [str(p) for p in rules],
            "scrape_configs": [{"job_name": JOB, "static_configs": groups}],
        }
        self.config_file = workdir / "prometheus.yml"
        self.config = config
        self.config_file.write_text(yaml.safe_dump(config))
        port = free_port()
        self.url = f"http://127.0.0.1:{port}"
        self.log = workdir / "prometheus.log"
        command = [
            binary,
            f"--config.file={workdir / 'prometheus.yml'}",
            f"--storage.tsdb.path={workdir / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--web.enable-lifecycle",  # POST /-/reload: `unload_rules`
            "--query.timeout=10m",  # rules share it: a slow fleet sum is measured, not cut at 2 minutes
        ]
        with self.log.open("wb") as out:
            self.proc = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
        self.http = httpx.Client(base_url=self.url, timeout=60)
        self._wait_ready()

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"prometheus exited with {self.proc.returncode}:\n{self.log_tail()}")
            try:
                if self.http.get("/-/ready", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"prometheus was not ready within 60 s:\n{self.log_tail()}")

    def log_tail(self) -> str:
        return self.log.read_text(errors="replace")[-3000:]

    def query(self, expr: str) -> list[dict[str, Any]]:
        body = self.http.get("/api/v1/query", params={"query": expr}).json()
        if body.get("status") != "success":
            raise RuntimeError(f"{expr}: {body}")
        result: list[dict[str, Any]] = body["data"]["result"]
        return result

    def scalar(self, expr: str) -> float | None:
        result = self.query(expr)
        return float(result[0]["value"][1]) if result else None

    def cpu_seconds(self) -> float:
        """User and system CPU time the process has used (/proc/<pid>/stat)."""
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def query_cpu_seconds(self, expr: str, quiet: float = 3.0) -> float:
        """CPU time one instant query of `expr` costs: the process's CPU time across the query, less what
        it spent at the rate of the `quiet` seconds before (scrapes go on meanwhile)."""
        before, start = self.cpu_seconds(), time.monotonic()
        time.sleep(quiet)
        background = (self.cpu_seconds() - before) / (time.monotonic() - start)
        before, start = self.cpu_seconds(), time.monotonic()
        self.query(expr)
        return max(0.0, self.cpu_seconds() - before - background * (time.monotonic() - start))

    def unload_rules(self) -> None:
        """Reload the configuration without its rule files: no evaluation competes with what is measured next."""
        self.config_file.write_text(yaml.safe_dump({**self.config, "rule_files": []}))
        self.http.post("/-/reload").raise_for_status()

    def own_metrics(self) -> dict[str, list[tuple[dict[str, str], float]]]:
        """Prometheus' own /metrics: sample name -> [(labels, value)]."""
        out: dict[str, list[tuple[dict[str, str], float]]] = {}
        for family in text_string_to_metric_families(self.http.get("/metrics").text):
            for s in family.samples:
                out.setdefault(s.name, []).append((s.labels, s.value))
        return out

    def close(self) -> None:
        self.http.close()
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
