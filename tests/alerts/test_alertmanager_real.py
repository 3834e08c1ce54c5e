"""The `alertmanager` receiver against a real Alertmanager: driftwarden posts to /api/v2/alerts,
Alertmanager routes the alert to a webhook (our sink), then resolves it when driftwarden says so.

Alertmanager comes with Debian's prometheus-alertmanager package (.ci/run installs it); without it
this test is skipped, unless CI=true.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import numpy as np
import pytest
import yaml

from driftwarden.sink import Delivery, WebhookSink
from tests.support.ports import free_port
from tests.support.processes import serving
from tests.support.records import NDJSON, put_reference, records, reference_frame
from tests.support.server import running
from tests.support.tools import required_tool

pytestmark = [pytest.mark.alertmanager, pytest.mark.server]


@pytest.fixture(scope="module")
def alertmanager_binary() -> str:
    return required_tool("prometheus-alertmanager", "alertmanager", package="prometheus-alertmanager")


@pytest.fixture
def sink() -> Iterator[WebhookSink]:
    s = WebhookSink().start()
    yield s
    s.stop()


class Alertmanager:
    def __init__(self, url: str, log: Path) -> None:
        self.url = url
        self.log = log

    def logs(self) -> str:
        return "\n--- alertmanager log ---\n" + self.log.read_text(errors="replace")[-6000:]


@contextmanager
def alertmanager(binary: str, tmp_path: Path, webhook_url: str) -> Iterator[Alertmanager]:
    config = {
        "route": {
            "receiver": "sink",
            "group_by": ["alertname", "model"],
            "group_wait": "0s",
            "group_interval": "1s",
            "repeat_interval": "1h",
            "routes": [{"receiver": "sink", "matchers": ['kind="drift"']}],
        },
        "receivers": [{"name": "sink", "webhook_configs": [{"url": webhook_url, "send_resolved": True}]}],
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
        "--log.level=debug",
    ]
    with serving(
        command, base_url=f"http://127.0.0.1:{port}", log=tmp_path / "alertmanager.log", ready="/-/ready"
    ) as am:
        yield Alertmanager(am.base_url, am.log)


def wait_for_delivery(sink: WebhookSink, want: Callable[[dict], bool], timeout: float, logs: Callable[[], str]) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        deliveries: list[Delivery] = list(sink.deliveries)
        for d in deliveries:
            body = d.json()
            if isinstance(body, dict) and want(body):
                return body
        seen = [d.body.decode(errors="replace")[:500] for d in deliveries]
        assert time.monotonic() < deadline, f"no matching webhook from Alertmanager; got {seen}" + logs()
        time.sleep(0.05)


def test_drift_alert_fires_and_resolves_through_a_real_alertmanager(
    tmp_path: Path, sink: WebhookSink, alertmanager_binary: str
) -> None:
    with alertmanager(alertmanager_binary, tmp_path, sink.url + "/am") as am:
        config = {
            "alerting": {"for": 2, "group_wait": "0s", "group_interval": "0s", "resolve_hold": "0s"},
            "receivers": [{"name": "am", "type": "alertmanager", "url": am.url}],
            "routes": [{"match": {"kind": "drift"}, "receivers": ["am"]}],
            "models": {"fraud": {"window": 2000, "drift": {"multivariate": []}}},
        }
        rng = np.random.default_rng(0)
        with running(tmp_path / "s.db", **config) as d:
            put_reference(d, reference_frame(rng))
            d.client.post("/v1/predictions", content=records(rng, 2000, shift=(1.0, 0, 0)), headers=NDJSON)
            d.evaluate()
            d.evaluate()
            (ours,) = d.client.get("/v1/alerts").json()["alerts"]
            assert ours["status"] == "firing" and ours["labels"]["alertname"] == "FeatureDrift"

            firing = wait_for_delivery(sink, lambda b: b.get("status") == "firing", 15, am.logs)
            assert firing["version"] == "4" and firing["receiver"] == "sink", firing
            (alert,) = firing["alerts"]
            assert alert["status"] == "firing", alert
            labels = alert["labels"]
            assert labels["alertname"] == "FeatureDrift" and labels["model"] == "fraud", labels
            assert labels["subject"] == "amount" and labels["kind"] == "drift", labels
            assert labels["severity"] == ours["labels"]["severity"], labels
            assert alert["annotations"]["summary"] == ours["annotations"]["summary"], alert
            # the reasons lead: a one-sd shift is first of all a normed Wasserstein distance of about 1
            assert alert["annotations"]["summary"].startswith("Feature drift on fraud: amount normed Wasserstein"), (
                alert
            )
            assert alert["generatorURL"] == f"{d.url}/ui/models/fraud#feature-amount", alert
            assert alert["annotations"]["ui_url"] == alert["generatorURL"], alert
            assert alert["annotations"]["runbook_url"] == f"{d.url}/runbooks/FeatureDrift", alert
            assert firing["groupLabels"] == {"alertname": "FeatureDrift", "model": "fraud"}, firing

            listed = httpx.get(am.url + "/api/v2/alerts", timeout=5).json()
            assert [(a["labels"]["alertname"], a["labels"]["subject"]) for a in listed] == [
                ("FeatureDrift", "amount")
            ], listed
            assert listed[0]["status"]["state"] == "active" and listed[0]["annotations"] == alert["annotations"]

            d.client.post("/v1/predictions", content=records(rng, 2000), headers=NDJSON)  # the drift is gone
            d.evaluate()
            assert d.client.get("/v1/alerts").json()["alerts"] == []
            resolved = wait_for_delivery(sink, lambda b: b.get("status") == "resolved", 15, am.logs)
            (alert,) = resolved["alerts"]
            assert alert["status"] == "resolved" and alert["labels"] == labels, resolved
            assert alert["endsAt"] != "0001-01-01T00:00:00Z", alert
            active = httpx.get(am.url + "/api/v2/alerts", params={"active": "true"}, timeout=5).json()
            assert active == [], active
