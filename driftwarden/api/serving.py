"""How the app is served: uvicorn, plus what its HTTP/1.1 protocol lacks against idle and slow clients.

uvicorn closes a keep-alive connection that stays idle after an answer, but a connection that never
sends a request, or sends its headers a byte at a time, stays open for good, and httptools buffers
headers of any size. Each open connection holds a file descriptor: once the process runs out of them
nobody gets in, /healthz included. `GuardedHttp` adds, from `server:` in the config:

- a deadline for a request's line and headers (`header_timeout`), counted from the connection's
  opening or the previous answer, that trickled bytes do not extend;
- a bound on their size (`max_header_bytes`): 431;
- a bound on open connections (`max_connections`): one more closes the connection that has waited
  longest for a request, or answers 503 when every one is busy with a request.

Each refusal is logged (rate-limited) and counted in `driftwarden_connections_refused_total{reason}`:
`shed_idle`, `header_timeout`, `headers_too_large`, `too_many_connections`. (A body that does not
arrive within `server.body_timeout` reaches the app: it is a 408 counted with the refused requests.)

`ensure_descriptors` makes sure the process may open that many connections.
"""

from __future__ import annotations

import asyncio
import logging
import math
import resource
import time
from typing import Any, ClassVar

import orjson
import uvicorn
from fastapi import FastAPI
from prometheus_client import Counter
from uvicorn._types import ASGI3Application, ASGIReceiveCallable, ASGISendCallable, Scope
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

from driftwarden.config import Config, ConfigError, ServerSettings
from driftwarden.core.ratelog import RateLimitedLog
from driftwarden.exporters.prometheus import Instruments

__all__ = ["DESCRIPTOR_RESERVE", "GuardedHttp", "ensure_descriptors", "guarded_protocol", "server_config"]

DESCRIPTOR_RESERVE = 128  # beyond connections: state file and its WAL, logs, file tails, receivers' connections

log = logging.getLogger("driftwarden.connections")


def server_config(config: Config, app: FastAPI, **options: Any) -> uvicorn.Config:
    """uvicorn's config for serving `app` as `config` says; `options` (logging) pass through. Refused
    connections are counted in the app's instruments (`app.state.daemon.instruments`)."""
    server = config.server
    daemon = getattr(app.state, "daemon", None)
    instruments = getattr(daemon, "instruments", None)
    counted = instruments.connections_refused if isinstance(instruments, Instruments) else None
    tls = config.tls_cert_file is not None  # the config requires both files or neither
    return uvicorn.Config(
        app,
        host=config.host,
        port=config.port,
        http=guarded_protocol(server, counted),
        backlog=server.backlog,
        timeout_keep_alive=math.ceil(server.keep_alive_timeout),
        timeout_graceful_shutdown=math.ceil(server.shutdown_timeout),
        ssl_certfile=str(config.tls_cert_file) if tls else None,
        ssl_keyfile=str(config.tls_key_file) if tls else None,
        **options,
    )


def ensure_descriptors(server: ServerSettings) -> None:
    """Raise the soft limit on open files to what `max_connections` needs, within the hard limit;
    a ConfigError when even the hard limit is too low (the daemon would stop accepting anyone)."""
    needed = server.max_connections + DESCRIPTOR_RESERVE
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY or soft >= needed:
        return
    if hard != resource.RLIM_INFINITY and hard < needed:
        raise ConfigError(
            [
                f"server.max_connections: {server.max_connections} connections need {needed} open files "
                f"({DESCRIPTOR_RESERVE} kept for the state file, logs and receivers) but the limit is {hard} "
                f"(ulimit -n): raise it, or lower server.max_connections to {max(hard - DESCRIPTOR_RESERVE, 1)}"
            ]
        )
    resource.setrlimit(resource.RLIMIT_NOFILE, (needed, hard))


def guarded_protocol(settings: ServerSettings, counted: Counter | None = None) -> type[GuardedHttp]:
    """`GuardedHttp` bound to `settings`, counting its refusals by reason in `counted` (uvicorn builds
    each connection's protocol from a class)."""

    class Configured(GuardedHttp):
        limits = settings
        refusals = RateLimitedLog(log)
        refused = counted

    return Configured


