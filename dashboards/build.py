"""Grafana dashboards for driftwarden, built from the metric names the exporters define.

`driftwarden dashboards generate [--out DIR]` writes five dashboards (classic Grafana JSON,
schemaVersion 41 as Grafana 12 exports it, importable into Grafana 10 and later) and two
provisioning files:

    drift-overview.json   models × drift share, the features table, score timelines, input and output
                          drift, stable verdicts, realized quality from labels, sampling
    feature-detail.json   one feature: scores vs thresholds, reference vs current bin shares
    latency-slos.json     p50/p95/p99 with exemplars, error rate, burn rates, budget left
    gpu.json              dcgm-exporter's DCGM_FI_DEV_* panels, cost and energy per inference
    driftwarden.json      the daemon itself: ingest, rejects, queue, evaluation, outbox, scrapes
    provisioning/dashboards.yaml    a file provider for these JSON files
    provisioning/datasource.yaml    an example Prometheus data source (exemplars linked to Tempo)

Every panel queries `{"type": "prometheus", "uid": "${datasource}"}`; the `datasource` variable
picks the Prometheus, the others (`model`, `service`, `slo`, `gpu`, `job`, `feature`) come from
`label_values(...)`. Every query is run on a real Prometheus scraping the demo in
tests/test_dashboards.py, so a panel on a metric that is not exported fails the suite.

Plain dict builders rather than grafana-foundation-sdk: the SDK's PyPI releases are per Grafana
minor version behind a timestamp epoch (a bare `pip install` picks the Grafana 10.1 types, nothing
newer than 11.6 is published) and a handful of small functions here write the same JSON.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from driftwarden.collector import gpu as dcgm
from driftwarden.config import DriftSettings
from driftwarden.detectors.gpu import CRITICAL_XIDS
from driftwarden.detectors.slo import BURN_TIERS
from driftwarden.exporters import gpu as g
from driftwarden.exporters import metrics as m

__all__ = ["DATASOURCE", "SCHEMA_VERSION", "build", "provisioning", "render", "write"]

SCHEMA_VERSION = 41
DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}
RATE = "$__rate_interval"
TAG = "driftwarden"
DRIFT = DriftSettings()  # the default thresholds, drawn as lines (a model may override them)
Panel = dict[str, Any]


# --- PromQL -------------------------------------------------------------------------------------


def sel(metric: str, **labels: str) -> str:
    """`metric{label="value",...}`; a value starting with `~` is a regex match (`=~`)."""
    matchers = [f'{k}=~"{v[1:]}"' if v.startswith("~") else f'{k}="{v}"' for k, v in labels.items()]
    return f"{metric}{{{','.join(matchers)}}}" if matchers else metric


def rate(series: str, by: str = "") -> str:
    inner = f"rate({series}[{RATE}])"
    return f"sum by ({by}) ({inner})" if by else f"sum({inner})"


def quantile(q: float, buckets: str, by: str = "") -> str:
    return f"histogram_quantile({q}, {rate(buckets, f'le, {by}' if by else 'le')})"


def share(counts: str) -> str:
    """Each bin's share of the window, summed over replicas first (the counts are mergeable)."""
    return f"sum by (bin) ({counts}) / ignoring(bin) group_left sum({counts})"


# --- panels -------------------------------------------------------------------------------------


def target(expr: str, legend: str = "", *, instant: bool = False, fmt: str = "", exemplar: bool = False) -> dict:
    t: dict[str, Any] = {"datasource": DATASOURCE, "expr": expr, "instant": instant, "range": not instant}
    if legend:
        t["legendFormat"] = legend
    if fmt:
        t["format"] = fmt
    if exemplar:
        t["exemplar"] = True
    return t


def thresholds(*steps: tuple[str, float | None]) -> dict:
    return {"mode": "absolute", "steps": [{"color": c, "value": v} for c, v in steps]}


def mapping(values: Mapping[str, tuple[str, str]]) -> list[dict]:
    """Value mappings: raw value -> (text, color)."""
    options = {raw: {"text": text, "color": color, "index": i} for i, (raw, (text, color)) in enumerate(values.items())}
    return [{"type": "value", "options": options}]


VERDICT = mapping({"0": ("ok", "green"), "1": ("drifted", "red")})
DASHED = {"custom.lineStyle": {"fill": "dash", "dash": [10, 10]}}


def panel(kind: str, title: str, targets: Sequence[dict], *, w: int = 12, h: int = 8, description: str = "") -> Panel:
    p: Panel = {
        "type": kind,
        "title": title,
        "datasource": DATASOURCE,
        "targets": [{**t, "refId": chr(ord("A") + i)} for i, t in enumerate(targets)],
        "fieldConfig": {"defaults": {}, "overrides": []},
        "options": {},
        "_size": (w, h),
    }
    if description:
        p["description"] = description
    return p


