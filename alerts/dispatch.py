"""Routing and grouping: which receivers hear about an alert, and when (Alertmanager's timers).

- A route matches when every `match` label equals the alert's; its receivers are added and,
  unless `continue` is set, matching stops there. No match: `default_receivers`.
- Alerts are grouped per receiver and route by `group_by` labels; a group's `groupKey` is
  Alertmanager's (`{}/{kind="drift"}:{kind="drift", model="fraud"}`: the routes sit under a root
  without matchers, `{}` for alerts no route matches) and each notification says why it is sent
  (Alertmanager's `notification_reason`). A new group waits `group_wait` before its
  first notification (so alerts arriving together go out together); a changed group (a new firing
  alert, or a resolve) is notified at most every `group_interval`; an unchanged group with firing
  alerts is re-notified every `repeat_interval`.
- Silenced and inhibited alerts are left out; a resolve is only sent for an alert that was notified firing.
- What each group last told its receiver (`notified()`) is saved, and restored after a restart
  (`restore()`), as Alertmanager keeps its notification log: an alert notified firing before a
  restart still gets its resolve, and an unchanged group is not notified again before `repeat_interval`.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from driftwarden.alerts.alert import Alert, AlertStatus
from driftwarden.alerts.labelset import ROOT_ROUTE_KEY, group_key, route_key
from driftwarden.params import AlertingParams, RouteParams

__all__ = ["Dispatcher", "Notification", "Reason", "Router"]


class Reason:
    """Why a group is notified, in Alertmanager's words (notify.NotifyReason)."""

    FIRST = "first notification"
    NEW_ALERTS = "new alerts added"
    SOME_RESOLVED = "some alerts resolved"
    ALL_RESOLVED = "all alerts resolved"
    REPEAT = "repeat interval elapsed"


@dataclass(frozen=True)
class Notification:
    receiver: str
    group_key: str  # Alertmanager's groupKey
    group_labels: dict[str, str]
    alerts: list[Alert]  # snapshots: firing first, then resolved
    reason: str = Reason.FIRST
    ordering_key: str = ""  # the receiver and group labels: the outbox keeps the group's messages in order

    @property
    def status(self) -> str:
        return "firing" if any(a.status is AlertStatus.FIRING for a in self.alerts) else "resolved"


class Router:
    def __init__(self, routes: Sequence[RouteParams], default: Sequence[str]) -> None:
        self.routes = tuple(routes)
        self.default = tuple(default)

    def receivers(self, labels: dict[str, str]) -> list[str]:
        return [receiver for receiver, _ in self.matches(labels)]

    def matches(self, labels: dict[str, str]) -> list[tuple[str, str]]:
        """(receiver, Alertmanager's key of the route that chose it) for every receiver of an alert."""
        chosen: dict[str, str] = {}
        for route in self.routes:
            if all(labels.get(k) == v for k, v in route.match.items()):
                for receiver in route.receivers:
                    chosen.setdefault(receiver, route_key(route.match))
                if not route.continue_:
                    break
        return list(chosen.items()) or [(r, ROOT_ROUTE_KEY) for r in self.default]


@dataclass
class _Group:
    receiver: str
    key: str
    labels: dict[str, str]
    created: float
    alerts: dict[str, Alert] = field(default_factory=dict)
    notified_firing: set[str] = field(default_factory=set)
    last_sent: float | None = None


