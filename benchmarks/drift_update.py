"""`drift.py --section update`: `DriftDetector.update()` of a 10k-row batch into a full window
that has a reference (see `benchmarks/drift.py`).
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import time
from collections.abc import Callable
from typing import Any

import numpy as np
from drift_common import BATCH, Stream, console, fitted, table, verdict

from driftwarden.detectors.detector import DriftDetector
from driftwarden.detectors.vocabulary import Vocabulary

__all__ = ["section_update"]

TARGET_MS = 10.0  # median milliseconds of one batch update


def wall_and_cpu(fn: Callable[[], Any], repeats: int) -> tuple[list[float], list[float]]:
    """Seconds of each call: wall clock, and the process's CPU time (every thread's) across it. On a shared,
    loaded machine the wall clock also counts waiting for a core; the CPU time is the work."""
    wall, cpu = [], []
    for _ in range(repeats):
        started, started_cpu = time.perf_counter(), time.process_time()
        fn()
        wall.append(time.perf_counter() - started)
        cpu.append(time.process_time() - started_cpu)
    return wall, cpu


def section_update(args: argparse.Namespace) -> bool:
    """DriftDetector.update() of one 10k-row batch into a full 100k-row window."""
    rows, repeats = args.window_rows, args.update_repeats
    target = TARGET_MS
    console.print(
        f"\n[bold]update[/]: DriftDetector.update() of a {BATCH:,}-row batch into a full {rows:,}-row window "
        f"(reference of {rows:,} rows set), median of {repeats} updates, 5 distinct batches cycled"
    )
    out = table("batch update", "batch", "median ms", "p90 ms", "min ms", "CPU ms", "rows/s", f"target ≤ {target:g} ms")
    ok = True
    for label, n_numeric, n_categorical in (("50 numeric", 50, 0), ("40 numeric + 10 categorical (str)", 40, 10)):
        stream = Stream(n_numeric, n_categorical, args.seed)
        detector = DriftDetector("bench", fitted(stream, rows), window=rows)
        stream.fill(detector, rows)  # the ring buffer is full: every timed update overwrites the oldest rows
        batches = [stream.batch(BATCH, shifted=True) for _ in range(5)]
        it = itertools.cycle(batches)
        wall, cpu = wall_and_cpu(lambda it=it, detector=detector: detector.update(*next(it)), repeats)
        ms = np.array(wall) * 1e3
        median = float(np.median(ms))
        ok &= median <= target
        out.add_row(
            label,
            f"{median:.2f}",
            f"{np.percentile(ms, 90):.2f}",
            f"{ms.min():.2f}",
            f"{statistics.median(cpu) * 1e3:.2f}",
            f"{BATCH / median * 1e3 / 1e6:.1f} M",
            f"{median / target:.2f}x  {verdict(median <= target)}",
        )
        if n_categorical:  # where the time of the mixed batch goes
            categorical_names, categorical = batches[0][2:]
            vocabulary = Vocabulary()
            for k, name in enumerate(categorical_names):
                vocabulary.encode(name, categorical[:, k])
            encode, encode_cpu = wall_and_cpu(
                lambda v=vocabulary, c=categorical, n=categorical_names: [
                    v.encode(name, c[:, k]) for k, name in enumerate(n)
                ],
                repeats,
            )
            out.add_row(
                "  of which Vocabulary.encode, 10 str columns",
                f"{statistics.median(encode) * 1e3:.2f}",
                "",
                "",
                f"{statistics.median(encode_cpu) * 1e3:.2f}",
                "",
                "",
            )
    console.print(out)
    return ok
