"""A drift report as one self-contained HTML file (`driftwarden check --html OUT`, `Comparison.to_html`)
or as one `<div>` for a notebook's output cell (`render_fragment`, `Comparison._repr_html_`).

Inline CSS and inline SVG only: no script, no font or stylesheet fetched from elsewhere, and a
Content-Security-Policy that forbids both, so the file opens the same offline, from a mail
attachment or from a CI artefact. `render_html()` is a pure function of the report (the time
shown is the report's `evaluated_at`); `write_html()` writes it. The fragment is the same markup
with the stylesheet scoped to its div and ids of its own, so two reports in one notebook neither
restyle the notebook nor share anchors.

Every drifted feature says why, in the header and in its section: the statistics that crossed
their thresholds and the p-value of the test gating them (the report's own `reasons`,
`driftwarden.detectors.reasons`, most decisive first). When
the report compares files, the header names them and the columns left out (`schema`).

The charts are the built-in UI's (`driftwarden.rendering.svg`): numeric features get the bin-share
histogram, categorical features the horizontal category bars, reference over current. Feature and
category names come from the data, so every one reaches the markup through `esc()`. Which threshold
applies to each statistic, whether it passed and which test fired are the drift view's
(`driftwarden.rendering.drift_view`), as on the UI's model page.

The markup is meant to be asserted on: each feature is a
`<section class="feature" data-feature="NAME" data-kind="numeric|categorical"
data-drifted="true|false" data-psi="..." data-role="feature|prediction">` holding exactly one
`<svg class="chart histogram|categories">`, the sections sorted by PSI, largest first; the header
is `<header id="summary" class="summary" data-drifted="true|false">` and the overview table
`<table id="features">` (ids prefixed in a fragment).

>>> import numpy as np
>>> from driftwarden.detectors.drift import compare
>>> from driftwarden.detectors.reference import ReferenceProfile
>>> rng = np.random.default_rng(0)
>>> ref = ReferenceProfile.fit(["amount", "age"], rng.normal(size=(2000, 2)))
>>> html = render_html(compare("fraud", ref, ["amount", "age"], rng.normal(size=(1000, 2)) + [1.0, 0.0]))
>>> html.count('<section class="feature'), html.count('<svg class="chart'), "<script" in html
(2, 2, False)
>>> html.index('data-feature="amount"') < html.index('data-feature="age"')   # the shifted one first
True
"""

from __future__ import annotations

import math
import os
import secrets
import time
import zlib
from collections.abc import Mapping, Sequence
from pathlib import Path

from driftwarden import __version__
from driftwarden.detectors.reasons import FEATURE_TESTS, reasons_text
from driftwarden.detectors.report import PREDICTION, DriftReport, FeatureDrift
from driftwarden.rendering.drift_view import FeatureView
from driftwarden.rendering.svg import category_bars, category_name, esc, histogram

__all__ = ["render_fragment", "render_html", "scoped_css", "write_html"]

SCOPE = "driftwarden-report"  # the class of `render_fragment`'s div, which its stylesheet is scoped to
_PAGE_WIDE = {":root", "body", "main"}
SCHEMA_NOTES = {  # the keys of a comparison's `schema` block, as the header names them
    "missing_in_current": "missing in current",
    "missing_in_reference": "missing in reference",
    "excluded": "excluded",
    "id_like": "ID-like",
    "kind_mismatch": "kind differs",
}  # selectors a fragment's scope stands in for
CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'"

