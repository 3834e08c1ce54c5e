"""Latency and availability SLOs: good/bad event counts and multi-window multi-burn-rate alerts.

Events are counted in one-minute buckets over the SLO period (a ring of period/60 slots), so
any window's error ratio is a sum over slots. Burn rate = error ratio / error budget; the
tiers are the Google SRE workbook's (as Sloth generates them):

    page    14.4x over 1h and 5m      (2 % of a 30-day budget in an hour)
    page     6x   over 6h and 30m     (5 % in six hours)
    ticket   3x   over 1d and 2h      (10 % in a day)
    ticket   1x   over 3d and 6h      (10 % in three days)

No alert without evidence: a tier is judged only once the tracker has observed for the full
span of its short window (its long window then holds at least 1/12 of its span, the ratio of
every tier) and the short window holds `min_requests`. A fresh daemon that sees a burst of slow
requests in its first minute does not page. History runs from when the tracker began observing,
or from its oldest counted event when that is earlier; it is saved with the counts, so a restart
does not start it over. `alerts/slo_rules.py` writes the same logic as Prometheus rules.

Histogram points from OTLP metrics count too (`update_buckets`): a bucket is bad when its upper
bound passes the threshold, so the counts are exact when the threshold is one of the exporter's
bucket bounds, and count the bucket that straddles it as bad otherwise.
"""

from __future__ import annotations

import copy
import hashlib
import io
import math
import time
import zipfile
from collections.abc import Callable

import numpy as np

from driftwarden.detectors.findings import Severity, SLOBurnFinding
from driftwarden.params import SLOParams

__all__ = ["BURN_TIERS", "WINDOWS", "SLOTracker"]

WINDOWS = {"5m": 300, "30m": 1800, "1h": 3600, "2h": 7200, "6h": 21600, "1d": 86400, "3d": 259200}
BURN_TIERS = (  # severity, burn-rate factor, long window, short window
    (Severity.PAGE, 14.4, "1h", "5m"),
    (Severity.PAGE, 6.0, "6h", "30m"),
    (Severity.TICKET, 3.0, "1d", "2h"),
    (Severity.TICKET, 1.0, "3d", "6h"),
)
RESOLUTION = 60  # seconds per bucket


