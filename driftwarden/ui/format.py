"""Values and verdicts as the UI's pages show them: numbers, times, and the verdict badges.

Shared by the overview and the model page; every function returns markup (escaped where a
value could carry any text).
"""

from __future__ import annotations

import math
import time

from driftwarden.detectors.drift import FeatureDrift

__all__ = ["ago", "finite_psi", "flag", "integer", "maybe", "stable_badge", "utc", "verdict_badges", "when"]


def verdict_badges(f: FeatureDrift) -> str:
    """A "drifted" badge for this evaluation's verdict, "stable drift" for the verdict after hysteresis."""
    out = []
    if f.drifted:
        out.append('<span class="badge drift" data-verdict="now" title="this evaluation\'s verdict">drifted</span>')
    if f.stable:
        out.append(stable_badge(True))
    return " ".join(out)


def stable_badge(stable: bool, *, model: bool = False) -> str:
    if not stable:
        return '<span class="badge ok" data-verdict="stable">no drift</span>'
    title = "drifted for alerting.for evaluations; held until the effect falls below 80% of its threshold"
    text = "DRIFT" if model else "stable drift"
    return f'<span class="badge stable" data-verdict="stable" title="{title}">{text}</span>'


def finite_psi(f: FeatureDrift) -> float:
    value = f.scores.get("psi", 0.0)
    return value if math.isfinite(value) else 0.0


def maybe(value: object, fmt: str, missing: str = "—") -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return missing
    return fmt.format(value)


def integer(value: object) -> str:
    return "—" if value is None else f"{int(value):,}"  # type: ignore[call-overload]


def flag(value: bool) -> str:
    return "true" if value else "false"


def utc(t: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(t))


def when(t: float | None, now: float) -> str:
    if t is None:
        return "—"
    return f'<span title="{utc(t)}">{ago(now - t)}</span>'


def ago(seconds: float) -> str:
    """
    >>> [ago(s) for s in (-3, 4, 95, 7300, 200000)]
    ['just now', '4 s ago', '1 min ago', '2 h ago', '2 d ago']
    """
    if seconds < 1:
        return "just now"
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{int(seconds // size)} {unit} ago"
    return f"{int(seconds)} s ago"
