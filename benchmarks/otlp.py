"""Benchmark: OTLP/HTTP span ingest and /metrics scrape time, through the real daemon over real HTTP.

Spans are made with the real OpenTelemetry SDK (`TracerProvider`, SERVER spans with
`http.route`, `model.name`, `http.response.status_code`, lognormal durations, ~2 % errors,
resource `service.name`) and encoded exactly as `OTLPSpanExporter` sends them:
`encode_spans(spans).SerializeToString()` (and, with --gzip, also gzip level 9 as
`Compression.Gzip` does). All bodies are built before the clock starts.

1. Ingest: starts `driftwarden run` in a subprocess (its own GIL) on a free 127.0.0.1 port with
   a temporary state directory and two SLOs on one service, waits for /healthz, then has N client
   threads (one httpx.Client each) POST prebuilt `application/x-protobuf` bodies of `--spans`
   spans (a mix of `--services` services x `--routes` routes) to /v1/traces for `--duration`
   seconds. Every answer must be 200 and an ExportTraceServiceResponse with no rejected spans.
   Reports spans/s (wall clock), median and p99 latency per post, the server's CPU seconds
   (/proc/<pid>/stat utime+stime, read once the ingest queue is drained) and spans per
   server-CPU-second, the "on one core" figure held against the target of >= 50,000 spans/s.
   The count is cross-checked against the daemon's driftwarden_spans_total{outcome="observed"}.
2. Scrape: a fresh daemon (traces.max_label_values raised so that nothing is folded) is loaded
   with spans from `--scrape-services` services x `--scrape-routes` operations x ok/error, one
   span in every latency bucket of every series (so every bucket carries an exemplar, as under
   steady traffic), then GET /metrics is timed `--scrapes` times as plain text and as
   OpenMetrics (`Accept: application/openmetrics-text; version=1.0.0`). Reports the median,
   p90, bytes and series count against the target of <= 50 ms.

Exits 1 if an answer was not 200, a span was rejected, the counts disagree or the series are
not all there. The servers are always stopped at the end.

Run:  .venv/bin/python benchmarks/otlp.py [--workers 2 --duration 10 --gzip --scrapes 30]
"""

from __future__ import annotations

import argparse
import gzip
import os
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import numpy as np
from bench_daemon import cpu_seconds, free_port, start_server, stop_server, wait_healthy
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.trace import SpanKind, Status, StatusCode, Tracer
from prometheus_client.openmetrics.parser import text_string_to_metric_families as parse_openmetrics
from prometheus_client.parser import text_string_to_metric_families as parse_text

TARGET_SPANS_PER_CPU_S = 50_000
TARGET_SCRAPE_MS = 50.0
PROTOBUF = "application/x-protobuf"
OPENMETRICS = "application/openmetrics-text; version=1.0.0"
DURATION = "driftwarden_request_duration_seconds"
SLO_SERVICE = "svc-00"
# one duration inside each default bucket (5 ms ... 30 s, +Inf): every bucket gets an exemplar
BUCKET_FILLERS = tuple(np.geomspace(0.003, 40.0, 13).tolist())


@dataclass
class Tally:
    """What the workers saw; guarded by `lock`."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    latencies: list[float] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)
    spans: int = 0  # spans in posts answered 200 with nothing rejected
    rejected: int = 0  # partial_success.rejected_spans summed
    bad_bodies: int = 0  # 200 answers that were not an ExportTraceServiceResponse
    errors: Counter[str] = field(default_factory=Counter)  # transport errors by type
    posts: int = 0


@dataclass
class Body:
    data: bytes
    spans: int
    headers: dict[str, str]


# -- daemon -------------------------------------------------------------------------------------


def daemon_config(max_label_values: int) -> str:
    return (
        "traces:\n"
        f"  max_label_values: {max_label_values}\n"
        "slos:\n"
        f"  - {{name: {SLO_SERVICE}-latency, service: {SLO_SERVICE}, objective: 0.99, threshold: 250ms}}\n"
        f"  - {{name: {SLO_SERVICE}-availability, service: {SLO_SERVICE}, objective: 0.999}}\n"
    )


def sample(text: str, name: str, **labels: str) -> float | None:
    """The value of one sample in a Prometheus text exposition, or None."""
    for family in parse_text(text):
        for s in family.samples:
            if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()):
                return s.value
    return None


def scrape(client: httpx.Client) -> str:
    r = client.get("/metrics")
    r.raise_for_status()
    return r.text


def wait_drained(client: httpx.Client, timeout: float) -> str:
    """Scrape until the daemon's ingest queue is empty; returns the last exposition."""
    deadline = time.monotonic() + timeout
    while True:
        text = scrape(client)
        if sample(text, "driftwarden_queue_rows") == 0 or time.monotonic() > deadline:
            return text
        time.sleep(0.05)


