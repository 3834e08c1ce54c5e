"""Seasonal anomaly detection on the daemon's own series: each value against the same time of the week.

A signal (request rate, error ratio, p99 latency per service/model/operation; GPU utilisation and memory
per GPU; prediction volume per model) is observed every evaluation. Its history keeps one mean value per
series and slot (`resolution`, 10 minutes by default), in SQLite, for `seasons` past seasons (a week, or a
day). The baseline of a value at time t is the median of the history at t - 1 season, t - 2 seasons, ...;
its spread the median absolute deviation (MAD) from that median, scaled by 1.4826 (the standard
deviation of a normal population), and never below `min_spread` of the baseline nor the signal's
absolute floor (`FLOORS`: an idle error ratio of exactly 0 does not make the first error infinite). The
score is the robust z-score `(observed - baseline) / spread`; a series whose score stays at or beyond
`sensitivity` (either way) for `for_` seconds is an `AnomalyFinding`. A series needs `min_seasons` past
values before it is judged at all.

Pure functions (`robust_baseline`, `robust_scores`) work on whole arrays of series; `SeasonalDetector`
is the thin stateful wrapper: it holds the series' identities, the baseline of the current slot (read
once per slot), the current slot's values until the slot ends or the daemon checkpoints (`flush`), and
when each score went beyond; it reads and writes history through `History`
(`persistence/anomaly_history.py` keeps it in the state file, bounded in series and rows).

>>> import numpy as np
>>> median, mad, counts = robust_baseline(np.array([[100.0, 104.0, 98.0, 101.0], [1.0, np.nan, np.nan, np.nan]]))
>>> median.tolist(), mad.tolist(), counts.tolist()
([100.5, 1.0], [1.5, 0.0], [4, 1])
>>> scores, spread = robust_scores(np.array([60.0]), median[:1], mad[:1], np.array([0.0]), min_spread=0.1)
>>> round(float(scores[0]), 2), round(float(spread[0]), 2)  # a 40 % drop: the spread is 10 % of the baseline
(-4.03, 10.05)
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from driftwarden.core.arrays import FloatArray, IntArray
from driftwarden.detectors.findings import AnomalyFinding, Severity
from driftwarden.params import AnomalyParams

__all__ = [
    "FLOORS",
    "MAD_SCALE",
    "WHERE",
    "ZERO_WHEN_ABSENT",
    "History",
    "Score",
    "SeasonalDetector",
    "SeriesKey",
    "robust_baseline",
    "robust_scores",
    "series_key",
]

MAD_SCALE = 1.4826  # MAD x this estimates the standard deviation of a normal population
# the least spread per signal, in its unit: below it a deviation is noise however steady the past was
FLOORS: Mapping[str, float] = {
    "request_rate": 0.05,  # requests per second
    "error_ratio": 0.01,  # one request in a hundred
    "p99_latency": 0.005,  # seconds
    "gpu_utilization": 2.0,  # percent
    "gpu_memory": 0.02,  # share of the framebuffer
    "prediction_volume": 0.05,  # records per second
}
# a counted signal whose series saw nothing is at 0, not missing (a 100 % drop is the worst drop)
ZERO_WHEN_ABSENT = frozenset({"request_rate", "prediction_volume"})
WHERE: Mapping[str, str] = {
    "request_rate": "upstream traffic and its clients (deploys, a load balancer, DNS); GET /v1/slos has the "
    "rates and p99 per service/model/operation, the request dashboard the same over time",
    "error_ratio": "the service's recent deploys, dependencies and logs; GET /v1/slos and the SLO dashboard",
    "p99_latency": "the service's saturation (CPU, GPU, queueing) and dependencies; GET /v1/slos, exemplars on "
    "the latency panel lead to slow traces",
    "gpu_utilization": "the GPU page of the UI and DCGM_FI_DEV_GPU_UTIL; a drop with steady traffic: batching or "
    "a fallback to CPU; a rise: a new workload on the GPU",
    "gpu_memory": "the GPU page of the UI (processes and their memory); a rise: a leak or a larger batch/model",
    "prediction_volume": "the model's producers (payload logger, tail sources, SDK); GET /v1/models/<model> and "
    "driftwarden_records_total against driftwarden_records_rejected_total",
}

SeriesKey = tuple[str, tuple[tuple[str, str], ...]]  # (signal, sorted (label, value) pairs)


def series_key(signal: str, labels: Mapping[str, str]) -> SeriesKey:
    """The identity of one series: `series_key("request_rate", {"service": "api"})`."""
    return signal, tuple(sorted(labels.items()))


class History(Protocol):
    """Where the detector's history lives (`persistence.anomaly_history.AnomalyHistory`)."""

    def series(self, limit: int) -> dict[SeriesKey, int]:
        """The series with a history and their ids, the most recently seen first, at most `limit`."""
        ...

    def add_series(self, keys: Sequence[SeriesKey], now: float) -> dict[SeriesKey, int]:
        """New series' ids."""
        ...

    def record(self, slot: int, values: Sequence[tuple[int, float, int]], now: float) -> None:
        """Fold (series id, mean, count) into each series' mean of `slot`."""
        ...

    def load(self, slots: Sequence[int]) -> list[tuple[int, int, float]]:
        """(series id, slot, mean) of every series in `slots`."""
        ...

    def prune(self, before_slot: int, seen_before: float) -> list[int]:
        """Forget the slots before `before_slot` and the series unseen since `seen_before`; their ids."""
        ...


