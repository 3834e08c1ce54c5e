"""Prometheus rules: their expressions, `promtool check rules`, and alerts on synthetic scrapes.

The SLO promtool tests feed `promtool test rules` the series prometheus_client exports for the
request histogram (one scrape a minute) and assert which burn-rate alerts fire, and when. The
driftwarden.yml tests do the same with the daemon's own gauges and counters, DCGM's XID gauge and
Prometheus' `up`.
"""

from __future__ import annotations

import math
import re
import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client.utils import floatToGoString

from driftwarden.alerts import own_rules, slo_rules
from driftwarden.config import Config, SLOSettings, load_config
from driftwarden.core import metric_names as metrics
from driftwarden.core.gpu import CRITICAL_XIDS, XID_ERRORS
from driftwarden.core.metric_names import REQUEST_DURATION, SLO_WINDOWS
from driftwarden.detectors.gpu import xid_severity
from driftwarden.params import SLOParams, slo_params
from tests.support.processes import driftwarden
from tests.support.tools import required_tool

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "alerts" / "example.yaml"
CHECKED_IN = ROOT / "alerts" / "rules" / slo_rules.FILE_NAME
CHECKED_IN_DAEMON = ROOT / "alerts" / "rules" / own_rules.DAEMON_FILE_NAME
PAGE, TICKET = slo_rules.ALERT_PAGE, slo_rules.ALERT_TICKET  # the deprecated aliases: one severity each
SLOS = [slo_params(s) for s in load_config(EXAMPLE).slos]
LATENCY, AVAILABILITY = "fraud-latency", "fraud-availability"  # the example's SLOs


def slo(**kwargs: Any) -> SLOParams:
    settings = SLOSettings.model_validate({"name": "api", "service": "fraud-model", "objective": 0.99, **kwargs})
    return slo_params(settings)


def alert(s: SLOParams, severity: str) -> dict[str, Any]:
    return next(r for r in slo_rules.alert_rules(s) if r["labels"]["severity"] == severity)


# --- expressions and structure -----------------------------------------------------------------


def test_latency_sli_reads_the_threshold_bucket_of_every_status() -> None:
    expr = slo_rules.error_ratio(slo(threshold="250ms", model="fraud"), "5m")
    assert f'{REQUEST_DURATION}_bucket{{service="fraud-model",model="fraud",le="0.25"}}[5m]' in expr
    assert f'{REQUEST_DURATION}_count{{service="fraud-model",model="fraud"}}[5m]' in expr
    assert expr.startswith("1 - (") and "status" not in expr


def test_availability_sli_counts_errors_and_survives_no_error_series_yet() -> None:
    expr = slo_rules.error_ratio(slo(operation="/v1/predict"), "1h")
    assert f'{REQUEST_DURATION}_count{{service="fraud-model",operation="/v1/predict",status="error"}}[1h]' in expr
    assert f'{REQUEST_DURATION}_count{{service="fraud-model",operation="/v1/predict"}}[1h]' in expr
    assert "or vector(0)" in expr and "le=" not in expr


def test_an_slo_selecting_everything_has_no_empty_selector() -> None:
    s = SLOParams(name="all", objective=0.99)
    assert slo_rules.selector(s) == ""
    assert slo_rules.labels(s) == {"slo": "all"}
    assert f"{REQUEST_DURATION}_count[5m]" in slo_rules.error_ratio(s, "5m")


def test_label_values_are_quoted_for_promql() -> None:
    assert slo_rules.selector(slo(service='a"b\\c')) == '{service="a\\"b\\\\c"}'


@pytest.mark.parametrize(("threshold", "le"), [("250ms", "0.25"), ("1s", "1.0"), ("2.5s", "2.5"), ("30s", "30.0")])
def test_le_is_spelled_as_prometheus_client_exports_it(threshold: str, le: str) -> None:
    s = slo(threshold=threshold)
    assert slo_rules.le(s) == le == floatToGoString(s.threshold)
    assert f'le="{le}"' in slo_rules.error_ratio(s, "5m")


def test_every_recorded_series_carries_the_slo_labels_and_sloth_names() -> None:
    s = slo(threshold="250ms", model="fraud")
    recorded = slo_rules.recording_rules(s)
    assert all(r["labels"] == {"slo": "api", "service": "fraud-model", "model": "fraud"} for r in recorded)
    assert [r["record"] for r in recorded] == [
        *(f"slo:sli_error:ratio_rate{w}" for w in SLO_WINDOWS),
        "slo:sli_requests:increase5m",
        "slo:sli_requests:increase30m",
        "slo:sli_errors:increase5m",
        "slo:sli_error:ratio_rate30d",
        "slo:objective:ratio",
        "slo:error_budget:ratio",
        "slo:time_period:days",
        "slo:current_burn_rate:ratio",
        "slo:period_burn_rate:ratio",
        "slo:period_error_budget_remaining:ratio",
    ]
    by_name = {r["record"]: r["expr"] for r in recorded}
    assert by_name["slo:objective:ratio"] == "vector(0.99)"
    assert by_name["slo:error_budget:ratio"] == "vector(0.01)"  # not 0.010000000000000009
    assert by_name["slo:time_period:days"] == "vector(30)"


