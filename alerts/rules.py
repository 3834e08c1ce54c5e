"""Prometheus rules: SLO recording rules and burn-rate alerts, and alerts on driftwarden's own metrics.

`driftwarden rules generate` writes two files: `slos.yml` for the configured SLOs (below) and
`driftwarden.yml`, alerts on the metrics the daemon exports (its drift verdicts, GPU XIDs, its
notification outbox, whether it is up), for teams that alert from Prometheus and Alertmanager
instead of driftwarden's own engine (see the end of this docstring).

`slos.yml` has one group, `driftwarden-slo-<name>`, per SLO
(in config order). The SLI is the daemon's histogram `driftwarden_request_duration_seconds`
(labels service, model, operation, status), summed over every series the SLO selects, so a
fleet of sidecars adds up to one SLO. Bad events: for a latency SLO, requests slower than
`threshold` (`1 - bucket{le=threshold} / count`); for an availability SLO, `status="error"`.

Recorded series (names after Sloth), each labelled `slo`, `service`, and `model` / `operation`
when the SLO selects them (a label the SLO leaves open is absent, not empty):

    slo:sli_error:ratio_rate<W>               bad / all requests over W = 5m 30m 1h 2h 6h 1d 3d
    slo:sli_error:ratio_rate<period>          the same over the SLO period (e.g. 30d), weighted by traffic
    slo:sli_requests:increase5m, ...30m       requests in the page alerts' short windows
    slo:sli_errors:increase5m                 bad requests in 5m (the period ratio sums these)
    slo:objective:ratio                       e.g. 0.99
    slo:error_budget:ratio                    1 - objective
    slo:time_period:days                      e.g. 30
    slo:current_burn_rate:ratio               5m error ratio / error budget
    slo:period_burn_rate:ratio                period error ratio / error budget
    slo:period_error_budget_remaining:ratio   1 - period burn rate (below 0: the budget is spent)

The period ratio is `sum_over_time` of the 5m bad and all counts rather than Sloth's mean of 5m
ratios: an idle 5 minutes records a NaN ratio, which would poison a mean for the whole period.

Alerts (burn rate = error ratio / error budget; 1 spends exactly the budget in the period),
from the Google SRE workbook as Sloth generates them; an alert fires when both windows of a
row burn faster than the factor:

    alert                       severity  long  short  factor  share of a 30d budget spent
    SLOErrorBudgetBurnPage      page      1h    5m     14.4    2 % in 1h
    SLOErrorBudgetBurnPage      page      6h    30m    6       5 % in 6h
    SLOErrorBudgetBurnTicket    ticket    1d    2h     3       10 % in 1d
    SLOErrorBudgetBurnTicket    ticket    3d    6h     1       10 % in 3d

A page also needs `min_requests` (0 disables the guard) in the short window of its row, so a
handful of slow requests at night does not wake anyone; a ticket has no such guard. Alerts
have no `for:` (the short window already debounces) and carry the labels `severity`, `slo`,
`service` (and `model` / `operation` when selected); the value is the burn rate over the long
window of the firing row, quoted in the annotations.

`driftwarden.yml`, one group `driftwarden`; each alert keeps the labels of the series it fires on
(model, feature, receiver, source, the GPU's gpu/UUID/Hostname, instance, job) plus `severity`:

    alert                                severity  for  fires when
    DriftwardenFeatureDrifted            warning   10m  driftwarden_feature_drifted == 1
    DriftwardenModelDrifted              warning   10m  driftwarden_model_drifted == 1 (share >= drift.share)
    DriftwardenGPUXid                    page      -    a new critical XID (detectors.gpu.CRITICAL_XIDS) in 5m
    DriftwardenGPUXid                    warning   -    a new other XID in 5m
    DriftwardenOutboxBacklog             warning   15m  driftwarden_outbox_pending > 100
    DriftwardenNotificationsFailing      page      -    a notification given up (outcome="failed") in 15m
    DriftwardenDown                      page      5m   up{job=JOB} == 0, or no target of JOB at all
    DriftwardenIngestRejects             warning   10m  > 5 % of a source's records rejected over 10m

Drift warns and does not page, as in the daemon (a drifted model is a ticket or a retraining, not
an outage; the daemon's drift budgets page on a fast burn, which needs its own engine). Paging is
kept for what leaves nobody watching: a GPU that needs a reset or an RMA, notifications being
dropped, the daemon itself gone. `JOB` is the Prometheus job that scrapes driftwarden
(`rules generate --job`, default `driftwarden`).

DCGM_FI_DEV_XID_ERRORS is a gauge holding the *last* XID seen on a GPU (0: none since start), so
"a new XID" is a change of its value in the last 5m while it is non-zero: the alert fires for 5
minutes, like the daemon's `event_hold`; the same XID again shows no change and is only seen by
the daemon's own engine. A failed-delivery counter series is created by its first failure, which
`increase()` cannot see, so a series that is new since 15m ago and already above 0 counts too.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from prometheus_client.utils import floatToGoString

from driftwarden.collector.gpu import XID_ERRORS
from driftwarden.config import SLOSettings, parse_duration
from driftwarden.detectors.gpu import CRITICAL_XIDS
from driftwarden.exporters.metrics import (
    FEATURE_DRIFT_PVALUE,
    FEATURE_DRIFT_SCORE,
    FEATURE_DRIFTED,
    MODEL_DRIFT_SHARE,
    MODEL_DRIFTED,
    RECORDS,
    RECORDS_REJECTED,
    REQUEST_DURATION,
    SLO_WINDOWS,
)

__all__ = [
    "ALERT_DOWN",
    "ALERT_FEATURE_DRIFTED",
    "ALERT_GPU_XID",
    "ALERT_INGEST_REJECTS",
    "ALERT_MODEL_DRIFTED",
    "ALERT_NOTIFICATIONS_FAILING",
    "ALERT_OUTBOX_BACKLOG",
    "ALERT_PAGE",
    "ALERT_TICKET",
    "BURN_RATES",
    "BURN_VALUE",
    "DAEMON_FILE_NAME",
    "DEFAULT_JOB",
    "FILE_NAME",
    "OUTBOX_BACKLOG",
    "REJECTED_SHARE",
    "SHARE_VALUE",
    "VALUE",
    "BurnRate",
    "alert_rules",
    "daemon_group",
    "daemon_rules",
    "error_ratio",
    "labels",
    "le",
    "prom_duration",
    "recording_rules",
    "render",
    "render_daemon",
    "selector",
    "slo_group",
    "write_daemon_rules",
    "write_rules",
]

FILE_NAME = "slos.yml"
ALERT_PAGE = "SLOErrorBudgetBurnPage"
ALERT_TICKET = "SLOErrorBudgetBurnTicket"
BURN_VALUE = '{{ printf "%.1f" $value }}'  # the alert's value (a burn rate) in annotations
HEADER = (
    "# Generated by `driftwarden rules generate` from the config's `slos`: do not edit by hand.\n"
    "# Regenerate with: driftwarden rules generate --config FILE --out DIR\n"
)


# driftwarden.yml
DAEMON_FILE_NAME = "driftwarden.yml"
DEFAULT_JOB = "driftwarden"  # the Prometheus job that scrapes the daemon (`rules generate --job`)
ALERT_FEATURE_DRIFTED = "DriftwardenFeatureDrifted"
ALERT_MODEL_DRIFTED = "DriftwardenModelDrifted"
ALERT_GPU_XID = "DriftwardenGPUXid"
ALERT_OUTBOX_BACKLOG = "DriftwardenOutboxBacklog"
ALERT_NOTIFICATIONS_FAILING = "DriftwardenNotificationsFailing"
ALERT_DOWN = "DriftwardenDown"
ALERT_INGEST_REJECTS = "DriftwardenIngestRejects"
OUTBOX_BACKLOG = 100  # notifications pending for one receiver
REJECTED_SHARE = 0.05  # of a source's records
XID_HOLD = "5m"  # an XID alert lasts this long after the XID, as the daemon's GpuHealth(event_hold=300)
# Not in exporters/metrics.py yet (the alert outbox of issue 6 adds them there): until then, here.
OUTBOX_PENDING = "driftwarden_outbox_pending"  # gauge: receiver
WEBHOOK_DELIVERIES = "driftwarden_webhook_deliveries"  # counter (_total): receiver, outcome (ok, retry, failed)
DAEMON_HEADER = (
    "# Generated by `driftwarden rules generate`: alerts on driftwarden's own metrics. Do not edit by hand.\n"
    "# Regenerate with: driftwarden rules generate --out DIR [--job JOB]\n"
)
SHARE_VALUE = "{{ $value | humanizePercentage }}"  # a ratio alert's value in annotations
VALUE = "{{ $value }}"  # an alert's value as it is (an XID code, a count of notifications)


@dataclass(frozen=True)
class BurnRate:
    """One row of the table: alert when both windows burn faster than `factor`."""

    severity: str
    long: str
    short: str
    factor: float


BURN_RATES = (
    BurnRate("page", "1h", "5m", 14.4),
    BurnRate("page", "6h", "30m", 6),
    BurnRate("ticket", "1d", "2h", 3),
    BurnRate("ticket", "3d", "6h", 1),
)
_ALERT_NAMES = {"page": ALERT_PAGE, "ticket": ALERT_TICKET}


def labels(slo: SLOSettings) -> dict[str, str]:
    """The labels of every series recorded for `slo`."""
    selected = {"service": slo.service, "model": slo.model, "operation": slo.operation}
    return {"slo": slo.name} | {k: v for k, v in selected.items() if v is not None}


def selector(slo: SLOSettings, **extra: str) -> str:
    """`{service="a",model="b",...}` for the SLO's histogram series; '' when it selects everything."""
    matchers = {k: v for k, v in labels(slo).items() if k != "slo"} | extra
    return "{" + ",".join(f"{k}={_quote(v)}" for k, v in matchers.items()) + "}" if matchers else ""


