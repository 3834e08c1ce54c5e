"""`driftwarden run`: the daemon, served by uvicorn until stopped."""

from __future__ import annotations

import argparse
import gc
import sys

import uvicorn
from fastapi import FastAPI
from uvicorn.config import STARTUP_FAILURE  # uvicorn.run's exit status when the server does not start

from driftwarden.api.serving import ensure_descriptors, server_config
from driftwarden.app import create_app
from driftwarden.cli.common import EXIT_OK
from driftwarden.cli.preflight import check_files
from driftwarden.config import Config, ConfigError, load_config
from driftwarden.core.errors import StorageError
from driftwarden.logs import setup_logging

__all__ = ["run", "tune_gc"]


def run(args: argparse.Namespace) -> int:
    config = load_config(args.config, listen=args.listen)
    setup_logging(config.log_format)
    check_files(config)  # before the port is bound or the state file made
    ensure_descriptors(config.server)
    tune_gc()
    try:
        app = create_app(config)
    except StorageError as exc:  # the state file changed since the check, or will not open for writing
        raise ConfigError([f"state_path: {exc.reason}"]) from exc
    _serve(config, app)
    return EXIT_OK


def tune_gc() -> None:
    """Ingest allocates a dict per record, all freed by reference counting: with the default
    threshold (700) the cyclic collector runs several times per request and a full pass over
    the heap shows up in p99 latency. Collect far less often, and leave startup objects out."""
    gc.freeze()
    gc.set_threshold(20_000, 20, 20)


def _serve(config: Config, app: FastAPI) -> None:
    server = uvicorn.Server(server_config(config, app, log_level="info", access_log=False, log_config=None))
    server.run()
    if not server.started:  # the port was taken, or the app failed to start: as uvicorn.run exits
        sys.exit(STARTUP_FAILURE)
