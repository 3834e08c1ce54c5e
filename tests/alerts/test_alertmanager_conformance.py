"""driftwarden's alert identities are Alertmanager's: each expected value comes from a real Alertmanager
(Debian's prometheus-alertmanager) given the same alerts and routing tree, or from values an
Alertmanager printed, recorded here, never from driftwarden's code.

- `fingerprint`: prometheus/common `LabelSet.Fingerprint()` (FNV-1a 64 over the sorted names and values,
  each followed by 0xff), as /api/v2/alerts and the webhook payload show it.
- `groupKey`: `<route key>:<group labels>` (dispatch/group.go `GroupKey()`, dispatch/route.go `Key()`).
- the webhook payload's keys (version 4), with Alertmanager 0.32's `notification_reason` beside them.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import orjson
import pytest

from driftwarden.alerts.alert import Alert, AlertStatus
from driftwarden.alerts.dispatch import Dispatcher, Router
from driftwarden.alerts.labelset import fingerprint, group_key, route_key
from driftwarden.alerts.receivers.webhook import WebhookReceiver
from driftwarden.config import AlertingSettings, RouteSettings
from driftwarden.params import alerting_params, route_params
from driftwarden.sink import WebhookSink
from tests.support.alertmanager import alertmanager_binary, running_alertmanager
from tests.support.records import NDJSON, put_reference, records, reference_frame
from tests.support.server import running

# Printed by Alertmanager 0.25.0 (Debian) for these label sets: /api/v2/alerts `fingerprint`, webhook `groupKey`.
RECORDED = [
    ({}, "cbf29ce484222325"),  # the empty set: FNV-1a 64's offset basis
    ({"alertname": "FeatureDrift", "model": "fraud"}, "30aaaed27dfa8f32"),
    (
        {
            "alertname": "FeatureDrift",
            "kind": "drift",
            "severity": "warning",
            "model": "fraud",
            "subject": "amount",
            "a1": "x",
            "a10": "y",
            "a9x": 'q"uo\\te\nnl',
            "a10x": "é\u00a0z",
        },
        "a0f1617582f88d29",
    ),
]
TRICKY = {  # every kind of character a group key must quote as Go does
    "alertname": "FeatureDrift",
    "kind": "drift",
    "severity": "warning",
    "model": "fraud",
    "model_version": "v2",
    "subject": 'amo"unt\\ \n\t é\u00a0z \u200b 😀',
}


@pytest.mark.parametrize(("labels", "expected"), RECORDED)
def test_fingerprints_equal_those_alertmanager_printed(labels: dict[str, str], expected: str) -> None:
    assert fingerprint(labels) == expected


def test_group_key_is_the_route_path_and_the_group_labels_as_alertmanager_prints_them() -> None:
    # Alertmanager 0.25.0 printed this groupKey for the third RECORDED alert under the route below with
    # group_by [model, kind]; label names that are not another name followed by a digit sort alike in all versions
    assert (
        group_key(route_key({"severity": "warning", "kind": "drift"}), {"model": "fraud", "kind": "drift"})
        == '{}/{kind="drift",severity="warning"}:{kind="drift", model="fraud"}'
    )
    assert group_key(route_key({}), {}) == "{}:{}"


def firing(labels: dict[str, str]) -> Alert:
    return Alert(fingerprint(labels), labels, {"summary": "s"}, 1.0, 0.5, {}, status=AlertStatus.FIRING, starts_at=1.0)


@pytest.mark.alertmanager
def test_the_same_alerts_get_the_same_fingerprints_and_group_key_from_a_real_alertmanager(tmp_path: Path) -> None:
    group_by = ["model", "kind", "subject", "model_version"]
    match = {"kind": "drift", "severity": "warning"}
    alerts = [TRICKY, {**TRICKY, "alertname": "ModelDrift"}]
    settings = alerting_params(AlertingSettings(group_by=group_by, group_wait="0s"))
    dispatcher = Dispatcher(settings, Router(route_params([RouteSettings(match=match, receivers=["hook"])]), []))
    dispatcher.update([firing(labels) for labels in alerts], now=1.0)
    (notification,) = dispatcher.due(now=1.0)
    (message,) = WebhookReceiver("hook", "http://127.0.0.1:9/hook").messages(notification, now=1.0)
    ours = orjson.loads(message.body)

    route = {"receiver": "hook", "group_by": group_by, "routes": [{"receiver": "hook", "match": match}]}
    with running_alertmanager(alertmanager_binary(), tmp_path, route) as am:
        am.post([{"labels": labels} for labels in alerts])
        theirs = am.notification()
        listed = {a["labels"]["alertname"]: a["fingerprint"] for a in am.alerts()}

    assert ours["groupKey"] == theirs["groupKey"], (ours["groupKey"], theirs["groupKey"])
    assert {a["labels"]["alertname"]: a["fingerprint"] for a in ours["alerts"]} == listed
    assert sorted(a["fingerprint"] for a in theirs["alerts"]) == sorted(listed.values())
    for key in ("groupLabels", "commonLabels", "status", "version", "truncatedAlerts", "receiver"):
        assert ours[key] == theirs[key], key
    assert set(ours) == set(theirs) | {"notification_reason"}  # Alertmanager 0.32 adds notification_reason
    assert set(ours["alerts"][0]) == set(theirs["alerts"][0])


@pytest.mark.alertmanager
@pytest.mark.server
def test_a_drift_alert_has_one_fingerprint_and_group_key_in_driftwarden_and_in_alertmanager(tmp_path: Path) -> None:
    """driftwarden notifies its webhook and hands the alert to a real Alertmanager routed as it is:
    both notifications carry the same fingerprint and groupKey, and so does /v1/alerts."""
    route = {
        "receiver": "hook",
        "group_by": ["model", "kind"],
        "routes": [{"receiver": "hook", "match": {"kind": "drift"}}],
    }
    sink = WebhookSink().start()
    try:
        with running_alertmanager(alertmanager_binary(), tmp_path, route) as am:
            config = {
                "alerting": {"for": 2, "group_wait": "0s", "group_interval": "0s", "resolve_hold": "0s"},
                "receivers": [
                    {"name": "hook", "type": "webhook", "url": sink.url + "/hook"},
                    {"name": "am", "type": "alertmanager", "url": am.url},
                ],
                "routes": [{"match": {"kind": "drift"}, "receivers": ["hook", "am"]}],
                "models": {"fraud": {"window": 2000, "drift": {"multivariate": []}}},
            }
            rng = np.random.default_rng(0)
            with running(tmp_path / "s.db", **config) as d:
                put_reference(d, reference_frame(rng))
                d.client.post("/v1/predictions", content=records(rng, 2000, shift=(1.0, 0, 0)), headers=NDJSON)
                d.evaluate()
                d.evaluate()
                (alert,) = d.client.get("/v1/alerts").json()["alerts"]
                (delivery,) = sink.wait_for(1)
                theirs = am.notification()
                listed = am.alerts()
    finally:
        sink.stop()
    ours = delivery.json()
    assert isinstance(ours, dict)
    assert ours["groupKey"] == theirs["groupKey"] == '{}/{kind="drift"}:{kind="drift", model="fraud"}'
    assert [a["fingerprint"] for a in listed] == [alert["fingerprint"]]
    assert [a["fingerprint"] for a in ours["alerts"]] == [a["fingerprint"] for a in theirs["alerts"]]
    assert ours["alerts"][0]["fingerprint"] == alert["fingerprint"] == fingerprint(alert["labels"])
    assert ours["groupLabels"] == theirs["groupLabels"] and ours["commonLabels"] == theirs["commonLabels"]
    assert ours["notification_reason"] == "first notification"


def test_notification_reasons_are_alertmanagers() -> None:
    s = alerting_params(AlertingSettings(group_wait="0s", group_interval="0s", repeat_interval="1h"))
    dispatcher = Dispatcher(s, Router([], default=["hook"]))
    a = firing({"alertname": "FeatureDrift", "kind": "drift", "model": "fraud", "subject": "amount"})
    b = firing({"alertname": "FeatureDrift", "kind": "drift", "model": "fraud", "subject": "age"})
    dispatcher.update([a], now=0)
    assert [n.reason for n in dispatcher.due(now=0)] == ["first notification"]
    dispatcher.update([a, b], now=1)
    assert [n.reason for n in dispatcher.due(now=1)] == ["new alerts added"]
    assert [n.reason for n in dispatcher.due(now=1 + 3600)] == ["repeat interval elapsed"]
    b.status, b.ends_at = AlertStatus.RESOLVED, 3602.0
    dispatcher.update([a, b], now=3602)
    assert [n.reason for n in dispatcher.due(now=3602)] == ["some alerts resolved"]
    a.status, a.ends_at = AlertStatus.RESOLVED, 3603.0
    dispatcher.update([a], now=3603)
    assert [n.reason for n in dispatcher.due(now=3603)] == ["all alerts resolved"]
