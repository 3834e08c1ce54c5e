"""`driftwarden dashboards generate`: the Grafana dashboards and their provisioning files."""

from __future__ import annotations

import argparse

from driftwarden.cli.common import EXIT_OK, fail
from driftwarden.dashboards.build import build, write

__all__ = ["generate"]


def generate(args: argparse.Namespace) -> int:
    try:
        written = write(args.out)
    except OSError as exc:
        return fail(f"--out {args.out}: {exc.strerror or exc}")
    for name, board in build().items():
        print(f"{args.out / name}: {board['title']}, {len(board['panels'])} panels")
    print(f"{len(written)} files written to {args.out}")
    return EXIT_OK