def defaults(p: Panel, **values: Any) -> Panel:
    p["fieldConfig"]["defaults"].update(values)
    return p


def timeseries(
    title: str,
    targets: Sequence[dict],
    *,
    unit: str = "short",
    lines: Iterable[float] = (),
    log: bool = False,
    stack: bool = False,
    **size: Any,
) -> Panel:
    """A time series; `lines` are thresholds drawn as dashed lines (red above)."""
    p = panel("timeseries", title, targets, **size)
    custom: dict[str, Any] = {
        "drawStyle": "line",
        "fillOpacity": 10 if stack else 0,
        "lineWidth": 1,
        "showPoints": "never",
    }
    levels = sorted(lines)
    if levels:
        custom["thresholdsStyle"] = {"mode": "dashed"}
    if log:
        custom["scaleDistribution"] = {"type": "log", "log": 10}
    if stack:
        custom["stacking"] = {"mode": "normal", "group": "A"}
    colors = ["orange"] * (len(levels) - 1) + ["red"] if levels else []
    defaults(p, unit=unit, custom=custom, thresholds=thresholds(("green", None), *zip(colors, levels, strict=True)))
    p["options"] = {
        "legend": {"displayMode": "list", "placement": "bottom", "showLegend": True},
        "tooltip": {"mode": "multi", "sort": "desc"},
    }
    return p


def stat(title: str, targets: Sequence[dict], *, unit: str = "short", steps: Sequence = (), **kw: Any) -> Panel:
    p = panel("stat", title, targets, **{"w": 6, "h": 4, **kw})
    defaults(p, unit=unit, thresholds=thresholds(("green", None), *steps))
    p["options"] = {
        "colorMode": "background" if steps else "value",
        "graphMode": "none",
        "justifyMode": "auto",
        "orientation": "auto",
        "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
        "textMode": "value_and_name",
    }
    return p


def bargauge(title: str, targets: Sequence[dict], *, unit: str, steps: Sequence = (), **kw: Any) -> Panel:
    p = panel("bargauge", title, targets, **kw)
    defaults(p, unit=unit, thresholds=thresholds(("green", None), *steps))
    p["options"] = {
        "displayMode": "gradient",
        "orientation": "horizontal",
        "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
        "showUnfilled": True,
    }
    return p


def table(title: str, columns: Mapping[str, str], *, by: str, **kw: Any) -> Panel:
    """One row per `by` label set, one column per query (`max by (...)` of each, instant), sorted
    by the first column."""
    targets = [target(f"max by ({by}) ({expr})", instant=True, fmt="table") for expr in columns.values()]
    p = panel("table", title, targets, **kw)
    names = {f"Value #{chr(ord('A') + i)}": name for i, name in enumerate(columns)}
    p["transformations"] = [
        {"id": "merge", "options": {}},
        {"id": "organize", "options": {"excludeByName": {"Time": True}, "renameByName": names}},
    ]
    p["options"] = {"showHeader": True, "sortBy": [{"displayName": next(iter(columns)), "desc": True}]}
    return p


def override(p: Panel, field: str, properties: Mapping[str, Any], *, matcher: str = "byName") -> Panel:
    """Field properties for the fields `field` names (`matcher` byName, or byRegexp)."""
    p["fieldConfig"]["overrides"].append(
        {
            "matcher": {"id": matcher, "options": field},
            "properties": [{"id": k, "value": v} for k, v in properties.items()],
        }
    )
    return p


# --- dashboards ---------------------------------------------------------------------------------


def datasource_variable() -> dict:
    return {
        "name": "datasource",
        "label": "Data source",
        "type": "datasource",
        "query": "prometheus",
        "current": {},
        "hide": 0,
        "includeAll": False,
        "multi": False,
        "options": [],
        "refresh": 1,
        "regex": "",
    }


def variable(name: str, label: str, metric: str, *, multi: bool = True) -> dict:
    """A query variable `label_values(metric, name)`; multi-valued ones have All (`.*`)."""
    query = f"label_values({metric}, {name})"
    v = {
        "name": name,
        "label": label,
        "type": "query",
        "datasource": DATASOURCE,
        "query": query,
        "definition": query,
        "current": {},
        "hide": 0,
        "includeAll": multi,
        "multi": multi,
        "options": [],
        "refresh": 2,
        "regex": "",
        "sort": 1,
    }
    if multi:
        v["allValue"] = ".*"
    return v


