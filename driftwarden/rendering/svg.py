"""Inline SVG charts built as strings: bin-share bars, category bars and score timelines.

The one chart library of driftwarden's HTML: the built-in UI's pages (`driftwarden.ui`) and the
one-file report of `driftwarden check --html` (`driftwarden.rendering.html_report`) both draw with it.

Pure functions of numbers and names; every name that reaches the markup goes through
`esc()`, since feature names come from traffic. The charts use classes, not colours, so
that the page's stylesheet decides how they look.

>>> svg = histogram([500, 500], [900, 100], [0.0], label="amount")
>>> svg.count('class="bar reference"'), svg.count('class="bar current"')
(2, 2)
>>> 'aria-label="amount: reference vs current share per reference-quantile bin"' in svg
True
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from html import escape

from driftwarden.detectors.categorical import UNSEEN
from driftwarden.detectors.vocabulary import OTHER

__all__ = [
    "MAX_CATEGORY_BARS",
    "POOLED_BINS",
    "category_bars",
    "category_name",
    "edge_labels",
    "esc",
    "histogram",
    "short_number",
    "timeline",
]

MAX_CATEGORY_BARS = 25  # categories charted per feature (largest share first); the rest pooled in one bar
POOLED_BINS = {UNSEEN: "(unseen)", OTHER: "(other)"}  # pooled bins shown: unseen / beyond the reference cap


def esc(value: object) -> str:
    """Text or attribute value, HTML-escaped (quotes included)."""
    return escape(str(value), quote=True)


def short_number(x: float) -> str:
    """A bin edge in at most about six characters: 0.123, -4.56, 12.3k, 1.2M, 3e-05.

    >>> [short_number(v) for v in (0.12345, -4.5678, 12345.0, 1_234_567.0, 0.00003, 0.0)]
    ['0.123', '-4.57', '12.3k', '1.23M', '3e-05', '0']
    """
    if not math.isfinite(x):
        return str(x)
    magnitude = abs(x)
    for limit, suffix in ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")):
        if magnitude >= limit:
            return f"{x / limit:.3g}{suffix}"
    return f"{x:.3g}"


def edge_labels(edges: Sequence[float]) -> list[str]:
    """Bin edges at one precision, fine enough to tell neighbours apart (k/M suffixes when large).

    >>> edge_labels([-1.2816, -0.00677, 0.2533, 1.2816])
    ['-1.28', '-0.01', '0.25', '1.28']
    >>> edge_labels([1000.0, 25000.0, 125000.0])
    ['1k', '25k', '125k']
    """
    finite = [e for e in edges if math.isfinite(e)]
    if len(finite) < 2 or max(abs(e) for e in finite) >= 1e4 or max(finite) == min(finite):
        return [short_number(e) for e in edges]
    step = (max(finite) - min(finite)) / (len(finite) - 1)
    decimals = min(6, max(0, 1 - math.floor(math.log10(step))))
    labels = [f"{e:.{decimals}f}" if math.isfinite(e) else str(e) for e in edges]
    return ["0" if float(label) == 0 else label for label in labels]


def histogram(
    reference: Sequence[float],
    current: Sequence[float],
    edges: Sequence[float] | None,
    *,
    label: str,
    width: int = 460,
    height: int = 170,
) -> str:
    """Reference vs current share of rows per reference-quantile bin, two bars per bin.

    `reference` and `current` are counts per bin (bin k holds edges[k-1] < x <= edges[k]); `edges`
    the bins-1 interior edges (a numeric FeatureDrift's `bin_edges`), drawn under the bin boundaries
    (left out when there are none or they do not match).
    """
    bins = len(reference)
    ref_share = _shares(reference, bins)
    cur_share = _shares(current, bins)
    has_current = sum(current) > 0 if current else False
    left, right, top, bottom = 38, 6, 8, 30
    plot_w, plot_h = width - left - right, height - top - bottom
    y_max = _nice_max(max([*ref_share, *cur_share, 0.01]))

    def y(share: float) -> float:
        return top + plot_h * (1 - share / y_max)

    parts = [_open("chart histogram", width, height, f"{label}: reference vs current share per reference-quantile bin")]
    for fraction in (0.0, 0.5, 1.0):
        gy = y(y_max * fraction)
        parts.append(f'<line class="grid" x1="{left}" x2="{width - right}" y1="{gy:.1f}" y2="{gy:.1f}"/>')
        parts.append(
            f'<text class="axis" x="{left - 4}" y="{gy + 3.5:.1f}" text-anchor="end">'
            f"{_percent(y_max * fraction)}</text>"
        )
    if bins:
        group = plot_w / bins
        bar = group * 0.38
        bin_edges: Sequence[float] = edges if edges is not None else ()
        labelled = 0 < len(bin_edges) == bins - 1
        for k in range(bins):
            x0 = left + k * group
            title = f"bin {k + 1}{_bin_range(bin_edges, k) if labelled else ''}: reference {ref_share[k]:.1%}"
            title += f", current {cur_share[k]:.1%}" if has_current else ", no current rows"
            parts.append(f"<g><title>{esc(title)}</title>")
            series = (("reference", ref_share[k], group * 0.1), ("current", cur_share[k], group * 0.5))
            for cls, share, offset in series:
                top_y = y(share)
                parts.append(
                    f'<rect class="bar {cls}" x="{x0 + offset:.1f}" y="{top_y:.1f}" width="{bar:.1f}" '
                    f'height="{top + plot_h - top_y:.1f}"/>'
                )
            parts.append("</g>")
        if labelled:
            names = edge_labels(bin_edges)
            stride = max(1, math.ceil((bins - 1) / max(1, plot_w // 44)))
            for k in range(1, bins, stride):
                parts.append(
                    f'<text class="axis" x="{left + k * group:.1f}" y="{top + plot_h + 13}" text-anchor="middle">'
                    f"{esc(names[k - 1])}</text>"
                )
    parts.append(
        f'<line class="axis-line" x1="{left}" x2="{width - right}" y1="{top + plot_h}" y2="{top + plot_h}"/>'
        f'<text class="axis" x="{left + plot_w / 2:.1f}" y="{height - 2}" text-anchor="middle">'
        "reference-quantile bin edges</text></svg>"
    )
    return "".join(parts)


def category_bars(
    reference: Sequence[float],
    current: Sequence[float],
    labels: Sequence[str],
    *,
    label: str,
    width: int = 460,
    limit: int = MAX_CATEGORY_BARS,
) -> str:
    """Reference and current share per category as horizontal bar pairs, largest share first.

    `labels` names the categories (one per count); the pooled bins `__unseen__` and `__other__`
    are shown as "(unseen)" and "(other)". Beyond `limit` categories the smallest are pooled into
    one bar; a name too long for the left margin is cut, with the whole name in the bar's tooltip.

    >>> svg = category_bars([70, 30, 0], [20, 60, 20], ["DE", "<FR>", "__unseen__"], label="country")
    >>> svg.count('class="bar reference"'), "&lt;FR&gt;" in svg, "<FR>" in svg, "(unseen)" in svg
    (3, True, False, True)
    """
    current = _padded(current, len(reference))
    ref_total, cur_total = float(sum(reference)), float(sum(current))
    rows = [
        (_label(labels, k), r / ref_total if ref_total else 0.0, c / cur_total if cur_total else 0.0)
        for k, (r, c) in enumerate(zip(reference, current, strict=True))
        if r or c or k < len(labels)
    ]
    rows.sort(key=lambda row: -max(row[1], row[2]))
    if len(rows) > limit:
        rest = rows[limit - 1 :]
        pooled_row = (f"__pooled__{len(rest)}", sum(r for _, r, _ in rest), sum(c for _, _, c in rest))
        rows = [*rows[: limit - 1], pooled_row]
    left, right, top, row_h = 130, 44, 6, 26
    plot_w = width - left - right
    height = top + row_h * max(len(rows), 1) + 22
    x_max = max(0.05, math.ceil(max([0.0, *(max(r, c) for _, r, c in rows)]) * 20 - 1e-9) / 20)
    bottom = top + row_h * len(rows)
    parts = [_open("chart categories", width, height, label)]
    for fraction in (0.0, 0.5, 1.0):
        gx = left + plot_w * fraction
        parts.append(
            f'<line class="grid" x1="{gx:.1f}" x2="{gx:.1f}" y1="{top}" y2="{bottom}"/>'
            f'<text class="axis" x="{gx:.1f}" y="{bottom + 13}" text-anchor="middle">{x_max * fraction:.0%}</text>'
        )
    for i, (name, ref_share, cur_share) in enumerate(rows):
        y0 = top + i * row_h
        shown, pooled = category_name(name)
        title = f"{shown}: reference {ref_share:.1%}, current {cur_share:.1%}"
        parts.append(
            f'<g class="pair" data-category="{esc(name)}"><title>{esc(title)}</title>'
            f'<text class="category{" pooled" if pooled else ""}" x="{left - 6}" y="{y0 + 15:.1f}" text-anchor="end">'
            f"{esc(_cut(shown, 20))}</text>"
        )
        for cls, share, dy in (("reference", ref_share, 3), ("current", cur_share, 13)):
            w = plot_w * min(share, x_max) / x_max
            parts.append(
                f'<rect class="bar {cls}" x="{left}" y="{y0 + dy:.1f}" width="{w:.1f}" height="9"/>'
                f'<text class="value" x="{left + w + 3:.1f}" y="{y0 + dy + 8:.1f}">{share:.1%}</text>'
            )
        parts.append("</g>")
    parts.append(f'<line class="axis-line" x1="{left}" x2="{left}" y1="{top}" y2="{bottom}"/></svg>')
    return "".join(parts)


def category_name(name: str) -> tuple[str, bool]:
    """A category as shown, and whether it is a pooled bin rather than a category of the data.

    >>> category_name("__unseen__"), category_name("DE"), category_name("__pooled__7")
    (('(unseen)', True), ('DE', False), ('7 more categories', True))
    """
    if name.startswith("__pooled__"):
        return f"{name.removeprefix('__pooled__')} more categories", True
    if name in POOLED_BINS:
        return POOLED_BINS[name], True
    return name, False


def timeline(
    points: Sequence[tuple[float, float]],
    *,
    threshold: float | None,
    label: str,
    css: str = "timeline",
    width: int = 460,
    height: int = 90,
    as_percent: bool = False,
) -> str:
    """A score over time as a polyline, with the threshold dashed; points above it are marked."""
    points = [(t, v) for t, v in points if math.isfinite(t) and math.isfinite(v)]
    left, right, top, bottom = 38, 8, 8, 18
    plot_w, plot_h = width - left - right, height - top - bottom
    parts = [_open(f"chart {css}", width, height, label)]
    if not points:
        parts.append(
            f'<text class="empty" x="{width / 2:.0f}" y="{height / 2 + 4:.0f}" text-anchor="middle">'
            "no evaluations with current rows yet</text></svg>"
        )
        return "".join(parts)
    values = [v for _, v in points]
    y_max = _nice_max(max([*values, threshold or 0.0, 1e-9]) * 1.1)
    t0, t1 = points[0][0], points[-1][0]
    span = t1 - t0

    def x(t: float) -> float:
        return left + (plot_w * (t - t0) / span if span > 0 else plot_w)

    def y(v: float) -> float:
        return top + plot_h * (1 - min(v, y_max) / y_max)

    def fmt(v: float) -> str:
        return _percent(v) if as_percent else f"{v:.2g}"

    for value in (0.0, y_max):
        parts.append(
            f'<line class="grid" x1="{left}" x2="{width - right}" y1="{y(value):.1f}" y2="{y(value):.1f}"/>'
            f'<text class="axis" x="{left - 4}" y="{y(value) + 3.5:.1f}" text-anchor="end">{fmt(value)}</text>'
        )
    if threshold is not None:
        ty = y(threshold)
        parts.append(
            f'<line class="threshold" x1="{left}" x2="{width - right}" y1="{ty:.1f}" y2="{ty:.1f}">'
            f"<title>threshold {esc(fmt(threshold))}</title></line>"
        )
    coords = " ".join(f"{x(t):.1f},{y(v):.1f}" for t, v in points)
    parts.append(f'<polyline class="line" points="{coords}"/>')
    for t, v in points:
        over = threshold is not None and v >= threshold
        if over or (t, v) == points[-1]:
            parts.append(
                f'<circle class="point{" over" if over else ""}" cx="{x(t):.1f}" cy="{y(v):.1f}" r="2.5">'
                f"<title>{esc(_clock(t))}: {esc(fmt(v))}</title></circle>"
            )
    parts.append(
        f'<text class="axis" x="{left}" y="{height - 3}">{esc(_clock(t0))}</text>'
        f'<text class="axis" x="{width - right}" y="{height - 3}" text-anchor="end">{esc(_clock(t1))}</text></svg>'
    )
    return "".join(parts)


def _open(css: str, width: int, height: int, label: str) -> str:
    return (
        f'<svg class="{css}" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}" role="img" aria-label="{esc(label)}">'
    )


def _label(labels: Sequence[str], k: int) -> str:
    return labels[k] if k < len(labels) else f"bin {k + 1}"


def _cut(text: str, size: int) -> str:
    return text if len(text) <= size else text[: size - 1] + "…"


def _padded(values: Sequence[float], n: int) -> list[float]:
    return [*values[:n], *([0] * (n - len(values)))]


def _shares(counts: Sequence[float], bins: int) -> list[float]:
    total = float(sum(counts)) if counts else 0.0
    if total <= 0 or len(counts) != bins:
        return [0.0] * bins
    return [c / total for c in counts]


def _nice_max(value: float) -> float:
    """The smallest of 1, 2, 2.5, 5 x 10^k at or above `value`."""
    if value <= 0 or not math.isfinite(value):
        return 1.0
    power = 10.0 ** math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        if step * power >= value - 1e-12:
            return step * power
    return 10 * power


def _bin_range(edges: Sequence[float], k: int) -> str:
    if k == 0:
        return f" (≤ {short_number(edges[0])})"
    if k == len(edges):
        return f" (> {short_number(edges[-1])})"
    return f" ({short_number(edges[k - 1])}, {short_number(edges[k])}]"


def _percent(share: float) -> str:
    return f"{share * 100:.3g}%"


def _clock(t: float) -> str:
    return time.strftime("%H:%M:%S", time.gmtime(t))
