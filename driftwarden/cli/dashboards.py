"""`driftwarden dashboards generate`: the Grafana dashboards and their provisioning files; a line per
dashboard, or with `--json` one document: `{"dashboards": [{"path", "title", "panels"}], "files": [...]}`."""

from __future__ import annotations

import argparse

from driftwarden.cli.common import EXIT_OK, fail, print_json
from driftwarden.dashboards.build import build, write

__all__ = ["generate"]


def generate(args: argparse.Namespace) -> int:
    try:
        written = write(args.out)
    except OSError as exc:
        return fail(f"--out {args.out}: {exc.strerror or exc}")
    boards = build()
    if args.json:
        print_json(
            {
                "dashboards": [
                    {"path": str(args.out / name), "title": board["title"], "panels": len(board["panels"])}
                    for name, board in boards.items()
                ],
                "files": [str(path) for path in written],
            }
        )
        return EXIT_OK
    for name, board in boards.items():
        print(f"{args.out / name}: {board['title']}, {len(board['panels'])} panels")
    print(f"{len(written)} files written to {args.out}")
    return EXIT_OK