def layout(panels: Sequence[Panel]) -> list[Panel]:
    """Left to right on Grafana's 24-column grid, wrapping; ids in reading order."""
    placed, x, y, row_h = [], 0, 0, 0
    for i, p in enumerate(panels, start=1):
        w, h = p.pop("_size")
        if x + w > 24:
            x, y, row_h = 0, y + row_h, 0
        placed.append({**p, "id": i, "gridPos": {"x": x, "y": y, "w": w, "h": h}})
        x, row_h = x + w, max(row_h, h)
    return placed


def dashboard(uid: str, title: str, description: str, variables: Sequence[dict], panels: Sequence[Panel]) -> dict:
    return {
        "annotations": {
            "list": [
                {
                    "builtIn": 1,
                    "datasource": {"type": "grafana", "uid": "-- Grafana --"},
                    "enable": True,
                    "hide": True,
                    "iconColor": "rgba(0, 211, 255, 1)",
                    "name": "Annotations & Alerts",
                    "type": "dashboard",
                }
            ]
        },
        "description": description,
        "editable": True,
        "graphTooltip": 1,
        "id": None,
        "links": [
            {
                "asDropdown": True,
                "includeVars": True,
                "keepTime": True,
                "tags": [TAG],
                "title": "driftwarden",
                "type": "dashboards",
            }
        ],
        "panels": layout(panels),
        "refresh": "30s",
        "schemaVersion": SCHEMA_VERSION,
        "tags": [TAG],
        "templating": {"list": [datasource_variable(), *variables]},
        "time": {"from": "now-1h", "to": "now"},
        "timepicker": {},
        "timezone": "browser",
        "title": title,
        "uid": uid,
        "version": 1,
    }


MODEL = variable("model", "Model", m.WINDOW_ROWS)


