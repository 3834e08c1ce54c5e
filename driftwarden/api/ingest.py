"""Ways in: prediction records and reference uploads (OTLP/HTTP is `driftwarden.api.otlp`)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse

from driftwarden.api.identity import caller_of
from driftwarden.api.plumbing import HTTPProblem, check_model_name, problem
from driftwarden.api.schemas.common import CONTENT_ENCODING
from driftwarden.api.schemas.ingest import (
    PIN_ANSWERS,
    PREDICTIONS_ANSWERS,
    PREDICTIONS_BODY,
    REFERENCE_ANSWERS,
    REFERENCE_BODY,
)
from driftwarden.collector.arrow_records import ARROW_STREAM, FIELDS, parse_arrow
from driftwarden.collector.predictions import parse_records
from driftwarden.collector.tables import TableError, format_from_content_type
from driftwarden.config import Config
from driftwarden.core.errors import DriftwardenError, LimitExceeded, StorageError
from driftwarden.core.ratelog import RateLimitedLog
from driftwarden.daemon.daemon import Daemon, UnknownModel
from driftwarden.daemon.references import fit_reference
from driftwarden.persistence.audit import Audited

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
    ingest = daemon.ingest

    @router.post(
        "/v1/predictions",
        openapi_extra={"requestBody": PREDICTIONS_BODY, "parameters": [CONTENT_ENCODING]},
        responses=PREDICTIONS_ANSWERS,
    )
    async def post_predictions(request: Request) -> JSONResponse:
        body = await read_body(request)
        content_type = request.headers.get("content-type")
        limits = config.limits
        try:  # on the loop: parsing holds the GIL anyway, and a thread hop per request costs throughput
            if (content_type or "").split(";")[0].strip().lower() == ARROW_STREAM:
                result = parse_arrow(
                    body, max_records=limits.max_records_per_request, max_columns=limits.max_features + len(FIELDS)
                )
            else:
                result = parse_records(body, content_type, max_records=limits.max_records_per_request)
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
            audited = Audited("reference.upload", caller_of(request))
            fitted = await daemon.set_reference(model, profile, source=f"http:{fmt}", audited=audited)
        except DriftwardenError as exc:
            raise problem(exc) from None
        log.info("reference for %s fitted: %d rows, %d numeric features", model, profile.rows, len(profile.features))
        return JSONResponse({"model": model, **profile.summary(), **fitted.summary()})

    @router.post("/v1/models/{model}/reference/pin", responses=PIN_ANSWERS)
    async def pin_reference(model: str, request: Request) -> JSONResponse:
        """The model's current window becomes its reference, stored like an uploaded one."""
        check_model_name(model)
        try:
            profile = await daemon.pin_reference(model, caller=caller_of(request))
        except UnknownModel:
            raise HTTPProblem(404, "unknown_model", f"no model {model!r}: send it predictions first") from None
        except StorageError as exc:  # not stored, so not in effect either: the window is not the problem
            raise problem(exc) from None
        except DriftwardenError as exc:  # an empty window: nothing to pin yet
            raise HTTPProblem(409, exc.code, exc.reason) from None
        log.info("reference for %s pinned from its current window: %d rows", model, profile.rows)
        return JSONResponse({"model": model, "source": "pinned window", **profile.summary()})

    return router
