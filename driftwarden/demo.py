"""`driftwarden demo`: the daemon plus a synthetic model server that drifts half-way.

The load is a fraud model's traffic: eight numeric features and a country. At the
shift, `amount`, `age` and `distance_km` move; the other five stay put, so the report
shows which features drifted and which did not. At the same moment the model server's
latency regresses (median 60 ms → 300 ms), which burns the demo's latency SLO. Records go
to the daemon over real HTTP and spans through the real OpenTelemetry SDK exporter,
exactly as a model server would send them.

Each record carries a request id, and about two seconds after a batch its ground truth is
posted to /v1/labels, as a fraud team's chargeback feed would: a transaction is fraud when
the model would have flagged its *unshifted* amount (5 % of labels flipped). While the
amount is shifted the model scores inflated amounts, flags honest customers, and the
realized accuracy that driftwarden computes from the labels drops until the rollback.
"""

from __future__ import annotations

import asyncio
import io
import secrets
import time
from collections import deque
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import orjson
import polars as pl
import uvicorn
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import SpanKind, Status, StatusCode
from rich.console import Console

from driftwarden.api.serving import server_config
from driftwarden.app import create_app
from driftwarden.config import load_config
from driftwarden.daemon.views import DaemonViews
from driftwarden.detectors.drift import DriftReport
from driftwarden.detectors.findings import SLOBurnFinding
from driftwarden.sink import WebhookSink

__all__ = ["DEMO_MODEL", "DEMO_SERVICE", "SHIFTED_FEATURES", "generate", "run_demo", "run_load"]

DEMO_SERVICE = "fraud-model"
DEMO_SLOS = [
    {"name": "fraud-latency", "service": DEMO_SERVICE, "objective": 0.99, "threshold": "250ms"},
    {"name": "fraud-availability", "service": DEMO_SERVICE, "objective": 0.995},
]

DEMO_MODEL = "fraud"
SHIFTED_FEATURES = ("amount", "age", "distance_km")
AMOUNT_SHIFT = 1.6  # the shifted amount is the true one x1.6
LABEL_NOISE = 0.05  # share of ground-truth labels flipped
LABEL_DELAY = 2.0  # seconds between a batch of predictions and its labels
QUALITY_DROP = 0.05  # the accuracy drop the daemon judges degraded (detectors/outcomes.py quality_change)
HISTORY_MINUTES = 65  # of the model server's spans sent before the load: the SLO's 1h window's history
COUNTRIES = np.array(["DE", "FR", "US", "GB", "ES", "IT", "NL", "PL"])


def generate(rng: np.random.Generator, n: int, *, shifted: bool) -> dict[str, np.ndarray]:
    """n rows of the demo model's features; `shifted` moves amount, age and distance_km."""
    age = rng.normal(52 if shifted else 42, 12, n).clip(18, 95)
    age[rng.random(n) < 0.02] = np.nan  # some clients leave age out
    return {
        "amount": rng.lognormal(3.5, 0.8, n) * (AMOUNT_SHIFT if shifted else 1.0),
        "age": age,
        "tenure_days": rng.exponential(400, n),
        "num_items": rng.poisson(3, n).astype(np.float64),
        "hour": rng.integers(0, 24, n).astype(np.float64),
        "distance_km": rng.lognormal(2.8 if shifted else 2.0, 1.0, n),
        "external_score": rng.beta(2, 5, n),
        "txn_velocity": rng.gamma(2, 1.5, n),
        "country": COUNTRIES[rng.integers(0, len(COUNTRIES), n)],
    }


def fraud_score(amount: np.ndarray) -> np.ndarray:
    """The demo model: its output follows `amount`, so input drift shows up as output drift."""
    return 1 / (1 + np.exp(-(amount / 100 - 1)))


def ground_truth(rng: np.random.Generator, amount: np.ndarray, *, shifted: bool) -> np.ndarray:
    """0/1 fraud labels: the model's class (score > 0.5) for the amount before any shift, 5 % flipped."""
    fraud = fraud_score(amount / (AMOUNT_SHIFT if shifted else 1.0)) > 0.5
    return (fraud ^ (rng.random(amount.size) < LABEL_NOISE)).astype(np.int64)


def reference_parquet(rng: np.random.Generator, n: int = 20_000) -> bytes:
    cols = generate(rng, n, shifted=False)
    frame = pl.DataFrame(cols | {"prediction": fraud_score(cols["amount"])})  # training data with model outputs
    buf = io.BytesIO()
    frame.with_columns(pl.col("age").fill_nan(None)).write_parquet(buf)
    return buf.getvalue()


