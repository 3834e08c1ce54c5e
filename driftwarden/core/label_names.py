"""Label names a user chooses in the config, held to the rules of the systems that read them.

Prometheus (and Alertmanager) label names match `[a-zA-Z_][a-zA-Z0-9_]*`; names starting with
`__` are reserved for their internal use. A span attribute exported as a label is named as
OpenTelemetry's Prometheus exporters name it: every character outside `[a-zA-Z0-9_]` becomes `_`
(`deployment.environment` -> `deployment_environment`).

>>> label_for_attribute("deployment.environment")
'deployment_environment'
>>> label_name_problem("le", reserved=HISTOGRAM_RESERVED)
"'le' is reserved by Prometheus histograms and summaries"
"""

from __future__ import annotations

import re

__all__ = [
    "ALERT_LABELS",
    "HISTOGRAM_RESERVED",
    "LABEL_NAME",
    "REQUEST_LABELS",
    "SCRAPE_LABELS",
    "label_for_attribute",
    "label_name_problem",
]

LABEL_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")  # use .fullmatch
HISTOGRAM_RESERVED = frozenset({"le", "quantile"})  # the bucket and quantile labels
SCRAPE_LABELS = frozenset({"job", "instance"})  # Prometheus sets them; exposed ones become exported_job, ...
REQUEST_LABELS = ("service", "model", "operation", "status")  # every request series has them (detectors/latency.py)
# The labels driftwarden's alerts carry (alerts/alert.py `describe`: its own, the finding's target and the
# finding's labels): what a route's `match` and a silence's matchers can select on.
ALERT_LABELS = frozenset(
    {
        "alertname",
        "kind",
        "severity",
        "subject",
        "model",
        "slo",
        "gpu",
        "service",
        "UUID",
        "modelName",
        "xid",
        "segment",
        "constraint",  # DataQualityViolation: range, category, regex, type, missing, undeclared, absent
    }
)

_INVALID = re.compile(r"[^a-zA-Z0-9_]")


def label_for_attribute(attribute: str) -> str:
    """The label name of a span attribute: each character outside [a-zA-Z0-9_] replaced by `_`."""
    return _INVALID.sub("_", attribute)


def label_name_problem(name: str, *, reserved: frozenset[str] = frozenset()) -> str | None:
    """Why `name` cannot be a label name, or None when it can."""
    if not name:
        return "a label name cannot be empty"
    if not LABEL_NAME.fullmatch(name):
        first = "starts with a digit" if name[0].isdigit() else "is not a label name"
        return f"{name!r} {first}: a label name must match [a-zA-Z_][a-zA-Z0-9_]*"
    if name.startswith("__"):
        return f"{name!r} starts with __, which Prometheus reserves for its own labels"
    if name in reserved:
        return f"{name!r} is reserved by Prometheus histograms and summaries"
    return None