@dataclass(frozen=True, slots=True)
class Score:
    """One series judged: what it is now, what it usually is at this time, and how unusual that is."""

    observed: float
    baseline: float
    spread: float
    score: float
    seasons: int  # past values behind the baseline


def robust_baseline(past: FloatArray) -> tuple[FloatArray, FloatArray, IntArray]:
    """Median, MAD and count of the values present (not NaN) in each row of `past` (series x seasons);
    NaN median and MAD for a row without any."""
    counts = (~np.isnan(past)).sum(axis=1)
    if not past.size:
        empty = np.full(past.shape[0], np.nan)
        return empty, empty.copy(), counts
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN rows: NaN, said by counts
        median = np.nanmedian(past, axis=1)
        mad = np.nanmedian(np.abs(past - median[:, None]), axis=1)
    return median, mad, counts


def robust_scores(
    observed: FloatArray, median: FloatArray, mad: FloatArray, floor: FloatArray, *, min_spread: float
) -> tuple[FloatArray, FloatArray]:
    """(score, spread) per series: `(observed - median) / spread`, the spread being the largest of
    1.4826 x MAD, `min_spread` x |median| and the signal's `floor`."""
    spread = np.maximum(np.maximum(MAD_SCALE * mad, min_spread * np.abs(median)), floor)
    with np.errstate(divide="ignore", invalid="ignore"):
        scores = (observed - median) / spread
    return np.where(spread > 0, scores, np.nan), spread