# -- spans ----------------------------------------------------------------------------------------
def tracers(services: int) -> list[Tracer]:
    """One TracerProvider (one resource) per service, no processor: spans are kept, not exported."""
    return [
        TracerProvider(resource=Resource.create({"service.name": f"svc-{i:02d}"})).get_tracer("driftwarden-bench")
        for i in range(services)
    ]


def server_span(tracer: Tracer, service: int, route: str, seconds: float, end: int, error: bool) -> ReadableSpan:
    span = tracer.start_span(
        "POST " + route,
        kind=SpanKind.SERVER,
        start_time=end - int(seconds * 1e9),
        attributes={
            "http.request.method": "POST",
            "http.route": route,
            "http.response.status_code": 500 if error else 200,
            "model.name": f"model-{service % 4}",  # a function of the service: series = services x routes x 2
        },
    )
    if error:
        span.set_status(Status(StatusCode.ERROR))
    span.end(end_time=end)
    return span


def encode(spans: list[ReadableSpan], gzipped: bool) -> Body:
    """What OTLPSpanExporter puts on the wire (Compression.Gzip: GzipFile at its default level 9)."""
    data = encode_spans(spans).SerializeToString()
    headers = {"Content-Type": PROTOBUF}
    if gzipped:
        data = gzip.compress(data, compresslevel=9)
        headers["Content-Encoding"] = "gzip"
    return Body(data, len(spans), headers)


def ingest_spans(count: int, per_body: int, services: int, routes: int, seed: int) -> list[list[ReadableSpan]]:
    """`count` batches of `per_body` SERVER spans, services and routes mixed, ~2 % errors."""
    rng = np.random.default_rng(seed)
    ts = tracers(services)
    paths = [f"/v1/route-{j}" for j in range(routes)]
    now = time.time_ns()
    batches = []
    for _ in range(count):
        service = rng.integers(services, size=per_body).tolist()
        route = rng.integers(routes, size=per_body).tolist()
        seconds = rng.lognormal(np.log(0.05), 1.0, per_body).tolist()  # median 50 ms
        error = (rng.random(per_body) < 0.02).tolist()
        ago = rng.integers(0, 5_000_000_000, size=per_body).tolist()
        batches.append(
            [
                server_span(ts[s], s, paths[r], d, now - a, e)
                for s, r, d, e, a in zip(service, route, seconds, error, ago, strict=True)
            ]
        )
    return batches


def scrape_spans(services: int, routes: int, per_body: int) -> list[list[ReadableSpan]]:
    """Every service x route x (ok, error), one span in every latency bucket; in batches of `per_body`."""
    ts = tracers(services)
    now = time.time_ns()
    spans = [
        server_span(ts[s], s, f"/v1/route-{r}", d, now - 1_000_000_000, error)
        for s in range(services)
        for r in range(routes)
        for error in (False, True)
        for d in BUCKET_FILLERS
    ]
    return [spans[i : i + per_body] for i in range(0, len(spans), per_body)]


# -- load -----------------------------------------------------------------------------------------
def post(client: httpx.Client, body: Body, tally: Tally) -> None:
    started = time.perf_counter()
    try:
        r = client.post("/v1/traces", content=body.data, headers=body.headers)
    except httpx.HTTPError as exc:
        with tally.lock:
            tally.errors[type(exc).__name__] += 1
        return
    elapsed = time.perf_counter() - started
    rejected, parsed = 0, True
    if r.status_code == 200:
        try:
            rejected = ExportTraceServiceResponse.FromString(r.content).partial_success.rejected_spans
        except Exception:  # a DecodeError: anything but an OTLP answer
            parsed = False
    with tally.lock:
        tally.posts += 1
        tally.latencies.append(elapsed)
        tally.statuses[r.status_code] += 1
        tally.rejected += rejected
        tally.bad_bodies += int(r.status_code == 200 and not parsed)
        tally.spans += body.spans if r.status_code == 200 and parsed and not rejected else 0


def worker(base: str, bodies: list[Body], offset: int, stop_at: float, tally: Tally) -> None:
    with httpx.Client(base_url=base, timeout=30.0) as client:
        i = offset
        while time.monotonic() < stop_at:
            post(client, bodies[i % len(bodies)], tally)
            i += 1


def run_load(base: str, bodies: list[Body], workers: int, duration: float) -> tuple[Tally, float]:
    tally = Tally()
    started = time.monotonic()
    threads = [
        threading.Thread(target=worker, args=(base, bodies, k, started + duration, tally)) for k in range(workers)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=duration + 60)  # a post can take at most the client timeout past the deadline
    return tally, time.monotonic() - started


