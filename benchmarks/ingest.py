"""Benchmark: prediction-log ingest through the real daemon over real HTTP, NDJSON and Arrow.

Starts `driftwarden run` in a subprocess (its own GIL) on a free 127.0.0.1 port with a
temporary state directory, waits for /healthz, PUTs a reference for the model (unless
--no-reference), then, for each format, has N client threads (one httpx.Client each) POST
prebuilt bodies to /v1/predictions for `--duration` seconds (or `--posts` posts in all):
NDJSON bodies of `--records` records x `--features` numeric features, and Arrow IPC streams
(`application/vnd.apache.arrow.stream`) of `--arrow-records` rows of the same features.
Reports records/s accepted (summed from the responses' "accepted" counts), median and p99
latency per post, 429s and any other non-200 answers, and the figure that does not depend on
how many cores the clients take from a small machine: records per server CPU-second (the
daemon's user + system time from /proc/<pid>/stat, read before and after each load, after
its queue drained), against the targets of >= 100,000 (NDJSON) and >= 1,000,000 (Arrow) per
core, and the Arrow / NDJSON ratio. Exits 1 if a response was not 200 or did not accept every
record. The server is always stopped at the end.

Run:  .venv/bin/python benchmarks/ingest.py [--format both --workers 2 --duration 15 --records 1000 --features 50]
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
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import numpy as np
import orjson
from bench_daemon import cpu_seconds, free_port, start_server, stop_server, wait_healthy

MODEL = "bench"
TARGET_RECORDS_PER_S = 50_000  # wall clock, all cores: the first ingest target
TARGET_PER_CPU_S = {"ndjson": 100_000, "arrow": 1_000_000}  # per server CPU-second (issue 19)
HEADERS = {
    "ndjson": {"Content-Type": "application/x-ndjson"},
    "arrow": {"Content-Type": "application/vnd.apache.arrow.stream"},
}


@dataclass
class Tally:
    """What the workers saw; guarded by `lock`."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    latencies: list[float] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)
    accepted: int = 0
    short: int = 0  # 200 answers that accepted fewer records than sent
    errors: Counter[str] = field(default_factory=Counter)  # transport errors by type
    posts: int = 0


def names(n_features: int) -> list[str]:
    return [f"f{j:03d}" for j in range(n_features)]


def put_reference(base: str, n_features: int, rows: int, seed: int) -> None:
    values = np.random.default_rng(seed).normal(size=(rows, n_features))
    buf = io.StringIO()
    buf.write(",".join(names(n_features)) + "\n")
    np.savetxt(buf, values, delimiter=",", fmt="%.6g")
    r = httpx.put(
        f"{base}/v1/models/{MODEL}/reference",
        content=buf.getvalue().encode(),
        headers={"Content-Type": "text/csv"},
        timeout=60.0,
    )
    r.raise_for_status()
    print(f"reference: {r.json()['rows']:,} rows x {n_features} features PUT")


def make_bodies(count: int, records: int, n_features: int, seed: int) -> list[bytes]:
    """`count` distinct NDJSON bodies, built before the clock starts."""
    rng = np.random.default_rng(seed)
    cols = names(n_features)
    bodies = []
    for _ in range(count):
        values = rng.normal(size=(records, n_features)).round(6).tolist()
        lines = (orjson.dumps({"model": MODEL, "features": dict(zip(cols, row, strict=True))}) for row in values)
        bodies.append(b"\n".join(lines) + b"\n")
    return bodies


def make_arrow_bodies(count: int, records: int, n_features: int, seed: int) -> list[bytes]:
    """`count` distinct Arrow IPC streams of `records` rows (model + one float64 column per feature)."""
    import pyarrow as pa

    rng = np.random.default_rng(seed)
    bodies = []
    for _ in range(count):
        values = rng.normal(size=(records, n_features)).round(6)
        columns = {"model": pa.array([MODEL] * records)}
        columns |= {name: values[:, j] for j, name in enumerate(names(n_features))}
        table = pa.table(columns)
        sink = io.BytesIO()
        with pa.ipc.new_stream(sink, table.schema) as writer:
            writer.write_table(table)
        bodies.append(sink.getvalue())
    return bodies


def worker(
    base: str, bodies: list[bytes], records: int, stop_at: float, budget: list[int], tally: Tally, headers: dict
) -> None:
    """Post bodies round-robin until the deadline or until the shared post budget is spent."""
    with httpx.Client(base_url=base, timeout=30.0) as client:
        i = 0
        while time.monotonic() < stop_at:
            with tally.lock:
                if budget[0] == 0:
                    return
                budget[0] -= 1
            body = bodies[i % len(bodies)]
            i += 1
            started = time.perf_counter()
            try:
                r = client.post("/v1/predictions", content=body, headers=headers)
            except httpx.HTTPError as exc:
                with tally.lock:
                    tally.errors[type(exc).__name__] += 1
                continue
            elapsed = time.perf_counter() - started
            accepted = r.json().get("accepted", 0) if r.status_code == 200 else 0
            with tally.lock:
                tally.posts += 1
                tally.latencies.append(elapsed)
                tally.statuses[r.status_code] += 1
                tally.accepted += accepted
                tally.short += int(r.status_code == 200 and accepted != records)


def run_load(
    base: str, bodies: list[bytes], records: int, headers: dict, args: argparse.Namespace
) -> tuple[Tally, float]:
    tally = Tally()
    budget = [args.posts or -1]  # negative: no post budget, the duration decides
    started = time.monotonic()
    stop_at = started + args.duration
    threads = [
        threading.Thread(target=worker, args=(base, bodies, records, stop_at, budget, tally, headers))
        for _ in range(args.workers)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=args.duration + 60)  # a post can take at most the client timeout past the deadline
    return tally, time.monotonic() - started


