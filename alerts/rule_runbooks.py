"""The runbook link of a generated Prometheus alert: the same page as the daemon's own alert of that name
links to, `<base>/runbooks/<alertname>` (the daemon serves the operator's guide's runbooks there). `base`
is the daemon's URL as people open it (`rules generate --runbook-base`, else `alerting.external_url`);
without one the rules carry no `runbook_url`, as the project names no host it does not run.

>>> alert, record = with_runbooks([{"alert": "FeatureDrift", "annotations": {}}, {"record": "r"}], "https://dw.example/")
>>> alert["annotations"], record
({'runbook_url': 'https://dw.example/runbooks/FeatureDrift'}, {'record': 'r'})
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from driftwarden.core.alert_names import runbook_path
from driftwarden.core.urls import public_url

__all__ = ["with_runbooks"]


def with_runbooks(rules: Sequence[dict[str, Any]], base: str | None) -> list[dict[str, Any]]:
    """`rules` with a `runbook_url` annotation on each alert (under its own name: write the deprecated
    aliases after, as copies, so they link to the runbook of the current name); unchanged without `base`."""
    if not base:
        return list(rules)
    root = public_url(base)
    return [
        {**rule, "annotations": {**rule.get("annotations", {}), "runbook_url": root + runbook_path(rule["alert"])}}
        if "alert" in rule
        else rule
        for rule in rules
    ]
