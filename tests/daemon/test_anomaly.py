"""Anomaly-based alerts in the running daemon, over real HTTP, time injected (`ShiftedClock`), never waited for.

Four simulated weeks of a daily and weekly traffic rhythm go through the daemon's history (the detector and
state file it runs, written by an earlier process: the history survives the restart); the daemon then sees
the rhythm's own traffic as OTLP spans, Wednesday 02:00 to 03:00, and stays quiet; at 03:00 traffic falls by
40 %, and an `Anomaly` alert fires within `for` of it, with the baseline, the observed value and where to look.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from driftwarden.config import load_config
from driftwarden.detectors.seasonal import SeasonalDetector, series_key
from driftwarden.params import anomaly_params
from driftwarden.persistence.anomaly_history import AnomalyHistory
from driftwarden.persistence.database import Database
from tests.support.clock import ShiftedClock
from tests.support.rhythm import DAY, MONDAY, WEEK, rate, span_export
from tests.support.server import Daemon, running

pytestmark = pytest.mark.server

ANOMALY = {"signals": ["request_rate"], "resolution": "1h", "for": "15m"}
PEAK = 5.0  # requests per second at a weekday's 14:00: about 320 spans a 5-minute step at night
LABELS = {"service": "fraud-model", "model": "fraud", "operation": "/predict"}
STEP = 300.0
JSON = {"content-type": "application/json"}


def seed_history(state: Path, end: float) -> int:
    """Four weeks and more of the rhythm through the daemon's detector and store, one value a slot."""
    params = anomaly_params(load_config(None, anomaly=ANOMALY).anomaly)
    db = Database(state)
    detector = SeasonalDetector(params, AnomalyHistory(db))
    key = series_key("request_rate", LABELS)
    t = MONDAY
    while t < end:
        assert not detector.observe({key: rate(t, peak=PEAK)}, t)
        t += params.resolution
    detector.flush()
    rows = AnomalyHistory(db).rows()
    db.close()
    return rows


def step(d: Daemon, clock: ShiftedClock, t: float, factor: float = 1.0) -> None:
    """The five minutes up to `t + STEP` of traffic (times `factor`), then an evaluation at `t + STEP`."""
    count = round(rate(t, peak=PEAK) * factor * STEP)
    r = d.client.post("/v1/traces", content=span_export(count, t + STEP - 1), headers=JSON)
    assert r.status_code == 200, r.text
    clock.shift = t + STEP - time.time()
    d.evaluate()


def anomalies(d: Daemon) -> list[dict]:
    return [a for a in d.client.get("/v1/alerts").json()["alerts"] if a["labels"]["alertname"] == "Anomaly"]


def test_quiet_on_the_weekly_rhythm_and_an_anomaly_alert_within_for_of_a_40_percent_drop_at_3am(
    tmp_path: Path,
) -> None:
    state = tmp_path / "state.db"
    wednesday_2am = MONDAY + 4 * WEEK + 2 * DAY + 2 * 3600
    assert seed_history(state, wednesday_2am) == 4 * 7 * 24 + 1  # one row a slot, the last four weeks kept
    clock = ShiftedClock()
    clock.shift = wednesday_2am - time.time()
    with running(state, clock=clock, anomaly=ANOMALY, alerting={"for": 1}, evaluate_every="1h") as d:
        t = wednesday_2am
        while t < wednesday_2am + 3600:  # the rhythm itself: quiet
            step(d, clock, t)
            t += STEP
        assert anomalies(d) == []
        score = d.metric("driftwarden_anomaly_score", signal="request_rate", gpu="", **LABELS)
        assert score is not None and abs(score) < 3.0, score
        baseline = d.metric("driftwarden_anomaly_baseline", signal="request_rate", gpu="", **LABELS)
        assert baseline == pytest.approx(rate(t, peak=PEAK, noise=0), rel=0.1)

        drop = t  # 03:00: traffic falls to 60 %
        fired = None
        while t < drop + 15 * 60 + 2 * STEP:
            step(d, clock, t, factor=0.6)
            t += STEP
            found = anomalies(d)
            if found and fired is None:
                fired = t, found
            assert t >= drop + 15 * 60 or not found, "fired before `for` had passed"
        assert fired is not None, "no Anomaly alert after the drop"
        at, (alert,) = fired
        assert at <= drop + 15 * 60 + 2 * STEP
        assert alert["status"] == "firing" and alert["labels"]["subject"] == "request_rate"
        assert {k: alert["labels"][k] for k in LABELS} == LABELS and alert["labels"]["kind"] == "anomaly"
        summary, description = alert["annotations"]["summary"], alert["annotations"]["description"]
        assert "Unusual request rate" in summary and "against a baseline of" in summary and "down" in summary
        assert "Where to look" in description
        score = d.metric("driftwarden_anomaly_score", signal="request_rate", gpu="", **LABELS)
        assert score is not None and score <= -3.0
        assert d.metric("driftwarden_anomaly_series") == 1