def le(slo: SLOSettings) -> str:
    """The `le` label of the threshold's bucket, spelled as prometheus_client spells it."""
    if slo.threshold is None:
        raise ValueError(f"SLO {slo.name} is an availability SLO: it has no latency threshold")
    return floatToGoString(slo.threshold)


def error_ratio(slo: SLOSettings, window: str) -> str:
    count = f"sum(rate({REQUEST_DURATION}_count{selector(slo)}[{window}]))"
    if slo.threshold is not None:
        fast = f"sum(rate({REQUEST_DURATION}_bucket{selector(slo, le=le(slo))}[{window}]))"
        return f"1 - (\n  {fast}\n  /\n  {count}\n)"
    # `or vector(0)`: the status="error" series only exists after a first error
    errors = f"sum(rate({REQUEST_DURATION}_count{selector(slo, status='error')}[{window}]))"
    return f"(\n  {errors}\n  or vector(0)\n)\n/\n{count}"


def requests(slo: SLOSettings, window: str) -> str:
    return f"sum(increase({REQUEST_DURATION}_count{selector(slo)}[{window}]))"


def errors(slo: SLOSettings, window: str) -> str:
    if slo.threshold is not None:
        fast = f"sum(increase({REQUEST_DURATION}_bucket{selector(slo, le=le(slo))}[{window}]))"
        return f"{requests(slo, window)}\n-\n{fast}"
    return f"sum(increase({REQUEST_DURATION}_count{selector(slo, status='error')}[{window}]))\nor vector(0)"


