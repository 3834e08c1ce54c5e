"""`driftwarden run`: the daemon, served by uvicorn until stopped."""

from __future__ import annotations

import argparse
import gc
import sys
from pathlib import Path

import uvicorn
from fastapi import FastAPI
from uvicorn.config import STARTUP_FAILURE  # uvicorn.run's exit status when the server does not start

from driftwarden.api.serving import ensure_descriptors, server_config
from driftwarden.app import create_app
from driftwarden.cli.common import EXIT_OK
from driftwarden.collector.tables import TableError, check_readable
from driftwarden.config import Config, ConfigError, load_config
from driftwarden.logs import setup_logging

__all__ = ["run", "tune_gc"]


def run(args: argparse.Namespace) -> int:
    config = load_config(args.config, listen=args.listen)
    setup_logging(config.log_format)
    _check_reference_files(config)
    ensure_descriptors(config.server)
    tune_gc()
    _serve(config, create_app(config))
    return EXIT_OK


def tune_gc() -> None:
    """Ingest allocates a dict per record, all freed by reference counting: with the default
    threshold (700) the cyclic collector runs several times per request and a full pass over
    the heap shows up in p99 latency. Collect far less often, and leave startup objects out."""
    gc.freeze()
    gc.set_threshold(20_000, 20, 20)


def _check_reference_files(config: Config) -> None:
    """Fail before binding the port when a configured reference file cannot be read: its schema only,
    since the app then fits it with a bounded-memory scan (reading it whole here would undo that)."""
    problems = []
    for model, settings in config.models.items():
        if settings.reference is not None and not settings.previous_as_reference:
            try:
                check_readable(Path(settings.reference))
            except TableError as exc:
                problems.append(f"models.{model}.reference: {settings.reference}: {exc}")
    if problems:
        raise ConfigError(problems)


def _serve(config: Config, app: FastAPI) -> None:
    server = uvicorn.Server(server_config(config, app, log_level="info", access_log=False, log_config=None))
    server.run()
    if not server.started:  # the port was taken, or the app failed to start: as uvicorn.run exits
        sys.exit(STARTUP_FAILURE)
