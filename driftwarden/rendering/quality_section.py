"""The `check` report's estimated-quality section: the current file's quality estimated from the model's
outputs (CBPE, DLE) with its band and the reference's, and the realized quality beside it when the file
has labels. Markup for `html_report`'s `extra` (its stylesheet's classes: `badge`, `num`, `muted`).

The section is `<section id="estimated-quality" data-degraded="true|false">` holding
`<table class="stats quality">`, one row per metric (`data-metric`), the alert's metric first.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from driftwarden.detectors.estimation import QualityEstimate
from driftwarden.rendering.svg import esc

__all__ = ["quality_section"]


def quality_section(estimate: QualityEstimate | None, realized: Mapping[str, float] | None) -> str:
    """The section's markup; "" without an estimate.

    >>> from driftwarden.detectors.estimation import MetricEstimate
    >>> e = QualityEstimate("cbpe", "binary", 5000, {"accuracy": MetricEstimate(0.8, 0.78, 0.82, 0.9, 0.007)},
    ...                     "accuracy", 0.05)
    >>> html = quality_section(e, {"accuracy": 0.79})
    >>> 'data-degraded="true"' in html, 'data-metric="accuracy"' in html, "0.790" in html
    (True, True, True)
    """
    if estimate is None:
        return ""
    labelled = realized is not None
    source = (
        "the current file's labels give the realized quality beside it"
        if labelled
        else "the current file has no labels"
    )
    head = ["metric", "estimated", "band (±3 sampling errors)", "reference"]
    if labelled:
        head += ["realized", "|estimated − realized|"]
    names = sorted(estimate.metrics, key=lambda n: (n != estimate.alert_metric, n))
    rows = []
    for name in names:
        m = estimate.metrics[name]
        cells = [f"<td>{esc(name)}</td>", _num(m.value), f'<td class="num">{_fmt(m.lower)} – {_fmt(m.upper)}</td>']
        cells.append(_num(m.reference))
        if labelled:
            r = (realized or {}).get(name, math.nan)
            cells += [_num(r), _num(abs(m.value - r))]
        rows.append(f'<tr data-metric="{esc(name)}">{"".join(cells)}</tr>')
    verdict = (
        '<span class="badge drift">degraded</span>'
        if estimate.degraded
        else '<span class="badge ok">within margin</span>'
    )
    threshold = _fmt(estimate.threshold) if estimate.alert_metric in estimate.metrics else "—"
    alert = (
        f"the alert watches {esc(estimate.alert_metric)}: degraded when even the band's favourable end is past "
        f"the reference by the margin ({_fmt(estimate.margin)}; threshold {threshold})"
    )
    header = "".join(f'<th class="{"" if k == 0 else "num"}">{esc(h)}</th>' for k, h in enumerate(head))
    return (
        f'<section id="estimated-quality" data-degraded="{str(estimate.degraded).lower()}">'
        f"<h2>Estimated quality {verdict} "
        f'<span class="muted small">{esc(estimate.method.upper())} on {estimate.rows:,} rows; {esc(source)}</span></h2>'
        f'<p class="muted small">{alert}</p>'
        f'<table class="stats quality"><thead><tr>{header}</tr></thead><tbody>{"".join(rows)}</tbody></table>'
        "</section>"
    )


def _num(value: float | None) -> str:
    return f'<td class="num">{_fmt(value)}</td>'


def _fmt(value: float | None) -> str:
    return "—" if value is None or not math.isfinite(value) else f"{value:.3f}"
