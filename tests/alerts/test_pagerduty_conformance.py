"""PagerDuty Events API v2 as PagerDuty publishes it, over real HTTP to a local stand-in for PagerDuty:

- every trigger and resolve validates against the request body of `POST /enqueue` in PagerDuty's own
  OpenAPI description (vendored: pagerduty-events-v2.openapiv3.json, its origin beside it), and uses
  no field it does not define;
- `payload.source` names where the problem is (config, else the pod, else the node, else the host),
  `client` is driftwarden and `client_url` its UI, `timestamp` when the alert began firing;
- a dedup key is triggered again only when its alert's content changed: not when its group changes,
  not at a restart, and an alert firing across the upgrade to Alertmanager's fingerprints keeps the
  dedup key its incident was opened with.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from jsonschema import Draft4Validator

from driftwarden.alerts.labelset import fingerprint
from driftwarden.daemon.receivers import pagerduty_source
from driftwarden.persistence.database import Database
from driftwarden.persistence.store import Store
from driftwarden.sink import WebhookSink
from tests.support.records import NDJSON, put_reference, records, reference_frame
from tests.support.server import Daemon, running

pytestmark = pytest.mark.server

_DOCUMENT = json.loads(Path(__file__).with_name("pagerduty-events-v2.openapiv3.json").read_text())
_ENQUEUE = _DOCUMENT["paths"]["/enqueue"]["post"]["requestBody"]["content"]["application/json"]["schema"]
# OpenAPI 3.0's schema objects are JSON Schema draft 4 with extensions; the $refs point into components
EVENT = Draft4Validator({**_ENQUEUE, "components": _DOCUMENT["components"]})
EVENT_FIELDS = set(_ENQUEUE["properties"])
PAYLOAD_FIELDS = set(_DOCUMENT["components"]["schemas"]["Payload"]["properties"])


@pytest.fixture
def pagerduty(monkeypatch: pytest.MonkeyPatch) -> Iterator[WebhookSink]:
    """A local stand-in for the PagerDuty Events API v2: it keeps every event it is sent."""
    monkeypatch.setenv("DW_TEST_PAGERDUTY_KEY", "R0UTINGKEY")
    for name in ("POD_NAME", "POD_NAMESPACE", "NODE_NAME"):
        monkeypatch.delenv(name, raising=False)
    sink = WebhookSink().start()
    yield sink
    sink.stop()


def config(pagerduty: WebhookSink, **receiver: object) -> dict[str, Any]:
    return {
        "alerting": {"for": 2, "group_wait": "0s", "group_interval": "0s", "resolve_hold": "0s"},
        "receivers": [
            {
                "name": "pd",
                "type": "pagerduty",
                "url": f"{pagerduty.url}/v2/enqueue",
                "routing_key_env": "DW_TEST_PAGERDUTY_KEY",
                **receiver,
            }
        ],
        "routes": [{"match": {"kind": "drift"}, "receivers": ["pd"]}],
        "models": {"fraud": {"window": 2000}},
    }


def drifting(d: Daemon, rng: np.random.Generator, shift: tuple[float, float, float]) -> None:
    """A window of predictions with these mean shifts, evaluated twice (alerts fire after `for: 2`)."""
    d.client.post("/v1/predictions", content=records(rng, 2000, shift=shift), headers=NDJSON)
    d.evaluate()
    d.evaluate()


def events(d: Daemon, pagerduty: WebhookSink) -> list[dict[str, Any]]:
    """Every event sent so far, once the outbox has none pending."""
    deadline = time.monotonic() + 10
    while d.metric("driftwarden_outbox_pending", receiver="pd") not in (0, None):
        assert time.monotonic() < deadline, "the outbox did not drain"
        time.sleep(0.05)
    return [delivery.json() for delivery in pagerduty.deliveries]  # type: ignore[misc]


def triggers(sent: list[dict[str, Any]], dedup_key: str) -> list[dict[str, Any]]:
    return [e for e in sent if e["event_action"] == "trigger" and e["dedup_key"] == dedup_key]


def feature_alert(d: Daemon, feature: str) -> dict[str, Any]:
    alerts = d.client.get("/v1/alerts").json()["alerts"]
    (alert,) = [a for a in alerts if a["labels"]["alertname"] == "FeatureDrift" and a["labels"]["subject"] == feature]
    return alert  # type: ignore[no-any-return]


def test_events_validate_against_pagerdutys_published_schema(
    tmp_path: Path, pagerduty: WebhookSink, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("POD_NAME", "fraud-scorer-7d9f")
    monkeypatch.setenv("POD_NAMESPACE", "ml")
    rng = np.random.default_rng(0)
    with running(tmp_path / "s.db", **config(pagerduty)) as d:
        put_reference(d, reference_frame(rng))
        drifting(d, rng, (1.0, 0, 0))
        drifting(d, rng, (0, 0, 0))  # the drift is gone: resolved
        sent = events(d, pagerduty)
        ui = d.url + "/"
    actions = sorted({e["event_action"] for e in sent})
    assert actions == ["resolve", "trigger"], sent
    for event in sent:
        errors = [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in EVENT.iter_errors(event)]
        assert errors == [], event
        assert set(event) <= EVENT_FIELDS and set(event.get("payload", {})) <= PAYLOAD_FIELDS, event
        assert event["routing_key"] == "R0UTINGKEY"
    for trigger in (e for e in sent if e["event_action"] == "trigger"):
        assert trigger["client"] == "driftwarden" and trigger["client_url"] == ui
        payload = trigger["payload"]
        assert payload["source"] == "ml/fraud-scorer-7d9f"  # the pod, from the downward API
        assert datetime.fromisoformat(payload["timestamp"]).tzinfo is not None  # RFC 3339, as date-time asks
        assert all(link["href"].startswith(("http://", "https://")) for link in trigger["links"])
    resolves = [e for e in sent if e["event_action"] == "resolve"]
    assert {e["dedup_key"] for e in resolves} == {e["dedup_key"] for e in sent if e["event_action"] == "trigger"}


def test_source_is_the_configured_one(tmp_path: Path, pagerduty: WebhookSink, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POD_NAME", "fraud-scorer-7d9f")
    rng = np.random.default_rng(0)
    with running(tmp_path / "s.db", **config(pagerduty, source="fraud-scorer.prod.example.com")) as d:
        put_reference(d, reference_frame(rng))
        drifting(d, rng, (1.0, 0, 0))
        sent = events(d, pagerduty)
    assert {e["payload"]["source"] for e in sent} == {"fraud-scorer.prod.example.com"}


def test_source_falls_back_from_the_pod_to_the_node_to_the_host() -> None:
    import socket

    assert pagerduty_source({"POD_NAME": "p-1", "POD_NAMESPACE": "ml", "NODE_NAME": "n-1"}) == "ml/p-1"
    assert pagerduty_source({"POD_NAME": "p-1"}) == "p-1"
    assert pagerduty_source({"NODE_NAME": "gpu-node-3"}) == "gpu-node-3"
    assert pagerduty_source({}) == socket.gethostname()


def test_a_changing_group_does_not_re_trigger_an_unchanged_alert(tmp_path: Path, pagerduty: WebhookSink) -> None:
    """The defect: a feature drifted, then others joined its group within the minute, and each change
    re-triggered the first feature's dedup key. Now it is triggered once; the others once each."""
    rng = np.random.default_rng(0)
    with running(tmp_path / "s.db", **config(pagerduty)) as d:
        put_reference(d, reference_frame(rng))
        drifting(d, rng, (1.0, 0, 0))
        amount = feature_alert(d, "amount")["fingerprint"]
        drifting(d, rng, (1.0, 1.0, 0))  # age joins the group ...
        drifting(d, rng, (1.0, 1.0, 1.0))  # ... then score: the group changed twice
        drifting(d, rng, (1.0, 1.0, 1.0))
        sent = events(d, pagerduty)
        keys = [feature_alert(d, f)["fingerprint"] for f in ("age", "score")]
    assert len(triggers(sent, amount)) == 1, [e["payload"]["summary"] for e in triggers(sent, amount)]
    assert all(len(triggers(sent, key)) == 1 for key in keys)
    assert [e for e in sent if e["event_action"] == "resolve"] == []


