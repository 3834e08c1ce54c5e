"""OpsGenie's Alert API v2 over real HTTP, a local stand-in in OpsGenie's place: a firing alert is
created and a resolved one closed under one alias (the alert's fingerprint), in that order through
retries; priority from severity; the API key read from its file at each send, never stored or logged."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import orjson
import pytest

from driftwarden.alerts.outbox import Outbox
from driftwarden.alerts.receivers.opsgenie import OpsGenieReceiver
from driftwarden.config import ConfigError, load_config
from driftwarden.detectors.findings import Severity
from driftwarden.params import AlertLinkParams, OpsGenieParams, OutboxParams, opsgenie_params
from driftwarden.persistence.database import Database
from driftwarden.persistence.outbox_store import OutboxStore
from tests.support.alert_cases import drift, model_drift, notified
from tests.support.paging_apis import FakeOpsGenie
from tests.support.records import NDJSON, put_reference, records, reference_frame
from tests.support.server import running

KEY, ROTATED = "og-key-0f3a9c2e", "og-key-rotated-77b1"


@pytest.fixture
def opsgenie() -> Iterator[FakeOpsGenie]:
    api = FakeOpsGenie(KEY, ROTATED)
    yield api
    api.stop()


def deliver(outbox: Outbox, passes: int = 40) -> None:
    async def run() -> None:
        for _ in range(passes):
            await outbox.deliver_due()
            if not outbox.pending():
                break
            await asyncio.sleep(0.05)
        await outbox.close()

    asyncio.run(run())


def outbox_for(tmp_path: Path, receiver: OpsGenieReceiver, outcomes: list[str] | None = None) -> Outbox:
    return Outbox(
        OutboxStore(Database(tmp_path / "state.db")),
        OutboxParams(initial_backoff=0.01, max_backoff=0.05),
        endpoints={receiver.name: receiver.endpoint},
        on_result=lambda r, o: (outcomes if outcomes is not None else []).append(o),
    )


def receiver(url: str, key: Callable[[], bytes] = lambda: KEY.encode(), **params: object) -> OpsGenieReceiver:
    links = AlertLinkParams(external_url="http://dw:4318", grafana_url="http://grafana/d/drift")
    return OpsGenieReceiver("ops", key, OpsGenieParams(base_url=url, **params), links=links)  # type: ignore[arg-type]


def test_create_and_close_share_one_alias_and_keep_their_order_through_retries(
    tmp_path: Path, opsgenie: FakeOpsGenie
) -> None:
    ops = receiver(opsgenie.url, responders=({"type": "team", "name": "ml-oncall"},))
    firing, resolved = (
        notified([drift(), model_drift()], receiver="ops"),
        notified([drift(), model_drift()], resolved=True, receiver="ops"),
    )
    opsgenie.script.extend([(503, {}, b"{}"), (429, {"Retry-After": "0"}, b"{}")])  # the first create waits
    outcomes: list[str] = []
    outbox = outbox_for(tmp_path, ops, outcomes)
    outbox.enqueue(ops.messages(firing, now=5) + ops.messages(resolved, now=6))
    deliver(outbox)

    accepted = opsgenie.accepted()
    assert [r.status for r in opsgenie.requests[:2]] == [503, 429] and outcomes.count("retry") == 2
    assert all(r.status == 202 for r in accepted) and outcomes.count("ok") == 4  # 202 Accepted: delivered
    for alert in firing.alerts:  # each alert: one create, then one close, by the same alias
        (create,) = [r for r in accepted if r.path == "/v2/alerts" and r.json()["alias"] == alert.fingerprint]
        (close,) = [r for r in accepted if r.path == f"/v2/alerts/{alert.fingerprint}/close"]
        assert accepted.index(create) < accepted.index(close) and close.query == {"identifierType": ["alias"]}
        assert opsgenie.alerts[alert.fingerprint] == {"status": "closed", "count": 1, "body": create.json()}

    feature = next(a for a in firing.alerts if a.name == "FeatureDrift")
    create = next(r for r in accepted if r.path == "/v2/alerts" and r.json()["alias"] == feature.fingerprint)
    close = next(r for r in accepted if r.path.endswith(f"/{feature.fingerprint}/close"))
    body = create.json()
    assert body["message"].startswith("Feature drift on fraud: amount") and len(body["message"]) <= 130
    assert body["priority"] == "P4" and body["entity"] == "model fraud" and body["source"] == "driftwarden"
    assert body["responders"] == [{"type": "team", "name": "ml-oncall"}]
    assert {"FeatureDrift", "severity:warning", "kind:drift", "model:fraud"} <= set(body["tags"])
    details = body["details"]
    assert all(isinstance(v, str) for v in details.values())
    assert details["reasons"].startswith("PSI 0.41 ≥ 0.2") and details["fingerprint"] == feature.fingerprint
    assert details["ui_url"] == "http://dw:4318/ui/models/fraud#feature-amount"
    assert details["grafana_url"].startswith("http://grafana/d/drift?var-model=fraud&var-feature=amount")
    assert "Runbook: " in body["description"] and "Why: PSI 0.41" in body["description"]
    assert close.json()["user"] == "driftwarden" and close.json()["note"].startswith("Resolved at ")


@pytest.mark.parametrize(
    ("severity", "configured", "expected"),
    [
        (Severity.PAGE, {}, "P1"),
        (Severity.TICKET, {}, "P3"),
        (Severity.WARNING, {}, "P4"),
        (Severity.INFO, {}, "P5"),
        (Severity.PAGE, {"page": "P2"}, "P2"),
        (Severity.WARNING, {"page": "P2"}, "P4"),
    ],
)
def test_priority_from_severity(severity: Severity, configured: dict[str, str], expected: str) -> None:
    config = load_config(
        None,
        receivers=[{"name": "ops", "type": "opsgenie", "api_key_file": "/run/key", "priorities": configured}],
    )
    ops = OpsGenieReceiver("ops", lambda: b"k", opsgenie_params(config.receivers[0]))
    engine_notification = notified([drift(severity=severity)], receiver="ops")
    (message,) = ops.messages(engine_notification, now=5)
    assert orjson.loads(message.body)["body"]["priority"] == expected


def test_region_and_url_choose_the_api() -> None:
    def base(**receiver: object) -> str:
        config = load_config(None, receivers=[{"name": "o", "type": "opsgenie", "api_key_file": "/k", **receiver}])
        return OpsGenieReceiver("o", lambda: b"k", opsgenie_params(config.receivers[0])).endpoint.url

    assert base() == "https://api.opsgenie.com/v2/alerts"
    assert base(region="eu") == "https://api.eu.opsgenie.com/v2/alerts"
    assert base(region="eu", url="https://opsgenie.proxy.internal/") == "https://opsgenie.proxy.internal/v2/alerts"


def test_fields_are_cut_to_the_api_limits(tmp_path: Path, opsgenie: FakeOpsGenie) -> None:
    n = notified([drift(feature="f" * 400)], receiver="ops")
    ops = receiver(opsgenie.url, tags=tuple(f"team-{i}-" + "x" * 40 for i in range(30)))
    outbox = outbox_for(tmp_path, ops)
    outbox.enqueue(ops.messages(n, now=5))
    deliver(outbox)
    (create,) = opsgenie.accepted()  # the stand-in refuses (422) what breaks OpsGenie's limits
    body = create.json()
    assert len(body["message"]) == 130 and body["message"].endswith("…")
    assert len(body["tags"]) == 20 and all(len(t) <= 50 for t in body["tags"])
    assert sum(len(k) + len(v) for k, v in body["details"].items()) <= 8000


@pytest.mark.parametrize("source", ["api_key_file", "api_key_env"])
def test_api_key_is_read_at_each_send_and_never_stored_or_logged(
    tmp_path: Path,
    opsgenie: FakeOpsGenie,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
    source: str,
) -> None:
    caplog.set_level(logging.DEBUG)
    key_file = tmp_path / "opsgenie-key"

    def put_key(key: str) -> None:
        if source == "api_key_env":
            monkeypatch.setenv("DW_TEST_OPSGENIE_KEY", key)
        else:
            key_file.write_text(key + "\n")

    put_key(KEY)
    where = "DW_TEST_OPSGENIE_KEY" if source == "api_key_env" else str(key_file)
    config = {
        "alerting": {"for": 2, "group_wait": "0s", "group_interval": "0s", "resolve_hold": "0s"},
        "receivers": [{"name": "ops", "type": "opsgenie", "url": opsgenie.url, source: where}],
        "routes": [{"match": {"alertname": "FeatureDrift"}, "receivers": ["ops"]}],
        "models": {"fraud": {"window": 2000}},
        "outbox": {"initial_backoff": "100ms", "max_backoff": "200ms"},
    }
    rng = np.random.default_rng(3)
    with running(tmp_path / "s.db", **config) as d:
        put_reference(d, reference_frame(rng))
        opsgenie.script.append((503, {}, b"{}"))  # the create waits in the outbox a moment
        d.client.post("/v1/predictions", content=records(rng, 2000, shift=(1.0, 0, 0)), headers=NDJSON)
        d.evaluate()
        d.evaluate()
        (create,) = opsgenie.wait_for(1)
        assert create.headers["authorization"] == f"GenieKey {KEY}" and create.path == "/v2/alerts"

        put_key(ROTATED)  # rotated: the next send reads it
        opsgenie.keys.discard(KEY)
        d.client.post("/v1/predictions", content=records(rng, 2000), headers=NDJSON)
        d.evaluate()
        create, close = opsgenie.wait_for(2)
        assert close.headers["authorization"] == f"GenieKey {ROTATED}"
        assert close.path == f"/v2/alerts/{create.json()['alias']}/close"
        deadline = time.monotonic() + 10
        while d.metric("driftwarden_webhook_deliveries_total", receiver="ops", outcome="ok") != 2:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        shown = d.client.get("/v1/config").text
    state = (tmp_path / "s.db").read_bytes() + b"".join(p.read_bytes() for p in tmp_path.glob("s.db-*"))
    for key in (KEY, ROTATED):
        assert key not in caplog.text and key not in shown and key.encode() not in state
    assert "delivery to ops (http://127.0.0.1:" in caplog.text  # the retry was logged, by URL, without the key


def test_a_missing_api_key_file_is_refused_at_start_and_named(tmp_path: Path) -> None:
    with (
        pytest.raises(ConfigError) as refused,
        running(
            tmp_path / "s.db",
            receivers=[{"name": "ops", "type": "opsgenie", "api_key_file": str(tmp_path / "nope")}],
        ),
    ):
        pass
    assert "receivers.0.api_key_file" in str(refused.value)


def test_an_unset_api_key_variable_is_refused_at_start_and_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("DW_TEST_OPSGENIE_KEY", raising=False)
    receivers = [{"name": "ops", "type": "opsgenie", "api_key_env": "DW_TEST_OPSGENIE_KEY"}]
    with pytest.raises(ConfigError) as refused, running(tmp_path / "s.db", receivers=receivers):
        pass
    assert "receivers.0.api_key_env: environment variable DW_TEST_OPSGENIE_KEY is not set" in str(refused.value)
