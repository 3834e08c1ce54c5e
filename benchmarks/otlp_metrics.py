"""Benchmark: OTLP/HTTP metric histogram points ingested per server CPU-second, through the real daemon
over real HTTP.

Bodies are made with the real OpenTelemetry SDK: one `MeterProvider` per pod (resource `service.name`
svc-NN and `k8s.pod.name`, as a Collector forwarding a fleet sends them), each recording
`http.server.request.duration` with the HTTP conventions' bucket bounds (explicit; or exponential
with --exponential) for `--routes` routes x ok/error, lognormal durations; `--collections`
successive collections are read by an `InMemoryMetricReader` of the chosen temporality and encoded
exactly as `OTLPMetricExporter` sends them (`encode_metrics(...).SerializeToString()`), all before
the clock starts. Cumulative bodies are posted in collection order (each stream's counts grow; the
wrap back to the first is a reset), so every point is converted to a delta as in production.

Starts `driftwarden run` in a subprocess (its own GIL) with a temporary state directory, waits for
/healthz, then has `--workers` client threads POST the bodies round-robin for `--duration` seconds,
`--passes` times per temporality. Reports, per pass and as the median over passes: points/s (wall),
median latency per post, the server's CPU seconds (/proc/<pid>/stat utime+stime, read once the
ingest queue is drained) and histogram points per server CPU-second against the target of 200,000.
Every answer must be 200 with no rejected point, and driftwarden_otlp_points_total (counted +
ignored) must grow by the points posted. Exits 1 otherwise; the server is always stopped.

Run:  .venv/bin/python benchmarks/otlp_metrics.py [--workers 2 --duration 10 --passes 3 --exponential]
"""

from __future__ import annotations

import argparse
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
from opentelemetry.exporter.otlp.proto.common.metrics_encoder import encode_metrics
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceResponse
from opentelemetry.sdk.metrics import Histogram, MeterProvider
from opentelemetry.sdk.metrics.export import AggregationTemporality, InMemoryMetricReader, MetricsData
from opentelemetry.sdk.metrics.view import ExplicitBucketHistogramAggregation, ExponentialBucketHistogramAggregation
from opentelemetry.sdk.resources import Resource
from prometheus_client.parser import text_string_to_metric_families as parse_text

TARGET_POINTS_PER_CPU_S = 200_000
PROTOBUF = "application/x-protobuf"
HTTP_BOUNDS = [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0]


@dataclass
class Tally:
    lock: threading.Lock = field(default_factory=threading.Lock)
    latencies: list[float] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)
    points: int = 0  # points in posts answered 200 with nothing rejected
    rejected: int = 0
    errors: Counter[str] = field(default_factory=Counter)
    posts: int = 0


@dataclass
class Body:
    data: bytes
    points: int


# -- bodies ---------------------------------------------------------------------------------------------------------
def collections(args: argparse.Namespace, temporality: str) -> list[Body]:
    """`args.collections` successive collections of every pod's histograms, one body per collection."""
    rng = np.random.default_rng(args.seed)
    preferred = AggregationTemporality.DELTA if temporality == "delta" else AggregationTemporality.CUMULATIVE
    aggregation = (
        ExponentialBucketHistogramAggregation() if args.exponential else ExplicitBucketHistogramAggregation(HTTP_BOUNDS)
    )
    pods = []
    for pod in range(args.pods):
        reader = InMemoryMetricReader(
            preferred_temporality={Histogram: preferred}, preferred_aggregation={Histogram: aggregation}
        )
        resource = Resource.create({"service.name": f"svc-{pod % args.services:02d}", "k8s.pod.name": f"pod-{pod}"})
        provider = MeterProvider(resource=resource, metric_readers=[reader])
        histogram = provider.get_meter("opentelemetry.instrumentation.fastapi").create_histogram(
            "http.server.request.duration", unit="s"
        )
        pods.append((reader, histogram))
    attributes = [
        {
            "http.request.method": "POST",
            "http.route": f"/v1/route-{r}",
            "http.response.status_code": status,
            "url.scheme": "http",
            "network.protocol.version": "1.1",
            "model.name": f"model-{r % 4}",
        }
        for r in range(args.routes)
        for status in (200, 500)
    ]
    bodies = []
    for _ in range(args.collections):
        merged = None
        for reader, histogram in pods:
            for attrs in attributes:
                for seconds in rng.lognormal(np.log(0.05), 1.0, args.per_stream).tolist():
                    histogram.record(seconds, attrs)
            data = reader.get_metrics_data()
            merged = data if merged is None else MetricsData([*merged.resource_metrics, *data.resource_metrics])
        assert merged is not None
        points = sum(
            len(m.data.data_points) for rm in merged.resource_metrics for sm in rm.scope_metrics for m in sm.metrics
        )
        bodies.append(Body(encode_metrics(merged).SerializeToString(), points))
    return bodies


# -- load -----------------------------------------------------------------------------------------------------------
def post(client: httpx.Client, body: Body, tally: Tally) -> None:
    started = time.perf_counter()
    try:
        r = client.post("/v1/metrics", content=body.data, headers={"Content-Type": PROTOBUF})
    except httpx.HTTPError as exc:
        with tally.lock:
            tally.errors[type(exc).__name__] += 1
        return
    elapsed = time.perf_counter() - started
    rejected = 0
    if r.status_code == 200:
        rejected = ExportMetricsServiceResponse.FromString(r.content).partial_success.rejected_data_points
    with tally.lock:
        tally.posts += 1
        tally.latencies.append(elapsed)
        tally.statuses[r.status_code] += 1
        tally.rejected += rejected
        tally.points += body.points if r.status_code == 200 and not rejected else 0


