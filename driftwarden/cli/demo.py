"""`driftwarden demo`: the daemon plus a synthetic load that drifts half-way (driftwarden.demo)."""

from __future__ import annotations

import argparse

from driftwarden.cli.common import EXIT_OK
from driftwarden.cli.run import tune_gc
from driftwarden.demo import run_demo

__all__ = ["demo"]


def demo(args: argparse.Namespace) -> int:
    tune_gc()
    run_demo(listen=args.listen, state=args.state, duration=args.duration, rate=args.rate, stay=not args.exit)
    return EXIT_OK
