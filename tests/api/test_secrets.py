"""Secrets never leave: not in logs, not in /v1/config, not in the state file, not in alert payloads.

Each test drives a real daemon over real HTTP with a real local receiver. The secrets are the
ones webhook URLs really carry: `user:password@`, `?token=`, and a path that is itself the
secret (Slack's /services/T000/B000/XXXX); and PagerDuty's routing key.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import orjson
import pytest

from driftwarden.alerts.receivers.webhook import WebhookReceiver
from driftwarden.config import ConfigError, load_config
from driftwarden.core.urls import public_url, redact_urls, redacted_url
from driftwarden.persistence.database import Database
from driftwarden.persistence.outbox_store import OutboxStore
from driftwarden.persistence.schema import MIGRATIONS, SCHEMA_VERSION
from driftwarden.sink import WebhookSink
from tests.support.ports import free_port
from tests.support.records import NDJSON, put_reference, records, reference_frame
from tests.support.server import Daemon, running

pytestmark = pytest.mark.server

PASSWORD, PATH_SECRET, TOKEN = "pa55w0rd", "XXXXPATHSECRET", "T0KENVALUE"
ROUTING_KEY, ROTATED_KEY = "R0UTING-KEY-0123456789abcdef", "R0TATED-KEY-fedcba9876543210"
FAST_ALERTS = {"for": 1, "group_wait": "0s", "group_interval": "0s", "resolve_hold": "0s"}
FAST_OUTBOX = {"initial_backoff": "100ms", "max_backoff": "200ms"}


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


def test_an_endpoint_shows_its_url_redacted() -> None:
    from driftwarden.alerts.signing import Signer

    endpoint = WebhookReceiver("slack", secret_url(9), sign=Signer(lambda: b"hmac")).endpoint
    assert repr(endpoint) == "Endpoint('http://***@127.0.0.1:9/***', timeout=10.0)"


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
            "grafana_url": "http://grafana.example:3000/d/drift?orgId=1",
        },
    }
    with running(tmp_path / "state.db", **config) as d:
        r = d.client.get("/v1/config")
    assert r.status_code == 200, r.text
    shown = r.json()
    assert shown["receivers"][0]["url"] == "http://***@127.0.0.1:9/***"
    assert shown["alerting"]["external_url"] == "https://***@dw.example:8443/***"
    assert shown["alerting"]["grafana_url"] == "http://grafana.example:3000/***"
    for secret in (PASSWORD, PATH_SECRET, TOKEN, "/services/"):
        assert secret not in r.text


@pytest.mark.parametrize("url", ["http://127.0.0.1:99999/hook", "http://127.0.0.1:0/hook", "ftp://x/hook", "hook"])
def test_a_receiver_url_that_cannot_be_sent_to_is_refused_at_load(url: str) -> None:
    receiver = {"name": "r", "type": "webhook", "url": url + f"?token={TOKEN}"}
    with pytest.raises(ConfigError) as refused:
        load_config(None, receivers=[receiver])
    (problem,) = refused.value.problems
    assert problem.startswith("receivers.0.url: ") and TOKEN not in problem


# -- 3. the state file ------------------------------------------------------------------------------


def state_bytes(state: Path) -> bytes:
    return b"".join(p.read_bytes() for p in state.parent.glob(state.name + "*"))


def test_pagerduty_routing_key_is_read_at_send_time_and_never_stored(tmp_path: Path) -> None:
    key_file = tmp_path / "routing_key"
    key_file.write_text(ROUTING_KEY + "\n")
    port, state = free_port(), tmp_path / "state.db"
    config = {
        "alerting": FAST_ALERTS | {"external_url": f"https://admin:{PASSWORD}@dw.example:8443/?token={TOKEN}"},
        "receivers": [
            {
                "name": "oncall",
                "type": "pagerduty",
                "url": f"http://127.0.0.1:{port}/v2/enqueue",
                "routing_key_file": str(key_file),
            }
        ],
        "routes": [{"match": {"kind": "drift"}, "receivers": ["oncall"]}],
        "outbox": FAST_OUTBOX,
    }
    with running(state, **config) as d:
        drift(d)
        eventually(
            lambda: (d.metric("driftwarden_webhook_deliveries_total", receiver="oncall", outcome="retry") or 0) >= 1,
            "no delivery was tried",
        )  # the receiver is down: the events wait in the outbox
        assert ROUTING_KEY.encode() not in state_bytes(state)
        db = sqlite3.connect(state)
        rows = db.execute("SELECT * FROM outbox").fetchall()
        db.close()
        assert rows and not any(ROUTING_KEY in repr(row) or PASSWORD in repr(row) for row in rows)

        key_file.write_text(ROTATED_KEY + "\n")  # rotated while the events wait
        sink = WebhookSink(port=port).start()
        try:
            deliveries = sink.wait_for(len(rows))
        finally:
            sink.stop()
    events = [orjson.loads(delivery.body) for delivery in deliveries]
    assert {e["routing_key"] for e in events} == {ROTATED_KEY} and {e["event_action"] for e in events} == {"trigger"}
    ours = {link["href"] for e in events for link in e["links"] if "dw.example" in link["href"]}
    pages = ("https://dw.example:8443/ui/models/fraud", "https://dw.example:8443/runbooks/")  # the UI, the runbook
    assert ours and all(href.startswith(pages) for href in ours), ours
    assert ROUTING_KEY.encode() not in state_bytes(state) and ROTATED_KEY.encode() not in state_bytes(state)


def version_2_file_with_a_pending_event(path: Path) -> None:
    """A state file as the previous release left it: schema 2, an outbox row with the key and a token URL."""
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    for migration in MIGRATIONS[:2]:
        for statement in migration:
            assert isinstance(statement, str)
            db.execute(statement)
    db.execute("PRAGMA user_version = 2")
    event = {
        "routing_key": ROUTING_KEY,
        "event_action": "trigger",
        "dedup_key": "f1",
        "payload": {"summary": "drift"},
        "links": [{"href": f"https://admin:{PASSWORD}@dw.example/v1/alerts", "text": "driftwarden alerts"}],
    }
    db.execute(
        "INSERT INTO outbox (receiver, ordering_key, url, headers, body, created_at, next_attempt_at, last_error) "
        "VALUES ('oncall', 'oncall:f1', ?, ?, ?, 5, 5, ?)",
        (secret_url(9), b'{"Content-Type": "application/json"}', orjson.dumps(event), f"ConnectError {secret_url(9)}"),
    )
    db.close()


def test_the_upgrade_strips_keys_and_credentials_from_pending_rows(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    version_2_file_with_a_pending_event(path)
    assert ROUTING_KEY.encode() in state_bytes(path)
    database = Database(path)
    (message,) = OutboxStore(database).oldest()
    database.close()
    event = orjson.loads(message.body)
    assert "routing_key" not in event and event["dedup_key"] == "f1"
    assert event["links"] == [{"href": "https://dw.example/v1/alerts", "text": "driftwarden alerts"}]
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION,)
    assert "url" not in {column[1] for column in db.execute("PRAGMA table_info(outbox)")}
    assert db.execute("SELECT last_error FROM outbox").fetchall() == [(None,)]
    db.close()
    stored = state_bytes(path)
    for secret in (ROUTING_KEY, PASSWORD, PATH_SECRET, TOKEN):
        assert secret.encode() not in stored  # not in a freed page either


# -- 4. alert payloads ------------------------------------------------------------------------------


def test_credentials_in_external_url_never_reach_a_payload(tmp_path: Path) -> None:
    sink = WebhookSink().start()
    config = {
        "alerting": FAST_ALERTS | {"external_url": f"https://admin:{PASSWORD}@dw.example:8443/?token={TOKEN}"},
        "receivers": [
            {"name": "hook", "type": "webhook", "url": sink.url + "/hook"},
            {"name": "am", "type": "alertmanager", "url": sink.url},
        ],
        "routes": [{"match": {"kind": "drift"}, "receivers": ["hook", "am"]}],
    }
    try:
        with running(tmp_path / "state.db", **config) as d:
            drift(d)
            deliveries = sink.wait_for(2)
    finally:
        sink.stop()
    webhook = next(orjson.loads(x.body) for x in deliveries if x.path == "/hook")
    alertmanager = next(orjson.loads(x.body) for x in deliveries if x.path == "/api/v2/alerts")
    assert webhook["externalURL"] == "https://dw.example:8443"
    generator_urls = {a["generatorURL"] for a in webhook["alerts"] + alertmanager}
    assert generator_urls and all(url.startswith("https://dw.example:8443/ui/models/fraud") for url in generator_urls)
    for delivery in deliveries:
        assert PASSWORD.encode() not in delivery.body and TOKEN.encode() not in delivery.body
