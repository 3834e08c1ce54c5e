"""OpsGenie and Slack receivers in the config: what each needs, said at its line with what to do, and a
key of one receiver type given to another refused by name."""

from __future__ import annotations

from pathlib import Path

import pytest

from driftwarden.config import ConfigError, load_config
from driftwarden.params import opsgenie_params


def refused(tmp_path: Path, receivers: str) -> list[str]:
    path = tmp_path / "driftwarden.yaml"
    path.write_text("receivers:\n" + receivers)
    with pytest.raises(ConfigError) as raised:
        load_config(path)
    return [p.removeprefix(f"{path}:") for p in raised.value.problems]


def test_opsgenie_needs_its_key_file_and_well_formed_responders(tmp_path: Path) -> None:
    assert refused(
        tmp_path,
        "  - name: ops\n"
        "    type: opsgenie\n"
        "    responders: [{type: team, username: a@example.com}, {type: user, name: Ann}, {type: schedule}]\n"
        "    priorities: {page: P0, sev1: P1}\n",
    ) == [
        "2:5: receivers.0: receiver 'ops': opsgenie needs api_key_file or api_key_env, where its API key is",
        "4:18: receivers.0.responders.0: a team responder is named by id or name, not username",
        "4:57: receivers.0.responders.1: a user responder is named by id or username, not name",
        "4:82: receivers.0.responders.2: a schedule responder needs exactly one of id or name (given: none)",
        "5:24: receivers.0.priorities.page: Input should be 'P1', 'P2', 'P3', 'P4' or 'P5'",
        "5:34: receivers.0.priorities.sev1.[key]: Input should be 'page', 'ticket', 'warning' or 'info'",
    ]


def test_slack_needs_a_webhook_or_a_bot_token_and_channel(tmp_path: Path) -> None:
    problems = refused(
        tmp_path,
        "  - {name: a, type: slack}\n"
        "  - {name: b, type: slack, bot_token_file: /run/token}\n"
        "  - {name: c, type: slack, webhook_url_file: /run/hook, channel: '#ml', url: 'https://hooks.slack.com/x'}\n",
    )
    assert problems == [
        "2:5: receivers.0: receiver 'a': slack needs webhook_url_file or _env (an incoming webhook) or "
        "bot_token_file or _env with a channel (chat.postMessage, resolutions threaded), not neither",
        "3:5: receivers.1: receiver 'b': slack with a bot token needs the channel to post in",
        "4:66: receivers.2.channel: an incoming webhook posts to the channel it was made for: drop channel",
        "4:78: receivers.2.url: an incoming webhook's URL is its credential: keep it in webhook_url_file or "
        "webhook_url_env only, not in the config",
    ]
    assert all("hooks.slack.com/x" not in p for p in problems)


def test_a_secret_comes_from_its_file_or_its_environment_variable_not_both(tmp_path: Path) -> None:
    assert refused(
        tmp_path,
        "  - {name: pd, type: pagerduty, routing_key_file: /run/pd, routing_key_env: PD}\n"
        "  - {name: ops, type: opsgenie, api_key_file: /run/og, api_key_env: OG}\n"
        "  - {name: bot, type: slack, bot_token_file: /run/t, bot_token_env: TOKEN, channel: C1}\n"
        "  - {name: hook, type: slack, webhook_url_file: /run/h, webhook_url_env: HOOK}\n"
        "  - {name: both, type: slack, webhook_url_env: HOOK, bot_token_env: TOKEN}\n"
        "  - {name: bare, type: slack, bot_token_env: TOKEN}\n",
    ) == [
        "2:77: receivers.0.routing_key_env: receiver 'pd': give routing_key_file or routing_key_env, not both: one "
        "source for a secret",
        "3:69: receivers.1.api_key_env: receiver 'ops': give api_key_file or api_key_env, not both: one source for a "
        "secret",
        "4:69: receivers.2.bot_token_env: receiver 'bot': give bot_token_file or bot_token_env, not both: one source "
        "for a secret",
        "5:74: receivers.3.webhook_url_env: receiver 'hook': give webhook_url_file or webhook_url_env, not both: one "
        "source for a secret",
        "6:5: receivers.4: receiver 'both': slack needs webhook_url_file or _env (an incoming webhook) or "
        "bot_token_file or _env with a channel (chat.postMessage, resolutions threaded), not both",
        "6:5: receivers.4: receiver 'both': slack with a bot token needs the channel to post in",
        "7:5: receivers.5: receiver 'bare': slack with a bot token needs the channel to post in",
    ]


def test_secrets_from_the_environment_alone_are_enough() -> None:
    config = load_config(
        None,
        receivers=[
            {"name": "ops", "type": "opsgenie", "api_key_env": "OPSGENIE_API_KEY"},
            {"name": "bot", "type": "slack", "bot_token_env": "SLACK_BOT_TOKEN", "channel": "C0123ML"},
            {"name": "hook", "type": "slack", "webhook_url_env": "SLACK_WEBHOOK_URL"},
        ],
    )
    assert [(r.api_key_env, r.bot_token_env, r.webhook_url_env) for r in config.receivers] == [
        ("OPSGENIE_API_KEY", None, None),
        (None, "SLACK_BOT_TOKEN", None),
        (None, None, "SLACK_WEBHOOK_URL"),
    ]
    refused_env = "receivers.0.api_key_env: api_key_env is a key of opsgenie receivers; receiver 'pd' is pagerduty"
    with pytest.raises(ConfigError, match=refused_env):
        load_config(None, receivers=[{"name": "pd", "type": "pagerduty", "routing_key_env": "PD", "api_key_env": "X"}])


def test_keys_of_another_receiver_type_are_refused_by_name(tmp_path: Path) -> None:
    assert refused(
        tmp_path,
        "  - {name: pd, type: pagerduty, routing_key_env: PD, channel: '#ml', region: eu}\n"
        "  - {name: s, type: slack, webhook_url_file: /run/hook, responders: [], hmac_secret_file: /run/h}\n",
    ) == [
        "2:63: receivers.0.channel: channel is a key of slack receivers; receiver 'pd' is pagerduty",
        "2:78: receivers.0.region: region is a key of opsgenie receivers; receiver 'pd' is pagerduty",
        "3:69: receivers.1.responders: responders is a key of opsgenie receivers; receiver 's' is slack",
        "3:91: receivers.1.hmac_secret_file: slack knows driftwarden by its token or webhook URL: hmac_secret_file "
        "signs webhook and retrain deliveries only",
    ]


def test_a_valid_opsgenie_receiver_becomes_its_parameters() -> None:
    config = load_config(
        None,
        receivers=[
            {
                "name": "ops",
                "type": "opsgenie",
                "api_key_file": "/run/key",
                "region": "eu",
                "responders": [{"type": "team", "name": "ml-oncall"}, {"type": "user", "username": "a@example.com"}],
                "tags": ["ml"],
                "priorities": {"ticket": "P2"},
            }
        ],
    )
    params = opsgenie_params(config.receivers[0])
    assert params.base_url == "https://api.eu.opsgenie.com"
    assert params.responders == ({"type": "team", "name": "ml-oncall"}, {"type": "user", "username": "a@example.com"})
    assert params.priorities == {"page": "P1", "ticket": "P2", "warning": "P4", "info": "P5"} and params.tags == ("ml",)