def recording_rules(slo: SLOSettings) -> list[dict[str, Any]]:
    """The SLI ratios and counts, then the metadata and burn rates built on them (evaluation order)."""
    own = labels(slo)
    sel = _recorded(slo)
    period = prom_duration(slo.period)
    rules = [_record(f"slo:sli_error:ratio_rate{w}", error_ratio(slo, w), own) for w in SLO_WINDOWS]
    rules += [_record(f"slo:sli_requests:increase{w}", requests(slo, w), own) for w in _short_windows("page")]
    rules.append(_record("slo:sli_errors:increase5m", errors(slo, "5m"), own))
    if period not in SLO_WINDOWS:
        ratio = (
            f"sum_over_time(slo:sli_errors:increase5m{sel}[{period}])\n"
            f"/ on(slo)\n"
            f"sum_over_time(slo:sli_requests:increase5m{sel}[{period}])"
        )
        rules.append(_record(f"slo:sli_error:ratio_rate{period}", ratio, own))
    return [
        *rules,
        _record("slo:objective:ratio", f"vector({_num(slo.objective)})", own),
        _record("slo:error_budget:ratio", f"vector({_num(slo.error_budget)})", own),
        _record("slo:time_period:days", f"vector({_num(slo.period / 86400)})", own),
        _record(
            "slo:current_burn_rate:ratio",
            f"slo:sli_error:ratio_rate5m{sel}\n/ on(slo)\nslo:error_budget:ratio{sel}",
            own,
        ),
        _record(
            "slo:period_burn_rate:ratio",
            f"slo:sli_error:ratio_rate{period}{sel}\n/ on(slo)\nslo:error_budget:ratio{sel}",
            own,
        ),
        _record("slo:period_error_budget_remaining:ratio", f"1 - slo:period_burn_rate:ratio{sel}", own),
    ]


