"""The UI's model page (`GET /ui/models/{model}`): the model's verdicts, its output and every feature.

The markup is meant to be asserted on: each monitored feature is a
`<section class="feature" data-feature="NAME" data-kind="numeric|categorical"
data-role="feature|prediction" data-drifted="true|false" data-stable="true|false">` holding
exactly one chart (`<svg class="chart histogram">` for a numeric feature, `<svg class="chart
categories">` with one `<g class="pair" data-category="NAME">` per category for a categorical
one), one `<table class="stats">` (a `<tr data-stat="...">` per statistic) and one `<svg
class="chart timeline">`. The model output (`role` prediction) sits apart in `id="model-output"`,
the input features in `id="features"`. `drifted` is this evaluation's verdict, `stable` the one
after `alerting.for` evaluations with hysteresis. Each feature's section has the id
`feature-NAME` (core/ui_paths.py: alerts link to it) and `data-reasons`, the tests that fired
(detectors/reasons.py), which a drifted feature's `<p class="reasons">` names headline first, one
`<span data-test="...">` each.
A drifted feature whose rows carried trace ids names a few of them, from its top drifted bin:
`<div class="traces" data-bin="BIN">` with a `<code data-trace-id="ID" data-span-id="ID">` each.
Feature names, categories and label values reach the markup only through `esc()`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from urllib.parse import quote

from driftwarden.core.ui_paths import feature_anchor
from driftwarden.daemon.faults import Failure
from driftwarden.detectors.categorical import UNSEEN
from driftwarden.detectors.drift import PREDICTION, DriftReport, FeatureDrift
from driftwarden.detectors.reasons import Reason, headline
from driftwarden.detectors.reference import ReferenceProfile
from driftwarden.params import DriftThresholds
from driftwarden.rendering.drift_view import FeatureView, HypothesisCheck, StatisticCheck
from driftwarden.rendering.svg import category_bars, esc, histogram, timeline
from driftwarden.ui.format import ago, finite_psi, flag, integer, maybe, stable_badge, verdict_badges, when
from driftwarden.ui.layout import page

__all__ = ["MAX_CHARTED_FEATURES", "History", "model_page"]

MAX_CHARTED_FEATURES = 200  # features beyond these (the lowest PSI) are listed without charts

History = Sequence[tuple[float, float, Mapping[str, float]]]


@dataclass(frozen=True)
class _Feature:
    view: FeatureView
    timeline: list[tuple[float, float]] = field(default_factory=list)

    @property
    def drift(self) -> FeatureDrift:
        return self.view.feature


def model_page(
    model: str,
    *,
    report: DriftReport | None,
    reference: ReferenceProfile | None,
    window_rows: int,
    history: History,
    now: float,
    failures: Sequence[Failure] = (),
    max_charted: int = MAX_CHARTED_FEATURES,
    sections: Sequence[str] = (),
) -> str:
    """The model output first, then the input features sorted by PSI (most drifted first), each with
    its chart (bin shares or category shares) and statistics. `sections` (estimated quality, segments)
    come right after the model's summary."""
    title = f"<h1>Model <code>{esc(model)}</code></h1>"
    if reference is None:
        body = (
            f'{title}<div class="card"><p>No reference yet: PUT one to '
            f"<code>/v1/models/{esc(model)}/reference</code> (Parquet, CSV or NDJSON rows).</p>"
            f'<p class="muted">{integer(window_rows)} rows in the current window.</p></div>'
        ) + "".join(sections)
        return page(model, body, now=now)
    head = [
        title,
        *_failures(failures, now),
        _model_summary(model, report, reference, window_rows, history, now),
        *sections,
    ]
    if report is None and not failures:
        head.append(
            '<div class="card"><p class="muted">Not evaluated yet: the next evaluation runs within '
            "<code>evaluate_every</code>.</p></div>"
        )
        return page(model, "".join(head), now=now)
    if report is None:
        return page(model, "".join(head), now=now)
    features = _features(report, history)
    outputs = [f for f in features if f.drift.role == PREDICTION]
    inputs = [f for f in features if f.drift.role != PREDICTION]
    charted, listed = inputs[:max_charted], inputs[max_charted:]
    parts = [*head, _LEGEND]
    if outputs:
        parts.append(
            '<h2>Model output <span class="muted small">the <code>prediction</code> column: output drift, '
            "not counted in the input drift share</span></h2>"
            f'<div class="features" id="model-output">{"".join(_feature_section(f, report) for f in outputs)}</div>'
        )
    parts.append(
        '<h2>Input features <span class="muted small">drifted first, by their most decisive reason, then by PSI · '
        f"{_rule(report.thresholds)}</span></h2>"
        f'<div class="features" id="features">{"".join(_feature_section(f, report) for f in charted)}</div>'
    )
    if listed:
        parts.append(_feature_list(listed, report))
    monitored = {f.name for f in report.features}
    unmonitored = {k: v for k, v in reference.categories.items() if k not in monitored}
    if unmonitored:
        parts.append(_categories(unmonitored))
    return page(model, "".join(parts), now=now)


