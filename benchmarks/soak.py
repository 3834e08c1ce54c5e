"""Soak: a steady load on `driftwarden run` for a long time; does its memory stay flat?

Starts the daemon as a subprocess (`bench_daemon.start_server`: its own GIL, a temporary state
directory) with a model `soak` whose reference (20 numeric features, 20,000 rows) is a Parquet
file named in the config, and an SLO on the spans' service, so drift evaluation, the alert
engine and SLO burn rates run at their defaults (every 30 s) the whole time. Then, on a fixed
schedule (not as fast as possible), for `--minutes`:

- predictions: `--rate` records/s (default 5,000) in JSON bodies of `--batch` records (20
  numeric features and a score) to POST /v1/predictions, from a pool of prebuilt bodies; half-way
  four features shift, so the verdict changes and alerts go pending and fire;
- spans: `--span-rate` SERVER spans/s (default 1,000) made with the OpenTelemetry SDK and
  encoded as `OTLPSpanExporter` does (`encode_spans`), in batches of 512 (the
  BatchSpanProcessor's size) to POST /v1/traces, their timestamps moved to "now" per post;
- a Prometheus-style GET /metrics every 15 s.

Posts are dispatched at their scheduled times to a few worker threads, each with its own
keep-alive httpx.Client; a post that cannot start on time starts late (and is counted late), so
the achieved rate shows what the daemon and this machine sustain.

Reported: the daemon's RSS (/proc/<pid>/status VmRSS every `--sample-every` s) as a table, its
growth after warm-up (mean RSS over the last minute against the mean over the last minute of
warm-up, the first 20 % of the run; over half of warm-up when that is under two minutes),
client-side p50/p99 latency per post, the achieved record and span rates, the daemon's CPU share
(/proc/<pid>/stat utime+stime over wall time; 100 % = one core), 429s and rejected records (from
the daemon's own counters too).

Exits 1 when RSS grew more than 10 % after warm-up or fewer than 95 % of the target records/s
were accepted; 2 when the daemon did not start.

Run:  .venv/bin/python benchmarks/soak.py              # 30 minutes
      .venv/bin/python benchmarks/soak.py --quick      # 5 minutes (tests/daemon/test_soak.py, marker `soak`)
      .venv/bin/python benchmarks/soak.py --minutes 1 --rate 2000
"""

from __future__ import annotations

import argparse
import heapq
import os
import queue
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import numpy as np
import orjson
import polars as pl
from bench_daemon import cpu_seconds, free_port, start_server, stop_server, wait_healthy
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.trace import SpanKind, Status, StatusCode
from prometheus_client.parser import text_string_to_metric_families
from rich.console import Console
from rich.table import Table

MODEL = "soak"
SERVICE = "soak-model"
FEATURES = [f"f{j:02d}" for j in range(20)]
SHIFTED = FEATURES[:4]  # move half-way
SPAN_BATCH = 512  # BatchSpanProcessor's max_export_batch_size
MAX_GROWTH = 0.10
MIN_RATE_SHARE = 0.95
console = Console(highlight=False)


# -- what is sent ----------------------------------------------------------------------------------


def reference_file(path: Path, rows: int, seed: int) -> Path:
    rng = np.random.default_rng(seed)
    values = rng.normal(size=(rows, len(FEATURES))) * np.arange(1, len(FEATURES) + 1)
    pl.DataFrame(values, schema=FEATURES, orient="row").write_parquet(path)
    return path


def prediction_bodies(count: int, batch: int, shifted: bool, seed: int) -> list[bytes]:
    """JSON arrays of `batch` records as an app would post them; `shifted` moves SHIFTED by 1.5 std."""
    rng = np.random.default_rng(seed)
    scale = np.arange(1, len(FEATURES) + 1)
    bodies = []
    for b in range(count):
        values = rng.normal(size=(batch, len(FEATURES))) * scale
        if shifted:
            values[:, : len(SHIFTED)] += 1.5 * scale[: len(SHIFTED)]
        scores = 1 / (1 + np.exp(-values[:, 0] / scale[0]))
        records = [
            {
                "model": MODEL,
                "model_version": "v1",
                "request_id": f"{seed}-{b}-{i}",
                "features": dict(zip(FEATURES, np.round(row, 4).tolist(), strict=True)),
                "prediction": round(float(score), 4),
            }
            for i, (row, score) in enumerate(zip(values, scores, strict=True))
        ]
        bodies.append(orjson.dumps(records))
    return bodies