def alert_rules(slo: SLOSettings) -> list[dict[str, Any]]:
    """One alert per severity: its rows OR-ed; the value is the firing row's long-window burn rate."""
    return [_alert(slo, severity) for severity in _ALERT_NAMES]


def slo_group(slo: SLOSettings) -> dict[str, Any]:
    return {"name": f"driftwarden-slo-{slo.name}", "rules": recording_rules(slo) + alert_rules(slo)}


def render(slos: list[SLOSettings]) -> str:
    """The rule file's text: the same SLOs always give the same bytes."""
    return HEADER + _dump({"groups": [slo_group(slo) for slo in slos]})


def write_rules(slos: list[SLOSettings], out_dir: Path) -> Path:
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / FILE_NAME
    path.write_text(render(slos))
    return path


def daemon_rules(job: str = DEFAULT_JOB) -> list[dict[str, Any]]:
    """The alerts of `driftwarden.yml`, in the order of the table in the module docstring."""
    if not job:
        raise ValueError('the job must not be empty: up{job=""} selects the targets without a job label')
    if "{{" in job or "}}" in job:
        raise ValueError(f"the job {job!r} would break the annotations' templates: no '{{{{' or '}}}}'")
    model, feature = _label("model"), _label("feature")
    gpu = f"GPU {_label('gpu')} ({_label('UUID')}, {_label('modelName')}) on {_label('Hostname')}"
    receiver, source = _label("receiver"), _label("source")
    up = f"up{{job={_quote(job)}}}"
    failed = f'{WEBHOOK_DELIVERIES}_total{{outcome="failed"}}'
    critical = "\nor ".join(f"{XID_ERRORS} == {xid}" for xid in sorted(CRITICAL_XIDS))
    critical_list = "; ".join(f"{xid} {what}" for xid, what in sorted(CRITICAL_XIDS.items()))
    new_xid = f"changes({XID_ERRORS}[{XID_HOLD}]) > 0"
    rejected = f"sum by (source) (rate({RECORDS_REJECTED}_total[10m]))"
    accepted = f"sum by (source) (rate({RECORDS}_total[10m]))"
    return [
        _daemon_alert(
            ALERT_FEATURE_DRIFTED,
            f"{FEATURE_DRIFTED} == 1",
            "warning",
            "10m",
            summary=f"Feature drift on model {model}: {feature}",
            description=(
                f"Feature {feature} of model {model} has been drifted for 10m by driftwarden's decision rule "
                f"(instance {_label('instance')}). The statistics per method are in "
                f'{FEATURE_DRIFT_SCORE}{{model="{model}",feature="{feature}"}}, the adjusted p-values in '
                f"{FEATURE_DRIFT_PVALUE}; the daemon's UI shows the reference and current histograms."
            ),
        ),
        _daemon_alert(
            ALERT_MODEL_DRIFTED,
            f"{MODEL_DRIFTED} == 1",
            "warning",
            "10m",
            summary=f"Model drift on {model}: drifted features at or above the model's threshold",
            description=(
                f"Model {model} has been drifted for 10m: the share of its features that drifted "
                f'({MODEL_DRIFT_SHARE}{{model="{model}"}}) is at or above its drift.share threshold. '
                f'{FEATURE_DRIFTED}{{model="{model}"}} == 1 lists the drifted features. '
                "A warning, as in driftwarden's own engine: retrain or review, nothing is down."
            ),
        ),
        _daemon_alert(
            ALERT_GPU_XID,
            f"(\n{_indent(critical)}\n)\nand\n{new_xid}",
            "page",
            None,
            summary=f"Critical XID {VALUE} on {gpu}",
            description=(
                f"{gpu} reported XID {VALUE} in the last {XID_HOLD}, an XID that needs a GPU reset, "
                f"a node drain or an RMA. The critical XIDs: {critical_list}. Drain the node, check the kernel "
                "log (dmesg | grep -i xid) and NVIDIA's XID catalog."
            ),
        ),
        _daemon_alert(
            ALERT_GPU_XID,
            f"(\n  {XID_ERRORS} > 0\n  unless (\n{_indent(critical, 4)}\n  )\n)\nand\n{new_xid}",
            "warning",
            None,
            summary=f"XID {VALUE} on {gpu}",
            description=(
                f"{gpu} reported XID {VALUE} in the last {XID_HOLD}. It is not one of the critical "
                "XIDs: mostly an application fault (13 graphics engine exception, 31 MMU fault, 43 GPU "
                "stopped processing, 45 preemptive cleanup). Check the application's logs for the process "
                "that was running on the GPU and the kernel log (dmesg | grep -i xid)."
            ),
        ),
        _daemon_alert(
            ALERT_OUTBOX_BACKLOG,
            f"{OUTBOX_PENDING} > {OUTBOX_BACKLOG}",
            "warning",
            "15m",
            summary=f"Driftwarden's outbox holds {VALUE} notifications for receiver {receiver}",
            description=(
                f"More than {OUTBOX_BACKLOG} notifications for receiver {receiver} have been waiting in "
                f"driftwarden's outbox (instance {_label('instance')}) for 15m: the receiver is down, slow "
                f"or rate-limiting. They are retried with backoff until max_age; see "
                f'{WEBHOOK_DELIVERIES}_total{{receiver="{receiver}"}} by outcome.'
            ),
        ),
        _daemon_alert(
            ALERT_NOTIFICATIONS_FAILING,
            f"increase({failed}[15m]) > 0\nor\n(\n  {failed} > 0\n  unless\n  {failed} offset 15m\n)",
            "page",
            None,
            summary=f"Driftwarden is dropping notifications for receiver {receiver}",
            description=(
                f"Driftwarden (instance {_label('instance')}) gave up on notifications for receiver "
                f"{receiver} in the last 15m after retrying them for max_age: alerts it raised were never "
                "delivered. Check the receiver's URL and credentials, and the daemon's log."
            ),
        ),
        _daemon_alert(
            ALERT_DOWN,
            f"{up} == 0\nor\nabsent({up})",  # one rule: promtool rejects two alerts with one name and labels
            "page",
            "5m",
            summary=(
                "{{ with $labels.instance }}Driftwarden {{ . }} is down"
                f"{{{{ else }}}}Driftwarden is not scraped: no target of job {job}{{{{ end }}}}"
            ),
            description=(
                f"{{{{ with $labels.instance }}}}Prometheus has failed to scrape {{{{ . }}}} (job {job}) for 5m"
                f"{{{{ else }}}}Prometheus has had no target of job {job} for 5m (not deployed, or its scrape "
                "config or service discovery lost it){{ end }}: the drift, SLO and GPU monitoring of the model "
                "servers it watches is blind, and its own alerts are not sent."
            ),
        ),
        _daemon_alert(
            ALERT_INGEST_REJECTS,
            (
                f"{rejected}\n/\n(\n  {rejected}\n  +\n  (\n    {accepted}\n    or\n    0 * {rejected}\n  )\n)"
                f"\n> {_num(REJECTED_SHARE)}"
            ),
            "warning",
            "10m",
            summary=f"Driftwarden rejects {SHARE_VALUE} of the {source} records",
            description=(
                f"For 10m more than {_pct(REJECTED_SHARE)} of the prediction records from source {source} were "
                f"rejected (over 10m): a model server or client sends records driftwarden cannot read, so its "
                f'drift windows miss them. {RECORDS_REJECTED}_total{{source="{source}"}} by reason says why.'
            ),
        ),
    ]


