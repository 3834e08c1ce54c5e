"""Benchmark: one drift evaluation (KS + PSI on every feature) against the usual alternatives.

What is measured (wall clock, `time.perf_counter`, median of `--repeats` runs):

* driftwarden: `detectors.drift.compare()` (KS + PSI, like the baselines; and separately with the default
  statistics, which add normed Wasserstein and Jensen-Shannon) against a `ReferenceProfile` fitted once (not timed);
  this sorts the current window, runs KS and PSI for every feature and builds the report.
* scipy loop: what a user would write: per column `scipy.stats.ks_2samp` plus a numpy PSI
  (10 reference-quantile bins, shares clipped at 1e-4).
* Evidently `DataDriftPreset` (default method and method="ks"), when evidently is importable;
  fewer repeats (`--evidently-repeats`), as one run takes seconds.
* floor: `np.sort(current, axis=0)`, the sort no KS implementation can skip.

It also checks once that driftwarden's KS statistics equal scipy's to 1e-12 and its
p-values to 1e-6 (and its PSI the numpy PSI's to 1e-9), and exits 1 if not.

Run:  .venv/bin/python benchmarks/drift.py [--ref-rows 100000 --cur-rows 100000 --features 50 --repeats 5]
With Evidently:  pip install -e '.[bench]'  (or any venv with evidently==0.7.23 and pandas<3)

Further sections (issue #3, "Speed"), chosen with --section (repeatable; `all` runs every one):

* compare: the benchmark above (the default).
* update: `DriftDetector.update()` of a 10k-row batch into a full 100k-row window that has a reference:
  50 numeric columns, and 40 numeric + 10 categorical string columns (target <= 10 ms median).
* floor: `DriftDetector.evaluate()` of a full 100k-row window, 50 numeric + 10 categorical features
  (Zipf-distributed strings over 20-200 categories), against np.sort(axis=0) of its numeric columns
  (target <= 2.5x that floor).
* memory: in a fresh interpreter per run, a 1M x 50 window fed in 10k-row updates and evaluated once; peak
  ru_maxrss above the interpreter after imports, against the data (1M x 50 x 8 bytes; target <= 3x), with
  the reference fitted from 1M rows, all kept and (not with --quick) sampled to 100k (max_rows); then where
  an evaluation's memory goes, step by step (Linux: high-water mark reset through /proc/self/clear_refs).
* evidently: compare() against Evidently's DataDriftPreset() at 10k, 100k and 1M rows x 50 numeric features;
  the 1M Evidently run in a subprocess, killed and reported "skipped (> 5 min)" past 300 s.
* startup: `driftwarden --help` and `driftwarden check --help` as processes (target under 0.3 s), and the heavy
  packages they import (none).
* e2e: `driftwarden check --json` on --ref-rows x --cur-rows x --features Parquet files against an Evidently
  DataDriftPreset() script reading the same files, both as processes, imports included (target >= 25x).

--quick: 3 repeats (10 updates), one Evidently run per size, no 1M Evidently run, one memory configuration.
Each section is a module next to this runner: drift_compare.py, drift_update.py, drift_floor.py,
drift_memory.py, drift_evidently.py, drift_e2e.py (shared data and timing: drift_common.py).
Example:  .venv/bin/python benchmarks/drift.py --section update --section floor --quick
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable

from drift_common import console
from drift_compare import section_compare
from drift_e2e import section_e2e, section_startup
from drift_evidently import evidently_child, section_evidently
from drift_floor import section_floor
from drift_memory import memory_child, section_memory
from drift_update import section_update

SECTIONS = ("compare", "update", "floor", "memory", "evidently", "startup", "e2e")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument(
        "--section",
        action="append",
        choices=(*SECTIONS, "all"),
        help="what to run (repeatable; default: compare, the original benchmark)",
    )
    p.add_argument("--quick", action="store_true", help="3 repeats, 1 Evidently run, no 1M Evidently run")
    p.add_argument("--ref-rows", type=int, default=100_000)
    p.add_argument("--cur-rows", type=int, default=100_000)
    p.add_argument("--features", type=int, default=50)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--evidently-repeats", type=int, default=3)
    p.add_argument("--no-evidently", action="store_true", help="skip Evidently even when installed")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--window-rows", type=int, default=100_000, help="update and floor: the window's rows")
    p.add_argument("--update-repeats", type=int, default=30)
    p.add_argument("--memory-rows", type=int, default=1_000_000)
    p.add_argument("--memory-reference-rows", type=int, default=1_000_000, help="rows the reference is fitted from")
    p.add_argument("--memory-sample", type=int, default=100_000, help="max_rows of the second memory run")
    p.add_argument("--memory-max-rows", type=int, default=None, help=argparse.SUPPRESS)
    p.add_argument("--startup-repeats", type=int, default=11, help="startup: runs of each command")
    p.add_argument("--e2e-repeats", type=int, default=5, help="e2e: runs of driftwarden check")
    p.add_argument("--memory-child", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--evidently-child", type=int, default=None, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.memory_child:
        memory_child(args)
        return 0
    if args.evidently_child:
        evidently_child(args)
        return 0
    if args.quick:
        args.repeats, args.evidently_repeats, args.update_repeats = 3, 1, 10
        args.startup_repeats, args.e2e_repeats = 5, 3
    chosen = args.section or ["compare"]
    sections = SECTIONS if "all" in chosen else tuple(s for s in SECTIONS if s in chosen)
    runners: dict[str, Callable[[], bool]] = {
        "compare": lambda: section_compare(args) == 0,
        "update": lambda: section_update(args),
        "floor": lambda: section_floor(args),
        "memory": lambda: section_memory(args),
        "evidently": lambda: section_evidently(args),
        "startup": lambda: section_startup(args),
        "e2e": lambda: section_e2e(args),
    }
    ok = True
    console.print(f"load average at start: {', '.join(f'{x:.1f}' for x in os.getloadavg())} ({os.cpu_count()} CPUs)")
    for name in sections:
        started = time.perf_counter()
        ok &= runners[name]()
        if name != "compare":
            console.print(f"[dim]({name}: {time.perf_counter() - started:.0f} s)[/]")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