def test_a_content_change_re_triggers_and_a_resolve_ends_the_memory() -> None:
    from driftwarden.alerts.alert import Alert, AlertStatus
    from driftwarden.alerts.dispatch import Notification
    from driftwarden.alerts.receivers.pagerduty import PagerDutyReceiver

    labels = {"alertname": "FeatureDrift", "kind": "drift", "severity": "warning", "model": "fraud", "subject": "age"}
    psi = {"test": "psi", "value": 0.41, "threshold": 0.2}
    alert = Alert(
        fingerprint(labels), labels, {"summary": "s"}, 0.41, 0.2, {"reasons": [psi]}, AlertStatus.FIRING, 0, 1.0
    )
    receiver = PagerDutyReceiver("pd", lambda: b"key")

    def sent() -> list[str]:
        notification = Notification("pd", "{}:{}", {}, [alert])
        return [json.loads(m.body)["event_action"] for m in receiver.messages(notification, now=2.0)]

    assert sent() == ["trigger"]
    alert.evidence = {"reasons": [{**psi, "value": 0.5}]}  # only its numbers moved
    assert sent() == []
    alert.evidence = {"reasons": [psi, {"test": "missing", "value": 0.07, "threshold": 0.05}]}  # a test joined
    assert sent() == ["trigger"]
    alert.status = AlertStatus.RESOLVED
    assert sent() == ["resolve"]
    alert.status = AlertStatus.FIRING  # fires again: a new incident
    assert sent() == ["trigger"]


