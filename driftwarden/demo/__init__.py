"""`driftwarden demo`: the daemon plus a synthetic model server that drifts half-way.

The daemon is served on loopback with a local receiver for its alerts; the load (`load.py`) posts a
fraud model's predictions, spans and delayed labels to it over real HTTP; the narrative
(`narrative.py`, through `timeline.py`) tells what the daemon found, in the order it happened, and
ends with a summary of it.
"""

from __future__ import annotations

import asyncio
import base64
import secrets
from pathlib import Path

import uvicorn
from rich.console import Console

from driftwarden.api.serving import server_config
from driftwarden.app import create_app
from driftwarden.config import Config, load_config
from driftwarden.demo.load import DEMO_MODEL, DEMO_SERVICE, DEMO_SLOS, SHIFTED_FEATURES, generate, run_load
from driftwarden.demo.narrative import QUALITY_DROP, Narrator
from driftwarden.demo.timeline import Timeline
from driftwarden.detectors.drift import DriftReport
from driftwarden.sink import WebhookSink

__all__ = ["DEMO_MODEL", "DEMO_SERVICE", "QUALITY_DROP", "SHIFTED_FEATURES", "generate", "run_demo", "run_load"]


def demo_config(*, listen: str, state: Path, sink_url: str, secret_file: Path) -> Config:
    """Evaluations every 5 s, alerts after two, a local webhook for them and a retraining hook."""
    return load_config(
        None,
        listen=listen,
        state_path=str(state),
        evaluate_every="5s",
        models={DEMO_MODEL: {"critical_features": ["amount"], "estimate": {"kind": "binary"}}},
        slos=DEMO_SLOS,
        alerting={"for": 2, "group_wait": "2s", "group_interval": "10s", "resolve_hold": "10s"},
        receivers=[
            {
                "name": "local-webhook",
                "type": "webhook",
                "url": f"{sink_url}/alerts",
                "hmac_secret_file": str(secret_file),
            },
            {"name": "retrain", "type": "retrain", "url": f"{sink_url}/retrain", "hmac_secret_file": str(secret_file)},
        ],
        routes=[
            {"match": {"kind": "drift"}, "receivers": ["local-webhook", "retrain"]},
            {"match": {"kind": "slo"}, "receivers": ["local-webhook"]},
        ],
    )


def run_demo(*, listen: str, state: Path, duration: float, rate: float, stay: bool) -> None:
    """Serve the daemon and drive the load against it over loopback HTTP; alerts go to a local sink."""
    console = Console(highlight=False, soft_wrap=True)  # piped or not, a line is never cut
    secret = "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()  # a Standard Webhooks secret
    sink = WebhookSink(secret=secret).start()
    secret_file = state.parent / "demo-hmac-secret"
    secret_file.parent.mkdir(parents=True, exist_ok=True)
    secret_file.write_text(secret)
    secret_file.chmod(0o600)
    config = demo_config(listen=listen, state=state, sink_url=sink.url, secret_file=secret_file)
    timeline = Timeline(console)
    narrator = Narrator(
        timeline, listen=config.listen, model=DEMO_MODEL, quality_window=config.model(DEMO_MODEL).window.rows
    )

    def on_report(report: DriftReport, previous: DriftReport | None) -> None:
        narrator.drift(report, previous)
        narrator.quality(app.state.views, report.model)

    app = create_app(config, on_report=on_report, on_slo=narrator.slo)
    server = uvicorn.Server(server_config(config, app, log_level="warning"))

    async def serve_and_load() -> None:
        serving = asyncio.create_task(server.serve())
        while not server.started:
            if serving.done():
                return
            await asyncio.sleep(0.05)
        console.print(
            f"driftwarden demo: daemon on http://{config.listen} (its UI too), state in {config.state_path}; "
            f"alerts go to a local webhook receiver at {sink.url}"
        )
        printing = asyncio.create_task(timeline.run())
        watching = asyncio.create_task(_watch(sink, narrator))
        sent = await run_load(f"http://{config.listen}", duration=duration, rate=rate, narrator=narrator)
        narrator.load_finished(sent)
        if stay:
            url = f"http://{config.listen}"
            timeline.note(f"daemon still serving on {url} (Ctrl-C to stop); try curl -s {url}/v1/alerts")
        else:  # long enough for the drift alerts to resolve and their resolve to be sent
            a = config.alerting
            await asyncio.sleep(a.resolve_hold + 2 * config.evaluate_every + a.group_interval + 1)
            server.should_exit = True
        await serving
        await asyncio.sleep(0.6)  # the watcher's last look at the receiver
        for task in (watching, printing):
            task.cancel()
        await asyncio.gather(watching, printing, return_exceptions=True)
        first, *rest = narrator.summary()
        console.print(f"  {first}")
        for line in rest:
            console.print(f"        {line}")

    try:
        asyncio.run(serve_and_load())
    finally:
        sink.stop()


async def _watch(sink: WebhookSink, narrator: Narrator) -> None:
    """Hand each notification the local receiver got to the narrator, in the order they arrived."""
    seen = 0
    while True:
        await asyncio.sleep(0.25)
        deliveries = sink.deliveries[seen:]
        seen += len(deliveries)
        for delivery in deliveries:
            narrator.delivery(delivery)
