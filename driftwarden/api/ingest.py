"""Ways in: prediction records, OTLP traces, reference uploads."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response

from driftwarden.api.plumbing import HTTPProblem, check_model_name, http_status, problem, reason_for, route_of
from driftwarden.api.schemas.common import CONTENT_ENCODING
from driftwarden.api.schemas.ingest import (
    PIN_ANSWERS,
    PREDICTIONS_ANSWERS,
    PREDICTIONS_BODY,
    REFERENCE_ANSWERS,
    REFERENCE_BODY,
    TRACES_ANSWERS,
    TRACES_BODY,
)
from driftwarden.collector import otlp
from driftwarden.collector.predictions import parse_records
from driftwarden.collector.tables import TableError, format_from_content_type
from driftwarden.config import Config
from driftwarden.core.errors import DriftwardenError, LimitExceeded
from driftwarden.core.ratelog import RateLimitedLog
from driftwarden.daemon.daemon import Daemon, UnknownModel
from driftwarden.daemon.references import fit_reference
from driftwarden.params import trace_params

__all__ = ["ingest_router"]

log = logging.getLogger("driftwarden.api")


def ingest_router(
    config: Config,
    daemon: Daemon,
    auth: Callable[[Request], Awaitable[None]],
    read_body: Callable[[Request], Awaitable[bytes]],
    rejections: RateLimitedLog,
) -> APIRouter:
    router = APIRouter(dependencies=[Depends(auth)])
    traces = trace_params(config.traces)
    ingest, instruments = daemon.ingest, daemon.instruments

    @router.post(
        "/v1/predictions",
        openapi_extra={"requestBody": PREDICTIONS_BODY, "parameters": [CONTENT_ENCODING]},
        responses=PREDICTIONS_ANSWERS,
    )
    async def post_predictions(request: Request) -> JSONResponse:
        body = await read_body(request)
        try:  # on the loop: parsing holds the GIL anyway, and a thread hop per request costs throughput
            result = parse_records(
                body, request.headers.get("content-type"), max_records=config.limits.max_records_per_request
            )
        except DriftwardenError as exc:
            raise problem(exc) from None
        try:
            ingest.admit(result, source="http")  # counts every rejected record
        except DriftwardenError as exc:  # the queue full (429) or never enough (413), the memory budget (409)
            raise problem(exc) from None
        for reason, count in result.rejected_by_reason.items():
            example = next((e.message for e in result.errors if e.reason == reason), "")
            rejections.note(
                f"http:{reason}", f"rejected records from /v1/predictions ({reason}), e.g. {example}", count
            )
        status = 400 if result.accepted == 0 and result.rejected else 200
        return JSONResponse(result.to_dict(), status_code=status)

    @router.post(
        "/v1/traces",
        openapi_extra={"requestBody": TRACES_BODY, "parameters": [CONTENT_ENCODING]},
        responses=TRACES_ANSWERS,
    )
    async def post_traces(request: Request) -> Response:
        ctype = request.headers.get("content-type")
        media = otlp.PROTOBUF if (ctype or "").startswith(otlp.PROTOBUF) else otlp.JSON
        try:
            body = await read_body(request)
        except HTTPProblem as exc:  # too large: OTLP clients read a google.rpc.Status, as for every error
            return otlp_problem(request, exc.status, exc.reason, exc.message, media)
        try:
            batch, media = otlp.decode_request(body, ctype, traces)  # read_body has decoded any gzip
            ingest.admit_spans(batch)
        except DriftwardenError as exc:  # OTLP exporters retry a 429 (queue full) with Retry-After
            return otlp_problem(request, http_status(exc), reason_for(exc), exc.reason, media)
        instruments.spans.labels("observed").inc(len(batch))
        instruments.spans.labels("skipped").inc(batch.skipped)
        instruments.spans.labels("rejected").inc(batch.rejected)
        for reason, count in batch.reasons.items():
            instruments.records_rejected.labels("otlp", reason).inc(count)
        return Response(otlp.encode_response(batch, media), media_type=media)

    def otlp_problem(request: Request, status: int, reason: str, message: str, media: str) -> Response:
        """OTLP/HTTP answers errors with a google.rpc.Status in the request's encoding."""
        instruments.requests_rejected.labels(route_of(request), reason).inc()
        rejections.note(f"otlp:{reason}", f"refused an OTLP export ({status} {reason}): {message}")
        headers = {"Retry-After": "1"} if status in (429, 503) else {}
        return Response(otlp.encode_error(message, media), status_code=status, media_type=media, headers=headers)

    @router.put(
        "/v1/models/{model}/reference",
        openapi_extra={"requestBody": REFERENCE_BODY, "parameters": [CONTENT_ENCODING]},
        responses=REFERENCE_ANSWERS,
    )
    async def put_reference(model: str, request: Request) -> JSONResponse:
        check_model_name(model)
        try:
            ingest.check_reference(model)  # before the body is read
        except DriftwardenError as exc:
            raise problem(exc) from None
        body = await read_body(request)
        try:
            fmt = format_from_content_type(request.headers.get("content-type"), body)
        except TableError as exc:
            raise HTTPProblem(415, "unsupported_media_type", str(exc)) from None
        try:  # limits are checked from the body's header or Parquet footer before its rows are read
            profile = await asyncio.to_thread(fit_reference, body, fmt, config, model)
        except LimitExceeded as exc:  # 413 too many rows or decoded bytes, 409 too many features
            raise problem(exc) from None
        except (TableError, ValueError) as exc:
            code = exc.code if isinstance(exc, DriftwardenError) and exc.code != type(exc).code else "bad_reference"
            raise HTTPProblem(400, code, str(exc)) from None
        try:
            await daemon.set_reference(model, profile, source=f"http:{fmt}")
        except DriftwardenError as exc:
            raise problem(exc) from None
        log.info("reference for %s fitted: %d rows, %d numeric features", model, profile.rows, len(profile.features))
        return JSONResponse({"model": model, **profile.summary()})

    @router.post("/v1/models/{model}/reference/pin", responses=PIN_ANSWERS)
    async def pin_reference(model: str) -> JSONResponse:
        """The model's current window becomes its reference, stored like an uploaded one."""
        check_model_name(model)
        try:
            profile = await daemon.pin_reference(model)
        except UnknownModel:
            raise HTTPProblem(404, "unknown_model", f"no model {model!r}: send it predictions first") from None
        except DriftwardenError as exc:  # an empty window: nothing to pin yet
            raise HTTPProblem(409, exc.code, exc.reason) from None
        log.info("reference for %s pinned from its current window: %d rows", model, profile.rows)
        return JSONResponse({"model": model, "source": "pinned window", **profile.summary()})

    return router
