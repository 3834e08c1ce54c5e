"""`drift.py --section floor`: `DriftDetector.evaluate()` of a full window, 50 numeric + 10
categorical features, against `np.sort(axis=0)` of its numeric columns (see `benchmarks/drift.py`).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

import numpy as np
from drift_common import Stream, console, fitted, table, timed, verdict

from driftwarden.detectors.detector import DriftDetector
from driftwarden.detectors.drift import compare
from driftwarden.params import DriftThresholds

__all__ = ["section_floor"]

TARGET = 2.5  # evaluate() at most this many times the sort floor


def section_floor(args: argparse.Namespace) -> bool:
    """DriftDetector.evaluate() of a full 100k-row window, 50 numeric + 10 categorical, against np.sort."""
    rows, repeats = args.window_rows, args.repeats
    target = TARGET
    stream = Stream(50, 10, args.seed)
    detector = DriftDetector("bench", fitted(stream, rows), window=rows)
    stream.fill(detector, rows)
    names, values = detector.window.snapshot()
    coded = [j for j, name in enumerate(names) if name in detector.vocabulary]
    numeric_columns = [j for j in range(len(names)) if j not in set(coded)]
    window = np.asfortranarray(values[:, numeric_columns])  # the numeric window as the ring buffer holds it
    current_categories = {names[j]: detector.vocabulary.counts(names[j], values[:, j]) for j in coded}
    numeric_names = [names[j] for j in numeric_columns]
    sizes = [len(c) for c in stream.categories]
    console.print(
        f"\n[bold]floor[/]: DriftDetector.evaluate() of a full window, {rows:,} rows x 50 numeric + 10 categorical "
        f"(Zipf over {min(sizes)}-{max(sizes)} categories), reference {rows:,} rows; median of {repeats}"
    )
    detector.evaluate()  # warm-up
    ks_psi = DriftThresholds(methods=("ks", "psi"))

    def evaluate_with(thresholds: DriftThresholds) -> Callable[[], Any]:
        def run() -> Any:
            detector.thresholds = thresholds
            return detector.evaluate()

        return run

    c_order = np.ascontiguousarray(window)
    results = {
        "floor: np.sort(numeric window, axis=0)": timed(lambda: np.sort(window, axis=0), repeats)[0],
        "evaluate(), default statistics": timed(evaluate_with(DriftThresholds()), repeats)[0],
        "evaluate(), KS + PSI": timed(evaluate_with(ks_psi), repeats)[0],
        "  of which window.snapshot()": timed(detector.window.snapshot, repeats)[0],
        "compare(numeric, current_categories=...), default": timed(
            lambda: compare("bench", detector.reference, numeric_names, window, current_categories=current_categories),
            repeats,
        )[0],
        "np.sort of the same values in C order (for reference)": timed(lambda c=c_order: np.sort(c, axis=0), repeats)[
            0
        ],
    }
    floor = results["floor: np.sort(numeric window, axis=0)"]
    out = table("full evaluation vs the sort floor", "step", "median s", "x floor", f"target ≤ {target:g}x")
    ok = True
    for label, seconds in results.items():
        judged = label.startswith("evaluate()")
        ok &= not judged or seconds / floor <= target
        out.add_row(
            label, f"{seconds:.3f}", f"{seconds / floor:.2f}", verdict(seconds / floor <= target) if judged else ""
        )
    console.print(out)
    return ok
