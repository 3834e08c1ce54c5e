"""`driftwarden silence add|list|expire`: silences on a running daemon, through its HTTP API
(`/v1/silences`); any error (unreachable, refused) exits 2 with the daemon's reason."""

from __future__ import annotations

import argparse
import time
from typing import Any

import httpx

from driftwarden.cli.common import EXIT_OK, EXIT_USAGE, fail

__all__ = ["add", "expire", "list_silences"]


def add(args: argparse.Namespace) -> int:
    matchers = {}
    for item in args.match:
        label, sep, value = item.partition("=")
        if not sep or not label:
            return fail(f"--match {item!r}: expected LABEL=VALUE")
        matchers[label] = value
    body = {"matchers": matchers, "duration": args.duration, "comment": args.comment, "created_by": args.by}
    silence = _daemon_call(args, "POST", "/v1/silences", json=body)
    if silence is None:
        return EXIT_USAGE
    print(f"silence {silence['id']} until {time.strftime('%Y-%m-%d %H:%M:%S', time.localtime(silence['ends_at']))}")
    return EXIT_OK


def list_silences(args: argparse.Namespace) -> int:
    listing = _daemon_call(args, "GET", "/v1/silences")
    if listing is None:
        return EXIT_USAGE
    now = time.time()
    for s in listing["silences"]:
        state = "active" if s["starts_at"] <= now < s["ends_at"] else "expired"
        matchers = ",".join(f"{k}={v}" for k, v in s["matchers"].items())
        print(
            f"{s['id']}  {state:<8} {matchers}  until {time.strftime('%Y-%m-%d %H:%M', time.localtime(s['ends_at']))}"
            f"  {s['comment']}"
        )
    return EXIT_OK


def expire(args: argparse.Namespace) -> int:
    return EXIT_OK if _daemon_call(args, "DELETE", f"/v1/silences/{args.id}") is not None else EXIT_USAGE


def _daemon_call(args: argparse.Namespace, method: str, path: str, **kwargs: Any) -> dict[str, Any] | None:
    """The answer's JSON, or None after printing why there is none."""
    headers = {}
    if args.token_file:
        headers["Authorization"] = f"Bearer {args.token_file.read_text().strip()}"
    try:
        r = httpx.request(method, args.url.rstrip("/") + path, headers=headers, timeout=10, **kwargs)
    except httpx.HTTPError as exc:
        fail(f"cannot reach {args.url}: {exc}")
        return None
    if r.is_error:
        reason = (
            r.json().get("error", r.text)
            if r.headers.get("content-type", "").startswith("application/json")
            else r.text
        )
        fail(f"{r.status_code}: {reason}")
        return None
    answer: dict[str, Any] = r.json()
    return answer
