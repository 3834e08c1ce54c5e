"""Calling a running daemon's HTTP API for the client verbs (`silence`, `audit`): the daemon is `--url`,
else `$DRIFTWARDEN_URL`, else http://127.0.0.1:4318; `--token-file` holds the bearer token."""

from __future__ import annotations

import argparse
from typing import Any

import httpx

from driftwarden.cli.common import fail

__all__ = ["daemon_call"]


def daemon_call(
    args: argparse.Namespace, method: str, path: str, *, quiet: bool = False, **kwargs: Any
) -> dict[str, Any] | None:
    """The answer's JSON, or None after printing why there is none (unless `quiet`)."""
    headers = {}
    if args.token_file:
        try:
            headers["Authorization"] = f"Bearer {args.token_file.read_text().strip()}"
        except OSError as exc:
            fail(f"--token-file {args.token_file}: {exc.strerror or exc}")
            return None
    try:
        r = httpx.request(method, args.url.rstrip("/") + path, headers=headers, timeout=10, **kwargs)
    except httpx.HTTPError as exc:
        if not quiet:
            fail(f"cannot reach {args.url}: {exc} (the daemon is --url or $DRIFTWARDEN_URL)")
        return None
    if r.is_error:
        if not quiet:
            json_body = r.headers.get("content-type", "").startswith("application/json")
            fail(f"{r.status_code}: {r.json().get('error', r.text) if json_body else r.text}")
        return None
    answer: dict[str, Any] = r.json()
    return answer
