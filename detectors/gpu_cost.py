"""Energy and cost per inference, per model, from `core.gpu.GpuSample`s and request counts.

`InferenceCost` accumulates each model's attributed GPU energy and GPU-seconds poll by poll;
`RequestCounter` counts each model's requests; `InferenceCost.evaluate` divides the one by the
other over the 1 m and 1 h windows (pure helpers `energy_per_inference`, `cost_per_inference`,
`memory_shares`):

    energy per inference [J] = Σ_gpu ΔE_gpu × share_gpu / requests
    cost per inference [$]   = Σ_gpu Δt × share_gpu × cost_per_hour / 3600 / requests
                             = window seconds × GPUs used × cost_per_hour / 3600 / requests

ΔE_gpu is the GPU's TOTAL_ENERGY_CONSUMPTION increase over the window (mJ / 1000; a counter reset,
e.g. a driver reload, counts from 0); share_gpu is the model's share of the GPU memory of the
models on that GPU at each poll (1 when one model has the GPU; "GPUs used" is the sum of the
shares); requests are the model's requests in the same window (traces or prediction records).
"""

from __future__ import annotations

import bisect
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence

import numpy as np

from driftwarden.core.gpu import TOTAL_ENERGY_CONSUMPTION, GpuSample, InferenceFigure, gpu_key
from driftwarden.detectors.label_sets import FOLDED

__all__ = [
    "WINDOWS",
    "InferenceCost",
    "RequestCounter",
    "cost_per_inference",
    "energy_per_inference",
    "memory_shares",
]

WINDOWS = {"1m": 60.0, "1h": 3600.0}


def memory_shares(bytes_by_model: Mapping[str, int]) -> dict[str, float]:
    """Each model's share of the GPU memory the models on one GPU use (one model: 1.0).

    >>> memory_shares({"fraud": 30 * 2**30, "rank": 10 * 2**30})
    {'fraud': 0.75, 'rank': 0.25}
    """
    total = sum(v for v in bytes_by_model.values() if v > 0)
    if total <= 0:
        return {}
    return {model: used / total for model, used in bytes_by_model.items() if used > 0}


def energy_per_inference(energy_joules: float, requests: int) -> float | None:
    """Joules per request: the (attributed) GPU energy over a window / the requests in it.

    A GPU at 300 W for one minute serving 1,200 requests (ΔE = 18,000,000 mJ):

    >>> energy_per_inference(18_000_000 / 1000, 1200)
    15.0
    """
    return energy_joules / requests if requests > 0 else None


def cost_per_inference(gpu_seconds: float, cost_per_hour: float | None, requests: int) -> float | None:
    """Dollars per request: window seconds × GPUs used × cost_per_hour / 3600 / requests.

    One minute of one $2.50/h GPU for 1,200 requests:

    >>> round(cost_per_inference(60 * 1.0, 2.5, 1200), 10)
    3.47222e-05
    """
    if cost_per_hour is None or requests <= 0:
        return None
    return gpu_seconds * cost_per_hour / 3600.0 / requests


# --- requests per model ------------------------------------------------------------------------


class RequestCounter:
    """Requests per model in one-second slots over the last `horizon` seconds (default 1 h).

    Feed it from traces or prediction records (`add`), read counts per window (`counts`).
    At most `max_models` models; later ones are counted under "other".

    >>> counter = RequestCounter(clock=lambda: 1000.0)
    >>> counter.add("fraud", 30, at=950.0); counter.add("fraud", 5, at=999.5); counter.add("rank", 2, at=500.0)
    >>> counter.counts(60.0), counter.counts(3600.0)
    ({'fraud': 35, 'rank': 0}, {'fraud': 35, 'rank': 2})
    """

    def __init__(self, horizon: float = 3600.0, *, clock: Callable[[], float] = time.time, max_models: int = 100):
        self.horizon = horizon
        self.max_models = max_models
        self._clock = clock
        self._slots = int(horizon) + 1
        self._counts: dict[str, np.ndarray] = {}
        self._seconds: dict[str, np.ndarray] = {}
        self._lock = threading.Lock()

    def add(self, model: str, count: int = 1, at: float | None = None) -> None:
        second = int(self._clock() if at is None else at)
        with self._lock:
            if model not in self._counts:
                if len(self._counts) >= self.max_models:
                    model = FOLDED
                if model not in self._counts:
                    self._counts[model] = np.zeros(self._slots, dtype=np.int64)
                    self._seconds[model] = np.full(self._slots, -1, dtype=np.int64)
            slot = second % self._slots
            if self._seconds[model][slot] != second:
                self._seconds[model][slot] = second
                self._counts[model][slot] = 0
            self._counts[model][slot] += count

    def counts(self, window: float, now: float | None = None) -> dict[str, int]:
        """model -> requests in the last `window` seconds (whole seconds, the current one included)."""
        now_second = int(self._clock() if now is None else now)
        seconds = np.arange(now_second - min(int(window), self._slots) + 1, now_second + 1)
        slots = seconds % self._slots
        with self._lock:
            return {
                model: int(counts[slots][self._seconds[model][slots] == seconds].sum())
                for model, counts in self._counts.items()
            }

    def count(self, window: float, now: float | None = None) -> int:
        """All models' requests in the last `window` seconds (e.g. the poll interval, for `GpuHealth`)."""
        return sum(self.counts(window, now).values())

    def windows(self, windows: Mapping[str, float] = WINDOWS, now: float | None = None) -> dict[str, dict[str, int]]:
        """window name -> model -> requests, for `InferenceCost.evaluate`."""
        now = self._clock() if now is None else now
        return {name: self.counts(seconds, now) for name, seconds in windows.items()}


# --- cost per inference -----------------------------------------------------------------------