class GuardedHttp(HttpToolsProtocol):
    """uvicorn's httptools protocol with a header deadline, a header size bound and a connection bound."""

    limits: ClassVar[ServerSettings] = ServerSettings()
    refusals: ClassVar[RateLimitedLog] = RateLimitedLog(log)
    refused: ClassVar[Counter | None] = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._waiting_since = time.monotonic()
        self._header_bytes = 0
        self._in_body = False  # between a request's headers and its end
        self._header_deadline: asyncio.TimerHandle | None = None

    @property
    def waiting(self) -> bool:
        """Waiting for a request: none yet, or the last one answered."""
        return self.cycle is None or self.cycle.response_complete

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._await_request()
        self._keep_within_limit()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_deadline()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        reading_headers = self.waiting and not self._in_body
        if reading_headers:
            self._header_bytes += len(data)
        super().data_received(data)
        if (
            reading_headers
            and self.waiting
            and self._header_bytes > self.limits.max_header_bytes
            and not self.transport.is_closing()
        ):
            self._refuse(431, "headers_too_large", self._headers_too_large())

    def on_headers_complete(self) -> None:
        self._cancel_deadline()
        self._header_bytes = 0
        self._in_body = True
        size = len(self.url) + sum(len(name) + len(value) + 4 for name, value in self.headers)
        if size <= self.limits.max_header_bytes:
            super().on_headers_complete()
            return
        message = self._headers_too_large()
        app, self.app = self.app, _answer(431, "headers_too_large", message)
        try:  # uvicorn's own way of answering without the app (as for its limit_concurrency)
            super().on_headers_complete()
        finally:
            self.app = app
        self._note("headers_too_large", f"refused a request (431 headers_too_large): {message}")

    def on_message_complete(self) -> None:
        self._in_body = False
        super().on_message_complete()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if self.waiting and not self.transport.is_closing():
            self._await_request()

    def _headers_too_large(self) -> str:
        return f"request line and headers larger than {self.limits.max_header_bytes} bytes (server.max_header_bytes)"

    def _await_request(self) -> None:
        self._cancel_deadline()
        self._waiting_since = time.monotonic()
        self._header_deadline = self.loop.call_later(self.limits.header_timeout, self._headers_late)

    def _cancel_deadline(self) -> None:
        if self._header_deadline is not None:
            self._header_deadline.cancel()
            self._header_deadline = None

    def _headers_late(self) -> None:
        self._header_deadline = None
        if self.waiting and not self.transport.is_closing():
            self.transport.close()  # nothing to answer: no request arrived
            self._note(
                "header_timeout",
                f"closed a connection whose request did not arrive within {self.limits.header_timeout:g} s "
                "(server.header_timeout)",
            )

    def _keep_within_limit(self) -> None:
        """Over max_connections: close the longest-waiting idle connection, or refuse this one."""
        open_ = [c for c in self.connections if isinstance(c, GuardedHttp) and not c.transport.is_closing()]
        if len(open_) <= self.limits.max_connections:
            return
        idle = [c for c in open_ if c is not self and c.waiting]
        if idle:
            min(idle, key=lambda c: c._waiting_since).transport.close()
            self._note(
                "shed_idle",
                f"{len(open_)} connections open: closed the longest idle one (server.max_connections "
                f"{self.limits.max_connections})",
            )
        else:
            self._refuse(
                503,
                "too_many_connections",
                f"{self.limits.max_connections} connections are busy with requests (server.max_connections): "
                "retry shortly",
            )

    def _refuse(self, status: int, reason: str, message: str) -> None:
        """Answer a problem `{"error", "reason"}` and close: the request was never handed to the app."""
        body = orjson.dumps({"error": message, "reason": reason})
        head = [STATUS_LINE[status]]
        head += [name + b": " + value + b"\r\n" for name, value in self.server_state.default_headers]
        head.append(b"content-type: application/json\r\ncontent-length: %d\r\n" % len(body))
        head.append(b"retry-after: 1\r\n" if status == 503 else b"")
        head.append(b"connection: close\r\n\r\n")
        self.transport.write(b"".join(head) + body)
        self.transport.close()
        self._note(reason, f"refused a connection ({status} {reason}): {message}")

    def _note(self, reason: str, message: str) -> None:
        """Log (rate-limited) and count a refusal."""
        self.refusals.note(reason, message)
        if self.refused is not None:
            self.refused.labels(reason).inc()


def _answer(status: int, reason: str, message: str) -> ASGI3Application:
    """An ASGI app that answers every request with this problem and closes the connection."""
    body = orjson.dumps({"error": message, "reason": reason})
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", b"%d" % len(body)),
        (b"connection", b"close"),
    ]

    async def answer(scope: Scope, receive: ASGIReceiveCallable, send: ASGISendCallable) -> None:
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body, "more_body": False})

    return answer
