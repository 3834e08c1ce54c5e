"""`drift.py --section startup` and `--section e2e`: the command as a user runs it, in processes.

* startup: `driftwarden --help` and `driftwarden check --help` (target under `STARTUP_TARGET_S`), beside the
  interpreter alone (`python -c pass`, the floor no command goes under); wall clock and the child's CPU time
  (user + sys, `RUSAGE_CHILDREN`), median of `--startup-repeats` runs; and the heavy packages each imports
  (`python -X importtime`: there should be none).
* e2e: `driftwarden check --reference ref.parquet --current cur.parquet --json` against what an Evidently
  user runs for the same files: a Python process that reads both with `pandas.read_parquet` and runs
  `Report([DataDriftPreset()])` (and renders its result as JSON); both started as processes, imports
  included. Reference and current are `make_data`'s --ref-rows x --cur-rows x --features (100k x 100k x 50)
  written as Parquet (polars, zstd). Target: Evidently's median at least `E2E_TARGET` times ours.

The machine may be shared: the load average is printed with each table, and CPU time is reported beside
wall time (a loaded machine stretches wall time, far less the CPU each process uses).

Run as `python benchmarks/drift_e2e.py evidently REF CUR` it is the Evidently process.
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from drift_common import console, make_data, table, verdict

__all__ = ["section_e2e", "section_startup"]

STARTUP_TARGET_S = 0.3
E2E_TARGET = 25.0  # Evidently's seconds / driftwarden's
HEAVY = ("fastapi", "uvicorn", "starlette", "polars", "numpy", "scipy", "pydantic", "yaml", "rich", "httpx", "pandas")
DRIFTWARDEN = (sys.executable, "-m", "driftwarden")


def _load() -> str:
    return ", ".join(f"{x:.1f}" for x in os.getloadavg()) + f" ({os.cpu_count()} CPUs)"


def run_timed(command: list[str] | tuple[str, ...]) -> tuple[float, float, int]:
    """Wall seconds, CPU seconds (user + sys of the child) and exit code of one run, output discarded."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    code = subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False).returncode
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime), code


def medians(command: list[str] | tuple[str, ...], repeats: int) -> tuple[float, float]:
    """Median wall and CPU seconds of `repeats` runs (after one untimed run that warms the page cache)."""
    run_timed(command)
    runs = [run_timed(command) for _ in range(repeats)]
    return statistics.median(r[0] for r in runs), statistics.median(r[1] for r in runs)


def heavy_imports(argv: tuple[str, ...]) -> list[str]:
    """The heavy top-level packages `python -X importtime -m driftwarden ARGV` imports."""
    ran = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "driftwarden", *argv], capture_output=True, text=True, check=False
    )
    names = {m.group(1) for m in re.finditer(r"^import time:.*\|\s+(\S+)$", ran.stderr, re.MULTILINE)}
    return sorted({n.split(".")[0] for n in names} & set(HEAVY))


def section_startup(args: argparse.Namespace) -> bool:
    repeats = args.startup_repeats
    console.print(
        f"\n[bold]startup[/]: the command's start, as processes, median of {repeats} runs; load average {_load()}"
    )
    target = f"target {STARTUP_TARGET_S:g} s"
    out = table("start-up", "command", "wall s", "CPU s", f"wall / {target}", "CPU / target", "heavy imports")
    floor_wall, floor_cpu = medians((sys.executable, "-c", "pass"), repeats)
    out.add_row("python -c pass (the floor)", f"{floor_wall:.3f}", f"{floor_cpu:.3f}", "", "", "")
    ok = True
    for argv in (("--help",), ("check", "--help")):
        wall, cpu = medians((*DRIFTWARDEN, *argv), repeats)
        heavy = heavy_imports(argv)
        passed = wall < STARTUP_TARGET_S and not heavy
        ok &= passed
        out.add_row(
            f"driftwarden {' '.join(argv)}",
            f"{wall:.3f}",
            f"{cpu:.3f}",
            f"{wall / STARTUP_TARGET_S:.2f}  {verdict(passed)}",
            f"{cpu / STARTUP_TARGET_S:.2f}",
            ", ".join(heavy) or "none",
        )
    console.print(out)
    return ok


def evidently_process(reference: str, current: str) -> None:
    """What an Evidently user runs on two Parquet files: read them, DataDriftPreset(), the result as JSON."""
    import pandas as pd
    from evidently import Report
    from evidently.presets import DataDriftPreset

    ref, cur = pd.read_parquet(reference), pd.read_parquet(current)
    snapshot = Report([DataDriftPreset()]).run(cur, ref)
    snapshot.json()


def section_e2e(args: argparse.Namespace) -> bool:
    try:
        import evidently  # noqa: F401  (only whether it is there)
    except ImportError:
        evidently_installed = False
    else:
        evidently_installed = not args.no_evidently
    rows = f"{args.ref_rows:,} x {args.cur_rows:,} rows x {args.features} features"
    console.print(
        f"\n[bold]e2e[/]: `driftwarden check --json` vs an Evidently DataDriftPreset() script on the same Parquet "
        f"files ({rows}), each a process, imports included; median of {args.e2e_repeats} (ours) and "
        f"{args.evidently_repeats} (Evidently) runs; load average {_load()}"
    )
    with tempfile.TemporaryDirectory(prefix="driftwarden-e2e-") as folder:
        import polars as pl

        names, ref, cur = make_data(args.ref_rows, args.cur_rows, args.features, args.seed)
        paths = Path(folder) / "reference.parquet", Path(folder) / "current.parquet"
        for path, data in zip(paths, (ref, cur), strict=True):
            pl.DataFrame(data, schema=names).write_parquet(path)
        del ref, cur
        reference, current = map(str, paths)
        ours = (*DRIFTWARDEN, "check", "--reference", reference, "--current", current, "--json")
        code = run_timed(ours)[2]
        if code not in (0, 1):
            console.print(f"[red]driftwarden check exited {code}[/]")
            return False
        wall, cpu = medians(ours, args.e2e_repeats)
        out = table("check end to end", "command", "wall s", "CPU s", "Evidently / ours (wall)", "(CPU)")
        out.add_row("driftwarden check --json", f"{wall:.2f}", f"{cpu:.2f}", "", "")
        if not evidently_installed:
            out.add_row("Evidently DataDriftPreset()", "skipped (not installed or --no-evidently)", "", "", "")
            console.print(out)
            return True
        theirs = [sys.executable, __file__, "evidently", reference, current]
        runs = [run_timed(theirs) for _ in range(args.evidently_repeats)]
        if any(code != 0 for *_, code in runs):
            console.print("[red]the Evidently process failed[/]")
            return False
        their_wall, their_cpu = statistics.median(r[0] for r in runs), statistics.median(r[1] for r in runs)
        passed = their_wall / wall >= E2E_TARGET
        out.add_row(
            "Evidently DataDriftPreset() script",
            f"{their_wall:.2f}",
            f"{their_cpu:.2f}",
            f"{their_wall / wall:.1f}x  (target ≥ {E2E_TARGET:g}x) {verdict(passed)}",
            f"{their_cpu / cpu:.1f}x",
        )
        console.print(out)
        return passed


if __name__ == "__main__" and sys.argv[1:2] == ["evidently"]:
    evidently_process(*sys.argv[2:4])
