"""driftwarden.json: the daemon itself, ingest, rejects, OTLP metric points and log records not
counted, queue, evaluation time, alert delivery and scrapes.
"""

from __future__ import annotations

from driftwarden.core import metric_names as m
from driftwarden.dashboards.panels import (
    MODEL,
    RATE,
    Json,
    dashboard,
    defaults,
    mapping,
    override,
    quantile,
    rate,
    sel,
    stat,
    target,
    timeseries,
    variable,
)

__all__ = ["daemon"]


def daemon() -> Json:
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
    points = timeseries(
        "OTLP metric points by outcome",
        [target(rate(sel(m.OTLP_POINTS + "_total", job=job), "outcome"), "{{outcome}}")],
        unit="rps",
        w=8,
        description="Data points of POST /v1/metrics: counted into the request and LLM series, ignored "
        "(acknowledged, not counted), or rejected (partial_success).",
    )
    points_not_counted = timeseries(
        "OTLP metric points ignored or rejected, by reason",
        [
            target(rate(sel(m.OTLP_POINTS_IGNORED + "_total", job=job), "reason"), "ignored {{reason}}"),
            target(
                rate(sel(m.RECORDS_REJECTED + "_total", job=job, source="otlp_metrics"), "reason"),
                "rejected {{reason}}",
            ),
        ],
        unit="rps",
        w=8,
        description="Ignored: other metrics, a service whose spans count (traces.latency_source), superseded "
        "or merged points, cumulative baselines. Rejected: points that contradict themselves.",
    )
    logs_not_counted = timeseries(
        "OTLP log records ignored or rejected, by reason",
        [
            target(rate(sel(m.OTLP_LOGS_IGNORED + "_total", job=job), "reason"), "ignored {{reason}}"),
            target(
                rate(sel(m.RECORDS_REJECTED + "_total", job=job, source="otlp_logs"), "reason"),
                "rejected {{reason}}",
            ),
        ],
        unit="rps",
        w=8,
        description="Log records of POST /v1/logs that are no prediction records (no_features, no_model), and "
        "prediction records refused one by one, as /v1/predictions refuses them.",
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
    evaluations = sel(m.EVALUATION_DURATION + "_bucket", job=job)  # any model's: no model label (issue 22)
    evaluation = timeseries(
        "Drift evaluation duration (one model)",
        [target(quantile(q, evaluations), f"p{q * 100:g}") for q in (0.5, 0.99)],
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
        "driftwarden itself: ingest, rejects, OTLP points and log records not counted, queue, evaluation time, "
        "alert delivery, scrapes.",
        [variable("job", "Job", sel(m.QUEUE_ROWS)), MODEL],
        [
            records,
            spans,
            up,
            rejected,
            refused,
            points,
            points_not_counted,
            logs_not_counted,
            queue,
            evaluation,
            firing,
            outbox,
            deliveries,
            scrape,
            samples,
        ],
    )
