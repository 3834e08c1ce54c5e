"""Alert lifecycle, routing and grouping, receivers' payloads, and durable delivery to real HTTP."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest

from driftwarden.alerts.alert import AlertStatus, describe, fingerprint
from driftwarden.alerts.dispatch import Dispatcher, Notification, Router
from driftwarden.alerts.engine import AlertEngine
from driftwarden.alerts.outbox import Outbox
from driftwarden.alerts.receivers.base import Endpoint, Message
from driftwarden.alerts.receivers.pagerduty import PagerDutyReceiver
from driftwarden.alerts.receivers.retrain import RetrainReceiver
from driftwarden.alerts.receivers.webhook import WebhookReceiver
from driftwarden.alerts.signing import Signer
from driftwarden.config import RouteSettings
from driftwarden.params import AlertLinkParams, OutboxParams, route_params
from driftwarden.persistence.database import Database
from driftwarden.persistence.outbox_store import OutboxStore
from driftwarden.sink import WebhookSink
from tests.support.alert_cases import drift, firing_engine, model_drift, settings


@pytest.fixture
def sink() -> Iterator[WebhookSink]:
    s = WebhookSink(secret=b"hmac-secret").start()
    yield s
    s.stop()


# -- engine ---------------------------------------------------------------------


def test_fingerprint_is_stable_and_distinguishes_targets() -> None:
    assert fingerprint(drift()) == fingerprint(drift(psi=0.9))
    assert fingerprint(drift()) != fingerprint(drift(model="churn"))
    assert fingerprint(drift()) != fingerprint(drift(feature="age"))


def test_summary_is_human_and_bounded() -> None:
    versioned = drift(model_version="v3")
    assert describe(versioned)[1]["summary"] == "Feature drift on fraud v3: amount PSI 0.41 ≥ 0.2 (KS p(BH) 1e-08)"
    labels, annotations = describe(drift())
    assert labels == {
        "alertname": "FeatureDrift",
        "kind": "drift",
        "severity": "warning",
        "subject": "amount",
        "model": "fraud",
    }
    assert annotations["summary"] == "Feature drift on fraud: amount PSI 0.41 ≥ 0.2 (KS p(BH) 1e-08)"
    long = model_drift(0.5, drifted=("x" * 500,) * 5)
    assert len(describe(long)[1]["summary"]) == 1024


def test_pending_then_firing_after_for_evaluations() -> None:
    engine = AlertEngine(settings(**{"for": 3}))
    for now, expected in ((0, "pending"), (30, "pending"), (60, "firing")):
        (alert,) = engine.observe([drift()], now=now)
        assert alert.status.value == expected
    assert alert.starts_at == 60


def test_a_blip_never_fires_and_flapping_is_held() -> None:
    engine = AlertEngine(settings(resolve_hold="5m"))
    engine.observe([drift()], now=0)
    assert engine.observe([], now=30) == []  # pending and gone: forgotten
    engine.observe([drift()], now=60)
    engine.observe([drift()], now=90)  # firing
    for now in (120, 150):
        (alert,) = engine.observe([], now=now)
        assert alert.status is AlertStatus.FIRING  # held
    (alert,) = engine.observe([drift()], now=180)  # back: never resolved
    assert alert.status is AlertStatus.FIRING and alert.absent_since is None
    engine.observe([], now=200)
    (alert,) = engine.observe([], now=200 + 300)
    assert alert.status is AlertStatus.RESOLVED and alert.ends_at == 500


# -- routing and grouping ----------------------------------------------------------


def test_routes_match_continue_and_default() -> None:
    routes = route_params(
        [
            RouteSettings(match={"kind": "drift"}, receivers=["retrain", "am"], **{"continue": True}),
            RouteSettings(match={"severity": "page"}, receivers=["oncall"]),
            RouteSettings(match={"kind": "drift"}, receivers=["never"]),
        ]
    )
    router = Router(routes, default=["fallback"])
    assert router.receivers({"kind": "drift", "severity": "page"}) == ["retrain", "am", "oncall"]
    assert router.receivers({"kind": "drift", "severity": "warning"}) == ["retrain", "am", "never"]
    assert router.receivers({"kind": "slo", "severity": "ticket"}) == ["fallback"]


def test_group_wait_interval_and_repeat() -> None:
    s = settings()
    engine = firing_engine(s, [drift("amount")])
    dispatcher = Dispatcher(s, Router([], default=["am"]))
    dispatcher.update(engine.alerts(), now=0)
    assert dispatcher.due(now=10) == []  # group_wait
    (first,) = dispatcher.due(now=30)
    assert first.status == "firing" and [a.labels["subject"] for a in first.alerts] == ["amount"]
    assert first.group_labels == {"model": "fraud", "kind": "drift"}

    engine.observe([drift("amount"), drift("age")], now=60)
    engine.observe([drift("amount"), drift("age")], now=90)
    dispatcher.update(engine.alerts(), now=90)
    assert dispatcher.due(now=200) == []  # changed, but group_interval (5m) since the last send
    (second,) = dispatcher.due(now=330)
    assert sorted(a.labels["subject"] for a in second.alerts) == ["age", "amount"]
    assert dispatcher.due(now=3600) == []  # unchanged: wait for repeat_interval
    assert len(dispatcher.due(now=330 + 4 * 3600)) == 1


def test_resolve_is_sent_once_and_only_after_a_firing_notification() -> None:
    s = settings(group_wait="0s", group_interval="0s", resolve_hold="0s")
    engine = firing_engine(s, [drift()])
    dispatcher = Dispatcher(s, Router([], default=["am"]))
    dispatcher.update(engine.alerts(), now=1)
    assert dispatcher.due(now=1)[0].status == "firing"
    engine.observe([], now=2)
    dispatcher.update(engine.alerts(), now=2)
    engine.forget_resolved()
    (resolved,) = dispatcher.due(now=2)
    assert resolved.status == "resolved" and resolved.alerts[0].status is AlertStatus.RESOLVED
    assert dispatcher.due(now=3) == []


def test_silenced_alerts_are_not_notified() -> None:
    s = settings(group_wait="0s")
    engine = AlertEngine(s)
    engine.silences.add({"model": "fraud"}, ends_at=1000, now=0)
    engine.observe([drift()], now=1)
    alerts = engine.observe([drift()], now=2)
    assert alerts[0].silenced_by
    dispatcher = Dispatcher(s, Router([], default=["am"]))
    dispatcher.update(alerts, now=2)
    assert dispatcher.due(now=2) == []
    alerts = engine.observe([drift()], now=1001)  # expired
    dispatcher.update(alerts, now=1001)
    assert len(dispatcher.due(now=1001)) == 1


# -- receivers ------------------------------------------------------------------------


def notification(status_resolved: bool = False) -> Notification:
    s = settings(group_wait="0s", group_interval="0s", resolve_hold="0s")
    engine = firing_engine(s, [drift(), model_drift()])
    dispatcher = Dispatcher(s, Router([], default=["r"]))
    dispatcher.update(engine.alerts(), now=5)
    (n,) = dispatcher.due(now=5)
    if status_resolved:
        engine.observe([], now=6)
        dispatcher.update(engine.alerts(), now=6)
        (n,) = dispatcher.due(now=6)
    return n


def test_pagerduty_events_v2_trigger_and_resolve() -> None:
    key = [b"R0UTINGKEY"]
    receiver = PagerDutyReceiver(
        "oncall",
        lambda: key[0],
        url="http://pd.test/v2/enqueue",
        links=AlertLinkParams(external_url="http://dw:4318", grafana_url="http://grafana/d/drift"),
    )
    messages = receiver.messages(notification(), now=5)
    assert len(messages) == 2 and receiver.endpoint.url == "http://pd.test/v2/enqueue"
    assert all(b"R0UTINGKEY" not in m.body for m in messages)  # stored without it ...
    assert receiver.endpoint.add_credentials is not None
    event = orjson.loads(receiver.endpoint.add_credentials(messages[0].body))  # ... and given it when sent
    assert event["routing_key"] == "R0UTINGKEY" and event["event_action"] == "trigger"
    key[0] = b"R0TATED"
    assert orjson.loads(receiver.endpoint.add_credentials(messages[0].body))["routing_key"] == "R0TATED"
    payload = event["payload"]
    assert payload["summary"].startswith("Feature drift on fraud: amount PSI 0.41 ≥ 0.2")
    assert payload["severity"] == "warning" and payload["component"] == "fraud" and payload["class"] == "FeatureDrift"
    assert payload["custom_details"]["scores"] == {"psi": 0.41, "ks": 0.22}
    started = int(payload["custom_details"]["started_at"] is not None)
    assert started and payload["timestamp"] == payload["custom_details"]["started_at"]
    ui, grafana, runbook = (link["href"] for link in event["links"])
    assert ui == "http://dw:4318/ui/models/fraud#feature-amount"
    assert grafana.startswith("http://grafana/d/drift?var-model=fraud&var-feature=amount&from=") and grafana.endswith(
        "&to=now"
    )
    assert runbook == "http://dw:4318/runbooks/FeatureDrift"  # the daemon serves it
    resolve = orjson.loads(receiver.messages(notification(status_resolved=True), now=6)[0].body)
    assert resolve["event_action"] == "resolve" and resolve["dedup_key"] == event["dedup_key"]
    assert "R0UTINGKEY" not in repr(receiver)


def test_links_in_payloads_carry_no_credentials() -> None:
    external = "https://admin:hunter2@dw.example:8443/drift/?token=abc#top"
    links = AlertLinkParams(external_url=external, grafana_url="https://viewer:hunter2@grafana/d/x?orgId=1")
    pagerduty = PagerDutyReceiver("oncall", lambda: b"key", links=links)
    (first, _) = pagerduty.messages(notification(), now=5)
    event = orjson.loads(first.body)
    ui, grafana, _ = (link["href"] for link in event["links"])
    assert ui == "https://dw.example:8443/drift/ui/models/fraud#feature-amount"
    assert grafana.startswith("https://grafana/d/x?orgId=1&var-model=fraud&var-feature=amount&from=")
    assert event["client_url"] == "https://dw.example:8443/drift/"
    assert b"hunter2" not in first.body
    (message,) = WebhookReceiver("am", "http://x/hook", links=links).messages(notification(), 5)
    body = orjson.loads(message.body)
    assert body["externalURL"] == "https://dw.example:8443/drift"
    assert body["alerts"][0]["generatorURL"] == "https://dw.example:8443/drift/ui/models/fraud#feature-amount"
    assert b"hunter2" not in message.body and b"abc" not in message.body


def test_webhook_is_alertmanager_shaped() -> None:
    links = AlertLinkParams(external_url="http://dw:4318")
    (message,) = WebhookReceiver("am", "http://x/hook", links=links).messages(notification(), 5)
    body = orjson.loads(message.body)
    assert body["version"] == "4" and body["status"] == "firing" and body["receiver"] == "am"
    assert body["groupKey"] == '{}:{kind="drift", model="fraud"}'  # Alertmanager's: the root route, no matchers
    assert body["notification_reason"] == "first notification"
    assert body["commonLabels"] == {"kind": "drift", "model": "fraud", "severity": "warning"}
    alert = body["alerts"][0]
    assert set(alert) == {"status", "labels", "annotations", "startsAt", "endsAt", "generatorURL", "fingerprint"}
    assert alert["startsAt"].endswith("Z") and alert["endsAt"] == "0001-01-01T00:00:00Z"


def test_retrain_once_per_cooldown_with_an_idempotency_key() -> None:
    triggers: dict[str, float] = {}
    receiver = RetrainReceiver(
        "retrain",
        "http://airflow/dags/retrain/dagRuns",
        cooldown=86400,
        last_trigger=triggers.get,
        record_trigger=triggers.__setitem__,
    )
    (message,) = receiver.messages(notification(), now=5)
    body = orjson.loads(message.body)
    assert body["model"] == "fraud" and body["drifted_features"] == ["amount"]
    assert message.headers["Idempotency-Key"].startswith("fraud-")
    assert receiver.messages(notification(), now=5 + 3600) == []  # within the cooldown
    assert len(receiver.messages(notification(), now=5 + 86400)) == 1


# -- durable delivery to a real HTTP receiver ---------------------------------------------


def deliver(outbox: Outbox, passes: int = 20) -> None:
    async def run() -> None:
        for _ in range(passes):
            await outbox.deliver_due()
            if not outbox.pending():
                break
            await asyncio.sleep(0.05)
        await outbox.close()

    asyncio.run(run())


def make_outbox(
    tmp_path: Path, outcomes: list[tuple[str, str]], url: str, secret: bytes | None = b"hmac-secret"
) -> Outbox:
    return Outbox(
        OutboxStore(Database(tmp_path / "state.db")),
        OutboxParams(initial_backoff=0.01, max_backoff=0.05),
        endpoints={"am": Endpoint(url, sign=None if secret is None else Signer(lambda: secret))},
        on_result=lambda r, o: outcomes.append((r, o)),
    )


def test_signed_delivery_and_order_per_key_through_retries(tmp_path: Path, sink: WebhookSink) -> None:
    sink.script.extend([(503, {}), (429, {"Retry-After": "0"})])
    outcomes: list[tuple[str, str]] = []
    outbox = make_outbox(tmp_path, outcomes, sink.url + "/hook")
    outbox.enqueue([Message("am", "k", b'{"n": 1}'), Message("am", "k", b'{"n": 2}')])
    deliver(outbox)
    assert [d.json()["n"] for d in sink.deliveries] == [1, 2]  # the second waited for the first
    assert all(d.signed for d in sink.deliveries)
    assert outcomes.count(("am", "retry")) == 2 and outcomes.count(("am", "ok")) == 2


def test_receiver_down_then_up_delivers_exactly_once(tmp_path: Path) -> None:
    from tests.support.ports import free_port

    port = free_port()
    outcomes: list[tuple[str, str]] = []
    url = f"http://127.0.0.1:{port}/hook"
    outbox = make_outbox(tmp_path, outcomes, url, secret=None)
    outbox.enqueue([Message("am", f"k{i}", b'{"i": %d}' % i) for i in range(3)])
    asyncio.run(outbox.deliver_due())  # connection refused: all retried
    assert outcomes.count(("am", "retry")) == 3
    sink = WebhookSink(port=port).start()
    try:
        outbox2 = make_outbox(tmp_path, outcomes, url, secret=None)  # a restart: same SQLite file
        deliver(outbox2)
        assert sorted(d.json()["i"] for d in sink.deliveries) == [0, 1, 2]
    finally:
        sink.stop()


def test_refused_messages_are_not_retried(tmp_path: Path, sink: WebhookSink) -> None:
    sink.script.append((400, {}))
    outcomes: list[tuple[str, str]] = []
    outbox = make_outbox(tmp_path, outcomes, sink.url)
    outbox.enqueue([Message("am", "k", b"{}")])
    deliver(outbox)
    assert outcomes == [("am", "failed")] and sink.deliveries == []


def test_timeouts_are_retried(tmp_path: Path) -> None:
    import httpx

    calls: list[int] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(1)
        if len(calls) == 1:
            raise httpx.ReadTimeout("slow receiver", request=request)
        return httpx.Response(202)

    outcomes: list[tuple[str, str]] = []
    outbox = Outbox(
        OutboxStore(Database(tmp_path / "state.db")),
        OutboxParams(initial_backoff=0.01, max_backoff=0.02),
        endpoints={"pd": Endpoint("http://pd.test/v2/enqueue")},
        on_result=lambda r, o: outcomes.append((r, o)),
        transport=httpx.MockTransport(handler),
    )
    outbox.enqueue([Message("pd", "k", b"{}")])
    deliver(outbox)
    assert outcomes == [("pd", "retry"), ("pd", "ok")]


def test_secrets_are_read_at_each_send_and_one_unreadable_now_is_retried(tmp_path: Path, sink: WebhookSink) -> None:
    from driftwarden.alerts.receivers.base import SecretUnavailable

    secrets = [b"hmac-secret"]

    def read_secret() -> bytes:
        if not secrets:
            raise SecretUnavailable("receivers.0.hmac_secret_file: cannot read /secrets/hmac")
        return secrets[0]

    outcomes: list[tuple[str, str]] = []
    outbox = Outbox(
        OutboxStore(Database(tmp_path / "state.db")),
        OutboxParams(initial_backoff=0.01, max_backoff=0.02),
        endpoints={"am": Endpoint(sink.url + "/hook", sign=Signer(read_secret))},
        on_result=lambda r, o: outcomes.append((r, o)),
    )
    outbox.enqueue([Message("am", "k", b'{"n": 1}')])
    secrets.clear()  # mid-rotation: the file is gone for a moment
    asyncio.run(outbox.deliver_due())
    assert outcomes == [("am", "retry")] and sink.deliveries == []
    secrets.append(b"hmac-secret")
    deliver(outbox)
    assert outcomes[-1] == ("am", "ok") and [d.signed for d in sink.deliveries] == [True]


def test_a_message_for_a_receiver_no_longer_configured_is_given_up(
    tmp_path: Path, sink: WebhookSink, caplog: pytest.LogCaptureFixture
) -> None:
    outcomes: list[tuple[str, str]] = []
    make_outbox(tmp_path, outcomes, sink.url).enqueue([Message("gone", "k", b"{}")])
    outbox = make_outbox(tmp_path, outcomes, sink.url)  # a restart with a config without "gone"
    deliver(outbox)
    assert outcomes == [("gone", "failed")] and sink.deliveries == [] and outbox.pending() == {}
    assert "delivery to gone failed for good: no receiver of that name is configured any more" in caplog.text


def test_legacy_signature_verification_rejects_tampering() -> None:
    from driftwarden.alerts.signing import legacy_sign, verify_legacy

    headers = legacy_sign(b"body", b"k", now=100)
    assert verify_legacy(b"body", headers, b"k", now=100) and not verify_legacy(b"body", headers, b"other", now=100)


# -- the daemon end to end --------------------------------------------------------------


def test_drift_alert_fires_and_resolves_through_a_signed_webhook(tmp_path: Path, sink: WebhookSink) -> None:
    import numpy as np

    from tests.support.records import NDJSON, put_reference, records, reference_frame
    from tests.support.server import running

    secret = tmp_path / "hmac"
    secret.write_text("hmac-secret\n")
    config = {
        "alerting": {"for": 2, "group_wait": "0s", "group_interval": "0s", "resolve_hold": "0s"},
        "receivers": [{"name": "am", "type": "webhook", "url": sink.url + "/hook", "hmac_secret_file": str(secret)}],
        "routes": [{"match": {"kind": "drift"}, "receivers": ["am"]}],
        # one feature of three drifts: no model verdict (a multivariate one would see the shift too)
        "models": {"fraud": {"window": 2000, "drift": {"multivariate": []}}},
    }
    rng = np.random.default_rng(0)
    with running(tmp_path / "s.db", **config) as d:
        put_reference(d, reference_frame(rng))
        d.client.post("/v1/predictions", content=records(rng, 2000, shift=(1.0, 0, 0)), headers=NDJSON)
        d.evaluate()
        assert d.client.get("/v1/alerts").json()["alerts"][0]["status"] == "pending"
        d.evaluate()
        alerts = d.client.get("/v1/alerts").json()["alerts"]
        assert {a["labels"]["alertname"] for a in alerts} == {"FeatureDrift"}
        assert alerts[0]["status"] == "firing"
        (delivery,) = sink.wait_for(1)
        body = delivery.json()
        assert delivery.signed and body["status"] == "firing" and body["alerts"][0]["labels"]["subject"] == "amount"
        assert d.metric("driftwarden_alerts_firing", alertname="FeatureDrift", severity="warning") == 1

        d.client.post("/v1/predictions", content=records(rng, 2000), headers=NDJSON)  # the drift is gone
        d.evaluate()
        deliveries = sink.wait_for(2)
        assert deliveries[1].json()["status"] == "resolved"
        deadline = time.monotonic() + 10  # the sink has the body before the outbox has the answer
        while d.metric("driftwarden_webhook_deliveries_total", receiver="am", outcome="ok") != 2:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        assert d.metric("driftwarden_outbox_pending", receiver="am") == 0


def test_silences_over_http(tmp_path: Path) -> None:
    from tests.support.server import running

    with running(tmp_path / "s.db") as d:
        r = d.client.post("/v1/silences", json={"matchers": {"model": "fraud"}, "duration": "2h", "comment": "deploy"})
        assert r.status_code == 200
        silence = r.json()
        assert silence["matchers"] == {"model": "fraud"} and silence["ends_at"] > silence["starts_at"] + 7000
        assert [s["id"] for s in d.client.get("/v1/silences").json()["silences"]] == [silence["id"]]
        bad = d.client.post("/v1/silences", json={"matchers": {}, "duration": "2h"})
        assert bad.status_code == 400 and "matchers" in bad.json()["error"]
        both = d.client.post("/v1/silences", json={"matchers": {"a": "b"}})
        assert both.status_code == 400 and "duration" in both.json()["error"]
        assert d.client.delete(f"/v1/silences/{silence['id']}").status_code == 200
        assert d.client.delete("/v1/silences/nope").status_code == 404
    with running(tmp_path / "s.db") as d:  # kept across restarts
        (kept,) = d.client.get("/v1/silences").json()["silences"]
        assert kept["ends_at"] <= kept["starts_at"] + 7200


def test_pending_notifications_survive_kill_9(tmp_path: Path) -> None:
    import io
    import os
    import signal

    import httpx
    import numpy as np

    from tests.support.ports import free_port
    from tests.support.processes import driftwarden_run
    from tests.support.records import NDJSON, records, reference_frame

    sink_port, port = free_port(), free_port()
    url = f"http://127.0.0.1:{port}"
    config = tmp_path / "c.yaml"
    config.write_text(
        f"state_path: {tmp_path / 'state.db'}\nevaluate_every: 1s\ngpu: {{enabled: false}}\n"
        "alerting: {for: 1, group_wait: 0s}\n"
        f"receivers: [{{name: am, type: webhook, url: 'http://127.0.0.1:{sink_port}/hook'}}]\n"
        "routes: [{match: {kind: drift}, receivers: [am]}]\n"
        "outbox: {initial_backoff: 100ms, max_backoff: 200ms}\n"
    )
    rng = np.random.default_rng(1)
    with driftwarden_run(config, tmp_path / "first.log", port=port) as served:
        buf = io.BytesIO()
        reference_frame(rng).write_parquet(buf)
        httpx.put(
            f"{url}/v1/models/fraud/reference",
            content=buf.getvalue(),
            headers={"content-type": "application/vnd.apache.parquet"},
        ).raise_for_status()
        httpx.post(
            f"{url}/v1/predictions", content=records(rng, 3000, shift=(1.0, 0, 0)), headers=NDJSON
        ).raise_for_status()
        deadline = time.monotonic() + 20
        while 'driftwarden_outbox_pending{receiver="am"} 0.0' in httpx.get(f"{url}/metrics").text:
            assert time.monotonic() < deadline, "no notification was queued"
            time.sleep(0.2)
        os.kill(served.proc.pid, signal.SIGKILL)  # the receiver never answered: the notification is only on disk
        served.proc.wait(timeout=10)
    sink = WebhookSink(port=sink_port).start()
    try:
        with driftwarden_run(config, tmp_path / "second.log", port=port):
            (delivery, *_) = sink.wait_for(1, timeout=20)
            assert delivery.json()["alerts"][0]["labels"]["alertname"] in {"FeatureDrift", "ModelDrift"}
    finally:
        sink.stop()
