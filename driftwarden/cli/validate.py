"""`driftwarden config validate FILE`: load a config and check the files it names as `driftwarden run`
does before it starts; a bad key or file is a ConfigError (one line each, exit 2)."""

from __future__ import annotations

import argparse

from driftwarden.cli.common import EXIT_OK
from driftwarden.cli.preflight import check_files
from driftwarden.config import load_config

__all__ = ["validate"]


def validate(args: argparse.Namespace) -> int:
    config = load_config(args.file)
    check_files(config)
    print(f"{args.file}: ok ({len(config.models)} models, listening on {config.listen})")
    return EXIT_OK
