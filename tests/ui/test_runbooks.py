"""The daemon serves its own runbooks (GET /runbooks, /runbooks/<AlertName>): the runbook sections of
docs/operators-guide.md, one per alert kind, so an alert's runbook link needs no host the project does
not have. Over real HTTP: every alert the daemon raises or the generated rules define has its page, and
the runbook link of a PagerDuty event and of a webhook payload opens on the daemon."""

from __future__ import annotations

import re
from collections.abc import Iterator
from html import unescape
from pathlib import Path

import httpx
import numpy as np
import pytest

from driftwarden.alerts import fleet_rules, slo_rules
from driftwarden.alerts.own_rules import daemon_group
from driftwarden.core.alert_names import ALERT_NAMES
from driftwarden.params import SLOParams
from driftwarden.sink import WebhookSink
from tests.support.records import NDJSON, put_reference, records, reference_frame
from tests.support.server import running

pytestmark = pytest.mark.server

GUIDE = Path(__file__).resolve().parents[2] / "docs" / "operators-guide.md"
SLO = SLOParams(name="api", objective=0.99, threshold=0.5)


def guide_runbooks() -> dict[str, str]:
    """Each `### Runbook: <Name>` section of the operator's guide: its first line of text."""
    text = GUIDE.read_text()
    return {m[1]: m[2] for m in re.finditer(r"^### Runbook: (\w+)\n\n(.+)$", text, re.M)}


def rule_alert_names() -> set[str]:
    """The alerts of the generated Prometheus rules, under their current names."""
    groups = [daemon_group(), fleet_rules.fleet_group(), slo_rules.slo_group(SLO)]
    return {r["alert"] for g in groups for r in g["rules"] if "alert" in r and "deprecated" not in r["labels"]}


def section(html: str, name: str) -> str:
    found = re.search(rf'<section [^>]*id="runbook-{name.lower()}"[^>]*>(.*?)</section>', html, re.S)
    assert found is not None, name
    return found[1]


def shown(html: str) -> str:
    """The text of some markup, as one line."""
    return " ".join(unescape(re.sub(r"<[^>]+>", "", html)).split())


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[httpx.Client]:
    with running(tmp_path_factory.mktemp("runbooks") / "s.db") as d:
        yield d.client


def test_every_alert_has_its_runbook_page(daemon: httpx.Client) -> None:
    sections = guide_runbooks()
    names = set(ALERT_NAMES) | rule_alert_names()
    assert names <= set(sections), f"alerts without a runbook in the operator's guide: {names - set(sections)}"
    for name in sorted(names):
        r = daemon.get(f"/runbooks/{name}")
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/html"), name
        assert f"<h1>Runbook: {name}</h1>" in r.text
        text = shown(section(r.text, name))
        assert " ".join(sections[name].replace("`", "").split())[:60] in text, (name, text)

    index = daemon.get("/runbooks")
    assert index.status_code == 200
    for name in names:  # /runbooks#runbook-<name> lands on the section too
        assert shown(section(index.text, name)).startswith(name)
        assert f'href="/runbooks/{name}"' in index.text


def test_an_unknown_runbook_is_a_404_page_that_lists_the_known_ones(daemon: httpx.Client) -> None:
    r = daemon.get("/runbooks/FeatureDrfit")
    assert r.status_code == 404 and 'href="/runbooks/FeatureDrift"' in r.text
    assert "<script" not in daemon.get("/runbooks/%3Cscript%3E").text


def test_runbooks_open_without_the_token_that_protects_reads(tmp_path: Path) -> None:
    """An on-call engineer opens the link in a browser, which sends no bearer token; runbooks hold no data."""
    token = tmp_path / "token"
    token.write_text("s3cret")
    with running(tmp_path / "s.db", auth_token_file=str(token), auth={"protect_reads": True}) as d:
        assert d.client.get("/ui/models/x").status_code == 401
        assert d.client.get("/runbooks/FeatureDrift").status_code == 200
        assert d.client.get("/runbooks").status_code == 200


def test_the_runbook_links_of_a_page_and_a_webhook_open_on_the_daemon(tmp_path: Path) -> None:
    pagerduty, hook = WebhookSink().start(), WebhookSink().start()
    key = tmp_path / "key"
    key.write_text("R0UTINGKEY")
    config = {
        "alerting": {"for": 1, "group_wait": "0s", "group_interval": "0s"},
        "receivers": [
            {"name": "pd", "type": "pagerduty", "url": pagerduty.url + "/v2/enqueue", "routing_key_file": str(key)},
            {"name": "hook", "type": "webhook", "url": hook.url + "/hook"},
        ],
        "routes": [{"match": {"alertname": "FeatureDrift"}, "receivers": ["pd", "hook"]}],
        "models": {"fraud": {"window": 2000}},
    }
    rng = np.random.default_rng(3)
    try:
        with running(tmp_path / "s.db", **config) as d:
            put_reference(d, reference_frame(rng))
            d.client.post("/v1/predictions", content=records(rng, 2000, shift=(1.0, 0, 0)), headers=NDJSON)
            d.evaluate()
            event = pagerduty.wait_for(1)[0].json()
            payload = hook.wait_for(1)[0].json()
            assert isinstance(event, dict) and isinstance(payload, dict)
            links = [event["payload"]["custom_details"]["runbook_url"], event["links"][-1]["href"]]
            links += [a["annotations"]["runbook_url"] for a in payload["alerts"]]
            for link in links:
                assert link == f"{d.url}/runbooks/FeatureDrift", link
                page = httpx.get(link, timeout=10)
                assert page.status_code == 200 and 'id="runbook-featuredrift"' in page.text
    finally:
        pagerduty.stop()
        hook.stop()
