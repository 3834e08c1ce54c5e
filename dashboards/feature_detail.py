"""feature-detail.json: one feature of one model, its drift statistics against their thresholds and
its reference vs current bin shares.
"""

from __future__ import annotations

from driftwarden.core import metric_names as m
from driftwarden.dashboards.panels import (
    DRIFT,
    VERDICT,
    Json,
    dashboard,
    defaults,
    panel,
    sel,
    share,
    stat,
    target,
    timeseries,
    variable,
)

__all__ = ["feature_detail"]


def feature_detail() -> Json:
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
        "Missing rate",
        [target(sel(m.FEATURE_MISSING_RATIO, model=model, feature=feature), "{{window}}")],
        unit="percentunit",
        w=18,
        description="Missing rate (share of values missing) in the reference and in the current window.",
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
            variable("model", "Model", sel(m.WINDOW_ROWS), multi=False),
            variable("feature", "Feature", sel(m.FEATURE_DRIFTED, model=model), multi=False),
        ],
        [verdict, missing, psi, ks, pvalue, histogram, over_time],
    )
