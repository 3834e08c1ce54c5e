"""Reading state: models and their drift, SLOs, metrics, health.

What can take long over a large state (/metrics, the latency quantiles of /v1/slos) runs in a
worker thread, from a snapshot taken on the loop or under the lock of what it reads: /healthz
and ingest are never queued behind it.
"""

from __future__ import annotations

import asyncio
import zlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import orjson
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response, StreamingResponse

from driftwarden.api.plumbing import HTTPProblem
from driftwarden.api.schemas.common import ok
from driftwarden.api.schemas.status import DRIFT_ANSWERS, METRICS_ANSWERS, MODELS, READYZ_ANSWERS, SLOS
from driftwarden.config import Config
from driftwarden.core.urls import redacted_url
from driftwarden.daemon.views import DaemonViews
from driftwarden.detectors.findings import SLOBurnFinding
from driftwarden.detectors.latency import LatencyTable
from driftwarden.detectors.slo import WINDOWS, SLOTracker
from driftwarden.exporters.scrape import Exposition, Scrape
from driftwarden.persistence.database import Database

__all__ = ["status_router"]

JSON_BLOCK = 1000  # latency rows encoded at once
RENDER_THREADS = 2  # scrapes and SLO answers built at once; the rest wait (the default executor also stores)


def status_router(config: Config, views: DaemonViews, exposition: Exposition) -> APIRouter:
    router = APIRouter()
    renders = asyncio.Semaphore(RENDER_THREADS)

    @router.get("/v1/models", responses=ok("models with their rows and latest verdict", MODELS))
    async def list_models() -> JSONResponse:
        models = []
        for state in views.states():
            report = state.report
            models.append(
                {
                    "model": state.model,
                    "has_reference": state.reference_rows is not None,
                    "rows": {"reference": state.reference_rows or 0, "current": state.window_rows},
                    "drifted": report.drifted if report else None,
                    "drift_share": report.drift_share if report else None,
                    "evaluated_at": report.evaluated_at if report else None,
                }
            )
        return JSONResponse({"models": models})

    @router.get("/v1/models/{model}/drift", responses=DRIFT_ANSWERS)
    async def get_drift(model: str) -> JSONResponse:
        detector = views.detector(model)
        if detector is None:
            raise HTTPProblem(404, "unknown_model", f"no model named {model!r}; GET /v1/models lists them")
        if detector.reference is None:
            raise HTTPProblem(
                404, "no_reference", f"model {model!r} has no reference yet: PUT /v1/models/{model}/reference"
            )
        drift = await views.drift(model)  # a first look before the first scheduled evaluation evaluates it
        if drift is None or drift.report is None:
            failed = "; ".join(f"{f.stage}: {f.error}" for f in drift.failures) if drift else ""
            raise HTTPProblem(
                503, "evaluation_failed", f"model {model!r} could not be evaluated ({failed or 'no report yet'})"
            )
        return JSONResponse(drift.to_dict())

    @router.get("/v1/slos", responses=ok("SLO burn rates and budgets; latency quantiles over 1m and 5m", SLOS))
    async def get_slos() -> Response:
        async with renders:
            slos = [_slo(name, tracker, views.slo_findings(name)) for name, tracker in views.slos().items()]
            return await asyncio.to_thread(_slos_answer, slos, views)  # the quantiles: seconds over many series

    @router.get("/metrics", response_class=PlainTextResponse, responses=METRICS_ANSWERS)
    async def metrics(request: Request) -> Response:
        async with renders:
            scrape = exposition.snapshot()  # on the loop, where that state changes
            gzip = _accepts_gzip(request.headers.get("accept-encoding", ""))
            chunks, content_type = await asyncio.to_thread(_rendered, scrape, request.headers.get("accept", ""), gzip)
        headers = {"content-length": str(sum(len(c) for c in chunks)), "vary": "accept-encoding"}
        if gzip:
            headers["content-encoding"] = "gzip"
        return StreamingResponse(_each(chunks), media_type=content_type, headers=headers)

    @router.get("/v1/config", response_model=Config, response_description="the config in effect")
    async def get_config() -> JSONResponse:
        """The config in effect, defaults filled in; secrets are only ever file paths or env names here,
        and URLs show scheme, host and port only."""
        return JSONResponse(_masked(config.model_dump(mode="json", by_alias=True)))

    @router.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @router.get("/readyz", responses=READYZ_ANSWERS)
    async def readyz() -> JSONResponse:
        if not views.ready:
            return JSONResponse({"status": "starting"}, status_code=503)
        database = views.database
        if not database.writable and not await asyncio.to_thread(database.probe):  # probes once a second at most
            return JSONResponse({"status": "unready", "reason": _unwritable(database)}, status_code=503)
        if views.saturated:
            queued, cap = views.queue_rows
            return JSONResponse({"status": "saturated", "queue_rows": queued, "capacity": cap}, status_code=503)
        return JSONResponse({"status": "ready"})

    return router


