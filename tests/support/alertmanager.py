"""A real Alertmanager (Debian's prometheus-alertmanager) for the conformance tests: started with a
given routing tree whose every receiver is a webhook to a local sink, without HA gossip."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import yaml

from driftwarden.sink import WebhookSink
from tests.support.ports import free_port
from tests.support.processes import serving
from tests.support.tools import required_tool

__all__ = ["Alertmanager", "alertmanager_binary", "running_alertmanager"]


def alertmanager_binary() -> str:
    return required_tool("prometheus-alertmanager", "alertmanager", package="prometheus-alertmanager")


class Alertmanager:
    def __init__(self, url: str, log: Path, sink: WebhookSink) -> None:
        self.url = url
        self.log = log
        self.sink = sink

    def logs(self) -> str:
        return "\n--- alertmanager log ---\n" + self.log.read_text(errors="replace")[-6000:]

    def post(self, alerts: list[dict[str, Any]]) -> None:
        r = httpx.post(self.url + "/api/v2/alerts", json=alerts, timeout=5)
        assert r.status_code == 200, r.text + self.logs()

    def alerts(self) -> list[dict[str, Any]]:
        listed: list[dict[str, Any]] = httpx.get(self.url + "/api/v2/alerts", timeout=5).json()
        return listed

    def notification(self, timeout: float = 15) -> dict[str, Any]:
        """The first webhook notification Alertmanager sent."""
        deadline = time.monotonic() + timeout
        while not self.sink.deliveries:
            assert time.monotonic() < deadline, "Alertmanager sent no notification" + self.logs()
            time.sleep(0.05)
        body = self.sink.deliveries[0].json()
        assert isinstance(body, dict)
        return body


@contextmanager
def running_alertmanager(binary: str, tmp_path: Path, route: dict[str, Any]) -> Iterator[Alertmanager]:
    """Alertmanager with `route` (receiver names in it: webhooks to one local sink); notifications at once."""
    sink = WebhookSink().start()
    names = _receivers(route)
    config = {
        "route": {"group_wait": "0s", "group_interval": "1s", "repeat_interval": "1h", **route},
        "receivers": [
            {"name": n, "webhook_configs": [{"url": f"{sink.url}/{n}", "send_resolved": True}]} for n in names
        ],
    }
    config_file = tmp_path / "alertmanager.yml"
    config_file.write_text(yaml.safe_dump(config))
    storage = tmp_path / "am-data"
    storage.mkdir()
    port = free_port()
    command = [
        binary,
        f"--config.file={config_file}",
        f"--storage.path={storage}",
        f"--web.listen-address=127.0.0.1:{port}",
        "--cluster.listen-address=",  # no HA gossip: no second port, no settle wait
    ]
    try:
        with serving(
            command, base_url=f"http://127.0.0.1:{port}", log=tmp_path / "alertmanager.log", ready="/-/ready"
        ) as am:
            yield Alertmanager(am.base_url, am.log, sink)
    finally:
        sink.stop()


def _receivers(route: dict[str, Any]) -> list[str]:
    names = [route["receiver"]] if "receiver" in route else []
    for child in route.get("routes", []):
        names += [n for n in _receivers(child) if n not in names]
    return names