def ndjson_records(
    rng: np.random.Generator, request_ids: list[str], *, shifted: bool
) -> tuple[bytes, list[dict[str, object]]]:
    """An NDJSON body of prediction records, and the ground-truth labels that will follow them."""
    n = len(request_ids)
    cols = generate(rng, n, shifted=shifted)
    score = fraud_score(cols["amount"]).tolist()
    truth = ground_truth(rng, cols["amount"], shifted=shifted).tolist()
    columns = {k: [None if x != x else x for x in v.tolist()] for k, v in cols.items()}  # x != x: NaN
    now = time.time()
    body = b"\n".join(
        orjson.dumps(
            {
                "model": DEMO_MODEL,
                "model_version": "v3",
                "request_id": request_ids[i],
                "timestamp": now,
                "features": {k: columns[k][i] for k in columns},
                "prediction": score[i],
            }
        )
        for i in range(n)
    )
    labels = [{"model": DEMO_MODEL, "request_id": r, "label": t} for r, t in zip(request_ids, truth, strict=True)]
    return body, labels


class TraceLoad:
    """The model server's own spans, one SERVER span per request, through the real OTLP exporter."""

    def __init__(self, base_url: str, rng: np.random.Generator) -> None:
        self.rng = rng
        self.provider = TracerProvider(resource=Resource.create({"service.name": DEMO_SERVICE}))
        self.provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=f"{base_url}/v1/traces")))
        self.tracer = self.provider.get_tracer("driftwarden.demo")

    def backfill(self, minutes: int = HISTORY_MINUTES, per_minute: int = 5) -> None:
        """The model server's healthy last hour, as a collector would forward it late, with its own times:
        the SLO's burn-rate windows need that much history before they may page."""
        now = time.time_ns()
        for minute in range(minutes, 0, -1):
            self.emit(per_minute, regressed=False, end=now - minute * 60 * 10**9)

    def emit(self, n: int, *, regressed: bool, end: int | None = None) -> None:
        end = time.time_ns() if end is None else end
        durations = self.rng.lognormal(np.log(0.3 if regressed else 0.06), 0.5, n)
        errors = self.rng.random(n) < 0.002
        for d, failed in zip(durations.tolist(), errors.tolist(), strict=True):
            span = self.tracer.start_span(
                "POST /v1/models/fraud:predict",
                kind=SpanKind.SERVER,
                start_time=end - int(d * 1e9),
                attributes={
                    "http.route": "/v1/models/fraud:predict",
                    "model.name": DEMO_MODEL,
                    "http.response.status_code": 500 if failed else 200,
                },
            )
            if failed:
                span.set_status(Status(StatusCode.ERROR))
            span.end(end_time=end)

    def close(self) -> None:
        self.provider.shutdown()