def _accepts_gzip(accept_encoding: str) -> bool:
    """Whether the client takes a gzip body (Prometheus asks for one): `gzip` listed without q=0."""
    for coding in accept_encoding.lower().split(","):
        name, _, params = coding.strip().partition(";")
        if name.strip() in ("gzip", "x-gzip") and params.replace(" ", "") not in ("q=0", "q=0.0", "q=0.00", "q=0.000"):
            return True
    return False


def _rendered(scrape: Scrape, accept: str, gzip: bool) -> tuple[list[bytes], str]:
    """In a worker thread: the body in chunks, deflated at level 1 when `gzip` (a text exposition
    shrinks ~10x: 100 models x 20 features pass the 1 MiB a scrape comfortably takes only as text);
    zlib releases the GIL while it deflates."""
    chunks, content_type = scrape.render(accept)
    if not gzip:
        return chunks, content_type
    deflate = zlib.compressobj(1, zlib.DEFLATED, 31)  # wbits 31: a gzip member
    out = [deflate.compress(chunk) for chunk in chunks]
    out.append(deflate.flush())
    return [c for c in out if c], content_type


def _slo(name: str, tracker: SLOTracker, findings: list[SLOBurnFinding]) -> dict[str, object]:
    """One SLO's figures (on the loop: the tracker changes there)."""
    s = tracker.slo
    return {
        "name": name,
        "kind": s.kind,
        "objective": s.objective,
        "threshold_seconds": s.threshold,
        "period_seconds": s.period,
        "selector": {"service": s.service, "model": s.model, "operation": s.operation},
        "burn_rates": {w: tracker.burn_rate(w) for w in WINDOWS},
        "error_budget_remaining": tracker.budget_remaining(),
        "error_budget_exhausted": tracker.budget_remaining() == 0.0,
        "history_seconds": tracker.history(),
        "events": {"good": tracker.total_good, "bad": tracker.total_bad},
        "alerts": [
            {"severity": f.severity.value, "windows": f.windows, "burn_rate": f.value, "threshold": f.threshold}
            for f in findings
        ],
    }


def _slos_answer(slos: list[dict[str, object]], views: DaemonViews) -> Response:
    """In a worker thread: the latency quantiles (read under the request stats' lock) and the JSON.

    orjson, a block of rows at a time: one json.dumps over 30k rows, or 30k row dicts alive at
    once (which set off full garbage collections), would hold the GIL, and so the loop, for tens
    of milliseconds."""
    body = [b'{"slos":', orjson.dumps(slos), b',"latency":{"1m":', _json_rows(views.latency(60))]
    body += [b',"5m":', _json_rows(views.latency(300)), b"}}"]
    return Response(b"".join(body), media_type="application/json")


def _json_rows(table: LatencyTable) -> bytes:
    blocks = (orjson.dumps(table[i : i + JSON_BLOCK])[1:-1] for i in range(0, len(table), JSON_BLOCK))
    return b"[" + b",".join(blocks) + b"]"


async def _each(chunks: list[bytes]) -> AsyncIterator[bytes]:
    """A body sent a chunk per loop iteration: no copy of it all, and other requests served between."""
    for chunk in chunks:
        yield chunk


def _unwritable(database: Database) -> str:
    failure = database.last_failure
    if failure is None:
        return f"state file {database.path} not writable"
    at = datetime.fromtimestamp(failure.at, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
    return (
        f"state file not writable: {failure.error} "
        f"(last failed write: {failure.operation.replace('_', ' ')} at {at}; {database.path})"
    )


def _masked(value: Any) -> Any:
    """Every URL shown as scheme://host:port only: credentials, tokens in queries, and paths that
    are themselves the secret (Slack's /services/T000/B000/XXXX) are masked."""
    if isinstance(value, dict):
        return {k: _masked(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_masked(v) for v in value]
    if isinstance(value, str) and "://" in value:
        return redacted_url(value)
    return value
