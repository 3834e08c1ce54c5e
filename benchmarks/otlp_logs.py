"""Benchmark: prediction records as OTLP log records (/v1/logs) against the same records as NDJSON
(/v1/predictions), through the real daemon over real HTTP.

Starts `driftwarden run` in a subprocess (its own GIL) on a free 127.0.0.1 port with a temporary
state directory, PUTs a reference for the model, and builds, before any clock starts, bodies of
`--records` records x `--features` numeric features plus a prediction, each record with its own
trace and span id, in three shapes:

- `ndjson`: `/v1/predictions` NDJSON lines `{"model", "features", "prediction", "trace_id", "span_id"}`;
- `log attributes`: the real SDK's log records (`LoggerProvider`, emitted in the span's context)
  with `driftwarden.features.<name>`, `driftwarden.model` and `driftwarden.prediction` attributes,
  encoded exactly as `OTLPLogExporter` sends them (`encode_logs(batch).SerializeToString()`);
- `log JSON body`: the same SDK records with the NDJSON line as their body string, no attributes.

Then `--rounds` rounds, each posting every shape in turn from `--workers` client threads for
`--duration` seconds. Every answer must be 200 with every record accepted (an
ExportLogsServiceResponse without partial_success for the logs). Per pass it reports records/s
(wall clock) and records per server CPU-second (/proc/<pid>/stat, read once the queue is
drained); then the median of each over the rounds and each log shape's ratio to NDJSON, against the
target of >= 0.8 (log records within 20 % of the NDJSON rate). The verdict is on the ratio of records
per server CPU-second: the daemon ingests on one core, so at saturation that is its rate, and unlike
wall-clock records/s it does not move with what else runs on a shared machine (both are printed).
The server is always stopped.

Run:  .venv/bin/python benchmarks/otlp_logs.py [--workers 2 --duration 5 --rounds 3 --records 512 --features 20]
"""

from __future__ import annotations

import argparse
import io
import os
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
from bench_daemon import cpu_seconds, free_port, start_server, stop_server, wait_healthy
from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.common._log_encoder import encode_logs
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceResponse
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter, SimpleLogRecordProcessor
from opentelemetry.sdk.resources import Resource
from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags

MODEL = "bench"
TARGET_RATIO = 0.8
PREFIX = "driftwarden.features."
NDJSON = {"Content-Type": "application/x-ndjson"}
PROTOBUF = {"Content-Type": "application/x-protobuf"}


@dataclass
class Body:
    data: bytes
    records: int


@dataclass
class Shape:
    name: str
    path: str
    headers: dict[str, str]
    bodies: list[Body]
    accepted: Callable[[httpx.Response], int]  # records an answer says were taken


@dataclass
class Tally:
    lock: threading.Lock = field(default_factory=threading.Lock)
    statuses: Counter[int] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)
    records: int = 0
    short: int = 0  # answers that took fewer records than sent
    posts: int = 0


@dataclass
class Pass:
    rate: float  # records/s, wall clock
    per_cpu: float  # records per server CPU-second
    ok: bool


def names(n: int) -> list[str]:
    return [f"f{j:03d}" for j in range(n)]