CSS = """
:root{--fg:#1d2430;--muted:#5f6b7a;--line:#e1e5eb;--bg:#f7f8fa;--card:#fff;--ref:#8aa0b8;--cur:#e07a2f;
--bad:#c8372d;--bad-bg:#fde8e6;--warn:#a86500;--warn-bg:#fff1d6;--ok:#1f7a45;--ok-bg:#e3f4ea}
*{box-sizing:border-box}
body{margin:0;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif;color:var(--fg);
background:var(--bg)}
main{max-width:1200px;margin:0 auto;padding:20px 24px 40px}
h1{font-size:22px;margin:0 0 4px;word-break:break-all}
h2{font-size:16px;margin:24px 0 8px}
code{font-size:13px}
a{color:#1a5fb4;text-decoration:none}a:hover{text-decoration:underline}
.muted{color:var(--muted)}.small{font-size:12px}
header.summary{background:var(--card);border:1px solid var(--line);border-top:4px solid var(--ok);border-radius:6px;
padding:14px 18px}
header.summary[data-drifted=true]{border-top-color:var(--bad)}
ul.reasons{margin:0 0 10px;padding-left:18px}ul.reasons li{margin:1px 0}
p.reasons{margin:0 0 6px;font-size:13px}p.reasons b{color:var(--bad)}
td.why{font-size:12px;min-width:14em}
.verdict{display:flex;gap:12px;align-items:center;flex-wrap:wrap;margin:8px 0 10px;font-size:15px}
.facts{display:grid;grid-template-columns:repeat(auto-fill,minmax(210px,1fr));gap:8px 18px;margin:0}
.facts div{border-left:2px solid var(--line);padding-left:8px}.facts div.wide{grid-column:span 2}
.facts dt{font-size:11px;color:var(--muted);text-transform:uppercase;letter-spacing:.04em}
.facts dd{margin:0;font-variant-numeric:tabular-nums}
.badge{display:inline-block;padding:1px 8px;border-radius:9px;font-size:12px;font-weight:600;white-space:nowrap}
.badge.drift{background:var(--bad-bg);color:var(--bad)}.badge.ok{background:var(--ok-bg);color:var(--ok)}
.badge.warning{background:var(--warn-bg);color:var(--warn)}.badge.none{background:#eceff3;color:var(--muted)}
.badge.big{font-size:14px;padding:2px 10px}
.card{background:var(--card);border:1px solid var(--line);border-radius:6px;padding:8px 14px}
table{border-collapse:collapse;width:100%}
th,td{text-align:left;padding:4px 8px;border-bottom:1px solid var(--line);vertical-align:top}
th{font-size:11px;color:var(--muted);font-weight:600;text-transform:uppercase;letter-spacing:.04em}
tr:last-child td{border-bottom:none}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
td.name{word-break:break-all}
.over{color:var(--bad);font-weight:600}
.legend{font-size:12px;color:var(--muted);margin:4px 0 10px}
.legend i{display:inline-block;width:10px;height:10px;margin:0 4px 0 10px;vertical-align:-1px}
.legend i.reference{background:var(--ref)}.legend i.current{background:var(--cur)}
.features{display:grid;grid-template-columns:repeat(auto-fill,minmax(520px,1fr));gap:12px}
section.feature{background:var(--card);border:1px solid var(--line);border-left:4px solid var(--line);border-radius:6px;
padding:10px 14px;break-inside:avoid}
section.feature.drifted{border-left-color:var(--bad)}
section.feature h3{margin:0 0 6px;font-size:15px;display:flex;gap:8px;align-items:center;flex-wrap:wrap;
word-break:break-all}
section.feature h3 .kind{font-weight:400}
svg.chart{display:block;width:100%;height:auto;max-width:100%}
svg.chart .bar.reference{fill:var(--ref)}svg.chart .bar.current{fill:var(--cur)}
svg.chart .grid{stroke:#e6e9ee}svg.chart .axis-line{stroke:#9aa4b1}
svg.chart .axis,svg.chart .value{font-size:10px;fill:var(--muted)}
svg.chart .category{font-size:11px;fill:var(--fg)}svg.chart .category.pooled{font-style:italic;fill:var(--muted)}
div.stats{display:grid;grid-template-columns:1.15fr 1fr;gap:14px;margin:6px 0 2px;align-items:start}
table.stats td,table.stats th{padding:2px 10px 2px 0;border:none}table.stats tfoot td{font-size:11px;padding-top:4px}
.kv{display:flex;gap:16px;flex-wrap:wrap;margin:2px 0}
.unseen{font-size:12px;margin:2px 0;word-break:break-all}
details{margin-top:4px;font-size:12px}summary{color:var(--muted);cursor:pointer}
details table td,details table th{padding:1px 10px 1px 0;border:none}
footer{margin-top:24px;font-size:12px;color:var(--muted)}
@media print{body{background:#fff}.features{display:block}section.feature{margin-bottom:10px}}
"""


