"""Benchmark: prediction-log ingest through the real daemon over real HTTP.

Starts `driftwarden run` in a subprocess (its own GIL) on a free 127.0.0.1 port with a
temporary state directory, waits for /healthz, PUTs a reference for the model (unless
--no-reference), then has N client threads (one httpx.Client each) POST prebuilt NDJSON
bodies of `--records` records x `--features` numeric features to /v1/predictions for
`--duration` seconds (or `--posts` posts in all). Reports records/s accepted (summed from
the responses' "accepted" counts), median and p99 latency per post, 429s and any other
non-200 answers, against the target of >= 50,000 records/s. Exits 1 if a response was not
200 or did not accept every record. The server is always stopped at the end.

Run:  .venv/bin/python benchmarks/ingest.py [--workers 4 --duration 15 --records 1000 --features 50]
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
TARGET_RECORDS_PER_S = 50_000
NDJSON = {"Content-Type": "application/x-ndjson"}


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


def worker(base: str, bodies: list[bytes], records: int, stop_at: float, budget: list[int], tally: Tally) -> None:
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
                r = client.post("/v1/predictions", content=body, headers=NDJSON)
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


def run_load(base: str, bodies: list[bytes], args: argparse.Namespace) -> tuple[Tally, float]:
    tally = Tally()
    budget = [args.posts or -1]  # negative: no post budget, the duration decides
    started = time.monotonic()
    threads = [
        threading.Thread(target=worker, args=(base, bodies, args.records, started + args.duration, budget, tally))
        for _ in range(args.workers)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=args.duration + 60)  # a post can take at most the client timeout past the deadline
    return tally, time.monotonic() - started


def report(tally: Tally, seconds: float, args: argparse.Namespace) -> bool:
    rate = tally.accepted / seconds
    lat = sorted(tally.latencies)
    print(f"\n{tally.posts:,} posts of {args.records:,} records from {args.workers} workers in {seconds:.1f} s")
    print(f"statuses: {dict(sorted(tally.statuses.items()))}; 429 (queue full): {tally.statuses.get(429, 0)}")
    if tally.errors:
        print(f"transport errors: {dict(tally.errors)}")
    if lat:
        p99 = lat[min(len(lat) - 1, int(0.99 * len(lat)))]
        print(f"latency per post: median {statistics.median(lat) * 1e3:.1f} ms, p99 {p99 * 1e3:.1f} ms")
    print(f"accepted: {tally.accepted:,} records = {rate:,.0f} records/s")
    all_ok = tally.posts > 0 and tally.statuses[200] == tally.posts and not tally.errors and not tally.short
    print(f"every response 200 with all records accepted: {'yes' if all_ok else 'NO'}")
    verdict = "PASS" if rate >= TARGET_RECORDS_PER_S else "MISS"
    print(f"target >= {TARGET_RECORDS_PER_S:,} records/s: {rate:,.0f}  {verdict}")
    return all_ok


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--workers", type=int, default=4, help="concurrent client threads")
    p.add_argument("--duration", type=float, default=15.0, help="seconds of load")
    p.add_argument("--posts", type=int, default=0, help="stop after this many posts (0: none); --duration applies too")
    p.add_argument("--records", type=int, default=1000, help="records per post")
    p.add_argument("--features", type=int, default=50)
    p.add_argument("--bodies", type=int, default=8, help="distinct prebuilt bodies, posted round-robin")
    p.add_argument("--reference-rows", type=int, default=10_000)
    p.add_argument("--no-reference", action="store_true", help="do not PUT a reference first")
    p.add_argument("--startup-timeout", type=float, default=60.0)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()

    bodies = make_bodies(args.bodies, args.records, args.features, args.seed)
    size = len(bodies[0]) / 1e6
    print(f"bodies: {args.bodies} x {args.records:,} records x {args.features} features, ~{size:.2f} MB each")
    with tempfile.TemporaryDirectory(prefix="driftwarden-bench-") as tmp:
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        server = start_server(Path(tmp), port)
        try:
            wait_healthy(base, server, args.startup_timeout)
            print(f"daemon: pid {server.pid} on {base}, state in {tmp}")
            if not args.no_reference:
                put_reference(base, args.features, args.reference_rows, args.seed + 1)
            server_cpu, client_cpu = cpu_seconds(server.pid), time.process_time()
            tally, seconds = run_load(base, bodies, args)
            ok = report(tally, seconds, args)
            server_cpu = (cpu_seconds(server.pid) or 0.0) - (server_cpu or 0.0)
            client_cpu = time.process_time() - client_cpu
            print(f"cpu during the load: server {server_cpu:.1f} s, client {client_cpu:.1f} s, ", end="")
            print(f"over {seconds:.1f} s wall on {os.cpu_count()} cores")
        except Exception:
            print("server log (tail):\n" + (Path(tmp) / "server.log").read_text()[-3000:], file=sys.stderr)
            raise
        finally:
            stop_server(server)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
