"""Secrets never leave: not in logs, not in /v1/config, not in the state file, not in alert payloads.

Each test drives a real daemon over real HTTP with a real local receiver. The secrets are the
ones webhook URLs really carry: `user:password@`, `?token=`, and a path that is itself the
secret (Slack's /services/T000/B000/XXXX); and PagerDuty's routing key.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from driftwarden.config import ConfigError, load_config
from driftwarden.core.urls import public_url, redact_urls, redacted_url
from driftwarden.sink import WebhookSink
from tests.support.records import NDJSON, put_reference, records, reference_frame
from tests.support.server import Daemon, running

pytestmark = pytest.mark.server

PASSWORD, PATH_SECRET, TOKEN = "pa55w0rd", "XXXXPATHSECRET", "T0KENVALUE"
ROUTING_KEY, ROTATED_KEY = "R0UTING-KEY-0123456789abcdef", "R0TATED-KEY-fedcba9876543210"
FAST_ALERTS = {"for": 1, "group_wait": "0s", "group_interval": "0s", "resolve_hold": "0s"}
FAST_OUTBOX = {"initial_backoff": "50ms", "max_backoff": "100ms"}


def secret_url(port: int) -> str:
    return f"http://hook-user:{PASSWORD}@127.0.0.1:{port}/services/T000/B000/{PATH_SECRET}?token={TOKEN}"


def drift(d: Daemon) -> None:
    """A drifting model, evaluated once: with `for: 1` its alerts fire and go to the outbox."""
    rng = np.random.default_rng(0)
    put_reference(d, reference_frame(rng))
    d.client.post("/v1/predictions", content=records(rng, 2000, shift=(1.0, 0, 0)), headers=NDJSON)
    d.evaluate()


def eventually(check: Callable[[], bool], what: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, what
        time.sleep(0.05)


def logged(caplog: pytest.LogCaptureFixture) -> str:
    return "\n".join(f"{r.name}: {r.getMessage()} {r.exc_text or ''}" for r in caplog.records)


# -- the helpers everything shows URLs through ------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        (f"https://u:{PASSWORD}@hooks.slack.com/services/T000/B000/{PATH_SECRET}", "https://***@hooks.slack.com/***"),
        (f"http://127.0.0.1:9093/hook?token={TOKEN}", "http://127.0.0.1:9093/***"),
        ("http://[::1]:8080/x", "http://[::1]:8080/***"),
        ("http://collector:4318", "http://collector:4318"),
        ("https://events.pagerduty.com/", "https://events.pagerduty.com"),
        ("http://dw.example:99999/x", "http://dw.example:99999/***"),  # shown as given, never a 500
        ("http://[::1/x", "***"),  # urlsplit raises: still an answer
        ("http://ho st%0a:80/", "http://***:80"),
        ("not a url", "***"),
        ("", "***"),
    ],
)
def test_redacted_url_shows_scheme_host_and_port_only(url: str, shown: str) -> None:
    assert redacted_url(url) == shown


def test_public_url_drops_credentials_query_and_fragment() -> None:
    assert (
        public_url(f"https://admin:{PASSWORD}@dw.example:8443/drift/?token={TOKEN}#x")
        == "https://dw.example:8443/drift"
    )
    assert public_url("http://grafana/d/drift?orgId=1", keep_query=True) == "http://grafana/d/drift?orgId=1"
    assert public_url("http://[::1/x") == ""


def test_redact_urls_masks_every_url_in_a_text() -> None:
    text = f"ConnectError: cannot reach {secret_url(9)} (after 'https://x.test/a?b=c')"
    assert redact_urls(text) == "ConnectError: cannot reach http://***@127.0.0.1:9/*** (after 'https://x.test/***')"


# -- 1. logs --------------------------------------------------------------------------------------


def test_webhook_deliveries_and_their_retries_log_no_credentials(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    sink = WebhookSink().start()
    sink.script.append((503, {}))  # one retry, logged by driftwarden
    port = int(sink.url.rsplit(":", 1)[1])
    config = {
        "alerting": FAST_ALERTS,
        "receivers": [{"name": "slack", "type": "webhook", "url": secret_url(port)}],
        "routes": [{"match": {"kind": "drift"}, "receivers": ["slack"]}],
        "outbox": FAST_OUTBOX,
    }
    try:
        with running(tmp_path / "state.db", **config) as d:
            drift(d)
            (delivery, *_) = sink.wait_for(1)
            eventually(
                lambda: d.metric("driftwarden_webhook_deliveries_total", receiver="slack", outcome="ok") == 1,
                "the delivery was not counted",
            )
    finally:
        sink.stop()
    assert delivery.path == f"/services/T000/B000/{PATH_SECRET}?token={TOKEN}"  # the real URL, at send time
    text = logged(caplog)
    assert f"delivery to slack (http://***@127.0.0.1:{port}/***) will be retried" in text
    for secret in (PASSWORD, PATH_SECRET, TOKEN, "/services/"):
        assert secret not in text


# -- 2. /v1/config ----------------------------------------------------------------------------------


def test_config_shows_scheme_host_and_port_of_urls_and_never_fails_on_one(tmp_path: Path) -> None:
    config = {
        "receivers": [{"name": "slack", "type": "webhook", "url": secret_url(9)}],
        "alerting": {
            "external_url": f"https://admin:{PASSWORD}@dw.example:8443/?token={TOKEN}",
            "grafana_url": "http://grafana.example:99999/d/drift?orgId=1",
        },
    }
    with running(tmp_path / "state.db", **config) as d:
        r = d.client.get("/v1/config")
    assert r.status_code == 200, r.text
    shown = r.json()
    assert shown["receivers"][0]["url"] == "http://***@127.0.0.1:9/***"
    assert shown["alerting"]["external_url"] == "https://***@dw.example:8443/***"
    assert shown["alerting"]["grafana_url"] == "http://grafana.example:99999/***"
    for secret in (PASSWORD, PATH_SECRET, TOKEN, "/services/"):
        assert secret not in r.text


@pytest.mark.parametrize("url", ["http://127.0.0.1:99999/hook", "http://127.0.0.1:0/hook", "ftp://x/hook", "hook"])
def test_a_receiver_url_that_cannot_be_sent_to_is_refused_at_load(url: str) -> None:
    receiver = {"name": "r", "type": "webhook", "url": url + f"?token={TOKEN}"}
    with pytest.raises(ConfigError) as refused:
        load_config(None, receivers=[receiver])
    (problem,) = refused.value.problems
    assert problem.startswith("receivers.0.url: ") and TOKEN not in problem