def span_template(count: int, seed: int) -> tuple[ExportTraceServiceRequest, np.ndarray, np.ndarray]:
    """`count` SDK SERVER spans encoded as the OTLP exporter sends them, with each span's (end - now) and duration
    in ns, so that a post can move them to the present."""
    rng = np.random.default_rng(seed)
    tracer = TracerProvider(resource=Resource.create({"service.name": SERVICE})).get_tracer("driftwarden-soak")
    now = time.time_ns()
    durations = (rng.lognormal(np.log(0.04), 0.8, count) * 1e9).astype(np.int64)
    ends = now - rng.integers(0, 5 * 10**9, count)
    spans = []
    for end, duration, error in zip(
        ends.tolist(), durations.tolist(), (rng.random(count) < 0.01).tolist(), strict=True
    ):
        span = tracer.start_span(
            "POST /predict",
            kind=SpanKind.SERVER,
            start_time=end - duration,
            attributes={
                "http.route": "/predict",
                "model.name": MODEL,
                "http.response.status_code": 500 if error else 200,
            },
        )
        if error:
            span.set_status(Status(StatusCode.ERROR))
        span.end(end_time=end)
        spans.append(span)
    return encode_spans(spans), ends - now, durations


def fresh_spans(template: ExportTraceServiceRequest, offsets: np.ndarray, durations: np.ndarray) -> bytes:
    now = time.time_ns()
    proto_spans = [s for rs in template.resource_spans for ss in rs.scope_spans for s in ss.spans]
    for span, offset, duration in zip(proto_spans, offsets.tolist(), durations.tolist(), strict=True):
        span.end_time_unix_nano = now + offset
        span.start_time_unix_nano = now + offset - duration
    return template.SerializeToString()


# -- the load -------------------------------------------------------------------------------------


@dataclass
class Stream:
    """One kind of post and what came back."""

    name: str
    path: str
    content_type: str
    per_post: int  # records or spans in one post
    latencies: list[float] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)
    items_ok: int = 0  # records accepted / spans observed (200 answers)
    items_rejected: int = 0  # records rejected one by one in 200 answers
    late: int = 0  # posts that started more than 100 ms after their scheduled time
    lock: threading.Lock = field(default_factory=threading.Lock)


@dataclass(order=True)
class Job:
    due: float
    seq: int
    stream: Stream = field(compare=False)
    body: object = field(compare=False)  # bytes, or a callable building them at send time


def worker(base: str, jobs: queue.Queue) -> None:
    with httpx.Client(base_url=base, timeout=30.0) as client:
        while True:
            job = jobs.get()
            if job is None:
                return
            stream = job.stream
            late = time.monotonic() - job.due > 0.1
            body = job.body() if callable(job.body) else job.body
            started = time.perf_counter()
            try:
                r = client.post(stream.path, content=body, headers={"content-type": stream.content_type})
            except httpx.HTTPError as exc:
                with stream.lock:
                    stream.errors[type(exc).__name__] += 1
                continue
            elapsed = time.perf_counter() - started
            ok = rejected = 0
            if r.status_code == 200:
                if stream.content_type == "application/json":
                    answer = orjson.loads(r.content)
                    ok, rejected = answer["accepted"], answer["rejected"]
                else:
                    ok = stream.per_post
            with stream.lock:
                stream.latencies.append(elapsed)
                stream.statuses[r.status_code] += 1
                stream.items_ok += ok
                stream.items_rejected += rejected
                stream.late += late


def schedule(streams: list[tuple[Stream, float, Callable[[int], object]]], start: float, seconds: float) -> list[Job]:
    """Every post of the run: `interval` apart per stream, staggered; `body(i)` is the i-th post's body (or a
    callable that builds it at send time)."""
    jobs, seq = [], 0
    for k, (stream, interval, body) in enumerate(streams):
        for i in range(int(seconds / interval)):
            jobs.append(Job(start + (i + k / len(streams)) * interval, seq, stream, body(i)))
            seq += 1
    heapq.heapify(jobs)
    return jobs


# -- the daemon -----------------------------------------------------------------------------------


def vm_rss(pid: int) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def sampler(pid: int, every: float, start: float, stop: threading.Event, out: list[tuple[float, int]]) -> None:
    while not stop.is_set():
        rss = vm_rss(pid)
        if rss is not None:
            out.append((max(0.0, time.monotonic() - start), rss))
        stop.wait(every)


def scraper(base: str, every: float, stop: threading.Event, seen: Counter[str]) -> None:
    with httpx.Client(base_url=base, timeout=30.0) as client:
        while not stop.wait(every):
            try:
                seen[str(client.get("/metrics").status_code)] += 1
            except httpx.HTTPError as exc:
                seen[type(exc).__name__] += 1


