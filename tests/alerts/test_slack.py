"""Slack over real HTTP, a local stand-in in Slack's place (chat.postMessage and an incoming webhook):
a Block Kit message within Block Kit's limits even with 200 drifted features; with a bot token, updates
and the resolution reply in the first post's thread, across a daemon restart; with a webhook, each is a
message of its own; refusals, 5xx and 429 with Retry-After as the outbox treats them."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import orjson
import pytest

from driftwarden.alerts.outbox import Outbox
from driftwarden.alerts.receivers.base import Endpoint
from driftwarden.alerts.receivers.opsgenie import OpsGenieReceiver
from driftwarden.alerts.receivers.slack import SlackReceiver
from driftwarden.alerts.receivers.slack_blocks import slack_message
from driftwarden.detectors.findings import Finding, Severity
from driftwarden.params import AlertLinkParams, OpsGenieParams, OutboxParams
from driftwarden.persistence.database import Database
from driftwarden.persistence.outbox_store import OutboxStore
from driftwarden.persistence.store import Store
from driftwarden.persistence.threads import ThreadTimestamps
from tests.support.alert_cases import drift, model_drift, notified
from tests.support.block_kit import block_kit_problems, texts
from tests.support.paging_apis import FakeOpsGenie, FakeSlack
from tests.support.records import NDJSON, put_reference, records, reference_frame
from tests.support.server import running

LINKS = AlertLinkParams(
    external_url="https://dw.example", grafana_url="https://grafana.example/d/drift?orgId=1", pod="fraud-7d9f"
)


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    api = FakeSlack()
    yield api
    api.stop()


def deliver(outbox: Outbox, passes: int = 40) -> None:
    async def run() -> None:
        for _ in range(passes):
            await outbox.deliver_due()
            if not outbox.pending():
                break
            await asyncio.sleep(0.05)
        await outbox.close()

    asyncio.run(run())


def outbox_for(
    tmp_path: Path, *endpoints: tuple[str, Endpoint], outcomes: list[str] | None = None, **kw: object
) -> Outbox:
    return Outbox(
        OutboxStore(Database(tmp_path / "state.db")),
        OutboxParams(initial_backoff=0.01, max_backoff=0.05),
        endpoints=dict(endpoints),
        on_result=lambda r, o: (outcomes if outcomes is not None else []).append(o),
        **kw,  # type: ignore[arg-type]
    )


# -- the message ----------------------------------------------------------------------------------


def test_two_hundred_drifted_features_keep_block_kit_limits(tmp_path: Path, slack: FakeSlack) -> None:
    names = [f"feature_{i:03d}" for i in range(199)] + ["x" * 2500]  # one name past every text limit
    findings: list[Finding] = [drift(name, psi=0.21 + i / 100) for i, name in enumerate(names)]
    findings.append(model_drift(0.9, drifted=tuple(names)))
    n = notified(findings)
    assert len(n.alerts) == 201

    message = slack_message(n, LINKS)
    payload = {"text": message.text, "blocks": message.blocks}
    assert block_kit_problems(payload) == []
    header = message.blocks[0]["text"]["text"]
    assert header == ":warning: Firing: FeatureDrift, ModelDrift on fraud: 200 features"
    body = "\n".join(texts(payload))
    shown = body.count("\n• ")
    assert 10 <= shown < 200 and f"…and {200 - shown} more drifted features: see the UI" in body
    assert body.index("feature_198") < body.index("feature_197")  # most drifted first
    assert "feature_000" not in body  # the least drifted ones are the ones left out
    assert sum(len(t) for t in texts(payload)) <= 12_000  # Slack's msg_blocks_too_long comes past that
    buttons = [e["text"]["text"] for b in message.blocks if b["type"] == "actions" for e in b["elements"]]
    assert buttons == ["Open in driftwarden", "Grafana dashboard", "Runbook"]
    ui = next(b for b in message.blocks if b["type"] == "actions")["elements"][0]["url"]
    assert ui == "https://dw.example/ui/models/fraud"  # the model's page for a group

    receiver = SlackReceiver("team", webhook_url=lambda: slack.webhook_url.encode(), links=LINKS)
    outbox = outbox_for(tmp_path, ("team", receiver.endpoint))
    outbox.enqueue(receiver.messages(n, now=5))
    deliver(outbox)
    (post,) = slack.accepted()  # the stand-in refuses (400 invalid_blocks) what breaks a limit
    assert post.json()["blocks"] == message.blocks


def test_one_alert_leads_with_its_summary_and_links_its_feature() -> None:
    message = slack_message(notified([drift(severity=Severity.PAGE)]), LINKS)
    header = message.blocks[0]["text"]["text"]
    assert header.startswith(":rotating_light: Firing: Feature drift on fraud: amount PSI 0.41 ≥ 0.2")
    features = next(t for t in texts({"blocks": message.blocks}) if "Drifted features" in t)
    assert "• <https://dw.example/ui/models/fraud#feature-amount|amount> 0.41 (threshold 0.2) — PSI 0.41" in features
    fields = "\n".join(f["text"] for f in message.blocks[1]["fields"])
    assert "*Severity*\npage" in fields and "*Model*\nfraud" in fields and "<!date^" in fields
    assert "*Pod*\nfraud-7d9f" in fields
    resolved = slack_message(notified([drift()], resolved=True), LINKS)
    assert resolved.blocks[0]["text"]["text"].startswith(":white_check_mark: Resolved: Feature drift on fraud")


def test_long_texts_are_cut_with_an_ellipsis_and_an_overlong_link_left_out() -> None:
    links = AlertLinkParams(external_url="https://dw.example", grafana_url="https://g.example/d/x?" + "a=b&" * 900)
    message = slack_message(notified([drift("<&>" + "y" * 300, model_version="v" * 200)]), links)
    header = message.blocks[0]["text"]["text"]
    assert len(header) == 150 and header.endswith("…")
    assert block_kit_problems({"text": message.text, "blocks": message.blocks}) == []
    buttons = [e["text"]["text"] for b in message.blocks if b["type"] == "actions" for e in b["elements"]]
    assert buttons == ["Open in driftwarden", "Runbook"]  # Grafana's URL is past 3,000 characters
    assert "&lt;&amp;&gt;" in "\n".join(texts({"blocks": message.blocks}))  # mrkdwn's control characters escaped


# -- delivery -------------------------------------------------------------------------------------


def test_bot_posts_then_replies_in_the_thread_and_the_resolution_ends_it(tmp_path: Path, slack: FakeSlack) -> None:
    threads = ThreadTimestamps(Store(Database(tmp_path / "threads.db")))
    bot = SlackReceiver(
        "team",
        bot_token=lambda: slack.token.encode(),
        channel=slack.channel,
        url=slack.url + "/api/chat.postMessage",
        threads=threads,
        links=LINKS,
    )
    outbox = outbox_for(tmp_path, ("team", bot.endpoint))
    firing, resolved = notified([drift(), model_drift()]), notified([drift(), model_drift()], resolved=True)
    outbox.enqueue(bot.messages(firing, now=5) + bot.messages(firing, now=6) + bot.messages(resolved, now=7))
    deliver(outbox)
    first, update, resolution = slack.posts()
    assert "thread_ts" not in first and update["thread_ts"] == resolution["thread_ts"] == first["_ts"]
    assert resolution["blocks"][0]["text"]["text"].startswith(":white_check_mark: Resolved")
    assert first["channel"] == slack.channel and first["unfurl_links"] is False
    assert threads.get("team", firing.group_key) is None  # resolved: the group's next episode starts anew


@pytest.mark.parametrize(
    ("error", "outcome"),
    [
        ("channel_not_found", "failed"),
        ("invalid_auth", "failed"),
        ("ratelimited", "retry"),
        ("internal_error", "retry"),
    ],
)
def test_slack_refusals_in_a_200_are_failures_or_retries(
    tmp_path: Path, slack: FakeSlack, error: str, outcome: str
) -> None:
    slack.script.append((200, {"Content-Type": "application/json"}, orjson.dumps({"ok": False, "error": error})))
    bot = SlackReceiver(
        "team", bot_token=lambda: slack.token.encode(), channel=slack.channel, url=slack.url + "/api/chat.postMessage"
    )
    outcomes: list[str] = []
    outbox = outbox_for(tmp_path, ("team", bot.endpoint), outcomes=outcomes)
    outbox.enqueue(bot.messages(notified([drift(), model_drift()]), now=5))
    deliver(outbox)
    assert outcomes[0] == outcome
    assert outcomes[-1] == ("ok" if outcome == "retry" else "failed") and len(slack.accepted()) == (outcome == "retry")


@pytest.mark.parametrize("receiver", ["opsgenie", "slack-bot", "slack-webhook"])
def test_5xx_and_429_are_retried_after_retry_after(tmp_path: Path, receiver: str) -> None:
    opsgenie, slack = FakeOpsGenie("k"), FakeSlack()
    try:
        endpoint = {
            "opsgenie": OpsGenieReceiver("r", lambda: b"k", OpsGenieParams(base_url=opsgenie.url)),
            "slack-bot": SlackReceiver(
                "r",
                bot_token=lambda: slack.token.encode(),
                channel=slack.channel,
                url=slack.url + "/api/chat.postMessage",
            ),
            "slack-webhook": SlackReceiver("r", webhook_url=lambda: slack.webhook_url.encode()),
        }[receiver]
        api = opsgenie if receiver == "opsgenie" else slack
        api.script.extend([(503, {}, b"{}"), (429, {"Retry-After": "120"}, b"{}")])
        clock = [1000.0]
        outcomes: list[str] = []
        outbox = outbox_for(tmp_path, ("r", endpoint.endpoint), outcomes=outcomes, clock=lambda: clock[0])
        outbox.enqueue(endpoint.messages(notified([drift(), model_drift()]), now=5)[:1])

        async def passes() -> None:
            await outbox.deliver_due()  # 503: retried after the backoff (10-50 ms)
            clock[0] += 1
            await outbox.deliver_due()  # 429, Retry-After: 120 s
            clock[0] += 60
            await outbox.deliver_due()  # not yet
            assert len(api.requests) == 2
            clock[0] += 61
            await outbox.deliver_due()
            await outbox.close()

        asyncio.run(passes())
        assert [r.status for r in api.requests] == [503, 429, 202 if receiver == "opsgenie" else 200]
        assert outcomes == ["retry", "retry", "ok"]
    finally:
        opsgenie.stop()
        slack.stop()


# -- the daemon end to end ----------------------------------------------------------------------


def drift_episode(tmp_path: Path, receiver: dict[str, object]) -> dict[str, object]:
    return {
        "alerting": {"for": 2, "group_wait": "0s", "group_interval": "0s", "resolve_hold": "0s"},
        "receivers": [{"name": "team", "type": "slack", **receiver}],
        "routes": [{"match": {"kind": "drift"}, "receivers": ["team"]}],
        "models": {"fraud": {"window": 2000, "drift": {"multivariate": []}}},
    }


def secret_from(source: str, value: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """Where the receiver's `source` key (`*_file` or `*_env`) finds `value`, put there."""
    if source.endswith("_env"):
        variable = "DW_TEST_" + source.upper()
        monkeypatch.setenv(variable, value)
        return variable
    path = tmp_path / source
    path.write_text(value + "\n")
    return str(path)