def render_html(
    report: DriftReport,
    *,
    title: str | None = None,
    sources: Mapping[str, str] | None = None,
    schema: Mapping[str, Sequence[str]] | None = None,
    extra: str = "",
) -> str:
    """The whole report as one HTML document (a str); `title` defaults to "Drift report: MODEL".

    `sources` names what was compared (`{"reference": "ref.parquet", "current": "today.csv"}`) and
    `schema` the columns left out (`{"missing_in_current": [...], "id_like": [...], ...}`); both are
    shown in the header when given; `extra`: more sections (markup), after the overview (`check`'s
    estimated quality, rendering/quality_section.py).
    """
    heading = _heading(report, title)
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{esc(heading)}</title><style>{CSS}</style></head><body><main>"
        f"{_body(report, heading, sources or {}, schema or {}, ids='', extra=extra)}</main></body></html>"
    )


def render_fragment(
    report: DriftReport,
    *,
    title: str | None = None,
    sources: Mapping[str, str] | None = None,
    schema: Mapping[str, Sequence[str]] | None = None,
    extra: str = "",
) -> str:
    """The report as one `<div>` to embed in another page (a notebook's output cell): the document's
    markup, its stylesheet scoped to the div (nothing outside it restyled), ids unique to this report.

    >>> import numpy as np
    >>> from driftwarden.detectors.drift import compare
    >>> from driftwarden.detectors.reference import ReferenceProfile
    >>> ref = ReferenceProfile.fit(["x"], np.arange(100.0)[:, None])
    >>> html = render_fragment(compare("m", ref, ["x"], np.arange(100.0)[:, None]))
    >>> html.startswith('<div class="driftwarden-report"'), "<body" in html, "<script" in html
    (True, False, False)
    """
    heading = _heading(report, title)
    ids = f"dw{zlib.crc32(f'{report.model}|{report.evaluated_at!r}|{heading}'.encode()):08x}-"
    return (
        f'<div class="{SCOPE}" data-model="{esc(report.model)}"><style>{scoped_css(CSS, "." + SCOPE)}</style>'
        f"{_body(report, heading, sources or {}, schema or {}, ids=ids, extra=extra)}</div>"
    )


def _heading(report: DriftReport, title: str | None) -> str:
    return title if title is not None else f"Drift report: {report.model}"


def _body(
    report: DriftReport,
    heading: str,
    sources: Mapping[str, str],
    schema: Mapping[str, Sequence[str]],
    *,
    ids: str,
    extra: str = "",
) -> str:
    features = sorted(report.features, key=_order)
    return "".join(
        [
            _summary(report, heading, sources, schema, ids),
            _overview(features, report, ids),
            extra,
            '<h2>Features <span class="muted small">largest PSI first</span></h2>'
            '<p class="legend">share of rows per bin or category:<i class="reference"></i>reference'
            '<i class="current"></i>current</p>',
            '<div class="features">',
            *(_feature(f, report, k, ids) for k, f in enumerate(features)),
            "</div>",
            f"<footer>driftwarden {esc(__version__)} · evaluated in {report.duration_seconds * 1000:.0f} ms</footer>",
        ]
    )