def report(tally: Tally, seconds: float, records: int, args: argparse.Namespace) -> bool:
    rate = tally.accepted / seconds
    lat = sorted(tally.latencies)
    print(f"{tally.posts:,} posts of {records:,} records from {args.workers} workers in {seconds:.1f} s")
    print(f"statuses: {dict(sorted(tally.statuses.items()))}; 429 (queue full): {tally.statuses.get(429, 0)}")
    if tally.errors:
        print(f"transport errors: {dict(tally.errors)}")
    if lat:
        p99 = lat[min(len(lat) - 1, int(0.99 * len(lat)))]
        print(f"latency per post: median {statistics.median(lat) * 1e3:.1f} ms, p99 {p99 * 1e3:.1f} ms")
    print(f"accepted: {tally.accepted:,} records = {rate:,.0f} records/s")
    all_ok = tally.posts > 0 and tally.statuses[200] == tally.posts and not tally.errors and not tally.short
    print(f"every response 200 with all records accepted: {'yes' if all_ok else 'NO'}")
    return all_ok


def drained(base: str, timeout: float = 30.0) -> None:
    """Wait until the daemon's ingest queue is empty (its rows are in the windows), so the CPU read after
    a load counts the window updates the load caused."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        text = httpx.get(f"{base}/metrics", timeout=10.0).text
        queued = [line for line in text.splitlines() if line.startswith("driftwarden_queue_rows ")]
        if not queued or float(queued[0].split()[1]) == 0:
            return
        time.sleep(0.05)


def one_format(form: str, base: str, pid: int, args: argparse.Namespace) -> tuple[float, bool]:
    """Load the daemon with one format; (records per server CPU-second, every post fully accepted)."""
    records = args.records if form == "ndjson" else args.arrow_records
    make = make_bodies if form == "ndjson" else make_arrow_bodies
    bodies = make(args.bodies, records, args.features, args.seed)
    print(
        f"\n== {form}: {args.bodies} bodies x {records:,} records x {args.features} features, "
        f"~{len(bodies[0]) / 1e6:.2f} MB each"
    )
    server_cpu, client_cpu = cpu_seconds(pid) or 0.0, time.process_time()
    tally, seconds = run_load(base, bodies, records, HEADERS[form], args)
    drained(base)
    server_cpu = (cpu_seconds(pid) or 0.0) - server_cpu
    client_cpu = time.process_time() - client_cpu
    ok = report(tally, seconds, records, args)
    per_cpu = tally.accepted / server_cpu if server_cpu > 0 else 0.0
    print(f"cpu during the load: server {server_cpu:.1f} s, client {client_cpu:.1f} s, ", end="")
    print(f"over {seconds:.1f} s wall on {os.cpu_count()} cores")
    target = TARGET_PER_CPU_S[form]
    print(
        f"{form}: {per_cpu:,.0f} records per server CPU-second (target >= {target:,} per core: "
        f"{per_cpu / target:.2f}x)  {'PASS' if per_cpu >= target else 'MISS'}"
    )
    return per_cpu, ok


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--format", choices=["ndjson", "arrow", "both"], default="both")
    p.add_argument("--workers", type=int, default=2, help="concurrent client threads")
    p.add_argument("--duration", type=float, default=10.0, help="seconds of load per format")
    p.add_argument("--posts", type=int, default=0, help="stop after this many posts (0: none); --duration applies too")
    p.add_argument("--records", type=int, default=1000, help="records per NDJSON post")
    p.add_argument("--arrow-records", type=int, default=10_000, help="rows per Arrow post")
    p.add_argument("--features", type=int, default=50)
    p.add_argument("--bodies", type=int, default=8, help="distinct prebuilt bodies, posted round-robin")
    p.add_argument("--reference-rows", type=int, default=10_000)
    p.add_argument("--no-reference", action="store_true", help="do not PUT a reference first")
    p.add_argument("--startup-timeout", type=float, default=60.0)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()

    forms = ["ndjson", "arrow"] if args.format == "both" else [args.format]
    rates: dict[str, float] = {}
    all_ok = True
    with tempfile.TemporaryDirectory(prefix="driftwarden-bench-") as tmp:
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        server = start_server(Path(tmp), port)
        try:
            wait_healthy(base, server, args.startup_timeout)
            print(f"daemon: pid {server.pid} on {base}, state in {tmp}")
            if not args.no_reference:
                put_reference(base, args.features, args.reference_rows, args.seed + 1)
            for form in forms:
                rates[form], ok = one_format(form, base, server.pid, args)
                all_ok &= ok
        except Exception:
            print("server log (tail):\n" + (Path(tmp) / "server.log").read_text()[-3000:], file=sys.stderr)
            raise
        finally:
            stop_server(server)
    print("\n| ingest over HTTP | records per server CPU-second | target per core | ratio to target |")
    print("|---|---|---|---|")
    for form, rate in rates.items():
        size = args.records if form == "ndjson" else args.arrow_records
        target = TARGET_PER_CPU_S[form]
        print(
            f"| {form}, {size:,}-record posts x {args.features} features | {rate:,.0f} | {target:,} | "
            f"{rate / target:.2f}x |"
        )
    if len(rates) == 2 and rates["ndjson"] > 0:
        print(f"Arrow / NDJSON, per server CPU-second: {rates['arrow'] / rates['ndjson']:.1f}x")
    return 0 if all_ok else 1


if __name__ == "__main__":
    sys.exit(main())
