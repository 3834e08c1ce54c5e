"""The model page's estimated quality and segments (models.<m>.estimate, segments).

`<div class="card" id="estimated-quality" data-degraded="true|false">`: the latest estimate per
metric against the reference's realized value, the estimator's own fit (calibration ECE and Brier,
or the loss model's R²) and one chart of realized vs estimated quality over time
(`<svg id="quality-chart">`). `<div class="card" id="segments">`: one `<tr data-segment="country=BR"
data-drifted="true|false">` per segment, worst first (drifted, then by drift share).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from driftwarden.detectors.estimation import QualityEstimate
from driftwarden.detectors.segments import SegmentResult
from driftwarden.rendering.quality_chart import QualitySample, quality_chart
from driftwarden.rendering.svg import esc
from driftwarden.ui.format import flag, integer, maybe

__all__ = ["quality_card", "segments_card"]


def quality_card(
    model: str, estimate: QualityEstimate | None, fit: Mapping[str, Any], history: Sequence[QualitySample]
) -> str:
    metric = estimate.alert_metric if estimate is not None else "accuracy"
    rows = ""
    if estimate is not None:
        rows = "".join(
            f'<tr data-metric="{esc(name)}"><td>{esc(name)}</td><td class="num">{maybe(m.value, "{:.4f}")}</td>'
            f'<td class="num">{maybe(m.lower, "{:.4f}")} – {maybe(m.upper, "{:.4f}")}</td>'
            f'<td class="num">{maybe(m.reference, "{:.4f}")}</td></tr>'
            for name, m in estimate.metrics.items()
        )
    degraded = estimate is not None and estimate.degraded
    reference = estimate.metrics[metric].reference if estimate is not None and metric in estimate.metrics else None
    threshold = estimate.threshold if estimate is not None and metric in estimate.metrics else None
    chart = quality_chart(
        history,
        metric=metric,
        reference=reference,
        threshold=threshold,
        label=f"{model}: realized vs estimated {metric}",
    )
    method = estimate.method.upper() if estimate is not None else "—"
    head = (
        f"<p>{method} over <b>{integer(estimate.rows)}</b> current rows, no labels needed · "
        + ('<span class="badge drift">degraded</span>' if degraded else '<span class="badge ok">within margin</span>')
        + f" · alert when the band's best end passes {maybe(threshold, '{:.4f}')}</p>"
        if estimate is not None
        else '<p class="muted">No estimate yet: the next evaluation with current rows makes one.</p>'
    )
    return (
        f'<h2>Quality: realized vs estimated <span class="muted small">{esc(metric)}; blue: estimated with its band '
        f"(±3 sampling errors), green: realized from joined labels, grey dashed: the reference, red dashed: the alert "
        f'line</span></h2><div class="card" id="estimated-quality" data-degraded="{flag(degraded)}">{head}{chart}'
        f'<table class="stats small"><thead><tr><th>metric</th><th class="num">estimated</th><th class="num">band'
        f'</th><th class="num">reference</th></tr></thead><tbody>{rows}</tbody></table>'
        f'<p class="small muted">fit on the reference: {esc(_fit_text(fit))}</p></div>'
    )


def segments_card(segments: Sequence[SegmentResult]) -> str:
    rows = "".join(
        f'<tr data-segment="{esc(s.key)}" data-drifted="{flag(s.drifted)}"><td><code>{esc(s.key)}</code></td>'
        f"<td>{_verdict(s)}</td>"
        f'<td class="num">{maybe(s.report.drift_share if s.report else None, "{:.0%}")}</td>'
        f'<td class="small">{esc(", ".join(f.name for f in s.report.drifted_features[:5]) if s.report else "")}</td>'
        f'<td class="num">{integer(s.window_rows)} / {integer(s.min_rows)}</td><td class="num">'
        f"{integer(s.reference_rows)}</td><td class='num'>{_estimated(s)}</td></tr>"
        for s in segments
    )
    return (
        '<h2>Segments <span class="muted small">worst first; each judged on its own window once it holds its '
        "minimum rows, against the reference rows of that value</span></h2>"
        '<div class="card" id="segments"><table><thead><tr><th>segment</th><th>verdict</th>'
        '<th class="num">drift share</th><th>drifted features</th><th class="num">window rows</th>'
        f'<th class="num">reference rows</th><th class="num">estimated</th></tr></thead><tbody>{rows}</tbody>'
        "</table></div>"
    )


def _verdict(s: SegmentResult) -> str:
    if s.report is None:
        return '<span class="badge none">not judged yet</span>'
    return '<span class="badge drift">DRIFT</span>' if s.drifted else '<span class="badge ok">no drift</span>'


def _estimated(s: SegmentResult) -> str:
    e = s.estimate
    if e is None or e.alert_metric not in e.metrics:
        return "—"
    m = e.metrics[e.alert_metric]
    return f"{esc(e.alert_metric)} {maybe(m.value, '{:.3f}')} (ref {maybe(m.reference, '{:.3f}')})"


def _fit_text(fit: Mapping[str, Any]) -> str:
    calibration = fit.get("calibration")
    if isinstance(calibration, Mapping):
        ece, brier = calibration.get("ece"), calibration.get("brier")
        return f"{calibration.get('method')}; ECE {maybe(ece, '{:.4f}')}, Brier {maybe(brier, '{:.4f}')}"
    if "loss_model" in fit:
        r2 = fit.get("r2_absolute_error")
        return f"{fit['loss_model']} on absolute and squared errors; held-out R² {maybe(r2, '{:.3f}')}"
    return "—"
