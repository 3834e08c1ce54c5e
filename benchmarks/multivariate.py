"""Multivariate drift (issue 17): driftwarden's `pca` and `classifier` beside NannyML's
DataReconstructionDriftCalculator and DomainClassifierCalculator, on the same streams.

Streams (benchmarks/multivariate_streams.py): 45 numeric + 5 categorical features, x00 and x01 correlated
+0.9; a reference of `ref_rows` rows (20,000 by default: what the daemon keeps whole for drift.multivariate)
and fresh windows of `window` rows.

* no drift: the share of evaluations flagged (target ≤ 1 %);
* correlation flip (x00-x01 at -0.9, every marginal unchanged): a run is two fresh flipped windows, caught
  when either is flagged (target ≥ 99 % of runs), and whether both named features lead `top_features`;
* CPU seconds per evaluation (time.process_time: the machine is shared), driftwarden's from a daemon window
  (encoding included) — targets: pca under 20 ms, classifier under 1 s at 5,000 × 50.

NannyML runs in this process when it imports (`pip install -e '.[bench]'`), else with --nannyml-python.
"""

from __future__ import annotations

import importlib.util
import json
import os
import statistics
import subprocess
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import polars as pl
from multivariate_streams import CATEGORICAL, FEATURES, NUMERIC, frame
from rich.console import Console
from rich.table import Table

from driftwarden.detectors.estimation import WindowColumns
from driftwarden.detectors.multivariate import MultivariateDetector
from driftwarden.detectors.reference import ReferenceProfile
from driftwarden.params import MultivariateParams

TARGETS = {"fa": 0.01, "caught": 0.99, "pca": 0.020, "classifier": 1.0}
METHODS = ("pca", "classifier")


def window_columns(df: pd.DataFrame) -> WindowColumns:
    """A frame as a daemon window holds it: numbers, and categories as codes into their names."""
    columns, categories = [], {}
    for name in FEATURES:
        if name in CATEGORICAL:
            values, codes = np.unique(df[name].to_numpy(dtype=str), return_inverse=True)
            categories[name] = values.tolist()
            columns.append(codes.astype(np.float64))
        else:
            columns.append(df[name].to_numpy(dtype=np.float64))
    return WindowColumns(list(FEATURES), np.column_stack(columns), categories)


def fitted(seed: int, ref_rows: int) -> MultivariateDetector:
    ref = frame(np.random.default_rng([seed, 1]), ref_rows)
    counts = {c: {str(k): int(v) for k, v in ref[c].value_counts().items()} for c in CATEGORICAL}
    profile = ReferenceProfile.fit(list(NUMERIC), ref[list(NUMERIC)].to_numpy(), categories=counts)
    return MultivariateDetector(
        ReferenceProfile(**{**profile.__dict__, "sample": pl.from_pandas(ref)}), MultivariateParams(methods=METHODS)
    )


def ours(seed: int, ref_rows: int, window: int, evals: dict[str, int], runs: dict[str, int]) -> dict[str, Any]:
    started = time.process_time()
    detector = fitted(seed, ref_rows)
    out: dict[str, Any] = {"fit_seconds": time.process_time() - started}
    for method in METHODS:
        seconds: list[float] = []

        def judge(df: pd.DataFrame, method: str = method, seconds: list[float] = seconds) -> Any:
            columns = window_columns(df)
            t = time.process_time()
            result = detector.evaluate(method, detector.encode(columns))
            seconds.append(time.process_time() - t)
            return result

        judge(frame(np.random.default_rng(0), window))  # warm-up (and the null's cache for this size)
        seconds.clear()
        rng = np.random.default_rng([seed, 2])
        alarms = sum(judge(frame(rng, window)).drifted for _ in range(evals[method]))
        rng = np.random.default_rng([seed, 3])
        caught = first = named = 0
        for _ in range(runs[method]):
            a = judge(frame(rng, window, flip=True))
            b = a if a.drifted else judge(frame(rng, window, flip=True))
            first += a.drifted
            caught += b.drifted
            named += set(b.top_features[:2]) == {"x00", "x01"}
        out[method] = {
            "none": {"alarms": alarms, "n": evals[method]},
            "flip": {"caught": caught, "runs": runs[method]},
            "caught_first": first,
            "named": named,
            "seconds_per_window": statistics.median(seconds),
        }
    return out


