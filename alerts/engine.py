"""Findings → alerts: pending → firing → resolved, with a held-back resolve against flapping.

Every evaluation hands the engine the complete set of current findings (drift, SLO and GPU
alike: the engine does not care which kind). A finding present for `for` consecutive
evaluations fires; a firing alert whose finding is gone resolves only after `resolve_hold`
has passed without it coming back, so a feature hovering at its threshold does not page and
resolve every 30 seconds.

>>> from driftwarden.detectors.findings import FeatureDriftFinding, Severity
>>> from driftwarden.params import AlertingParams
>>> engine = AlertEngine(AlertingParams(for_=2, resolve_hold=60.0))
>>> f = FeatureDriftFinding(model="fraud", feature="amount", severity=Severity.WARNING, value=0.4, threshold=0.2)
>>> [a.status.value for a in engine.observe([f], now=0)], [a.status.value for a in engine.observe([f], now=30)]
(['pending'], ['firing'])
>>> [a.status.value for a in engine.observe([], now=60)], [a.status.value for a in engine.observe([], now=120)]
(['firing'], ['resolved'])
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import Any

from driftwarden.alerts.alert import Alert, AlertStatus, describe, fingerprint
from driftwarden.alerts.inhibition import Inhibitor
from driftwarden.alerts.labelset import fingerprint as labels_fingerprint
from driftwarden.alerts.silences import Silences
from driftwarden.detectors.findings import Finding
from driftwarden.params import AlertingParams

__all__ = ["AlertEngine"]


class AlertEngine:
    def __init__(
        self, settings: AlertingParams, *, silences: Silences | None = None, clock: Callable[[], float] = time.time
    ) -> None:
        self.settings = settings
        self.silences = silences or Silences()
        self._clock = clock
        self.inhibitor = Inhibitor(settings.inhibit)
        self._alerts: dict[str, Alert] = {}

    def observe(self, findings: Iterable[Finding], now: float | None = None) -> list[Alert]:
        """Advance every alert by one evaluation; returns the alerts that are not gone."""
        now = self._clock() if now is None else now
        present: set[str] = set()
        for finding in findings:
            key = fingerprint(finding)
            present.add(key)
            evidence = dict(finding.evidence)
            alert = self._alerts.get(key)
            if alert is None or alert.status is AlertStatus.RESOLVED:
                labels, annotations = describe(finding)
                alert = self._alerts[key] = Alert(
                    key, labels, annotations, finding.value, finding.threshold, evidence, first_seen=now
                )
            alert.hits += 1
            alert.value, alert.evidence, alert.absent_since = finding.value, evidence, None
            alert.annotations = describe(finding)[1]
            if alert.status is AlertStatus.PENDING and alert.hits >= self.settings.for_:
                alert.status, alert.starts_at = AlertStatus.FIRING, now
        for key, alert in list(self._alerts.items()):
            if key in present:
                continue
            if alert.status is AlertStatus.PENDING:
                del self._alerts[key]
            elif alert.status is AlertStatus.FIRING:
                alert.hits = 0
                alert.absent_since = alert.absent_since if alert.absent_since is not None else now
                if now - alert.absent_since >= self.settings.resolve_hold:
                    alert.status, alert.ends_at = AlertStatus.RESOLVED, now
        firing = [(k, a.labels) for k, a in self._alerts.items() if a.status is AlertStatus.FIRING]
        for key, alert in self._alerts.items():
            alert.silenced_by = self.silences.matching(alert.labels, now)
            if alert.status is not AlertStatus.RESOLVED:  # muted once, muted until it resolves (inhibition.py)
                muting = self.inhibitor.muting(key, alert.labels, firing)
                alert.inhibited_by = sorted({*alert.inhibited_by, *muting})
        return list(self._alerts.values())

    def alerts(self) -> list[Alert]:
        return list(self._alerts.values())

    def forget_resolved(self) -> None:
        """Drop resolved alerts once the dispatcher has taken them."""
        for key in [k for k, a in self._alerts.items() if a.status is AlertStatus.RESOLVED]:
            del self._alerts[key]

    def state(self) -> list[dict[str, Any]]:
        return [
            {
                **a.to_dict(),
                "first_seen": a.first_seen,
                "hits": a.hits,
                "absent_since": a.absent_since,
                "evidence": a.evidence,
                **({"incidentKey": a.incident_key} if a.incident_key else {}),
            }
            for a in self._alerts.values()
        ]

    def restore(self, saved: list[dict[str, Any]]) -> None:
        """Reload firing alerts after a restart, so that their resolve is still sent.

        An alert saved before the fingerprint became Alertmanager's (an upgrade) is keyed by the
        fingerprint of its labels now, and keeps its old one as `incident_key`: its PagerDuty incident
        is updated and resolved by the key it was opened with, never paged again under a new one."""
        renamed: dict[str, str] = {}
        for d in saved:
            if d["status"] != AlertStatus.FIRING.value:
                continue
            key = labels_fingerprint(d["labels"])
            if key != d["fingerprint"]:
                renamed[d["fingerprint"]] = key
            self._alerts[key] = Alert(
                key,
                d["labels"],
                d["annotations"],
                d["value"],
                d["threshold"],
                d.get("evidence", {}),
                status=AlertStatus.FIRING,
                first_seen=d["first_seen"],
                starts_at=d["startsAt"],
                hits=d["hits"],
                absent_since=d["absent_since"],
                inhibited_by=list(d.get("inhibitedBy", [])),
                incident_key=d.get("incidentKey") or (d["fingerprint"] if key != d["fingerprint"] else None),
            )
        for alert in self._alerts.values():  # the mutes they carry name the muting alerts' new keys
            alert.inhibited_by = sorted({renamed.get(k, k) for k in alert.inhibited_by})