def test_a_period_equal_to_a_window_reuses_that_window() -> None:
    recorded = [r["record"] for r in slo_rules.recording_rules(slo(period="1d"))]
    assert len(recorded) == len(set(recorded))
    period_burn = next(
        r for r in slo_rules.recording_rules(slo(period="1d")) if r["record"] == "slo:period_burn_rate:ratio"
    )
    assert "slo:sli_error:ratio_rate1d" in period_burn["expr"]


def test_burn_rate_table_is_the_sre_workbooks() -> None:
    assert [(r.severity, r.long, r.short, r.factor) for r in slo_rules.BURN_RATES] == [
        ("page", "1h", "5m", 14.4),
        ("page", "6h", "30m", 6),
        ("ticket", "1d", "2h", 3),
        ("ticket", "3d", "6h", 1),
    ]
    assert {w for r in slo_rules.BURN_RATES for w in (r.long, r.short)} <= set(SLO_WINDOWS)


def test_burn_rate_table_matches_the_daemons_own_evaluation() -> None:
    from driftwarden.detectors.slo import BURN_TIERS

    ours = [(r.severity, r.factor, r.long, r.short) for r in slo_rules.BURN_RATES]
    assert ours == [(str(sev), factor, long, short) for sev, factor, long, short in BURN_TIERS]


def test_alerts_compare_both_windows_of_each_row_against_the_budget() -> None:
    s = slo(threshold="250ms")
    page, ticket = alert(s, "page"), alert(s, "ticket")
    assert page["alert"] == ticket["alert"] == slo_rules.ALERT == "SLOErrorBudgetBurn"  # the daemon's name
    for line in (
        'slo:sli_error:ratio_rate1h{slo="api"} / 0.01 > 14.4',
        'slo:sli_error:ratio_rate5m{slo="api"} / 0.01 > 14.4',
        'slo:sli_error:ratio_rate6h{slo="api"} / 0.01 > 6',
        'slo:sli_error:ratio_rate30m{slo="api"} / 0.01 > 6',
    ):
        assert line in page["expr"]
    for line in (
        'slo:sli_error:ratio_rate1d{slo="api"} / 0.01 > 3',
        'slo:sli_error:ratio_rate2h{slo="api"} / 0.01 > 3',
        'slo:sli_error:ratio_rate3d{slo="api"} / 0.01 > 1',
        'slo:sli_error:ratio_rate6h{slo="api"} / 0.01 > 1',
    ):
        assert line in ticket["expr"]
    assert page["labels"] == {"severity": "page", "slo": "api", "service": "fraud-model"}
    assert ticket["labels"] == {"severity": "ticket", "slo": "api", "service": "fraud-model"}
    assert "for" not in page and "for" not in ticket


def test_low_traffic_guard_is_on_pages_only() -> None:
    s = slo(min_requests=25)
    page, ticket = alert(s, "page")["expr"], alert(s, "ticket")["expr"]
    assert 'and on(slo)\n  slo:sli_requests:increase5m{slo="api"} >= 25' in page
    assert 'and on(slo)\n  slo:sli_requests:increase30m{slo="api"} >= 25' in page
    assert "sli_requests" not in ticket
    assert "sli_requests" not in alert(slo(min_requests=0), "page")["expr"]


def test_annotations_say_slo_objective_burn_rate_and_windows() -> None:
    annotations = alert(slo(threshold="250ms", period="30d"), "page")["annotations"]
    assert slo_rules.BURN_VALUE in annotations["summary"] and "api" in annotations["summary"]
    text = annotations["description"]
    for words in ("SLO api", "99% of requests", "within 250ms over 30d", "14.4x over both 1h and 5m", "at least 10"):
        assert words in text
    assert "(2% of the budget in 1h)" in text and "(5% of the budget in 6h)" in text


def test_render_is_deterministic_with_a_header_and_one_group_per_slo() -> None:
    slos = [slo(name="b", threshold="1s"), slo(name="a")]
    text = slo_rules.render(slos)
    assert text == slo_rules.render(slos)
    assert text.startswith("# Generated by `driftwarden rules generate`") and "do not edit by hand" in text
    assert [g["name"] for g in yaml.safe_load(text)["groups"]] == ["driftwarden-slo-b", "driftwarden-slo-a"]


def test_no_slos_give_an_empty_rule_file() -> None:
    assert yaml.safe_load(slo_rules.render([])) == {"groups": []}


def test_checked_in_rules_are_what_the_example_generates() -> None:
    regenerated = slo_rules.render(SLOS)
    assert CHECKED_IN.read_text() == regenerated, (
        "alerts/rules/slos.yml is stale: run driftwarden rules generate --config alerts/example.yaml"
    )


# --- the CLI verb ------------------------------------------------------------------------------


