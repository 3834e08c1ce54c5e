"""Benchmark: /healthz latency while /metrics (and GET /v1/slos) render a ~500k-series state.

Starts `driftwarden run` in a subprocess (its own GIL) on a free 127.0.0.1 port with a temporary
state directory, and loads it over OTLP/HTTP (hand-built protobuf, one SERVER span per label set)
with `--services` x `--models` x `--operations` label sets of the request-duration histogram:
each is 15 Prometheus series (13 buckets, _count, _sum), so the defaults (20 x 40 x 42 = 33,600
label sets) make ~504,000 series and a ~60 MB text exposition. `traces.max_label_values` and
`limits.max_series_per_metric` are raised so that nothing is folded (`--series-cap 0` leaves the
latter out, for a build that predates it).

Then, for each phase, a prober in this process GETs /healthz back to back (one keep-alive
client, `--probe-interval` apart) and records each answer's latency, while a separate process
(its own GIL, so that reading a 60 MB body does not slow the prober) runs the phase's load:

  idle      nothing else, `--idle` seconds: the floor
  metrics   GET /metrics back to back, `--scrapes` times (OpenMetrics, with exemplars, with
            `--openmetrics`)
  slos      GET /v1/slos back to back, `--slos` times

Reports per phase the /healthz median, p99 and max (ms) and the load's median time per request
and body size. With `--trickle`, a third process also posts 200-span exports to known label
sets every 100 ms throughout (ingest running during the scrapes, as in production).

Exits 1 if the daemon did not hold every label set or a request failed. The server is always
stopped at the end.

Run:  .venv/bin/python benchmarks/scrape_stall.py [--scrapes 20 --slos 5 --openmetrics --trickle]
      (before/after: run the same command with PYTHONPATH pointing at each checkout)
"""

from __future__ import annotations

import argparse
import itertools
import multiprocessing as mp
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
from bench_daemon import free_port, start_server, stop_server, wait_healthy
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span

PROTOBUF = {"content-type": "application/x-protobuf"}
DURATION_COUNT = "driftwarden_request_duration_seconds_count{"
SPANS_PER_POST = 20_000
TARGET_P99_MS = 50.0
OPENMETRICS = "application/openmetrics-text; version=1.0.0"


# -- spans ----------------------------------------------------------------------------------------
def _attribute(key: str, value: str) -> KeyValue:
    return KeyValue(key=key, value=AnyValue(string_value=value))


def label_sets(services: int, models: int, operations: int) -> list[tuple[str, str, str]]:
    return [
        (f"svc-{s:03d}", f"model-{m:03d}", f"/v1/op-{o:03d}")
        for s, m, o in itertools.product(range(services), range(models), range(operations))
    ]


def export_body(sets: list[tuple[str, str, str]], first_id: int) -> bytes:
    """One SERVER span per label set (grouped by service into resources), durations 3 ms .. 6.6 s."""
    request = ExportTraceServiceRequest()
    end = time.time_ns() - 1_000_000_000
    ids = itertools.count(first_id)
    for service, group in itertools.groupby(sets, key=lambda k: k[0]):
        resource_spans = request.resource_spans.add()
        resource_spans.resource.attributes.append(_attribute("service.name", service))
        scope = resource_spans.scope_spans.add()
        for (_, model, operation), n in zip(group, ids, strict=False):  # ids: endless
            span = scope.spans.add(
                trace_id=n.to_bytes(16, "big"),
                span_id=n.to_bytes(8, "big"),
                name="POST " + operation,
                kind=Span.SPAN_KIND_SERVER,
                start_time_unix_nano=end - 3_000_000 * (1 + n % 13) ** 3,
                end_time_unix_nano=end,
            )
            span.attributes.extend([_attribute("model.name", model), _attribute("http.route", operation)])
    return request.SerializeToString()