_LEGEND = (
    '<p class="legend">shares of rows per bin or category:<i class="reference"></i>reference'
    '<i class="current"></i>current window · <span class="badge drift">drifted</span> this evaluation · '
    '<span class="badge stable">stable drift</span> drifted for <code>alerting.for</code> evaluations, '
    "held until the effect falls below 80% of its threshold</p>"
)


def _rule(t: DriftThresholds) -> str:
    wasserstein = f" or normed Wasserstein ≥ {t.wasserstein:g}" if "wasserstein" in t.methods else ""
    return (
        f"numeric: drifted when PSI ≥ {t.psi:g}, KS D ≥ {t.ks:g}{wasserstein}, and the BH-adjusted KS p "
        f"&lt; {t.alpha:g}; categorical: PSI ≥ {t.psi:g} and the BH-adjusted χ² p &lt; {t.alpha:g}; "
        f"any feature: a missing-rate change ≥ {t.missing:.0%} with its BH-adjusted p &lt; {t.alpha:g}"
    )


def _model_summary(
    model: str,
    report: DriftReport | None,
    reference: ReferenceProfile,
    window_rows: int,
    history: History,
    now: float,
) -> str:
    stable = ""
    if report is None:
        verdict = '<span class="badge none">not evaluated</span>'
    elif report.rows.get("current", 0) == 0:
        verdict = '<span class="badge none">no current rows</span>'
    else:
        verdict = (
            '<span class="badge drift">DRIFT</span>' if report.drifted else '<span class="badge ok">no drift</span>'
        )
        stable = f'<span id="stable-verdict">stable verdict {stable_badge(report.stable, model=True)}</span>'
    why = ""
    if report is not None and report.reasons:
        why = f'<span id="model-reasons" class="reasons">why: {_reason_list(report.reasons)}</span>'
    facts = [
        f'<span id="verdict">verdict now {verdict}</span>{stable}{why}',
        f"<span>reference rows <b>{integer(reference.rows)}</b></span>",
        f"<span>window rows <b>{integer(window_rows)}</b></span>",
    ]
    if report is not None:
        inputs = [f for f in report.features if f.role != PREDICTION]
        drifted = len(report.drifted_features)
        evaluated = sum(1 for f in inputs if f.scores)
        critical = ", ".join(esc(c) for c in report.critical_features)
        facts.append(
            f'<span id="inputs">drifted input features <b>{drifted}</b> of {evaluated} '
            f"(share <b>{report.drift_share:.0%}</b>, model threshold {report.thresholds.share:.0%})</span>"
        )
        output = report.prediction
        if output is not None:
            shown = verdict_badges(output) or '<span class="badge ok">no drift</span>'
            facts.append(f'<span id="output-verdict">model output {shown}</span>')
        facts.append(f"<span>evaluated {when(report.evaluated_at, now)}</span>")
        if critical:
            facts.append(f"<span>critical features: {critical}</span>")
    share_points = [(t, share) for t, share, _ in history]
    chart = timeline(
        share_points,
        threshold=report.thresholds.share if report is not None else None,
        label=f"{model}: share of drifted input features over time",
        css="timeline share",
        width=940,
        height=120,
        as_percent=True,
    )
    return (
        f'<div class="card" data-model="{esc(model)}" data-drifted="{flag(report is not None and report.drifted)}" '
        f'data-stable="{flag(report is not None and report.stable)}">'
        f'<div class="kv">{"".join(facts)}</div><h3 class="small muted">Share of drifted input features per '
        f'evaluation ({len(share_points)} kept)</h3>{chart}<p class="small muted">JSON: '
        f'<a href="/v1/models/{esc(quote(model, safe=""))}/drift">/v1/models/{esc(model)}/drift</a></p></div>'
    )