@pytest.mark.parametrize("source", ["bot_token_file", "bot_token_env"])
def test_the_thread_survives_a_restart_between_trigger_and_resolve(
    tmp_path: Path, slack: FakeSlack, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch, source: str
) -> None:
    caplog.set_level(logging.DEBUG)
    token = secret_from(source, slack.token, tmp_path, monkeypatch)
    config = drift_episode(
        tmp_path, {source: token, "channel": slack.channel, "url": slack.url + "/api/chat.postMessage"}
    )
    rng = np.random.default_rng(0)
    with running(tmp_path / "s.db", **config) as d:
        put_reference(d, reference_frame(rng))
        d.client.post("/v1/predictions", content=records(rng, 2000, shift=(1.0, 0, 0)), headers=NDJSON)
        d.evaluate()
        d.evaluate()
        (first,) = slack.wait_for(1)
        _wait_delivered(d, 1)
    with running(tmp_path / "s.db", **config) as d:  # restarted: the thread is in the state file
        d.client.post("/v1/predictions", content=records(rng, 2000), headers=NDJSON)  # the drift is gone
        d.evaluate()
        _, resolution = slack.wait_for(2)
        _wait_delivered(d, 1)
    posts = slack.posts()
    assert len(posts) == 2  # the restart sent no second "Firing"
    assert "thread_ts" not in posts[0] and posts[0]["text"].startswith(":warning: Firing: Feature drift on fraud")
    assert posts[-1]["thread_ts"] == posts[0]["_ts"] and posts[-1]["text"].startswith(":white_check_mark: Resolved")
    assert [r.headers["authorization"] for r in (first, resolution)] == [f"Bearer {slack.token}"] * 2
    state = b"".join(p.read_bytes() for p in tmp_path.glob("s.db*"))
    assert slack.token not in caplog.text and slack.token.encode() not in state  # read at send, never kept


