"""`driftwarden config validate FILE`: load a config and check the files it names as `driftwarden run`
does before it starts. Every problem is reported in one run, one line each on stderr
(`config error file:line:column: key: message`), exit 2; with `--json`, stdout has the same as one
document: `{"ok": false, "problems": [{"key", "message", "file", "line", "column", "did_you_mean"}]}`."""

from __future__ import annotations

import argparse

from driftwarden.cli.common import EXIT_OK, print_json
from driftwarden.cli.preflight import check_files
from driftwarden.config import load_config

__all__ = ["validate"]


def validate(args: argparse.Namespace) -> int:
    config = load_config(args.file)
    check_files(config, args.file)
    if args.json:
        print_json(
            {
                "ok": True,
                "file": str(args.file),
                "listen": config.listen,
                "state_path": str(config.state_path),
                "models": sorted(config.models),
                "slos": [slo.name for slo in config.slos],
                "receivers": [receiver.name for receiver in config.receivers],
                "problems": [],
            }
        )
    else:
        print(f"{args.file}: ok ({len(config.models)} models, listening on {config.listen})")
    return EXIT_OK
