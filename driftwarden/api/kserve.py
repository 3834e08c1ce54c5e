"""KServe / Seldon payload-logger events: `POST /v1/kserve` and `POST /v1/kserve/{model}`.

Each POST is one CloudEvent (the request or the response half of an inference call); the answer
counts the records of the pair it completed and the halves still waiting:
`{"accepted": 2, "rejected": 0, "errors": [], "pending": 0}`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse

from driftwarden.api.plumbing import check_model_name, problem
from driftwarden.api.schemas.common import CONTENT_ENCODING
from driftwarden.api.schemas.kserve import CE_HEADERS, KSERVE_ANSWERS, KSERVE_BODY
from driftwarden.collector.kserve import parse_events
from driftwarden.collector.kserve_join import EventJoiner
from driftwarden.config import Config
from driftwarden.core.errors import DriftwardenError
from driftwarden.daemon.ingest import IngestService

__all__ = ["kserve_router"]

SOURCE = "kserve"


def kserve_router(
    config: Config,
    ingest: IngestService,
    auth: Callable[[Request], Awaitable[None]],
    read_body: Callable[[Request], Awaitable[bytes]],
    joiner: EventJoiner,
    *,
    feature_names: Mapping[str, Sequence[str]] | None = None,
) -> APIRouter:
    """`feature_names` names V1 list instances (and a lone V2 input's columns) per model; else f0, f1, ..."""
    router = APIRouter(dependencies=[Depends(auth)])
    limits = config.limits
    tensors = {model: t for model, settings in config.models.items() if (t := settings.embedding_tensors())}
    openapi_extra = {"requestBody": KSERVE_BODY, "parameters": [*CE_HEADERS, CONTENT_ENCODING]}

    async def receive(request: Request, model: str | None) -> JSONResponse:
        body = await read_body(request)
        try:  # on the loop: the joiner is not shared with any thread
            result = parse_events(
                request.headers,
                body,
                joiner,
                model=model,
                feature_names=feature_names,
                embedding_tensors=tensors,
                max_records=limits.max_records_per_request,
                max_features=limits.max_features,
            )
            ingest.admit(result, source=SOURCE)  # counts every rejected record, the join's dropped rows too
        except DriftwardenError as exc:
            raise problem(exc) from None
        status = 400 if result.accepted == 0 and result.rejected else 200
        return JSONResponse(result.to_dict(), status_code=status)

    @router.post("/v1/kserve", openapi_extra=openapi_extra, responses=KSERVE_ANSWERS)
    async def post_kserve_event(request: Request) -> JSONResponse:
        """A logger event naming its model in `ce-inferenceservicename` (or Seldon's `ce-modelid`)."""
        return await receive(request, None)

    @router.post("/v1/kserve/{model}", openapi_extra=openapi_extra, responses=KSERVE_ANSWERS)
    async def post_kserve_event_for_model(model: str, request: Request) -> JSONResponse:
        """A logger event; `model` names it when the event's headers do not."""
        check_model_name(model)
        return await receive(request, model)

    return router
