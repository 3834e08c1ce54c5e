"""Webhook and retraining deliveries are signed as Standard Webhooks specifies: received by a real local
HTTP receiver, they verify with the `standardwebhooks` package (and with the README's standard-library
example), tampered bodies, old timestamps and unknown secrets do not, every configured secret verifies
alone (rotation), and `webhook-id` stays the same through retries."""

from __future__ import annotations

import asyncio
import base64
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from standardwebhooks import Webhook, WebhookVerificationError

from driftwarden.alerts.outbox import Outbox
from driftwarden.alerts.receivers.base import Endpoint, Message
from driftwarden.alerts.signing import SIGNATURE_HEADER, Signer, verify_legacy
from driftwarden.config import ConfigError, load_config
from driftwarden.daemon.receivers import build_receivers
from driftwarden.params import OutboxParams
from driftwarden.persistence.database import Database
from driftwarden.persistence.outbox_store import OutboxStore
from driftwarden.sink import Delivery, WebhookSink
from tests.support.processes import ROOT
from tests.support.records import NDJSON, put_reference, records, reference_frame
from tests.support.server import running

SECRET = "whsec_" + base64.b64encode(b"driftwarden-test-signing-key-32b").decode()
NEXT_SECRET = "whsec_" + base64.b64encode(b"the-key-that-replaces-it-soon-32").decode()
README_MARKER = (
    "<!-- the example below runs under pytest against a real delivery (tests/alerts/test_standard_webhooks.py) -->"
)


@pytest.fixture
def sink() -> Iterator[WebhookSink]:
    s = WebhookSink().start()
    yield s
    s.stop()