def test_a_restart_re_triggers_nothing_pagerduty_has(tmp_path: Path, pagerduty: WebhookSink) -> None:
    rng = np.random.default_rng(0)
    with running(tmp_path / "s.db", **config(pagerduty)) as d:
        put_reference(d, reference_frame(rng))
        drifting(d, rng, (1.0, 0, 0))
        before = events(d, pagerduty)
        amount = feature_alert(d, "amount")["fingerprint"]
    assert len(triggers(before, amount)) == 1
    with running(tmp_path / "s.db", **config(pagerduty)) as d:
        drifting(d, rng, (1.0, 0, 0))  # still drifting: restored, notified again to the dispatcher
        assert feature_alert(d, "amount")["fingerprint"] == amount
        drifting(d, rng, (0, 0, 0))
        after = events(d, pagerduty)[len(before) :]
    assert [e["event_action"] for e in after if e["dedup_key"] == amount] == ["resolve"]


def pre_upgrade_fingerprint(labels: dict[str, str]) -> str:
    """How alerts were keyed before they had Alertmanager's fingerprint (kind, target, subject, the
    finding's own labels; a drift finding has none)."""
    target = labels.get("model") or labels.get("slo") or labels.get("gpu") or ""
    return hashlib.sha256(f"{labels['kind']}|{target}|{labels['subject']}|".encode()).hexdigest()[:16]


def test_an_alert_firing_across_the_upgrade_keeps_its_incident(tmp_path: Path, pagerduty: WebhookSink) -> None:
    """The state of a release before this one: the alert saved under its old key, whose PagerDuty
    incident is open. After the upgrade the alert has Alertmanager's fingerprint, but PagerDuty only
    ever hears of the incident's key: it is updated and resolved, never paged anew under another."""
    state = tmp_path / "s.db"
    rng = np.random.default_rng(0)
    with running(state, **config(pagerduty)) as d:
        put_reference(d, reference_frame(rng))
        drifting(d, rng, (1.0, 0, 0))
        events(d, pagerduty)
    store = Store(Database(state))
    saved = store.load_document("alerts")
    assert isinstance(saved, list) and saved
    for alert in saved:  # as the release before wrote it: its key, no incidentKey, no trigger memory
        alert["fingerprint"] = pre_upgrade_fingerprint(alert["labels"])
        alert.pop("incidentKey", None)
    store.save_document("alerts", saved)
    store.save_document("pagerduty_triggers.pd", {})
    store.save_document("notified", [])  # nor what each group was told
    store.close()
    old = {a["labels"]["subject"]: a["fingerprint"] for a in saved if a["labels"]["alertname"] == "FeatureDrift"}
    opened = len(pagerduty.deliveries)

    with running(state, **config(pagerduty)) as d:
        drifting(d, rng, (1.0, 0, 0))
        new = feature_alert(d, "amount")["fingerprint"]
        drifting(d, rng, (0, 0, 0))
        after = events(d, pagerduty)[opened:]
    amount = next(
        a["labels"] for a in saved if a["labels"]["alertname"] == "FeatureDrift" and a["labels"]["subject"] == "amount"
    )
    assert new == fingerprint(amount) != old["amount"]
    assert new not in {e["dedup_key"] for e in after}, after  # never paged under the new key
    # the open incident: updated once (PagerDuty appends it to the incident, pages no one), then resolved
    assert [e["event_action"] for e in after if e["dedup_key"] == old["amount"]] == ["trigger", "resolve"]
