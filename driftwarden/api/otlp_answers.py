"""OTLP/HTTP's error answers, one way for every signal: a `google.rpc.Status` in the request's encoding,
with `Retry-After` on the retryable 429 and 503, counted and logged like every refused request — what
an OTLP exporter reads and retries by, never a JSON problem.

- `otlp_answer`: the answer the OTLP routes build for a refusal (a body they cannot read, a domain error);
- `otlp_problem_handler`: the app's HTTPProblem handler, so a refusal raised before an export's route ran
  (the 401 of a missing or wrong token, the route's or `auth.protect_reads`') is one too;
- `otlp_paths_router`: the OTLP paths' other methods (405) and the signals not served (404).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Protocol

from fastapi import APIRouter, Request
from fastapi.responses import Response

from driftwarden.api.plumbing import HTTPProblem, route_of
from driftwarden.collector.otlp_wire import answer_media, encode_error
from driftwarden.core.ratelog import RateLimitedLog
from driftwarden.exporters.prometheus import Instruments

__all__ = [
    "OTLP_SIGNAL_PATHS",
    "OtlpAnswer",
    "otlp_answer",
    "otlp_paths_router",
    "otlp_problem_handler",
    "request_media",
]

OTLP_SIGNAL_PATHS = ("/v1/traces", "/v1/metrics", "/v1/logs")
_UNSERVED_SIGNALS = ("/v1development/profiles",)  # the profiles signal's path while it is in development
_NOT_POST = ["GET", "PUT", "PATCH", "DELETE", "OPTIONS"]
_INVALID_ARGUMENT, _UNIMPLEMENTED = 3, 12  # google.rpc.Code
_RETRYABLE = (429, 503)
# google.rpc.Code per HTTP status (else the caller's: INVALID_ARGUMENT, or UNIMPLEMENTED for a path)
_RPC_CODES = {401: 16, 408: 4, 409: 9, 429: 8, 503: 14}


class OtlpAnswer(Protocol):
    def __call__(
        self,
        request: Request,
        status: int,
        reason: str,
        message: str,
        media: str,
        headers: dict[str, str] | None = None,
        code: int = _INVALID_ARGUMENT,
    ) -> Response: ...


def request_media(request: Request) -> str:
    """The encoding to answer in: protobuf when the request was sent so, else JSON."""
    return answer_media(request.headers.get("content-type"))


def otlp_answer(instruments: Instruments, rejections: RateLimitedLog) -> OtlpAnswer:
    """Builds OTLP error answers: a google.rpc.Status in `media`, counted like every refused request."""

    def answer(
        request: Request,
        status: int,
        reason: str,
        message: str,
        media: str,
        headers: dict[str, str] | None = None,
        code: int = _INVALID_ARGUMENT,
    ) -> Response:
        instruments.requests_rejected.labels(route_of(request), reason).inc()
        rejections.note(f"otlp:{reason}", f"refused an OTLP request ({status} {reason}): {message}")
        headers = dict(headers or {})
        if status in _RETRYABLE:
            headers.setdefault("Retry-After", "1")
        body = encode_error(message, media, code=_RPC_CODES.get(status, code))
        return Response(body, status_code=status, media_type=media, headers=headers)

    return answer


def otlp_problem_handler(
    instruments: Instruments,
    rejections: RateLimitedLog,
    problems: Callable[[Request, HTTPProblem], Awaitable[Response]],
) -> Callable[[Request, HTTPProblem], Awaitable[Response]]:
    """The app's HTTPProblem handler: a refusal of an OTLP export as a google.rpc.Status in the
    request's encoding; every other refusal as `problems` answers it."""
    answer = otlp_answer(instruments, rejections)

    async def handle(request: Request, exc: HTTPProblem) -> Response:
        if request.method == "POST" and route_of(request) in OTLP_SIGNAL_PATHS:
            return answer(request, exc.status, exc.reason, exc.message, request_media(request), exc.headers)
        return await problems(request, exc)

    return handle


def otlp_paths_router(instruments: Instruments, rejections: RateLimitedLog) -> APIRouter:
    """The OTLP paths' other methods (405, Allow: POST), and the signals not served (404), each a
    google.rpc.Status (UNIMPLEMENTED). Included after the routers that serve POST on these paths, so
    that they match first."""
    router = APIRouter(include_in_schema=False)
    answer = otlp_answer(instruments, rejections)

    async def method_not_allowed(request: Request) -> Response:
        message = f"{request.method} {request.url.path}: OTLP/HTTP exports are POSTed"
        media = request_media(request)
        return answer(request, 405, "method_not_allowed", message, media, {"Allow": "POST"}, _UNIMPLEMENTED)

    async def not_served(request: Request) -> Response:
        message = f"{request.url.path}: driftwarden takes OTLP traces, metrics and logs, not this signal"
        return answer(request, 404, "not_found", message, request_media(request), code=_UNIMPLEMENTED)

    for path in OTLP_SIGNAL_PATHS:
        router.add_api_route(path, method_not_allowed, methods=_NOT_POST)
    for path in _UNSERVED_SIGNALS:
        router.add_api_route(path, not_served, methods=["POST", *_NOT_POST])
    return router