async def run_load(base_url: str, *, duration: float, rate: float, console: Console, seed: int = 42) -> int:
    """Fit the reference, then post `rate` records/s (and spans) for `duration` s, shifting at duration/2."""
    rng = np.random.default_rng(seed)
    shift_at, revert_at = duration / 2, duration * 3 / 4
    sent = matched = seq = 0
    run = secrets.token_hex(4)  # request ids unique across runs sharing a state file
    delayed: deque[tuple[float, list[dict[str, object]]]] = deque()  # (sent at, labels) waiting for LABEL_DELAY
    traces = TraceLoad(base_url, rng)
    await asyncio.to_thread(traces.backfill)
    async with httpx.AsyncClient(base_url=base_url, timeout=30) as client:
        r = await client.put(
            f"/v1/models/{DEMO_MODEL}/reference",
            content=reference_parquet(rng),
            headers={"content-type": "application/vnd.apache.parquet"},
        )
        r.raise_for_status()
        summary = r.json()
        numeric = sum(1 for f in summary["features"] if f["kind"] == "numeric")
        console.print(
            f"  reference fitted for model [bold]{DEMO_MODEL}[/]: {summary['rows']:,} rows, {numeric} numeric features"
        )
        console.print(
            f"  sending ~{rate:,.0f} predictions/s for {duration:.0f}s; at +{shift_at:.0f}s "
            f"{', '.join(SHIFTED_FEATURES)} shift and the other features stay put; at +{revert_at:.0f}s "
            f"the shift is rolled back; each batch's ground truth follows {LABEL_DELAY:.0f}s later (POST /v1/labels)"
        )
        start = time.monotonic()
        batch = max(1, int(rate / 4))
        announced = reverted = False
        next_progress = 10.0
        while (elapsed := time.monotonic() - start) < duration:
            shifted = shift_at <= elapsed < revert_at
            if not shifted and announced and not reverted:
                console.print(
                    f"  [+{elapsed:.0f}s] [bold green]shift rolled back[/]: traffic looks like the reference again"
                )
                reverted = True
            if shifted and not announced:
                console.print(
                    f"  [+{elapsed:.0f}s] [bold yellow]shift injected[/]: amount x1.6, age +10 years, distance_km x2.2;"
                    " latency regresses from 60 ms to 300 ms median"
                )
                announced = True
            ids = [f"{run}-{seq + i}" for i in range(batch)]
            seq += batch
            body, labels = ndjson_records(rng, ids, shifted=shifted)
            traces.emit(max(1, batch // 10), regressed=shifted)
            r = await client.post("/v1/predictions", content=body, headers={"content-type": "application/x-ndjson"})
            if r.status_code == 200:
                sent += r.json()["accepted"]
            delayed.append((time.monotonic(), labels))
            due: list[dict[str, object]] = []
            while delayed and time.monotonic() - delayed[0][0] >= LABEL_DELAY:
                due += delayed.popleft()[1]
            if due:
                r = await client.post("/v1/labels", json=due)
                if r.status_code == 200:
                    matched += r.json()["matched"]
            if elapsed >= next_progress:
                console.print(f"  [+{elapsed:.0f}s] {sent:,} records sent, {matched:,} labels matched")
                next_progress += 10.0
            await asyncio.sleep(max(0.0, batch / rate - (time.monotonic() - start - elapsed)))
    await asyncio.to_thread(traces.close)
    return sent


def describe(report: DriftReport, previous: DriftReport | None, console: Console, started: float, listen: str) -> None:
    """Say in plain words what changed since the last evaluation."""
    now = f"[+{time.monotonic() - started:.0f}s]"
    drifted = {f.name for f in report.drifted_features}
    before = {f.name for f in previous.drifted_features} if previous else set()
    if previous is not None and drifted == before and report.drifted == previous.drifted:
        return
    if not drifted:
        console.print(f"  {now} [green]no drift[/]: {report.summary()}")
        return
    headline = "[bold red]DRIFT DETECTED[/]" if report.drifted else "[yellow]features drifting[/]"
    console.print(f"  {now} {headline} {report.summary()}")
    for f in sorted(report.features, key=lambda f: (not f.drifted, f.name)):
        test = "ks" if f.kind == "numeric" else "chi2"
        if test in f.scores:
            mark = "[red]drifted[/]" if f.drifted else "ok"
            console.print(
                f"        {f.name:<15} PSI {f.scores['psi']:6.3f}  {test.upper():<4} {f.scores[test]:7.3f}  "
                f"p(BH) {f.pvalues_adjusted[test]:.1e}  {mark}"
            )
    console.print(f"        see it: curl -s {listen}/metrics | grep drifted")


def describe_slo(
    slo: str, findings: list[SLOBurnFinding], previous: list[SLOBurnFinding], console: Console, started: float
) -> None:
    now = f"[+{time.monotonic() - started:.0f}s]"
    before = {f.subject for f in previous}
    for f in findings:
        if f.subject not in before:
            color = "bold red" if f.severity.value == "page" else "yellow"
            console.print(
                f"  {now} [{color}]SLO {slo}: {f.severity.value.upper()}[/] error budget burning "
                f"{f.value:.1f}x over {f.windows} (threshold {f.threshold}x); "
                f"{budget_left(f.budget_remaining)}"
            )
    if previous and not findings:
        console.print(f"  {now} [green]SLO {slo}: burn rates back under their thresholds[/]")


def budget_left(remaining: float) -> str:
    return "the budget is exhausted" if remaining <= 0 else f"{remaining:.0%} of the budget left"


class QualityWatch:
    """Say when the labels give the model a baseline accuracy, when it falls and when it recovers."""

    def __init__(self, console: Console, started: float, *, window: int, listen: str) -> None:
        self.console = console
        self.started = started
        self.window = window
        self.listen = listen
        self.baseline = False
        self.degraded = False

    def __call__(self, views: DaemonViews, model: str) -> None:
        state = next((s for s in views.states() if s.model == model), None)
        if state is None or "accuracy" not in state.quality_baseline or "accuracy" not in state.quality:
            return
        now = f"[+{time.monotonic() - self.started:.0f}s]"
        baseline, accuracy = state.quality_baseline["accuracy"], state.quality["accuracy"]
        if not self.baseline:
            self.baseline = True
            self.console.print(
                f"  {now} labels joined: realized accuracy {baseline:.1%} (F1 {state.quality_baseline['f1']:.2f}) "
                f"over the first {self.window:,} labelled predictions is {model}'s quality baseline"
            )
        if not self.degraded and accuracy <= baseline - QUALITY_DROP:
            self.degraded = True
            self.console.print(
                f"  {now} [bold red]QUALITY DEGRADED[/]: realized accuracy {accuracy:.1%} against {baseline:.1%} "
                "at baseline, the labels say the model misjudges the shifted amounts"
            )
            self.console.print(f"        see it: curl -s {self.listen}/metrics | grep model_quality")
        elif self.degraded and accuracy > baseline - QUALITY_DROP / 2:
            self.degraded = False
            self.console.print(
                f"  {now} [green]quality recovered[/]: realized accuracy {accuracy:.1%} (baseline {baseline:.1%})"
            )


def run_demo(*, listen: str, state: Path, duration: float, rate: float, stay: bool) -> None:
    """Serve the daemon and drive the load against it over loopback HTTP; alerts go to a local sink."""
    console = Console(highlight=False)
    secret = secrets.token_hex(16)
    sink = WebhookSink(secret=secret.encode()).start()
    secret_file = state.parent / "demo-hmac-secret"
    secret_file.parent.mkdir(parents=True, exist_ok=True)
    secret_file.write_text(secret)
    secret_file.chmod(0o600)
    config = load_config(
        None,
        listen=listen,
        state_path=str(state),
        evaluate_every="5s",
        models={DEMO_MODEL: {"critical_features": ["amount"]}},
        slos=DEMO_SLOS,
        alerting={"for": 2, "group_wait": "2s", "group_interval": "10s", "resolve_hold": "10s"},
        receivers=[
            {
                "name": "local-webhook",
                "type": "webhook",
                "url": f"{sink.url}/alerts",
                "hmac_secret_file": str(secret_file),
            },
            {"name": "retrain", "type": "retrain", "url": f"{sink.url}/retrain", "hmac_secret_file": str(secret_file)},
        ],
        routes=[
            {"match": {"kind": "drift"}, "receivers": ["local-webhook", "retrain"]},
            {"match": {"kind": "slo"}, "receivers": ["local-webhook"]},
        ],
    )
    started = time.monotonic()
    quality = QualityWatch(console, started, window=config.model(DEMO_MODEL).window.rows, listen=config.listen)

    def on_report(report: DriftReport, previous: DriftReport | None) -> None:
        describe(report, previous, console, started, config.listen)
        quality(app.state.views, report.model)

    app = create_app(
        config,
        on_report=on_report,
        on_slo=lambda name, f, p: describe_slo(name, f, p, console, started),
    )
    server = uvicorn.Server(server_config(config, app, log_level="warning"))

    async def serve_and_load() -> None:
        serving = asyncio.create_task(server.serve())
        while not server.started:
            if serving.done():
                return
            await asyncio.sleep(0.05)
        console.print(
            f"driftwarden demo: daemon on http://{config.listen}, state in {config.state_path}; "
            f"alerts go to a local webhook receiver at {sink.url}"
        )
        watching = asyncio.create_task(_watch_sink(sink, console, started))
        sent = await run_load(f"http://{config.listen}", duration=duration, rate=rate, console=console)
        console.print(f"  load finished: {sent:,} records accepted")
        if stay:
            console.print(
                f"  daemon still serving on http://{config.listen} (Ctrl-C to stop); "
                f"try curl -s {config.listen}/v1/alerts"
            )
        else:
            await asyncio.sleep(config.alerting.resolve_hold + 2 * config.evaluate_every + 1)
            server.should_exit = True
        await serving
        watching.cancel()

    try:
        asyncio.run(serve_and_load())
    finally:
        sink.stop()


async def _watch_sink(sink: WebhookSink, console: Console, started: float) -> None:
    """Print each notification the local receiver gets, as an on-call engineer would see it."""
    seen = 0
    while True:
        await asyncio.sleep(0.5)
        for delivery in sink.deliveries[seen:]:
            now = f"[+{time.monotonic() - started:.0f}s]"
            body: Any = delivery.json()  # the JSON our own receivers sent
            signed = "signature ok" if delivery.signed else "[red]BAD SIGNATURE[/]"
            if delivery.path == "/retrain":
                console.print(
                    f"  {now} [bold magenta]retraining triggered[/] for {body['model']} "
                    f"({', '.join(body['drifted_features']) or 'drift budget burning'}; "
                    f"Idempotency-Key {delivery.headers.get('Idempotency-Key')}; {signed})"
                )
                continue
            color = "bold red" if body["status"] == "firing" else "bold green"
            console.print(f"  {now} [{color}]ALERT {body['status'].upper()}[/] to the local webhook ({signed}):")
            for alert in body["alerts"]:
                console.print(
                    f"        {alert['status']:<8} {alert['labels']['alertname']:<20} {alert['annotations']['summary']}"
                )
        seen = len(sink.deliveries)
