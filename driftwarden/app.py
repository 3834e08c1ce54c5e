"""The FastAPI application: assembles the daemon, alerting and GPU loop behind one port."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI
from fastapi.responses import JSONResponse
from prometheus_client import CollectorRegistry
from starlette.exceptions import HTTPException

from driftwarden.api.alerts import alerts_router
from driftwarden.api.audit import audit_access, audit_router
from driftwarden.api.ingest import ingest_router
from driftwarden.api.kserve import kserve_router
from driftwarden.api.labels import labels_router
from driftwarden.api.otlp import otlp_router
from driftwarden.api.otlp_answers import otlp_paths_router, otlp_problem_handler
from driftwarden.api.otlp_metrics import otlp_metrics_router
from driftwarden.api.plumbing import (
    HTTPProblem,
    bearer_auth,
    body_reader,
    declare_read_protection,
    problem_handler,
    read_protection,
    rejection_log,
    unrouted_handler,
)
from driftwarden.api.status import status_router
from driftwarden.collector.kserve_join import EventJoiner
from driftwarden.config import Config
from driftwarden.core.alert_names import RUNBOOKS_PATH
from driftwarden.daemon.alerting import build_notifier
from driftwarden.daemon.daemon import Daemon
from driftwarden.daemon.evaluator import ReportHook, SloHook
from driftwarden.daemon.faults import FaultLog
from driftwarden.daemon.gpu_monitor import GpuMonitor
from driftwarden.daemon.references import fit_configured_references
from driftwarden.daemon.sources import follow
from driftwarden.daemon.tracing import self_tracer
from driftwarden.daemon.views import DaemonViews
from driftwarden.exporters.alerts import AlertCollector
from driftwarden.exporters.prometheus import DriftCollector, Instruments
from driftwarden.exporters.requests import RequestCollector, request_histograms
from driftwarden.exporters.scrape import Exposition
from driftwarden.exporters.slos import SloCollector
from driftwarden.exporters.storage import StorageCollector
from driftwarden.params import bin_export_params, series_params
from driftwarden.persistence.database import Database
from driftwarden.persistence.store import Store
from driftwarden.ui import create_ui_router

__all__ = ["PROBES", "create_app", "open_routes"]

log = logging.getLogger("driftwarden.app")


def create_app(
    config: Config,
    *,
    registry: CollectorRegistry | None = None,
    on_report: ReportHook | None = None,
    on_slo: SloHook | None = None,
    nvml: object | None = None,
    clock: Callable[[], float] = time.time,
) -> FastAPI:
    """The daemon as an ASGI app; `registry`, hooks, `nvml` and the `clock` of the burn-rate trackers and
    the GPU samples are for the demo and tests."""
    registry = registry or CollectorRegistry()
    instruments = Instruments(registry)
    store = Store(Database(config.state_path))
    tracer, tracer_provider = self_tracer(config.self_tracing)
    faults = FaultLog(registry)
    notifier = build_notifier(
        config,
        store,
        on_delivery=lambda receiver, outcome: instruments.deliveries.labels(receiver, outcome).inc(),
        contain=faults.contain,
        tracer=tracer,
    )
    gpu = GpuMonitor(config, nvml=nvml, clock=clock)
    daemon = Daemon(
        config,
        store,
        instruments,
        faults,
        notifier=notifier,
        on_report=on_report,
        on_slo=on_slo,
        finding_sources={"gpu": gpu.findings},
        on_requests=gpu.count_requests,
        tracer=tracer,
        clock=clock,
        gpu_samples=gpu.poller.latest,
    )
    views = DaemonViews(daemon)

    # the registry holds what may be collected in any thread; the loop-owned collectors are
    # snapshotted on the loop by each scrape, which renders in a worker thread
    registry.register(RequestCollector(daemon.requests))
    registry.register(gpu.collector())
    registry.register(StorageCollector(store.database))
    registry.register(daemon.anomalies.collector())
    exposition = Exposition(
        registry,
        [
            DriftCollector(
                views.states,
                lambda: views.queue_rows,
                bin_export_params(config.fleet),
                series=series_params(config.metrics),
            ),
            SloCollector(lambda: daemon.slos),
            AlertCollector(notifier.engine.alerts, notifier.outbox.pending, lambda: list(notifier.receivers)),
        ],
        request_histograms(daemon.requests),
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await fit_configured_references(config, daemon)
        await daemon.start()
        await notifier.start()
        await gpu.start()
        tails = [
            asyncio.create_task(follow(daemon, source), name=f"driftwarden-tail-{i}")
            for i, source in enumerate(config.sources)
        ]
        try:
            yield
        finally:
            for task in tails:
                task.cancel()
            await asyncio.gather(*tails, return_exceptions=True)
            await daemon.stop()
            await gpu.stop()
            await notifier.stop()
            store.close()
            if tracer_provider is not None:
                tracer_provider.shutdown()

    tokens = config.auth_tokens()
    protect_reads = read_protection(tokens if config.auth.protect_reads else None, open_routes(config))
    app = FastAPI(
        title="driftwarden",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,  # served below as a route of its own, so that the read protection covers it
        dependencies=[Depends(protect_reads)],
    )

    @app.get("/openapi.json", include_in_schema=False)
    async def openapi() -> JSONResponse:
        return JSONResponse(declare_read_protection(app.openapi(), PROBES))

    app.state.daemon = daemon
    app.state.views = views
    app.state.notifier = notifier
    app.state.gpu = gpu
    app.state.tracer_provider = tracer_provider
    app.state.registry = registry

    auth = bearer_auth(tokens)
    read_body = body_reader(config.limits.max_body_bytes, timeout=config.server.body_timeout)
    rejections = rejection_log()
    problems = problem_handler(instruments, rejections)
    app.exception_handler(HTTPProblem)(otlp_problem_handler(instruments, rejections, problems))
    app.exception_handler(HTTPException)(unrouted_handler(instruments, rejections))
    app.include_router(ingest_router(config, daemon, auth, read_body, rejections))
    app.include_router(otlp_router(config, daemon, auth, read_body, rejections, registry))
    app.include_router(otlp_metrics_router(config, daemon, auth, read_body, rejections))
    app.state.kserve_joiner = joiner = EventJoiner()
    app.include_router(kserve_router(config, daemon.ingest, auth, read_body, joiner))
    app.include_router(status_router(config, views, exposition))
    app.include_router(alerts_router(notifier, auth, read_body))
    app.include_router(labels_router(daemon, instruments, auth, read_body))
    app.include_router(audit_router(daemon.audit.audit, audit_access(tokens)))
    app.include_router(create_ui_router(app))
    app.include_router(otlp_paths_router(instruments, rejections))  # last: after every route that serves these paths
    return app


PROBES = frozenset({"/healthz", "/readyz"})  # open whatever auth says: kubelets send no token
RUNBOOKS = frozenset({RUNBOOKS_PATH, RUNBOOKS_PATH + "/{alertname}"})  # route templates


def open_routes(config: Config) -> frozenset[str]:
    """The routes no token is asked for even with auth.protect_reads: probes, the runbooks (the operator's
    guide, no data: a browser following an alert's link sends no token), and the scrape unless closed."""
    return PROBES | RUNBOOKS | (frozenset() if config.auth.protect_metrics else {"/metrics"})