def drift_overview() -> dict:
    model = "~$model"
    share_panel = bargauge(
        "Drift share by model",
        [target(sel(m.MODEL_DRIFT_SHARE, model=model), "{{model}}", instant=True)],
        unit="percentunit",
        steps=[("red", DRIFT.share)],
        w=8,
        description=f"Share of each model's features that drifted; a model drifts at {DRIFT.share:.0%} "
        "(default) or when a critical feature drifts.",
    )
    defaults(share_panel, min=0, max=1)
    verdict = stat(
        "Model verdict: now and stable",
        [
            target(sel(m.MODEL_DRIFTED, model=model), "{{model}} now"),
            target(sel(m.MODEL_DRIFTED_STABLE, model=model), "{{model}} stable"),
        ],
        steps=[("red", 1)],
        w=8,
        h=8,
        description="The model's verdict at its last evaluation (driftwarden_model_drifted), and the stable one "
        "(driftwarden_model_drifted_stable): the same rule over features held drifted for `alerting.for` "
        "evaluations and cleared only below 80 % of their threshold, which is what alerts follow.",
    )
    defaults(verdict, mappings=VERDICT)
    since = stat(
        "Since last evaluation",
        [target(f"time() - {sel(m.LAST_EVALUATION, model=model)}", "{{model}}")],
        unit="s",
        w=8,
        h=8,
        description="Seconds since each model's last drift evaluation (evaluate_every, 30 s by default).",
    )
    features = table(
        "Features: verdict, scores, missing values",
        {
            "drifted": sel(m.FEATURE_DRIFTED, model=model),
            "stable": sel(m.FEATURE_DRIFTED_STABLE, model=model),
            "PSI": sel(m.FEATURE_DRIFT_SCORE, model=model, method="psi"),
            "KS D": sel(m.FEATURE_DRIFT_SCORE, model=model, method="ks"),
            "missing (current)": sel(m.FEATURE_MISSING_RATIO, model=model, window="current"),
        },
        by="model, feature",
        w=24,
        h=10,
        description="Every feature at the last evaluation, drifted ones first. A feature drifts when PSI or KS D "
        "passes its threshold and the BH-adjusted p-value is below alpha; `stable` is the verdict held for "
        "`alerting.for` evaluations, with hysteresis. The `prediction` row is the model's output. Click a feature "
        "for its detail.",
    )
    for column in ("drifted", "stable"):
        override(features, column, {"mappings": VERDICT, "custom.cellOptions": {"type": "color-background"}})
    override(features, "missing (current)", {"unit": "percentunit"})
    detail = (
        "/d/driftwarden-feature?${datasource:queryparam}&var-model=${__data.fields.model}"
        "&var-feature=${__value.raw}&${__url_time_range}"
    )
    override(features, "feature", {"links": [{"title": "Feature detail", "url": detail}]})
    psi = timeseries(
        "PSI by feature",
        [target(sel(m.FEATURE_DRIFT_SCORE, model=model, method="psi"), "{{model}} {{feature}}")],
        lines=[DRIFT.psi],
        description=f"Population stability index per feature; the dashed line is the default threshold {DRIFT.psi}.",
    )
    ks = timeseries(
        "KS D by feature",
        [target(sel(m.FEATURE_DRIFT_SCORE, model=model, method="ks"), "{{model}} {{feature}}")],
        lines=[DRIFT.ks],
        description=f"Kolmogorov-Smirnov statistic D per numeric feature; dashed: the default threshold {DRIFT.ks}.",
    )
    missing = timeseries(
        "Missing values (current window)",
        [target(sel(m.FEATURE_MISSING_RATIO, model=model, window="current"), "{{model}} {{feature}}")],
        unit="percentunit",
        description="Share of null values per feature in the current window (the reference's is on the "
        "feature detail dashboard).",
    )
    rows = timeseries(
        "Window rows",
        [target(sel(m.WINDOW_ROWS, model=model), "{{model}} {{window}}")],
        description="Rows in each model's reference profile and current window.",
    )
    input_drift = timeseries(
        "Input drift: share and verdict",
        [
            target(sel(m.MODEL_DRIFT_SHARE, model=model), "{{model}} share"),
            target(sel(m.MODEL_DRIFTED, model=model), "{{model}} drifted"),
        ],
        unit="percentunit",
        lines=[DRIFT.share],
        description="Input (feature) drift over time: the drifted share and the model verdict (1 = drifted).",
    )
    prediction = timeseries(
        "Output drift: the prediction's PSI and KS D",
        [
            target(sel(m.PREDICTION_DRIFT_SCORE, model=model, method="psi"), "{{model}} PSI"),
            target(sel(m.PREDICTION_DRIFT_SCORE, model=model, method="ks"), "{{model}} KS D"),
        ],
        lines=[DRIFT.ks, DRIFT.psi],
        description="Drift of the model's output (the records' `prediction`), kept out of the input share: "
        f"output drift with no input drift points at the model, input drift with none at its output may be "
        f"harmless. Dashed: the default thresholds, KS D {DRIFT.ks} and PSI {DRIFT.psi}.",
    )
    stable = panel(
        "state-timeline",
        "Stable verdicts",
        [
            target(sel(m.MODEL_DRIFTED_STABLE, model=model), "{{model}} (model)"),
            target(sel(m.FEATURE_DRIFTED_STABLE, model=model), "{{model}} {{feature}}"),
        ],
        w=24,
        h=9,
        description="driftwarden_model_drifted_stable and driftwarden_feature_drifted_stable over time: a "
        "verdict turns on after `alerting.for` drifted evaluations and off only when the effect falls below "
        "80 % of its threshold, so one noisy evaluation neither raises nor clears it.",
    )
    defaults(stable, mappings=VERDICT, thresholds=thresholds(("green", None), ("red", 1)))
    stable["options"] = {
        "showValue": "never",
        "mergeValues": True,
        "rowHeight": 0.9,
        "alignValue": "left",
        "legend": {"displayMode": "list", "placement": "bottom", "showLegend": False},
        "tooltip": {"mode": "single", "sort": "none"},
    }
    quality = timeseries(
        "Realized quality vs baseline",
        [
            target(sel(m.MODEL_QUALITY, model=model), "{{model}} {{metric}}"),
            target(sel(m.MODEL_QUALITY_BASELINE, model=model), "{{model}} {{metric}} baseline"),
        ],
        w=12,
        description="Quality over the last window of predictions joined to their labels (POST /v1/labels): "
        "accuracy and F1 for classes, MAE and RMSE for numbers. Dashed: the same over the first full window "
        "of labels; accuracy 5 points under it (z-test) or MAE x1.2 (KS) fires ModelQualityDegraded.",
    )
    override(quality, ".* (accuracy|f1)( baseline)?", {"unit": "percentunit"}, matcher="byRegexp")
    override(quality, ".* baseline", DASHED, matcher="byRegexp")
    labels_total = m.LABELS + "_total"
    labels = timeseries(
        "Labels joined: matched and unmatched",
        [target(rate(sel(labels_total, model=model), "model, outcome"), "{{model}} {{outcome}}")],
        unit="rps",
        w=12,
        description="Labels per second posted to /v1/labels: matched to a sampled prediction waiting for it, "
        "or unmatched (never sampled, expired after label_ttl, or an unknown request id).",
    )
    override(labels, ".* unmatched", {"color": {"mode": "fixed", "fixedColor": "orange"}}, matcher="byRegexp")
    pending = timeseries(
        "Predictions waiting for a label",
        [target(sel(m.LABELS_PENDING, model=model), "{{model}}")],
        w=12,
        description="Sampled predictions with a request id whose label has not come yet (kept for label_ttl).",
    )
    sampled_out = timeseries(
        "Records sampled out",
        [target(rate(sel(m.RECORDS_SAMPLED_OUT + "_total", model=model), "model, source"), "{{model}} {{source}}")],
        unit="rps",
        w=12,
        description="Records per second left out by the model's sample_rate (by a hash of request_id, so a "
        "record and its label are kept or dropped together); the windows and the label join see the rest.",
    )
    return dashboard(
        "driftwarden-drift-overview",
        "driftwarden / Drift overview",
        "Which models and features drifted, by how much, and since when; the model's output next to its inputs, "
        "and its realized quality from delayed labels.",
        [MODEL],
        [
            share_panel,
            verdict,
            since,
            features,
            psi,
            ks,
            input_drift,
            prediction,
            stable,
            quality,
            labels,
            pending,
            sampled_out,
            missing,
            rows,
        ],
    )


