"""GET /v1/audit: the audit trail, filtered and paged. It needs a bearer token whenever one is
configured, whether or not reads are open (`auth.protect_reads`); with no token configured at all,
it answers loopback clients only (403 for others)."""

from __future__ import annotations

import asyncio
import math
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse

from driftwarden.api.identity import is_loopback
from driftwarden.api.plumbing import HTTPProblem, bearer_auth
from driftwarden.api.schemas.audit import AUDIT_ANSWERS, AUDIT_PARAMETERS
from driftwarden.core.suggestions import did_you_mean, hint
from driftwarden.persistence.audit import MAX_LIMIT, AuditQuery, AuditStore

__all__ = ["audit_access", "audit_router"]

_PARAMETERS = ("action", "subject", "caller", "since", "until", "cursor", "limit")


def audit_access(tokens: Mapping[str, str]) -> Callable[[Request], Awaitable[None]]:
    """Any configured token; with none configured, a loopback client."""
    require_token = bearer_auth(tokens)

    async def allow(request: Request) -> None:
        if tokens:
            await require_token(request)
        elif not is_loopback(request.client.host if request.client else None):
            raise HTTPProblem(
                403,
                "audit_needs_a_token",
                "the audit trail is read from loopback addresses only while no bearer token is configured: "
                "set auth_token_file or auth.tokens",
            )

    return allow


def audit_router(audit: AuditStore, access: Callable[[Request], Awaitable[None]]) -> APIRouter:
    router = APIRouter()

    @router.get(
        "/v1/audit",
        dependencies=[Depends(access)],
        openapi_extra={"parameters": AUDIT_PARAMETERS},
        responses=AUDIT_ANSWERS,
    )
    async def get_audit(request: Request) -> JSONResponse:
        """State-changing actions, newest first: who did what to which subject, and when."""
        query = _query(request.query_params)
        entries, cursor = await asyncio.to_thread(audit.entries, query)
        body = {"entries": [e.to_dict() for e in entries], "next_cursor": None if cursor is None else str(cursor)}
        return JSONResponse(body)

    return router


def _query(params: Mapping[str, str]) -> AuditQuery:
    for name in params:
        if name not in _PARAMETERS:
            close = did_you_mean(name, _PARAMETERS)
            raise HTTPProblem(
                400, "bad_query", f"unknown query parameter {name!r:.40}{hint(close)} (known: {', '.join(_PARAMETERS)})"
            )
    return AuditQuery(
        action=params.get("action"),
        subject=params.get("subject"),
        caller=params.get("caller"),
        since=_time(params, "since"),
        until=_time(params, "until"),
        cursor=_integer(params, "cursor", 1, 2**63 - 1),
        limit=_integer(params, "limit", 1, MAX_LIMIT) or 100,
    )


def _time(params: Mapping[str, str], name: str) -> float | None:
    text = params.get(name)
    if text is None:
        return None
    try:
        value = float(text)
    except ValueError:
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            moment = None
        if moment is None or moment.tzinfo is None:
            raise HTTPProblem(
                400, "bad_query", f"{name}={text!r:.40}: give unix seconds or an RFC 3339 time with its offset"
            ) from None
        value = moment.timestamp()
    if not math.isfinite(value):
        raise HTTPProblem(400, "bad_query", f"{name}={text!r:.40}: give a finite time")
    return value


def _integer(params: Mapping[str, str], name: str, least: int, most: int) -> int | None:
    text = params.get(name)
    if text is None:
        return None
    if not (text.isascii() and text.isdigit() and len(text) <= 19) or not least <= int(text) <= most:
        raise HTTPProblem(400, "bad_query", f"{name}={text!r:.40}: give a whole number from {least} to {most}")
    return int(text)