class SeasonalDetector:
    """Observes every signal once per evaluation (`observe`), keeps its history, and finds the anomalies.

    Not thread-safe: one evaluation at a time (the daemon's evaluator calls it from one worker thread).
    """

    def __init__(self, params: AnomalyParams, history: History) -> None:
        self.params = params
        self.history = history
        self.dropped = 0  # new series not admitted: `max_series` have a history already
        self.scores: dict[SeriesKey, Score] = {}  # the latest evaluation's, for /metrics
        self._ids = history.series(params.max_series)
        self._slot: int | None = None
        self._baseline: dict[int, tuple[float, float, int]] = {}  # series id -> median, MAD, count (this slot)
        self._since: dict[SeriesKey, float] = {}
        self._pending: dict[int, tuple[float, int]] = {}  # series id -> sum, count of this slot, not yet written
        self._last = 0.0

    def flush(self) -> None:
        """Write the current slot's values so far (the daemon's checkpoint; a new slot does it too)."""
        if self._pending and self._slot is not None:
            values = [(series, total / count, count) for series, (total, count) in self._pending.items()]
            self.history.record(self._slot, values, self._last)
        self._pending = {}

    def observe(self, values: Mapping[SeriesKey, float], now: float) -> list[AnomalyFinding]:
        """Record this evaluation's values (NaN and infinities are left out) and judge them; the findings."""
        p = self.params
        slot = math.floor(now / p.resolution)
        if slot != self._slot:
            self.flush()
            self._new_slot(slot, now)
        observed = {k: float(v) for k, v in values.items() if math.isfinite(v)}
        for key, series in self._ids.items():  # a counted series with traffic at this time before: 0 now
            if key[0] in ZERO_WHEN_ABSENT and key not in observed:
                past = self._baseline.get(series)
                if past is not None and past[0] > 0:
                    observed[key] = 0.0
        self._admit([k for k in observed if k not in self._ids], now)
        tracked = [k for k in observed if k in self._ids]
        pending = self._pending
        for key in tracked:
            total, count = pending.get(self._ids[key], (0.0, 0))
            pending[self._ids[key]] = (total + observed[key], count + 1)
        self._last = now
        return self._judge(tracked, observed, now)

    def _admit(self, new: list[SeriesKey], now: float) -> None:
        room = max(self.params.max_series - len(self._ids), 0)
        if len(new) > room:
            self.dropped += len(new) - room
        if room and new:
            self._ids.update(self.history.add_series(new[:room], now))

    def _new_slot(self, slot: int, now: float) -> None:
        p = self.params
        horizon = p.seasons * p.season_slots
        for gone in set(self.history.prune(slot - horizon, now - p.seasons * p.season)):
            self._ids = {k: v for k, v in self._ids.items() if v != gone}
        past = [slot - i * p.season_slots for i in range(1, p.seasons + 1)]
        column = {s: i for i, s in enumerate(past)}
        ids = sorted(set(self._ids.values()))
        row = {series: i for i, series in enumerate(ids)}
        matrix = np.full((len(ids), len(past)), np.nan)
        for series, at, value in self.history.load(past):
            if series in row:
                matrix[row[series], column[at]] = value
        median, mad, counts = robust_baseline(matrix)
        self._baseline = {
            series: (m, d, c)
            for series, m, d, c in zip(ids, median.tolist(), mad.tolist(), counts.tolist(), strict=True)
        }
        self._slot = slot

    def _judge(self, keys: list[SeriesKey], observed: Mapping[SeriesKey, float], now: float) -> list[AnomalyFinding]:
        p = self.params
        judged = [k for k in keys if self._baseline.get(self._ids[k], (0.0, 0.0, 0))[2] >= p.min_seasons]
        past = [self._baseline[self._ids[k]] for k in judged]
        median = np.array([b[0] for b in past])
        mad = np.array([b[1] for b in past])
        floor = np.array([FLOORS.get(k[0], 0.0) for k in judged])
        values = np.array([observed[k] for k in judged])
        scores, spread = robust_scores(values, median, mad, floor, min_spread=p.min_spread)
        self.scores = {
            k: Score(o, m, s, z, b[2])
            for k, o, m, s, z, b in zip(
                judged, values.tolist(), median.tolist(), spread.tolist(), scores.tolist(), past, strict=True
            )
        }
        beyond = {k for k, s in self.scores.items() if abs(s.score) >= p.sensitivity}
        self._since = {k: self._since.get(k, now) for k in beyond}
        return [self._finding(k, self.scores[k], since) for k, since in self._since.items() if now - since >= p.for_]

    def _finding(self, key: SeriesKey, score: Score, since: float) -> AnomalyFinding:
        signal, labels = key
        return AnomalyFinding(
            severity=Severity.WARNING,
            value=score.score,
            threshold=self.params.sensitivity,
            labels=dict(labels),
            signal=signal,
            observed=score.observed,
            baseline=score.baseline,
            spread=score.spread,
            seasons=score.seasons,
            since=since,
            where=WHERE.get(signal, ""),
        )

    def series_count(self) -> int:
        return len(self._ids)
