"""Receiver secrets given by environment variable (`routing_key_env`, `api_key_env`, `bot_token_env`,
`webhook_url_env`, `hmac_secret_env`): an unset one is refused by `driftwarden config validate` as by
`driftwarden run`, one line per key naming the variable (never a value), exit 2, nothing started."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.startup import assert_refused, run, validate, write_config

RECEIVERS = (
    "receivers:\n"
    "  - {name: pd, type: pagerduty, routing_key_env: DW_TEST_PD_KEY}\n"
    "  - {name: ops, type: opsgenie, api_key_env: DW_TEST_OG_KEY}\n"
    "  - {name: bot, type: slack, bot_token_env: DW_TEST_SLACK_TOKEN, channel: C0123ML}\n"
    "  - {name: hook, type: slack, webhook_url_env: DW_TEST_SLACK_HOOK}\n"
    "  - {name: signed, type: webhook, url: 'http://127.0.0.1:9/', hmac_secret_env: DW_TEST_WHSEC}\n"
)
VARIABLES = {
    "receivers.0.routing_key_env": "DW_TEST_PD_KEY",
    "receivers.1.api_key_env": "DW_TEST_OG_KEY",
    "receivers.2.bot_token_env": "DW_TEST_SLACK_TOKEN",
    "receivers.3.webhook_url_env": "DW_TEST_SLACK_HOOK",
    "receivers.4.hmac_secret_env": "DW_TEST_WHSEC",
}


def test_unset_secret_variables_are_refused_by_validate_and_run_alike(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for variable in VARIABLES.values():
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("DW_TEST_OG_KEY", "  \n")  # blank is unset: the daemon strips what it reads
    config = write_config(tmp_path, RECEIVERS)
    lines = [f"{key}: environment variable {name} is not set" for key, name in VARIABLES.items()]
    assert_refused(validate(config), *lines)
    assert_refused(run(config), *lines)
    assert not (tmp_path / "state").exists()


def test_set_secret_variables_validate(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for variable in VARIABLES.values():
        monkeypatch.setenv(variable, f"secret-of-{variable}")
    result = validate(write_config(tmp_path, RECEIVERS))
    assert result.returncode == 0, result.stderr
    assert "secret-of-" not in result.stdout + result.stderr