def _features(report: DriftReport, history: History) -> list[_Feature]:
    out = []
    for f in report.features:
        points = [(t, scores[f.name]) for t, _, scores in history if f.name in scores]
        out.append(_Feature(FeatureView(f, report.thresholds), points))
    return sorted(out, key=lambda x: _order(x.drift))


def _order(f: FeatureDrift) -> tuple[bool, bool, float, str]:
    """Drifted features first, the most decisive reason first; then the rest by PSI."""
    top = headline(f.reasons)
    return (not f.scores and not f.drifted, not f.drifted, -(top.ratio if top else finite_psi(f)), f.name)


def _reason_list(reasons: Sequence[Reason]) -> str:
    return " · ".join(f'<span data-test="{esc(r.test)}">{esc(r.text())}</span>' for r in reasons)


def _reasons(f: FeatureDrift) -> str:
    """Why the feature drifted (the headline first), or why it is still held; nothing when it did not."""
    if f.reasons:
        return f'<p class="reasons small"><b>why:</b> {_reason_list(f.reasons)}</p>'
    if f.stable:
        last = f" Last drifted with: {_reason_list(f.held_reasons)}." if f.held_reasons else ""
        return (
            '<p class="reasons held small"><b>held:</b> no test fires now; the stable verdict clears once the '
            f"effect falls below 80% of its threshold.{last}</p>"
        )
    return ""


def _feature_section(item: _Feature, report: DriftReport) -> str:
    f, view = item.drift, item.view
    name = esc(f.name)
    output = f.role == PREDICTION
    badges = ['<span class="badge output">model output</span>'] if output else []
    badges.append(verdict_badges(f))
    if view.missing_drifted:
        badges.append('<span class="badge missing">missing rate drifted</span>')
    if f.name in report.critical_features:
        badges.append('<span class="badge warning">critical</span>')
    if not any(k != "missing" for k in f.scores):
        badges.append('<span class="badge none">no current values</span>')
    reference, current = list(f.bins.get("reference", [])), list(f.bins.get("current", []))
    if f.kind == "categorical":
        chart = category_bars(
            reference, current, f.bin_labels, label=f"{f.name}: reference vs current share per category"
        )
    else:
        chart = histogram(reference, current, f.bin_edges, label=f"{f.name} bin shares")
    facts = (
        f'<div class="kv small"><span>kind <b>{esc(f.kind)}</b></span><span>values: reference '
        f"{integer(f.rows.get('reference'))}, current {integer(f.rows.get('current'))}</span></div>"
    )
    spark = timeline(item.timeline, threshold=view.threshold("psi"), label=f"{f.name}: PSI over time")
    classes = "feature" + " drifted" * f.drifted + " stable" * f.stable + " output" * output
    return (
        f'<section class="{classes}" id="{esc(feature_anchor(f.name))}" data-feature="{name}" '
        f'data-kind="{esc(f.kind)}" data-role="{esc(f.role)}" data-drifted="{flag(f.drifted)}" '
        f'data-stable="{flag(f.stable)}" data-reasons="{esc(",".join(r.test for r in f.reasons))}" '
        f'data-psi="{maybe(f.scores.get("psi"), "{:.6g}", "")}"><h3>{name} {" ".join(b for b in badges if b)}</h3>'
        f"{_reasons(f)}{chart}{_unseen(f)}{_traces(f)}{_statistics(view)}{facts}"
        f'<div class="small muted">PSI per evaluation (dashed: threshold)</div>{spark}</section>'
    )


