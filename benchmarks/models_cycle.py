"""In-process profile of one evaluation cycle of many models (issue 22), without HTTP or a subprocess.

Builds a `Daemon` with `benchmarks/models.py`'s shape (N models x 20 numeric features, a 5,000-row
reference fitted from one Parquet file as `driftwarden run` fits it, multivariate PCA on as by default),
fills every window with 5,000 rows, evaluates once (fits, first comparisons), then times `--cycles`
cycles after 50 new rows a model, and cycles with no new rows: process CPU time (`time.process_time`,
steadier than wall time on a shared machine) and wall time, medians, with the load average.

Run:  .venv/bin/python benchmarks/models_cycle.py --models 100 --cycles 5
      .venv/bin/python benchmarks/models_cycle.py --models 100 --profile 25   # cProfile, top 25 by tottime
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import os
import pstats
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import polars as pl
from prometheus_client import CollectorRegistry

from driftwarden.cli.run import tune_gc
from driftwarden.config import Config
from driftwarden.daemon.daemon import Daemon
from driftwarden.daemon.faults import FaultLog
from driftwarden.daemon.references import fit_reference
from driftwarden.exporters.prometheus import Instruments
from driftwarden.persistence.database import Database
from driftwarden.persistence.store import Store

FEATURES = [f"f{j:02d}" for j in range(20)]
ROWS = 5000
BATCH = 50


def build(workdir: Path, n: int, rng: np.random.Generator) -> Daemon:
    reference = workdir / "reference.parquet"
    values = rng.normal(size=(ROWS, len(FEATURES)))
    pl.DataFrame({name: values[:, j] for j, name in enumerate(FEATURES)}).write_parquet(reference)
    models = {f"m{i:03d}": {"reference": str(reference)} for i in range(n)}
    config = Config.model_validate(
        {
            "state_path": str(workdir / "state.db"),
            "gpu": {"enabled": False},
            "limits": {"max_models": max(n, 100)},
            "models": models,
        }
    )
    registry = CollectorRegistry()
    daemon = Daemon(config, Store(Database(config.state_path)), Instruments(registry), FaultLog(registry))
    for model in models:
        daemon.ingest.install_reference(model, fit_reference(reference, None, config, model))
        state = daemon.models.get_or_create(model)
        assert state is not None
        state.detector.window.append(FEATURES, rng.normal(size=(ROWS, len(FEATURES))))
    return daemon


def add_rows(daemon: Daemon, rng: np.random.Generator) -> None:
    for state in daemon.models:
        state.detector.window.append(FEATURES, rng.normal(size=(BATCH, len(FEATURES))))


def timed_cycle(daemon: Daemon) -> tuple[float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    asyncio.run(daemon.evaluator.evaluate_all())
    return time.process_time() - cpu, time.perf_counter() - wall


def sort_floor(daemon: Daemon) -> float:
    """CPU time to sort every model's window once (its numeric columns, as the comparison sorts them): the
    statistics' own least cost, measured beside the cycles so that their ratio does not depend on the machine."""
    windows = [state.detector.window.snapshot()[1] for state in daemon.models]
    started = time.process_time()
    for values in windows:
        np.sort(values, axis=0)
    return time.process_time() - started


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--models", type=int, default=100)
    p.add_argument("--cycles", type=int, default=5)
    p.add_argument("--profile", type=int, default=0, help="cProfile one cycle after new rows; print the top N")
    args = p.parse_args(argv)
    rng = np.random.default_rng(22)
    with tempfile.TemporaryDirectory(prefix="dw-cycle-") as tmp:
        daemon = build(Path(tmp), args.models, rng)
        tune_gc()  # as `driftwarden run` does once started
        timed_cycle(daemon)  # fits (PCA), first comparisons
        timed_cycle(daemon)
        if args.profile:
            add_rows(daemon, rng)
            profiler = cProfile.Profile()
            profiler.enable()
            timed_cycle(daemon)
            profiler.disable()
            pstats.Stats(profiler).sort_stats("tottime").print_stats(args.profile)
            pstats.Stats(profiler).sort_stats("cumulative").print_stats(args.profile)
            return 0
        fresh, same, floor = [], [], []
        for _ in range(args.cycles):
            add_rows(daemon, rng)
            fresh.append(timed_cycle(daemon))
            same.append(timed_cycle(daemon))
            floor.append(sort_floor(daemon))
    load = os.getloadavg()[0]
    sorts = statistics.median(floor)
    print(
        f"floor: np.sort(axis=0) of every model's window, CPU {sorts:.3f} s, median of {len(floor)} (this machine's "
        f"speed now: the cycle after new rows is {statistics.median(c for c, _ in fresh) / sorts:.1f}x it)"
    )
    for label, runs in (("after 50 new rows a model", fresh), ("no new rows", same)):
        cpu = statistics.median(c for c, _ in runs)
        wall = statistics.median(w for _, w in runs)
        print(
            f"{args.models} models, {label}: CPU {cpu:.3f} s ({cpu / args.models * 1000:.1f} ms a model), "
            f"wall {wall:.3f} s, median of {len(runs)}; CPU runs {[round(c, 3) for c, _ in runs]}; load {load:.1f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