def feature_detail() -> dict:
    model, feature = "$model", "$feature"
    bins = m.FEATURE_BIN_VALUES
    verdict = stat(
        "Verdict",
        [target(sel(m.FEATURE_DRIFTED, model=model, feature=feature), "{{feature}}")],
        steps=[("red", 1)],
        description="driftwarden_feature_drifted at the last evaluation.",
    )
    defaults(verdict, mappings=VERDICT)
    missing = stat(
        "Missing values",
        [target(sel(m.FEATURE_MISSING_RATIO, model=model, feature=feature), "{{window}}")],
        unit="percentunit",
        w=18,
        description="Share of nulls in the reference and in the current window.",
    )
    psi = timeseries(
        "PSI vs threshold",
        [target(sel(m.FEATURE_DRIFT_SCORE, model=model, feature=feature, method="psi"), "PSI")],
        lines=[DRIFT.psi],
        w=8,
        description=f"Population stability index; dashed: the default threshold {DRIFT.psi}.",
    )
    ks = timeseries(
        "KS D vs threshold",
        [target(sel(m.FEATURE_DRIFT_SCORE, model=model, feature=feature, method="ks"), "KS D")],
        lines=[DRIFT.ks],
        w=8,
        description=f"Kolmogorov-Smirnov D (numeric features); dashed: the default threshold {DRIFT.ks}.",
    )
    pvalue = timeseries(
        "p-value (BH-adjusted) vs alpha",
        [target(sel(m.FEATURE_DRIFT_PVALUE, model=model, feature=feature), "{{method}}")],
        lines=[DRIFT.alpha],
        log=True,
        w=8,
        description=f"The test's p-value after Benjamini-Hochberg correction across the model's features; "
        f"drift needs it below alpha ({DRIFT.alpha}) as well as an effect size above its threshold.",
    )
    reference = share(sel(bins, model=model, feature=feature, window="reference"))
    current = share(sel(bins, model=model, feature=feature, window="current"))
    histogram = panel(
        "barchart",
        "Reference vs current: share per bin",
        [target(reference, instant=True, fmt="table"), target(current, instant=True, fmt="table")],
        w=24,
        h=9,
        description="Share of values in each reference-quantile bin (0 = lowest), summed over replicas: the "
        "reference spreads evenly, a drifted current window does not.",
    )
    histogram["transformations"] = [
        {"id": "merge", "options": {}},
        {
            "id": "organize",
            "options": {
                "excludeByName": {"Time": True},
                "renameByName": {"Value #A": "reference", "Value #B": "current"},
            },
        },
        {"id": "convertFieldType", "options": {"conversions": [{"targetField": "bin", "destinationType": "number"}]}},
        {"id": "sortBy", "options": {"sort": [{"field": "bin"}]}},
        {"id": "convertFieldType", "options": {"conversions": [{"targetField": "bin", "destinationType": "string"}]}},
    ]
    defaults(histogram, unit="percentunit", min=0)
    histogram["options"] = {
        "xField": "bin",
        "orientation": "vertical",
        "groupWidth": 0.7,
        "barWidth": 0.9,
        "showValue": "never",
        "legend": {"displayMode": "list", "placement": "bottom", "showLegend": True},
        "tooltip": {"mode": "multi", "sort": "none"},
    }
    over_time = timeseries(
        "Current window: share per bin over time",
        [target(current, "bin {{bin}}")],
        unit="percentunit",
        stack=True,
        w=24,
        description="How the current window's values move across the reference bins.",
    )
    return dashboard(
        "driftwarden-feature",
        "driftwarden / Feature detail",
        "One feature of one model: its drift statistics against their thresholds and its distribution.",
        [
            variable("model", "Model", m.WINDOW_ROWS, multi=False),
            variable("feature", "Feature", sel(m.FEATURE_DRIFTED, model=model), multi=False),
        ],
        [verdict, missing, psi, ks, pvalue, histogram, over_time],
    )