class Dispatcher:
    def __init__(self, settings: AlertingParams, router: Router) -> None:
        self.settings = settings
        self.router = router
        self._groups: dict[tuple[str, str], _Group] = {}  # (receiver, groupKey): the key names the route

    def update(self, alerts: list[Alert], now: float) -> None:
        """Take the engine's alerts (call before the engine forgets resolved ones)."""
        for alert in alerts:
            muted = alert.silenced_by or alert.inhibited_by
            if alert.status is AlertStatus.PENDING or (muted and alert.status is AlertStatus.FIRING):
                continue
            labels = self._group_labels(alert)
            for receiver, route in self.router.matches(alert.labels):
                key = group_key(route, labels)
                group = self._groups.get((receiver, key))
                if group is None:
                    if alert.status is AlertStatus.RESOLVED:
                        continue  # never notified as firing here: nothing to resolve
                    group = self._groups[(receiver, key)] = _Group(receiver, key, labels, now)
                group.alerts[alert.fingerprint] = copy.deepcopy(alert)

    def notified(self) -> list[dict[str, Any]]:
        """Each group's firing alerts as last notified, and when: what `restore` takes after a restart."""
        return [
            {"receiver": g.receiver, "group": key, "firing": sorted(g.notified_firing), "at": g.last_sent}
            for (_, key), g in self._groups.items()
            if g.notified_firing and g.last_sent is not None
        ]

    def restore(self, saved: Sequence[object], alerts: list[Alert]) -> None:
        """The groups `notified()` saved, for the alerts that still fire (the engine's, restored); a
        group the routing or grouping no longer makes, or an entry that no longer reads, is dropped."""
        told: dict[tuple[str, str], tuple[set[str], float]] = {}
        for entry in saved:
            try:
                assert isinstance(entry, dict)
                told[(str(entry["receiver"]), str(entry["group"]))] = (set(entry["firing"]), float(entry["at"]))
            except (AssertionError, KeyError, TypeError, ValueError):
                continue
        for alert in alerts:
            if alert.status is not AlertStatus.FIRING:
                continue
            labels = self._group_labels(alert)
            for receiver, route in self.router.matches(alert.labels):
                key = group_key(route, labels)
                firing, at = told.get((receiver, key), (set(), 0.0))
                if alert.fingerprint not in firing:
                    continue
                group = self._groups.get((receiver, key))
                if group is None:
                    group = self._groups[(receiver, key)] = _Group(receiver, key, labels, at, last_sent=at)
                group.alerts[alert.fingerprint] = copy.deepcopy(alert)
                group.notified_firing.add(alert.fingerprint)

    def _group_labels(self, alert: Alert) -> dict[str, str]:
        return {k: alert.labels[k] for k in self.settings.group_by if k in alert.labels}

    def due(self, now: float) -> list[Notification]:
        out = []
        for gid, group in list(self._groups.items()):
            firing = [a for a in group.alerts.values() if a.status is AlertStatus.FIRING]
            resolved = [
                a
                for a in group.alerts.values()
                if a.status is AlertStatus.RESOLVED and a.fingerprint in group.notified_firing
            ]
            for a in [a for a in group.alerts.values() if a.status is AlertStatus.RESOLVED and a not in resolved]:
                del group.alerts[a.fingerprint]
            if not firing and not resolved:
                del self._groups[gid]
                continue
            changed = bool(resolved) or any(a.fingerprint not in group.notified_firing for a in firing)
            s = self.settings
            if group.last_sent is None:
                ready = now - group.created >= s.group_wait
            elif changed:
                ready = now - group.last_sent >= s.group_interval
            else:
                ready = now - group.last_sent >= s.repeat_interval
            if not ready:
                continue
            reason = _reason(group, firing, resolved)
            out.append(
                Notification(
                    group.receiver,
                    group.key,
                    dict(group.labels),
                    firing + resolved,
                    reason,
                    ordering_key=_ordering_key(group.receiver, group.labels),
                )
            )
            group.last_sent = now
            group.notified_firing = {a.fingerprint for a in firing}
            for a in resolved:
                del group.alerts[a.fingerprint]
        return out


def _reason(group: _Group, firing: list[Alert], resolved: list[Alert]) -> str:
    if group.last_sent is None or not group.notified_firing:
        return Reason.FIRST
    if any(a.fingerprint not in group.notified_firing for a in firing):
        return Reason.NEW_ALERTS
    if resolved:
        return Reason.SOME_RESOLVED if firing else Reason.ALL_RESOLVED
    return Reason.REPEAT


def _ordering_key(receiver: str, labels: dict[str, str]) -> str:
    """As messages of a group were ordered before groupKey became Alertmanager's, so messages stored
    before an upgrade keep their order with those after it."""
    return f"{receiver}:" + "{" + ",".join(f'{k}="{v}"' for k, v in sorted(labels.items())) + "}"