def scoped_css(css: str, scope: str) -> str:
    """`css` applying only inside `scope`: every selector prefixed with it, and the page-wide ones
    (`:root`, `body`, `main`) the scope itself; `@media` blocks are scoped inside.

    >>> scoped_css(":root{--a:1}body,main{margin:0}td.num,th{x:y}@media print{body{b:c}}", ".r")
    '.r{--a:1}.r,.r{margin:0}.r td.num,.r th{x:y}@media print{.r{b:c}}'
    """
    out, at = [], 0
    while (brace := css.find("{", at)) != -1:
        prelude = css[at:brace].strip()
        if prelude.startswith("@"):
            depth, end = 1, brace + 1
            while depth:
                depth += {"{": 1, "}": -1}.get(css[end], 0)
                end += 1
            out.append(f"{prelude}{{{scoped_css(css[brace + 1 : end - 1], scope)}}}")
        else:
            end = css.index("}", brace) + 1
            selectors = (s.strip() for s in prelude.split(","))
            scoped = ",".join(scope if s in _PAGE_WIDE else f"{scope} {s}" for s in selectors)
            out.append(f"{scoped}{css[brace:end]}")
        at = end
    return "".join(out)


def write_html(
    report: DriftReport,
    path: str | os.PathLike[str],
    *,
    title: str | None = None,
    sources: Mapping[str, str] | None = None,
    schema: Mapping[str, Sequence[str]] | None = None,
    extra: str = "",
) -> Path:
    """Render `report` to `path` (UTF-8), replacing it atomically; returns the path. The file gets the
    permissions any new file of the user gets (0666 less the umask), not a temporary file's 0600."""
    target = Path(path)
    markup = render_html(report, title=title, sources=sources, schema=schema, extra=extra)
    tmp = target.parent / f".{target.name}.{secrets.token_hex(4)}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)  # the umask applies, as to open(path, "w")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(markup)
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return target


# -- header and overview -----------------------------------------------------------------------


def _summary(
    report: DriftReport, heading: str, sources: Mapping[str, str], schema: Mapping[str, Sequence[str]], ids: str
) -> str:
    t = report.thresholds
    inputs = _inputs(report)
    evaluated = sum(1 for f in inputs if f.scores)
    drifted = sum(1 for f in inputs if f.drifted)
    if report.rows.get("current", 0) == 0:
        verdict = '<span class="badge none big">no current rows</span>'
    elif report.drifted:
        verdict = '<span class="badge drift big">DRIFT</span>'
    elif drifted:
        verdict = '<span class="badge warning big">some features drifted</span>'
    else:
        verdict = '<span class="badge ok big">no drift</span>'
    critical_hit = [f.name for f in report.drifted_features if f.name in report.critical_features]
    why = f" · critical feature drifted: {', '.join(esc(n) for n in critical_hit)}" if critical_hit else ""
    version = f' <span class="muted small">version {esc(report.model_version)}</span>' if report.model_version else ""
    gates = [f"PSI ≥ {t.psi:g}", f"KS D ≥ {t.ks:g}"]
    if "wasserstein" in t.methods:
        gates.append(f"Wasserstein ≥ {t.wasserstein:g}")
    also = f"; or a missing-rate change ≥ {t.missing:.0%} with its p &lt; {t.alpha:g}" if t.missing else ""
    if any(f.kind == "categorical" for f in report.features):
        also += f"; categories: PSI ≥ {t.psi:g} and BH-adjusted χ² p &lt; {t.alpha:g}"
    facts = {
        **{side: f"<code>{esc(name)}</code>" for side, name in sources.items()},
        "model": f"<code>{esc(report.model)}</code>{version}",
        "drifted features": f"<b>{drifted}</b> of {evaluated}",
        "drift share": f"<b>{report.drift_share:.0%}</b> <span class='muted'>(model drifts at ≥ {t.share:.0%})</span>",
        "rows": f"reference {_int(report.rows.get('reference'))} · current {_int(report.rows.get('current'))}",
        "feature drifts when": f"{' or '.join(gates)}, and BH-adjusted p &lt; {t.alpha:g}{also}",
        "statistics": esc(", ".join(t.methods)),
        "critical features": ", ".join(esc(c) for c in report.critical_features) or "<span class=muted>none</span>",
        "generated": _utc(report.evaluated_at),
    }
    if t.per_feature:
        facts["per-feature thresholds"] = "; ".join(
            f"{esc(name)}: " + ", ".join(f"{esc(k)} {v:g}" for k, v in limits.items())
            for name, limits in sorted(t.per_feature.items())
        )
    prediction = report.prediction
    if prediction is not None:
        facts["prediction"] = _badge(prediction, report) + ' <span class="muted">(not in the drift share)</span>'
    if _has_stable(report):
        facts["stable verdict"] = _yes(report.stable) + ' <span class="muted">(after hysteresis)</span>'
    left_out = [
        f"{esc(SCHEMA_NOTES.get(key, key))}: " + ", ".join(f"<code>{esc(c)}</code>" for c in columns)
        for key, columns in schema.items()
        if columns
    ]
    if left_out:
        facts["not compared"] = "; ".join(left_out)
    wide = {"feature drifts when", "per-feature thresholds", "not compared"}  # long sentences: two columns
    items = "".join(
        f"<div{' class=wide' if k in wide else ''}><dt>{k}</dt><dd>{v}</dd></div>" for k, v in facts.items()
    )
    return (
        f'<header id="{ids}summary" class="summary" data-model="{esc(report.model)}" '
        f'data-drifted="{_bool(report.drifted)}"><h1>{esc(heading)}</h1>'
        f'<div class="verdict">{verdict}<span>{esc(_sentence(report))}{why}</span></div>'
        f'{_headline_reasons(report, ids)}<dl class="facts">{items}</dl></header>'
    )