def worker(base: str, bodies: list[Body], next_body: list[int], lock: threading.Lock, stop_at: float, tally: Tally):
    """Posts the bodies in order across all workers (cumulative streams must grow, not jump back)."""
    with httpx.Client(base_url=base, timeout=30.0) as client:
        while time.monotonic() < stop_at:
            with lock:
                i = next_body[0]
                next_body[0] += 1
            post(client, bodies[i % len(bodies)], tally)


def sample(text: str, name: str, **labels: str) -> float:
    total = 0.0
    for family in parse_text(text):
        for s in family.samples:
            if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()):
                total += s.value
    return total


def points_seen(client: httpx.Client) -> float:
    text = client.get("/metrics").text
    return sample(text, "driftwarden_otlp_points_total", outcome="counted") + sample(
        text, "driftwarden_otlp_points_total", outcome="ignored"
    )


def wait_drained(client: httpx.Client, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if sample(client.get("/metrics").text, "driftwarden_queue_rows") == 0:
            return
        time.sleep(0.05)


@dataclass
class Pass:
    per_cpu: float
    per_wall: float
    median_ms: float
    ok: bool


def one_pass(base: str, pid: int, bodies: list[Body], args: argparse.Namespace) -> Pass:
    tally, lock, next_body = Tally(), threading.Lock(), [0]
    with httpx.Client(base_url=base, timeout=30.0) as client:
        before = points_seen(client)
        server_cpu = cpu_seconds(pid) or 0.0
        started = time.monotonic()
        threads = [
            threading.Thread(target=worker, args=(base, bodies, next_body, lock, started + args.duration, tally))
            for _ in range(args.workers)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=args.duration + 60)
        seconds = time.monotonic() - started
        wait_drained(client, 30.0)
        server_cpu = (cpu_seconds(pid) or 0.0) - server_cpu
        seen = points_seen(client) - before
    ok = (
        tally.posts > 0
        and tally.statuses[200] == tally.posts
        and not tally.errors
        and not tally.rejected
        and seen == tally.points
    )
    per_cpu = tally.points / server_cpu if server_cpu > 0 else float("nan")
    median = statistics.median(tally.latencies) * 1e3 if tally.latencies else float("nan")
    print(
        f"  {tally.posts:,} posts, {tally.points:,} points in {seconds:.1f} s ({tally.points / seconds:,.0f}/s wall); "
        f"median {median:.1f} ms per post; server CPU {server_cpu:.2f} s: {per_cpu:,.0f} points per CPU-second"
        f"{'' if ok else f'  NOT OK: statuses {dict(tally.statuses)}, rejected {tally.rejected}, seen {seen:,.0f}'}"
    )
    return Pass(per_cpu, tally.points / seconds, median, ok)


def run(args: argparse.Namespace) -> bool:
    all_ok = True
    with tempfile.TemporaryDirectory(prefix="driftwarden-bench-") as tmp:
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        server = start_server(Path(tmp), port, "traces:\n  max_label_values: 100\n")
        try:
            wait_healthy(base, server, 60.0)
            print(f"daemon: pid {server.pid} on {base}")
            for temporality in args.temporality:
                started = time.perf_counter()
                bodies = collections(args, temporality)
                kind = "exponential" if args.exponential else "explicit"
                print(
                    f"\n== {temporality}, {kind}: {len(bodies)} collections x {bodies[0].points:,} points "
                    f"({args.pods} pods x {args.routes} routes x ok/error), ~{len(bodies[0].data) / 1e3:.0f} kB "
                    f"each, built in {time.perf_counter() - started:.1f} s =="
                )
                passes = [one_pass(base, server.pid, bodies, args) for _ in range(args.passes)]
                per_cpu = statistics.median(p.per_cpu for p in passes)
                verdict = "PASS" if per_cpu >= TARGET_POINTS_PER_CPU_S else "MISS"
                print(
                    f"median of {len(passes)} passes: {per_cpu:,.0f} points per server CPU-second, "
                    f"{statistics.median(p.per_wall for p in passes):,.0f} points/s wall, "
                    f"{statistics.median(p.median_ms for p in passes):.1f} ms per post; "
                    f"target >= {TARGET_POINTS_PER_CPU_S:,}: {verdict}"
                )
                all_ok &= all(p.ok for p in passes)
        except Exception:
            print("server log (tail):\n" + (Path(tmp) / "server.log").read_text()[-3000:], file=sys.stderr)
            raise
        finally:
            stop_server(server)
    print(f"\nevery answer 200, nothing rejected, every point counted or ignored: {'yes' if all_ok else 'NO'}")
    return all_ok


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--duration", type=float, default=10.0, help="seconds of load per pass")
    p.add_argument("--passes", type=int, default=3, help="passes per temporality (the median is reported)")
    p.add_argument("--temporality", nargs="+", default=["cumulative", "delta"], choices=["cumulative", "delta"])
    p.add_argument("--exponential", action="store_true", help="exponential histograms instead of explicit buckets")
    p.add_argument("--pods", type=int, default=20, help="resources (MeterProviders) per body")
    p.add_argument("--services", type=int, default=5)
    p.add_argument("--routes", type=int, default=25, help="routes per pod (x ok/error streams)")
    p.add_argument("--per-stream", type=int, default=5, help="requests recorded per stream per collection")
    p.add_argument("--collections", type=int, default=10, help="successive collections (bodies)")
    p.add_argument("--seed", type=int, default=0)
    return 0 if run(p.parse_args()) else 1


if __name__ == "__main__":
    sys.exit(main())
