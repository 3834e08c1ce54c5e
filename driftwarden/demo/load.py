"""The demo's load: a synthetic fraud model server that drifts half-way.

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

What happens is told by `narrative.Narrator`, which `run_load` reports its own events to.
"""

from __future__ import annotations

import asyncio
import io
import secrets
import time
from collections import deque

import httpx
import numpy as np
import orjson
import polars as pl
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import SpanKind, Status, StatusCode

from driftwarden.demo.narrative import Narrator

__all__ = ["DEMO_MODEL", "DEMO_SERVICE", "DEMO_SLOS", "SHIFTED_FEATURES", "generate", "run_load"]

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
    # training data with the model's outputs and the labels (its estimated quality is fitted on them)
    frame = pl.DataFrame(
        cols | {"prediction": fraud_score(cols["amount"]), "label": ground_truth(rng, cols["amount"], shifted=False)}
    )
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


async def run_load(base_url: str, *, duration: float, rate: float, narrator: Narrator, seed: int = 42) -> int:
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
        narrator.reference_fitted(DEMO_MODEL, r.json())
        narrator.load_plan(rate=rate, duration=duration, shift_at=shift_at, revert_at=revert_at)
        start = time.monotonic()
        batch = max(1, int(rate / 4))
        announced = reverted = False
        next_progress = 10.0
        while (elapsed := time.monotonic() - start) < duration:
            shifted = shift_at <= elapsed < revert_at
            if not shifted and announced and not reverted:
                narrator.shift_rolled_back()
                reverted = True
            if shifted and not announced:
                narrator.shift_injected(SHIFTED_FEATURES)
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
                narrator.progress(sent, matched)
                next_progress += 10.0
            await asyncio.sleep(max(0.0, batch / rate - (time.monotonic() - start - elapsed)))
    await asyncio.to_thread(traces.close)
    return sent
