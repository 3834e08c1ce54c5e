"""OTLP metrics in (`POST /v1/metrics`), and OTLP's answers on the OTLP paths no route serves.

Every error an OTLP exporter can get here is a `google.rpc.Status` in the request's encoding (the
401 of a missing token too, which a dependency would answer as a JSON problem), with `Retry-After`
on the retryable 429 and 503.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi import APIRouter, Request
from fastapi.responses import Response

from driftwarden.api.plumbing import HTTPProblem, http_status, reason_for, route_of
from driftwarden.api.schemas.common import CONTENT_ENCODING
from driftwarden.api.schemas.otlp_metrics import METRICS_ANSWERS, METRICS_BODY
from driftwarden.collector import otlp
from driftwarden.collector.otlp_metrics import MetricsDecoder, encode_response
from driftwarden.config import Config
from driftwarden.core.errors import DriftwardenError
from driftwarden.core.ratelog import RateLimitedLog
from driftwarden.daemon.daemon import Daemon
from driftwarden.params import trace_params

__all__ = ["OTLP_SIGNAL_PATHS", "otlp_metrics_router", "otlp_paths_router", "otlp_problem_handler"]

OTLP_SIGNAL_PATHS = ("/v1/traces", "/v1/metrics", "/v1/logs")
_UNSERVED_SIGNALS = ("/v1development/profiles",)  # the profiles signal's path while it is in development
_NOT_POST = ["GET", "PUT", "PATCH", "DELETE", "OPTIONS"]
_UNIMPLEMENTED = 12  # google.rpc.Code
_RETRYABLE = (429, 503)
# google.rpc.Code per HTTP status (else the caller's: INVALID_ARGUMENT, or UNIMPLEMENTED for a path)
_RPC_CODES = {401: 16, 408: 4, 409: 9, 429: 8, 503: 14}


def otlp_metrics_router(
    config: Config,
    daemon: Daemon,
    auth: Callable[[Request], Awaitable[None]],
    read_body: Callable[[Request], Awaitable[bytes]],
    rejections: RateLimitedLog,
) -> APIRouter:
    router = APIRouter()
    ingest, instruments = daemon.ingest, daemon.instruments
    decoder = MetricsDecoder(trace_params(config.traces), max_streams=config.limits.max_series_per_metric)
    answer = otlp_answer(daemon, rejections)

    @router.post(
        "/v1/metrics",
        openapi_extra={"requestBody": METRICS_BODY, "parameters": [CONTENT_ENCODING]},
        responses=METRICS_ANSWERS,
    )
    async def post_metrics(request: Request) -> Response:
        ctype = request.headers.get("content-type")
        media = otlp.PROTOBUF if (ctype or "").startswith(otlp.PROTOBUF) else otlp.JSON
        try:
            await auth(request)
            body = await read_body(request)
        except HTTPProblem as exc:  # 401, too large, a bad gzip: OTLP clients read a google.rpc.Status
            return answer(request, exc.status, exc.reason, exc.message, media, exc.headers)
        evicted = decoder.deltas.evicted
        try:  # decode, admit and commit with no await between: no other request sees a half-applied state
            batch, media = decoder.decode(body, ctype)  # read_body has decoded any gzip
            if len(batch):
                ingest.admit_points(batch)
        except DriftwardenError as exc:  # OTLP exporters retry a 429 (queue full) with Retry-After
            decoder.discard()
            return answer(request, http_status(exc), reason_for(exc), exc.reason, media)
        decoder.commit()
        if decoder.deltas.evicted > evicted:
            instruments.otlp_state_evicted.labels("streams").inc(decoder.deltas.evicted - evicted)
        for reason, count in batch.ignored.items():
            if count:
                instruments.otlp_points_ignored.labels(reason).inc(count)
                instruments.otlp_points.labels("ignored").inc(count)
        if batch.rejected:
            instruments.otlp_points.labels("rejected").inc(batch.rejected)
            for reason, count in batch.reasons.items():
                instruments.records_rejected.labels("otlp_metrics", reason).inc(count)
            rejections.note("otlp_metrics", f"rejected OTLP data points: {batch.first_error}", batch.rejected)
        return Response(encode_response(batch, media), media_type=media)

    return router


def otlp_paths_router(daemon: Daemon, rejections: RateLimitedLog) -> APIRouter:
    """The OTLP paths' other methods (405, Allow: POST), and the signals not served (404): answered
    as a google.rpc.Status, as an OTLP exporter reads every error. Included after the routers that
    serve POST on these paths, so that they match first."""
    router = APIRouter(include_in_schema=False)
    answer = otlp_answer(daemon, rejections)

    async def method_not_allowed(request: Request) -> Response:
        message = f"{request.method} {request.url.path}: OTLP/HTTP exports are POSTed"
        return answer(request, 405, "method_not_allowed", message, _media(request), {"Allow": "POST"}, _UNIMPLEMENTED)

    async def not_served(request: Request) -> Response:
        message = f"{request.url.path}: driftwarden takes OTLP traces, metrics and logs, not this signal"
        return answer(request, 404, "not_found", message, _media(request), code=_UNIMPLEMENTED)

    for path in OTLP_SIGNAL_PATHS:
        router.add_api_route(path, method_not_allowed, methods=_NOT_POST)
    for path in _UNSERVED_SIGNALS:
        router.add_api_route(path, not_served, methods=["POST", *_NOT_POST])
    return router


def otlp_problem_handler(
    daemon: Daemon,
    rejections: RateLimitedLog,
    problems: Callable[[Request, HTTPProblem], Awaitable[Response]],
) -> Callable[[Request, HTTPProblem], Awaitable[Response]]:
    """The app's HTTPProblem handler: a refusal of an OTLP export raised before its route ran (the 401 of
    a missing or wrong token, the route's or `auth.protect_reads`') as a google.rpc.Status in the
    request's encoding; every other refusal as `problems` answers it."""
    answer = otlp_answer(daemon, rejections)

    async def handle(request: Request, exc: HTTPProblem) -> Response:
        if request.method == "POST" and route_of(request) in OTLP_SIGNAL_PATHS:
            return answer(request, exc.status, exc.reason, exc.message, _media(request), exc.headers)
        return await problems(request, exc)

    return handle


def otlp_answer(daemon: Daemon, rejections: RateLimitedLog) -> Callable[..., Response]:
    """Builds OTLP error answers: a google.rpc.Status in `media`, counted like every refused request."""
    instruments = daemon.instruments

    def answer(
        request: Request,
        status: int,
        reason: str,
        message: str,
        media: str,
        headers: dict[str, str] | None = None,
        code: int = 3,
    ) -> Response:
        instruments.requests_rejected.labels(route_of(request), reason).inc()
        rejections.note(f"otlp:{reason}", f"refused an OTLP request ({status} {reason}): {message}")
        headers = dict(headers or {})
        if status in _RETRYABLE:
            headers.setdefault("Retry-After", "1")
        body = otlp.encode_error(message, media, code=_RPC_CODES.get(status, code))
        return Response(body, status_code=status, media_type=media, headers=headers)

    return answer


def _media(request: Request) -> str:
    ctype = request.headers.get("content-type") or ""
    return otlp.PROTOBUF if ctype.startswith(otlp.PROTOBUF) else otlp.JSON
