"""Alert inhibition over real HTTP: one drift episode is one critical PagerDuty incident, not a
FeatureDrift page and a DriftBudgetBurn page for the same model (alerting.inhibit, on by default)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from driftwarden.sink import WebhookSink
from tests.support.clock import ShiftedClock
from tests.support.records import NDJSON, put_reference, records, reference_frame
from tests.support.server import Daemon, running

pytestmark = pytest.mark.server


@pytest.fixture
def pagerduty(monkeypatch: pytest.MonkeyPatch) -> Iterator[WebhookSink]:
    """A local stand-in for the PagerDuty Events API v2: it keeps every event it is sent."""
    monkeypatch.setenv("DW_TEST_PAGERDUTY_KEY", "routing-key")
    sink = WebhookSink().start()
    yield sink
    sink.stop()


def drift_episode(tmp_path: Path, pagerduty: WebhookSink, **alerting: object) -> tuple[list[dict], list[dict]]:
    """A critical feature drifts for six minutes of the trackers' time; (alerts, PagerDuty events)."""
    clock = ShiftedClock()
    config = {
        "alerting": {"for": 2, "group_wait": "0s", "group_interval": "0s", "resolve_hold": "0s", **alerting},
        "receivers": [
            {
                "name": "pd",
                "type": "pagerduty",
                "url": f"{pagerduty.url}/v2/enqueue",
                "routing_key_env": "DW_TEST_PAGERDUTY_KEY",
            }
        ],
        "routes": [{"match": {"kind": "drift"}, "receivers": ["pd"]}],
        "models": {"fraud": {"window": 2000, "critical_features": ["amount"]}},
    }
    rng = np.random.default_rng(0)
    with running(tmp_path / "s.db", clock=clock, **config) as d:
        put_reference(d, reference_frame(rng))
        d.client.post("/v1/predictions", content=records(rng, 2000, shift=(1.0, 0, 0)), headers=NDJSON)
        for _ in range(2):
            d.evaluate()
        clock.shift = 301.0  # the drift goes on: the drift budget's 5m window now has its history
        for _ in range(6):
            d.evaluate()
        alerts = d.client.get("/v1/alerts").json()["alerts"]
        events = settled(d, pagerduty)
    return alerts, events


def settled(d: Daemon, pagerduty: WebhookSink) -> list[dict]:
    """Every event the outbox had to send, once it has none pending."""
    deadline = time.monotonic() + 10
    while d.metric("driftwarden_outbox_pending", receiver="pd") not in (0, None):
        assert time.monotonic() < deadline, "the outbox did not drain"
        time.sleep(0.05)
    return [delivery.json() for delivery in pagerduty.deliveries]  # type: ignore[misc]


def critical_incidents(events: list[dict]) -> dict[str, str]:
    """dedup_key -> alert class of every critical trigger: one key is one PagerDuty incident."""
    return {
        e["dedup_key"]: e["payload"]["class"]
        for e in events
        if e["event_action"] == "trigger" and e["payload"]["severity"] == "critical"
    }


def test_one_drift_episode_is_one_critical_incident(tmp_path: Path, pagerduty: WebhookSink) -> None:
    alerts, events = drift_episode(tmp_path, pagerduty)
    by_name = {a["labels"]["alertname"]: a for a in alerts}
    budget = by_name["DriftBudgetBurn"]
    assert budget["status"] == "firing" and budget["labels"]["severity"] == "page"  # burning, as it should
    drift = sorted(by_name[name]["fingerprint"] for name in ("FeatureDrift", "ModelDrift"))
    assert budget["inhibitedBy"] == drift  # both drift alerts of the model mute it (the default rules)
    assert by_name["FeatureDrift"]["inhibitedBy"] == by_name["ModelDrift"]["inhibitedBy"] == []
    assert list(critical_incidents(events).values()) == ["FeatureDrift"]
    assert all(e["payload"]["class"] != "DriftBudgetBurn" for e in events if e["event_action"] == "trigger")


def test_without_inhibit_rules_the_budget_pages_too(tmp_path: Path, pagerduty: WebhookSink) -> None:
    alerts, events = drift_episode(tmp_path, pagerduty, inhibit=[])
    assert all(a["inhibitedBy"] == [] for a in alerts)
    assert sorted(critical_incidents(events).values()) == ["DriftBudgetBurn", "FeatureDrift"]


def test_a_muted_alert_stays_muted_until_it_resolves() -> None:
    """The budget still burning once the drift alert resolved is the tail of the same episode."""
    from driftwarden.alerts.engine import AlertEngine
    from driftwarden.detectors.findings import DriftBudgetFinding, FeatureDriftFinding, Severity
    from driftwarden.params import AlertingParams, InhibitRuleParams

    rule = InhibitRuleParams(
        source_match={"alertname": "FeatureDrift"}, target_match={"alertname": "DriftBudgetBurn"}, equal=("model",)
    )
    engine = AlertEngine(AlertingParams(for_=1, resolve_hold=0.0, inhibit=(rule,)))
    drift = FeatureDriftFinding(model="fraud", feature="amount", severity=Severity.PAGE, value=0.9, threshold=0.2)
    burn = DriftBudgetFinding(
        model="fraud", severity=Severity.PAGE, value=100.0, threshold=14.4, long_window="1h", short_window="5m",
        long_burn_rate=100.0, short_burn_rate=100.0, requests_short_window=6, objective=0.99, budget_remaining=0.0,
    )  # fmt: skip
    alerts = {a.name: a for a in engine.observe([drift, burn], now=0)}
    assert alerts["DriftBudgetBurn"].inhibited_by == [alerts["FeatureDrift"].fingerprint]
    alerts = {a.name: a for a in engine.observe([burn], now=30)}  # the drift alert resolves
    assert alerts["FeatureDrift"].status.value == "resolved" and alerts["DriftBudgetBurn"].inhibited_by