class InferenceCost:
    """Accumulates each model's attributed GPU energy and GPU-seconds poll by poll, and divides
    them by the requests of a window. See the module docstring for the formula.

    Two polls a minute apart of one GPU held wholly by "fraud", drawing 300 W:

    >>> from driftwarden.core.gpu import GpuSample
    >>> cost = InferenceCost(cost_per_hour=2.5, fallback_model="fraud")
    >>> def energy(at, mj):
    ...     return GpuSample(0, "GPU-a", "", "H100", "nvidia0", at, {"DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION": mj})
    >>> cost.update([energy(0.0, 1_000_000.0)], {}); cost.update([energy(60.0, 19_000_000.0)], {})
    >>> [(f.window, f.energy_joules, round(f.cost_dollars, 8)) for f in cost.evaluate({"1m": {"fraud": 1200}})]
    [('1m', 15.0, 3.472e-05)]
    """

    def __init__(
        self,
        cost_per_hour: float | None,
        *,
        windows: Mapping[str, float] = WINDOWS,
        fallback_model: str | None = None,
    ) -> None:
        self.cost_per_hour = cost_per_hour
        self.windows = dict(windows)
        self.fallback_model = fallback_model
        self._horizon = max(self.windows.values())
        self._last: dict[str, tuple[float, float | None]] = {}  # gpu -> (time, energy mJ)
        self._energy: dict[str, float] = {}  # model -> cumulative attributed J
        self._gpu_seconds: dict[str, float] = {}  # model -> cumulative attributed GPU-seconds
        self._has_energy: dict[str, bool] = {}
        self._history: dict[str, deque[tuple[float, float, float]]] = {}  # model -> (t, J, GPU-s)
        self._now: float | None = None
        self.latest: list[InferenceFigure] = []

    def update(self, samples: Sequence[GpuSample], memory_by_gpu: Mapping[str, Mapping[str, int]]) -> None:
        """Account one poll: `memory_by_gpu` is `NvmlPoller.model_memory_by_gpu()` (gpu -> model -> bytes).
        A GPU none of whose processes match a model goes wholly to `fallback_model` (when set)."""
        now = None
        for s in samples:
            if s.lost:
                continue
            key = gpu_key(s)
            energy = s.fields.get(TOTAL_ENERGY_CONSUMPTION)
            previous = self._last.get(key)
            self._last[key] = (s.at, energy)
            now = s.at if now is None else max(now, s.at)
            if previous is None or s.at <= previous[0]:
                continue
            shares = memory_shares(memory_by_gpu.get(key, {}))
            if not shares and self.fallback_model is not None:
                shares = {self.fallback_model: 1.0}
            dt = s.at - previous[0]
            delta_j = None
            if energy is not None and previous[1] is not None:
                delta_mj = energy - previous[1]
                delta_j = (energy if delta_mj < 0 else delta_mj) / 1000.0  # a reset counts from 0
            for model, share in shares.items():
                if model not in self._history:  # starts from zero at the previous poll
                    self._history[model] = deque([(previous[0], 0.0, 0.0)])
                self._gpu_seconds[model] = self._gpu_seconds.get(model, 0.0) + dt * share
                if delta_j is not None:
                    self._energy[model] = self._energy.get(model, 0.0) + delta_j * share
                    self._has_energy[model] = True
        if now is None:
            return
        self._now = now
        for model in self._gpu_seconds:
            history = self._history[model]
            history.append((now, self._energy.get(model, 0.0), self._gpu_seconds[model]))
            while len(history) > 2 and history[1][0] <= now - self._horizon:
                history.popleft()

    def evaluate(self, requests: Mapping[str, Mapping[str, int]], now: float | None = None) -> list[InferenceFigure]:
        """Figures per model and window for `requests` (window name -> model -> requests in it,
        e.g. `RequestCounter.windows()`); models without requests or GPU time are left out.
        The result is also kept in `latest` for the scrape."""
        now = self._now if now is None else now
        figures = []
        if now is not None:
            for window, seconds in self.windows.items():
                for model, n in sorted(requests.get(window, {}).items()):
                    figure = self._figure(model, window, seconds, n, now)
                    if figure is not None:
                        figures.append(figure)
        self.latest = figures
        return figures

    def _figure(self, model: str, window: str, seconds: float, requests: int, now: float) -> InferenceFigure | None:
        history = self._history.get(model)
        if requests <= 0 or not history:
            return None
        times = [t for t, _, _ in history]
        if times[0] > now:
            return None
        end = history[bisect.bisect_right(times, now) - 1]
        start = _at(history, times, now - seconds)
        if end[0] <= start[0]:
            return None
        span = end[0] - start[0]
        energy = end[1] - start[1]
        gpu_seconds = end[2] - start[2]
        return InferenceFigure(
            model=model,
            window=window,
            seconds=span,
            requests=requests,
            gpus=gpu_seconds / span,
            energy_joules=energy_per_inference(energy, requests) if self._has_energy.get(model) else None,
            cost_dollars=cost_per_inference(gpu_seconds, self.cost_per_hour, requests),
        )


def _at(history: Sequence[tuple[float, float, float]], times: Sequence[float], t: float) -> tuple[float, float, float]:
    """The cumulative (t, J, GPU-s) at time `t`, interpolated between polls; the first point when
    the history starts later."""
    i = bisect.bisect_right(times, t) - 1
    if i < 0:
        return history[0]
    if i + 1 >= len(history) or times[i] == t:
        return history[i]
    (t0, e0, g0), (t1, e1, g1) = history[i], history[i + 1]
    w = (t - t0) / (t1 - t0)
    return t, e0 + w * (e1 - e0), g0 + w * (g1 - g0)
