"""Benchmark: many models in one sidecar. What `driftwarden run` costs per model tracked.

For each N it starts the real daemon (`driftwarden run`, its own process) with a generated config of
N models of 20 numeric features, each with a 5,000-row reference (one Parquet file, `reference:` in
the config) and a full 5,000-row window posted over HTTP (NDJSON) drawn from the reference's distribution
(a steady sidecar: few features drift), `evaluate_every` 10 s, and reports:

  RSS           the daemon's resident memory once every window is full and evaluated (/proc)
  /metrics      the size of one text-format body (and as sent gzipped, as Prometheus asks), its series
  scrape        median wall time of `--scrapes` GETs of /metrics (one client, back to back)
  evaluation    one evaluation of all models after every model received new rows (a 50-row batch
                each): `driftwarden_evaluation_cycle_seconds{clock="wall"}` and `{clock="cpu"}`
                (the process's CPU time over the cycle: drift, findings, alerts, checkpoint)
  idle CPU      the daemon's CPU use over `--idle` seconds with no requests at all (its own
                evaluation cycles included), in % of one core
  UI, /models   median wall time of GET / (the UI overview) and GET /v1/models

Wall times on the shared 2-core machine grow with its load; the CPU figures are the steadier ones.
The targets of issue 22 are printed beside the table (at 100 models).

Run:  .venv/bin/python benchmarks/models.py                 # N = 1, 10, 50, 100, 300 (~15 min)
      .venv/bin/python benchmarks/models.py --quick         # N = 1, 10, 50 (a smoke test)
      .venv/bin/python benchmarks/models.py --models 1 100 --json out.json
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import httpx
import numpy as np
import polars as pl
from bench_daemon import cpu_seconds, free_port, stop_server, wait_healthy

FEATURES = [f"f{j:02d}" for j in range(20)]
ROWS = 5000
EVERY = 10.0  # evaluate_every, seconds
BATCH = 50  # new rows per model before the timed evaluation
TARGETS = {"evaluation": 0.5, "scrape": 0.1, "metrics_bytes": 1 << 20, "series_per_feature": 10, "ui": 0.2}


@dataclass
class Row:
    models: int
    rss_mb: float
    metrics_bytes: int
    metrics_gzip_bytes: int
    series: int
    scrape_s: float
    eval_wall_s: float
    eval_cpu_s: float
    idle_cpu_pct: float
    ui_s: float
    models_api_s: float


def model_name(i: int) -> str:
    return f"m{i:03d}"


def config(workdir: Path, n: int, reference: Path) -> str:
    models = "".join(f"  {model_name(i)}: {{reference: {reference}}}\n" for i in range(n))
    return f"limits: {{max_models: {max(n, 100)}}}\nmodels:\n{models}"


def ndjson(model: str, values: np.ndarray) -> bytes:
    head = f'{{"model":"{model}","features":{{'
    lines = [
        head + ",".join(f'"{name}":{v:.4f}' for name, v in zip(FEATURES, row, strict=True)) + "}}\n"
        for row in values.tolist()
    ]
    return "".join(lines).encode()


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def gauge(body: str, name: str, labels: str = "") -> float | None:
    prefix = f"{name}{{{labels}}} " if labels else f"{name} "
    for line in body.splitlines():
        if line.startswith(prefix):
            return float(line[len(prefix) :])
    return None


def evaluated(client: httpx.Client) -> list[float]:
    return [m["evaluated_at"] or 0.0 for m in client.get("/v1/models", params={"limit": 100_000}).json()["models"]]


def wait_evaluated_after(client: httpx.Client, since: float, n: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        stamps = evaluated(client)
        if len(stamps) >= n and min(stamps) > since:
            return
        time.sleep(0.5)
    raise RuntimeError(f"the {n} models were not all evaluated within {timeout:.0f} s")


def timed(client: httpx.Client, path: str, times: int) -> tuple[float, httpx.Response]:
    walls, answer = [], None
    for _ in range(times):
        start = time.perf_counter()
        answer = client.get(path)
        walls.append(time.perf_counter() - start)
        answer.raise_for_status()
    assert answer is not None
    return statistics.median(walls), answer


def measure(n: int, reference: Path, rng: np.random.Generator, args: argparse.Namespace) -> Row:
    with tempfile.TemporaryDirectory(prefix="dw-models-") as tmp:
        workdir = Path(tmp)
        port = free_port()
        server = _start(workdir, port, n, reference)
        base = f"http://127.0.0.1:{port}"
        try:
            wait_healthy(base, server, timeout=120)
            with httpx.Client(base_url=base, timeout=120) as client:
                posted = time.time()
                for i in range(n):
                    body = ndjson(model_name(i), rng.normal(0.0, 1.0, size=(ROWS, len(FEATURES))))
                    client.post(
                        "/v1/predictions", content=body, headers={"content-type": "application/x-ndjson"}
                    ).raise_for_status()
                wait_evaluated_after(client, posted, n, timeout=120 + n)
                time.sleep(1.0)
                rss = rss_mb(server.pid)

                before = cpu_seconds(server.pid) or 0.0
                time.sleep(args.idle)
                idle = ((cpu_seconds(server.pid) or 0.0) - before) / args.idle * 100

                posted = time.time()
                for i in range(n):
                    body = ndjson(model_name(i), rng.normal(0.0, 1.0, size=(BATCH, len(FEATURES))))
                    client.post(
                        "/v1/predictions", content=body, headers={"content-type": "application/x-ndjson"}
                    ).raise_for_status()
                wait_evaluated_after(client, posted, n, timeout=60 + n)
                time.sleep(0.5)

                scrape, answer = timed(client, "/metrics", args.scrapes)
                text = answer.text
                series = sum(1 for line in text.splitlines() if line and not line.startswith("#"))
                wall = gauge(text, "driftwarden_evaluation_cycle_seconds", 'clock="wall"') or float("nan")
                cpu = gauge(text, "driftwarden_evaluation_cycle_seconds", 'clock="cpu"') or float("nan")
                ui, _ = timed(client, "/", args.scrapes)
                models_api, _ = timed(client, "/v1/models", args.scrapes)
            return Row(
                n,
                rss,
                len(answer.content),
                answer.num_bytes_downloaded,
                series,
                scrape,
                wall,
                cpu,
                idle,
                ui,
                models_api,
            )
        finally:
            stop_server(server)


def _start(workdir: Path, port: int, n: int, reference: Path) -> subprocess.Popen[bytes]:
    """`driftwarden run` on 127.0.0.1:port with this benchmark's config (`bench_daemon.start_server`'s way)."""
    path = workdir / "driftwarden.yaml"
    path.write_text(
        f"state_path: {workdir / 'state.db'}\nevaluate_every: {EVERY:g}s\ngpu: {{enabled: false}}\n"
        + config(workdir, n, reference)
    )
    script = Path(sys.executable).with_name("driftwarden")
    command = [str(script)] if script.exists() else [sys.executable, "-m", "driftwarden"]
    log = (workdir / "server.log").open("wb")
    return subprocess.Popen(
        [*command, "run", "--config", str(path), "--listen", f"127.0.0.1:{port}"],
        stdout=log,
        stderr=subprocess.STDOUT,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )


def size(n: float) -> str:
    return f"{n / (1 << 20):.1f} MiB" if n >= 1 << 20 else f"{n / 1024:.0f} KiB"


def table(rows: list[Row]) -> str:
    head = (
        "| models | RSS | /metrics size (gzip) | series | scrape (median) | one evaluation of all models (wall / CPU) "
        "| idle CPU | UI overview | /v1/models |\n|---|---|---|---|---|---|---|---|---|\n"
    )
    body = "".join(
        f"| {r.models} | {r.rss_mb:.0f} MB | {size(r.metrics_bytes)} ({size(r.metrics_gzip_bytes)}) "
        f"| {r.series:,} | {r.scrape_s * 1000:.0f} ms "
        f"| {r.eval_wall_s:.2f} s / {r.eval_cpu_s:.2f} s | {r.idle_cpu_pct:.1f} % | {r.ui_s * 1000:.0f} ms "
        f"| {r.models_api_s * 1000:.0f} ms |\n"
        for r in rows
    )
    target = (
        f"| target at 100 | | < {size(TARGETS['metrics_bytes'])} | <= {TARGETS['series_per_feature'] * 100 * 20:,} "
        f"| < {TARGETS['scrape'] * 1000:.0f} ms | <= {TARGETS['evaluation']} s (one core) | | "
        f"< {TARGETS['ui'] * 1000:.0f} ms | < {TARGETS['ui'] * 1000:.0f} ms |\n"
    )
    return head + body + target


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--models", type=int, nargs="+", default=[1, 10, 50, 100, 300])
    p.add_argument("--quick", action="store_true", help="N = 1, 10, 50")
    p.add_argument("--scrapes", type=int, default=7, help="GETs per timed endpoint")
    p.add_argument("--idle", type=float, default=30.0, help="seconds of idle CPU measured")
    p.add_argument("--json", type=Path, help="also write the rows as JSON here")
    args = p.parse_args(argv)
    if args.quick:
        args.models, args.idle, args.scrapes = [1, 10, 50], 20.0, 5
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    rng = np.random.default_rng(22)
    rows = []
    with tempfile.TemporaryDirectory(prefix="dw-models-ref-") as tmp:
        reference = Path(tmp) / "reference.parquet"
        values = rng.normal(size=(ROWS, len(FEATURES)))
        pl.DataFrame({name: values[:, j] for j, name in enumerate(FEATURES)}).write_parquet(reference)
        for n in args.models:
            row = measure(n, reference, rng, args)
            print(json.dumps(asdict(row)), file=sys.stderr, flush=True)
            rows.append(row)
    print(table(rows))
    if args.json:
        args.json.write_text(json.dumps([asdict(r) for r in rows], indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
