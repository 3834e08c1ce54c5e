"""Inhibition, as Alertmanager's inhibit rules define it: a firing alert matching a rule's
`source_match` mutes every alert matching its `target_match` whose `equal` labels have the same
values (a label missing on both counts as equal, as in Alertmanager).

One difference, on purpose: an alert once muted stays muted until it resolves. Alertmanager
re-checks at each notification, so the tail of a drift episode — the drift budget still burning
for the minutes after the drift alert resolved — would page on its own; here one episode is one
incident.

>>> from driftwarden.params import InhibitRuleParams
>>> rule = InhibitRuleParams(source_match={"alertname": "FeatureDrift"}, target_match={"alertname": "DriftBudgetBurn"},
...                          equal=("model",))
>>> inhibitor = Inhibitor([rule])
>>> drift = {"alertname": "FeatureDrift", "model": "fraud"}
>>> inhibitor.mutes(drift, {"alertname": "DriftBudgetBurn", "model": "fraud"})
True
>>> inhibitor.mutes(drift, {"alertname": "DriftBudgetBurn", "model": "churn"})
False
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from driftwarden.params import InhibitRuleParams

__all__ = ["Inhibitor"]


class Inhibitor:
    def __init__(self, rules: Sequence[InhibitRuleParams]) -> None:
        self.rules = tuple(rules)

    def mutes(self, source: Mapping[str, str], target: Mapping[str, str]) -> bool:
        """Whether the alert labelled `source`, firing, mutes the one labelled `target`."""
        return any(
            _matches(source, rule.source_match)
            and _matches(target, rule.target_match)
            and all(source.get(label) == target.get(label) for label in rule.equal)
            for rule in self.rules
        )

    def muting(
        self, target: str, labels: Mapping[str, str], firing: Iterable[tuple[str, Mapping[str, str]]]
    ) -> list[str]:
        """The fingerprints of the firing alerts, (fingerprint, labels), that mute alert `target`; never itself."""
        return sorted(key for key, source in firing if key != target and self.mutes(source, labels))


def _matches(labels: Mapping[str, str], match: Mapping[str, str]) -> bool:
    return all(labels.get(k) == v for k, v in match.items())
