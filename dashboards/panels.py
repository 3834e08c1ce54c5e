"""The shared builders of driftwarden's Grafana dashboards: PromQL selectors, panels, variables and
the dashboard around them.

Plain dict builders rather than grafana-foundation-sdk: the SDK's PyPI releases are per Grafana
minor version behind a timestamp epoch (a bare `pip install` picks the Grafana 10.1 types, nothing
newer than 11.6 is published) and a handful of small functions here write the same JSON. A panel
carries its size in `_size` until `dashboard()` lays the panels out on Grafana's grid.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from driftwarden.core import metric_names as m
from driftwarden.params import DEFAULT_THRESHOLDS

__all__ = [
    "DASHED",
    "DATASOURCE",
    "DRIFT",
    "MODEL",
    "RATE",
    "SCHEMA_VERSION",
    "SCOPE",
    "TAG",
    "VERDICT",
    "Json",
    "Panel",
    "bargauge",
    "dashboard",
    "datasource_variable",
    "defaults",
    "layout",
    "mapping",
    "override",
    "panel",
    "quantile",
    "rate",
    "scope_variables",
    "sel",
    "share",
    "stat",
    "table",
    "target",
    "thresholds",
    "timeseries",
    "variable",
]

SCHEMA_VERSION = 41
DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}
RATE = "$__rate_interval"
TAG = "driftwarden"
DRIFT = DEFAULT_THRESHOLDS  # the default thresholds, drawn as lines (a model may override them)
Json = dict[str, Any]  # a Grafana JSON object: a target, a variable, a dashboard
Panel = dict[str, Any]  # a panel, with its size in `_size` until `layout()`


# The labels Prometheus' Kubernetes service discovery puts on every series of a pod (deploy/kubernetes/
# podmonitor.yaml: `model_version` from the pod's app.kubernetes.io/version): every dashboard has a variable
# for each and every selector matches them. A series without the label (a static scrape) matches `.*`, All.
SCOPE = ("namespace", "model_version", "pod")
SCOPE_METRIC = m.QUEUE_ROWS  # what the SCOPE variables list the values of: every daemon exports it from its start


# --- PromQL -------------------------------------------------------------------------------------


def sel(metric: str, *, scoped: bool = True, **labels: str) -> str:
    """`metric{label="value",...}`; a value starting with `~` is a regex match (`=~`). Scoped: first
    `namespace=~"$namespace",model_version=~"$model_version",pod=~"$pod"` (the dashboard's SCOPE variables)."""
    scope = {name: f"~${name}" for name in SCOPE} if scoped else {}
    matchers = [f'{k}=~"{v[1:]}"' if v.startswith("~") else f'{k}="{v}"' for k, v in {**scope, **labels}.items()]
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


def target(expr: str, legend: str = "", *, instant: bool = False, fmt: str = "", exemplar: bool = False) -> Json:
    t: Json = {"datasource": DATASOURCE, "expr": expr, "instant": instant, "range": not instant}
    if legend:
        t["legendFormat"] = legend
    if fmt:
        t["format"] = fmt
    if exemplar:
        t["exemplar"] = True
    return t


def thresholds(*steps: tuple[str, float | None]) -> Json:
    return {"mode": "absolute", "steps": [{"color": c, "value": v} for c, v in steps]}


def mapping(values: Mapping[str, tuple[str, str]]) -> list[Json]:
    """Value mappings: raw value -> (text, color)."""
    options = {raw: {"text": text, "color": color, "index": i} for i, (raw, (text, color)) in enumerate(values.items())}
    return [{"type": "value", "options": options}]


VERDICT = mapping({"0": ("ok", "green"), "1": ("drifted", "red")})
DASHED = {"custom.lineStyle": {"fill": "dash", "dash": [10, 10]}}


def panel(kind: str, title: str, targets: Sequence[Json], *, w: int = 12, h: int = 8, description: str = "") -> Panel:
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
    targets: Sequence[Json],
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


def stat(
    title: str, targets: Sequence[Json], *, unit: str = "short", steps: Sequence[tuple[str, float]] = (), **kw: Any
) -> Panel:
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


def bargauge(
    title: str, targets: Sequence[Json], *, unit: str, steps: Sequence[tuple[str, float]] = (), **kw: Any
) -> Panel:
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


def datasource_variable() -> Json:
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


def scope_variables(metric: str) -> list[Json]:
    """namespace, model_version, pod from `metric`'s series, each narrowed by the ones before it."""
    return [
        variable(
            name, name.replace("_", " ").capitalize(), sel(metric, scoped=False, **{k: f"~${k}" for k in SCOPE[:i]})
        )
        for i, name in enumerate(SCOPE)
    ]


def variable(name: str, label: str, metric: str, *, multi: bool = True) -> Json:
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


def dashboard(uid: str, title: str, description: str, variables: Sequence[Json], panels: Sequence[Panel]) -> Json:
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
        "templating": {"list": [datasource_variable(), *scope_variables(SCOPE_METRIC), *variables]},
        "time": {"from": "now-1h", "to": "now"},
        "timepicker": {},
        "timezone": "browser",
        "title": title,
        "uid": uid,
        "version": 1,
    }


MODEL = variable("model", "Model", sel(m.WINDOW_ROWS))
