"""The anomaly rules in PromQL (alerts/rules/anomalies.yml), proven with `promtool test rules`: four simulated
weeks of the daily and weekly rhythm (tests/support/rhythm.py, the daemon's detector test's) as the request
counter prometheus_client exports, scraped once a minute; no Anomaly on the rhythm, one within `for` (and the
5-minute rate window) of a 40 % drop at 03:00 on a Wednesday."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml

from driftwarden.alerts import anomaly_rules
from driftwarden.config import load_config
from driftwarden.core.metric_names import REQUEST_DURATION
from driftwarden.params import AnomalyParams, anomaly_params
from tests.support.processes import driftwarden
from tests.support.rhythm import DAY, MONDAY, WEEK, rate
from tests.support.tools import required_tool

ROOT = Path(__file__).resolve().parents[2]
CHECKED_IN = ROOT / "alerts" / "rules" / anomaly_rules.FILE_NAME
EXAMPLE = ROOT / "alerts" / "example.yaml"
PARAMS = AnomalyParams(signals=("request_rate",))  # the defaults: a week, 4 seasons, sensitivity 3, for 15m
LABELS = {"service": "fraud-model", "model": "fraud", "operation": "/predict"}
DROP = 4 * WEEK + 2 * DAY + 3 * 3600  # seconds from the first scrape: Wednesday 03:00 of the fifth week


def test_checked_in_rules_are_what_the_example_generates() -> None:
    assert CHECKED_IN.read_text() == anomaly_rules.render(anomaly_params(load_config(EXAMPLE).anomaly)), (
        "alerts/rules/anomalies.yml is stale: run driftwarden rules generate --config alerts/example.yaml"
    )


def test_a_disabled_config_writes_no_group_and_a_daily_season_offsets_by_days(tmp_path: Path) -> None:
    config = tmp_path / "c.yaml"
    config.write_text("anomaly: {enabled: false}\n")
    done = driftwarden("rules", "generate", "--config", str(config), "--out", str(tmp_path / "out"))
    assert done.returncode == 0, done.stderr
    assert yaml.safe_load((tmp_path / "out" / anomaly_rules.FILE_NAME).read_text())["groups"] == []
    daily = anomaly_rules.anomaly_rules(AnomalyParams(signals=("gpu_memory",), season=DAY, seasons=3))
    assert "offset 3d" in daily[1]["expr"] and "offset 1w" not in daily[1]["expr"]


@pytest.fixture(scope="module")
def promtool() -> str:
    return required_tool("promtool", package="prometheus")


@pytest.mark.promtool
def test_promtool_checks_every_signals_rules(promtool: str, tmp_path: Path) -> None:
    for season in (DAY, WEEK):
        path = anomaly_rules.write_rules(tmp_path / str(season), AnomalyParams(season=season), "https://dw.example")
        done = subprocess.run([promtool, "check", "rules", str(path)], capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stdout + done.stderr
        assert "36 rules found" in done.stdout


def counter(minutes: int, factor_from: tuple[int, float] | None = None) -> str:
    """The request counter scraped once a minute from MONDAY: cumulative requests, explicit values."""
    values, total = [], 0.0
    for minute in range(minutes + 1):
        values.append(f"{total:.1f}")
        step = rate(MONDAY + minute * 60) * 60
        if factor_from is not None and minute * 60 >= factor_from[0]:
            step *= factor_from[1]
        total += step
    return " ".join(values)


def firing(at: float) -> dict:
    labels = ",".join(f'{k}="{v}"' for k, v in LABELS.items())
    alert = (
        f'ALERTS{{alertname="Anomaly",alertstate="firing",kind="anomaly",severity="warning",'
        f'signal="request_rate",subject="request_rate",{labels}}}'
    )
    return {
        "expr": 'ALERTS{alertname="Anomaly",alertstate="firing"}',
        "eval_time": f"{round(at / 60)}m",
        "exp_samples": [{"labels": alert, "value": 1}],
    }


def quiet(at: float, state: str = "") -> dict:
    """No Anomaly alert at `at` (`state` "firing": none firing, a pending one allowed)."""
    selector = f'ALERTS{{alertname="Anomaly"{f",alertstate={state!r}".replace(chr(39), chr(34)) if state else ""}}}'
    return {"expr": selector, "eval_time": f"{round(at / 60)}m", "exp_samples": []}


@pytest.mark.promtool
def test_quiet_on_the_rhythm_and_an_anomaly_within_for_of_a_40_percent_drop_at_3am(
    promtool: str, tmp_path: Path
) -> None:
    anomaly_rules.write_rules(tmp_path, PARAMS)
    end = DROP + 40 * 60
    labels = ",".join(f'{k}="{v}"' for k, v in LABELS.items())
    series = f'{REQUEST_DURATION}_count{{{labels},status="ok"}}'
    checks = [quiet(t) for t in range(int(2 * WEEK), int(DROP), 3 * 3600)]  # every 3 hours of weeks 3 and 4
    checks += [quiet(DROP - 300), quiet(DROP + 10 * 60, "firing")]  # pending at most before `for` has passed
    checks += [firing(DROP + 25 * 60), firing(DROP + 40 * 60)]  # 5m of rate window + 15m of `for` (+ a step)
    test = {
        "rule_files": [anomaly_rules.FILE_NAME],
        "evaluation_interval": "5m",
        "tests": [
            {
                "interval": "1m",
                "input_series": [{"series": series, "values": counter(round(end / 60), (round(DROP), 0.6))}],
                "promql_expr_test": checks,
            }
        ],
    }
    (tmp_path / "test.yml").write_text(yaml.safe_dump(test, sort_keys=False, width=10**9))
    done = subprocess.run(
        [promtool, "test", "rules", str(tmp_path / "test.yml")], capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, (done.stdout + done.stderr)[-4000:]