def readme_verifier() -> Callable[[str, dict[str, str], bytes], bool]:
    """`verify_webhook` as the README writes it (standard library only)."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    after = text[text.index(README_MARKER) + len(README_MARKER) :].lstrip()
    assert after.startswith("```python\n")
    names: dict[str, Any] = {}
    exec(after.removeprefix("```python\n").split("\n```", 1)[0], names)  # our own README
    verify: Callable[[str, dict[str, str], bytes], bool] = names["verify_webhook"]
    return verify


def verifies(secret: str, delivery: Delivery, body: bytes | None = None) -> bool:
    try:
        Webhook(secret).verify(delivery.body if body is None else body, delivery.headers, json_parse=False)
    except WebhookVerificationError:
        return False
    return True


def deliver(
    tmp_path: Path, url: str, sign: Signer, messages: list[Message], clock: Callable[[], float] = time.time
) -> None:
    outbox = Outbox(
        OutboxStore(Database(tmp_path / "outbox.db")),
        OutboxParams(initial_backoff=0.01, max_backoff=0.02),
        endpoints={"hook": Endpoint(url, sign=sign)},
        clock=clock,
    )
    outbox.enqueue(messages)

    async def run() -> None:
        for _ in range(50):
            await outbox.deliver_due()
            if not outbox.pending():
                break
            await asyncio.sleep(0.03)
        await outbox.close()

    asyncio.run(run())


@pytest.mark.server
def test_deliveries_of_a_daemon_verify_and_tampering_does_not(tmp_path: Path, sink: WebhookSink) -> None:
    secret = tmp_path / "whsec"
    secret.write_text(SECRET + "\n")
    config = {
        "alerting": {"for": 2, "group_wait": "0s", "group_interval": "0s"},
        "receivers": [
            {"name": "hook", "type": "webhook", "url": sink.url + "/hook", "hmac_secret_file": str(secret)},
            {"name": "retrain", "type": "retrain", "url": sink.url + "/retrain", "hmac_secret_file": str(secret)},
        ],
        "routes": [{"match": {"kind": "drift"}, "receivers": ["hook", "retrain"]}],
        "models": {"fraud": {"window": 2000}},
    }
    rng = np.random.default_rng(0)
    with running(tmp_path / "s.db", **config) as d:
        put_reference(d, reference_frame(rng))
        d.client.post("/v1/predictions", content=records(rng, 2000, shift=(1.0, 0, 0)), headers=NDJSON)
        d.evaluate()
        d.evaluate()
        deliveries = {x.path: x for x in sink.wait_for(2)}
    hook, retrain = deliveries["/hook"], deliveries["/retrain"]
    verify_webhook = readme_verifier()
    for delivery in (hook, retrain):
        assert verifies(SECRET, delivery), delivery.headers
        assert verify_webhook(SECRET, delivery.headers, delivery.body)
        tampered = delivery.body.replace(b"fraud", b"frauD")
        assert not verifies(SECRET, delivery, tampered) and not verify_webhook(SECRET, delivery.headers, tampered)
        assert not verifies(NEXT_SECRET, delivery) and not verify_webhook(NEXT_SECRET, delivery.headers, delivery.body)
        assert SIGNATURE_HEADER.lower() not in {k.lower() for k in delivery.headers}  # the old scheme is opt-in
    assert hook.headers["webhook-id"].startswith("msg_")
    assert retrain.headers["webhook-id"] == retrain.headers["Idempotency-Key"]  # the drift episode


def test_an_old_timestamp_is_refused(tmp_path: Path, sink: WebhookSink) -> None:
    """A delivery signed 10 minutes ago (a replay, to the receiver) is refused by both verifiers."""
    deliver(
        tmp_path,
        sink.url,
        Signer(lambda: SECRET.encode()),
        [Message("hook", "k", b'{"n": 1}', {"webhook-id": "msg_1"})],
        clock=lambda: time.time() - 600,
    )
    (delivery,) = sink.deliveries
    assert int(delivery.headers["webhook-timestamp"]) < time.time() - 590
    with pytest.raises(WebhookVerificationError, match="too old"):
        Webhook(SECRET).verify(delivery.body, delivery.headers)
    assert not readme_verifier()(SECRET, delivery.headers, delivery.body)


def test_every_secret_verifies_alone_while_they_rotate(
    tmp_path: Path, sink: WebhookSink, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DW_TEST_WHSECS", f"{SECRET} {NEXT_SECRET}")
    config = load_config(
        None, receivers=[{"name": "hook", "type": "webhook", "url": sink.url, "hmac_secret_env": "DW_TEST_WHSECS"}]
    )
    (receiver,) = build_receivers(config, last_trigger=lambda m: None, record_trigger=lambda m, t: None).values()
    assert receiver.endpoint.sign is not None
    message = Message("hook", "k", b'{"status": "firing"}', {"webhook-id": "msg_rotation"})
    deliver(tmp_path, sink.url, Signer(lambda: f"{SECRET}\n{NEXT_SECRET}".encode()), [message])
    deliver(tmp_path / "env", sink.url, receiver.endpoint.sign, [message])  # type: ignore[arg-type]
    for delivery in sink.deliveries:
        assert len(delivery.headers["webhook-signature"].split(" ")) == 2
        assert all(s.startswith("v1,") for s in delivery.headers["webhook-signature"].split(" "))
        assert verifies(SECRET, delivery) and verifies(NEXT_SECRET, delivery)
        assert readme_verifier()(NEXT_SECRET, delivery.headers, delivery.body)


def test_webhook_id_is_the_same_through_retries(tmp_path: Path, sink: WebhookSink) -> None:
    sink.script.extend([(503, {}), (429, {"Retry-After": "0"})])
    deliver(
        tmp_path,
        sink.url,
        Signer(lambda: SECRET.encode()),
        [Message("hook", "k", b'{"n": 1}', {"webhook-id": "msg_once"})],
    )
    assert [a.headers["webhook-id"] for a in sink.attempts] == ["msg_once"] * 3
    assert all(verifies(SECRET, a) for a in sink.attempts)  # each attempt signed anew, at its own timestamp


def test_a_message_stored_before_the_upgrade_gets_a_webhook_id_it_keeps(tmp_path: Path, sink: WebhookSink) -> None:
    sink.script.append((503, {}))
    deliver(tmp_path, sink.url, Signer(lambda: SECRET.encode()), [Message("hook", "k", b'{"n": 1}')])
    first, second = sink.attempts
    assert first.headers["webhook-id"] == second.headers["webhook-id"] and verifies(SECRET, second)


def test_the_deprecated_header_only_when_asked(tmp_path: Path, sink: WebhookSink) -> None:
    raw = b"an-old-hmac-secret"
    deliver(
        tmp_path,
        sink.url,
        Signer(lambda: raw + b"\n", legacy=True),
        [Message("hook", "k", b"{}", {"webhook-id": "msg_2"})],
    )
    (delivery,) = sink.deliveries
    assert verify_legacy(delivery.body, delivery.headers, raw)  # what receivers of the old scheme check
    assert verifies(raw.decode(), delivery) is False and Webhook(raw).verify(delivery.body, delivery.headers) == {}
    config = load_config(None, receivers=[{"name": "h", "type": "webhook", "url": sink.url, "hmac_secret_env": "X"}])
    assert config.receivers[0].legacy_signature is False  # Standard Webhooks only, by default


def test_a_whsec_secret_that_is_not_base64_is_a_config_error(tmp_path: Path) -> None:
    secret = tmp_path / "whsec"
    secret.write_text("whsec_not*base64!\n")
    config = load_config(
        None,
        receivers=[{"name": "hook", "type": "webhook", "url": "http://127.0.0.1:9/", "hmac_secret_file": str(secret)}],
    )
    with pytest.raises(
        ConfigError, match=r"receivers\.0\.hmac_secret_file: secret on line 1 starts with whsec_ but is not base64"
    ):
        build_receivers(config, last_trigger=lambda m: None, record_trigger=lambda m, t: None)