def ingest_pass(base: str, pid: int, bodies: list[Body], args: argparse.Namespace, label: str) -> bool:
    size = statistics.mean(len(b.data) for b in bodies) / 1e3
    print(f"\n== ingest, {label}: {len(bodies)} bodies x {bodies[0].spans} spans, ~{size:.0f} kB each ==")
    with httpx.Client(base_url=base, timeout=30.0) as client:
        observed_before = sample(scrape(client), "driftwarden_spans_total", outcome="observed") or 0.0
        server_cpu, client_cpu = cpu_seconds(pid), time.process_time()
        tally, seconds = run_load(base, bodies, args.workers, args.duration)
        client_cpu = time.process_time() - client_cpu
        text = wait_drained(client, 30.0)  # the span batches the loop had still queued cost CPU too
        server_cpu = (cpu_seconds(pid) or 0.0) - (server_cpu or 0.0)
    observed = (sample(text, "driftwarden_spans_total", outcome="observed") or 0.0) - observed_before

    lat = sorted(tally.latencies)
    print(f"{tally.posts:,} posts from {args.workers} workers in {seconds:.1f} s")
    print(f"statuses: {dict(sorted(tally.statuses.items()))}; rejected spans: {tally.rejected}")
    if tally.errors:
        print(f"transport errors: {dict(tally.errors)}")
    if lat:
        p99 = lat[min(len(lat) - 1, int(0.99 * len(lat)))]
        print(f"latency per post: median {statistics.median(lat) * 1e3:.1f} ms, p99 {p99 * 1e3:.1f} ms")
    print(f"observed: {tally.spans:,} spans = {tally.spans / seconds:,.0f} spans/s wall clock")
    print(f'daemon\'s driftwarden_spans_total{{outcome="observed"}} grew by {observed:,.0f}', end="")
    print(" (agrees)" if observed == tally.spans else "  DISAGREES")
    per_cpu = tally.spans / server_cpu if server_cpu > 0 else float("nan")
    print(f"cpu: server {server_cpu:.2f} s, client {client_cpu:.2f} s, ", end="")
    print(f"over {seconds:.1f} s wall on {os.cpu_count()} cores")
    print(f"server: {per_cpu:,.0f} spans per CPU-second ({server_cpu / max(tally.posts, 1) * 1e3:.2f} ms CPU per post)")
    all_ok = (
        tally.posts > 0
        and tally.statuses[200] == tally.posts
        and not tally.errors
        and not tally.rejected
        and not tally.bad_bodies
        and observed == tally.spans
    )
    print(f"every response 200, an ExportTraceServiceResponse with nothing rejected: {'yes' if all_ok else 'NO'}")
    verdict = "PASS" if per_cpu >= TARGET_SPANS_PER_CPU_S else "MISS"
    print(f"target >= {TARGET_SPANS_PER_CPU_S:,} spans/s on one core: {per_cpu:,.0f}  {verdict}")
    return all_ok


def run_ingest(args: argparse.Namespace) -> bool:
    started = time.perf_counter()
    batches = ingest_spans(args.bodies, args.spans, args.services, args.routes, args.seed)
    encodings = [("protobuf", False), ("protobuf + gzip", True)] if args.gzip else [("protobuf", False)]
    bodies = {label: [encode(b, gz) for b in batches] for label, gz in encodings}
    print(
        f"ingest bodies: {args.bodies} x {args.spans} SDK spans from {args.services} services x {args.routes} routes, "
        f"built and encoded in {time.perf_counter() - started:.1f} s"
    )
    with tempfile.TemporaryDirectory(prefix="driftwarden-bench-") as tmp:
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        server = start_server(Path(tmp), port, daemon_config(args.max_label_values))
        try:
            wait_healthy(base, server, args.startup_timeout)
            print(f"daemon: pid {server.pid} on {base}, state in {tmp}")
            return all([ingest_pass(base, server.pid, b, args, label) for label, b in bodies.items()])
        except Exception:
            print("server log (tail):\n" + (Path(tmp) / "server.log").read_text()[-3000:], file=sys.stderr)
            raise
        finally:
            stop_server(server)


# -- scrape ---------------------------------------------------------------------------------------
def time_scrapes(client: httpx.Client, headers: dict[str, str], count: int, pid: int) -> tuple[list[float], str, float]:
    times, text = [], ""
    cpu = cpu_seconds(pid)
    for _ in range(count):
        started = time.perf_counter()
        r = client.get("/metrics", headers=headers)
        times.append(time.perf_counter() - started)
        r.raise_for_status()
        text = r.text
    return times, text, ((cpu_seconds(pid) or 0.0) - (cpu or 0.0)) / count