def _statistics(view: FeatureView) -> str:
    """The feature's statistics by kind against their gates, then its missing rate with the missing-rate test."""
    f = view.feature
    if f.kind == "categorical":
        rows = [
            _row(view.statistic("psi"), "{:.3f}"),
            _row(view.statistic("chi2"), "{:,.1f}", note="its p gates the verdict"),
            _p_row("chi2-p", "χ² p (BH-adjusted)", view.check("chi2")),
        ]
    else:
        rows = [
            _row(view.statistic("psi"), "{:.3f}"),
            _row(view.statistic("ks"), "{:.3f}"),
            _p_row("ks-p", "KS p (BH-adjusted)", view.check("ks")),
        ]
        if "wasserstein" in f.scores:
            rows.append(_row(view.statistic("wasserstein"), "{:.3f}"))
    if "jensenshannon" in f.scores:
        rows.append(_row(view.statistic("jensenshannon"), "{:.3f}", note="not gated"))
    missing, change = f.missing_rate, view.statistic("missing")
    rows.append(
        f'<tr data-stat="missing"><td>missing rate</td><td class="num{" over" if view.missing_drifted else ""}">'
        f"{_rate(missing.get('reference'))} → {_rate(missing.get('current'))}</td>"
        f"<td>change ≥ {change.threshold:.0%} <span class='muted'>(now {_rate(change.value)})</span></td></tr>"
    )
    rows.append(_p_row("missing-p", "missing-rate p (BH-adjusted)", view.check("missing")))
    return (
        f'<table class="stats small" data-kind="{esc(f.kind)}"><thead><tr><th>statistic</th>'
        f'<th class="num">value</th><th>drifts at</th></tr></thead><tbody>{"".join(rows)}</tbody></table>'
    )


def _row(stat: StatisticCheck, fmt: str, *, note: str = "") -> str:
    limit = stat.threshold
    gate = f"≥ {limit:g}" if limit is not None else f"<span class='muted'>{esc(note or '—')}</span>"
    return f'<tr data-stat="{stat.key}"><td>{stat.name}</td>{_stat(stat.value, stat.over, fmt)}<td>{gate}</td></tr>'


def _p_row(key: str, label: str, test: HypothesisCheck) -> str:
    return (
        f'<tr data-stat="{key}"><td>{label}</td>{_stat(test.adjusted, test.significant, "{:.2g}")}'
        f"<td>&lt; {test.alpha:g} <span class='muted'>(raw {maybe(test.pvalue, '{:.2g}')})</span></td></tr>"
    )


def _unseen(f: FeatureDrift) -> str:
    """A categorical feature's current categories that the reference lacks, most frequent first."""
    if f.kind != "categorical":
        return ""
    labels, current = list(f.bin_labels), list(f.bins.get("current", []))
    pooled = current[labels.index(UNSEEN)] if UNSEEN in labels and labels.index(UNSEEN) < len(current) else 0
    if not f.unseen and not pooled:
        return ""
    names = ", ".join(f"<code>{esc(c)}</code> <span class='muted'>({integer(n)})</span>" for c, n in f.unseen)
    return (
        f'<p class="unseen small" data-unseen-rows="{int(pooled)}">unseen categories (not in the reference): '
        f"<b>{integer(pooled)}</b> current rows · most frequent: {names or '<span class=muted>not named</span>'}</p>"
    )


