"""What a group told its receiver survives a restart (Alertmanager's notification log): the resolve of
an alert notified firing before the restart is still sent, an unchanged group is not notified again
before repeat_interval, and a group the routing no longer makes is dropped."""

from __future__ import annotations

from driftwarden.alerts.alert import AlertStatus
from driftwarden.alerts.dispatch import Dispatcher, Router
from driftwarden.params import RouteParams
from tests.support.alert_cases import drift, firing_engine, settings


def test_a_restart_keeps_what_each_group_was_told() -> None:
    s = settings(group_wait="0s", group_interval="0s", resolve_hold="0s", repeat_interval="4h")
    engine = firing_engine(s, [drift("amount"), drift("age")])
    before = Dispatcher(s, Router([], default=["team"]))
    before.update(engine.alerts(), now=10)
    (firing,) = before.due(now=10)
    saved = before.notified()

    after = Dispatcher(s, Router([], default=["team"]))  # the restart: the engine's firing alerts restored
    after.restore(saved, engine.alerts())
    after.update(engine.alerts(), now=20)
    assert after.due(now=20) == []  # unchanged: no second "firing" before repeat_interval
    engine.observe([drift("age")], now=30)  # amount is gone
    after.update(engine.alerts(), now=30)
    (resolve,) = after.due(now=30)
    assert resolve.group_key == firing.group_key
    assert [(a.labels["subject"], a.status) for a in resolve.alerts] == [
        ("age", AlertStatus.FIRING),
        ("amount", AlertStatus.RESOLVED),
    ]
    assert after.due(now=20 + 4 * 3600) == [] and len(after.due(now=30 + 4 * 3600)) == 1  # age repeats


def test_saved_groups_the_routing_no_longer_makes_are_dropped() -> None:
    s = settings(group_wait="0s", group_interval="0s", resolve_hold="0s")
    engine = firing_engine(s, [drift()])
    before = Dispatcher(s, Router([], default=["team"]))
    before.update(engine.alerts(), now=10)
    before.due(now=10)
    rerouted = Dispatcher(s, Router([RouteParams(receivers=("oncall",), match={"kind": "drift"})], default=["team"]))
    rerouted.restore([*before.notified(), {"receiver": "team"}, "not a group"], engine.alerts())
    assert rerouted.notified() == []
    engine.observe([], now=20)
    rerouted.update(engine.alerts(), now=20)
    assert rerouted.due(now=20) == []  # never told "oncall" it fired: nothing to resolve there
