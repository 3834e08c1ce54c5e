"""Stable verdicts: drift must persist to count, and clears only well below its threshold.

A raw verdict flickers when a score sits near its threshold. The stable verdict of a
feature turns on after `hold` consecutive raw drifted evaluations and turns off only
when its effect (largest score / threshold) falls below `clear_ratio` (80 %) — the
hysteresis band of a thermostat. The model's stable verdict applies the model rule
(drift share, critical features) to the stable feature verdicts.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypedDict

if TYPE_CHECKING:
    from driftwarden.detectors.reasons import Reason
    from driftwarden.detectors.report import DriftReport

__all__ = ["StabilityState", "VerdictStability"]


class StabilityState(TypedDict):
    """The checkpoint form of `VerdictStability`."""

    streak: dict[str, int]  # feature -> consecutive raw drifted evaluations
    on: list[str]  # features whose stable verdict is on


class VerdictStability:
    """Per feature: consecutive raw drifted evaluations and whether the stable verdict is on.

    >>> from driftwarden.detectors.report import DriftReport, FeatureDrift

    >>> from driftwarden.params import DriftThresholds
    >>> def report(effect):
    ...     f = FeatureDrift("x", effect >= 1, {}, {"psi": effect / 5}, {}, {}, {}, effect=effect)
    ...     return DriftReport("m", effect >= 1, 1.0, {"reference": 1, "current": 1}, (f,), DriftThresholds())
    >>> s = VerdictStability(hold=2)
    >>> [s.apply(report(e)).features[0].stable for e in (1.2, 1.1, 0.9, 0.85, 0.7, 1.3)]
    [False, True, True, True, False, False]
    """

    def __init__(self, hold: int = 2, clear_ratio: float = 0.8) -> None:
        if hold < 1:
            raise ValueError("hold must be at least 1 evaluation")
        self.hold = hold
        self.clear_ratio = clear_ratio
        self._streak: dict[str, int] = {}
        self._on: set[str] = set()
        self._last_reasons: dict[str, tuple[Reason, ...]] = {}  # kept in memory only: a held verdict's why

    def apply(self, report: DriftReport) -> DriftReport:
        """`report` with each feature's and the model's stable verdict filled in."""
        features = []
        for f in report.features:
            streak = self._streak.get(f.name, 0) + 1 if f.drifted else 0
            self._streak[f.name] = streak
            if streak >= self.hold:
                self._on.add(f.name)
            elif f.name in self._on and not (math.isfinite(f.effect) and f.effect >= self.clear_ratio):
                self._on.discard(f.name)
            on = f.name in self._on
            if f.drifted and f.reasons:
                self._last_reasons[f.name] = f.reasons
            elif not on:
                self._last_reasons.pop(f.name, None)
            held = self._last_reasons.get(f.name, ()) if on and not f.drifted else ()
            same = on == f.stable and held == f.held_reasons  # most features: nothing to replace
            features.append(f if same else dataclasses.replace(f, stable=on, held_reasons=held))
        inputs = [f for f in features if f.role == "feature" and (f.scores or f.drifted)]
        share = sum(f.stable for f in inputs) / len(inputs) if inputs else 0.0
        critical = any(f.stable and f.name in report.critical_features for f in features)
        stable = bool(inputs) and (share >= report.thresholds.share or critical)
        return dataclasses.replace(report, features=tuple(features), stable=stable)

    def to_dict(self) -> StabilityState:
        """Checkpoint form: streaks and the features whose stable verdict is on."""
        return {"streak": dict(self._streak), "on": sorted(self._on)}

    def restore(self, saved: Mapping[str, Any]) -> None:
        """Read back `to_dict()` after its JSON round trip; missing keys start empty."""
        self._streak = {name: int(n) for name, n in saved.get("streak", {}).items()}
        self._on = set(saved.get("on", []))

    def reset(self) -> None:
        """Forget every streak (a new reference starts over)."""
        self._streak.clear()
        self._on.clear()
        self._last_reasons.clear()
