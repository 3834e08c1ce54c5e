"""Realized vs estimated quality over time as one SVG: the estimate's band shaded, the estimate and the
realized quality as lines, the reference's value and the alert's line dashed. No script, inline styles."""

from __future__ import annotations

import math
import time
from collections.abc import Sequence

from driftwarden.rendering.svg import esc

__all__ = ["QualitySample", "quality_chart"]

# (evaluated at, estimated (value, lower, upper) or None, realized or None)
QualitySample = tuple[float, tuple[float, float, float] | None, float | None]

_ESTIMATE = "#1a5fb4"
_REALIZED = "#26a269"
_LINE = "#c01c28"


def quality_chart(
    samples: Sequence[QualitySample],
    *,
    metric: str,
    reference: float | None,
    threshold: float | None,
    label: str,
    width: int = 940,
    height: int = 160,
) -> str:
    """`samples` oldest first; the y axis spans what is drawn (with a little room)."""
    left, right, top, bottom = 44, 8, 8, 18
    plot_w, plot_h = width - left - right, height - top - bottom
    open_tag = (
        f'<svg class="chart quality" id="quality-chart" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} '
        f'{height}" width="{width}" height="{height}" role="img" aria-label="{esc(label)}" data-metric="{esc(metric)}">'
    )
    points = [(t, e, r) for t, e, r in samples if math.isfinite(t)]
    drawn = [v for _, e, r in points for v in ([*e] if e else []) + ([r] if r is not None else []) if math.isfinite(v)]
    drawn += [v for v in (reference, threshold) if v is not None and math.isfinite(v)]
    if not points or not drawn:
        return (
            f'{open_tag}<text class="empty" x="{width / 2:.0f}" y="{height / 2 + 4:.0f}" text-anchor="middle">'
            "no estimate yet: it needs a reference with the model's outputs and labels, and current rows</text></svg>"
        )
    low, high = min(drawn), max(drawn)
    pad = max(1e-6, (high - low) * 0.1)
    low, high = low - pad, high + pad
    t0, t1 = points[0][0], points[-1][0]

    def x(t: float) -> float:
        return left + (plot_w * (t - t0) / (t1 - t0) if t1 > t0 else plot_w)

    def y(v: float) -> float:
        return top + plot_h * (1 - (v - low) / (high - low))

    parts = [open_tag]
    for value in (low + pad, high - pad):
        parts.append(
            f'<line class="grid" x1="{left}" x2="{width - right}" y1="{y(value):.1f}" y2="{y(value):.1f}"/>'
            f'<text class="axis" x="{left - 4}" y="{y(value) + 3.5:.1f}" text-anchor="end">{value:.3g}</text>'
        )
    estimates = [(t, e) for t, e, _ in points if e is not None and all(math.isfinite(v) for v in e)]
    if estimates:
        upper = [f"{x(t):.1f},{y(e[2]):.1f}" for t, e in estimates]
        lower = [f"{x(t):.1f},{y(e[1]):.1f}" for t, e in reversed(estimates)]
        parts.append(
            f'<polygon class="band" points="{" ".join(upper + lower)}" fill="{_ESTIMATE}" fill-opacity="0.15" '
            'stroke="none"><title>estimate band (±3 sampling errors)</title></polygon>'
        )
        line = " ".join(f"{x(t):.1f},{y(e[0]):.1f}" for t, e in estimates)
        parts.append(
            f'<polyline class="estimated" points="{line}" fill="none" stroke="{_ESTIMATE}" stroke-width="1.6">'
            f"<title>estimated {esc(metric)}</title></polyline>"
        )
    realized = [(t, r) for t, _, r in points if r is not None and math.isfinite(r)]
    if realized:
        line = " ".join(f"{x(t):.1f},{y(r):.1f}" for t, r in realized)
        parts.append(
            f'<polyline class="realized" points="{line}" fill="none" stroke="{_REALIZED}" stroke-width="1.6">'
            f"<title>realized {esc(metric)} (joined labels)</title></polyline>"
        )
    lines: list[tuple[float | None, str, str]] = [
        (reference, "reference", "reference"),
        (threshold, "threshold", "alert line"),
    ]
    for level, css, what in lines:
        if level is not None and math.isfinite(level):
            dash = "2 3" if css == "reference" else "4 3"
            parts.append(
                f'<line class="{css}" x1="{left}" x2="{width - right}" y1="{y(level):.1f}" y2="{y(level):.1f}" '
                f'stroke="{_LINE if css == "threshold" else "#77767b"}" stroke-dasharray="{dash}">'
                f"<title>{what} {level:.3g}</title></line>"
            )
    parts.append(
        f'<text class="axis" x="{left}" y="{height - 3}">{esc(_clock(t0))}</text>'
        f'<text class="axis" x="{width - right}" y="{height - 3}" text-anchor="end">{esc(_clock(t1))}</text></svg>'
    )
    return "".join(parts)


def _clock(t: float) -> str:
    return time.strftime("%H:%M:%S", time.gmtime(t))