def daemon_group(job: str = DEFAULT_JOB) -> dict[str, Any]:
    return {"name": "driftwarden", "rules": daemon_rules(job)}


def render_daemon(job: str = DEFAULT_JOB) -> str:
    """The text of `driftwarden.yml`: the same job always gives the same bytes."""
    return DAEMON_HEADER + _dump({"groups": [daemon_group(job)]})


def write_daemon_rules(out_dir: Path, job: str = DEFAULT_JOB) -> Path:
    text = render_daemon(job)  # before touching the disk: an empty job raises here
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / DAEMON_FILE_NAME
    path.write_text(text)
    return path


def prom_duration(seconds: float) -> str:
    """86400.0 -> '1d': the largest whole unit, as PromQL range selectors want it."""
    for unit in ("d", "h", "m", "s"):
        count = seconds / parse_duration(f"1{unit}")
        if count >= 1 and abs(count - round(count)) < 1e-9:
            return f"{round(count)}{unit}"
    return f"{round(seconds * 1000)}ms"


def _alert(slo: SLOSettings, severity: str) -> dict[str, Any]:
    sel = _recorded(slo)
    rows = [row for row in BURN_RATES if row.severity == severity]
    clauses = []
    for row in rows:
        budget = _num(slo.error_budget)
        conditions = [
            f"slo:sli_error:ratio_rate{row.long}{sel} / {budget} > {_num(row.factor)}",
            f"slo:sli_error:ratio_rate{row.short}{sel} / {budget} > {_num(row.factor)}",
        ]
        if severity == "page" and slo.min_requests > 0:
            conditions.append(f"slo:sli_requests:increase{row.short}{sel} >= {slo.min_requests}")
        clauses.append("(\n  " + "\n  and on(slo)\n  ".join(conditions) + "\n)")
    return {
        "alert": _ALERT_NAMES[severity],
        "expr": "\nor on(slo)\n".join(clauses),
        "labels": {"severity": severity, **labels(slo)},
        "annotations": _annotations(slo, severity, rows),
    }


