"""`driftwarden demo`: the daemon plus a synthetic load that drifts half-way (driftwarden.demo).

Its address is tried first, as `run` binds it: one that cannot be had is one line suggesting
`--listen`, exit 3, before anything starts."""

from __future__ import annotations

import argparse

from driftwarden.cli.common import EXIT_OK, EXIT_START, fail
from driftwarden.cli.run import BindError, bind, tune_gc
from driftwarden.config import split_address
from driftwarden.core.errors import StorageError
from driftwarden.demo import run_demo
from driftwarden.persistence.database import check_state_file

__all__ = ["demo"]


def demo(args: argparse.Namespace) -> int:
    try:  # before anything is started or written beside it, as `driftwarden run` checks it
        check_state_file(args.state)
    except StorageError as exc:
        return fail(f"--state: {exc.reason}")
    try:
        host, port = split_address(args.listen)
    except ValueError as exc:
        return fail(f"--listen {args.listen}: {exc}")
    try:
        bind(host, port).close()  # the demo's server binds it again at once (SO_REUSEADDR)
    except BindError as exc:
        fail(str(exc))
        return EXIT_START
    tune_gc()
    try:
        run_demo(listen=args.listen, state=args.state, duration=args.duration, rate=args.rate, stay=not args.exit)
    except StorageError as exc:  # the file changed since the check, or takes no writes
        return fail(f"--state: {exc.reason}")
    return EXIT_OK
