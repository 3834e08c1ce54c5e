"""latency-slos.json: request latency quantiles with exemplars, error rate, the SLOs' burn rates and
error budgets, and the LLM series: tokens, time to first token, time per output token.
"""

from __future__ import annotations

from driftwarden.core import metric_names as m
from driftwarden.dashboards.panels import (
    RATE,
    Json,
    bargauge,
    dashboard,
    defaults,
    panel,
    quantile,
    rate,
    sel,
    stat,
    target,
    thresholds,
    timeseries,
    variable,
)
from driftwarden.detectors.slo import BURN_TIERS

__all__ = ["latency_slos"]


def latency_slos() -> Json:
    service, slo = "~$service", "~$slo"
    buckets = sel(m.REQUEST_DURATION + "_bucket", service=service)
    count = m.REQUEST_DURATION + "_count"
    latency = timeseries(
        "Latency p50 / p95 / p99",
        [target(quantile(q, buckets), f"p{q * 100:g}", exemplar=True) for q in (0.5, 0.95, 0.99)],
        unit="s",
        w=16,
        description="Quantiles from driftwarden_request_duration_seconds (SERVER/root spans, or OTLP duration "
        "metrics: traces.latency_source). Exemplars carry the trace id of a request in each bucket (spans "
        "only): a dot links a latency spike to its trace.",
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
        description="Share of requests whose span status is an error, or whose metric point has error.type or a "
        "5xx status (no error series yet counts as zero).",
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
        "Request latency from the model server's traces or metrics, and the SLOs' burn rates and budgets.",
        [
            variable("service", "Service", sel(count)),
            variable("slo", "SLO", sel(m.SLO_OBJECTIVE)),
        ],
        [latency, requests, errors, by_operation, heat, burn, budget, events, objective, *llm_panels(service)],
    )


def llm_panels(service: str) -> list[Json]:
    """Token throughput, time to first token and time per output token of LLM requests, per model: from
    spans (gen_ai.usage.*, the first-token event or attribute) or GenAI metrics (gen_ai.client.token.usage,
    gen_ai.server.time_to_first_token, gen_ai.server.time_per_output_token), per traces.latency_source."""
    tokens = timeseries(
        "LLM tokens per second",
        [
            target(rate(sel(m.LLM_INPUT_TOKENS + "_total", service=service), "model"), "{{model}} input"),
            target(rate(sel(m.LLM_OUTPUT_TOKENS + "_total", service=service), "model"), "{{model}} output"),
        ],
        w=8,
        description="Input (prompt) and output (completion) tokens per second, by model.",
    )
    ttft = sel(m.LLM_TIME_TO_FIRST_TOKEN + "_bucket", service=service)
    first_token = timeseries(
        "LLM time to first token p50 / p95 / p99",
        [target(quantile(q, ttft, "model"), f"{{{{model}}}} p{q * 100:g}") for q in (0.5, 0.95, 0.99)],
        unit="s",
        w=8,
        description="From the request's start to its first output token (streaming): what a user waits before "
        "text appears.",
    )
    tpot = sel(m.LLM_TIME_PER_OUTPUT_TOKEN + "_bucket", service=service)
    per_token = timeseries(
        "LLM time per output token p50 / p99",
        [target(quantile(q, tpot, "model"), f"{{{{model}}}} p{q * 100:g}") for q in (0.5, 0.99)],
        unit="s",
        w=8,
        description="Decode time per output token after the first: (duration - time to first token) / "
        "(output tokens - 1).",
    )
    return [tokens, first_token, per_token]
