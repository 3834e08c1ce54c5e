"""`auth.protect_reads`: every read needs the bearer token too, except the probes, the runbooks (the
operator's guide, which an alert's link opens in a browser) and (unless `auth.protect_metrics`) the
scrape — checked over real HTTP for every GET route the app serves, so a route added later cannot be
left open by mistake."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from driftwarden.config import ConfigError, load_config
from tests.support.routes import served_routes
from tests.support.server import Daemon, running

pytestmark = pytest.mark.server

TOKEN = "s3cret-token"
PROBES = {"/healthz", "/readyz"}
RUNBOOKS = {"/runbooks", "/runbooks/{alertname}"}  # no data: the operator's guide
ANY_VALUE = {"model": "fraud", "silence_id": "0", "alertname": "FeatureDrift"}


def concrete(path: str) -> str:
    return re.sub(r"\{(\w+)\}", lambda m: ANY_VALUE[m.group(1)], path)


def reads(d: Daemon) -> list[str]:
    paths = sorted({path for method, path, _ in served_routes(d.app) if method in ("GET", "HEAD")})
    assert {"/v1/config", "/v1/models/{model}/drift", "/v1/slos", "/v1/alerts", "/", "/openapi.json"} <= set(paths)
    return paths


@pytest.fixture
def token_file(tmp_path: Path) -> Path:
    path = tmp_path / "token"
    path.write_text(TOKEN + "\n")
    return path


@pytest.fixture
def protected(tmp_path: Path, token_file: Path) -> Iterator[Daemon]:
    with running(tmp_path / "s.db", auth_token_file=str(token_file), auth={"protect_reads": True}) as d:
        yield d


def test_every_read_but_the_probes_and_the_scrape_needs_the_token(protected: Daemon) -> None:
    for path in reads(protected):
        url = concrete(path)
        refused = protected.client.get(url)
        wrong = protected.client.get(url, headers={"authorization": "Bearer nope"})
        allowed = protected.client.get(url, headers={"authorization": f"Bearer {TOKEN}"})
        if path in PROBES | RUNBOOKS | {"/metrics"}:
            assert refused.status_code == allowed.status_code == 200, path
            continue
        for answer in (refused, wrong):
            assert answer.status_code == 401, path
            assert answer.headers["www-authenticate"] == 'Bearer realm="driftwarden"'
            assert answer.json()["reason"] == "unauthorized"
        assert allowed.status_code != 401, path
    assert protected.metric("driftwarden_requests_rejected_total", endpoint="/v1/config", reason="unauthorized") == 2


def test_the_scrape_is_closed_when_asked(tmp_path: Path, token_file: Path) -> None:
    auth = {"protect_reads": True, "protect_metrics": True}
    with running(tmp_path / "s.db", auth_token_file=str(token_file), auth=auth) as d:
        for path in reads(d):
            answer = d.client.get(concrete(path))
            assert answer.status_code == (200 if path in PROBES | RUNBOOKS else 401), path
        scrape = d.client.get("/metrics", headers={"authorization": f"Bearer {TOKEN}"})
        assert scrape.status_code == 200 and "driftwarden_requests_rejected_total" in scrape.text


def test_by_default_reads_stay_open_and_writes_need_the_token(tmp_path: Path, token_file: Path) -> None:
    with running(tmp_path / "s.db", auth_token_file=str(token_file)) as d:
        for path in reads(d):
            if path == "/v1/audit":  # the audit trail needs the token whether or not reads are open
                assert d.client.get(path).status_code == 401
                continue
            assert d.client.get(concrete(path)).status_code != 401, path
        write = d.client.post("/v1/predictions", content=b"[]", headers={"content-type": "application/json"})
        assert write.status_code == 401 and write.headers["www-authenticate"] == 'Bearer realm="driftwarden"'


def test_protection_without_a_token_file_is_a_config_error(tmp_path: Path) -> None:
    for auth in ({"protect_reads": True}, {"protect_metrics": True}):
        with pytest.raises(ConfigError, match="auth_token_file"):
            load_config(None, state_path=str(tmp_path / "s.db"), auth=auth)
    with pytest.raises(ConfigError, match="protect_reads"):
        load_config(None, auth_token_file=str(tmp_path / "t"), auth={"protect_metrics": True})
