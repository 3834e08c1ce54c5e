"""Delayed ground truth: POST /v1/labels joins labels to the sampled predictions waiting for them."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse

from driftwarden.api.plumbing import HTTPProblem
from driftwarden.api.schemas.common import CONTENT_ENCODING
from driftwarden.api.schemas.labels import LABELS_ANSWERS, LABELS_BODY
from driftwarden.collector.predictions import NDJSON_TYPES
from driftwarden.core.records import MAX_MAGNITUDE, MAX_REPORTED_ERRORS, MODEL_NAME
from driftwarden.daemon.daemon import Daemon
from driftwarden.exporters.prometheus import Instruments

__all__ = ["labels_router"]

MAX_LABELS = 100_000  # per request


def labels_router(
    daemon: Daemon,
    instruments: Instruments,
    auth: Callable[[Request], Awaitable[None]],
    read_body: Callable[[Request], Awaitable[bytes]],
) -> APIRouter:
    router = APIRouter(dependencies=[Depends(auth)])

    @router.post(
        "/v1/labels",
        openapi_extra={"requestBody": LABELS_BODY, "parameters": [CONTENT_ENCODING]},
        responses=LABELS_ANSWERS,
    )
    async def post_labels(request: Request) -> JSONResponse:
        """`{"model", "request_id", "label"}` records, a JSON array or NDJSON; answers the join counts."""
        records = _records(await read_body(request), request.headers.get("content-type"))
        by_model: dict[str, tuple[list[str], list[Any]]] = defaultdict(lambda: ([], []))
        errors: list[dict[str, Any]] = []
        rejected = 0
        for index, record in enumerate(records):
            problem = _problem(record)
            if problem is not None:
                rejected += 1
                instruments.records_rejected.labels("labels", problem[0]).inc()
                if len(errors) < MAX_REPORTED_ERRORS:
                    errors.append({"index": index, "pointer": problem[1], "reason": problem[0], "message": problem[2]})
                continue
            ids, labels = by_model[record["model"]]
            ids.append(record["request_id"])
            labels.append(record["label"])
        matched = unmatched = 0
        for model, (ids, labels) in by_model.items():
            counts = daemon.add_labels(model, ids, labels)
            if counts is None:
                unmatched += len(ids)
                instruments.labels.labels("(untracked)", "unmatched").inc(len(ids))
            else:
                matched, unmatched = matched + counts.matched, unmatched + counts.unmatched
        body = {"matched": matched, "unmatched": unmatched, "rejected": rejected, "errors": errors}
        return JSONResponse(body, status_code=400 if rejected and not (matched or unmatched) else 200)

    return router


def _records(body: bytes, content_type: str | None) -> list[Any]:
    media = (content_type or "").split(";")[0].strip().lower()
    try:
        if media == "application/json":
            parsed = orjson.loads(body)
            records = parsed if isinstance(parsed, list) else [parsed]
        elif media in NDJSON_TYPES:
            records = [orjson.loads(line) for line in body.splitlines() if line.strip()]
        else:
            raise HTTPProblem(
                415, "unsupported_media_type", "send application/json (an array of labels) or application/x-ndjson"
            )
    except orjson.JSONDecodeError as exc:
        raise HTTPProblem(400, "invalid_json", f"body is not valid JSON: {exc}") from None
    if len(records) > MAX_LABELS:
        raise HTTPProblem(413, "too_many_records", f"{len(records)} labels in one request; the limit is {MAX_LABELS}")
    return records


def _problem(record: Any) -> tuple[str, str, str] | None:
    """(reason, JSON pointer, message) for an unusable label record; None when it is fine."""
    if not isinstance(record, dict):
        return "not_an_object", "", "each label is an object {model, request_id, label}"
    model, request_id, label = record.get("model"), record.get("request_id"), record.get("label")
    if not isinstance(model, str) or not MODEL_NAME.fullmatch(model):
        return "bad_model", "/model", "'model' must be a model name (1-63 letters, digits or _.:-)"
    if not isinstance(request_id, str) or not 0 < len(request_id) <= 256:
        return "bad_request_id", "/request_id", "'request_id' must be a string of 1-256 characters"
    if isinstance(label, bool) or not isinstance(label, (str, int, float)):
        return "bad_label", "/label", "'label' must be a number (regression, or a 0/1 class) or a string (a class)"
    if isinstance(label, (int, float)) and abs(label) > MAX_MAGNITUDE:
        return "unrepresentable", "/label", f"'label' is beyond ±{MAX_MAGNITUDE:g}; the error statistics would overflow"
    if isinstance(label, str) and len(label) > 256:
        return "bad_label", "/label", "'label' is at most 256 characters"
    return None
