"""alerts/alertmanager.example.yml: `amtool check-config`, where each generated alert is routed, and
that its templates parse.

amtool comes with Debian's prometheus-alertmanager package (.ci/run installs it); without it the
amtool tests are skipped, unless CI=true.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from driftwarden.alerts import own_rules, slo_rules
from driftwarden.config import load_config
from driftwarden.params import slo_params
from tests.support.tools import required_tool

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / "alerts" / "alertmanager.example.yml"
RECEIVER = {"page": "pagerduty", "ticket": "tickets", "warning": "tickets"}  # what the example promises


def example() -> dict[str, Any]:
    return yaml.safe_load(CONFIG.read_text())


def generated_alerts() -> list[dict[str, Any]]:
    """Every alert rule `driftwarden rules generate --config alerts/example.yaml` writes."""
    slos = load_config(ROOT / "alerts" / "example.yaml").slos
    return [rule for slo in slos for rule in slo_rules.alert_rules(slo_params(slo))] + own_rules.daemon_group()["rules"]


def receiver(name: str) -> dict[str, Any]:
    return next(r for r in example()["receivers"] if r["name"] == name)


def templates(node: Any) -> list[str]:
    """Every string in the config that Alertmanager expands as a template."""
    if isinstance(node, dict):
        return [t for v in node.values() for t in templates(v)]
    if isinstance(node, list):
        return [t for v in node for t in templates(v)]
    return [node] if isinstance(node, str) and "{{" in node else []


def test_secrets_are_read_from_files() -> None:
    (pagerduty,) = receiver("pagerduty")["pagerduty_configs"]
    assert pagerduty["routing_key_file"].startswith("/")
    assert not {"routing_key", "service_key", "service_key_file"} & pagerduty.keys()
    (webhook,) = receiver("tickets")["webhook_configs"]
    assert webhook["http_config"]["authorization"].keys() == {"credentials_file"}


def test_alerts_are_grouped_by_name_model_and_slo() -> None:
    route = example()["route"]
    assert route["group_by"] == ["alertname", "model", "slo"]
    assert (route["group_wait"], route["group_interval"], route["repeat_interval"]) == ("30s", "5m", "4h")
    assert [r["receiver"] for r in route["routes"]] == ["deprecated-aliases", "pagerduty", "tickets"]
    assert route["routes"][0]["matchers"] == ['deprecated="true"']  # the former rule names, dropped


def test_every_generated_severity_is_one_the_example_routes() -> None:
    assert {rule["labels"]["severity"] for rule in generated_alerts()} == set(RECEIVER)


# --- amtool ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def amtool() -> str:
    return required_tool("amtool", package="prometheus-alertmanager")


def run_amtool(amtool: str, *args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([amtool, *map(str, args)], capture_output=True, text=True, timeout=60)


@pytest.mark.alertmanager
def test_amtool_checks_the_example_config(amtool: str) -> None:
    done = run_amtool(amtool, "check-config", CONFIG)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS" in done.stdout and "3 receivers" in done.stdout


@pytest.mark.alertmanager
def test_pages_go_to_pagerduty_and_the_rest_to_the_webhook(amtool: str) -> None:
    seen = set()
    for rule in generated_alerts():
        labels = {"alertname": rule["alert"], **rule["labels"]}
        if (labels["alertname"], labels["severity"]) in seen:
            continue
        seen.add((labels["alertname"], labels["severity"]))
        expected = "deprecated-aliases" if labels.get("deprecated") == "true" else RECEIVER[labels["severity"]]
        done = run_amtool(
            amtool,
            "config",
            "routes",
            "test",
            f"--config.file={CONFIG}",
            f"--verify.receivers={expected}",
            *(f"{k}={v}" for k, v in labels.items()),
        )
        assert done.returncode == 0, f"{labels}: {done.stdout}{done.stderr}"
        assert done.stdout.strip() == expected
    # 2 SLO burn-rate alerts (one name, page and ticket); 7 on driftwarden's metrics, the GPU XID as page and
    # warning; and the deprecated aliases of SLO page and ticket, feature and model drift, XID page and warning
    assert len(seen) == 10 + 6
    no_severity = run_amtool(amtool, "config", "routes", "test", f"--config.file={CONFIG}", "alertname=Other")
    assert no_severity.stdout.strip() == "tickets"


@pytest.mark.alertmanager
def test_the_templates_parse(amtool: str, tmp_path: Path) -> None:
    # check-config does not parse receiver templates; `template render` does, on example data
    empty = tmp_path / "none.tmpl"
    empty.write_text("")
    found = templates(example()["receivers"])
    assert len(found) >= 5
    for text in found:
        done = run_amtool(amtool, "template", "render", f"--template.glob={empty}", f"--template.text={text}")
        assert done.returncode == 0, f"{text!r}: {done.stdout}{done.stderr}"
    broken = run_amtool(amtool, "template", "render", f"--template.glob={empty}", "--template.text={{ .Oops")
    assert broken.returncode != 0