def counters(base: str) -> dict[str, float]:
    text = httpx.get(f"{base}/metrics", timeout=30.0).text
    out: Counter[str] = Counter()
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name == "driftwarden_records_total":
                out["records"] += s.value
            elif s.name == "driftwarden_records_rejected_total":
                out[f"rejected:{s.labels.get('reason')}"] += s.value
            elif s.name == "driftwarden_requests_rejected_total":
                out[f"refused:{s.labels.get('reason')}"] += s.value
            elif s.name == "driftwarden_spans_total":
                out[f"spans:{s.labels.get('outcome')}"] += s.value
            elif s.name in ("driftwarden_queue_rows", "driftwarden_alerts_firing"):
                out[s.name.removeprefix("driftwarden_")] += s.value
            elif s.name == "driftwarden_model_drifted" and s.labels.get("model") == MODEL:
                out["drifted"] = s.value
    return dict(out)


# -- report ---------------------------------------------------------------------------------------


def mean_between(samples: list[tuple[float, int]], lo: float, hi: float) -> float:
    values = [rss for t, rss in samples if lo <= t <= hi]
    return statistics.fmean(values) if values else float("nan")


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else float("nan")


def rss_table(samples: list[tuple[float, int]], seconds: float, warmup: float, rows: int = 12) -> Table:
    table = Table(title="daemon RSS (VmRSS)")
    for column in ("t", "RSS MiB", ""):
        table.add_column(column, justify="right")
    step = max(1, len(samples) // rows)
    shown = samples[::step]
    if samples and shown[-1] is not samples[-1]:
        shown.append(samples[-1])
    for t, rss in shown:
        table.add_row(f"{t:,.0f} s", f"{rss / 2**20:,.1f}", "warm-up" if t <= warmup else "")
    return table


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=30.0, help="length of the run (default 30)")
    parser.add_argument("--quick", action="store_true", help="5 minutes")
    parser.add_argument("--rate", type=float, default=5000.0, help="prediction records per second (default 5000)")
    parser.add_argument("--batch", type=int, default=250, help="records per POST (default 250)")
    parser.add_argument("--span-rate", type=float, default=1000.0, help="spans per second (default 1000)")
    parser.add_argument("--workers", type=int, default=4, help="client threads (default 4)")
    parser.add_argument("--bodies", type=int, default=40, help="distinct prediction bodies per half (default 40)")
    parser.add_argument("--sample-every", type=float, default=5.0, help="seconds between RSS samples (default 5)")
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--startup-timeout", type=float, default=60.0)
    args = parser.parse_args(argv)
    seconds = (5.0 if args.quick else args.minutes) * 60
    warmup = 0.2 * seconds
    window = min(60.0, warmup / 2)  # "the last minute", and the second half of warm-up at most (startup excluded)

    built = time.perf_counter()
    normal = prediction_bodies(args.bodies, args.batch, False, args.seed)
    shifted = prediction_bodies(args.bodies, args.batch, True, args.seed + 1)
    template, offsets, durations = span_template(SPAN_BATCH, args.seed)
    console.print(
        f"soak: {seconds / 60:g} min, {args.rate:,.0f} records/s in posts of {args.batch} "
        f"({len(FEATURES)} features, {len(normal[0]) / 1e3:.0f} kB), {args.span_rate:,.0f} spans/s in posts of "
        f"{SPAN_BATCH}, {args.workers} client threads; bodies built in {time.perf_counter() - built:.1f} s; "
        f"{os.cpu_count()} cores"
    )

    records = Stream("predictions", "/v1/predictions", "application/json", args.batch)
    spans = Stream("spans", "/v1/traces", "application/x-protobuf", SPAN_BATCH)
    half = int(seconds * args.rate / args.batch / 2)
    span_lock = threading.Lock()

    def span_body() -> bytes:
        with span_lock:  # one template, rewritten per post
            return fresh_spans(template, offsets, durations)

    with tempfile.TemporaryDirectory(prefix="driftwarden-soak-") as tmp:
        workdir = Path(tmp)
        reference = reference_file(workdir / "reference.parquet", 20_000, args.seed)
        config = (
            f"models:\n  {MODEL}:\n    reference: {reference}\n    window: 5000\n"
            f"slos:\n  - {{name: soak-latency, service: {SERVICE}, objective: 0.99, threshold: 250ms}}\n"
            f"  - {{name: soak-availability, service: {SERVICE}, objective: 0.999}}\n"
        )
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        server = start_server(workdir, port, config)
        try:
            try:
                wait_healthy(base, server, args.startup_timeout)
            except RuntimeError as exc:
                console.print(f"[red]{exc}[/red]\n" + (workdir / "server.log").read_text()[-3000:])
                return 2
            pid = server.pid
            console.print(f"daemon: pid {pid} on {base}, state in {tmp}")
            jobs: queue.Queue = queue.Queue()
            stop = threading.Event()
            samples: list[tuple[float, int]] = []
            scrapes: Counter[str] = Counter()
            start = time.monotonic() + 0.5
            plan = schedule(
                [
                    (records, args.batch / args.rate, lambda i: (normal if i < half else shifted)[i % args.bodies]),
                    (spans, SPAN_BATCH / args.span_rate, lambda i: span_body),
                ],
                start,
                seconds,
            )
            threads = [threading.Thread(target=worker, args=(base, jobs), daemon=True) for _ in range(args.workers)]
            threads += [
                threading.Thread(target=sampler, args=(pid, args.sample_every, start, stop, samples), daemon=True),
                threading.Thread(target=scraper, args=(base, 15.0, stop, scrapes), daemon=True),
            ]
            for t in threads:
                t.start()
            cpu_before, client_cpu = cpu_seconds(pid) or 0.0, time.process_time()
            while time.monotonic() < start:
                time.sleep(0.01)
            wall_start = time.monotonic()
            last_note = wall_start
            while plan:
                job = heapq.heappop(plan)
                delay = job.due - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
                jobs.put(job)
                if time.monotonic() - last_note >= max(30.0, seconds / 10):
                    last_note = time.monotonic()
                    rss = samples[-1][1] / 2**20 if samples else float("nan")
                    console.print(
                        f"  {last_note - wall_start:5.0f} s: RSS {rss:,.0f} MiB, {records.items_ok:,} records, "
                        f"backlog {jobs.qsize()} posts"
                    )
            for _ in range(args.workers):
                jobs.put(None)
            for t in threads[: args.workers]:
                t.join(timeout=60)
            wall = time.monotonic() - wall_start
            cpu = (cpu_seconds(pid) or 0.0) - cpu_before
            client_cpu = time.process_time() - client_cpu
            stop.set()
            final = counters(base)
        finally:
            stop_server(server)

    # -- report
    growth_base = mean_between(samples, warmup - window, warmup)
    growth_end = mean_between(samples, seconds - window, seconds + 60)
    growth = growth_end / growth_base - 1
    record_rate = records.items_ok / wall
    span_rate = spans.items_ok / wall
    console.print(rss_table(samples, seconds, warmup))
    summary = Table(title="soak summary")
    summary.add_column("")
    summary.add_column("predictions", justify="right")
    summary.add_column("spans", justify="right")
    for label, fn in [
        ("target /s", lambda s, target: f"{target:,.0f}"),
        ("achieved /s", lambda s, target: f"{s.items_ok / wall:,.0f} ({s.items_ok / wall / target:.1%})"),
        ("posts", lambda s, target: f"{sum(s.statuses.values()):,}"),
        ("statuses", lambda s, target: ", ".join(f"{k}: {v:,}" for k, v in sorted(s.statuses.items()))),
        ("429", lambda s, target: f"{s.statuses[429]:,}"),
        ("rejected items", lambda s, target: f"{s.items_rejected:,}"),
        ("transport errors", lambda s, target: ", ".join(f"{k}: {v}" for k, v in s.errors.items()) or "0"),
        ("late starts (>100 ms)", lambda s, target: f"{s.late:,}"),
        ("latency p50", lambda s, target: f"{percentile(s.latencies, 50) * 1e3:.1f} ms"),
        ("latency p99", lambda s, target: f"{percentile(s.latencies, 99) * 1e3:.1f} ms"),
    ]:
        summary.add_row(label, fn(records, args.rate), fn(spans, args.span_rate))
    console.print(summary)
    console.print(
        f"daemon CPU: {cpu:,.0f} s over {wall:,.0f} s wall = {cpu / wall:.0%} of one core; "
        f"load generator CPU {client_cpu:,.0f} s = {client_cpu / wall:.0%} ({os.cpu_count()} cores shared)"
    )
    console.print(f"daemon counters at the end: {final}; /metrics scrapes: {dict(scrapes)}")
    console.print(
        f"RSS: {growth_base / 2**20:,.1f} MiB at the end of warm-up ({warmup - window:.0f}-{warmup:.0f} s), "
        f"{growth_end / 2**20:,.1f} MiB over the last {window:.0f} s: growth {growth:+.1%} (limit +{MAX_GROWTH:.0%}); "
        f"peak {max(r for _, r in samples) / 2**20:,.1f} MiB"
        if samples
        else "RSS: no samples"
    )
    failures = []
    if not growth <= MAX_GROWTH:  # NaN (no samples) fails too
        failures.append(f"RSS grew {growth:+.1%} after warm-up (limit +{MAX_GROWTH:.0%})")
    if record_rate < MIN_RATE_SHARE * args.rate:
        failures.append(f"{record_rate:,.0f} records/s accepted, under {MIN_RATE_SHARE:.0%} of {args.rate:,.0f}")
    console.print(f"spans observed: {span_rate:,.0f}/s")
    if failures:
        console.print("[red]FAIL[/red]: " + "; ".join(failures))
        return 1
    console.print("[green]PASS[/green]")
    return 0


if __name__ == "__main__":
    sys.exit(main())
