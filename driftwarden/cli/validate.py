"""`driftwarden config validate FILE`: load a config as the daemon would; a bad key is a ConfigError."""

from __future__ import annotations

import argparse

from driftwarden.cli.common import EXIT_OK
from driftwarden.config import load_config

__all__ = ["validate"]


def validate(args: argparse.Namespace) -> int:
    config = load_config(args.file)
    print(f"{args.file}: ok ({len(config.models)} models, listening on {config.listen})")
    return EXIT_OK
