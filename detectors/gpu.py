"""GPU health findings from `core.gpu.GpuSample`s: XIDs, a lost GPU, memory pressure, throttling,
a hung GPU, ECC errors and row remapping.

`GpuHealth` gives findings of kind `gpu`, `gpu=` the GPU's UUID (its index when NVML gave
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
hung                engine activity under 1 % for `hung_after` (1 m) while      page
                    requests flow and the GPU (or MIG instance) runs compute
                    processes
ecc                 uncorrectable (double-bit) volatile ECC errors > 0          page
remapped_rows       row remapping failed (page), or new uncorrectable remapped  page / warning
                    rows in the last `event_hold`
==================  ==========================================================  ==================

A GPU's engine activity is `DCGM_FI_PROF_GR_ENGINE_ACTIVE` where NVML's GPU Performance
Monitoring measures it (Hopper and later), else `DCGM_FI_DEV_GPU_UTIL`. NVML gives no
`GPU_UTIL` for a GPU in MIG mode, so such a GPU is judged per MIG instance, each on its own
`PROF_GR_ENGINE_ACTIVE` and processes; its `hung` finding carries `GPU_I_ID` and
`GPU_I_PROFILE`. A MIG GPU without GPM (an A100) has no activity reading: never `hung`.

The clocks-event bits are NVML's `nvmlClocksEventReason*` values (tests check them against pynvml).
Energy and cost per inference are `detectors.gpu_cost`'s.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from driftwarden.core.gpu import (
    CRITICAL_XIDS,
    ECC_DBE_VOL_TOTAL,
    ECC_SBE_VOL_TOTAL,
    FB_FREE,
    FB_TOTAL,
    FB_USED,
    GPU_UTIL,
    PROF_GR_ENGINE_ACTIVE,
    ROW_REMAP_FAILURE,
    UNCORRECTABLE_REMAPPED_ROWS,
    GpuSample,
    gpu_key,
)
from driftwarden.detectors.findings import Finding, GpuCondition, GpuHealthFinding, Severity

__all__ = [
    "CLOCKS_EVENT_REASONS",
    "GpuHealth",
    "engine_activity",
    "framebuffer_ratio",
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
# Engine activity under this share is "none": GPU_UTIL is a whole percentage, so 0 means under 1 %.
IDLE_BELOW = 0.01


# --- pure helpers ----------------------------------------------------------------------------------


def xid_severity(xid: int) -> Severity:
    """PAGE for the XIDs in `core.gpu.CRITICAL_XIDS`, WARNING for the rest.

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


def engine_activity(fields: Mapping[str, float]) -> float | None:
    """How busy the graphics/compute engine was, 0..1: `PROF_GR_ENGINE_ACTIVE` where GPM measured it,
    else `GPU_UTIL` / 100; None when neither was read (a MIG GPU without GPM).

    >>> engine_activity({"DCGM_FI_PROF_GR_ENGINE_ACTIVE": 0.0, "DCGM_FI_DEV_GPU_UTIL": 87.0})
    0.0
    >>> engine_activity({"DCGM_FI_DEV_GPU_UTIL": 87.0}), engine_activity({})
    (0.87, None)
    """
    active = fields.get(PROF_GR_ENGINE_ACTIVE)
    if active is not None:
        return active
    util = fields.get(GPU_UTIL)
    return None if util is None else util / 100.0


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


def _stuck(
    since: float | None,
    fields: Mapping[str, float],
    processes: Sequence[tuple[int, int]],
    requests: int | None,
    at: float,
) -> float | None:
    """When a GPU or MIG instance became stuck (no engine activity while requests flow and compute
    processes run on it), carried over from `since`; None when it is not stuck now."""
    activity = engine_activity(fields)
    if activity is not None and activity < IDLE_BELOW and requests and processes:
        return at if since is None else since
    return None


# --- health ----------------------------------------------------------------------------------------


@dataclass
class _GpuState:
    sample: GpuSample
    fb_since: float | None = None  # when the framebuffer went above the threshold
    stuck_since: float | None = None  # when engine activity went to none while requests flowed
    instances_stuck: dict[int, float] = field(default_factory=dict)  # MIG instance id -> stuck since
    remap_baseline: float | None = None
    remap_new_at: float | None = None


class GpuHealth:
    """Turns GPU samples into health findings; call `update()` after each poll, `evaluate()` when findings are wanted.

    Durations run on the samples' clock (`GpuSample.at`). A GPU whose framebuffer stays above
    95 % is flagged once five minutes have passed:

    >>> from driftwarden.core.gpu import GpuSample
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
            if s.instances:  # MIG: each instance on its own activity and processes
                state.stuck_since = None
                before = state.instances_stuck
                state.instances_stuck = {
                    i.instance_id: since
                    for i in s.instances
                    if (since := _stuck(before.get(i.instance_id), i.fields, i.processes, requests, s.at)) is not None
                }
            else:
                state.stuck_since = _stuck(state.stuck_since, s.fields, s.processes, requests, s.at)
                state.instances_stuck = {}
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
            evidence: dict[str, Any] = {"above_since": state.fb_since, "fb_used_mib": s.fields.get(FB_USED)}
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
        for instance in s.instances:
            since = state.instances_stuck.get(instance.instance_id)
            if since is not None and s.at - since >= self.hung_after:
                evidence = {"stuck_since": since, "processes": [pid for pid, _ in instance.processes]}
                mig = {"GPU_I_ID": str(instance.instance_id), "GPU_I_PROFILE": instance.profile}
                yield self._finding(key, "hung", Severity.PAGE, s.at - since, self.hung_after, now, evidence, **mig)
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
        evidence: dict[str, Any],
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
