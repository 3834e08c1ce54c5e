"""The built-in web UI: `GET /` (overview), `GET /ui/models/{model}` (a model's features) and `GET /runbooks`,
`GET /runbooks/{alertname}` (the operator's guide's runbooks, which alerts link to).

For the engineer who opens the sidecar's port before any Grafana exists. The router reads the
app's live state (`app.state.views`, `.notifier`, `.gpu`) on the event loop, where that
state changes, and renders in a worker thread (a model page with many features is a few
hundred kilobytes of markup; the overview's latency quantiles take seconds over many series,
and are read in that thread under the request stats' lock). Pages are plain HTML with inline
CSS and SVG and no script; a strict Content-Security-Policy says so to the browser.

One module per page (overview.py, model.py, not_found.py, runbooks.py), the page shell in layout.py and the
shared value formatting in format.py; the charts and the drift view are driftwarden.rendering's.
"""

from __future__ import annotations

import asyncio
import time

from fastapi import APIRouter, FastAPI
from fastapi.responses import HTMLResponse, RedirectResponse

from driftwarden.core.alert_names import RUNBOOKS_PATH
from driftwarden.detectors.slo import WINDOWS
from driftwarden.ui.constraints import constraints_card
from driftwarden.ui.embeddings import embeddings_card
from driftwarden.ui.layout import CSP
from driftwarden.ui.model import model_page
from driftwarden.ui.multivariate import multivariate_card
from driftwarden.ui.not_found import not_found_page
from driftwarden.ui.overview import GpuView, SloView, overview_page
from driftwarden.ui.quality import quality_card, segments_card
from driftwarden.ui.runbooks import runbook_page, runbooks, runbooks_page, unknown_runbook_page

__all__ = ["create_ui_router"]

HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


def create_ui_router(app: FastAPI) -> APIRouter:
    """The UI's routes, reading `app.state` at request time."""
    router = APIRouter(include_in_schema=False)

    @router.get("/", response_class=HTMLResponse)
    async def overview() -> HTMLResponse:
        views, notifier, gpu = app.state.views, app.state.notifier, app.state.gpu
        slos = [
            SloView(
                name=name,
                kind=tracker.slo.kind,
                objective=tracker.slo.objective,
                threshold=tracker.slo.threshold,
                budget_remaining=tracker.budget_remaining(),
                burn_rates={w: tracker.burn_rate(w) for w in WINDOWS},
                alerts=[f.severity.value for f in views.slo_findings(name)],
                good=tracker.total_good,
                bad=tracker.total_bad,
            )
            for name, tracker in views.slos().items()
        ]
        gpus = GpuView(
            available=gpu.poller.available,
            samples=list(gpu.poller.latest()),
            inference=list(gpu.cost.latest),
            disabled=gpu.params.enabled is False,
        )
        models, alerts = views.states(), notifier.alerts()

        def render() -> HTMLResponse:
            latency = views.latency(300)
            html = overview_page(models=models, slos=slos, latency=latency, gpus=gpus, alerts=alerts, now=time.time())
            return HTMLResponse(html, headers=HEADERS)

        return await asyncio.to_thread(render)

    @router.get("/ui", include_in_schema=False)
    async def ui_root() -> RedirectResponse:
        return RedirectResponse("/", status_code=307)

    @router.get("/ui/models/{model}", response_class=HTMLResponse)
    async def model(model: str) -> HTMLResponse:
        views = app.state.views
        detector = views.detector(model)
        if detector is None:
            html = not_found_page(model, views.models(), now=time.time())
            return HTMLResponse(html, status_code=404, headers=HEADERS)
        estimation = views.estimation(model)
        fitted = estimation.fitted if estimation is not None else None
        estimate, segments = (estimation.estimate, list(estimation.segments)) if estimation is not None else (None, [])
        quality_history = views.quality_history(model)
        history, failures = views.history(model), views.failures(model)
        state = app.state.daemon.models.get(model)
        monitor = state.embeddings if state is not None else None  # models.<m>.embeddings
        constraints = views.constraints(model)

        def render() -> str:
            sections = [] if constraints is None else [constraints_card(constraints)]
            if fitted is not None and fitted.estimator is not None:
                metric = estimate.alert_metric if estimate is not None else fitted.estimator.params.metric
                samples = [(p.at, p.estimated.get(metric), p.realized.get(metric)) for p in quality_history]
                sections.append(quality_card(model, estimate, fitted.estimator.fit_quality, samples))
            if fitted is not None and fitted.segments is not None:
                sections.append(segments_card(segments))
            if detector.report is not None and detector.report.multivariate:
                sections.append(multivariate_card(detector.report.multivariate))
            if monitor is not None and detector.report is not None and detector.report.embeddings:
                projections = {name: monitor.projection(name) for name in monitor.specs}
                sections.append(embeddings_card(detector.report.embeddings, projections))
            return model_page(
                model,
                report=detector.report,
                reference=detector.reference,
                window_rows=detector.window.rows,
                history=history,
                failures=failures,
                now=time.time(),
                sections=sections,
            )

        html = await asyncio.to_thread(render)
        return HTMLResponse(html, headers=HEADERS)

    @router.get(RUNBOOKS_PATH, response_class=HTMLResponse)
    async def all_runbooks() -> HTMLResponse:
        return HTMLResponse(runbooks_page(runbooks(), now=time.time()), headers=HEADERS)

    @router.get(RUNBOOKS_PATH + "/{alertname}", response_class=HTMLResponse)
    async def one_runbook(alertname: str) -> HTMLResponse:
        book = runbooks()
        if alertname not in book.sections:
            html = unknown_runbook_page(book, alertname, now=time.time())
            return HTMLResponse(html, status_code=404, headers=HEADERS)
        return HTMLResponse(runbook_page(book, alertname, now=time.time()), headers=HEADERS)

    return router