@pytest.mark.parametrize("source", ["webhook_url_file", "webhook_url_env"])
def test_a_webhook_posts_each_notification_as_a_message_and_never_logs_its_url(
    tmp_path: Path, slack: FakeSlack, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch, source: str
) -> None:
    caplog.set_level(logging.DEBUG)
    hook = secret_from(source, slack.webhook_url, tmp_path, monkeypatch)
    rng = np.random.default_rng(0)
    slack.script.append((500, {}, b"rollup_error"))
    with running(tmp_path / "s.db", **drift_episode(tmp_path, {source: hook})) as d:
        put_reference(d, reference_frame(rng))
        d.client.post("/v1/predictions", content=records(rng, 2000, shift=(1.0, 0, 0)), headers=NDJSON)
        d.evaluate()
        d.evaluate()
        slack.wait_for(1)
        d.client.post("/v1/predictions", content=records(rng, 2000), headers=NDJSON)
        d.evaluate()
        firing, resolved = slack.wait_for(2)
        _wait_delivered(d, 2)
        shown = d.client.get("/v1/config").text
    assert firing.path == resolved.path == FakeSlack.webhook_path
    assert "thread_ts" not in resolved.json() and resolved.json()["text"].startswith(":white_check_mark: Resolved")
    assert "delivery to team (https://hooks.slack.com) will be retried" in caplog.text
    for secret in (FakeSlack.webhook_path, "XXXXXXXXXXXX"):
        assert secret not in caplog.text and secret not in shown


def _wait_delivered(d: object, count: int) -> None:
    deadline = time.monotonic() + 10
    while d.metric("driftwarden_webhook_deliveries_total", receiver="team", outcome="ok") != count:  # type: ignore[attr-defined]
        assert time.monotonic() < deadline
        time.sleep(0.05)


def test_a_stored_message_that_no_longer_reads_is_given_up_not_stuck(tmp_path: Path, slack: FakeSlack) -> None:
    from driftwarden.alerts.receivers.base import Message

    bot = SlackReceiver(
        "team", bot_token=lambda: slack.token.encode(), channel=slack.channel, url=slack.url + "/api/chat.postMessage"
    )
    outcomes: list[str] = []
    outbox = outbox_for(tmp_path, ("team", bot.endpoint), outcomes=outcomes)
    good = bot.messages(notified([drift()]), now=5)
    outbox.enqueue([Message("team", good[0].ordering_key, b'{"thread": "g"}'), *good])  # the good one waits behind
    deliver(outbox)
    assert outcomes == ["failed", "ok"] and len(slack.accepted()) == 1
