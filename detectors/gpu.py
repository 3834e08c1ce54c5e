"""GPU health findings and cost per inference, from `collector.gpu.GpuSample`s.

Health (`GpuHealth`): findings of kind `gpu`, `gpu=` the GPU's UUID (its index when NVML gave
none), one per condition:

==================  ==========================================================  ==================
subject             condition                                                   severity
==================  ==========================================================  ==================
xid                 an XID event in the last `event_hold` (5 m)                 page for
                                                                                `CRITICAL_XIDS`,
                                                                                else warning
lost                NVML says the GPU is lost (fell off the bus)                page
framebuffer         memory used > `fb_threshold` (95 %) for `fb_for` (5 m)      warning
thermal_throttle    clocks held down by SW/HW thermal slowdown                  warning
power_throttle      clocks held down by the power cap (info) / HW power brake   info / warning
hw_slowdown         HW slowdown without a thermal or power-brake reason         warning
hung                utilization 0 for `hung_after` (1 m) while requests flow    page
                    and the GPU runs compute processes
ecc                 uncorrectable (double-bit) volatile ECC errors > 0          page
remapped_rows       row remapping failed (page), or new uncorrectable remapped  page / warning
                    rows in the last `event_hold`
==================  ==========================================================  ==================

The clocks-event bits are NVML's `nvmlClocksEventReason*` values (tests check them against pynvml).

Cost per inference (`InferenceCost`, pure helpers `energy_per_inference`, `cost_per_inference`,
`memory_shares`), per model over the 1 m and 1 h windows:

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
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from driftwarden.collector.gpu import (
    ECC_DBE_VOL_TOTAL,
    ECC_SBE_VOL_TOTAL,
    FB_FREE,
    FB_TOTAL,
    FB_USED,
    GPU_UTIL,
    ROW_REMAP_FAILURE,
    TOTAL_ENERGY_CONSUMPTION,
    UNCORRECTABLE_REMAPPED_ROWS,
    GpuSample,
    gpu_key,
)
from driftwarden.detectors.findings import Finding, GpuCondition, GpuHealthFinding, Severity

__all__ = [
    "CLOCKS_EVENT_REASONS",
    "CRITICAL_XIDS",
    "WINDOWS",
    "GpuHealth",
    "InferenceCost",
    "InferenceFigure",
    "RequestCounter",
    "cost_per_inference",
    "energy_per_inference",
    "framebuffer_ratio",
    "memory_shares",
    "throttle_reasons",
    "xid_severity",
]

# NVML clocks event (formerly "throttle") reasons, as in nvml.h / pynvml.
CLOCKS_EVENT_REASONS = {
    "nvmlClocksEventReasonGpuIdle": 0x0000000000000001,
    "nvmlClocksEventReasonApplicationsClocksSetting": 0x0000000000000002,
    "nvmlClocksEventReasonSwPowerCap": 0x0000000000000004,
    "nvmlClocksEventReasonHwSlowdown": 0x0000000000000008,
    "nvmlClocksEventReasonSyncBoost": 0x0000000000000010,
    "nvmlClocksEventReasonSwThermalSlowdown": 0x0000000000000020,
    "nvmlClocksEventReasonHwThermalSlowdown": 0x0000000000000040,
    "nvmlClocksEventReasonHwPowerBrakeSlowdown": 0x0000000000000080,
    "nvmlClocksEventReasonDisplayClockSetting": 0x0000000000000100,
}
SW_POWER_CAP = CLOCKS_EVENT_REASONS["nvmlClocksEventReasonSwPowerCap"]
HW_SLOWDOWN = CLOCKS_EVENT_REASONS["nvmlClocksEventReasonHwSlowdown"]
SW_THERMAL = CLOCKS_EVENT_REASONS["nvmlClocksEventReasonSwThermalSlowdown"]
HW_THERMAL = CLOCKS_EVENT_REASONS["nvmlClocksEventReasonHwThermalSlowdown"]
HW_POWER_BRAKE = CLOCKS_EVENT_REASONS["nvmlClocksEventReasonHwPowerBrakeSlowdown"]
THERMAL = SW_THERMAL | HW_THERMAL
POWER = SW_POWER_CAP | HW_POWER_BRAKE

# XIDs that page: hardware, ECC, bus, NVLink and firmware faults that need a GPU reset, a drain or
# an RMA (NVIDIA's XID catalog: immediate action RESET_GPU / RESTART_BM / CONTACT_SUPPORT).
# Everything else (13, 31, 43, 45, ... mostly application faults) is a warning.
CRITICAL_XIDS: Mapping[int, str] = {
    48: "double-bit ECC error",
    61: "internal micro-controller breakpoint/warning",
    62: "internal micro-controller halt",
    63: "ECC page retirement or row remapping recording event",
    64: "ECC page retirement or row remapper recording failure",
    74: "NVLink error",
    79: "GPU has fallen off the bus",
    92: "high single-bit ECC error rate",
    94: "contained ECC error",
    95: "uncontained ECC error",
    119: "GSP RPC timeout",
    120: "GSP error",
    121: "C2C link error",
    140: "unrecovered ECC error",
    154: "GPU recovery action changed (reset or reboot required)",
}

WINDOWS = {"1m": 60.0, "1h": 3600.0}


# --- pure helpers ----------------------------------------------------------------------------------


def xid_severity(xid: int) -> Severity:
    """PAGE for the XIDs in `CRITICAL_XIDS`, WARNING for the rest.

    >>> xid_severity(79).value, xid_severity(13).value
    ('page', 'warning')
    """
    return Severity.PAGE if xid in CRITICAL_XIDS else Severity.WARNING


def throttle_reasons(mask: int) -> list[str]:
    """The NVML reason names set in a clocks-event bitmask (idle and app clocks included).

    >>> throttle_reasons(0x4 | 0x40)
    ['SwPowerCap', 'HwThermalSlowdown']
    """
    return [name.removeprefix("nvmlClocksEventReason") for name, bit in CLOCKS_EVENT_REASONS.items() if mask & bit]


def framebuffer_ratio(fields: Mapping[str, float]) -> float | None:
    """Share of the framebuffer in use (reserved memory counts as used): 1 - free / total.

    >>> framebuffer_ratio({"DCGM_FI_DEV_FB_FREE": 2048.0, "DCGM_FI_DEV_FB_TOTAL": 81920.0})
    0.975
    """
    free = fields.get(FB_FREE)
    total = fields.get(FB_TOTAL)
    if total is None and free is not None and FB_USED in fields:
        total = fields[FB_USED] + free
    if free is None or not total:
        return None
    return 1.0 - free / total


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


# --- health ----------------------------------------------------------------------------------------


@dataclass
class _GpuState:
    sample: GpuSample
    fb_since: float | None = None  # when the framebuffer went above the threshold
    stuck_since: float | None = None  # when utilization went to 0 while requests flowed
    remap_baseline: float | None = None
    remap_new_at: float | None = None


class GpuHealth:
    """Turns GPU samples into health findings; call `update()` after each poll, `evaluate()` when findings are wanted.

    Durations run on the samples' clock (`GpuSample.at`). A GPU whose framebuffer stays above
    95 % is flagged once five minutes have passed:

    >>> from collector.gpu import GpuSample
    >>> health = GpuHealth()
    >>> def sample(at, free_mib):
    ...     fields = {"DCGM_FI_DEV_FB_FREE": free_mib, "DCGM_FI_DEV_FB_TOTAL": 81920.0, "DCGM_FI_DEV_GPU_UTIL": 90.0}
    ...     return GpuSample(0, "GPU-a", "00000000:18:00.0", "H100", "nvidia0", at, fields)
    >>> for t in range(0, 300, 5):
    ...     health.update([sample(1000.0 + t, 1024.0)])
    >>> health.evaluate()
    []
    >>> health.update([sample(1300.0, 1024.0)])
    >>> [(f.subject, f.severity.value, round(f.value, 3)) for f in health.evaluate()]
    [('framebuffer', 'warning', 0.988)]
    >>> health.update([sample(1305.0, 40000.0)])
    >>> health.evaluate()
    []
    """

    def __init__(
        self,
        *,
        fb_threshold: float = 0.95,
        fb_for: float = 300.0,
        hung_after: float = 60.0,
        event_hold: float = 300.0,
        critical_xids: Iterable[int] = CRITICAL_XIDS,
    ) -> None:
        self.fb_threshold = fb_threshold
        self.fb_for = fb_for
        self.hung_after = hung_after
        self.event_hold = event_hold
        self.critical_xids = frozenset(critical_xids)
        self._gpus: dict[str, _GpuState] = {}
        self._xids: dict[tuple[str, int], tuple[float, int]] = {}  # (gpu, xid) -> (last seen, count)
        self._now: float | None = None

    def update(self, samples: Sequence[GpuSample], requests: int | None = None) -> None:
        """Take one poll's samples; `requests` = requests served since the previous poll (None: unknown,
        which turns the hung-GPU check off)."""
        for s in samples:
            key = gpu_key(s)
            state = self._gpus.get(key)
            if state is None:
                state = self._gpus[key] = _GpuState(s)
            state.sample = s
            self._now = s.at if self._now is None else max(self._now, s.at)
            for xid in s.xids:
                _, count = self._xids.get((key, xid), (s.at, 0))
                self._xids[(key, xid)] = (s.at, count + 1)
            if s.lost:
                state.fb_since = state.stuck_since = None
                continue
            ratio = framebuffer_ratio(s.fields)
            if ratio is not None and ratio > self.fb_threshold:
                state.fb_since = s.at if state.fb_since is None else state.fb_since
            else:
                state.fb_since = None
            util = s.fields.get(GPU_UTIL)
            if util == 0 and requests and s.processes:
                state.stuck_since = s.at if state.stuck_since is None else state.stuck_since
            else:
                state.stuck_since = None
            remapped = s.fields.get(UNCORRECTABLE_REMAPPED_ROWS)
            if remapped is not None:
                if state.remap_baseline is not None and remapped > state.remap_baseline:
                    state.remap_new_at = s.at
                state.remap_baseline = remapped

    def evaluate(self, now: float | None = None) -> list[Finding]:
        """The findings that hold at `now` (default: the latest sample's time)."""
        now = (self._now if self._now is not None else time.time()) if now is None else now
        findings: list[Finding] = []
        for (key, xid), (seen, count) in sorted(self._xids.items()):
            if now - seen > self.event_hold:
                del self._xids[(key, xid)]  # held long enough: forget it (a repeat starts a new count)
                continue
            severity = Severity.PAGE if xid in self.critical_xids else Severity.WARNING
            evidence = {"count": count, "last_seen": seen, "description": CRITICAL_XIDS.get(xid, "")}
            findings.append(self._finding(key, "xid", severity, float(xid), 0.0, now, evidence, xid=str(xid)))
        for key, state in self._gpus.items():
            findings.extend(self._gpu_findings(key, state, now))
        return findings

    def _gpu_findings(self, key: str, state: _GpuState, now: float) -> Iterable[Finding]:
        s = state.sample
        if s.lost:
            yield self._finding(key, "lost", Severity.PAGE, 1.0, 0.0, now, {"since_poll_at": s.at})
            return
        if state.fb_since is not None and s.at - state.fb_since >= self.fb_for:
            ratio = framebuffer_ratio(s.fields) or 0.0
            evidence = {"above_since": state.fb_since, "fb_used_mib": s.fields.get(FB_USED)}
            yield self._finding(key, "framebuffer", Severity.WARNING, ratio, self.fb_threshold, now, evidence)
        mask = s.clocks_event_reasons or 0
        reasons = {"reasons": throttle_reasons(mask), "mask": mask}
        if mask & THERMAL:
            yield self._finding(key, "thermal_throttle", Severity.WARNING, float(mask & THERMAL), 0.0, now, reasons)
        if mask & POWER:
            severity = Severity.WARNING if mask & HW_POWER_BRAKE else Severity.INFO
            yield self._finding(key, "power_throttle", severity, float(mask & POWER), 0.0, now, reasons)
        if mask & HW_SLOWDOWN and not mask & (THERMAL | HW_POWER_BRAKE):
            yield self._finding(key, "hw_slowdown", Severity.WARNING, float(HW_SLOWDOWN), 0.0, now, reasons)
        if state.stuck_since is not None and s.at - state.stuck_since >= self.hung_after:
            evidence = {"stuck_since": state.stuck_since, "processes": [pid for pid, _ in s.processes]}
            yield self._finding(key, "hung", Severity.PAGE, s.at - state.stuck_since, self.hung_after, now, evidence)
        dbe = s.fields.get(ECC_DBE_VOL_TOTAL)
        if dbe:
            evidence = {"uncorrected_volatile": dbe, "corrected_volatile": s.fields.get(ECC_SBE_VOL_TOTAL)}
            yield self._finding(key, "ecc", Severity.PAGE, dbe, 0.0, now, evidence)
        remapped = s.fields.get(UNCORRECTABLE_REMAPPED_ROWS)
        if s.fields.get(ROW_REMAP_FAILURE):
            yield self._finding(key, "remapped_rows", Severity.PAGE, 1.0, 0.0, now, {"failure": True})
        elif state.remap_new_at is not None and now - state.remap_new_at <= self.event_hold:
            evidence = {"uncorrectable_remapped_rows": remapped, "new_at": state.remap_new_at}
            yield self._finding(key, "remapped_rows", Severity.WARNING, remapped or 0.0, 0.0, now, evidence)

    def _finding(
        self,
        key: str,
        subject: str,
        severity: Severity,
        value: float,
        threshold: float,
        now: float,
        evidence: dict,
        **labels: str,
    ) -> Finding:
        s = self._gpus[key].sample if key in self._gpus else None
        base = {"gpu": str(s.index), "UUID": s.uuid, "modelName": s.name} if s is not None else {}
        return GpuHealthFinding(
            gpu=key,
            condition=GpuCondition(subject),
            severity=severity,
            value=value,
            threshold=threshold,
            labels={**base, **labels},
            details=evidence,
            at=now,
        )


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
                    model = "other"
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


@dataclass(frozen=True)
class InferenceFigure:
    """One model's energy and cost per inference over one window (None: not computable)."""

    model: str
    window: str
    seconds: float  # the span covered (shorter than the window until that much history exists)
    requests: int
    gpus: float  # GPU-equivalents the model used over the span (sum of memory shares)
    energy_joules: float | None
    cost_dollars: float | None


class InferenceCost:
    """Accumulates each model's attributed GPU energy and GPU-seconds poll by poll, and divides
    them by the requests of a window. See the module docstring for the formula.

    Two polls a minute apart of one GPU held wholly by "fraud", drawing 300 W:

    >>> from collector.gpu import GpuSample
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