def latency_slos() -> dict:
    service, slo = "~$service", "~$slo"
    buckets = sel(m.REQUEST_DURATION + "_bucket", service=service)
    count = m.REQUEST_DURATION + "_count"
    latency = timeseries(
        "Latency p50 / p95 / p99",
        [target(quantile(q, buckets), f"p{q * 100:g}", exemplar=True) for q in (0.5, 0.95, 0.99)],
        unit="s",
        w=16,
        description="Quantiles from driftwarden_request_duration_seconds (SERVER/root spans). Exemplars carry "
        "the trace id of a request in each bucket: a dot links a latency spike to its trace.",
    )
    requests = timeseries(
        "Requests by status",
        [target(rate(sel(count, service=service), "status"), "{{status}}")],
        unit="reqps",
        w=8,
    )
    failed, total = rate(sel(count, service=service, status="error")), rate(sel(count, service=service))
    errors = timeseries(
        "Error rate",
        [target(f"({failed} or vector(0)) / {total}", "errors")],
        unit="percentunit",
        w=8,
        description="Share of requests whose span status is an error (no error series yet counts as zero).",
    )
    by_operation = timeseries(
        "p99 by model and operation",
        [target(quantile(0.99, buckets, "model, operation"), "{{model}} {{operation}}")],
        unit="s",
        w=8,
    )
    heat = panel(
        "heatmap",
        "Latency distribution",
        [target(f"sum by (le) (rate({buckets}[{RATE}]))", "{{le}}", fmt="heatmap")],
        w=8,
        description="Requests per latency bucket over time.",
    )
    heat["options"] = {
        "calculate": False,
        "cellGap": 1,
        "color": {"mode": "scheme", "scheme": "Oranges", "steps": 64},
        "yAxis": {"unit": "s"},
        "tooltip": {"mode": "single", "yHistogram": True},
        "legend": {"show": True},
        "exemplars": {"color": "rgba(255,0,255,0.7)"},
    }
    factors = sorted({factor for _, factor, _, _ in BURN_TIERS})
    burn = timeseries(
        "Burn rate by window",
        [target(sel(m.SLO_BURN_RATE, slo=slo), "{{slo}} {{window}}")],
        lines=factors,
        w=16,
        description="Error-budget burn rate per window (1 = spending exactly the budget over the period). "
        "Dashed: the multi-window tiers, "
        + ", ".join(f"{sev.value} {factor:g}x over {long} and {short}" for sev, factor, long, short in BURN_TIERS)
        + ".",
    )
    budget = bargauge(
        "Error budget remaining",
        [target(sel(m.SLO_ERROR_BUDGET_REMAINING, slo=slo), "{{slo}}", instant=True)],
        unit="percentunit",
        w=8,
        description="Share of the period's error budget left (negative: overspent).",
    )
    defaults(budget, max=1, thresholds=thresholds(("red", None), ("orange", 0), ("green", 0.25)))
    events = timeseries(
        "SLO events: good and bad",
        [target(rate(sel(m.SLO_EVENTS + "_total", slo=slo), "slo, outcome"), "{{slo}} {{outcome}}")],
        unit="reqps",
        w=16,
        description="Requests counted by each SLO (kept across restarts).",
    )
    objective = stat(
        "Objective",
        [target(sel(m.SLO_OBJECTIVE, slo=slo), "{{slo}}")],
        unit="percentunit",
        w=8,
        h=8,
    )
    defaults(objective, decimals=2)
    return dashboard(
        "driftwarden-slos",
        "driftwarden / Latency and SLOs",
        "Request latency from the model server's traces, and the SLOs' burn rates and budgets.",
        [
            variable("service", "Service", count),
            variable("slo", "SLO", m.SLO_OBJECTIVE),
        ],
        [latency, requests, errors, by_operation, heat, burn, budget, events, objective],
    )


