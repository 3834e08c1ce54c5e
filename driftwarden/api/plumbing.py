"""What every route shares: problem answers, bounded body reading, bearer auth."""

from __future__ import annotations

import hmac
import logging
from collections.abc import Awaitable, Callable

from fastapi import Request
from fastapi.responses import JSONResponse

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
    "HTTPProblem",
    "bearer_auth",
    "body_reader",
    "check_model_name",
    "http_status",
    "problem",
    "problem_handler",
    "reason_for",
    "rejection_log",
    "route_of",
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


def bearer_auth(token: str | None) -> Callable[[Request], Awaitable[None]]:
    """A dependency for ingest and other writes; async, since a sync dependency costs a thread hop."""

    async def require_token(request: Request) -> None:
        if token is None:
            return
        scheme, _, value = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(value.strip().encode(), token.encode()):
            raise HTTPProblem(
                401, "unauthorized", "missing or wrong bearer token", {"WWW-Authenticate": 'Bearer realm="driftwarden"'}
            )

    return require_token


def body_reader(limit: int) -> Callable[[Request], Awaitable[bytes]]:
    """Reads a body, refusing it (413) as soon as it passes `limit` bytes: never buffers more."""

    async def read_body(request: Request) -> bytes:
        declared = request.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > limit:
            raise HTTPProblem(
                413,
                "body_too_large",
                f"body of {declared} bytes; the limit is {limit} (limits.max_body_bytes): send smaller batches",
            )
        chunks, size = [], 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise HTTPProblem(413, "body_too_large", f"body larger than {limit} bytes (limits.max_body_bytes)")
            chunks.append(chunk)
        return b"".join(chunks)

    return read_body


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
