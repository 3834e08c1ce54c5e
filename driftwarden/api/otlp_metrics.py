"""OTLP metrics in (`POST /v1/metrics`).

Every error an OTLP exporter can get here is a `google.rpc.Status` in the request's encoding, with
`Retry-After` on the retryable 429 and 503 (api/otlp_answers.py).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from driftwarden.api.otlp_answers import otlp_answer, request_media
from driftwarden.api.plumbing import HTTPProblem, http_status, reason_for
from driftwarden.api.schemas.common import CONTENT_ENCODING
from driftwarden.api.schemas.otlp_metrics import METRICS_ANSWERS, METRICS_BODY
from driftwarden.collector.otlp_metrics import MetricsDecoder, encode_response
from driftwarden.config import Config
from driftwarden.core.errors import DriftwardenError
from driftwarden.core.ratelog import RateLimitedLog
from driftwarden.daemon.daemon import Daemon
from driftwarden.params import trace_params

__all__ = ["otlp_metrics_router"]


def otlp_metrics_router(
    config: Config,
    daemon: Daemon,
    auth: Callable[[Request], Awaitable[None]],
    read_body: Callable[[Request], Awaitable[bytes]],
    rejections: RateLimitedLog,
) -> APIRouter:
    router = APIRouter(dependencies=[Depends(auth)])  # its 401: a google.rpc.Status (otlp_problem_handler)
    ingest, instruments = daemon.ingest, daemon.instruments
    decoder = MetricsDecoder(trace_params(config.traces), max_streams=config.limits.max_series_per_metric)
    answer = otlp_answer(instruments, rejections)

    @router.post(
        "/v1/metrics",
        openapi_extra={"requestBody": METRICS_BODY, "parameters": [CONTENT_ENCODING]},
        responses=METRICS_ANSWERS,
    )
    async def post_metrics(request: Request) -> Response:
        ctype = request.headers.get("content-type")
        media = request_media(request)
        try:
            body = await read_body(request)
        except HTTPProblem as exc:  # too large or too slow, a bad gzip: OTLP clients read a google.rpc.Status
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
