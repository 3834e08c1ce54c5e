"""What every route shares: problem answers, bounded body reading, bearer auth."""

from __future__ import annotations

import asyncio
import hmac
import logging
import zlib
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from driftwarden.api.schemas.common import READ_UNAUTHORIZED
from driftwarden.core.errors import (
    BodyTooLarge,
    DriftwardenError,
    LimitExceeded,
    Overloaded,
    StorageError,
    UnsupportedMediaType,
)
from driftwarden.core.ratelog import RateLimitedLog
from driftwarden.core.records import MODEL_NAME
from driftwarden.exporters.prometheus import Instruments

__all__ = [
    "ACCEPTED_ENCODINGS",
    "HTTPProblem",
    "bearer_auth",
    "body_reader",
    "check_model_name",
    "declare_read_protection",
    "http_status",
    "problem",
    "problem_handler",
    "read_protection",
    "reason_for",
    "rejection_log",
    "route_of",
    "unrouted_handler",
]


def rejection_log() -> RateLimitedLog:
    """One per app: every rejection reason logged once a minute at most, with a count."""
    return RateLimitedLog(logging.getLogger("driftwarden.ingest"))


class HTTPProblem(Exception):
    """Answer `status` with `{"error": message, "reason": reason}`; counted by reason."""

    def __init__(self, status: int, reason: str, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.reason, self.message, self.headers = status, reason, message, headers or {}


def route_of(request: Request) -> str:
    """The route template (`/v1/models/{model}/reference`), never the raw path: bounded label values."""
    return getattr(request.scope.get("route"), "path", "unknown")


def problem_handler(
    instruments: Instruments, rejections: RateLimitedLog
) -> Callable[[Request, HTTPProblem], Awaitable[JSONResponse]]:
    async def handle(request: Request, exc: HTTPProblem) -> JSONResponse:
        instruments.requests_rejected.labels(route_of(request), exc.reason).inc()
        if exc.status != 404:
            rejections.note(
                f"{route_of(request)}:{exc.reason}",
                f"refused {request.method} {route_of(request)} ({exc.status} {exc.reason}): {exc.message}",
            )
        return JSONResponse({"error": exc.message, "reason": exc.reason}, status_code=exc.status, headers=exc.headers)

    return handle


_UNROUTED_REASONS = {404: "not_found", 405: "method_not_allowed"}


def unrouted_handler(
    instruments: Instruments, rejections: RateLimitedLog
) -> Callable[[Request, HTTPException], Awaitable[JSONResponse]]:
    """Starlette's own refusals (no route for the path: 404; not for the method: 405) as problems,
    counted like every other: its default `{"detail": ...}` body is no problem a client can read."""
    handle_problem = problem_handler(instruments, rejections)

    async def handle(request: Request, exc: HTTPException) -> JSONResponse:
        reason = _UNROUTED_REASONS.get(exc.status_code, f"http_{exc.status_code}")
        where = f"{request.method} {request.url.path[:200]}"
        if exc.status_code == 404:
            message = f"no route for {where}: GET /openapi.json lists the API's paths"
        elif exc.status_code == 405:
            message = f"{where}: the method is not allowed here (Allow: {(exc.headers or {}).get('Allow', '')})"
        else:
            message = f"{where}: {exc.detail}"
        return await handle_problem(request, HTTPProblem(exc.status_code, reason, message, dict(exc.headers or {})))

    return handle


def bearer_auth(tokens: Mapping[str, str] | str | None) -> Callable[[Request], Awaitable[None]]:
    """A dependency for writes (and reads, through `read_protection`); async: a sync one costs a thread hop.

    `tokens`: name -> token (a single token is named "default"); none: every request passes. The name
    of the token a request sent is its caller in the audit trail (`caller_of`)."""
    named = {"default": tokens} if isinstance(tokens, str) else dict(tokens or {})
    encoded = [(name, token.encode()) for name, token in named.items()]

    async def require_token(request: Request) -> None:
        if not encoded:
            return
        scheme, _, value = request.headers.get("authorization", "").partition(" ")
        sent = value.strip().encode()
        # every token compared, in constant time each: the answer's timing tells no token's prefix
        matches = [name for name, token in encoded if hmac.compare_digest(sent, token)]
        if scheme.lower() != "bearer" or not matches:
            raise HTTPProblem(
                401, "unauthorized", "missing or wrong bearer token", {"WWW-Authenticate": 'Bearer realm="driftwarden"'}
            )
        request.state.token_name = matches[0]

    return require_token


ACCEPTED_ENCODINGS = ("gzip", "identity")


def read_protection(
    tokens: Mapping[str, str] | str | None, open_routes: frozenset[str]
) -> Callable[[Request], Awaitable[None]]:
    """A dependency for every route: a token is needed everywhere but `open_routes` (route templates);
    with no `tokens`, nowhere. Writes keep their own `bearer_auth`, so this only adds reads."""
    require_token = bearer_auth(tokens)

    async def protect(request: Request) -> None:
        if route_of(request) not in open_routes:
            await require_token(request)

    return protect


def declare_read_protection(document: dict[str, Any], never_protected: frozenset[str]) -> dict[str, Any]:
    """`document` (an OpenAPI document, changed in place) with the 401 `read_protection` may answer on every
    operation but those of `never_protected`, as the dependency covers them all: a route added later is in
    the contract without a line of its own. Operations that declare a 401 of their own (the writes', needed
    whenever a token is set) keep theirs."""
    for path, item in document["paths"].items():
        if path not in never_protected:
            for operation in item.values():
                operation["responses"].setdefault("401", READ_UNAUTHORIZED)
    return document


def body_reader(limit: int, *, timeout: float | None = None) -> Callable[[Request], Awaitable[bytes]]:
    """Reads a body, decoding its Content-Encoding, and refuses it (413) as soon as it passes `limit`
    bytes as sent or as decoded: never buffers more, so a gzip bomb stops at the limit. A body that
    has not arrived whole within `timeout` seconds is refused (408): a slow sender holds no connection."""

    async def read_body(request: Request) -> bytes:
        try:
            async with asyncio.timeout(timeout):
                return await _read(request)
        except TimeoutError:
            raise HTTPProblem(
                408,
                "body_timeout",
                f"the body did not arrive within {timeout:g} s (server.body_timeout)",
                {"Connection": "close"},
            ) from None

    async def _read(request: Request) -> bytes:
        gzipped = _gzipped(request)  # 415 before a byte of the body is read
        declared = request.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > limit:
            raise HTTPProblem(
                413,
                "body_too_large",
                f"body of {declared} bytes; the limit is {limit} (limits.max_body_bytes): send smaller batches",
            )
        decoded = _Gunzip(limit) if gzipped else _AsSent()
        sent = 0
        async for chunk in request.stream():
            sent += len(chunk)
            if sent > limit:
                raise HTTPProblem(413, "body_too_large", f"body larger than {limit} bytes (limits.max_body_bytes)")
            decoded.feed(chunk)
        return decoded.finish()

    return read_body


def _gzipped(request: Request) -> bool:
    """True for `Content-Encoding: gzip`, False for none or identity; 415 for any other coding."""
    codings = [c.strip().lower() for value in request.headers.getlist("content-encoding") for c in value.split(",")]
    applied = ["gzip" if c == "x-gzip" else c for c in codings if c not in ("", "identity")]  # RFC 9110 8.4.1.3
    if applied in ([], ["gzip"]):
        return bool(applied)
    raise HTTPProblem(
        415,
        "unsupported_media_type",
        f"unsupported Content-Encoding {', '.join(applied)[:80]!r}: send {' or '.join(ACCEPTED_ENCODINGS)} (or none)",
    )


class _AsSent:
    """The body as sent (the reader checks its size)."""

    def __init__(self) -> None:
        self._chunks: list[bytes] = []

    def feed(self, data: bytes) -> None:
        self._chunks.append(data)

    def finish(self) -> bytes:
        return b"".join(self._chunks)


class _Gunzip:
    """Inflates gzip members as chunks arrive, never more than `limit` + 1 bytes in all."""

    def __init__(self, limit: int) -> None:
        self._limit, self._size = limit, 0
        self._inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
        self._chunks: list[bytes] = []

    def feed(self, data: bytes) -> None:
        while data:
            if self._inflater.eof:  # the next member of a multi-member file (RFC 1952 2.2)
                self._inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
            try:
                out = self._inflater.decompress(data, self._limit - self._size + 1)
            except zlib.error as exc:
                raise HTTPProblem(400, "bad_body", f"Content-Encoding is gzip but the body is not: {exc}") from None
            self._size += len(out)
            if self._size > self._limit:
                raise HTTPProblem(
                    413,
                    "body_too_large",
                    f"body larger than {self._limit} bytes once decompressed (limits.max_body_bytes)",
                )
            self._chunks.append(out)
            data = self._inflater.unconsumed_tail or (self._inflater.unused_data if self._inflater.eof else b"")

    def finish(self) -> bytes:
        if not self._inflater.eof:
            raise HTTPProblem(400, "bad_body", "Content-Encoding is gzip but the body ends before the gzip stream")
        return b"".join(self._chunks)


def check_model_name(model: str) -> None:
    if not MODEL_NAME.fullmatch(model):
        raise HTTPProblem(400, "bad_model", f"model name {model!r:.80} must be 1-63 letters, digits or _.:-")


def http_status(exc: DriftwardenError) -> int:
    """The one place a domain error becomes an HTTP status."""
    if isinstance(exc, UnsupportedMediaType):
        return 415
    if isinstance(exc, BodyTooLarge):
        return 413
    if isinstance(exc, LimitExceeded):
        return 409
    if isinstance(exc, Overloaded):
        return 429
    if isinstance(exc, StorageError):
        return 503
    return 400


def reason_for(exc: DriftwardenError) -> str:
    """The reason label of a refused body: the error's own code, or the status's generic one."""
    if type(exc).code != exc.code:  # a code given where it was raised says more than the class
        return exc.code
    status = http_status(exc)
    return {400: "bad_body", 413: "body_too_large", 415: "unsupported_media_type"}.get(status, exc.code)


def problem(exc: DriftwardenError) -> HTTPProblem:
    """A domain error as the problem answer the handler writes."""
    headers = {"Retry-After": "1"} if isinstance(exc, Overloaded) else None
    return HTTPProblem(http_status(exc), reason_for(exc), exc.reason, headers)