def test_cli_writes_the_rule_file(tmp_path: Path) -> None:
    out = tmp_path / "rules"
    done = driftwarden("rules", "generate", "--config", str(EXAMPLE), "--out", str(out))
    assert done.returncode == 0, done.stderr
    assert (out / slo_rules.FILE_NAME).read_text() == CHECKED_IN.read_text()
    assert (out / own_rules.DAEMON_FILE_NAME).read_text() == CHECKED_IN_DAEMON.read_text()
    assert "fraud-latency" in done.stdout and own_rules.DAEMON_FILE_NAME in done.stdout


def test_cli_without_slos_writes_empty_groups(tmp_path: Path) -> None:
    done = driftwarden("rules", "generate", "--out", str(tmp_path))
    assert done.returncode == 0, done.stderr
    assert "no SLOs" in done.stdout
    assert yaml.safe_load((tmp_path / slo_rules.FILE_NAME).read_text()) == {"groups": []}


def test_cli_names_the_bad_key(tmp_path: Path) -> None:
    config = tmp_path / "bad.yaml"
    config.write_text("slos:\n  - {name: api, objective: 0.99, treshold: 250ms}\n")
    done = driftwarden("rules", "generate", "--config", str(config), "--out", str(tmp_path / "out"))
    assert done.returncode == 2
    assert "slos.0.treshold" in done.stderr
    assert not (tmp_path / "out").exists()


# --- promtool ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def promtool() -> str:
    return required_tool("promtool", package="prometheus")