def put_reference(base: str, n_features: int, rows: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    values = np.column_stack([rng.normal(size=(rows, n_features)), rng.uniform(size=rows)])
    buf = io.StringIO()
    buf.write(",".join([*names(n_features), "prediction"]) + "\n")
    np.savetxt(buf, values, delimiter=",", fmt="%.6g")
    r = httpx.put(
        f"{base}/v1/models/{MODEL}/reference", content=buf.getvalue().encode(), headers={"Content-Type": "text/csv"}
    )
    r.raise_for_status()
    print(f"reference: {r.json()['rows']:,} rows x {n_features} features + prediction PUT")


def records(count: int, per_body: int, n_features: int, seed: int) -> list[list[dict]]:
    """`count` batches of `per_body` prediction records, each with its own trace and span id."""
    rng = np.random.default_rng(seed)
    cols = names(n_features)
    batches, serial = [], 0
    for _ in range(count):
        values = rng.normal(size=(per_body, n_features)).round(6).tolist()
        scores = rng.uniform(size=per_body).round(6).tolist()
        batch = []
        for row, score in zip(values, scores, strict=True):
            serial += 1
            batch.append(
                {
                    "model": MODEL,
                    "features": dict(zip(cols, row, strict=True)),
                    "prediction": score,
                    "trace_id": f"{serial:032x}",
                    "span_id": f"{serial:016x}",
                }
            )
        batches.append(batch)
    return batches


def ndjson(batch: list[dict]) -> Body:
    return Body(b"\n".join(orjson.dumps(r) for r in batch) + b"\n", len(batch))


def sdk_logs(batch: list[dict], as_body: bool) -> Body:
    """The batch as the SDK's log records, encoded as OTLPLogExporter encodes an export."""
    exporter = InMemoryLogRecordExporter()
    provider = LoggerProvider(resource=Resource.create({"service.name": "bench-model"}))
    provider.add_log_record_processor(SimpleLogRecordProcessor(exporter))
    logger = provider.get_logger("driftwarden-bench")
    for record in batch:
        span = SpanContext(int(record["trace_id"], 16), int(record["span_id"], 16), False, TraceFlags(1))
        context = trace.set_span_in_context(NonRecordingSpan(span))
        if as_body:
            body = {k: v for k, v in record.items() if k not in ("trace_id", "span_id")}
            logger.emit(body=orjson.dumps(body).decode(), context=context)
        else:
            attributes = {PREFIX + k: v for k, v in record["features"].items()}
            attributes |= {"driftwarden.model": record["model"], "driftwarden.prediction": record["prediction"]}
            logger.emit(body="prediction", attributes=attributes, context=context)
    data = encode_logs(exporter.get_finished_logs()).SerializeToString()
    provider.shutdown()
    return Body(data, len(batch))


def accepted_ndjson(r: httpx.Response) -> int:
    return int(r.json().get("accepted", 0))


def accepted_logs(r: httpx.Response) -> int:
    """An ExportLogsServiceResponse without partial_success took all of its records."""
    try:
        answer = ExportLogsServiceResponse.FromString(r.content)
    except Exception:  # a DecodeError: not an OTLP answer
        return -1
    return -1 if answer.HasField("partial_success") else 1 << 62


def worker(base: str, shape: Shape, offset: int, stop_at: float, tally: Tally) -> None:
    with httpx.Client(base_url=base, timeout=30.0) as client:
        i = offset
        while time.monotonic() < stop_at:
            body = shape.bodies[i % len(shape.bodies)]
            i += 1
            try:
                r = client.post(shape.path, content=body.data, headers=shape.headers)
            except httpx.HTTPError as exc:
                with tally.lock:
                    tally.errors[type(exc).__name__] += 1
                continue
            taken = min(shape.accepted(r), body.records) if r.status_code == 200 else 0
            with tally.lock:
                tally.posts += 1
                tally.statuses[r.status_code] += 1
                tally.records += max(taken, 0)
                tally.short += int(taken != body.records)


def wait_drained(client: httpx.Client, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for line in client.get("/metrics").text.splitlines():
            if line.startswith("driftwarden_queue_rows ") and float(line.split()[1]) == 0:
                return
        time.sleep(0.05)


def run_pass(base: str, pid: int, shape: Shape, args: argparse.Namespace) -> Pass:
    tally = Tally()
    with httpx.Client(base_url=base, timeout=30.0) as client:
        cpu = cpu_seconds(pid) or 0.0
        started = time.monotonic()
        threads = [
            threading.Thread(target=worker, args=(base, shape, k, started + args.duration, tally))
            for k in range(args.workers)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=args.duration + 60)
        seconds = time.monotonic() - started
        wait_drained(client)  # the rows still queued cost the server CPU too
        cpu = (cpu_seconds(pid) or 0.0) - cpu
    ok = tally.posts > 0 and tally.statuses[200] == tally.posts and not tally.errors and not tally.short
    result = Pass(tally.records / seconds, tally.records / cpu if cpu > 0 else float("nan"), ok)
    problems = f"NOT OK: {dict(tally.statuses)} {dict(tally.errors)} short {tally.short}"
    print(
        f"  {shape.name:<16} {tally.posts:5,} posts {result.rate:10,.0f} records/s {result.per_cpu:10,.0f} "
        f"per server CPU-s  {'ok' if ok else problems}"
    )
    return result


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--workers", type=int, default=2, help="concurrent client threads")
    p.add_argument("--duration", type=float, default=5.0, help="seconds of load per pass")
    p.add_argument("--rounds", type=int, default=3, help="passes per shape (medians reported)")
    p.add_argument("--records", type=int, default=512, help="records per post (the SDK's default export batch)")
    p.add_argument("--features", type=int, default=20)
    p.add_argument("--bodies", type=int, default=8, help="distinct prebuilt bodies per shape, posted round-robin")
    p.add_argument("--reference-rows", type=int, default=10_000)
    p.add_argument("--startup-timeout", type=float, default=60.0)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()

    started = time.perf_counter()
    batches = records(args.bodies, args.records, args.features, args.seed)
    shapes = [
        Shape("ndjson", "/v1/predictions", NDJSON, [ndjson(b) for b in batches], accepted_ndjson),
        Shape("log attributes", "/v1/logs", PROTOBUF, [sdk_logs(b, False) for b in batches], accepted_logs),
        Shape("log JSON body", "/v1/logs", PROTOBUF, [sdk_logs(b, True) for b in batches], accepted_logs),
    ]
    print(
        f"bodies: {args.bodies} x {args.records} records x {args.features} features + prediction, built in "
        f"{time.perf_counter() - started:.1f} s; sizes: "
        + ", ".join(f"{s.name} {statistics.mean(len(b.data) for b in s.bodies) / 1e3:.0f} kB" for s in shapes)
    )
    results: dict[str, list[Pass]] = {s.name: [] for s in shapes}
    with tempfile.TemporaryDirectory(prefix="driftwarden-bench-") as tmp:
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        server = start_server(Path(tmp), port, f"models: {{{MODEL}: {{window: 5000}}}}\n")
        try:
            wait_healthy(base, server, args.startup_timeout)
            print(f"daemon: pid {server.pid} on {base}, state in {tmp}; {os.cpu_count()} cores")
            put_reference(base, args.features, args.reference_rows, args.seed + 1)
            for k in range(args.rounds):
                print(f"round {k + 1} of {args.rounds}:")
                for shape in shapes:
                    results[shape.name].append(run_pass(base, server.pid, shape, args))
        except Exception:
            print("server log (tail):\n" + (Path(tmp) / "server.log").read_text()[-3000:], file=sys.stderr)
            raise
        finally:
            stop_server(server)

    median = {
        name: (statistics.median(r.rate for r in runs), statistics.median(r.per_cpu for r in runs))
        for name, runs in results.items()
    }
    base_rate, base_cpu = median["ndjson"]
    print(f"\nmedians over {args.rounds} rounds:")
    for name, (rate, per_cpu) in median.items():
        line = f"  {name:<16} {rate:10,.0f} records/s {per_cpu:10,.0f} per server CPU-s"
        if name != "ndjson":
            ratio, cpu_ratio = rate / base_rate, per_cpu / base_cpu
            verdict = "PASS" if cpu_ratio >= TARGET_RATIO else "MISS"
            line += (
                f"  ratio to NDJSON: {cpu_ratio:.2f} per CPU-s (wall clock {ratio:.2f}), >= {TARGET_RATIO}: {verdict}"
            )
        print(line)
    all_ok = all(r.ok for runs in results.values() for r in runs)
    print(f"every answer 200 with every record accepted: {'yes' if all_ok else 'NO'}")
    return 0 if all_ok else 1


if __name__ == "__main__":
    sys.exit(main())
