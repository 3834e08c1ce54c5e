"""The built-in UI's pages as HTML strings: the overview, a model's features, not found.

Server-rendered, self-contained (inline CSS and SVG, no script, nothing fetched from
elsewhere), and built from plain values so that every page can be rendered in a test
without a daemon. Model names, feature names, label values and summaries reach the
markup only through `esc()`; model names in links are also percent-encoded.

The markup is meant to be asserted on: each monitored feature is a
`<section class="feature" data-feature="NAME" data-kind="numeric|categorical"
data-role="feature|prediction" data-drifted="true|false" data-stable="true|false">` holding
exactly one chart (`<svg class="chart histogram">` for a numeric feature, `<svg class="chart
categories">` with one `<g class="pair" data-category="NAME">` per category for a categorical
one), one `<table class="stats">` (a `<tr data-stat="...">` per statistic) and one `<svg
class="chart timeline">`. The model output (`role` prediction) sits apart in `id="model-output"`,
the input features in `id="features"`. `drifted` is this evaluation's verdict, `stable` the one
after `alerting.for` evaluations with hysteresis. The overview's tables carry `id="models"`,
`id="slos"`, `id="gpus"` and `id="alerts"`, one `<tr data-...>` per row.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from urllib.parse import quote

from driftwarden import __version__
from driftwarden.alerts.alert import Alert, AlertStatus
from driftwarden.collector.gpu import (
    FB_TOTAL,
    FB_USED,
    GPU_TEMP,
    GPU_UTIL,
    MEMORY_TEMP,
    POWER_USAGE,
    XID_ERRORS,
    GpuSample,
)
from driftwarden.detectors.categorical import UNSEEN
from driftwarden.detectors.drift import PREDICTION, DriftReport, DriftThresholds, FeatureDrift
from driftwarden.detectors.gpu import InferenceFigure
from driftwarden.detectors.reference import ReferenceProfile
from driftwarden.exporters.prometheus import ModelState
from driftwarden.rendering.svg import category_bars, esc, histogram, timeline

__all__ = [
    "MAX_CHARTED_FEATURES",
    "GpuView",
    "SloView",
    "model_page",
    "model_url",
    "not_found_page",
    "overview_page",
    "page",
]

MAX_CHARTED_FEATURES = 200  # features beyond these (the lowest PSI) are listed without charts
SEVERITY_ORDER = {"page": 0, "critical": 0, "ticket": 1, "warning": 2, "info": 3}

History = Sequence[tuple[float, float, Mapping[str, float]]]


@dataclass(frozen=True)
class SloView:
    name: str
    kind: str  # "latency" or "availability"
    objective: float
    threshold: float | None  # seconds, latency SLOs only
    budget_remaining: float
    burn_rates: Mapping[str, float]  # window -> burn rate
    alerts: Sequence[str] = ()  # severities of the burn alerts now active
    good: int = 0
    bad: int = 0


@dataclass(frozen=True)
class GpuView:
    available: bool
    samples: Sequence[GpuSample] = ()
    inference: Sequence[InferenceFigure] = ()
    disabled: bool = False  # gpu.enabled: false


# -- layout ------------------------------------------------------------------------------------

CSS = """
:root{--fg:#1d2430;--muted:#5f6b7a;--line:#d9dee5;--bg:#f6f7f9;--card:#fff;--ref:#7f95ad;--cur:#e07a2f;
--bad:#c8372d;--bad-bg:#fde8e6;--warn:#a86500;--warn-bg:#fff1d6;--ok:#1f7a45;--ok-bg:#e3f4ea;--link:#1a5fb4}
*{box-sizing:border-box}
body{margin:0;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif;color:var(--fg);
background:var(--bg)}
header{background:#1d2430;color:#fff;padding:10px 24px;display:flex;gap:24px;align-items:baseline;flex-wrap:wrap}
header .brand{font-weight:700;font-size:16px;color:#fff;text-decoration:none}
header nav a{color:#c9d4e3;margin-right:14px;text-decoration:none}
header nav a:hover{color:#fff}
header .meta{margin-left:auto;color:#9aa7b8;font-size:12px}
main{max-width:1240px;margin:0 auto;padding:16px 24px 40px}
h1{font-size:22px;margin:6px 0 12px}
h2{font-size:17px;margin:22px 0 8px}
a{color:var(--link)}
.card{background:var(--card);border:1px solid var(--line);border-radius:6px;padding:12px 14px;margin-bottom:12px}
table{border-collapse:collapse;width:100%}
th,td{text-align:left;padding:5px 8px;border-bottom:1px solid var(--line);vertical-align:top}
th{font-size:12px;color:var(--muted);font-weight:600;text-transform:uppercase;letter-spacing:.03em}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}
tr:last-child td{border-bottom:none}
.muted{color:var(--muted)}
.small{font-size:12px}
.badge{display:inline-block;padding:1px 7px;border-radius:9px;font-size:12px;font-weight:600;white-space:nowrap}
.badge.drift,.badge.page,.badge.critical,.badge.lost{background:var(--bad-bg);color:var(--bad)}
.badge.warning,.badge.ticket,.badge.pending{background:var(--warn-bg);color:var(--warn)}
.badge.ok{background:var(--ok-bg);color:var(--ok)}
.badge.none,.badge.silenced{background:#eceff3;color:var(--muted)}
.badge.stable{background:var(--bad);color:#fff}.badge.missing{background:var(--warn-bg);color:var(--warn)}
.badge.output{background:#e4edf9;color:var(--link)}
.over{color:var(--bad);font-weight:600}
.meter{display:inline-block;width:70px;height:8px;background:#e6e9ee;border-radius:4px;vertical-align:middle;
margin-right:6px;overflow:hidden}
.meter i{display:block;height:100%;background:var(--ok)}
.meter i.low{background:var(--warn)}.meter i.out{background:var(--bad)}
.features{display:grid;grid-template-columns:repeat(auto-fill,minmax(540px,1fr));gap:12px}
section.feature{background:var(--card);border:1px solid var(--line);border-left:4px solid var(--line);
border-radius:6px;padding:10px 14px}
section.feature.drifted,section.feature.stable{border-left-color:var(--bad)}
section.feature.output{border-top:3px solid var(--link)}
section.feature h3{margin:0 0 4px;font-size:15px;display:flex;gap:8px;align-items:center;word-break:break-all}
.legend{font-size:12px;color:var(--muted)}
.legend i{display:inline-block;width:10px;height:10px;margin:0 4px 0 10px;vertical-align:-1px}
.legend i.reference{background:var(--ref)}.legend i.current{background:var(--cur)}
svg.chart{display:block;width:100%;height:auto;max-width:100%}
svg.chart .bar.reference{fill:var(--ref)}svg.chart .bar.current{fill:var(--cur)}
svg.chart .grid{stroke:#e6e9ee}svg.chart .axis-line{stroke:#9aa4b1}
svg.chart .axis,svg.chart .value{font-size:10px;fill:var(--muted)}svg.chart .empty{font-size:12px;fill:var(--muted)}
svg.chart .category{font-size:11px;fill:var(--fg)}svg.chart .category.pooled{font-style:italic;fill:var(--muted)}
svg.chart .line{fill:none;stroke:#1a5fb4;stroke-width:1.6}
svg.chart .threshold{stroke:var(--bad);stroke-dasharray:4 3;stroke-width:1}
svg.chart .point{fill:#1a5fb4}svg.chart .point.over{fill:var(--bad)}
table.stats{width:auto;margin:4px 0}table.stats td,table.stats th{padding:2px 14px 2px 0;border:none}
.kv{display:flex;gap:18px;flex-wrap:wrap;font-size:13px;margin:4px 0}
.unseen{margin:4px 0;word-break:break-all}
"""

CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; base-uri 'none'; "
    "form-action 'none'; frame-ancestors 'none'"
)


def page(title: str, body: str, *, now: float | None = None) -> str:
    """A whole HTML document around `body` (already markup); `title` is escaped here."""
    stamp = _utc(time.time() if now is None else now)
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{esc(title)} · driftwarden</title><style>{CSS}</style></head><body>"
        '<header><a class="brand" href="/">driftwarden</a><nav><a href="/">Overview</a>'
        '<a href="/v1/models">models JSON</a><a href="/v1/slos">SLOs JSON</a><a href="/v1/alerts">alerts JSON</a>'
        f'<a href="/metrics">/metrics</a></nav><span class="meta">v{esc(__version__)} · rendered {stamp}</span>'
        f"</header><main>{body}</main></body></html>"
    )


def model_url(model: str) -> str:
    return "/ui/models/" + quote(model, safe="")


# -- overview ----------------------------------------------------------------------------------


def overview_page(
    *,
    models: Sequence[ModelState],
    slos: Sequence[SloView],
    latency: Sequence[Mapping[str, object]] = (),
    gpus: GpuView,
    alerts: Sequence[Alert],
    now: float,
) -> str:
    firing = [a for a in alerts if a.status is AlertStatus.FIRING]
    pending = [a for a in alerts if a.status is AlertStatus.PENDING]
    drifting = sum(1 for m in models if m.report is not None and m.report.drifted)
    held = sum(1 for m in models if m.report is not None and m.report.stable)
    summary = (
        f'<p class="muted">{len(models)} model{"s" * (len(models) != 1)}, {drifting} drifting now, {held} by the '
        "stable verdict · "
        f"{len(slos)} SLO{'s' * (len(slos) != 1)} · {len(firing)} firing alert{'s' * (len(firing) != 1)}"
        f"{f', {len(pending)} pending' if pending else ''}</p>"
    )
    body = [
        "<h1>Overview</h1>",
        summary,
        _alerts_card(firing, pending, {m.model for m in models}, now),
        _models_card(models, now),
        _slos_card(slos, latency),
        _gpus_card(gpus),
    ]
    return page("Overview", "".join(body), now=now)


def _models_card(models: Sequence[ModelState], now: float) -> str:
    out = ['<h2>Models</h2><div class="card">']
    if not models:
        out.append(
            '<p class="muted">No model yet. PUT a reference to <code>/v1/models/{model}/reference</code> '
            "and POST predictions to <code>/v1/predictions</code>.</p></div>"
        )
        return "".join(out)
    out.append(
        '<table id="models"><thead><tr><th>Model</th><th>Verdict now</th><th>Stable verdict</th>'
        '<th class="num">Drift share</th><th>Drifted input features</th><th class="num">Reference rows</th>'
        '<th class="num">Window rows</th><th>Last evaluation</th></tr></thead><tbody>'
    )
    for m in models:
        r = m.report
        verdict = _verdict(m)
        share = f"{r.drift_share:.0%} <span class='muted small'>/ {r.thresholds.share:.0%}</span>" if r else "—"
        drifted = sorted(_drifted_inputs(r), key=lambda f: -_psi(f)) if r else []
        names = ", ".join(esc(f.name) for f in drifted[:4]) + (f" +{len(drifted) - 4}" if len(drifted) > 4 else "")
        names = names or "<span class=muted>none</span>"
        if r is not None and r.prediction is not None and r.prediction.drifted:
            names += ' <span class="badge output">model output drifted</span>'
        out.append(
            f'<tr data-model="{esc(m.model)}" data-drifted="{_bool(r is not None and r.drifted)}" '
            f'data-stable="{_bool(r is not None and r.stable)}">'
            f'<td><a href="{esc(model_url(m.model))}">{esc(m.model)}</a></td><td>{verdict}</td>'
            f'<td>{_stable_verdict(m)}</td><td class="num">{share}</td><td>{names}</td>'
            f'<td class="num">{_int(m.reference_rows)}</td><td class="num">{_int(m.window_rows)}</td>'
            f"<td>{_when(r.evaluated_at, now) if r else '<span class=muted>not yet</span>'}</td></tr>"
        )
    out.append("</tbody></table></div>")
    return "".join(out)


def _verdict(m: ModelState) -> str:
    if m.reference_rows is None:
        return '<span class="badge none">no reference</span>'
    if m.report is None:
        return '<span class="badge none">not evaluated</span>'
    if m.report.rows.get("current", 0) == 0:
        return '<span class="badge none">no current rows</span>'
    if m.report.drifted:
        return '<span class="badge drift">DRIFT</span>'
    if _drifted_inputs(m.report):
        return '<span class="badge warning">some features</span>'
    return '<span class="badge ok">no drift</span>'


def _stable_verdict(m: ModelState) -> str:
    """The model verdict from its features' stable verdicts (after `for` evaluations, with hysteresis)."""
    if m.reference_rows is None or m.report is None or m.report.rows.get("current", 0) == 0:
        return '<span class="muted">—</span>'
    return _stable_badge(m.report.stable, model=True)


def _slos_card(slos: Sequence[SloView], latency: Sequence[Mapping[str, object]]) -> str:
    out = ['<h2>Service level objectives</h2><div class="card">']
    if not slos:
        out.append('<p class="muted">No SLO configured (<code>slos:</code> in the config file).</p>')
    else:
        windows = list(slos[0].burn_rates)
        head = "".join(f'<th class="num">{esc(w)}</th>' for w in windows)
        out.append(
            '<table id="slos"><thead><tr><th>SLO</th><th>Objective</th><th>Budget left</th>'
            f'<th colspan="{len(windows)}" class="num">Burn rate per window</th><th>Alert</th></tr>'
            f"<tr><th></th><th></th><th></th>{head}<th></th></tr></thead><tbody>"
        )
        for s in slos:
            what = f"latency ≤ {_seconds(s.threshold)}" if s.threshold is not None else "availability"
            rates = "".join(
                f'<td class="num{" over" if rate > 1 else ""}">{rate:.2g}</td>' for rate in s.burn_rates.values()
            )
            alerts = " ".join(f'<span class="badge {esc(a)}">{esc(a)}</span>' for a in s.alerts)
            out.append(
                f'<tr data-slo="{esc(s.name)}"><td><b>{esc(s.name)}</b><br><span class="muted small">{esc(what)}, '
                f"{_int(s.good + s.bad)} events</span></td><td>{_objective(s.objective)}</td>"
                f"<td>{_budget(s.budget_remaining)}</td>{rates}<td>{alerts or '<span class=muted>—</span>'}</td></tr>"
            )
        out.append("</tbody></table>")
    if latency:
        out.append(
            '<h3 class="small muted">Latency over the last 5 minutes</h3><table id="latency"><thead><tr>'
            '<th>Service</th><th>Model</th><th>Operation</th><th class="num">Requests</th><th class="num">p50</th>'
            '<th class="num">p95</th><th class="num">p99</th><th class="num">Errors</th></tr></thead><tbody>'
        )
        for row in latency:
            error_rate = float(row.get("error_rate", 0.0))  # type: ignore[arg-type]
            out.append(
                f"<tr><td>{esc(row.get('service', ''))}</td><td>{esc(row.get('model', ''))}</td>"
                f"<td>{esc(row.get('operation', ''))}</td><td class='num'>{_int(row.get('count'))}</td>"
                + "".join(f"<td class='num'>{_seconds(row.get(q))}</td>" for q in ("p50", "p95", "p99"))
                + f"<td class='num{' over' if error_rate > 0 else ''}'>{error_rate:.1%}</td></tr>"
            )
        out.append("</tbody></table>")
    out.append("</div>")
    return "".join(out)


def _gpus_card(gpus: GpuView) -> str:
    out = ['<h2>GPUs</h2><div class="card">']
    if not gpus.available or not gpus.samples:
        why = "gpu.enabled: false" if gpus.disabled else "NVML found no GPU, or nvidia-ml-py is not installed"
        out.append(f'<p class="muted" id="gpus" data-gpus="0">No GPU ({esc(why)}).</p></div>')
        return "".join(out)
    out.append(
        f'<table id="gpus" data-gpus="{len(gpus.samples)}"><thead><tr><th>GPU</th><th class="num">Utilization</th>'
        '<th>Memory</th><th class="num">Power</th><th class="num">Temperature</th><th class="num">Last XID</th>'
        "</tr></thead><tbody>"
    )
    for s in gpus.samples:
        name = f"{s.index}: {s.name or 'GPU'}"
        ident = f'<br><span class="muted small">{esc(s.uuid or s.pci_bus_id)}</span>'
        if s.lost:
            out.append(
                f'<tr data-gpu="{s.index}"><td>{esc(name)}{ident}</td>'
                '<td colspan="5"><span class="badge lost">lost</span> fell off the bus: no readings</td></tr>'
            )
            continue
        f = s.fields
        util = f.get(GPU_UTIL)
        used, total = f.get(FB_USED), f.get(FB_TOTAL)
        memory = "—"
        if used is not None and total:
            share = used / total
            css = "out" if share >= 0.95 else "low" if share >= 0.8 else ""
            memory = f"{_meter(share, css)}{used / 1024:.1f} / {total / 1024:.1f} GiB"
        temp = f.get(GPU_TEMP)
        mem_temp = f.get(MEMORY_TEMP)
        xid = f.get(XID_ERRORS)
        out.append(
            f'<tr data-gpu="{s.index}"><td>{esc(name)}{ident}</td>'
            f'<td class="num">{"—" if util is None else f"{util:.0f}%"}</td><td>{memory}</td>'
            f'<td class="num">{_maybe(f.get(POWER_USAGE), "{:.0f} W")}</td>'
            f'<td class="num">{_maybe(temp, "{:.0f} °C")}'
            f"{_maybe(mem_temp, ' <span class=muted>(memory {:.0f} °C)</span>', '')}</td>"
            f'<td class="num{" over" if xid else ""}">{_maybe(xid, "{:.0f}")}</td></tr>'
        )
    out.append("</tbody></table>")
    figures = [i for i in gpus.inference if i.requests]
    if figures:
        out.append(
            '<h3 class="small muted">Per inference</h3><table id="inference"><thead><tr><th>Model</th><th>Window</th>'
            '<th class="num">Requests</th><th class="num">GPUs</th><th class="num">Energy</th>'
            '<th class="num">Cost</th></tr></thead><tbody>'
        )
        for i in figures:
            out.append(
                f"<tr><td>{esc(i.model)}</td><td>{esc(i.window)}</td><td class='num'>{_int(i.requests)}</td>"
                f"<td class='num'>{i.gpus:.2f}</td><td class='num'>{_maybe(i.energy_joules, '{:.3g} J')}</td>"
                f"<td class='num'>{_maybe(i.cost_dollars, '${:.3g}')}</td></tr>"
            )
        out.append("</tbody></table>")
    out.append("</div>")
    return "".join(out)


def _alerts_card(firing: Sequence[Alert], pending: Sequence[Alert], models: set[str], now: float) -> str:
    out = ['<h2>Firing alerts</h2><div class="card">']
    if not firing:
        out.append('<p class="muted" id="alerts" data-alerts="0">No alert is firing.')
        if pending:
            out.append(f" {len(pending)} pending (waiting for the <code>for</code> evaluations).")
        out.append("</p></div>")
        return "".join(out)
    ordered = sorted(
        firing, key=lambda a: (SEVERITY_ORDER.get(a.labels.get("severity", ""), 9), -(a.starts_at or a.first_seen))
    )
    out.append(
        f'<table id="alerts" data-alerts="{len(firing)}"><thead><tr><th>Alert</th><th>Severity</th><th>Summary</th>'
        "<th>Since</th></tr></thead><tbody>"
    )
    for a in ordered:
        severity = a.labels.get("severity", "")
        target = a.labels.get("model")
        link = ""
        if target and target in models:
            link = f' <a class="small" href="{esc(model_url(target))}">{esc(target)}</a>'
        silenced = ' <span class="badge silenced">silenced</span>' if a.silenced_by else ""
        out.append(
            f'<tr data-alert="{esc(a.name)}" data-severity="{esc(severity)}"><td><b>{esc(a.name)}</b>{link}{silenced}'
            f'</td><td><span class="badge {esc(severity)}">{esc(severity)}</span></td>'
            f"<td>{esc(a.annotations.get('summary', ''))}</td><td>{_when(a.starts_at or a.first_seen, now)}</td></tr>"
        )
    out.append("</tbody></table>")
    if pending:
        out.append(f'<p class="muted small">{len(pending)} more pending.</p>')
    out.append("</div>")
    return "".join(out)


# -- model page --------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Feature:
    drift: FeatureDrift
    edges: Sequence[float] | None = None
    timeline: list[tuple[float, float]] = field(default_factory=list)


def model_page(
    model: str,
    *,
    report: DriftReport | None,
    reference: ReferenceProfile | None,
    window_rows: int,
    history: History,
    now: float,
    max_charted: int = MAX_CHARTED_FEATURES,
) -> str:
    """The model output first, then the input features sorted by PSI (most drifted first), each with
    its chart (bin shares or category shares) and statistics."""
    title = f"<h1>Model <code>{esc(model)}</code></h1>"
    if reference is None:
        body = (
            f'{title}<div class="card"><p>No reference yet: PUT one to '
            f"<code>/v1/models/{esc(model)}/reference</code> (Parquet, CSV or NDJSON rows).</p>"
            f'<p class="muted">{_int(window_rows)} rows in the current window.</p></div>'
        )
        return page(model, body, now=now)
    head = [title, _model_summary(model, report, reference, window_rows, history, now)]
    if report is None:
        head.append(
            '<div class="card"><p class="muted">Not evaluated yet: the next evaluation runs within '
            "<code>evaluate_every</code>.</p></div>"
        )
        return page(model, "".join(head), now=now)
    features = _features(report, reference, history)
    outputs = [f for f in features if f.drift.role == PREDICTION]
    inputs = [f for f in features if f.drift.role != PREDICTION]
    charted, listed = inputs[:max_charted], inputs[max_charted:]
    body = [*head, _LEGEND]
    if outputs:
        body.append(
            '<h2>Model output <span class="muted small">the <code>prediction</code> column: output drift, '
            "not counted in the input drift share</span></h2>"
            f'<div class="features" id="model-output">{"".join(_feature_section(f, report) for f in outputs)}</div>'
        )
    body.append(
        f'<h2>Input features <span class="muted small">sorted by PSI · {_rule(report.thresholds)}</span></h2>'
        f'<div class="features" id="features">{"".join(_feature_section(f, report) for f in charted)}</div>'
    )
    if listed:
        body.append(_feature_list(listed, report))
    monitored = {f.name for f in report.features}
    unmonitored = {k: v for k, v in reference.categories.items() if k not in monitored}
    if unmonitored:
        body.append(_categories(unmonitored))
    return page(model, "".join(body), now=now)


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
        stable = f'<span id="stable-verdict">stable verdict {_stable_badge(report.stable, model=True)}</span>'
    facts = [
        f'<span id="verdict">verdict now {verdict}</span>{stable}',
        f"<span>reference rows <b>{_int(reference.rows)}</b></span>",
        f"<span>window rows <b>{_int(window_rows)}</b></span>",
    ]
    if report is not None:
        inputs = [f for f in report.features if f.role != PREDICTION]
        drifted = len(_drifted_inputs(report))
        evaluated = sum(1 for f in inputs if f.scores)
        critical = ", ".join(esc(c) for c in report.critical_features)
        facts.append(
            f'<span id="inputs">drifted input features <b>{drifted}</b> of {evaluated} '
            f"(share <b>{report.drift_share:.0%}</b>, model threshold {report.thresholds.share:.0%})</span>"
        )
        output = report.prediction
        if output is not None:
            shown = _verdict_badges(output) or '<span class="badge ok">no drift</span>'
            facts.append(f'<span id="output-verdict">model output {shown}</span>')
        facts.append(f"<span>evaluated {_when(report.evaluated_at, now)}</span>")
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
        f'<div class="card" data-model="{esc(model)}" data-drifted="{_bool(report is not None and report.drifted)}" '
        f'data-stable="{_bool(report is not None and report.stable)}">'
        f'<div class="kv">{"".join(facts)}</div><h3 class="small muted">Share of drifted input features per '
        f'evaluation ({len(share_points)} kept)</h3>{chart}<p class="small muted">JSON: '
        f'<a href="/v1/models/{esc(quote(model, safe=""))}/drift">/v1/models/{esc(model)}/drift</a></p></div>'
    )


def _features(report: DriftReport, reference: ReferenceProfile, history: History) -> list[_Feature]:
    position = {name: j for j, name in enumerate(reference.features)}
    out = []
    for f in report.features:
        j = position.get(f.name) if f.kind == "numeric" else None
        edges = [float(e) for e in reference.edges[j]] if j is not None else None
        points = [(t, scores[f.name]) for t, _, scores in history if f.name in scores]
        out.append(_Feature(f, edges, points))
    return sorted(out, key=lambda x: (not x.drift.scores, -_psi(x.drift), x.drift.name))


def _feature_section(item: _Feature, report: DriftReport) -> str:
    f, t = item.drift, report.thresholds
    name = esc(f.name)
    output = f.role == PREDICTION
    badges = ['<span class="badge output">model output</span>'] if output else []
    badges.append(_verdict_badges(f))
    if _missing_drifted(f, t):
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
        chart = histogram(reference, current, item.edges, label=f"{f.name} bin shares")
    facts = (
        f'<div class="kv small"><span>kind <b>{esc(f.kind)}</b></span><span>values: reference '
        f"{_int(f.rows.get('reference'))}, current {_int(f.rows.get('current'))}</span></div>"
    )
    spark = timeline(item.timeline, threshold=_limit(t, f.name, "psi"), label=f"{f.name}: PSI over time")
    classes = "feature" + " drifted" * f.drifted + " stable" * f.stable + " output" * output
    return (
        f'<section class="{classes}" data-feature="{name}" data-kind="{esc(f.kind)}" data-role="{esc(f.role)}" '
        f'data-drifted="{_bool(f.drifted)}" data-stable="{_bool(f.stable)}" '
        f'data-psi="{_maybe(f.scores.get("psi"), "{:.6g}", "")}"><h3>{name} {" ".join(b for b in badges if b)}</h3>'
        f"{chart}{_unseen(f)}{_statistics(f, t)}{facts}"
        f'<div class="small muted">PSI per evaluation (dashed: threshold)</div>{spark}</section>'
    )


def _statistics(f: FeatureDrift, t: DriftThresholds) -> str:
    """The feature's statistics by kind against their gates, then its missing rate with the missing-rate test."""
    s, p_adj, p_raw = f.scores, f.pvalues_adjusted, f.pvalues
    psi = _limit(t, f.name, "psi")
    if f.kind == "categorical":
        rows = [
            _row("psi", "PSI", s.get("psi"), psi, "{:.3f}"),
            _row("chi2", "χ²", s.get("chi2"), None, "{:,.1f}", note="its p gates the verdict"),
            _p_row("chi2-p", "χ² p (BH-adjusted)", p_adj.get("chi2"), p_raw.get("chi2"), t.alpha),
        ]
    else:
        rows = [
            _row("psi", "PSI", s.get("psi"), psi, "{:.3f}"),
            _row("ks", "KS D", s.get("ks"), _limit(t, f.name, "ks"), "{:.3f}"),
            _p_row("ks-p", "KS p (BH-adjusted)", p_adj.get("ks"), p_raw.get("ks"), t.alpha),
        ]
        if "wasserstein" in s:
            rows.append(
                _row(
                    "wasserstein", "Wasserstein (normed)", s["wasserstein"], _limit(t, f.name, "wasserstein"), "{:.3f}"
                )
            )
    if "jensenshannon" in s:
        rows.append(_row("jensenshannon", "Jensen–Shannon", s["jensenshannon"], None, "{:.3f}", note="not gated"))
    missing = f.missing_rate
    change, limit = s.get("missing"), _limit(t, f.name, "missing")
    rows.append(
        f'<tr data-stat="missing"><td>missing rate</td><td class="num{" over" if _missing_drifted(f, t) else ""}">'
        f"{_rate(missing.get('reference'))} → {_rate(missing.get('current'))}</td>"
        f"<td>change ≥ {limit:.0%} <span class='muted'>(now {_rate(change)})</span></td></tr>"
    )
    rows.append(_p_row("missing-p", "missing p (BH-adjusted)", p_adj.get("missing"), p_raw.get("missing"), t.alpha))
    return (
        f'<table class="stats small" data-kind="{esc(f.kind)}"><thead><tr><th>statistic</th>'
        f'<th class="num">value</th><th>drifts at</th></tr></thead><tbody>{"".join(rows)}</tbody></table>'
    )


def _row(key: str, label: str, value: float | None, limit: float | None, fmt: str, *, note: str = "") -> str:
    over = limit is not None and value is not None and value >= limit
    gate = f"≥ {limit:g}" if limit is not None else f"<span class='muted'>{esc(note or '—')}</span>"
    return f'<tr data-stat="{key}"><td>{label}</td>{_stat(value, over, fmt)}<td>{gate}</td></tr>'


def _p_row(key: str, label: str, adjusted: float | None, raw: float | None, alpha: float) -> str:
    over = adjusted is not None and adjusted < alpha
    return (
        f'<tr data-stat="{key}"><td>{label}</td>{_stat(adjusted, over, "{:.2g}")}'
        f"<td>&lt; {alpha:g} <span class='muted'>(raw {_maybe(raw, '{:.2g}')})</span></td></tr>"
    )


def _unseen(f: FeatureDrift) -> str:
    """A categorical feature's current categories that the reference lacks, most frequent first."""
    if f.kind != "categorical":
        return ""
    labels, current = list(f.bin_labels), list(f.bins.get("current", []))
    pooled = current[labels.index(UNSEEN)] if UNSEEN in labels and labels.index(UNSEEN) < len(current) else 0
    if not f.unseen and not pooled:
        return ""
    names = ", ".join(f"<code>{esc(c)}</code> <span class='muted'>({_int(n)})</span>" for c, n in f.unseen)
    return (
        f'<p class="unseen small" data-unseen-rows="{int(pooled)}">unseen categories (not in the reference): '
        f"<b>{_int(pooled)}</b> current rows · most frequent: {names or '<span class=muted>not named</span>'}</p>"
    )


def _feature_list(items: Sequence[_Feature], report: DriftReport) -> str:
    rows = "".join(
        f'<tr data-feature="{esc(i.drift.name)}" data-drifted="{_bool(i.drift.drifted)}" '
        f'data-stable="{_bool(i.drift.stable)}"><td>{esc(i.drift.name)}</td>'
        f'<td class="num">{_maybe(i.drift.scores.get("psi"), "{:.3f}")}</td>'
        f"<td class='num'>{_test_statistic(i.drift)}</td><td>{esc(i.drift.kind)}</td>"
        f"<td>{_verdict_badges(i.drift)}</td></tr>"
        for i in items
    )
    return (
        f'<h2>{len(items)} more features <span class="muted small">(lowest PSI, without charts)</span></h2>'
        '<div class="card"><table id="more-features"><thead><tr><th>Feature</th><th class="num">PSI</th>'
        f'<th class="num">KS D / χ²</th><th>Kind</th><th></th></tr></thead><tbody>{rows}</tbody></table></div>'
    )


def _test_statistic(f: FeatureDrift) -> str:
    if f.kind == "categorical":
        return "χ² " + _maybe(f.scores.get("chi2"), "{:,.1f}")
    return _maybe(f.scores.get("ks"), "{:.3f}")


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


def _verdict_badges(f: FeatureDrift) -> str:
    """A "drifted" badge for this evaluation's verdict, "stable drift" for the verdict after hysteresis."""
    out = []
    if f.drifted:
        out.append('<span class="badge drift" data-verdict="now" title="this evaluation\'s verdict">drifted</span>')
    if f.stable:
        out.append(_stable_badge(True))
    return " ".join(out)


def _stable_badge(stable: bool, *, model: bool = False) -> str:
    if not stable:
        return '<span class="badge ok" data-verdict="stable">no drift</span>'
    title = "drifted for alerting.for evaluations; held until the effect falls below 80% of its threshold"
    text = "DRIFT" if model else "stable drift"
    return f'<span class="badge stable" data-verdict="stable" title="{title}">{text}</span>'


def _drifted_inputs(report: DriftReport) -> list[FeatureDrift]:
    """The drifted features the drift share counts: every one but the model output."""
    return [f for f in report.drifted_features if f.role != PREDICTION]


def _limit(t: DriftThresholds, feature: str, key: str) -> float:
    """The threshold `key` of `feature`, its per-feature override first."""
    return float(t.per_feature.get(feature, {}).get(key, getattr(t, key)))


def _missing_drifted(f: FeatureDrift, t: DriftThresholds) -> bool:
    change, p = f.scores.get("missing"), f.pvalues_adjusted.get("missing")
    return change is not None and p is not None and change >= _limit(t, f.name, "missing") and p < t.alpha


# -- not found ---------------------------------------------------------------------------------


def not_found_page(model: str, known: Sequence[str], *, now: float) -> str:
    links = ", ".join(f'<a href="{esc(model_url(m))}">{esc(m)}</a>' for m in known) or "none yet"
    body = (
        f'<h1>No model named <code>{esc(model)}</code></h1><div class="card" id="not-found">'
        f'<p>Models tracked: {links}.</p><p><a href="/">Back to the overview</a></p></div>'
    )
    return page("not found", body, now=now)


# -- formatting --------------------------------------------------------------------------------


def _psi(f: FeatureDrift) -> float:
    value = f.scores.get("psi", 0.0)
    return value if math.isfinite(value) else 0.0


def _stat(value: float | None, over: bool, fmt: str) -> str:
    return f'<td class="num{" over" if over else ""}">{_maybe(value, fmt)}</td>'


def _maybe(value: object, fmt: str, missing: str = "—") -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return missing
    return fmt.format(value)


def _int(value: object) -> str:
    return "—" if value is None else f"{int(value):,}"  # type: ignore[call-overload]


def _rate(value: float | None) -> str:
    return "—" if value is None else f"{value:.1%}"


def _bool(value: bool) -> str:
    return "true" if value else "false"


def _objective(objective: float) -> str:
    return f"{objective * 100:.10g}%"


def _seconds(value: object) -> str:
    if value is None:
        return "—"
    seconds = float(value)  # type: ignore[arg-type]
    return f"{seconds * 1000:.3g} ms" if seconds < 1 else f"{seconds:.3g} s"


def _budget(remaining: float) -> str:
    css = "out" if remaining <= 0.1 else "low" if remaining < 0.5 else ""
    spent = ' <span class="badge page">overspent</span>' if remaining < 0 else ""
    return f"{_meter(remaining, css)}{remaining:.1%}{spent}"


def _meter(fraction: float, css: str) -> str:
    shown = min(max(fraction, 0.0), 1.0)
    return f'<span class="meter"><i class="{css}" style="width:{shown * 100:.0f}%"></i></span>'


def _utc(t: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(t))


def _when(t: float | None, now: float) -> str:
    if t is None:
        return "—"
    return f'<span title="{_utc(t)}">{_ago(now - t)}</span>'


def _ago(seconds: float) -> str:
    """
    >>> [_ago(s) for s in (-3, 4, 95, 7300, 200000)]
    ['just now', '4 s ago', '1 min ago', '2 h ago', '2 d ago']
    """
    if seconds < 1:
        return "just now"
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{int(seconds // size)} {unit} ago"
    return f"{int(seconds)} s ago"
