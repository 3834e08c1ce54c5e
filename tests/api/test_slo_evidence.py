"""No page without evidence: a burn-rate tier is judged only once its short window holds its span of
history (across restarts) and `min_requests`; an overspent budget reads as exhausted, never negative."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from driftwarden.sink import WebhookSink
from tests.support.clock import ShiftedClock
from tests.support.otlp import Sender
from tests.support.server import Daemon, running

pytestmark = pytest.mark.server

LATENCY_SLO = {"name": "fraud-latency", "service": "fraud-model", "objective": 0.99, "threshold": "250ms"}


def slow_requests(d: Daemon, clock: ShiftedClock, count: int = 40) -> None:
    sender = Sender(d)
    for i in range(count):
        sender.request(0.5 if i % 2 else 0.1, ago=1.0 - clock.shift)  # half slower than 250 ms, now on `clock`
    sender.close()


def latency_slo(d: Daemon) -> dict:
    slos = {s["name"]: s for s in d.client.get("/v1/slos").json()["slos"]}
    return slos["fraud-latency"]


def test_a_fresh_daemon_under_a_regression_pages_only_once_the_short_window_has_its_history(tmp_path: Path) -> None:
    clock = ShiftedClock()
    with running(tmp_path / "s.db", clock=clock, slos=[LATENCY_SLO]) as d:
        slow_requests(d, clock)
        d.evaluate()
        first_minute = latency_slo(d)
        assert first_minute["burn_rates"]["5m"] == pytest.approx(50)  # burning, but on seconds of history
        assert first_minute["alerts"] == [] and first_minute["history_seconds"] < 60
        assert d.client.get("/v1/alerts").json()["alerts"] == []

        clock.shift = 301.0  # five minutes on: the 1h/5m tier's short window holds its span
        slow_requests(d, clock)
        d.evaluate()
        paged = latency_slo(d)
        assert [(a["severity"], a["windows"]) for a in paged["alerts"]] == [("page", "1h and 5m")]
        assert paged["history_seconds"] >= 300


def test_a_fresh_daemon_sends_no_page_in_its_first_minute_and_one_once_it_has_history(tmp_path: Path) -> None:
    """The same regression through a PagerDuty receiver: nothing is sent while the windows are seconds
    old, however often it evaluates; one critical SLOErrorBudgetBurn trigger once the 5m window is full."""
    key = tmp_path / "routing-key"
    key.write_text("R0UTINGKEY")
    pagerduty = WebhookSink().start()
    clock = ShiftedClock()
    config = {
        "slos": [LATENCY_SLO],
        "alerting": {"for": 1, "group_wait": "0s", "group_interval": "0s"},
        "receivers": [
            {"name": "pd", "type": "pagerduty", "url": pagerduty.url + "/v2/enqueue", "routing_key_file": str(key)}
        ],
        "routes": [{"match": {"alertname": "SLOErrorBudgetBurn"}, "receivers": ["pd"]}],
    }
    try:
        with running(tmp_path / "s.db", clock=clock, **config) as d:
            for _ in range(3):  # the first minute: burning 50x, on seconds of history
                slow_requests(d, clock, count=20)
                d.evaluate()
            assert d.client.get("/v1/alerts").json()["alerts"] == []  # no alert: nothing for the outbox to send
            assert d.metric("driftwarden_outbox_pending", receiver="pd") in (0, None) and pagerduty.deliveries == []

            clock.shift = 301.0
            slow_requests(d, clock)
            d.evaluate()
            (page,) = [delivery.json() for delivery in pagerduty.wait_for(1)]
            assert isinstance(page, dict) and page["event_action"] == "trigger"
            assert page["payload"]["class"] == "SLOErrorBudgetBurn" and page["payload"]["severity"] == "critical"
            assert "1h and 5m" in page["payload"]["summary"], page["payload"]["summary"]
    finally:
        pagerduty.stop()


def test_the_history_survives_a_restart(tmp_path: Path) -> None:
    clock = ShiftedClock()
    with running(tmp_path / "s.db", clock=clock, slos=[LATENCY_SLO]) as d:
        d.evaluate()
    clock.shift = 301.0
    with running(tmp_path / "s.db", clock=clock, slos=[LATENCY_SLO]) as d:
        slow_requests(d, clock)
        d.evaluate()
        assert [a["severity"] for a in latency_slo(d)["alerts"]] == ["page"]


def test_low_traffic_does_not_alert_even_with_history(tmp_path: Path) -> None:
    clock = ShiftedClock()
    with running(tmp_path / "s.db", clock=clock, slos=[LATENCY_SLO | {"min_requests": 10}]) as d:
        clock.shift = 3 * 86400.0  # every window has its span
        slow_requests(d, clock, count=6)  # three slow of six: burning 50x, on too few requests
        d.evaluate()
        slo = latency_slo(d)
        assert slo["burn_rates"]["5m"] == pytest.approx(50) and slo["alerts"] == []


def test_an_overspent_budget_is_exhausted_not_negative(tmp_path: Path) -> None:
    clock = ShiftedClock()
    with running(tmp_path / "s.db", clock=clock, slos=[LATENCY_SLO]) as d:
        slow_requests(d, clock)
        d.evaluate()
        slo = latency_slo(d)
        assert slo["error_budget_remaining"] == 0.0 and slo["error_budget_exhausted"] is True
        assert d.metric("driftwarden_slo_error_budget_remaining", slo="fraud-latency") == 0.0
        page = d.client.get("/").text
        assert "exhausted" in page and not re.search(r"-\d[\d.]*%", page) and "overspent" not in page
