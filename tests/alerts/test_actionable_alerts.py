"""The 3 am page: an alert says why (the test that fired) and where (the UI section of the feature, a
Grafana dashboard with its variables, the runbook, the pod), over real HTTP from a real daemon to a
local receiver standing in for PagerDuty's Events API."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import numpy as np
import orjson
import polars as pl
import pytest

from driftwarden.config import ConfigError, load_config
from driftwarden.sink import WebhookSink
from tests.support.incident import incident_page
from tests.support.pages import Dom, browse, chromium
from tests.support.processes import driftwarden
from tests.support.records import NDJSON, put_reference
from tests.support.server import Daemon, running

pytestmark = pytest.mark.server

REFERENCE_ROWS, CURRENT_ROWS = 5000, 2000


@pytest.fixture
def pagerduty() -> Iterator[WebhookSink]:
    sink = WebhookSink().start()
    yield sink
    sink.stop()


def with_missing(rng: np.random.Generator, rows: int, missing: int) -> list[float | None]:
    """Standard normal ages, exactly `missing` of them left out (spread at random)."""
    ages: list[float | None] = rng.normal(size=rows).tolist()
    for i in rng.choice(rows, size=missing, replace=False):
        ages[i] = None
    return ages


@contextmanager
def missing_rate_episode(tmp_path: Path, pagerduty: WebhookSink) -> Iterator[tuple[Daemon, dict[str, dict]]]:
    """age goes from 3.0 % missing to 9.3 % (its values, and the other features', keep their distribution),
    age is critical: the daemon pages. Yields it and the PagerDuty events it sent, by alert name."""
    key = tmp_path / "routing-key"
    key.write_text("R0UTINGKEY\n")
    config = {
        "alerting": {
            "for": 2,
            "group_wait": "0s",
            "group_interval": "0s",
            "resolve_hold": "0s",
            "grafana_url": "https://grafana.example/d/driftwarden-drift-overview?orgId=1",
        },
        "receivers": [
            {"name": "oncall", "type": "pagerduty", "url": pagerduty.url + "/v2/enqueue", "routing_key_file": str(key)}
        ],
        "routes": [  # (a drift budget burning after two evaluations is another story)
            {"match": {"alertname": "FeatureDrift"}, "receivers": ["oncall"]},
            {"match": {"alertname": "ModelDrift"}, "receivers": ["oncall"]},
        ],
        "models": {"churn": {"window": CURRENT_ROWS, "critical_features": ["age"]}},
    }
    rng = np.random.default_rng(21)
    reference = pl.DataFrame(
        {
            "age": with_missing(rng, REFERENCE_ROWS, 150),
            "income": rng.normal(size=REFERENCE_ROWS),
            "tenure": rng.normal(size=REFERENCE_ROWS),
        },
        schema={"age": pl.Float64, "income": pl.Float64, "tenure": pl.Float64},
    )
    ages, others = with_missing(rng, CURRENT_ROWS, 186), rng.normal(size=(CURRENT_ROWS, 2)).tolist()
    current = b"\n".join(
        orjson.dumps({"model": "churn", "features": {"age": age, "income": income, "tenure": tenure}})
        for age, (income, tenure) in zip(ages, others, strict=True)
    )
    with running(tmp_path / "s.db", **config) as d:
        put_reference(d, reference, model="churn")
        assert d.client.post("/v1/predictions", content=current, headers=NDJSON).status_code == 200
        d.evaluate()
        d.evaluate()  # alerting.for: 2
        events = {e["payload"]["class"]: e for e in (orjson.loads(x.body) for x in pagerduty.wait_for(2))}
        yield d, events


@pytest.fixture
def on_a_pod(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POD_NAME", "churn-5d8f-x2x7q")  # what the manifests' downward API sets
    monkeypatch.setenv("POD_NAMESPACE", "ml")


@pytest.mark.usefixtures("on_a_pod")
def test_a_missing_rate_drift_pages_with_the_missing_rate_the_feature_link_and_grafana(
    tmp_path: Path, pagerduty: WebhookSink
) -> None:
    with missing_rate_episode(tmp_path, pagerduty) as (d, events):
        # the report: age drifted for its missing rate alone, with the rates, threshold and p-values
        report = d.client.get("/v1/models/churn/drift").json()
        age = next(f for f in report["features"] if f["name"] == "age")
        assert [r["test"] for r in age["reasons"]] == ["missing"], age
        missing = age["reasons"][0]
        assert missing["from"] == pytest.approx(0.03) and missing["to"] == pytest.approx(0.093)
        assert missing["threshold"] == 0.05 and missing["pvalue_bh"] < 0.05
        assert age["scores"]["psi"] < 0.2 and age["scores"]["ks"] < 0.1  # under their thresholds
        assert report["reasons"][-1] == {"test": "critical", "value": 1.0, "threshold": 1.0, "features": ["age"]}

        # the metric says which test fires, for age only
        assert d.metric("driftwarden_feature_drift_reason", model="churn", feature="age", test="missing") == 1
        exposition = d.client.get("/metrics").text
        assert re.findall(r"driftwarden_feature_drift_reason\{[^}]*\}", exposition) == [
            'driftwarden_feature_drift_reason{feature="age",model="churn",test="missing"}'
        ]

        assert set(events) == {"FeatureDrift", "ModelDrift"}, events
        event = events["FeatureDrift"]
        assert event["routing_key"] == "R0UTINGKEY" and event["event_action"] == "trigger"
        payload = event["payload"]
        # why: the missing rate, not a PSI or KS under its threshold
        assert payload["summary"].startswith("Feature drift on churn: age missing rate 3.0% → 9.3% (change 6.3 pts")
        assert "PSI" not in payload["summary"] and "KS" not in payload["summary"]
        details = payload["custom_details"]
        assert details["reasons"] == [missing]
        # where and since when
        assert payload["severity"] == "critical" and payload["source"] == "ml/churn-5d8f-x2x7q"
        assert details["pod"] == "churn-5d8f-x2x7q" and details["namespace"] == "ml"
        assert details["started_at"] == payload["timestamp"] and payload["timestamp"].endswith("Z")
        ui, grafana, runbook = (link["href"] for link in event["links"])
        assert ui == details["ui_url"] == f"{d.url}/ui/models/churn#feature-age"
        assert runbook == details["runbook_url"] == f"{d.url}/runbooks/FeatureDrift"
        parts = urlsplit(grafana)
        assert f"{parts.scheme}://{parts.netloc}{parts.path}" == "https://grafana.example/d/driftwarden-drift-overview"
        query = parse_qs(parts.query)
        assert {k: v[0] for k, v in query.items() if k != "from"} == {
            "orgId": "1",
            "var-model": "churn",
            "var-feature": "age",
            "var-namespace": "ml",
            "var-pod": "churn-5d8f-x2x7q",
            "to": "now",
        }
        assert int(query["from"][0]) == pytest.approx(
            (d.client.get("/v1/alerts").json()["alerts"][0]["startsAt"] - 3600) * 1000, abs=1000
        )

        # the UI link lands on the feature's own section, which names the reason
        page = httpx.get(ui.partition("#")[0], timeout=10).text
        section = re.search(r'<section class="feature[^"]*" id="feature-age"[^>]*>.*?</section>', page, re.S)
        assert section is not None and 'data-reasons="missing"' in section.group()
        assert 'data-test="missing">missing rate 3.0% → 9.3%' in section.group()

        # the model's page: its reasons, and the top drifted features with theirs and their links
        model = events["ModelDrift"]["payload"]
        assert model["summary"].startswith("Model drift on churn: critical feature age drifted — age missing rate")
        (top,) = model["custom_details"]["top_features"]
        assert top == {"feature": "age", "reasons": [missing], "ui_url": ui}
        assert events["ModelDrift"]["links"][0]["href"] == f"{d.url}/ui/models/churn"


def test_runbooks_are_configured_per_alert_and_unknown_names_refused(tmp_path: Path, pagerduty: WebhookSink) -> None:
    from driftwarden.alerts.receivers.pagerduty import PagerDutyReceiver

    config = load_config(None, alerting={"runbooks": {"FeatureDrift": "https://wiki.example/drift"}})
    from driftwarden.params import alert_link_params

    links = alert_link_params(config, {})
    assert links.runbook("FeatureDrift") == "https://wiki.example/drift"
    assert links.runbook("SLOErrorBudgetBurn") == "http://127.0.0.1:4318/runbooks/SLOErrorBudgetBurn"  # the daemon's
    external = alert_link_params(load_config(None, alerting={"external_url": "https://dw.example/"}), {})
    assert external.runbook("GPUXid") == "https://dw.example/runbooks/GPUXid"
    assert PagerDutyReceiver("p", lambda: b"k", links=links).source == "driftwarden"  # no pod known: no pod named
    with pytest.raises(ConfigError, match=r"alerting\.runbooks.*FeatureDrfit"):
        load_config(None, alerting={"runbooks": {"FeatureDrfit": "https://wiki.example/drift"}})


def test_an_external_url_is_required_off_loopback_and_never_the_unspecified_address(tmp_path: Path) -> None:
    key = tmp_path / "key"
    key.write_text("k")
    config = tmp_path / "driftwarden.yaml"
    config.write_text(
        f"listen: 0.0.0.0:4318\nreceivers:\n  - {{name: oncall, type: pagerduty, routing_key_file: {key}}}\n"
    )
    r = driftwarden("config", "validate", str(config))
    assert r.returncode == 2 and "alerting.external_url: required when listen (0.0.0.0:4318)" in r.stderr, r.stderr

    pagerduty = [{"name": "oncall", "type": "pagerduty", "routing_key_file": str(key)}]
    with pytest.raises(ConfigError, match="address a server binds"):
        load_config(None, listen="0.0.0.0:4318", receivers=pagerduty, alerting={"external_url": "http://0.0.0.0:4318"})
    with pytest.raises(ConfigError, match="address a server binds"):
        load_config(None, alerting={"external_url": "http://[::]:4318/"})
    ok = load_config(None, listen="0.0.0.0:4318", receivers=pagerduty, alerting={"external_url": "https://dw.example"})
    assert ok.link_base() == "https://dw.example"
    # loopback: the daemon's own address is a link that works on the host; a retrain hook carries no link
    assert load_config(None, listen="127.0.0.1:4318", receivers=pagerduty).link_base() == "http://127.0.0.1:4318"
    retrain = [{"name": "retrain", "type": "retrain", "url": "http://airflow:8080/dags"}]
    assert load_config(None, listen="0.0.0.0:4318", receivers=retrain).link_base() == ""


def test_every_alert_has_its_runbook_section_in_the_operators_guide() -> None:
    from driftwarden.core.alert_names import ALERT_NAMES, runbook_anchor

    guide = (Path(__file__).resolve().parents[2] / "docs" / "operators-guide.md").read_text()
    troubleshoot = guide[guide.index("## Troubleshoot") :]
    # the anchor of "### Runbook: FeatureDrift" is "runbook-featuredrift", on GitHub as on /runbooks
    anchors = {"runbook-" + m.lower() for m in re.findall(r"^### Runbook: (\w+)$", troubleshoot, re.M)}
    assert {runbook_anchor(name) for name in ALERT_NAMES} <= anchors


@pytest.mark.browser
@pytest.mark.usefixtures("on_a_pod")
def test_the_page_and_the_feature_it_links_to_render_in_headless_chromium(
    tmp_path: Path, pagerduty: WebhookSink
) -> None:
    """The README's pictures of an alert: the PagerDuty incident as it reads, and the UI section its
    first link opens. Refreshed on request: DRIFTWARDEN_SCREENSHOTS=docs/images."""
    binary = chromium()
    shots = Path(os.environ.get("DRIFTWARDEN_SCREENSHOTS", tmp_path / "screenshots"))
    shots.mkdir(parents=True, exist_ok=True)
    with missing_rate_episode(tmp_path, pagerduty) as (_, events):
        event = events["FeatureDrift"]
        page = tmp_path / "incident.html"
        page.write_text(incident_page(event))
        dom = Dom(browse(binary, tmp_path / "p1", "--dump-dom", page.as_uri())).root
        (reason,) = dom.find_all("li")
        assert "test: missing" in reason.all_text() and "from: 0.03" in reason.all_text()
        ui = event["links"][0]["href"]
        feature = Dom(browse(binary, tmp_path / "p2", "--dump-dom", ui)).root.by_id("feature-age")
        assert feature.attrs["data-reasons"] == "missing" and "missing rate 3.0% → 9.3%" in feature.all_text()
        for name, url, size in (
            ("alert-pagerduty", page.as_uri(), "1000,620"),
            ("alert-ui-feature", ui.partition("#")[0], "1280,1180"),  # drifted features come first
        ):
            out = shots / f"{name}.png"
            browse(binary, tmp_path / f"shot-{name}", f"--screenshot={out}", f"--window-size={size}", url)
            assert out.stat().st_size > 10_000 and out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
