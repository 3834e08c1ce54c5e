"""`driftwarden silence add|list|expire`: silences on a running daemon, through its HTTP API
(`/v1/silences`); any error (unreachable, refused) exits 2 with the daemon's reason. The daemon is
`--url`, else `$DRIFTWARDEN_URL`, else http://127.0.0.1:4318.

`add` warns (on stderr, and silences all the same) when a matcher cannot match: a label no alert
carries (`mdl=churn`: did you mean `model`?), or a model or SLO the daemon does not know."""

from __future__ import annotations

import argparse
import time

from driftwarden.cli.client import daemon_call as _daemon_call
from driftwarden.cli.common import EXIT_OK, EXIT_USAGE, fail, print_json, warn
from driftwarden.core.label_names import ALERT_LABELS
from driftwarden.core.suggestions import did_you_mean, hint

__all__ = ["add", "expire", "list_silences"]

# label -> (the daemon's listing, its key, the key of each item's name)
_KNOWN_VALUES = {"model": ("/v1/models", "models", "model"), "slo": ("/v1/slos", "slos", "name")}


def add(args: argparse.Namespace) -> int:
    matchers = {}
    for item in args.match:
        label, sep, value = item.partition("=")
        if not sep or not label:
            return fail(f"--match {item!r}: expected LABEL=VALUE")
        matchers[label] = value
    for warning in _unmatchable(args, matchers):
        warn(warning)
    body = {"matchers": matchers, "duration": args.duration, "comment": args.comment, "created_by": args.by}
    silence = _daemon_call(args, "POST", "/v1/silences", json=body)
    if silence is None:
        return EXIT_USAGE
    if args.json:
        print_json(silence)
    else:
        print(f"silence {silence['id']} until {_local(silence['ends_at'], seconds=True)}")
    return EXIT_OK


def _unmatchable(args: argparse.Namespace, matchers: dict[str, str]) -> list[str]:
    """Why a matcher can match no alert, one line each."""
    warnings = []
    for label, value in matchers.items():
        if label not in ALERT_LABELS:
            close = did_you_mean(label, ALERT_LABELS)
            known = "" if close else f" (alert labels: {', '.join(sorted(ALERT_LABELS))})"
            warnings.append(f"--match {label}={value}: no alert carries the label {label!r}{hint(close)}{known}")
        elif label in _KNOWN_VALUES:
            path, listing, key = _KNOWN_VALUES[label]
            answer = _daemon_call(args, "GET", path, quiet=True)
            if answer is None:  # not known: nothing to compare with
                continue
            names = [item[key] for item in answer.get(listing, [])]
            if value not in names:
                close = did_you_mean(value, names)
                known = "" if close else f" (it knows: {', '.join(names) or 'none yet'})"
                warnings.append(f"--match {label}={value}: the daemon knows no {label} {value!r}{hint(close)}{known}")
    return warnings


def list_silences(args: argparse.Namespace) -> int:
    listing = _daemon_call(args, "GET", "/v1/silences")
    if listing is None:
        return EXIT_USAGE
    if args.json:
        print_json(listing)
        return EXIT_OK
    now = time.time()
    for s in listing["silences"]:
        state = "active" if s["starts_at"] <= now < s["ends_at"] else "expired"
        matchers = ",".join(f"{k}={v}" for k, v in s["matchers"].items())
        print(f"{s['id']}  {state:<8} {matchers}  until {_local(s['ends_at'])}  {s['comment']}")
    return EXIT_OK


def expire(args: argparse.Namespace) -> int:
    answer = _daemon_call(args, "DELETE", f"/v1/silences/{args.id}")
    if answer is None:
        return EXIT_USAGE
    if args.json:
        print_json(answer)
    return EXIT_OK


def _local(at: float, *, seconds: bool = False) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M", time.localtime(at))
