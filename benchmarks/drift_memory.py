"""`drift.py --section memory`: peak memory of a 1M x 50 window fed in 10k-row updates and
evaluated once, each configuration in a fresh interpreter (`drift.py --memory-child`), so that
ru_maxrss is that run's alone; then where an evaluation's memory goes, step by step (Linux: the
high-water mark reset through /proc/self/clear_refs). See `benchmarks/drift.py`.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import resource
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

import numpy as np
from drift_common import BATCH, MIB, RUNNER, Stream, console, table, verdict

from driftwarden.detectors.detector import DriftDetector
from driftwarden.detectors.drift import compare
from driftwarden.detectors.reference import ReferenceProfile

__all__ = ["memory_child", "section_memory"]

TARGET = 3.0  # peak at most this many times the window's data


def rss_now() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def peak_rss() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # KiB on Linux


def reset_peak() -> bool:
    """Lower the high-water mark (and ru_maxrss) to the current RSS (Linux >= 4.0); False where not allowed."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def memory_child(args: argparse.Namespace) -> None:
    """Prints one JSON line: RSS at each phase, the evaluation peak and where the peak goes."""
    from driftwarden.detectors import stats

    rows, features = args.memory_rows, 50
    stream = Stream(features, 0, args.seed)
    compare("warm", ReferenceProfile.fit(["x"], np.arange(100.0)[:, None]), ["x"], np.arange(50.0)[:, None])
    baseline = peak_rss()
    out: dict[str, Any] = {"rows": rows, "features": features, "baseline": baseline, "rss_baseline": rss_now()}

    reference_values = stream.numeric(args.memory_reference_rows)
    profile = ReferenceProfile.fit(stream.names, reference_values, max_rows=args.memory_max_rows)
    del reference_values
    gc.collect()
    out |= {"reference_kept": profile.rows, "fit_peak": peak_rss(), "rss_fitted": rss_now()}

    detector = DriftDetector("bench", profile, window=rows)
    stream.fill(detector, rows)
    out |= {"fill_peak": peak_rss(), "rss_filled": rss_now()}
    started = time.perf_counter()
    findings = detector.evaluate()
    out |= {"evaluate_s": time.perf_counter() - started, "peak": peak_rss(), "rss_after": rss_now()}
    out["drifted"] = len(findings)

    # where the evaluation peak goes: each step's high-water mark above the RSS it started at
    steps: list[tuple[str, int]] = []
    if reset_peak():

        def step(label: str, fn: Callable[[], Any]) -> Any:
            gc.collect()
            reset_peak()
            before = rss_now()
            result = fn()
            steps.append((label, peak_rss() - before))
            return result

        step("evaluate() as a whole (for comparison with the steps below)", detector.evaluate)
        _, snapshot = step("window.snapshot(): copy of the filled rows", detector.window.snapshot)
        ordered = step("stats.sort_columns(): a second, sorted copy", lambda: stats.sort_columns(snapshot))
        step("stats.ks_2samp(): per-column merge buffers", lambda: stats.ks_2samp(profile.sorted_values, ordered))
        step(
            "stats.wasserstein_normed(): coupling + gathers",
            lambda: stats.wasserstein_normed(profile.sorted_values, ordered, reference_std=profile.std),
        )
        step("stats.bin_counts()", lambda: stats.bin_counts(ordered, profile.edges))
        del ordered
        step("proposal: snapshot sorted in place (ndarray.sort(axis=0))", lambda: snapshot.sort(axis=0))
    out["steps"] = steps
    print(json.dumps(out))


def section_memory(args: argparse.Namespace) -> bool:
    rows = args.memory_rows
    data = rows * 50 * 8
    target = TARGET
    configs = [(rows, None)] if args.quick else [(rows, None), (rows, args.memory_sample)]
    console.print(
        f"\n[bold]memory[/]: a {rows:,}-row x 50 window (data {data / MIB:,.0f} MiB) fed in {BATCH:,}-row updates, "
        "evaluated once (default statistics), each in a fresh interpreter; "
        "peak = ru_maxrss minus ru_maxrss after imports"
    )
    results = []
    for reference_rows, max_rows in configs:
        command = [sys.executable, str(RUNNER), "--memory-child", "--memory-rows", str(rows)]
        command += ["--memory-reference-rows", str(reference_rows), "--seed", str(args.seed)]
        if max_rows:
            command += ["--memory-max-rows", str(max_rows)]
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            console.print(f"memory child failed ({done.returncode}):\n{done.stderr[-2000:]}")
            return False
        results.append(json.loads(done.stdout.strip().splitlines()[-1]))

    def mib(n: float) -> str:
        return f"{n / MIB:,.0f}"

    out = table(
        "peak memory, MiB above the interpreter after imports",
        "reference kept",
        "after fit (peak)",
        "window filled",
        "evaluate s",
        "peak",
        "peak / data",
        f"target ≤ {target:g}x",
    )
    ok = True
    for r in results:
        base = r["baseline"]
        peak = r["peak"] - base
        ok &= peak / data <= target
        out.add_row(
            f"{r['reference_kept']:,} of {args.memory_reference_rows:,} rows",
            mib(r["fit_peak"] - base),
            mib(r["rss_filled"] - r["rss_baseline"]),
            f"{r['evaluate_s']:.2f}",
            mib(peak),
            f"{peak / data:.2f}",
            verdict(peak / data <= target),
        )
    console.print(out)
    for r in results:
        if not r["steps"]:
            console.print("(no breakdown: /proc/self/clear_refs cannot be written here)")
            continue
        steps = table(
            f"where an evaluation's memory goes (reference {r['reference_kept']:,} rows), high-water mark above the "
            "step's start",
            "step",
            "MiB",
            "x data",
        )
        for label, extra in r["steps"]:
            steps.add_row(label, mib(max(extra, 0)), f"{max(extra, 0) / data:.2f}")
        console.print(steps)
    return ok