def run_scrape(args: argparse.Namespace) -> bool:
    started = time.perf_counter()
    batches = scrape_spans(args.scrape_services, args.scrape_routes, args.spans)
    bodies = [encode(b, False) for b in batches]
    expected = args.scrape_services * args.scrape_routes * 2
    print(
        f"\n== scrape: {sum(b.spans for b in bodies):,} spans from {args.scrape_services} services x "
        f"{args.scrape_routes} routes x ok/error, one in each of {len(BUCKET_FILLERS)} buckets, "
        f"built in {time.perf_counter() - started:.1f} s =="
    )
    with tempfile.TemporaryDirectory(prefix="driftwarden-bench-") as tmp:
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        server = start_server(Path(tmp), port, daemon_config(args.max_label_values))
        try:
            wait_healthy(base, server, args.startup_timeout)
            print(f"daemon: pid {server.pid} on {base}, state in {tmp}")
            with httpx.Client(base_url=base, timeout=30.0) as client:
                tally = Tally()
                for body in bodies:
                    post(client, body, tally)
                if tally.statuses[200] != len(bodies) or tally.rejected or tally.errors:
                    print(f"loading failed: {dict(tally.statuses)}, rejected {tally.rejected}, {dict(tally.errors)}")
                    return False
                text = wait_drained(client, 30.0)
                families = {f.name: f for f in parse_text(text)}
                series = {
                    tuple(sorted(s.labels.items())) for s in families[DURATION].samples if s.name == f"{DURATION}_count"
                }
                buckets = sum(1 for s in families[DURATION].samples if s.name == f"{DURATION}_bucket")
                folded = sum(s.value for s in families["driftwarden_label_values_folded"].samples)
                print(
                    f"{DURATION}: {len(series)} series (expected {expected}), {buckets / max(len(series), 1):.0f} "
                    f"buckets each; label values folded: {folded:.0f}"
                )
                ok = len(series) == expected and not folded
                for label, headers in (("text/plain 0.0.4", {}), ("OpenMetrics 1.0.0", {"Accept": OPENMETRICS})):
                    client.get("/metrics", headers=headers)  # warm-up
                    times, body, cpu = time_scrapes(client, headers, args.scrapes, server.pid)
                    times.sort()
                    median = statistics.median(times) * 1e3
                    p90 = times[min(len(times) - 1, int(0.9 * len(times)))] * 1e3
                    lines = sum(1 for line in body.splitlines() if line and not line.startswith("#"))
                    exemplars = body.count(" # {")
                    if headers:
                        list(parse_openmetrics(body))  # raises if the exposition is not valid OpenMetrics
                    print(
                        f"{label}: {len(body.encode()) / 1e6:.2f} MB, {lines:,} samples, {exemplars:,} exemplars; "
                        f"{args.scrapes} scrapes: median {median:.1f} ms, p90 {p90:.1f} ms, "
                        f"server CPU {cpu * 1e3:.1f} ms per scrape"
                    )
                    verdict = "PASS" if median <= TARGET_SCRAPE_MS else "MISS"
                    print(f"target <= {TARGET_SCRAPE_MS:.0f} ms ({label}): {median:.1f} ms  {verdict}")
            return ok
        except Exception:
            print("server log (tail):\n" + (Path(tmp) / "server.log").read_text()[-3000:], file=sys.stderr)
            raise
        finally:
            stop_server(server)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--only", choices=("ingest", "scrape"), help="run one of the two measurements")
    p.add_argument("--workers", type=int, default=2, help="concurrent client threads")
    p.add_argument("--duration", type=float, default=10.0, help="seconds of load per ingest pass")
    p.add_argument("--spans", type=int, default=512, help="spans per post (the SDK's default max export batch)")
    p.add_argument("--bodies", type=int, default=8, help="distinct prebuilt bodies, posted round-robin")
    p.add_argument("--services", type=int, default=10, help="services in the ingest bodies")
    p.add_argument("--routes", type=int, default=5, help="routes per service in the ingest bodies")
    p.add_argument("--gzip", action="store_true", help="also run an ingest pass with gzip bodies")
    p.add_argument("--scrape-services", type=int, default=50)
    p.add_argument("--scrape-routes", type=int, default=5)
    p.add_argument("--scrapes", type=int, default=30, help="timed scrapes per format (median reported)")
    p.add_argument("--max-label-values", type=int, default=100, help="traces.max_label_values in the temp config")
    p.add_argument("--startup-timeout", type=float, default=60.0)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()

    ok = True
    if args.only in (None, "ingest"):
        ok &= run_ingest(args)
    if args.only in (None, "scrape"):
        ok &= run_scrape(args)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
