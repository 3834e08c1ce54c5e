"""Routing and grouping: which receivers hear about an alert, and when (Alertmanager's timers).

- A route matches when every `match` label equals the alert's; its receivers are added and,
  unless `continue` is set, matching stops there. No match: `default_receivers`.
- Alerts are grouped per receiver by `group_by` labels. A new group waits `group_wait` before its
  first notification (so alerts arriving together go out together); a changed group (a new firing
  alert, or a resolve) is notified at most every `group_interval`; an unchanged group with firing
  alerts is re-notified every `repeat_interval`.
- Silenced and inhibited alerts are left out; a resolve is only sent for an alert that was notified firing.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass, field

from driftwarden.alerts.alert import Alert, AlertStatus
from driftwarden.params import AlertingParams, RouteParams

__all__ = ["Dispatcher", "Notification", "Router"]


@dataclass(frozen=True)
class Notification:
    receiver: str
    group_key: str
    group_labels: dict[str, str]
    alerts: list[Alert]  # snapshots: firing first, then resolved

    @property
    def status(self) -> str:
        return "firing" if any(a.status is AlertStatus.FIRING for a in self.alerts) else "resolved"


class Router:
    def __init__(self, routes: Sequence[RouteParams], default: Sequence[str]) -> None:
        self.routes = tuple(routes)
        self.default = tuple(default)

    def receivers(self, labels: dict[str, str]) -> list[str]:
        chosen: list[str] = []
        for route in self.routes:
            if all(labels.get(k) == v for k, v in route.match.items()):
                chosen += [r for r in route.receivers if r not in chosen]
                if not route.continue_:
                    break
        return chosen or list(self.default)


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
        self._groups: dict[tuple[str, str], _Group] = {}

    def update(self, alerts: list[Alert], now: float) -> None:
        """Take the engine's alerts (call before the engine forgets resolved ones)."""
        for alert in alerts:
            muted = alert.silenced_by or alert.inhibited_by
            if alert.status is AlertStatus.PENDING or (muted and alert.status is AlertStatus.FIRING):
                continue
            labels = {k: alert.labels[k] for k in self.settings.group_by if k in alert.labels}
            key = "{" + ",".join(f'{k}="{v}"' for k, v in sorted(labels.items())) + "}"
            for receiver in self.router.receivers(alert.labels):
                group = self._groups.get((receiver, key))
                if group is None:
                    if alert.status is AlertStatus.RESOLVED:
                        continue  # never notified as firing here: nothing to resolve
                    group = self._groups[(receiver, key)] = _Group(receiver, f"{receiver}:{key}", labels, now)
                group.alerts[alert.fingerprint] = copy.deepcopy(alert)

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
            out.append(Notification(group.receiver, group.key, dict(group.labels), firing + resolved))
            group.last_sent = now
            group.notified_firing = {a.fingerprint for a in firing}
            for a in resolved:
                del group.alerts[a.fingerprint]
        return out
