"""The FastAPI application: one port for ingest, drift reports, metrics and health."""

from __future__ import annotations

import asyncio
import hmac
import logging
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import Depends, FastAPI, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CollectorRegistry
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from alerts.notifier import Notifier
from collector import otlp
from collector.errors import BodyError
from collector.predictions import MODEL_NAME, parse_records
from collector.tables import TableError, format_from_content_type, read_table
from detectors.drift import DriftReport
from detectors.findings import Finding
from detectors.reference import ReferenceProfile
from detectors.slo import WINDOWS
from driftwarden.config import Config, ConfigError, Duration
from driftwarden.gpu_monitor import GpuMonitor
from driftwarden.pipeline import Pipeline, QueueFull
from driftwarden.store import Store
from driftwarden.tracing import self_tracer
from driftwarden.ui import create_ui_router
from exporters.alerts import AlertCollector
from exporters.exposition import render
from exporters.prometheus import DriftCollector, Instruments
from exporters.requests import RequestCollector, request_histograms

__all__ = ["create_app"]

log = logging.getLogger("driftwarden.app")


class HTTPProblem(Exception):
    def __init__(self, status: int, reason: str, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.reason, self.message, self.headers = status, reason, message, headers or {}


def create_app(
    config: Config,
    *,
    registry: CollectorRegistry | None = None,
    on_report: Callable[[DriftReport, DriftReport | None], None] | None = None,
    on_slo: Callable[[str, list[Finding], list[Finding]], None] | None = None,
    nvml: object | None = None,
) -> FastAPI:
    registry = registry or CollectorRegistry()
    instruments = Instruments(registry)
    store = Store(config.state_path)
    tracer, tracer_provider = self_tracer(config.self_tracing)
    notifier = Notifier(
        config,
        store,
        tracer=tracer,
        on_delivery=lambda receiver, outcome: instruments.deliveries.labels(receiver, outcome).inc(),
    )
    pipeline = Pipeline(
        config, store, instruments, on_report=on_report, on_slo=on_slo, tracer=tracer, notifier=notifier
    )
    registry.register(DriftCollector(pipeline.states, lambda: pipeline.queue_rows))
    registry.register(RequestCollector(pipeline.requests, lambda: pipeline.slos))
    gpu = GpuMonitor(config, nvml=nvml)
    registry.register(gpu.collector())
    pipeline.extra_findings["gpu"] = gpu.findings
    pipeline.on_requests = gpu.count_requests
    registry.register(AlertCollector(notifier.engine.alerts, notifier.outbox.pending, lambda: list(notifier.receivers)))
    token = config.auth_token()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await _fit_configured_references(config, pipeline)
        await pipeline.start()
        await notifier.start()
        await gpu.start()
        log.info("driftwarden listening on %s (state in %s)", config.listen, config.state_path)
        try:
            yield
        finally:
            await pipeline.stop()
            await gpu.stop()
            await notifier.stop()
            store.close()
            if tracer_provider is not None:
                tracer_provider.shutdown()

    app = FastAPI(title="driftwarden", lifespan=lifespan, docs_url=None, redoc_url=None)
    app.state.pipeline = pipeline
    app.state.notifier = notifier
    app.state.gpu = gpu
    app.state.tracer_provider = tracer_provider
    app.state.registry = registry

    @app.exception_handler(HTTPProblem)
    async def _problem(request: Request, exc: HTTPProblem) -> JSONResponse:
        route = request.scope.get("route")
        instruments.requests_rejected.labels(getattr(route, "path", "unknown"), exc.reason).inc()
        return JSONResponse({"error": exc.message, "reason": exc.reason}, status_code=exc.status, headers=exc.headers)

    async def require_token(request: Request) -> None:  # async: a sync dependency costs a thread hop
        if token is None:
            return
        given = request.headers.get("authorization", "")
        scheme, _, value = given.partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(value.strip().encode(), token.encode()):
            raise HTTPProblem(
                401, "unauthorized", "missing or wrong bearer token", {"WWW-Authenticate": 'Bearer realm="driftwarden"'}
            )

    async def read_body(request: Request) -> bytes:
        limit = config.limits.max_body_bytes
        declared = request.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > limit:
            raise HTTPProblem(
                413,
                "body_too_large",
                f"body of {declared} bytes; the limit is {limit} (limits.max_body_bytes): send smaller batches",
            )
        chunks, size = [], 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise HTTPProblem(413, "body_too_large", f"body larger than {limit} bytes (limits.max_body_bytes)")
            chunks.append(chunk)
        return b"".join(chunks)

    @app.post("/v1/predictions", dependencies=[Depends(require_token)])
    async def post_predictions(request: Request) -> JSONResponse:
        body = await read_body(request)
        try:  # on the loop: parsing holds the GIL anyway, and a thread hop per request costs throughput
            result = parse_records(
                body, request.headers.get("content-type"), max_records=config.limits.max_records_per_request
            )
        except BodyError as exc:
            raise HTTPProblem(exc.status, _reason_for(exc.status), exc.reason) from None
        try:
            pipeline.admit(result, source="http")
        except QueueFull as exc:
            instruments.records_rejected.labels("http", "queue_full").inc(result.accepted)
            raise HTTPProblem(429, "queue_full", str(exc), {"Retry-After": "1"}) from None
        for reason, count in result.rejected_by_reason.items():
            if reason not in ("too_many_models", "too_many_features"):  # admit() counted those
                instruments.records_rejected.labels("http", reason).inc(count)
        status = 400 if result.accepted == 0 and result.rejected else 200
        return JSONResponse(result.to_dict(), status_code=status)

    @app.post("/v1/traces", dependencies=[Depends(require_token)])
    async def post_traces(request: Request) -> Response:
        body = await read_body(request)
        ctype = request.headers.get("content-type")
        media = otlp.PROTOBUF if (ctype or "").startswith(otlp.PROTOBUF) else otlp.JSON
        try:
            batch, media = otlp.decode_request(
                body,
                ctype,
                request.headers.get("content-encoding"),
                config.traces,
                max_bytes=config.limits.max_body_bytes,
            )
            pipeline.admit_spans(batch)
        except BodyError as exc:
            return _otlp_problem(request, exc.status, _reason_for(exc.status), exc.reason, media)
        except QueueFull as exc:
            return _otlp_problem(request, 429, "queue_full", str(exc), media)
        instruments.spans.labels("observed").inc(len(batch))
        instruments.spans.labels("skipped").inc(batch.skipped)
        instruments.spans.labels("rejected").inc(batch.rejected)
        for reason, count in batch.reasons.items():
            instruments.records_rejected.labels("otlp", reason).inc(count)
        return Response(otlp.encode_response(batch, media), media_type=media)

    def _otlp_problem(request: Request, status: int, reason: str, message: str, media: str) -> Response:
        route = request.scope.get("route")
        instruments.requests_rejected.labels(getattr(route, "path", "unknown"), reason).inc()
        headers = {"Retry-After": "1"} if status == 429 else {}
        return Response(otlp.encode_error(message, media), status_code=status, media_type=media, headers=headers)

    @app.get("/v1/alerts")
    async def get_alerts() -> JSONResponse:
        return JSONResponse({"alerts": [a.to_dict() for a in notifier.alerts()]})

    @app.get("/v1/silences")
    async def get_silences() -> JSONResponse:
        return JSONResponse({"silences": [s.to_dict() for s in notifier.silences.all()]})

    @app.post("/v1/silences", dependencies=[Depends(require_token)])
    async def post_silence(request: Request) -> JSONResponse:
        try:
            spec = SilenceRequest.model_validate_json(await read_body(request))
        except ValidationError as exc:
            raise HTTPProblem(
                400,
                "bad_silence",
                "; ".join(f"{'.'.join(map(str, e['loc'])) or 'body'}: {e['msg']}" for e in exc.errors()),
            ) from None
        ends_at = spec.ends_at if spec.ends_at is not None else time.time() + (spec.duration or 0.0)
        try:
            silence = notifier.add_silence(spec.matchers, ends_at, comment=spec.comment, created_by=spec.created_by)
        except ValueError as exc:
            raise HTTPProblem(400, "bad_silence", str(exc)) from None
        return JSONResponse(silence.to_dict())

    @app.delete("/v1/silences/{silence_id}", dependencies=[Depends(require_token)])
    async def delete_silence(silence_id: str) -> JSONResponse:
        if not notifier.expire_silence(silence_id):
            raise HTTPProblem(404, "unknown_silence", f"no silence with id {silence_id!r}; GET /v1/silences")
        return JSONResponse({"expired": silence_id})

    @app.get("/v1/slos")
    async def get_slos() -> JSONResponse:
        slos = []
        for name, tracker in pipeline.slos.items():
            s = tracker.slo
            slos.append(
                {
                    "name": name,
                    "kind": s.kind,
                    "objective": s.objective,
                    "threshold_seconds": s.threshold,
                    "period_seconds": s.period,
                    "selector": {"service": s.service, "model": s.model, "operation": s.operation},
                    "burn_rates": {w: tracker.burn_rate(w) for w in WINDOWS},
                    "error_budget_remaining": tracker.budget_remaining(),
                    "events": {"good": tracker.total_good, "bad": tracker.total_bad},
                    "alerts": [
                        {
                            "severity": f.severity.value,
                            "windows": f.evidence.get("windows", ""),
                            "burn_rate": f.value,
                            "threshold": f.threshold,
                        }
                        for f in pipeline.slo_findings.get(name, [])
                    ],
                }
            )
        latency = {"1m": pipeline.requests.quantiles(60), "5m": pipeline.requests.quantiles(300)}
        return JSONResponse({"slos": slos, "latency": latency})

    @app.put("/v1/models/{model}/reference", dependencies=[Depends(require_token)])
    async def put_reference(model: str, request: Request) -> JSONResponse:
        _check_model_name(model)
        if not pipeline.can_track(model):
            raise HTTPProblem(
                409, "too_many_models", f"{config.limits.max_models} models already tracked (limits.max_models)"
            )
        body = await read_body(request)
        try:
            fmt = format_from_content_type(request.headers.get("content-type"), body)
        except TableError as exc:
            raise HTTPProblem(415, "unsupported_media_type", str(exc)) from None
        try:
            profile = await asyncio.to_thread(_fit_reference, body, fmt, config, config.model(model).drift.bins)
        except (TableError, ValueError) as exc:
            raise HTTPProblem(400, "bad_reference", str(exc)) from None
        try:
            await pipeline.set_reference(model, profile, source=f"http:{fmt}")
        except ValueError as exc:
            raise HTTPProblem(409, "too_many_models", str(exc)) from None
        log.info("reference for %s fitted: %d rows, %d numeric features", model, profile.rows, len(profile.features))
        return JSONResponse({"model": model, **profile.summary()})

    @app.get("/v1/models")
    async def list_models() -> JSONResponse:
        models = []
        for state in pipeline.states():
            models.append(
                {
                    "model": state.model,
                    "has_reference": state.reference_rows is not None,
                    "rows": {"reference": state.reference_rows or 0, "current": state.window_rows},
                    "drifted": state.report.drifted if state.report else None,
                    "drift_share": state.report.drift_share if state.report else None,
                    "evaluated_at": state.report.evaluated_at if state.report else None,
                }
            )
        return JSONResponse({"models": models})

    @app.get("/v1/models/{model}/drift")
    async def get_drift(model: str) -> JSONResponse:
        detector = pipeline.detector(model)
        if detector is None:
            raise HTTPProblem(404, "unknown_model", f"no model named {model!r}; GET /v1/models lists them")
        if detector.reference is None:
            raise HTTPProblem(
                404, "no_reference", f"model {model!r} has no reference yet: PUT /v1/models/{model}/reference"
            )
        if detector.report is None:
            await asyncio.to_thread(detector.evaluate)  # first look before the first scheduled evaluation
        return JSONResponse(detector.report.to_dict())

    histograms = request_histograms(pipeline.requests)

    @app.get("/metrics")
    async def metrics(request: Request) -> Response:
        body, content_type = render(registry, histograms, request.headers.get("accept", ""))
        return Response(body, media_type=content_type)

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz")
    async def readyz() -> JSONResponse:
        if not pipeline.ready:
            return JSONResponse({"status": "starting"}, status_code=503)
        if pipeline.saturated:
            queued, cap = pipeline.queue_rows
            return JSONResponse({"status": "saturated", "queue_rows": queued, "capacity": cap}, status_code=503)
        return JSONResponse({"status": "ready"})

    app.include_router(create_ui_router(app))
    return app


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


def _check_model_name(model: str) -> None:
    if not MODEL_NAME.match(model):
        raise HTTPProblem(400, "bad_model", f"model name {model!r:.80} must be 1-63 letters, digits or _.:-")


def _reason_for(status: int) -> str:
    return {400: "bad_body", 413: "body_too_large", 415: "unsupported_media_type"}.get(status, "bad_request")


def _fit_reference(source: bytes | Path, fmt: str | None, config: Config, bins: int) -> ReferenceProfile:
    table = read_table(source, fmt)
    return ReferenceProfile.fit(
        table.numeric,
        table.values,
        categories=table.categories,
        bins=bins,
        max_rows=config.limits.max_reference_rows,
    )


async def _fit_configured_references(config: Config, pipeline: Pipeline) -> None:
    for model, settings in config.models.items():
        if settings.reference is None:
            continue
        path = Path(settings.reference)
        try:
            profile = await asyncio.to_thread(_fit_reference, path, None, config, settings.drift.bins)
        except TableError as exc:
            raise ConfigError([f"models.{model}.reference: {path}: {exc}"]) from exc
        await pipeline.set_reference(model, profile, source=f"file:{path}")
        log.info("reference for %s fitted from %s: %d rows", model, path, profile.rows)
