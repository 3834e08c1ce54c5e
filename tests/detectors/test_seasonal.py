"""The seasonal anomaly detector: robust statistics against numpy/hand-computed cases, quiet on a steady
weekly rhythm over four simulated weeks, an Anomaly within `for` of a 40 % drop at 3 am, and a history
that survives a restart and stays bounded. Time is injected (`now`), never waited for."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from driftwarden.alerts.alert import describe
from driftwarden.detectors.findings import AnomalyFinding
from driftwarden.detectors.seasonal import MAD_SCALE, SeasonalDetector, robust_baseline, robust_scores, series_key
from driftwarden.params import AnomalyParams
from driftwarden.persistence.anomaly_history import AnomalyHistory
from driftwarden.persistence.database import Database
from tests.support.rhythm import DAY, MONDAY, WEEK, rate

# the defaults (a week, 4 seasons, sensitivity 3, for 15m) but hourly slots: five weeks are 840 writes, not 5040
PARAMS = AnomalyParams(resolution=3600.0)
API = series_key("request_rate", {"service": "api", "model": "fraud", "operation": "/v1/predict"})
STEP = 300.0  # one evaluation every 5 minutes (two per slot)


@pytest.fixture
def database(tmp_path: Path) -> Iterator[Database]:
    db = Database(tmp_path / "state.db")
    yield db
    db.close()


def feed(detector: SeasonalDetector, start: float, end: float, drop: tuple[float, float] | None = None) -> list:
    """Observe the rhythm every STEP from `start` to `end`; `drop` = (from, factor). Returns (t, findings)."""
    seen = []
    t = start
    while t < end:
        value = rate(t)
        if drop is not None and t >= drop[0]:
            value *= drop[1]
        seen.append((t, detector.observe({API: value}, t)))
        t += STEP
    return seen


def test_robust_baseline_is_numpys_median_and_mad() -> None:
    past = np.array([[3.0, 1.0, 4.0, 1.0], [5.0, np.nan, 9.0, np.nan], [np.nan] * 4])
    median, mad, counts = robust_baseline(past)
    assert median[:2].tolist() == [2.0, 7.0] and np.isnan(median[2])
    assert mad[:2].tolist() == [1.0, 2.0]  # |3-2|,|1-2|,|4-2|,|1-2| -> 1, 1, 2, 1; |5-7|, |9-7| -> 2, 2
    assert counts.tolist() == [4, 2, 0]


def test_the_spread_has_a_relative_and_an_absolute_floor() -> None:
    median, mad = np.array([100.0, 100.0, 0.0]), np.array([20.0, 0.0, 0.0])
    scores, spread = robust_scores(np.array([40.0, 60.0, 0.5]), median, mad, np.array([0.0, 0.0, 0.05]), min_spread=0.1)
    assert spread.tolist() == pytest.approx([MAD_SCALE * 20.0, 10.0, 0.05])
    assert scores.tolist() == pytest.approx([-60 / (MAD_SCALE * 20.0), -4.0, 10.0])


@given(
    arrays(np.float64, (5, 4), elements=st.floats(0.1, 1e6)),
    st.floats(0.01, 100.0),
)
def test_scores_scale_free(past: np.ndarray, factor: float) -> None:
    """Multiplying a series and its history by a constant leaves its score unchanged (no absolute floor)."""
    median, mad, _ = robust_baseline(past)
    scaled = robust_baseline(past * factor)
    zero = np.zeros(5)
    a, _ = robust_scores(past[:, 0] * 0.6, median, mad, zero, min_spread=0.1)
    b, _ = robust_scores(past[:, 0] * 0.6 * factor, scaled[0], scaled[1], zero, min_spread=0.1)
    np.testing.assert_allclose(a, b, rtol=1e-9)


def test_quiet_on_the_rhythm_and_an_anomaly_within_for_of_a_40_percent_drop_at_3am(database: Database) -> None:
    detector = SeasonalDetector(PARAMS, AnomalyHistory(database))
    history = feed(detector, MONDAY, MONDAY + 4 * WEEK)
    assert not any(findings for _, findings in history)  # no baseline for the first weeks: nothing judged
    week5 = feed(detector, MONDAY + 4 * WEEK, MONDAY + 5 * WEEK)
    assert not [(t, f) for t, f in week5 if f], "the steady rhythm alerted"
    scores = [s.score for s in detector.scores.values()]
    assert scores and max(map(abs, scores)) < PARAMS.sensitivity
    # Wednesday of week 6, 03:00 UTC: traffic falls to 60 %. A fixed threshold would not see it: the
    # dropped rate is still above what every weekend night carries.
    at = MONDAY + 5 * WEEK + 2 * DAY + 3 * 3600
    dropped = rate(at) * 0.6
    assert dropped > min(rate(MONDAY + 5 * DAY + h * 3600, noise=0) for h in range(24))
    after = feed(detector, MONDAY + 5 * WEEK, at + 3600, drop=(at, 0.6))
    assert not [t for t, f in after if f and t < at], "alerted before the drop"
    first, found = next((t, f) for t, f in after if f)
    assert at + PARAMS.for_ <= first <= at + PARAMS.for_ + STEP
    finding = found[0]
    assert isinstance(finding, AnomalyFinding) and finding.signal == "request_rate" and finding.since == at
    assert finding.value <= -PARAMS.sensitivity and finding.observed == pytest.approx(rate(first) * 0.6)
    assert finding.baseline == pytest.approx(rate(first, noise=0), rel=0.08)  # the mean of 03:00-04:00 before
    labels, annotations = describe(finding)
    assert labels["alertname"] == "Anomaly" and labels["kind"] == "anomaly" and labels["service"] == "api"
    assert labels["model"] == "fraud" and labels["subject"] == "request_rate"
    assert re.search(r"down (3[5-9]|4[0-5])%", annotations["summary"]) and "Where to look" in annotations["description"]


def test_traffic_stopping_altogether_is_an_anomaly_not_a_gap(database: Database) -> None:
    detector = SeasonalDetector(PARAMS, AnomalyHistory(database))
    feed(detector, MONDAY, MONDAY + 3 * WEEK)
    at = MONDAY + 3 * WEEK + 10 * 3600
    feed(detector, MONDAY + 3 * WEEK, at)
    silent = [detector.observe({}, at + i * STEP) for i in range(5)]
    assert silent[-1] and silent[-1][0].observed == 0.0


def test_history_survives_a_restart_and_stays_bounded(tmp_path: Path) -> None:
    params = AnomalyParams(season=DAY, seasons=2, min_seasons=2, resolution=3600.0, for_=0.0, max_series=3)
    db = Database(tmp_path / "state.db")
    detector = SeasonalDetector(params, AnomalyHistory(db))
    for i in range(int(2 * DAY // 3600)):
        t = MONDAY + i * 3600
        detector.observe({series_key("gpu_utilization", {"gpu": f"g{n}"}): 50.0 for n in range(5)}, t)
    assert detector.series_count() == 3 and detector.dropped == 2 * 48
    detector.flush()  # what the daemon's checkpoint and stop do
    db.close()

    db = Database(tmp_path / "state.db")  # a new process: the same file
    history = AnomalyHistory(db)
    restarted = SeasonalDetector(params, history)
    assert restarted.series_count() == 3
    found = restarted.observe({series_key("gpu_utilization", {"gpu": "g0"}): 20.0}, MONDAY + 2 * DAY)
    assert [f.gpu for f in found] == ["g0"] and found[0].seasons == 2 and found[0].baseline == 50.0
    for i in range(int(5 * DAY // 3600)):  # days later: old slots pruned
        restarted.observe({series_key("gpu_utilization", {"gpu": "g0"}): 50.0}, MONDAY + 2 * DAY + i * 3600)
    assert history.rows() <= params.max_series * (params.seasons + 1) * params.season_slots
    assert restarted.series_count() == 1  # the two series unseen for two seasons are forgotten
    db.close()