def _headline_reasons(report: DriftReport, ids: str) -> str:
    """Why, for each drifted feature, largest PSI first: the tests that fired, linked to its section."""
    features = sorted(report.features, key=_order)
    items = [
        f'<li><a href="#{ids}feature-{k}"><b>{esc(f.name)}</b></a>: {esc(_why(f))}</li>'
        for k, f in enumerate(features)
        if f.reasons
    ]
    return f'<ul class="reasons">{"".join(items)}</ul>' if items else ""


def _sentence(report: DriftReport) -> str:
    if report.rows.get("current", 0) == 0:
        return "The current data has no rows: nothing was compared."
    inputs = _inputs(report)
    n, total = sum(1 for f in inputs if f.drifted), sum(1 for f in inputs if f.scores)
    return f"{n} of {total} feature{'s' * (total != 1)} drifted against the reference."


def _overview(features: Sequence[FeatureDrift], report: DriftReport, ids: str) -> str:
    rows = []
    for k, f in enumerate(features):
        view = FeatureView(f, report.thresholds)
        psi = view.statistic("psi")
        test = view.tests[0] if view.tests else None  # the distribution test, or the missing-rate test alone
        shown = f"{esc(test.name)} {_fmt(f.scores.get(test.key))}" if test else f"— {_fmt(None)}"
        rows.append(
            f'<tr data-feature="{esc(f.name)}"><td class="name"><a href="#{ids}feature-{k}">{esc(f.name)}</a></td>'
            f"<td>{esc(_kind(f))}</td><td>{_badge(f, report)}</td>"
            f"<td class='why'>{esc(_why(f))}</td>{_cell(psi.value, psi.over)}"
            f"<td class='num'>{shown}</td>"
            f"{_cell(test.adjusted if test else None, test is not None and test.significant, p=True)}"
            f"<td class='num'>{_rate(f.missing_rate.get('current'))}</td></tr>"
        )
    return (
        f'<h2>Overview</h2><div class="card"><table id="{ids}features"><thead><tr><th>Feature</th><th>Kind</th>'
        '<th>Verdict</th><th>Why</th><th class="num">PSI</th><th class="num">Test statistic</th>'
        '<th class="num">p (BH)</th>'
        f'<th class="num">Missing rate (current)</th></tr></thead><tbody>{"".join(rows)}</tbody></table></div>'
    )


# -- one feature -------------------------------------------------------------------------------


