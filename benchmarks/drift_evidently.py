"""`drift.py --section evidently`: `compare()` against Evidently's `DataDriftPreset()` at 10k, 100k
and 1M rows x 50 numeric features; the 1M Evidently run in a child interpreter
(`drift.py --evidently-child`), reported "skipped" past `EVIDENTLY_TIMEOUT_S`. See `benchmarks/drift.py`.
"""

from __future__ import annotations

import argparse
import gc
import json
import subprocess
import sys

import numpy as np
from drift_common import RUNNER, console, evidently_runs, make_data, table, timed

from driftwarden.detectors.drift import compare
from driftwarden.detectors.reference import ReferenceProfile
from driftwarden.params import DriftThresholds

__all__ = ["evidently_child", "section_evidently"]

EVIDENTLY_SIZES = (10_000, 100_000, 1_000_000)
EVIDENTLY_TIMEOUT_S = 300  # the 1M-row Evidently run is skipped past this


def evidently_child(args: argparse.Namespace) -> None:
    """One DataDriftPreset() run at --evidently-child rows; prints 'ready' before it starts, then its seconds."""
    rows = args.evidently_child
    names, ref, cur = make_data(rows, rows, args.features, args.seed)
    runs = evidently_runs(names, ref, cur)
    if runs is None:
        print("not installed", flush=True)
        return
    del ref, cur
    gc.collect()
    print("ready", flush=True)
    print(json.dumps({"seconds": timed(runs["evidently DataDriftPreset()"], 1)[0]}), flush=True)


def evidently_in_subprocess(rows: int, args: argparse.Namespace) -> float | None:
    """Seconds of one run, or None when it takes longer than EVIDENTLY_TIMEOUT_S (data setup not counted)."""
    command = [sys.executable, str(RUNNER), "--evidently-child", str(rows), "--seed", str(args.seed)]
    with subprocess.Popen(command, stdout=subprocess.PIPE, text=True) as child:
        assert child.stdout is not None
        if child.stdout.readline().strip() != "ready":
            child.wait()
            return None
        try:
            child.wait(timeout=EVIDENTLY_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()
            return None
        return float(json.loads(child.stdout.read().strip().splitlines()[-1])["seconds"])


def evidently_row(rows: int, args: argparse.Namespace) -> tuple[float, float, float | None]:
    """Seconds of compare() (KS + PSI), compare() (default statistics) and DataDriftPreset() at `rows` x `rows`.

    Above 100k rows Evidently runs once in its own interpreter, after this one has let go of its data."""
    ours_ks_psi, ours, theirs = time_at_size(rows, args, with_evidently=rows <= 100_000)
    if rows > 100_000:
        gc.collect()
        theirs = evidently_in_subprocess(rows, args)
    return ours_ks_psi, ours, theirs


def time_at_size(rows: int, args: argparse.Namespace, *, with_evidently: bool) -> tuple[float, float, float | None]:
    names, ref, cur = make_data(rows, rows, args.features, args.seed)
    profile = ReferenceProfile.fit(names, ref)
    compare("bench", profile, names, cur)  # warm-up
    repeats = args.repeats if rows <= 100_000 else min(args.repeats, 3)
    ks_psi = DriftThresholds(methods=("ks", "psi"))
    ours_ks_psi = timed(lambda: compare("bench", profile, names, cur, thresholds=ks_psi), repeats)[0]
    ours = timed(lambda: compare("bench", profile, names, cur), repeats)[0]
    runs = evidently_runs(names, ref, cur) if with_evidently else None
    theirs = timed(runs["evidently DataDriftPreset()"], args.evidently_repeats)[0] if runs else None
    return ours_ks_psi, ours, theirs


def section_evidently(args: argparse.Namespace) -> bool:
    if args.no_evidently or evidently_runs(["x"], np.zeros((2, 1)), np.zeros((2, 1))) is None:
        console.print("\n[bold]evidently[/]: skipped (not installed or --no-evidently)")
        return True
    import evidently

    console.print(
        f"\n[bold]evidently[/]: reference N x current N rows x {args.features} numeric features (make_data), "
        f"Evidently {evidently.__version__} DataDriftPreset() (default: normed Wasserstein above 1,000 rows) vs "
        f"driftwarden compare(), reference fitted once (not timed); {args.evidently_repeats} Evidently runs at "
        f"10k-100k, one at 1M in a subprocess killed after {EVIDENTLY_TIMEOUT_S} s"
    )
    out = table(
        "driftwarden vs Evidently, seconds per run",
        "rows",
        "compare() KS+PSI",
        "compare() default",
        "DataDriftPreset()",
        "ours/theirs (default)",
        "ours/theirs (KS+PSI)",
    )
    for rows in EVIDENTLY_SIZES:
        if args.quick and rows > 100_000:
            out.add_row(f"{rows:,}", "", "", "skipped (--quick)", "", "")
            continue
        ours_ks_psi, ours, theirs = evidently_row(rows, args)
        if theirs is None:
            skipped = f"skipped (> {EVIDENTLY_TIMEOUT_S // 60} min)"
            out.add_row(f"{rows:,}", f"{ours_ks_psi:.3f}", f"{ours:.3f}", skipped, "", "")
            continue
        out.add_row(
            f"{rows:,}",
            f"{ours_ks_psi:.3f}",
            f"{ours:.3f}",
            f"{theirs:.2f}",
            f"{ours / theirs:.4f} ({theirs / ours:.0f}x faster)",
            f"{ours_ks_psi / theirs:.4f} ({theirs / ours_ks_psi:.0f}x faster)",
        )
    console.print(out)
    return True
