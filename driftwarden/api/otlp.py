"""OTLP/HTTP ways in: trace and log export requests.

Every signal answers the same way (`export`): the body read by the shared reader (gzip, limits),
an export response in the request's encoding (`partial_success` for what was rejected), and for a
refusal a google.rpc.Status in that encoding with the refusal's status, `Retry-After` on 429 —
what OTLP exporters read and retry by (api/otlp_answers.py).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from prometheus_client import CollectorRegistry, Counter

from driftwarden.api.otlp_answers import otlp_answer, request_media
from driftwarden.api.plumbing import HTTPProblem, http_status, reason_for
from driftwarden.api.schemas.common import CONTENT_ENCODING
from driftwarden.api.schemas.otlp import LOGS_ANSWERS, LOGS_BODY, TRACES_ANSWERS, TRACES_BODY
from driftwarden.collector import otlp, otlp_logs
from driftwarden.config import Config
from driftwarden.core import metric_names as m
from driftwarden.core.errors import DriftwardenError
from driftwarden.core.ratelog import RateLimitedLog
from driftwarden.daemon.daemon import Daemon
from driftwarden.params import log_params, trace_params

__all__ = ["LOGS_SOURCE", "otlp_router"]

LOGS_SOURCE = "otlp_logs"  # the source label of records that came as log records

Handler = Callable[[bytes, str | None], tuple[bytes, str]]  # (body, Content-Type) -> (answer, its media type)


def otlp_router(
    config: Config,
    daemon: Daemon,
    auth: Callable[[Request], Awaitable[None]],
    read_body: Callable[[Request], Awaitable[bytes]],
    rejections: RateLimitedLog,
    registry: CollectorRegistry,
) -> APIRouter:
    router = APIRouter(dependencies=[Depends(auth)])  # its 401: a google.rpc.Status (otlp_problem_handler)
    traces, logs = trace_params(config.traces), log_params(config.logs)
    ingest, instruments = daemon.ingest, daemon.instruments
    problem = otlp_answer(instruments, rejections)
    ignored_logs = Counter(
        m.OTLP_LOGS_IGNORED,
        "OTLP log records acknowledged that were not prediction records, by why.",
        ["reason"],
        registry=registry,
    )
    for reason in otlp_logs.IGNORED_REASONS:
        ignored_logs.labels(reason)  # every reason exported from the start, at 0

    async def export(request: Request, handle: Handler) -> Response:
        media = request_media(request)
        try:
            body = await read_body(request)
        except HTTPProblem as exc:  # too large or too slow, an unsupported or damaged Content-Encoding
            return problem(request, exc.status, exc.reason, exc.message, media, exc.headers)
        try:  # on the loop, as /v1/predictions: parsing holds the GIL anyway
            answer, media = handle(body, request.headers.get("content-type"))
        except DriftwardenError as exc:  # the queue full (429), never enough (413), the memory budget (409)
            return problem(request, http_status(exc), reason_for(exc), exc.reason, media)
        return Response(answer, media_type=media)

    def export_traces(body: bytes, content_type: str | None) -> tuple[bytes, str]:
        batch, media = otlp.decode_request(body, content_type, traces)
        ingest.admit_spans(batch)
        instruments.spans.labels("observed").inc(len(batch))
        instruments.spans.labels("skipped").inc(batch.skipped)
        instruments.spans.labels("rejected").inc(batch.rejected)
        for reason, count in batch.reasons.items():
            instruments.records_rejected.labels("otlp", reason).inc(count)
        return otlp.encode_response(batch, media), media

    def export_logs(body: bytes, content_type: str | None) -> tuple[bytes, str]:
        exported, media = otlp_logs.decode_request(
            body, content_type, logs, max_records=config.limits.max_records_per_request
        )
        result = exported.result
        ingest.admit(result, source=LOGS_SOURCE)  # counts every rejected record; may refuse the export whole
        for reason, count in exported.ignored.items():
            ignored_logs.labels(reason).inc(count)
        for reason, count in result.rejected_by_reason.items():
            example = next((e.message for e in result.errors if e.reason == reason), "")
            message = f"rejected log records from /v1/logs ({reason}), e.g. {example}"
            rejections.note(f"otlp_logs:{reason}", message, count)
        return otlp_logs.encode_response(result, media), media

    @router.post(
        "/v1/traces",
        openapi_extra={"requestBody": TRACES_BODY, "parameters": [CONTENT_ENCODING]},
        responses=TRACES_ANSWERS,
    )
    async def post_traces(request: Request) -> Response:
        return await export(request, export_traces)

    @router.post(
        "/v1/logs",
        openapi_extra={"requestBody": LOGS_BODY, "parameters": [CONTENT_ENCODING]},
        responses=LOGS_ANSWERS,
    )
    async def post_logs(request: Request) -> Response:
        return await export(request, export_logs)

    return router
