"""`driftwarden audit`: the audit trail of a running daemon (`GET /v1/audit`), newest first, as a table
(`--json`: one JSON document). Any error (unreachable, refused) exits 2 with the daemon's reason."""

from __future__ import annotations

import argparse
import time
from typing import Any

from rich.table import Table

from driftwarden.cli.client import daemon_call
from driftwarden.cli.common import EXIT_OK, EXIT_USAGE, fail, print_json, stdout
from driftwarden.config import parse_duration

__all__ = ["audit"]

PAGE = 1000  # the daemon's largest page


def audit(args: argparse.Namespace) -> int:
    if args.limit < 1:
        return fail(f"--limit {args.limit}: give a number of entries, at least 1")
    filters: dict[str, str] = {}
    for name in ("action", "subject", "caller"):
        if getattr(args, name) is not None:
            filters[name] = getattr(args, name)
    for name in ("since", "until"):
        if getattr(args, name) is not None:
            filters[name] = _when(getattr(args, name))
    entries: list[dict[str, Any]] = []
    cursor: str | None = None
    while len(entries) < args.limit:
        params = filters | {"limit": str(min(PAGE, args.limit - len(entries)))} | ({"cursor": cursor} if cursor else {})
        page = daemon_call(args, "GET", "/v1/audit", params=params)
        if page is None:
            return EXIT_USAGE
        entries += page["entries"]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    if args.json:
        print_json({"entries": entries, "next_cursor": cursor})
        return EXIT_OK
    if not entries:
        print("no audit entries" + (" match" if filters else ""))
        return EXIT_OK
    table = Table(caption=f"older entries: --limit more than {args.limit}" if cursor else None)
    for header in ("time", "action", "subject", "caller", "from", "before → after", "trace id"):
        table.add_column(header, no_wrap=header in ("time", "trace id"))
    for e in entries:
        caller = e["caller"]
        where = caller["address"] or "-"
        if caller["tls_subject"]:
            where += f" ({caller['tls_subject']})"
        change = f"{_short(e['before'])} → {_short(e['after'])}"
        when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(e["at"]))
        table.add_row(when, e["action"], e["subject"], caller["name"], where, change, e["trace_id"])
    stdout().print(table)
    return EXIT_OK


def _when(text: str) -> str:
    """`24h` (that long ago) as unix seconds; unix seconds and RFC 3339 times as given."""
    try:
        return f"{time.time() - parse_duration(text):.3f}"
    except ValueError:
        return text


def _short(digest: str | None) -> str:
    return "-" if digest is None else digest[:12]
