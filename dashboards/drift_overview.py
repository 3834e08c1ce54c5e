"""drift-overview.json: models × drift share, the features table, score timelines, input and output
drift, stable verdicts, multivariate drift, realized and estimated quality, segments (worst first),
sampling, data-quality constraint violations and anomaly scores.
"""

from __future__ import annotations

from driftwarden.core import metric_names as m
from driftwarden.dashboards.panels import (
    DASHED,
    DRIFT,
    MODEL,
    VERDICT,
    Json,
    bargauge,
    dashboard,
    defaults,
    override,
    panel,
    rate,
    sel,
    stat,
    table,
    target,
    thresholds,
    timeseries,
)

__all__ = ["drift_overview"]


def drift_overview() -> Json:
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
        "Features: verdict, scores, missing rate",
        {
            "drifted": sel(m.FEATURE_DRIFTED, model=model),
            "stable": sel(m.FEATURE_DRIFTED_STABLE, model=model),
            "PSI": sel(m.FEATURE_DRIFT_SCORE, model=model, method="psi"),
            "KS D": sel(m.FEATURE_DRIFT_SCORE, model=model, method="ks"),
            "missing rate (current)": sel(m.FEATURE_MISSING_RATIO, model=model, window="current"),
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
    override(features, "missing rate (current)", {"unit": "percentunit"})
    detail = (
        "/d/driftwarden-feature?${datasource:queryparam}&${namespace:queryparam}&${model_version:queryparam}"
        "&${pod:queryparam}&var-model=${__data.fields.model}"
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
        "Missing rate (current window)",
        [target(sel(m.FEATURE_MISSING_RATIO, model=model, window="current"), "{{model}} {{feature}}")],
        unit="percentunit",
        description="Missing rate (share of values missing) per feature in the current window (the reference's is on "
        "the feature detail dashboard).",
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
    estimated = timeseries(
        "Estimated vs realized quality",
        [
            target(sel(m.MODEL_QUALITY_ESTIMATED, model=model), "{{model}} {{metric}} estimated"),
            target(sel(m.MODEL_QUALITY_ESTIMATED_LOWER, model=model), "{{model}} {{metric}} band low"),
            target(sel(m.MODEL_QUALITY_ESTIMATED_UPPER, model=model), "{{model}} {{metric}} band high"),
            target(sel(m.MODEL_QUALITY_REFERENCE, model=model), "{{model}} {{metric}} reference"),
            target(
                sel(m.MODEL_QUALITY, model=model)
                + " and on (model, metric) "
                + sel(m.MODEL_QUALITY_ESTIMATED, model=model),
                "{{model}} {{metric}} realized",
            ),
        ],
        w=24,
        description="Quality estimated from the current window without labels (CBPE for classifiers: scores "
        "calibrated on the reference's labels; DLE for regressors), its band (±3 sampling errors), the realized "
        "quality on the reference (dashed) and the realized quality of joined labels once they come. "
        "ModelQualityEstimatedDegraded fires when the band's best end passes the reference by estimate.margin.",
    )
    override(estimated, ".* (accuracy|precision|recall|f1|roc_auc) .*", {"unit": "percentunit"}, matcher="byRegexp")
    override(estimated, ".* reference", DASHED, matcher="byRegexp")
    override(estimated, ".* band (low|high)", {"custom.lineStyle": {"fill": "dot"}}, matcher="byRegexp")
    segments = table(
        "Segments, worst drift first",
        {
            "drift share": sel(m.SEGMENT_DRIFT_SHARE, model=model),
            "drifted": sel(m.SEGMENT_DRIFTED, model=model),
            "rows in its window": sel(m.SEGMENT_WINDOW_ROWS, model=model),
        },
        by="model, segment",
        w=12,
        description="Each segment (models.<m>.segments: a value of a segment column, `country=BR`, or the rest "
        "pooled as `other`) judged on its own window against the reference rows of that value; the largest "
        "drift share first. A drifted segment fires ModelDrift with its `segment` label while the model as a "
        "whole may stay calm. A segment is judged once its window holds segmenting.min_rows rows.",
    )
    override(segments, "drift share", {"unit": "percentunit"})
    override(segments, "drifted", {"mappings": VERDICT, "custom.cellOptions": {"type": "color-background"}})
    segment_quality = bargauge(
        "Estimated quality per segment",
        [
            target(
                sel(m.SEGMENT_QUALITY_ESTIMATED, model=model),
                "{{model}} {{segment}} {{metric}}",
                instant=True,
            )
        ],
        unit="short",
        w=12,
        description="Each judged segment's quality estimated from its own window without labels (CBPE, DLE, "
        "as the model's); a segment whose estimate falls past the reference's by estimate.margin fires "
        "ModelQualityEstimatedDegraded with its `segment` label.",
    )
    multivariate = timeseries(
        "Multivariate drift: score vs threshold",
        [
            target(sel(m.MODEL_MULTIVARIATE_DRIFT_SCORE, model=model), "{{model}} {{method}} score"),
            target(sel(m.MODEL_MULTIVARIATE_DRIFT_THRESHOLD, model=model), "{{model}} {{method}} threshold"),
        ],
        w=24,
        description="The input features taken whole (drift.multivariate): pca is the window's mean reconstruction "
        "error from the reference's principal components, classifier the held-out AUROC of a classifier telling "
        "current rows from reference rows. Dashed: each one's threshold, calibrated on the reference for the "
        "window's size. A relation between features that changed (a correlation that flipped) shows here while "
        "no feature drifts alone; ModelMultivariateDrift fires above it and names the features.",
    )
    override(multivariate, ".* threshold", DASHED, matcher="byRegexp")
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
    embeddings = timeseries(
        "Embedding drift: verdict per method",
        [target(sel(m.EMBEDDING_DRIFTED, model=model), "{{model}} {{embedding}} {{method}}")],
        w=24,
        description="driftwarden_embedding_drifted per embedding and method (models.<m>.embeddings): mmd (kernel "
        "MMD, permutation p-value), pcs (share of the reference's principal components drifted) and the opt-in "
        "classifier (AUROC); 1 = drifted, which raises ModelEmbeddingDrift. Scores: "
        "driftwarden_embedding_drift_score; the model page plots reference and current vectors.",
    )
    violations = timeseries(
        "Data quality: constraint violations",
        [
            target(
                rate(sel(m.CONSTRAINT_VIOLATIONS + "_total", model=model), "model, feature, constraint"),
                "{{model}} {{feature}} {{constraint}}",
            )
        ],
        unit="short",
        w=12,
        description="Values per second breaking a data-quality constraint at ingest (models.<m>.constraints), per "
        "feature and constraint: range, category, regex, type, missing, and the schema rules undeclared (a "
        "feature the constraints do not name) and absent (a declared feature missing from a batch, one per row).",
    )
    violating = bargauge(
        "Data quality: violating share of the window",
        [target(sel(m.CONSTRAINT_VIOLATING_SHARE, model=model), "{{model}} {{feature}} {{constraint}}", instant=True)],
        unit="percentunit",
        w=12,
        description="Each broken constraint's share of the current window's rows (only those with violations in "
        "it). Above the model's max_violating_share (missing: above the feature's max_missing) it is a "
        "DataQualityViolation finding and alert, with example values, on the model page and in the drift report.",
    )
    defaults(violating, min=0, max=1)
    anomaly = "~$model|"  # the model's signals and those of no model (GPUs)
    anomaly_legend = "{{signal}} {{service}} {{model}} {{operation}} {{gpu}}"
    score = timeseries(
        "Anomalies: score per signal",
        [target(sel(m.ANOMALY_SCORE, model=anomaly), anomaly_legend)],
        lines=[-3.0, 3.0],
        w=12,
        description="Robust z-score of each of the daemon's own signals (anomaly.signals: request rate, error "
        "ratio and p99 latency per service/model/operation, GPU utilisation and memory, prediction volume per "
        "model) against the same time of the past days or weeks: (observed - median) / (1.4826 x MAD). Dashed: "
        "the default sensitivity, 3; beyond it for `anomaly.for` an Anomaly alert fires. Shown once "
        "anomaly.min_seasons past seasons have a value at this time.",
    )
    seasonal = timeseries(
        "Anomalies: observed vs seasonal baseline",
        [
            target(sel(m.ANOMALY_OBSERVED, model=anomaly), anomaly_legend + " observed"),
            target(sel(m.ANOMALY_BASELINE, model=anomaly), anomaly_legend + " baseline"),
        ],
        w=12,
        description="Each signal's value judged for anomalies and its baseline (dashed): the median of the same "
        "time slot in the past seasons, from the history kept in the state file.",
    )
    override(seasonal, ".* baseline", DASHED, matcher="byRegexp")
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
            embeddings,
            quality,
            estimated,
            segments,
            segment_quality,
            multivariate,
            labels,
            pending,
            sampled_out,
            missing,
            rows,
            violations,
            violating,
            score,
            seasonal,
        ],
    )