class SLOTracker:
    """Counts one SLO's good and bad requests and evaluates its burn rates.

    >>> slo = SLOParams(name="api", service="fraud", objective=0.99, threshold=0.25)
    >>> now = [7000.0]
    >>> tracker = SLOTracker(slo, clock=lambda: now[0])
    >>> names = {"service": np.array(["fraud"] * 1000)}
    >>> tracker.update(names, np.full(1000, 0.5), np.full(1000, 6990.0), np.zeros(1000, bool))
    >>> round(tracker.burn_rate("5m"), 1), tracker.evaluate()  # observed for no time yet: no evidence
    (100.0, [])
    >>> now[0] = 7300.0  # five minutes later, the short window holds its span
    >>> tracker.update(names, np.full(1000, 0.5), np.full(1000, 7290.0), np.zeros(1000, bool))
    >>> [f.severity.value for f in tracker.evaluate()]
    ['page']
    """

    def __init__(self, slo: SLOParams, *, clock: Callable[[], float] = time.time) -> None:
        self.slo = slo
        self._clock = clock
        self._slots = math.ceil(slo.period / RESOLUTION) + 1
        self._good = np.zeros(self._slots, dtype=np.int64)
        self._bad = np.zeros(self._slots, dtype=np.int64)
        self._minute = np.full(self._slots, -1, dtype=np.int64)  # which minute each slot holds
        self.total_good = 0  # since the SLO was defined, across restarts: the events counter
        self.total_bad = 0
        self.observed_since = clock()  # across restarts: restored with the counts
        self.revision = 0  # bumped by every change to the counts: a checkpoint saves the trackers it moved

    @property
    def fingerprint(self) -> str:
        """Changes when the definition changes, so that old counts are not carried over."""
        s = self.slo
        text = f"{s.service}|{s.model}|{s.operation}|{s.objective}|{s.threshold}|{s.period}"
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    def update(
        self, selectors: dict[str, np.ndarray], duration: np.ndarray, end_time: np.ndarray, error: np.ndarray
    ) -> None:
        """Count a batch of requests; `selectors` maps service/model/operation to per-request name arrays."""
        selected = np.ones(duration.size, dtype=bool)
        for label, wanted in (
            ("service", self.slo.service),
            ("model", self.slo.model),
            ("operation", self.slo.operation),
        ):
            if wanted is not None:
                selected &= selectors[label] == wanted
        if not selected.any():
            return
        bad = duration[selected] > self.slo.threshold if self.slo.threshold is not None else error[selected]
        self.record(end_time[selected], bad)

    def update_buckets(
        self,
        selectors: dict[str, np.ndarray],
        point: np.ndarray,
        upper: np.ndarray,
        weight: np.ndarray,
        end_time: np.ndarray,
        error: np.ndarray,
    ) -> None:
        """Count histogram points' bucket rows (`point` their point; `selectors`, `end_time` and `error`
        per point): `weight` events each, bad when `upper` passes the threshold (or the point is an error)."""
        selected = np.ones(end_time.size, dtype=bool)
        for label, wanted in (
            ("service", self.slo.service),
            ("model", self.slo.model),
            ("operation", self.slo.operation),
        ):
            if wanted is not None:
                selected &= selectors[label] == wanted
        rows = selected[point]
        if not rows.any():
            return
        of = point[rows]
        bad = upper[rows] > self.slo.threshold if self.slo.threshold is not None else error[of]
        self.record(end_time[of], bad, weight[rows])

    def record(self, at: np.ndarray, bad: np.ndarray, weight: np.ndarray | None = None) -> None:
        """Count events that happened at unix times `at` (clamped into the period), bad where `bad`;
        `weight` events each (None: one)."""
        now_minute = int(self._clock() // RESOLUTION)
        minute = np.clip((at // RESOLUTION).astype(np.int64), now_minute - self._slots + 1, now_minute)
        for m in np.unique(minute).tolist():
            slot = m % self._slots
            if self._minute[slot] != m:
                self._minute[slot], self._good[slot], self._bad[slot] = m, 0, 0
        slots = minute % self._slots
        events = np.ones(bad.size, dtype=np.int64) if weight is None else weight.astype(np.int64)
        np.add.at(self._bad, slots[bad], events[bad])
        np.add.at(self._good, slots[~bad], events[~bad])
        self.total_bad += int(events[bad].sum())
        self.total_good += int(events[~bad].sum())
        self.revision += 1

    def counts(self, seconds: float, now: float | None = None) -> tuple[int, int]:
        """(good, bad) over the last `seconds`."""
        now_minute = int((self._clock() if now is None else now) // RESOLUTION)
        minutes = np.arange(now_minute - math.ceil(seconds / RESOLUTION) + 1, now_minute + 1)
        slots = minutes % self._slots
        live = self._minute[slots] == minutes
        return int(self._good[slots][live].sum()), int(self._bad[slots][live].sum())

    def burn_rate(self, window: str, now: float | None = None) -> float:
        good, bad = self.counts(WINDOWS[window], now)
        total = good + bad
        return (bad / total) / self.slo.error_budget if total else 0.0

    def budget_remaining(self, now: float | None = None) -> float:
        """Share of the period's error budget left: 1 untouched, 0 exhausted (never below)."""
        good, bad = self.counts(self.slo.period, now)
        total = good + bad
        return max(0.0, 1.0 - (bad / total) / self.slo.error_budget) if total else 1.0

    def history(self, now: float | None = None) -> float:
        """Seconds of history: since the tracker began observing (restarts included) or since its oldest
        counted event, whichever is earlier (events sent late, with their own times, are history too)."""
        live = self._minute[self._minute >= 0]
        oldest = (float(live.min()) + 1) * RESOLUTION if live.size else self.observed_since  # its minute's end
        since = min(self.observed_since, oldest)
        return max(0.0, (self._clock() if now is None else now) - since)

    def evaluate(self, now: float | None = None) -> list[SLOBurnFinding]:
        """At most one finding: the most severe burning tier with its evidence (a page makes the ticket redundant)."""
        now = self._clock() if now is None else now
        history = self.history(now)
        for severity, factor, long, short in BURN_TIERS:
            if history < WINDOWS[short]:
                continue  # the short window has not held its span yet
            long_burn, short_burn = self.burn_rate(long, now), self.burn_rate(short, now)
            if long_burn <= factor or short_burn <= factor:
                continue
            short_requests = sum(self.counts(WINDOWS[short], now))
            if short_requests < self.slo.min_requests:
                continue
            return [
                SLOBurnFinding(
                    slo=self.slo.name,
                    severity=severity,
                    value=min(long_burn, short_burn),
                    threshold=factor,
                    labels={k: v for k, v in (("service", self.slo.service), ("model", self.slo.model)) if v},
                    long_window=long,
                    short_window=short,
                    long_burn_rate=long_burn,
                    short_burn_rate=short_burn,
                    requests_short_window=short_requests,
                    objective=self.slo.objective,
                    budget_remaining=self.budget_remaining(now),
                    at=now,
                )
            ]
        return []

    def copy(self) -> SLOTracker:
        """A tracker with this one's counts as they are now (copies: a worker thread encodes them while the
        loop goes on counting into the original)."""
        twin = copy.copy(self)
        twin._good, twin._bad, twin._minute = self._good.copy(), self._bad.copy(), self._minute.copy()
        return twin

    def to_bytes(self) -> bytes:
        buf = io.BytesIO()
        arrays = {
            "good": self._good,
            "bad": self._bad,
            "minute": self._minute,
            "totals": np.array([self.total_good, self.total_bad], dtype=np.int64),
            "observed_since": np.array([self.observed_since]),
        }
        # np.savez_compressed's format at zlib level 1: the counts are mostly zeros, which level 1 packs
        # as small as level 6 at a fraction of the CPU (one drift budget a model, saved every evaluation)
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
            for name, array in arrays.items():
                with archive.open(f"{name}.npy", "w") as member:
                    np.lib.format.write_array(member, array, allow_pickle=False)
        return buf.getvalue()

    def restore(self, blob: bytes) -> None:
        with np.load(io.BytesIO(blob)) as saved:
            if saved["good"].size != self._slots:
                return  # a different period: start afresh
            self._good, self._bad, self._minute = saved["good"], saved["bad"], saved["minute"]
            self.total_good, self.total_bad = (int(x) for x in saved["totals"])
            if "observed_since" in saved:  # counts saved before it reach back as far as their oldest minute
                self.observed_since = min(self.observed_since, float(saved["observed_since"][0]))