def run_promtool(promtool: str, *args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([promtool, *map(str, args)], capture_output=True, text=True, timeout=60)


@pytest.mark.promtool
def test_promtool_checks_the_generated_rules(promtool: str, tmp_path: Path) -> None:
    odd = [slo(name="all", service=None, objective=0.9995, period="7d", min_requests=0), slo(name="day", period="1d")]
    for i, slos in enumerate((SLOS, odd, [])):
        path = slo_rules.write_rules(slos, tmp_path / str(i))
        done = run_promtool(promtool, "check", "rules", path)
        assert done.returncode == 0, done.stdout + done.stderr


# Synthetic scrapes. Traffic per minute: (status, duration in seconds) -> requests.
Traffic = dict[tuple[str, float], int]
SERIES_LABELS = 'service="fraud-model",model="fraud",operation="/v1/predict"'
FAST, SLOW = 0.1, 1.0  # seconds; the example's latency SLO counts requests above 0.25 s as bad


def histogram(phases: list[tuple[int, Traffic]], bounds: list[float]) -> list[dict[str, str]]:
    """What prometheus_client exports for the request histogram, scraped once a minute from 0
    through each phase's minutes: per status seen, `_bucket{le}` for every bound and +Inf, `_count`
    and `_sum`, cumulative, in promtool's expanding notation."""
    series = []
    for status in ("ok", "error"):
        if not any(st == status for _, traffic in phases for st, _ in traffic):
            continue  # a labelled child exists once it has observed something
        labels = f'{SERIES_LABELS},status="{status}"'

        def per_minute(traffic: Traffic, bound: float, status: str = status) -> float:
            return sum(n for (st, d), n in traffic.items() if st == status and d <= bound)

        for bound in [*bounds, math.inf]:
            le = floatToGoString(bound)
            steps = [(minutes, per_minute(t, bound)) for minutes, t in phases]
            series.append({"series": f'{REQUEST_DURATION}_bucket{{{labels},le="{le}"}}', "values": expanding(steps)})
        counts = [(minutes, per_minute(t, math.inf)) for minutes, t in phases]
        sums = [(minutes, sum(n * d for (st, d), n in t.items() if st == status)) for minutes, t in phases]
        series.append({"series": f"{REQUEST_DURATION}_count{{{labels}}}", "values": expanding(counts)})
        series.append({"series": f"{REQUEST_DURATION}_sum{{{labels}}}", "values": expanding(sums)})
    return series


def expanding(steps: list[tuple[int, float]]) -> str:
    """[(60, 10), (30, 0)] -> '0+10x60 610+0x29': a sample at 0 and one a minute through each phase."""
    parts, value = [], 0.0
    for i, (minutes, step) in enumerate(steps):
        start = value if i == 0 else value + step
        parts.append(f"{start:.12g}+{step:.12g}x{minutes if i == 0 else minutes - 1}")
        value += step * minutes
    return " ".join(parts)


def expected(slos: list[SLOParams], name: str, severity: str, burn: str) -> dict[str, Any]:
    """The alert promtool should report for SLO `name`, its burn rate printed as `burn`."""
    rule = alert(next(s for s in slos if s.name == name), severity)
    annotations = {k: v.replace(slo_rules.BURN_VALUE, burn) for k, v in rule["annotations"].items()}
    return {"exp_labels": rule["labels"] | {"deprecated": "true"}, "exp_annotations": annotations}  # PAGE, TICKET


def canonical(alias: dict[str, Any]) -> dict[str, Any]:
    """The alert under its one name (the daemon's): the alias's, without the `deprecated` label."""
    return {**alias, "exp_labels": {k: v for k, v in alias["exp_labels"].items() if k != "deprecated"}}


def promtool_test(
    promtool: str,
    tmp_path: Path,
    phases: list[tuple[int, Traffic]],
    alerts: Sequence[tuple[str, str, list[dict[str, Any]]]],
    exprs: Sequence[tuple[str, str, list[dict[str, Any]]]] = (),
    *,
    config: Config | None = None,
) -> None:
    """`promtool test rules` over the example's rules: `alerts` are (eval_time, alertname, the
    alerts expected to fire), `exprs` are (eval_time, PromQL, the samples expected)."""
    config = config or load_config(EXAMPLE)
    slo_rules.write_rules([slo_params(s) for s in config.slos], tmp_path)
    test = {
        "rule_files": [slo_rules.FILE_NAME],
        "evaluation_interval": "1m",
        "tests": [
            {
                "interval": "1m",
                "input_series": histogram(phases, config.latency_buckets()),
                "alert_rule_test": [{"eval_time": t, "alertname": n, "exp_alerts": exp} for t, n, exp in alerts],
                "promql_expr_test": [{"expr": e, "eval_time": t, "exp_samples": exp} for t, e, exp in exprs],
            }
        ],
    }
    (tmp_path / "test.yml").write_text(yaml.safe_dump(test, sort_keys=False))
    done = run_promtool(promtool, "test", "rules", tmp_path / "test.yml")
    assert done.returncode == 0, done.stdout + done.stderr


def sample(record: str, name: str, value: float) -> dict[str, Any]:
    """An expected sample of a recorded series of SLO `name` (labels as the example sets them)."""
    labels = ",".join(f'{k}="{v}"' for k, v in slo_rules.labels(next(s for s in SLOS if s.name == name)).items())
    return {"labels": f"{record}{{{labels}}}", "value": value}


@pytest.mark.promtool
def test_half_slow_requests_page_within_minutes(promtool: str, tmp_path: Path) -> None:
    half_slow = {("ok", FAST): 10, ("ok", SLOW): 10}
    page = [expected(SLOS, LATENCY, "page", "50.0")]
    promtool_test(
        promtool,
        tmp_path,
        [(30, half_slow)],
        [
            ("5m", PAGE, page),
            ("10m", PAGE, page),
            ("10m", TICKET, [expected(SLOS, LATENCY, "ticket", "50.0")]),
            ("10m", slo_rules.ALERT, [canonical(e) for e in (*page, expected(SLOS, LATENCY, "ticket", "50.0"))]),
        ],
        [
            (
                "10m",
                'slo:current_burn_rate:ratio{slo="fraud-latency"}',
                [sample("slo:current_burn_rate:ratio", LATENCY, 50)],
            ),
            # fast requests, no status="error" series at all: the availability SLO records 0, not nothing
            (
                "10m",
                'slo:sli_error:ratio_rate5m{slo="fraud-availability"}',
                [sample("slo:sli_error:ratio_rate5m", AVAILABILITY, 0)],
            ),
        ],
    )


@pytest.mark.promtool
def test_half_errors_page_for_availability_only(promtool: str, tmp_path: Path) -> None:
    half_errors = {("ok", FAST): 10, ("error", FAST): 10}
    promtool_test(
        promtool,
        tmp_path,
        [(30, half_errors)],
        [
            ("5m", PAGE, [expected(SLOS, AVAILABILITY, "page", "500.0")]),
            ("10m", PAGE, [expected(SLOS, AVAILABILITY, "page", "500.0")]),
        ],
    )


@pytest.mark.promtool
def test_an_outage_after_an_hour_of_good_traffic_pages_within_ten_minutes(promtool: str, tmp_path: Path) -> None:
    # 1h of fast requests, then all slow: the 1h error ratio reaches 10/60 after 10 minutes (burn 16.7)
    promtool_test(
        promtool,
        tmp_path,
        [(60, {("ok", FAST): 20}), (15, {("ok", SLOW): 20})],
        [("60m", PAGE, []), ("70m", PAGE, [expected(SLOS, LATENCY, "page", "16.7")])],
    )


@pytest.mark.promtool
def test_traffic_within_budget_never_alerts(promtool: str, tmp_path: Path) -> None:
    # per 2000 requests: 2 slow (0.1 %, burn 0.1 of 1 %) and 1 error (0.05 %, burn 0.5 of 0.1 %)
    healthy = {("ok", FAST): 1997, ("ok", SLOW): 2, ("error", FAST): 1}
    times = ("5m", "30m", "1h", "2h")
    promtool_test(
        promtool,
        tmp_path,
        [(120, healthy)],
        [(t, name, []) for t in times for name in (PAGE, TICKET)],
        [
            (
                "2h",
                "round(slo:period_error_budget_remaining:ratio, 0.001)",
                [
                    {"labels": '{slo="fraud-latency",service="fraud-model"}', "value": 0.9},
                    {"labels": '{slo="fraud-availability",service="fraud-model",model="fraud"}', "value": 0.5},
                ],
            )
        ],
    )


@pytest.mark.promtool
def test_a_few_bad_requests_do_not_page(promtool: str, tmp_path: Path) -> None:
    # three requests, all slow errors, then silence: a 100 % error ratio, on fewer than min_requests
    few_bad = [(3, {("error", SLOW): 1}), (30, {})]
    promtool_test(promtool, tmp_path, few_bad, [(t, PAGE, []) for t in ("3m", "5m", "10m", "30m")])


@pytest.mark.promtool
def test_without_the_low_traffic_guard_the_same_requests_page(promtool: str, tmp_path: Path) -> None:
    few_bad = [(3, {("error", SLOW): 1}), (30, {})]
    unguarded = load_config(EXAMPLE).model_copy(
        update={"slos": [s.model_copy(update={"min_requests": 0}) for s in load_config(EXAMPLE).slos]}
    )
    pages = [
        expected([slo_params(s) for s in unguarded.slos], LATENCY, "page", "100.0"),
        expected([slo_params(s) for s in unguarded.slos], AVAILABILITY, "page", "1000.0"),
    ]
    promtool_test(
        promtool,
        tmp_path,
        few_bad,
        [
            ("3m", PAGE, pages),  # 1h and 5m
            ("10m", PAGE, pages),  # 6h and 30m (nothing in the last 5m)
        ],
        config=unguarded,
    )


@pytest.mark.promtool
def test_a_slow_burn_opens_a_ticket_but_does_not_page(promtool: str, tmp_path: Path) -> None:
    # per 1000 requests: 20 slow (2 %) and 2 errors (0.2 %): both SLOs burn at 2x
    slow_burn = {("ok", FAST): 978, ("ok", SLOW): 20, ("error", FAST): 2}
    tickets = [expected(SLOS, LATENCY, "ticket", "2.0"), expected(SLOS, AVAILABILITY, "ticket", "2.0")]
    promtool_test(
        promtool,
        tmp_path,
        [(180, slow_burn)],
        [("1h", PAGE, []), ("1h", TICKET, tickets), ("3h", PAGE, []), ("3h", TICKET, tickets)],
        [
            (
                "3h",
                "round(slo:period_burn_rate:ratio, 0.001)",
                [
                    {"labels": '{slo="fraud-latency",service="fraud-model"}', "value": 2},
                    {"labels": '{slo="fraud-availability",service="fraud-model",model="fraud"}', "value": 2},
                ],
            )
        ],
    )


# --- driftwarden.yml: alerts on the daemon's own metrics ---------------------------------------

DAEMON = own_rules.daemon_rules()
FEATURE_DRIFTED, MODEL_DRIFTED = own_rules.ALERT_FEATURE_DRIFTED, own_rules.ALERT_MODEL_DRIFTED
GPU_XID, DOWN, INGEST_REJECTS = own_rules.ALERT_GPU_XID, own_rules.ALERT_DOWN, own_rules.ALERT_INGEST_REJECTS
OUTBOX_BACKLOG, NOTIFICATIONS_FAILING = own_rules.ALERT_OUTBOX_BACKLOG, own_rules.ALERT_NOTIFICATIONS_FAILING
OUTBOX_PENDING, DELIVERIES = own_rules.OUTBOX_PENDING, f"{own_rules.WEBHOOK_DELIVERIES}_total"


def daemon_alert(name: str, severity: str, job: str = own_rules.DEFAULT_JOB) -> dict[str, Any]:
    return next(r for r in own_rules.daemon_rules(job) if r["alert"] == name and r["labels"]["severity"] == severity)


def test_daemon_alerts_severities_and_for_durations() -> None:
    assert [(r["alert"], r["labels"]["severity"], r.get("for")) for r in DAEMON] == [
        (FEATURE_DRIFTED, "warning", "10m"),
        (MODEL_DRIFTED, "warning", "10m"),
        (GPU_XID, "page", None),
        (GPU_XID, "warning", None),
        (OUTBOX_BACKLOG, "warning", "15m"),
        (NOTIFICATIONS_FAILING, "page", None),
        (DOWN, "page", "5m"),
        (INGEST_REJECTS, "warning", "10m"),
    ]
    assert all(r["labels"].keys() == {"severity"} for r in DAEMON)  # the rest comes from the series
    assert all(r["annotations"].keys() == {"summary", "description"} for r in DAEMON)


def test_daemon_alerts_read_the_exported_metric_names() -> None:
    exprs = {(r["alert"], r["labels"]["severity"]): r["expr"] for r in DAEMON}
    assert exprs[FEATURE_DRIFTED, "warning"] == f"{metrics.FEATURE_DRIFTED} == 1"
    assert exprs[MODEL_DRIFTED, "warning"] == f"{metrics.MODEL_DRIFTED} == 1"
    assert exprs[OUTBOX_BACKLOG, "warning"] == f"{OUTBOX_PENDING} > {own_rules.OUTBOX_BACKLOG}"
    assert f'increase({DELIVERIES}{{outcome="failed"}}[15m]) > 0' in exprs[NOTIFICATIONS_FAILING, "page"]
    ingest = exprs[INGEST_REJECTS, "warning"]
    assert f"sum by (source) (rate({metrics.RECORDS_REJECTED}_total[10m]))" in ingest
    assert f"sum by (source) (rate({metrics.RECORDS}_total[10m]))" in ingest
    assert ingest.endswith("> 0.05")
    assert metrics.FEATURE_DRIFT_SCORE in daemon_alert(FEATURE_DRIFTED, "warning")["annotations"]["description"]
    assert metrics.MODEL_DRIFT_SHARE in daemon_alert(MODEL_DRIFTED, "warning")["annotations"]["description"]
    # the design's metrics table names the two the outbox will export
    design = (ROOT / "docs" / "design.md").read_text()
    assert f"`{OUTBOX_PENDING}`" in design and f"`{DELIVERIES}`" in design


def test_xid_alerts_page_on_the_daemons_critical_xids_and_warn_on_the_rest() -> None:
    page, warning = daemon_alert(GPU_XID, "page")["expr"], daemon_alert(GPU_XID, "warning")["expr"]
    assert {48, 63, 64, 74, 79, 92, 94, 95} <= set(CRITICAL_XIDS)
    for xid in CRITICAL_XIDS:
        assert xid_severity(xid) == "page"
        assert f"{XID_ERRORS} == {xid}\n" in page + "\n" and f"{XID_ERRORS} == {xid}\n" in warning + "\n"
    assert re.findall(r"== (\d+)", page) == [str(x) for x in sorted(CRITICAL_XIDS)]
    assert f"{XID_ERRORS} > 0\n  unless (" in warning
    new_xid = f"and\n(\n  changes({XID_ERRORS}[5m]) > 0\n  or\n  ({XID_ERRORS} unless {XID_ERRORS} offset 5m)\n)"
    assert page.endswith(new_xid) and warning.endswith(new_xid)


def test_down_alert_covers_a_failing_target_and_a_missing_job() -> None:
    assert daemon_alert(DOWN, "page")["expr"] == 'up{job="driftwarden"} == 0\nor\nabsent(up{job="driftwarden"})'
    custom = daemon_alert(DOWN, "page", job='side"car')
    assert custom["expr"] == 'up{job="side\\"car"} == 0\nor\nabsent(up{job="side\\"car"})'
    assert 'job side"car' in custom["annotations"]["description"]
    for job in ("", "{{ evil }}"):
        with pytest.raises(ValueError, match="job"):
            own_rules.daemon_rules(job)


def test_render_daemon_is_deterministic_with_a_header_and_one_group() -> None:
    text = own_rules.render_daemon("dw")
    assert text == own_rules.render_daemon("dw") != own_rules.render_daemon()
    assert text.startswith("# Generated by `driftwarden rules generate`") and "Do not edit by hand" in text
    assert yaml.safe_load(text) == {"groups": [own_rules.daemon_group("dw")]}
    names = [r["alert"] for r in own_rules.daemon_group("dw")["rules"] if r["labels"].get("deprecated") == "true"]
    assert names == ["DriftwardenFeatureDrifted", "DriftwardenModelDrifted", "DriftwardenGPUXid", "DriftwardenGPUXid"]


def test_checked_in_daemon_rules_are_what_generate_writes() -> None:
    assert CHECKED_IN_DAEMON.read_text() == own_rules.render_daemon(), (
        "alerts/rules/driftwarden.yml is stale: run driftwarden rules generate --config alerts/example.yaml"
    )


def test_cli_job_flag_names_the_scrape_job(tmp_path: Path) -> None:
    done = driftwarden("rules", "generate", "--out", str(tmp_path), "--job", "model-sidecars")
    assert done.returncode == 0, done.stderr
    assert (tmp_path / own_rules.DAEMON_FILE_NAME).read_text() == own_rules.render_daemon("model-sidecars")
    assert "'model-sidecars'" in done.stdout and DOWN in done.stdout


def test_cli_refuses_an_empty_job_before_writing(tmp_path: Path) -> None:
    done = driftwarden("rules", "generate", "--out", str(tmp_path / "out"), "--job", "")
    assert done.returncode == 2
    assert "--job" in done.stderr
    assert not (tmp_path / "out").exists()


@pytest.mark.promtool
def test_promtool_checks_the_daemon_rules(promtool: str, tmp_path: Path) -> None:
    for job in (own_rules.DEFAULT_JOB, "kube-system/driftwarden", 'odd "job"'):
        path = own_rules.write_daemon_rules(tmp_path / str(abs(hash(job))), job)
        done = run_promtool(promtool, "check", "rules", path)
        assert done.returncode == 0, done.stdout + done.stderr


def series(metric: str, labels: dict[str, str]) -> str:
    return metric + "{" + ",".join(f'{k}="{v}"' for k, v in labels.items()) + "}"


def expand(template: str, labels: dict[str, str], value: str | None) -> str:
    """What Prometheus makes of the annotation templates driftwarden.yml uses."""

    def with_label(m: re.Match[str]) -> str:
        return m[2].replace("{{ . }}", labels[m[1]]) if labels.get(m[1]) else m[3]

    text = re.sub(r"\{\{ with \$labels\.(\w+) \}\}(.*?)\{\{ else \}\}(.*?)\{\{ end \}\}", with_label, template)
    text = re.sub(r"\{\{ \$labels\.(\w+) \}\}", lambda m: labels.get(m[1], ""), text)
    if value is not None:
        text = re.sub(r"\{\{ \$value[^}]*\}\}", lambda _: value, text)
    assert "{{" not in text, text
    return text


def fires(
    name: str, severity: str, labels: dict[str, str], value: str | None = None, *, job: str = own_rules.DEFAULT_JOB
) -> dict[str, Any]:
    """The alert promtool should report: the series' labels plus severity, annotations expanded."""
    rule = daemon_alert(name, severity, job)
    annotations = {k: expand(v, labels, value) for k, v in rule["annotations"].items()}
    return {"exp_labels": {**labels, "severity": severity}, "exp_annotations": annotations}


def daemon_test(
    promtool: str,
    tmp_path: Path,
    input_series: dict[str, str],
    alerts: Sequence[tuple[str, str, list[dict[str, Any]]]],
    *,
    job: str = own_rules.DEFAULT_JOB,
) -> None:
    """`promtool test rules` over driftwarden.yml: `input_series` maps a series to its values (one
    scrape a minute), `alerts` are (eval_time, alertname, the alerts expected to fire)."""
    own_rules.write_daemon_rules(tmp_path, job)
    test = {
        "rule_files": [own_rules.DAEMON_FILE_NAME],
        "evaluation_interval": "1m",
        "tests": [
            {
                "interval": "1m",
                "input_series": [{"series": s, "values": v} for s, v in input_series.items()],
                "alert_rule_test": [{"eval_time": t, "alertname": n, "exp_alerts": exp} for t, n, exp in alerts],
            }
        ],
    }
    (tmp_path / "test.yml").write_text(yaml.safe_dump(test, sort_keys=False))
    done = run_promtool(promtool, "test", "rules", tmp_path / "test.yml")
    assert done.returncode == 0, done.stdout + done.stderr


TARGET = {"instance": "fraud-model-0:4318", "job": "driftwarden"}


@pytest.mark.promtool
def test_a_feature_drifted_for_ten_minutes_warns_with_its_model_and_feature(promtool: str, tmp_path: Path) -> None:
    amount = {"model": "fraud", "feature": "amount", **TARGET}
    country = {"model": "fraud", "feature": "country", **TARGET}
    fraud = {"model": "fraud", **TARGET}
    daemon_test(
        promtool,
        tmp_path,
        {
            series(metrics.FEATURE_DRIFTED, amount): "0x4 1x30",  # drifted from minute 5
            series(metrics.FEATURE_DRIFTED, country): "0x34",
            series(metrics.MODEL_DRIFTED, fraud): "0x9 1x25",  # from minute 10
        },
        [
            ("4m", FEATURE_DRIFTED, []),
            ("10m", FEATURE_DRIFTED, []),  # drifted for 5 minutes: pending
            ("15m", FEATURE_DRIFTED, [fires(FEATURE_DRIFTED, "warning", amount)]),
            ("30m", FEATURE_DRIFTED, [fires(FEATURE_DRIFTED, "warning", amount)]),
            ("15m", MODEL_DRIFTED, []),
            ("20m", MODEL_DRIFTED, [fires(MODEL_DRIFTED, "warning", fraud)]),
        ],
    )


GPU0 = {"gpu": "0", "UUID": "GPU-0b5d", "device": "nvidia0", "modelName": "NVIDIA H100 80GB HBM3", "Hostname": "n1"}
GPU1 = {**GPU0, "gpu": "1", "UUID": "GPU-7a1c", "device": "nvidia1"}
GPU2 = {**GPU0, "gpu": "2", "UUID": "GPU-31e9", "device": "nvidia2"}


@pytest.mark.promtool
def test_a_critical_xid_pages_and_another_xid_warns(promtool: str, tmp_path: Path) -> None:
    daemon_test(
        promtool,
        tmp_path,
        {
            series(XID_ERRORS, GPU0): "0x5 79x20",  # fell off the bus at minute 6
            series(XID_ERRORS, GPU1): "0x5 13x20",  # a graphics engine exception
            series(XID_ERRORS, GPU2): "0x25",
        },
        [
            ("5m", GPU_XID, []),
            ("7m", GPU_XID, [fires(GPU_XID, "page", GPU0, "79"), fires(GPU_XID, "warning", GPU1, "13")]),
            ("10m", GPU_XID, [fires(GPU_XID, "page", GPU0, "79"), fires(GPU_XID, "warning", GPU1, "13")]),
            ("12m", GPU_XID, []),  # the last XID is still 79 and 13, but nothing new in 5 minutes
        ],
    )


@pytest.mark.promtool
def test_xid_alerts_fire_on_dcgm_exporter_4_5_series_labelled_with_the_xid(promtool: str, tmp_path: Path) -> None:
    """dcgm-exporter 4.5+ and driftwarden label the XID gauge with err_code and err_msg: a new XID
    is a new series, whose value never changes, so changes() alone would never see it."""
    no_xid = {**GPU0, "err_code": "0", "err_msg": "No Error"}
    off_the_bus = {**GPU0, "err_code": "79", "err_msg": "GPU has fallen off the bus"}
    exception = {**GPU1, "err_code": "13", "err_msg": "Graphics Engine Exception"}
    daemon_test(
        promtool,
        tmp_path,
        {
            series(XID_ERRORS, no_xid): "0x5",
            series(XID_ERRORS, off_the_bus): "_x6 79x20",  # a new series at minute 6
            series(XID_ERRORS, {**GPU1, "err_code": "0", "err_msg": "No Error"}): "0x5",
            series(XID_ERRORS, exception): "_x6 13x20",
        },
        [
            ("5m", GPU_XID, []),
            ("7m", GPU_XID, [fires(GPU_XID, "page", off_the_bus, "79"), fires(GPU_XID, "warning", exception, "13")]),
            ("10m", GPU_XID, [fires(GPU_XID, "page", off_the_bus, "79"), fires(GPU_XID, "warning", exception, "13")]),
            ("12m", GPU_XID, []),  # nothing new in 5 minutes
        ],
    )


@pytest.mark.promtool
def test_an_outbox_backlog_warns_and_dropped_notifications_page(promtool: str, tmp_path: Path) -> None:
    pagerduty, webhook = {"receiver": "pagerduty", **TARGET}, {"receiver": "webhook", **TARGET}
    pd_failed, hook_failed = {**pagerduty, "outcome": "failed"}, {**webhook, "outcome": "failed"}
    daemon_test(
        promtool,
        tmp_path,
        {
            series(OUTBOX_PENDING, pagerduty): "0x4 150x40",  # backed up from minute 5
            series(OUTBOX_PENDING, webhook): "50x45",
            series(DELIVERIES, {**pagerduty, "outcome": "ok"}): "0+10x45",
            series(DELIVERIES, pd_failed): "_x10 1x35",  # appears at minute 10, with the first failure
            series(DELIVERIES, hook_failed): "0x19 1x25",  # one failure at minute 20
        },
        [
            ("19m", OUTBOX_BACKLOG, []),
            ("20m", OUTBOX_BACKLOG, [fires(OUTBOX_BACKLOG, "warning", pagerduty, "150")]),
            ("9m", NOTIFICATIONS_FAILING, []),
            ("12m", NOTIFICATIONS_FAILING, [fires(NOTIFICATIONS_FAILING, "page", pd_failed)]),
            (
                "22m",
                NOTIFICATIONS_FAILING,
                [fires(NOTIFICATIONS_FAILING, "page", pd_failed), fires(NOTIFICATIONS_FAILING, "page", hook_failed)],
            ),
            ("30m", NOTIFICATIONS_FAILING, [fires(NOTIFICATIONS_FAILING, "page", hook_failed)]),
            ("40m", NOTIFICATIONS_FAILING, []),  # no failure in the last 15 minutes
        ],
    )


@pytest.mark.promtool
def test_a_target_down_for_five_minutes_pages(promtool: str, tmp_path: Path) -> None:
    a, b = TARGET, {**TARGET, "instance": "fraud-model-1:4318"}
    daemon_test(
        promtool,
        tmp_path,
        {
            series("up", a): "1x4 0x20",  # scrapes fail from minute 5
            series("up", b): "1x25",
            series("up", {"instance": "node-1:9100", "job": "node"}): "0x25",  # another job's target
        },
        [("9m", DOWN, []), ("10m", DOWN, [fires(DOWN, "page", a)]), ("20m", DOWN, [fires(DOWN, "page", a)])],
    )


@pytest.mark.promtool
def test_no_target_of_the_job_at_all_pages(promtool: str, tmp_path: Path) -> None:
    job = "model-sidecars"
    daemon_test(
        promtool,
        tmp_path,
        {series("up", TARGET): "1x20"},  # the default job is scraped, the configured one is not
        [("4m", DOWN, []), ("6m", DOWN, [fires(DOWN, "page", {"job": job}, job=job)])],
        job=job,
    )


@pytest.mark.promtool
def test_a_sustained_share_of_rejected_records_warns_per_source(promtool: str, tmp_path: Path) -> None:
    records, rejected = f"{metrics.RECORDS}_total", f"{metrics.RECORDS_REJECTED}_total"
    daemon_test(
        promtool,
        tmp_path,
        {
            # per minute: http 90 accepted + 10 rejected (10 %), kserve 99 + 1 (1 %), file 0 + 5 (100 %)
            series(records, {"model": "fraud", "source": "http", **TARGET}): "0+90x30",
            series(rejected, {"source": "http", "reason": "schema", **TARGET}): "0+10x30",
            series(records, {"model": "fraud", "source": "kserve", **TARGET}): "0+99x30",
            series(rejected, {"source": "kserve", "reason": "json", **TARGET}): "0+1x30",
            series(rejected, {"source": "file", "reason": "json", **TARGET}): "0+5x30",
        },
        [
            ("10m", INGEST_REJECTS, []),  # above 5 % from minute 1: pending
            (
                "12m",
                INGEST_REJECTS,
                [
                    fires(INGEST_REJECTS, "warning", {"source": "http"}, "10%"),
                    fires(INGEST_REJECTS, "warning", {"source": "file"}, "100%"),
                ],
            ),
        ],
    )