def _feature(f: FeatureDrift, report: DriftReport, k: int, ids: str) -> str:
    reference, current = list(f.bins.get("reference", [])), list(f.bins.get("current", []))
    labels = list(f.bin_labels)
    if f.kind == "categorical":
        chart = category_bars(reference, current, labels, label=f"{f.name}: reference vs current share per category")
    else:
        chart = histogram(reference, current, f.bin_edges, label=f"{f.name} bin shares")
    unseen = f.unseen
    unseen_line = ""
    if unseen:  # the most frequent ones, with their counts
        shown = ", ".join(f"<code>{esc(c)}</code> <span class='muted'>({_int(n)})</span>" for c, n in unseen[:20])
        more = f" and {len(unseen) - 20} more" if len(unseen) > 20 else ""
        unseen_line = (
            f'<p class="unseen">not in the reference (most frequent first): <b>{len(unseen)}</b> '
            f"{'category' if len(unseen) == 1 else 'categories'}: {shown}{more}</p>"
        )
    return (
        f'<section class="feature{" drifted" if f.drifted else ""}" id="{ids}feature-{k}" data-feature="{esc(f.name)}" '
        f'data-kind="{esc(f.kind)}" data-drifted="{_bool(f.drifted)}" data-psi="{_data_number(f.scores.get("psi"))}" '
        f'data-role="{esc(f.role)}"><h3>{esc(f.name)} <span class="muted small kind">{esc(_kind(f))}</span> '
        f"{_badge(f, report)}</h3>{_reasons_line(f)}"
        f"{chart}{unseen_line}{_statistics(FeatureView(f, report.thresholds), report)}"
        f"{_bin_table(reference, current, labels)}</section>"
    )


def _reasons_line(f: FeatureDrift) -> str:
    return f'<p class="reasons"><b>drifted:</b> {esc(_why(f))}</p>' if f.reasons else ""


def _why(f: FeatureDrift) -> str:
    """Every test that fired for `f`, headline first ("" when none did)."""
    return reasons_text(f.reasons, limit=len(FEATURE_TESTS))


def _statistics(view: FeatureView, report: DriftReport) -> str:
    """Two small tables side by side: effect sizes against their gates, tests' p-values against alpha;
    then the missing rates, value counts and (when the report has them) the stable verdicts."""
    f, t = view.feature, report.thresholds
    effects = []
    for stat in view.statistics:
        limit, percent = stat.threshold, stat.key == "missing"
        gate = "" if limit is None else f"≥ {_rate(limit) if percent else f'{limit:g}'}"
        effects.append(
            f"<tr><td>{esc(stat.name)}</td>{_cell(stat.value, stat.over, percent=percent)}<td>{gate}</td></tr>"
        )
    effect = f.effect
    if math.isfinite(effect):
        effects.append(
            f"<tr><td>effect <span class='muted'>(score ÷ gate)</span></td>{_cell(effect, effect >= 1)}"
            "<td>≥ 1</td></tr>"
        )
    tests = [
        f"<tr><td>{esc(test.name)}</td>{_cell(test.adjusted, test.significant, p=True)}"
        f"{_cell(test.pvalue, False, p=True)}</tr>"
        for test in view.tests
    ]
    missing, values = f.missing_rate, f.rows
    facts = [
        f"<span>missing rate <b>{_rate(missing.get('reference'))}</b> → <b>{_rate(missing.get('current'))}</b></span>",
        f"<span>values {_int(values.get('reference'))} → {_int(values.get('current'))}</span>",
    ]
    if _has_stable(report):
        facts.append(
            f"<span class='verdicts'>verdict now <b>{_yes(f.drifted)}</b>, stable <b>{_yes(f.stable)}</b></span>"
        )
    return (
        '<div class="stats"><table class="stats effects small"><thead><tr><th>effect size</th><th class="num">value'
        f"</th><th>drifts at</th></tr></thead><tbody>{''.join(effects)}</tbody></table>"
        '<table class="stats tests small"><thead><tr><th>test</th><th class="num">p (BH)</th>'
        f'<th class="num">p (raw)</th></tr></thead><tbody>{"".join(tests)}</tbody><tfoot><tr>'
        f'<td colspan="3" class="muted">drifts at p (BH) &lt; {t.alpha:g}, with an effect</td></tr></tfoot></table>'
        f'</div><div class="kv small">{"".join(facts)}</div>'
    )