def theirs(
    seed: int, ref_rows: int, window: int, evals: dict[str, int], runs: dict[str, int], python: str | None
) -> Any:
    args = {"seed": seed, "ref_rows": ref_rows, "window": window, "evals": evals, "runs": runs}
    if python is None and importlib.util.find_spec("nannyml") is not None:
        from multivariate_nannyml import run

        return run(**args)
    if python is None:
        return "not installed (pip install -e '.[bench]', or give --nannyml-python)"
    script = Path(__file__).resolve().parent / "multivariate_nannyml.py"
    env = {**os.environ, "NML_DISABLE_USAGE_LOGGING": "1"}
    done = subprocess.run([python, str(script), json.dumps(args)], capture_output=True, text=True, check=False, env=env)
    if done.returncode != 0:
        return f"failed: {done.stderr.strip().splitlines()[-1] if done.stderr.strip() else done.returncode}"
    return json.loads(done.stdout.strip().splitlines()[-1])


def multivariate_benchmark(
    console: Console,
    *,
    seed: int,
    window: int,
    quick: bool,
    ref_rows: int = 20_000,
    nannyml_python: str | None = None,
    no_nannyml: bool = False,
) -> bool:
    """Print the table; True when driftwarden meets every target."""
    evals = {"pca": 300 if quick else 2000, "classifier": 30 if quick else 300}
    runs = {"pca": 100 if quick else 500, "classifier": 20 if quick else 150}
    their_evals = {"pca": 10 if quick else 100, "classifier": 1 if quick else 5}
    their_runs = {"pca": 5 if quick else 50, "classifier": 1 if quick else 5}
    console.print(
        f"multivariate: reference {ref_rows:,} rows, windows {window:,} rows × {len(FEATURES)} features "
        f"({len(NUMERIC)} numeric, {len(CATEGORICAL)} categorical); driftwarden {evals} no-drift evaluations, "
        f"{runs} flip runs; NannyML {their_evals} and {their_runs}"
    )
    mine = ours(seed, ref_rows, window, evals, runs)
    other = "skipped" if no_nannyml else theirs(seed, ref_rows, window, their_evals, their_runs, nannyml_python)
    columns = [f"driftwarden {m}" for m in METHODS]
    results = [mine[m] for m in METHODS]
    if isinstance(other, dict):
        names = {"pca": "DataReconstructionDriftCalculator", "classifier": "DomainClassifierCalculator"}
        columns += [f"NannyML {other['version']} {names[m]}" for m in METHODS]
        results += [other[m] for m in METHODS]
    else:
        console.print(f"NannyML: {other}")
    table = Table(title="Multivariate drift: correlation flip of x00-x01 (+0.9 → -0.9), marginals unchanged")
    table.add_column("measure")
    table.add_column("target")
    for c in columns:
        table.add_column(c, justify="right")

    def pct(k: int, n: int) -> str:
        return f"{k / n:.1%} ({k}/{n})" if n else "—"

    table.add_row(
        "no drift: evaluations flagged", "≤ 1 %", *(pct(r["none"]["alarms"], r["none"]["n"]) for r in results)
    )
    table.add_row(
        "flip: caught within 2 evaluations", "≥ 99 %", *(pct(r["flip"]["caught"], r["flip"]["runs"]) for r in results)
    )
    table.add_row("  caught at the first evaluation", "", *(pct(r["caught_first"], r["flip"]["runs"]) for r in results))
    table.add_row(
        "  x00 and x01 named first", "", *(pct(r["named"], r["flip"]["runs"]) if "named" in r else "—" for r in results)
    )
    table.add_row(
        "CPU seconds per evaluation",
        "pca < 0.020, classifier < 1",
        *(f"{r['seconds_per_window']:.4f}" for r in results),
    )
    if len(results) == 4:
        table.add_row(
            "driftwarden is … faster",
            "",
            *(f"{results[k + 2]['seconds_per_window'] / results[k]['seconds_per_window']:.0f}×" for k in range(2)),
            "",
            "",
        )
    console.print(table)
    console.print(f"driftwarden fit (encoder, PCA) once per reference: {mine['fit_seconds']:.2f} CPU s")
    ok = all(
        mine[m]["none"]["alarms"] <= TARGETS["fa"] * mine[m]["none"]["n"]
        and mine[m]["flip"]["caught"] >= TARGETS["caught"] * mine[m]["flip"]["runs"]
        and mine[m]["seconds_per_window"] < TARGETS[m]
        for m in METHODS
    )
    console.print(f"multivariate targets: {'all met' if ok else 'NOT all met'}")
    return ok


if __name__ == "__main__":
    import argparse
    import sys

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--window", type=int, default=5000)
    p.add_argument("--no-nannyml", action="store_true")
    p.add_argument("--nannyml-python")
    a = p.parse_args()
    con = Console(width=max(Console().width, 140))
    sys.exit(
        0
        if multivariate_benchmark(
            con, seed=a.seed, window=a.window, quick=a.quick, nannyml_python=a.nannyml_python, no_nannyml=a.no_nannyml
        )
        else 1
    )
