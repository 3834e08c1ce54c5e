"""driftwarden served by uvicorn in a thread of the test process, on a free loopback port.

`running(state, **config)` starts one for the length of a `with` block; the `Daemon` it yields
talks to it over real HTTP (`client`), runs an evaluation on demand and reads /metrics samples.
It is served as `driftwarden run` serves it (`api.serving.server_config`: the same protocol and
`server:` limits).
For `driftwarden run` as a process of its own, see tests/support/processes.py.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import uvicorn
from prometheus_client import CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families

from driftwarden.api.serving import server_config
from driftwarden.app import create_app
from driftwarden.config import load_config
from driftwarden.daemon.daemon import Daemon as RunningDaemon
from tests.support.ports import free_port

__all__ = ["Daemon", "running"]


class Daemon:
    """driftwarden served by uvicorn in a thread; `client` talks to it over real HTTP."""

    def __init__(
        self, state: Path, nvml: object | None = None, clock: Callable[[], float] = time.time, **config: object
    ) -> None:
        self.port = free_port()
        config.setdefault("gpu", {"enabled": False})  # tests that want a GPU pass a fake nvml and settings
        self.config = load_config(None, listen=f"127.0.0.1:{self.port}", state_path=str(state), **config)
        self.registry = CollectorRegistry()
        self.app = create_app(self.config, registry=self.registry, nvml=nvml, clock=clock)
        self.server = uvicorn.Server(server_config(self.config, self.app, log_level="warning", lifespan="on"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.url = f"http://127.0.0.1:{self.port}"
        self.client = httpx.Client(base_url=self.url, timeout=30)

    def start(self) -> Daemon:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("driftwarden did not start")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        self.client.close()
        self.server.should_exit = True
        self.thread.join(timeout=20)

    @property
    def daemon(self) -> RunningDaemon:
        return self.app.state.daemon

    def evaluate(self, timeout: float = 60) -> None:
        """Run an evaluation now (instead of waiting for evaluate_every), on the server's loop."""

        async def flush_and_evaluate() -> None:
            await self.daemon.flush_and_evaluate()

        loop = self.server.servers[0].get_loop()
        asyncio.run_coroutine_threadsafe(flush_and_evaluate(), loop).result(timeout=timeout)

    def metric(self, name: str, **labels: str) -> float | None:
        """A sample's value as Prometheus would scrape it from /metrics (None when absent)."""
        text = self.client.get("/metrics").text
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                if sample.name == name and sample.labels == labels:
                    return sample.value
        return None


@contextmanager
def running(
    state: Path, nvml: object | None = None, clock: Callable[[], float] = time.time, **config: object
) -> Iterator[Daemon]:
    """A `Daemon` started for the block and stopped after it (state in `state`, keys as in the config file;
    `clock` drives its SLO and drift-budget trackers)."""
    daemon = Daemon(state, nvml, clock, **config).start()
    try:
        yield daemon
    finally:
        daemon.stop()