def _bin_table(reference: Sequence[float], current: Sequence[float], labels: Sequence[str]) -> str:
    if not reference:
        return ""
    ref_total, cur_total = sum(reference) or 1, sum(current) or 1
    rows = "".join(
        f"<tr><td class='name'>{esc(_label(labels, k))}</td><td class='num'>{_int(r)}</td>"
        f"<td class='num'>{r / ref_total:.1%}</td><td class='num'>{_int(c)}</td>"
        f"<td class='num'>{c / cur_total:.1%}</td></tr>"
        for k, (r, c) in enumerate(zip(reference, _padded(current, len(reference)), strict=True))
    )
    return (
        f"<details><summary>{len(reference)} bins: counts and shares</summary><table><thead><tr><th>bin</th>"
        '<th class="num">reference</th><th class="num">share</th><th class="num">current</th>'
        f'<th class="num">share</th></tr></thead><tbody>{rows}</tbody></table></details>'
    )


# -- helpers -----------------------------------------------------------------------------------


def _order(f: FeatureDrift) -> tuple[bool, float, str]:
    """Features with scores first, by PSI descending (+inf first, NaN last), then by name."""
    psi = f.scores.get("psi", math.nan)
    return (not f.scores, -psi if not math.isnan(psi) else math.inf, f.name)


def _inputs(report: DriftReport) -> list[FeatureDrift]:
    """The features the drift share counts: every one but the model's output."""
    return [f for f in report.features if f.role != PREDICTION]


def _kind(f: FeatureDrift) -> str:
    return f"{f.kind} · model output" if f.role == PREDICTION else f.kind


def _has_stable(report: DriftReport) -> bool:
    """Whether the report carries hysteresis verdicts: a one-shot `check` has none (all False)."""
    return report.stable or any(f.stable for f in report.features)


def _badge(f: FeatureDrift, report: DriftReport) -> str:
    out = '<span class="badge drift">drifted</span>' if f.drifted else '<span class="badge ok">no drift</span>'
    if not f.scores:
        out = '<span class="badge none">no current values</span>'
    if f.name in report.critical_features:
        out += ' <span class="badge warning">critical</span>'
    return out


def _label(labels: Sequence[str], k: int) -> str:
    """A bin as shown: its category (a pooled one by its shown name, "(other)") or its number."""
    return category_name(labels[k])[0] if k < len(labels) else f"bin {k + 1}"


def _padded(values: Sequence[float], n: int) -> list[float]:
    return [*values[:n], *([0] * (n - len(values)))]


def _cell(value: float | None, over: bool, *, p: bool = False, percent: bool = False) -> str:
    shown = _rate(value) if percent else _fmt(value, p=p)
    return f'<td class="num{" over" if over else ""}">{shown}</td>'


def _fmt(value: float | None, missing: str = "—", *, p: bool = False) -> str:
    if value is None or math.isnan(value):
        return missing
    if math.isinf(value):
        return "∞" if value > 0 else "-∞"
    if p:
        return f"{value:.2g}"
    if abs(value) >= 100:
        return f"{value:,.1f}"
    return f"{value:.3f}" if abs(value) >= 0.001 or value == 0 else f"{value:.2g}"


def _data_number(value: float | None) -> str:
    return "" if value is None or math.isnan(value) else f"{value:.6g}"


def _int(value: object) -> str:
    return "—" if value is None else f"{int(value):,}"  # type: ignore[call-overload]


def _rate(value: float | None) -> str:
    return "—" if value is None or math.isnan(value) else f"{value:.1%}"


def _yes(value: object) -> str:
    return "—" if value is None else "drifted" if value else "no drift"


def _bool(value: bool) -> str:
    return "true" if value else "false"


def _utc(t: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(t))