def _annotations(slo: SLOSettings, severity: str, rows: list[BurnRate]) -> dict[str, str]:
    period = prom_duration(slo.period)
    where = ", ".join(f"{k} {v}" for k, v in labels(slo).items() if k != "slo") or "all requests"
    if slo.threshold is not None:
        target = f"{_pct(slo.objective)} of requests ({where}) within {_human(slo.threshold)} over {period}"
    else:
        target = f"{_pct(slo.objective)} of requests ({where}) without error over {period}"
    spent = [
        f"above {_num(row.factor)}x over both {row.long} and {row.short} "
        f"({_pct(row.factor * parse_duration(row.long) / slo.period)} of the budget in {row.long})"
        for row in rows
    ]
    guard = (
        f", with at least {slo.min_requests} requests in the shorter window"
        if severity == "page" and slo.min_requests > 0
        else ""
    )
    bad = "slow requests" if slo.threshold is not None else "errors"
    return {
        "summary": f"SLO {slo.name}: error budget burning {BURN_VALUE}x too fast ({severity})",
        "description": (
            f"SLO {slo.name} ({slo.kind}): {target}, an error budget of {_pct(slo.error_budget)} of requests. "
            f"The budget is being spent {BURN_VALUE}x faster than the {period} period allows (burn rate over "
            f"the longer window). This {severity} fires when the burn rate is {' or '.join(spent)}{guard}. "
            f"Look at slo:sli_error:ratio_rate5m{{slo={_quote(slo.name)}}} and "
            f"{REQUEST_DURATION}_count{selector(slo)} by model and operation to see where the {bad} come from."
        ),
    }


def _daemon_alert(
    name: str, expr: str, severity: str, for_: str | None, *, summary: str, description: str
) -> dict[str, Any]:
    rule: dict[str, Any] = {"alert": name, "expr": expr}
    if for_ is not None:
        rule["for"] = for_
    rule["labels"] = {"severity": severity}
    rule["annotations"] = {"summary": summary, "description": description}
    return rule


def _label(name: str) -> str:
    """The alert template of a label of the series the alert fires on."""
    return "{{ $labels." + name + " }}"


def _indent(text: str, spaces: int = 2) -> str:
    return "\n".join(" " * spaces + line for line in text.splitlines())


def _record(name: str, expr: str, own: dict[str, str]) -> dict[str, Any]:
    return {"record": name, "expr": expr, "labels": dict(own)}


def _recorded(slo: SLOSettings) -> str:
    """The selector of the series recorded for `slo` (its name is unique in the config)."""
    return "{" + f"slo={_quote(slo.name)}" + "}"


def _short_windows(severity: str) -> list[str]:
    return [row.short for row in BURN_RATES if row.severity == severity]


def _quote(value: str) -> str:
    return json.dumps(value, ensure_ascii=False)


def _num(x: float) -> str:
    """0.010000000000000009 -> '0.01', 6.0 -> '6' (1 - 0.99 is not 0.01 in floating point)."""
    return format(round(x, 10), ".10g")


def _pct(x: float) -> str:
    return f"{_num(x * 100)}%"


def _human(seconds: float) -> str:
    return f"{_num(seconds * 1000)}ms" if seconds < 1 else f"{_num(seconds)}s"


def _dump(document: dict[str, Any]) -> str:
    return yaml.dump(document, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=100_000)


class _Dumper(yaml.SafeDumper):
    """Multi-line strings (the expressions) as literal blocks, as people write rule files."""


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style="|" if "\n" in value else None)


_Dumper.add_representer(str, _str)
