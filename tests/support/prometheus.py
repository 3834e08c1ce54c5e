"""A real Prometheus (Debian's `prometheus`, which .ci/run installs) for the block, scraping targets.

`prometheus(tmp_path, {job: (host:port, target labels)})` starts one on a free loopback port that
scrapes every target each second with the labels Kubernetes service discovery would give it, and
yields a `Prometheus` to query. Without the binary the test is skipped, unless CI=true.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import yaml

from tests.support.ports import free_port
from tests.support.processes import serving
from tests.support.tools import required_tool

__all__ = ["Prometheus", "prometheus"]


class Prometheus:
    def __init__(self, url: str, log: Path) -> None:
        self.url = url
        self.log = log
        self.http = httpx.Client(base_url=url, timeout=10)

    def query(self, expr: str) -> list[dict[str, Any]]:
        body = self.http.get("/api/v1/query", params={"query": expr}).json()
        assert body["status"] == "success", (expr, body)
        result: list[dict[str, Any]] = body["data"]["result"]
        return result

    def wait_for(self, exprs: list[str], deadline: float) -> list[str]:
        """Poll until every expr returns a series; returns those that still do not at the deadline."""
        while True:
            missing = [e for e in exprs if not self.query(e)]
            if not missing or time.monotonic() > deadline:
                return missing
            time.sleep(1)

    def logs(self) -> str:
        return "\n--- prometheus log ---\n" + self.log.read_text(errors="replace")[-4000:]


@contextmanager
def prometheus(tmp_path: Path, targets: Mapping[str, tuple[str, Mapping[str, str]]]) -> Iterator[Prometheus]:
    """Scraping each job's `host:port` every second, with its target labels."""
    binary = required_tool("prometheus", package="prometheus")
    config = {
        "global": {"scrape_interval": "1s", "scrape_timeout": "1s", "evaluation_interval": "1s"},
        "scrape_configs": [
            {"job_name": job, "static_configs": [{"targets": [target], "labels": dict(labels)}]}
            for job, (target, labels) in targets.items()
        ],
    }
    (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(config))
    port = free_port()
    command = [
        binary,
        f"--config.file={tmp_path / 'prometheus.yml'}",
        f"--storage.tsdb.path={tmp_path / 'prometheus-data'}",
        f"--web.listen-address=127.0.0.1:{port}",
        "--enable-feature=exemplar-storage",  # so the latency panel's exemplars are kept
    ]
    with serving(command, base_url=f"http://127.0.0.1:{port}", log=tmp_path / "prometheus.log", ready="/-/ready") as p:
        server = Prometheus(p.base_url, p.log)
        try:
            yield server
        finally:
            server.http.close()
