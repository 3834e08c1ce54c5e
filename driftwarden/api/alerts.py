"""Alerts and silences."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from driftwarden.alerts.notifier import Notifier
from driftwarden.api.identity import caller_of
from driftwarden.api.plumbing import HTTPProblem, problem
from driftwarden.api.schemas.alerts import ALERTS, DELETE_SILENCE_ANSWERS, SILENCE_ANSWERS, SILENCE_BODY, SILENCES
from driftwarden.api.schemas.common import CONTENT_ENCODING, ok
from driftwarden.config import Duration
from driftwarden.core.errors import StorageError

__all__ = ["SilenceRequest", "alerts_router"]


class SilenceRequest(BaseModel):
    """`{"matchers": {"kind": "drift", "model": "fraud"}, "duration": "2h", "comment": "..."}`"""

    model_config = ConfigDict(extra="forbid")
    matchers: dict[str, str] = Field(min_length=1)
    duration: Duration | None = None
    ends_at: float | None = None
    comment: str = ""
    created_by: str = ""

    @model_validator(mode="after")
    def _one_end(self) -> SilenceRequest:
        if (self.duration is None) == (self.ends_at is None):
            raise ValueError('give exactly one of duration (e.g. "2h") or ends_at (unix seconds)')
        return self


def alerts_router(
    notifier: Notifier, auth: Callable[[Request], Awaitable[None]], read_body: Callable[[Request], Awaitable[bytes]]
) -> APIRouter:
    router = APIRouter()

    @router.get("/v1/alerts", responses=ok("pending and firing alerts", ALERTS))
    async def get_alerts() -> JSONResponse:
        return JSONResponse({"alerts": [a.to_dict() for a in notifier.alerts()]})

    @router.get("/v1/silences", responses=ok("silences", SILENCES))
    async def get_silences() -> JSONResponse:
        return JSONResponse({"silences": [s.to_dict() for s in notifier.silences.all()]})

    @router.post(
        "/v1/silences",
        dependencies=[Depends(auth)],
        openapi_extra={"requestBody": SILENCE_BODY, "parameters": [CONTENT_ENCODING]},
        responses=SILENCE_ANSWERS,
    )
    async def post_silence(request: Request) -> JSONResponse:
        try:
            spec = SilenceRequest.model_validate_json(await read_body(request))
        except ValidationError as exc:
            message = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'body'}: {e['msg']}" for e in exc.errors())
            raise HTTPProblem(400, "bad_silence", message) from None
        ends_at = spec.ends_at if spec.ends_at is not None else time.time() + (spec.duration or 0.0)
        try:
            silence = notifier.add_silence(
                spec.matchers, ends_at, comment=spec.comment, created_by=spec.created_by, caller=caller_of(request)
            )
        except StorageError as exc:  # not stored, so not in effect either
            raise problem(exc) from None
        except ValueError as exc:
            raise HTTPProblem(400, "bad_silence", str(exc)) from None
        return JSONResponse(silence.to_dict())

    @router.delete("/v1/silences/{silence_id}", dependencies=[Depends(auth)], responses=DELETE_SILENCE_ANSWERS)
    async def delete_silence(silence_id: str, request: Request) -> JSONResponse:
        try:
            expired = notifier.expire_silence(silence_id, caller=caller_of(request))
        except StorageError as exc:
            raise problem(exc) from None
        if not expired:
            raise HTTPProblem(404, "unknown_silence", f"no silence with id {silence_id!r}; GET /v1/silences")
        return JSONResponse({"expired": silence_id})

    return router