def _traces(f: FeatureDrift) -> str:
    """The traces of a few current rows from the bin where the feature drifted most."""
    examples = f.trace_examples
    if examples is None:
        return ""
    ids = "".join(
        f'<li><code data-trace-id="{esc(trace)}" data-span-id="{esc(span or "")}">{esc(trace)}</code>'
        + (f' <span class="muted">span {esc(span)}</span>' if span else "")
        + "</li>"
        for trace, span in examples.traces
    )
    return (
        f'<div class="traces small" data-bin="{esc(examples.bin)}"><p>traces of current rows in '
        f"<b>{esc(examples.bin)}</b>, the bin that gained the most rows:</p><ul>{ids}</ul></div>"
    )


def _feature_list(items: Sequence[_Feature], report: DriftReport) -> str:
    rows = "".join(
        f'<tr id="{esc(feature_anchor(i.drift.name))}" data-feature="{esc(i.drift.name)}" '
        f'data-drifted="{flag(i.drift.drifted)}" data-stable="{flag(i.drift.stable)}"><td>{esc(i.drift.name)}</td>'
        f'<td class="num">{maybe(i.drift.scores.get("psi"), "{:.3f}")}</td>'
        f"<td class='num'>{_test_statistic(i.drift)}</td><td>{esc(i.drift.kind)}</td>"
        f"<td>{verdict_badges(i.drift)}</td><td class='small'>{_reason_list(i.drift.reasons[:1])}</td></tr>"
        for i in items
    )
    return (
        f'<h2>{len(items)} more features <span class="muted small">(least drifted, without charts)</span></h2>'
        '<div class="card"><table id="more-features"><thead><tr><th>Feature</th><th class="num">PSI</th>'
        f'<th class="num">KS D / χ²</th><th>Kind</th><th></th><th>why</th></tr></thead><tbody>{rows}</tbody>'
        "</table></div>"
    )


def _test_statistic(f: FeatureDrift) -> str:
    if f.kind == "categorical":
        return "χ² " + maybe(f.scores.get("chi2"), "{:,.1f}")
    return maybe(f.scores.get("ks"), "{:.3f}")


def _categories(categories: Mapping[str, Mapping[str, int]]) -> str:
    rows = []
    for name, freq in sorted(categories.items()):
        total = sum(freq.values()) or 1
        top = sorted(freq.items(), key=lambda kv: -kv[1])[:5]
        shown = ", ".join(f"{esc(c)} {n / total:.0%}" for c, n in top)
        rows.append(f"<tr><td>{esc(name)}</td><td class='num'>{len(freq)}</td><td>{shown}</td></tr>")
    return (
        '<h2>Other categorical columns <span class="muted small">(profiled in the reference, not in this '
        'evaluation)</span></h2><div class="card"><table id="categorical"><thead><tr><th>Column</th>'
        f'<th class="num">Categories</th><th>Most frequent in the reference</th></tr></thead><tbody>{"".join(rows)}'
        "</tbody></table></div>"
    )


def _stat(value: float | None, over: bool, fmt: str) -> str:
    return f'<td class="num{" over" if over else ""}">{maybe(value, fmt)}</td>'


def _rate(value: float | None) -> str:
    return "—" if value is None else f"{value:.1%}"


def _failures(failures: Sequence[Failure], now: float) -> list[str]:
    """What fails for this model now: the stage, the error and since when (it clears once the stage works)."""
    if not failures:
        return []
    rows = "".join(
        f"<li><b>{esc(f.stage)}</b> failed {f.count}× (since {esc(ago(now - f.since))}): "
        f"<code>{esc(f.error)}</code></li>"
        for f in failures
    )
    return [
        '<div class="card" id="evaluation-failures" role="alert"><p><b>This model is not being evaluated '
        f"fully.</b> Every other model, SLO and alert is.</p><ul>{rows}</ul>"
        '<p class="muted">Counted in <code>driftwarden_evaluation_failures_total</code>; the traceback is in the '
        "daemon's log (once per distinct error).</p></div>"
    ]
