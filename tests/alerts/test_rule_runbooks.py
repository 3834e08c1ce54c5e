"""The generated Prometheus rules link the same runbooks as the daemon's own alerts: `rules generate
--runbook-base URL` (or a config's `alerting.external_url`) gives every alert `runbook_url:
URL/runbooks/<alert>` (a deprecated alias: its current name's), which a running daemon answers; without
a base there is no runbook_url, since the project names no host it does not run."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from driftwarden.alerts.own_rules import DEPRECATED_NAMES
from driftwarden.alerts.slo_rules import ALERT, ALERT_PAGE, ALERT_TICKET
from tests.support.processes import driftwarden
from tests.support.server import running

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "alerts" / "example.yaml"
CURRENT_NAME = {former: name for name, former in DEPRECATED_NAMES.items()} | {ALERT_PAGE: ALERT, ALERT_TICKET: ALERT}


def generate(out: Path, *args: str, config: Path = EXAMPLE) -> dict[str, Any]:
    done = driftwarden("rules", "generate", "--config", str(config), "--out", str(out), "--json", *args)
    assert done.returncode == 0, done.stderr
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def alerts(out: Path) -> list[dict[str, Any]]:
    """Every alert rule written to `out`, rule files and PrometheusRule resources alike."""
    found = []
    for path in sorted(out.iterdir()):
        document = yaml.safe_load(path.read_text())
        groups = document["spec"]["groups"] if document.get("kind") == "PrometheusRule" else document["groups"]
        found += [rule for group in groups for rule in group["rules"] if "alert" in rule]
    return found


@pytest.mark.server
@pytest.mark.parametrize("form", ["rules", "prometheusrule"])
def test_every_generated_alert_links_its_runbook_on_the_daemon(tmp_path: Path, form: str) -> None:
    with running(tmp_path / "s.db") as d:
        result = generate(tmp_path / "out", "--runbook-base", d.url + "/", "--format", form)
        assert result["runbook_base"] == d.url + "/"
        written = alerts(tmp_path / "out")
        assert {r["alert"] for r in written} >= {"FeatureDrift", "SLOErrorBudgetBurn", "DriftwardenFeatureDrifted"}
        for rule in written:
            name = CURRENT_NAME.get(rule["alert"], rule["alert"])
            assert ("deprecated" in rule["labels"]) == (name != rule["alert"]), rule["alert"]
            assert rule["annotations"]["runbook_url"] == f"{d.url}/runbooks/{name}", rule["alert"]
        for url in sorted({rule["annotations"]["runbook_url"] for rule in written}):
            page = httpx.get(url, timeout=10)
            assert page.status_code == 200 and 'class="card runbook"' in page.text, url


def test_the_configs_external_url_is_the_default_base_and_none_gives_no_runbook_url(tmp_path: Path) -> None:
    config = tmp_path / "driftwarden.yaml"
    config.write_text(EXAMPLE.read_text() + "alerting: {external_url: 'https://dw.example/base/'}\n")
    generate(tmp_path / "configured", config=config)
    assert {r["annotations"]["runbook_url"] for r in alerts(tmp_path / "configured") if r["alert"] == "GPUXid"} == {
        "https://dw.example/base/runbooks/GPUXid"
    }
    assert generate(tmp_path / "plain")["runbook_base"] is None
    assert [r["alert"] for r in alerts(tmp_path / "plain") if "runbook_url" in r["annotations"]] == []
    # the checked-in files are generated from the example, which names no host
    assert "runbook_url" not in "".join(p.read_text() for p in (ROOT / "alerts" / "rules").glob("*.yml"))


@pytest.mark.parametrize("base", ["http://0.0.0.0:4318", "ftp://dw.example", "dw.example"])
def test_a_runbook_base_nobody_can_open_is_refused(tmp_path: Path, base: str) -> None:
    done = driftwarden("rules", "generate", "--out", str(tmp_path), "--runbook-base", base)
    assert done.returncode == 2 and done.stderr.startswith("error --runbook-base: "), done.stderr
    assert not list(tmp_path.iterdir())  # nothing written
