"""`driftwarden run`: the daemon, served by uvicorn until stopped.

The address is bound before anything else starts (the app, the state file, the lifespan): taken or
not available, it is one line that says so and suggests `--listen`, exit 3 (EXIT_START). The
"listening on" line is logged once the server accepts connections, never before.
"""

from __future__ import annotations

import argparse
import errno
import gc
import logging
import socket

import uvicorn
from fastapi import FastAPI

from driftwarden.api.serving import ensure_descriptors, server_config
from driftwarden.app import create_app
from driftwarden.cli.common import EXIT_OK, EXIT_START, fail
from driftwarden.cli.preflight import check_files
from driftwarden.config import Config, ConfigError, load_config
from driftwarden.core.errors import StorageError
from driftwarden.logs import setup_logging

__all__ = ["BindError", "bind", "run", "tune_gc"]

log = logging.getLogger("driftwarden")


def run(args: argparse.Namespace) -> int:
    config = load_config(args.config, listen=args.listen)
    setup_logging(config.log_format)
    check_files(config, args.config)  # before the port is bound or the state file made
    ensure_descriptors(config.server)
    try:
        listener = bind(config.host, config.port)
    except BindError as exc:
        fail(str(exc))
        return EXIT_START
    tune_gc()
    try:
        app = create_app(config)
    except StorageError as exc:  # the state file changed since the check, or will not open for writing
        listener.close()
        raise ConfigError([f"state_path: {exc.reason}"]) from exc
    return EXIT_OK if _serve(config, app, listener) else EXIT_START


class BindError(Exception):
    """The address cannot be served on; the message says why and what to do, on one line."""


def bind(host: str, port: int) -> socket.socket:
    """A TCP socket bound to host:port, not yet listening (uvicorn listens once the app has started)."""
    address = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise BindError(f"cannot listen on {address}: {host} does not resolve ({exc.strerror}): {_SUGGEST}") from exc
    family, kind, proto, _, sockaddr = infos[0]
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn: a restart need not wait out TIME_WAIT
    try:
        sock.bind(sockaddr)
    except OSError as exc:
        sock.close()
        why = _WHY.get(exc.errno or 0, exc.strerror or str(exc))
        raise BindError(f"cannot listen on {address}: {why}: {_SUGGEST}") from exc
    return sock


_SUGGEST = "give another address with --listen HOST:PORT (or `listen:` in the config)"
_WHY = {
    errno.EADDRINUSE: "the address is in use by another process (another driftwarden?)",
    errno.EACCES: "permission denied (ports below 1024 need privileges)",
    errno.EADDRNOTAVAIL: "the address is not one of this host's",
}


def tune_gc() -> None:
    """Ingest allocates a dict per record, all freed by reference counting: with the default
    threshold (700) the cyclic collector runs several times per request and a full pass over
    the heap shows up in p99 latency. Collect far less often, and leave startup objects out."""
    gc.freeze()
    gc.set_threshold(20_000, 20, 20)


class _Server(uvicorn.Server):
    """uvicorn's server, saying where it listens once it does (uvicorn is quiet when given a socket)."""

    def __init__(self, config: uvicorn.Config, settings: Config) -> None:
        super().__init__(config)
        self.settings = settings

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if self.started:
            scheme = "https" if self.settings.tls_cert_file is not None else "http"
            host, port = (sockets[0].getsockname()[:2]) if sockets else (self.settings.host, self.settings.port)
            address = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
            log.info("driftwarden listening on %s://%s (state in %s)", scheme, address, self.settings.state_path)


def _serve(config: Config, app: FastAPI, listener: socket.socket) -> bool:
    """Serve until stopped; False when the server did not start (the app's startup failed)."""
    server = _Server(server_config(config, app, log_level="info", access_log=False, log_config=None), config)
    try:
        server.run(sockets=[listener])
    except SystemExit:  # uvicorn exits when the app's startup fails, after logging why
        return False
    finally:
        listener.close()
    return server.started