def gpu() -> dict:
    gpu_ = "~$gpu"
    legend = "{{Hostname}} GPU {{gpu}}"

    def series(name: str, title: str, unit: str, description: str, **kw: Any) -> Panel:
        return timeseries(title, [target(sel(name, gpu=gpu_), legend)], unit=unit, description=description, **kw)

    available = stat(
        "GPU availability",
        [target(f"sum({g.GPU_AVAILABLE})", "daemons with a GPU"), target(f"sum({g.GPU_LOST})", "GPUs lost")],
        w=6,
        h=8,
        description="Daemons whose NVML sees a GPU, and GPUs reported lost (fell off the bus).",
    )
    xid = stat(
        "Last XID error",
        [target(sel(dcgm.XID_ERRORS, gpu=gpu_), legend)],
        steps=[("red", 1)],
        w=6,
        h=8,
        description=f"The last XID seen per GPU (0: none since start); "
        f"{', '.join(map(str, sorted(CRITICAL_XIDS)))} page.",
    )
    defaults(xid, mappings=mapping({"0": ("none", "green")}))
    memory = timeseries(
        "Framebuffer memory",
        [
            target(sel(dcgm.FB_USED, gpu=gpu_), legend + " used"),
            target(sel(dcgm.FB_FREE, gpu=gpu_), legend + " free"),
        ],
        unit="mbytes",
        description="DCGM_FI_DEV_FB_USED and _FB_FREE (MiB).",
    )
    temperature = timeseries(
        "Temperature",
        [
            target(sel(dcgm.GPU_TEMP, gpu=gpu_), legend + " core"),
            target(sel(dcgm.MEMORY_TEMP, gpu=gpu_), legend + " memory"),
        ],
        unit="celsius",
    )
    model = "~$model"
    cost = timeseries(
        "Cost per inference",
        [target(sel(g.INFERENCE_COST, model=model), "{{model}} ({{window}})")],
        unit="currencyUSD",
        description="GPU cost per request over the window: window x GPUs used x gpu.cost_per_hour / 3600 / "
        "requests (gpu.cost_per_hour must be set).",
    )
    energy = timeseries(
        "Energy per inference",
        [target(sel(g.INFERENCE_ENERGY, model=model), "{{model}} ({{window}})")],
        unit="joule",
        description="The model's share of its GPUs' energy over the window, divided by its requests.",
    )
    return dashboard(
        "driftwarden-gpu",
        "driftwarden / GPU",
        "dcgm-exporter-compatible GPU telemetry from NVML, and what an inference costs.",
        [variable("gpu", "GPU", dcgm.GPU_UTIL), variable("model", "Model", g.INFERENCE_COST)],
        [
            series(dcgm.GPU_UTIL, "GPU utilization", "percent", "DCGM_FI_DEV_GPU_UTIL.", w=12),
            available,
            xid,
            memory,
            series(dcgm.POWER_USAGE, "Power draw", "watt", "DCGM_FI_DEV_POWER_USAGE."),
            temperature,
            series(dcgm.SM_CLOCK, "SM clock", "rotmhz", "DCGM_FI_DEV_SM_CLOCK."),
            cost,
            energy,
        ],
    )


