"""The UI's overview page (`GET /`): models and their verdicts, SLOs and latency, GPUs, firing alerts.

Built from plain values so that it renders in a test without a daemon. The tables carry
`id="models"`, `id="slos"`, `id="gpus"` and `id="alerts"`, one `<tr data-...>` per row; model,
label and summary strings reach the markup only through `esc()`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from driftwarden.alerts.alert import Alert, AlertStatus
from driftwarden.core.gpu import (
    FB_TOTAL,
    FB_USED,
    GPU_TEMP,
    GPU_UTIL,
    MEMORY_TEMP,
    POWER_USAGE,
    XID_ERRORS,
    GpuSample,
    InferenceFigure,
)
from driftwarden.exporters.prometheus import ModelState
from driftwarden.rendering.svg import esc
from driftwarden.ui.format import finite_psi, flag, integer, maybe, stable_badge, when
from driftwarden.ui.layout import model_url, page

__all__ = ["GpuView", "SloView", "overview_page"]

SEVERITY_ORDER = {"page": 0, "critical": 0, "ticket": 1, "warning": 2, "info": 3}


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
        drifted = sorted(r.drifted_features, key=lambda f: -finite_psi(f)) if r else []
        names = ", ".join(esc(f.name) for f in drifted[:4]) + (f" +{len(drifted) - 4}" if len(drifted) > 4 else "")
        names = names or "<span class=muted>none</span>"
        if r is not None and r.prediction is not None and r.prediction.drifted:
            names += ' <span class="badge output">model output drifted</span>'
        out.append(
            f'<tr data-model="{esc(m.model)}" data-drifted="{flag(r is not None and r.drifted)}" '
            f'data-stable="{flag(r is not None and r.stable)}">'
            f'<td><a href="{esc(model_url(m.model))}">{esc(m.model)}</a></td><td>{verdict}</td>'
            f'<td>{_stable_verdict(m)}</td><td class="num">{share}</td><td>{names}</td>'
            f'<td class="num">{integer(m.reference_rows)}</td><td class="num">{integer(m.window_rows)}</td>'
            f"<td>{when(r.evaluated_at, now) if r else '<span class=muted>not yet</span>'}</td></tr>"
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
    if m.report.drifted_features:
        return '<span class="badge warning">some features</span>'
    return '<span class="badge ok">no drift</span>'


def _stable_verdict(m: ModelState) -> str:
    """The model verdict from its features' stable verdicts (after `for` evaluations, with hysteresis)."""
    if m.reference_rows is None or m.report is None or m.report.rows.get("current", 0) == 0:
        return '<span class="muted">—</span>'
    return stable_badge(m.report.stable, model=True)


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
                f"{integer(s.good + s.bad)} events</span></td><td>{_objective(s.objective)}</td>"
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
                f"<td>{esc(row.get('operation', ''))}</td><td class='num'>{integer(row.get('count'))}</td>"
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
            f'<td class="num">{maybe(f.get(POWER_USAGE), "{:.0f} W")}</td>'
            f'<td class="num">{maybe(temp, "{:.0f} °C")}'
            f"{maybe(mem_temp, ' <span class=muted>(memory {:.0f} °C)</span>', '')}</td>"
            f'<td class="num{" over" if xid else ""}">{maybe(xid, "{:.0f}")}</td></tr>'
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
                f"<tr><td>{esc(i.model)}</td><td>{esc(i.window)}</td><td class='num'>{integer(i.requests)}</td>"
                f"<td class='num'>{i.gpus:.2f}</td><td class='num'>{maybe(i.energy_joules, '{:.3g} J')}</td>"
                f"<td class='num'>{maybe(i.cost_dollars, '${:.3g}')}</td></tr>"
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
        silenced += ' <span class="badge silenced">inhibited</span>' if a.inhibited_by else ""
        out.append(
            f'<tr data-alert="{esc(a.name)}" data-severity="{esc(severity)}"><td><b>{esc(a.name)}</b>{link}{silenced}'
            f'</td><td><span class="badge {esc(severity)}">{esc(severity)}</span></td>'
            f"<td>{esc(a.annotations.get('summary', ''))}</td><td>{when(a.starts_at or a.first_seen, now)}</td></tr>"
        )
    out.append("</tbody></table>")
    if pending:
        out.append(f'<p class="muted small">{len(pending)} more pending.</p>')
    out.append("</div>")
    return "".join(out)


def _objective(objective: float) -> str:
    return f"{objective * 100:.10g}%"


def _seconds(value: object) -> str:
    if value is None:
        return "—"
    seconds = float(value)  # type: ignore[arg-type]
    return f"{seconds * 1000:.3g} ms" if seconds < 1 else f"{seconds:.3g} s"


def _budget(remaining: float) -> str:
    css = "out" if remaining <= 0.1 else "low" if remaining < 0.5 else ""
    if remaining <= 0:
        return f'{_meter(0.0, css)}<span class="badge page">exhausted</span>'
    return f"{_meter(remaining, css)}{remaining:.1%}"


def _meter(fraction: float, css: str) -> str:
    shown = min(max(fraction, 0.0), 1.0)
    return f'<span class="meter"><i class="{css}" style="width:{shown * 100:.0f}%"></i></span>'
