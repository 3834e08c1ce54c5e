"""Prometheus Operator `PrometheusRule` resources: the groups of a rule file wrapped in the
custom resource the operator turns into a rule file (`rules generate --format prometheusrule`).

>>> print(render("driftwarden-fleet", [{"name": "g", "rules": [{"record": "r", "expr": "up"}]}]), end="")
apiVersion: monitoring.coreos.com/v1
kind: PrometheusRule
metadata:
  name: driftwarden-fleet
  labels:
    app.kubernetes.io/name: driftwarden
    app.kubernetes.io/component: alerting-rules
spec:
  groups:
  - name: g
    rules:
    - record: r
      expr: up
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from driftwarden.alerts.rule_yaml import dump

__all__ = ["API_VERSION", "KIND", "LABELS", "file_name", "render", "resource"]

API_VERSION = "monitoring.coreos.com/v1"
KIND = "PrometheusRule"
# What a Prometheus' ruleSelector usually matches on; more with `--label` (kube-prometheus-stack wants `release`).
LABELS = {"app.kubernetes.io/name": "driftwarden", "app.kubernetes.io/component": "alerting-rules"}


def resource(name: str, groups: Sequence[Mapping[str, Any]], labels: Mapping[str, str] | None = None) -> dict[str, Any]:
    """A PrometheusRule named `name` whose spec.groups are a rule file's `groups`."""
    return {
        "apiVersion": API_VERSION,
        "kind": KIND,
        "metadata": {"name": name, "labels": {**LABELS, **(labels or {})}},
        "spec": {"groups": list(groups)},
    }


def render(name: str, groups: Sequence[Mapping[str, Any]], labels: Mapping[str, str] | None = None) -> str:
    return dump(resource(name, groups, labels))


def file_name(rule_file: str) -> str:
    """slos.yml -> slos.prometheusrule.yaml: beside the plain rule files without replacing them."""
    return rule_file.rsplit(".", 1)[0] + ".prometheusrule.yaml"