def chunks(items: list[tuple[str, str, str]], size: int) -> Iterator[list[tuple[str, str, str]]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


# -- load processes -------------------------------------------------------------------------------
def _repeat_get(base: str, path: str, times: int, accept: str, out: mp.Queue) -> None:  # type: ignore[type-arg]
    """In its own process: GET `path` `times` times back to back; reports (seconds, bytes, status) each."""
    with httpx.Client(base_url=base, timeout=600, headers={"accept": accept}) as client:
        for _ in range(times):
            started = time.perf_counter()
            r = client.get(path)
            out.put((time.perf_counter() - started, len(r.content), r.status_code))
    out.put(None)


def _trickle(base: str, sets: list[tuple[str, str, str]], stop: mp.Event) -> None:  # type: ignore[type-arg]
    """In its own process: a 200-span export to known label sets every 100 ms until `stop`."""
    bodies = [export_body(sets[i : i + 200], 10_000_000 + i) for i in range(0, min(len(sets), 20_000), 200)]
    with httpx.Client(base_url=base, timeout=60) as client:
        for body in itertools.cycle(bodies):
            if stop.is_set():
                return
            client.post("/v1/traces", content=body, headers=PROTOBUF)
            time.sleep(0.1)


# -- probing --------------------------------------------------------------------------------------
@dataclass
class Phase:
    name: str
    healthz_ms: list[float]
    request_s: list[float]
    body_bytes: int
    failures: int


def probe_while(base: str, interval: float, busy: Callable[[], bool]) -> list[float]:
    """/healthz latencies (ms), back to back `interval` apart, while `busy()` says so."""
    latencies: list[float] = []
    with httpx.Client(base_url=base, timeout=60) as client:
        while busy():
            started = time.perf_counter()
            client.get("/healthz").raise_for_status()
            latencies.append(1000 * (time.perf_counter() - started))
            time.sleep(interval)
    return latencies


def run_phase(name: str, base: str, path: str | None, times: int, args: argparse.Namespace) -> Phase:
    if path is None:
        deadline = time.monotonic() + args.idle
        return Phase(name, probe_while(base, args.probe_interval, lambda: time.monotonic() < deadline), [], 0, 0)
    results: mp.Queue = mp.Queue()  # type: ignore[type-arg]
    accept = OPENMETRICS if args.openmetrics and path == "/metrics" else "*/*"
    loader = mp.Process(target=_repeat_get, args=(base, path, times, accept, results))
    loader.start()
    done = threading.Event()
    timings: list[tuple[float, int, int]] = []

    def collect() -> None:
        while (item := results.get()) is not None:
            timings.append(item)
        done.set()

    collector = threading.Thread(target=collect)
    collector.start()
    healthz = probe_while(base, args.probe_interval, lambda: not done.is_set())
    collector.join()
    loader.join()
    return Phase(
        name,
        healthz,
        [t for t, _, _ in timings],
        max((b for _, b, _ in timings), default=0),
        sum(1 for *_, status in timings if status != 200),
    )


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))] if ordered else float("nan")


def report(phase: Phase) -> str:
    h = phase.healthz_ms
    line = (
        f"{phase.name:<8} /healthz n={len(h):<5} median {statistics.median(h):7.2f} ms   "
        f"p99 {percentile(h, 0.99):8.2f} ms   max {max(h):8.2f} ms"
    )
    if phase.request_s:
        line += (
            f"   | {len(phase.request_s)} requests, median {statistics.median(phase.request_s):6.2f} s, "
            f"{phase.body_bytes / 1e6:6.1f} MB"
        )
    return line


# -- main -----------------------------------------------------------------------------------------
def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--services", type=int, default=20)
    p.add_argument("--models", type=int, default=40)
    p.add_argument("--operations", type=int, default=42)
    p.add_argument("--scrapes", type=int, default=20, help="GET /metrics in the metrics phase")
    p.add_argument("--slos", type=int, default=5, help="GET /v1/slos in the slos phase")
    p.add_argument("--openmetrics", action="store_true", help="scrape as Prometheus does with exemplars on")
    p.add_argument("--idle", type=float, default=5.0, help="seconds of the idle phase")
    p.add_argument("--probe-interval", type=float, default=0.01, help="seconds between /healthz probes")
    p.add_argument("--series-cap", type=int, default=100_000, help="limits.max_series_per_metric (0: leave out)")
    p.add_argument("--trickle", action="store_true", help="keep posting spans during every phase")
    p.add_argument("--startup-timeout", type=float, default=60.0)
    args = p.parse_args()

    sets = label_sets(args.services, args.models, args.operations)
    config = f"traces: {{max_label_values: {max(args.services, args.models, args.operations) + 1}}}\n"
    if args.series_cap:
        config += f"limits: {{max_series_per_metric: {args.series_cap}}}\n"
    with tempfile.TemporaryDirectory(prefix="driftwarden-scrape-stall-") as tmp:
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        server = start_server(Path(tmp), port, config)
        stop_trickle = mp.Event()
        trickle: mp.Process | None = None
        try:
            wait_healthy(base, server, args.startup_timeout)
            started = time.perf_counter()
            with httpx.Client(base_url=base, timeout=120) as client:
                for i, part in enumerate(chunks(sets, SPANS_PER_POST)):
                    client.post("/v1/traces", content=export_body(part, 1 + i * SPANS_PER_POST), headers=PROTOBUF)
                time.sleep(1.0)  # the queue drains (applied on the daemon's loop)
                body = client.get("/metrics").text
            held = body.count(DURATION_COUNT)
            series = sum(1 for line in body.splitlines() if line and not line.startswith("#"))
            print(
                f"loaded {len(sets)} label sets in {time.perf_counter() - started:.1f} s: "
                f"{held} held, {series} series in /metrics ({len(body) / 1e6:.1f} MB)"
            )
            if held != len(sets):
                print(f"FAIL: the daemon holds {held} of {len(sets)} label sets", file=sys.stderr)
                return 1
            if args.trickle:
                trickle = mp.Process(target=_trickle, args=(base, sets, stop_trickle))
                trickle.start()
            phases = [
                run_phase("idle", base, None, 0, args),
                run_phase("metrics", base, "/metrics", args.scrapes, args),
                run_phase("slos", base, "/v1/slos", args.slos, args),
            ]
        finally:
            stop_trickle.set()
            if trickle is not None:
                trickle.join(timeout=10)
            stop_server(server)
    for phase in phases:
        print(report(phase))
    worst = max(percentile(ph.healthz_ms, 0.99) for ph in phases)
    print(f"/healthz p99 across phases: {worst:.1f} ms (target < {TARGET_P99_MS:.0f} ms)")
    return 1 if any(ph.failures for ph in phases) else 0


if __name__ == "__main__":
    sys.exit(main())
