"""`drift.py --section update`: `DriftDetector.update()` of a 10k-row batch into a full window
that has a reference (see `benchmarks/drift.py`).
"""

from __future__ import annotations

import argparse
import itertools
import statistics

import numpy as np
from drift_common import BATCH, Stream, console, fitted, table, times_of, verdict

from driftwarden.detectors.detector import DriftDetector
from driftwarden.detectors.vocabulary import Vocabulary

__all__ = ["section_update"]

TARGET_MS = 10.0  # median milliseconds of one batch update


def section_update(args: argparse.Namespace) -> bool:
    """DriftDetector.update() of one 10k-row batch into a full 100k-row window."""
    rows, repeats = args.window_rows, args.update_repeats
    target = TARGET_MS
    console.print(
        f"\n[bold]update[/]: DriftDetector.update() of a {BATCH:,}-row batch into a full {rows:,}-row window "
        f"(reference of {rows:,} rows set), median of {repeats} updates, 5 distinct batches cycled"
    )
    out = table("batch update", "batch", "median ms", "p90 ms", "min ms", "rows/s", f"target ≤ {target:g} ms")
    ok = True
    for label, n_numeric, n_categorical in (("50 numeric", 50, 0), ("40 numeric + 10 categorical (str)", 40, 10)):
        stream = Stream(n_numeric, n_categorical, args.seed)
        detector = DriftDetector("bench", fitted(stream, rows), window=rows)
        stream.fill(detector, rows)  # the ring buffer is full: every timed update overwrites the oldest rows
        batches = [stream.batch(BATCH, shifted=True) for _ in range(5)]
        it = itertools.cycle(batches)
        ms = np.array(times_of(lambda it=it, detector=detector: detector.update(*next(it)), repeats)) * 1e3
        median = float(np.median(ms))
        ok &= median <= target
        out.add_row(
            label,
            f"{median:.2f}",
            f"{np.percentile(ms, 90):.2f}",
            f"{ms.min():.2f}",
            f"{BATCH / median * 1e3 / 1e6:.1f} M",
            f"{median / target:.2f}x  {verdict(median <= target)}",
        )
        if n_categorical:  # where the time of the mixed batch goes
            categorical_names, categorical = batches[0][2:]
            vocabulary = Vocabulary()
            for k, name in enumerate(categorical_names):
                vocabulary.encode(name, categorical[:, k])
            encode = times_of(
                lambda v=vocabulary, c=categorical, n=categorical_names: [
                    v.encode(name, c[:, k]) for k, name in enumerate(n)
                ],
                repeats,
            )
            out.add_row(
                "  of which Vocabulary.encode, 10 str columns", f"{statistics.median(encode) * 1e3:.2f}", "", "", "", ""
            )
    console.print(out)
    return ok