def daemon() -> dict:
    job, model = "~$job", "~$model"
    records = timeseries(
        "Records ingested",
        [target(rate(sel(m.RECORDS + "_total", job=job, model=model), "model, source"), "{{model}} {{source}}")],
        unit="rps",
        w=8,
    )
    spans = timeseries(
        "Spans by outcome",
        [target(rate(sel(m.SPANS + "_total", job=job), "outcome"), "{{outcome}}")],
        unit="rps",
        w=8,
    )
    up = stat(
        "Up",
        [target(sel("up", job=job), "{{instance}}")],
        w=8,
        h=8,
        description="Prometheus reaching each daemon.",
    )
    defaults(up, mappings=mapping({"0": ("down", "red"), "1": ("up", "green")}))
    rejected = timeseries(
        "Records rejected by reason",
        [target(rate(sel(m.RECORDS_REJECTED + "_total", job=job), "source, reason"), "{{source}} {{reason}}")],
        unit="rps",
        description="Prediction records refused one by one (the rest of their request was accepted).",
    )
    refused = timeseries(
        "Requests refused by reason",
        [target(rate(sel(m.REQUESTS_REJECTED + "_total", job=job), "endpoint, reason"), "{{endpoint}} {{reason}}")],
        unit="reqps",
        description="Whole requests refused: auth, size, media type, unreadable body, queue full (429).",
    )
    queue = timeseries(
        "Queue depth",
        [
            target(sel(m.QUEUE_ROWS, job=job), "{{instance}} rows"),
            target(f"{sel(m.QUEUE_ROWS, job=job)} / {sel(m.QUEUE_CAPACITY_ROWS, job=job)}", "{{instance}} fill"),
        ],
        w=8,
        description="Rows admitted and not yet in a window, and the share of the 429 limit they fill.",
    )
    override(queue, ".* fill", {"unit": "percentunit"}, matcher="byRegexp")
    evaluations = sel(m.EVALUATION_DURATION + "_bucket", job=job, model=model)
    evaluation = timeseries(
        "Drift evaluation duration",
        [target(quantile(q, evaluations, "model"), f"{{{{model}}}} p{q * 100:g}") for q in (0.5, 0.99)],
        unit="s",
        w=8,
    )
    firing = stat(
        "Alerts firing",
        [target(f"sum by (alertname, severity) ({sel(m.ALERTS_FIRING, job=job)})", "{{alertname}} {{severity}}")],
        steps=[("red", 1)],
        w=8,
        h=8,
    )
    outbox = timeseries(
        "Outbox backlog",
        [target(f"sum by (receiver) ({sel(m.OUTBOX_PENDING, job=job)})", "{{receiver}}")],
        w=12,
        description="Notifications waiting for delivery (retries with backoff); a growing line is a receiver down.",
    )
    deliveries = timeseries(
        "Notification deliveries",
        [
            target(
                f"sum by (receiver, outcome) (increase({sel(m.WEBHOOK_DELIVERIES + '_total', job=job)}[{RATE}]))",
                "{{receiver}} {{outcome}}",
            )
        ],
        w=12,
    )
    scrape = timeseries(
        "Scrape duration",
        [target(sel("scrape_duration_seconds", job=job), "{{instance}}")],
        unit="s",
        w=12,
        description="How long Prometheus takes to scrape /metrics (all detector state is read at scrape time).",
    )
    samples = timeseries(
        "Samples per scrape",
        [target(sel("scrape_samples_scraped", job=job), "{{instance}}")],
        w=12,
        description="Series in one scrape: feature and label cardinality at a glance.",
    )
    return dashboard(
        "driftwarden-self",
        "driftwarden / Daemon",
        "driftwarden itself: ingest, rejects, queue, evaluation time, alert delivery, scrapes.",
        [variable("job", "Job", m.QUEUE_ROWS), MODEL],
        [records, spans, up, rejected, refused, queue, evaluation, firing, outbox, deliveries, scrape, samples],
    )


DASHBOARDS = {
    "drift-overview.json": drift_overview,
    "feature-detail.json": feature_detail,
    "latency-slos.json": latency_slos,
    "gpu.json": gpu,
    "driftwarden.json": daemon,
}


def build() -> dict[str, dict]:
    """File name -> dashboard."""
    return {name: make() for name, make in DASHBOARDS.items()}


# --- provisioning -------------------------------------------------------------------------------

PROVIDER = """\
# Grafana file provisioning for driftwarden's dashboards (generated by `driftwarden dashboards generate`).
# Put this file in Grafana's provisioning/dashboards/ and the dashboards/*.json files in `path`
# (e.g. a ConfigMap mounted there, or the Grafana Helm chart's dashboard sidecar).
apiVersion: 1
providers:
  - name: driftwarden
    orgId: 1
    folder: driftwarden
    type: file
    disableDeletion: false
    allowUiUpdates: false
    updateIntervalSeconds: 60
    options:
      path: /var/lib/grafana/dashboards/driftwarden
      foldersFromFilesStructure: false
"""

DATASOURCE_EXAMPLE = """\
# An example Prometheus data source for Grafana's provisioning/datasources/ (generated by
# `driftwarden dashboards generate`). The dashboards pick any Prometheus through their
# `datasource` variable; this one links latency exemplars (label trace_id) to a Tempo data source.
apiVersion: 1
datasources:
  - name: Prometheus
    type: prometheus
    uid: prometheus
    access: proxy
    url: http://prometheus:9090
    isDefault: true
    jsonData:
      httpMethod: POST
      timeInterval: 15s  # the scrape interval, which $__rate_interval is derived from
      exemplarTraceIdDestinations:
        - name: trace_id
          datasourceUid: tempo
"""


def provisioning() -> dict[str, str]:
    return {"provisioning/dashboards.yaml": PROVIDER, "provisioning/datasource.yaml": DATASOURCE_EXAMPLE}


def render() -> dict[str, str]:
    """Relative path -> file content, byte for byte what `write` writes."""
    files = {name: json.dumps(d, indent=2, sort_keys=True, ensure_ascii=False) + "\n" for name, d in build().items()}
    return {**files, **provisioning()}


def write(out: Path) -> list[Path]:
    written = []
    for name, content in render().items():
        path = out / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content, encoding="utf-8")
        written.append(path)
    return written
