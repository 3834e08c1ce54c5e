"""Estimated quality before labels (issue 18): driftwarden's CBPE and DLE beside NannyML's, same streams.

Per reference draw (`references` of them, seeds `seed` to `seed + references - 1`: how well an estimate
extrapolates past the reference's range depends on the few rows of its tails, so one draw can favour either
tool) and per scenario (benchmarks/estimation_streams.py), `windows` fresh windows of `window` rows are
estimated without their labels and compared with their realized metric: the mean absolute error of the estimate
(points for accuracy, ROC AUC and F1; relative for MAE and RMSE), and the CPU seconds one window's
estimate takes (`time.process_time`, every thread of the process: the machine is shared, so wall time
would measure the other work too; driftwarden: from a window's columns, as the daemon holds them;
NannyML: `estimate()` over all windows divided by their number). Both tools see the same windows, so
their errors are paired: the verdict per metric is whether driftwarden's mean error over every window of
every draw is at most NannyML's (each draw's verdicts are counted too).
F1 is each tool's own: macro over both classes for driftwarden (as
its realized `driftwarden_model_quality{metric="f1"}`), the positive class's for NannyML.

Part of benchmarks/quality.py (`--estimation-only` runs just this).
"""

from __future__ import annotations

import importlib.util
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import polars as pl
from estimation_streams import BINARY_SCENARIOS, REGRESSION_SCENARIOS, binary, regression
from rich.console import Console
from rich.table import Table

from driftwarden.detectors.cbpe import BinaryCBPE, binary_metrics
from driftwarden.detectors.dle import DLE
from driftwarden.detectors.estimation import FrameColumns, WindowColumns
from driftwarden.params import EstimateParams

__all__ = ["estimation_benchmark"]

TARGET_SECONDS = 0.010  # CBPE on a 5,000-row window
TIE = 1e-5  # errors closer than this (0.001 points, 0.001 %) are the same: both tools' arithmetic, summed apart


def ours(seed: int, ref_rows: int, window: int, windows: int) -> dict[str, Any]:
    out: dict[str, Any] = {"binary": {}, "regression": {}}
    reference = binary(np.random.default_rng([seed, 1]), ref_rows)
    cbpe = BinaryCBPE.fit(
        FrameColumns(pl.from_pandas(reference.rename(columns={"y_pred_proba": "score", "y_true": "label"}))),
        EstimateParams(kind="binary", score="score"),
    )
    for k, (name, (shift, scale)) in enumerate(BINARY_SCENARIOS.items()):
        rng = np.random.default_rng([seed, 2, k])
        errors: dict[str, list[float]] = {"accuracy": [], "roc_auc": [], "f1": []}
        seconds = []
        for _ in range(windows):
            frame = binary(rng, window, shift=shift, scale=scale)
            columns = _window(frame.drop(columns=["y_true", "y_pred"]).rename(columns={"y_pred_proba": "score"}))
            started = time.process_time()
            estimate = cbpe.estimate(columns)
            seconds.append(time.process_time() - started)
            assert estimate is not None
            score = frame["y_pred_proba"].to_numpy()
            realized = binary_metrics(frame["y_true"].to_numpy().astype(np.float64), score, score >= 0.5)
            for metric in errors:
                errors[metric].append(abs(estimate.metrics[metric].value - realized[metric]))
        out["binary"][name] = {
            "error": {m: float(np.mean(v)) for m, v in errors.items()},
            "seconds_per_window": statistics.median(seconds),
        }
    reference = regression(np.random.default_rng([seed, 3]), ref_rows)
    started = time.process_time()
    dle = DLE.fit(
        FrameColumns(pl.from_pandas(reference.rename(columns={"y_pred": "prediction", "y_true": "label"}))),
        EstimateParams(kind="regression", metric="mae"),
        numeric=["x0", "x1"],
        categorical=["c"],
    )
    out["dle_fit_seconds"] = time.process_time() - started
    for k, (name, shift) in enumerate(REGRESSION_SCENARIOS.items()):
        rng = np.random.default_rng([seed, 4, k])
        rel: dict[str, list[float]] = {"mae": [], "rmse": []}
        seconds = []
        for _ in range(windows):
            frame = regression(rng, window, shift=shift)
            columns = _window(frame.drop(columns=["y_true"]).rename(columns={"y_pred": "prediction"}))
            started = time.process_time()
            estimate = dle.estimate(columns)
            seconds.append(time.process_time() - started)
            assert estimate is not None
            error = (frame["y_true"] - frame["y_pred"]).to_numpy()
            realized = {"mae": float(np.abs(error).mean()), "rmse": float(np.sqrt((error**2).mean()))}
            for metric in rel:
                rel[metric].append(abs(estimate.metrics[metric].value - realized[metric]) / realized[metric])
        out["regression"][name] = {
            "error": {m: float(np.mean(v)) for m, v in rel.items()},
            "seconds_per_window": statistics.median(seconds),
        }
    return out


def _window(frame: pd.DataFrame) -> WindowColumns:
    """The frame as a daemon window holds it: numbers, and categories as codes into their names."""
    names, columns, categories = list(frame.columns), [], {}
    for name in names:
        if frame[name].dtype == object:
            values, codes = np.unique(frame[name].to_numpy(dtype=str), return_inverse=True)
            categories[name] = values.tolist()
            columns.append(codes.astype(np.float64))
        else:
            columns.append(frame[name].to_numpy(dtype=np.float64))
    return WindowColumns(names, np.column_stack(columns), categories)


def theirs(seed: int, ref_rows: int, window: int, windows: int, python: str | None) -> dict[str, Any] | str:
    """NannyML's results, or why there are none."""
    args = {"seed": seed, "ref_rows": ref_rows, "window": window, "windows": windows}
    if python is None and importlib.util.find_spec("nannyml") is not None:
        from estimation_nannyml import run

        return run(**args)
    if python is None:
        return "not installed (or give --nannyml-python, a venv's python with nannyml)"
    script = Path(__file__).resolve().parent / "estimation_nannyml.py"
    env = {**os.environ, "NML_DISABLE_USAGE_LOGGING": "1"}
    done = subprocess.run([python, str(script), json.dumps(args)], capture_output=True, text=True, check=False, env=env)
    if done.returncode != 0:
        return f"failed: {done.stderr.strip().splitlines()[-1] if done.stderr.strip() else done.returncode}"
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])  # LightGBM prints to stdout too
    return result


def combined(results: list[dict[str, Any]]) -> dict[str, Any]:
    """One tool's results over the reference draws: mean errors (the same windows per draw), median seconds."""
    out: dict[str, Any] = {k: v for k, v in results[0].items() if k not in ("binary", "regression")}
    if "dle_fit_seconds" in out:
        out["dle_fit_seconds"] = statistics.median(r["dle_fit_seconds"] for r in results)
    for kind in ("binary", "regression"):
        out[kind] = {
            scenario: {
                "error": {m: float(np.mean([r[kind][scenario]["error"][m] for r in results])) for m in first["error"]},
                "seconds_per_window": statistics.median(r[kind][scenario]["seconds_per_window"] for r in results),
            }
            for scenario, first in results[0][kind].items()
        }
    return out


def estimation_benchmark(
    console: Console,
    *,
    seed: int = 0,
    ref_rows: int = 50_000,
    window: int = 5_000,
    windows: int = 20,
    references: int = 5,
    nannyml_python: str | None = None,
) -> bool:
    """Print the tables; True when driftwarden's CBPE meets its time target and is at least as accurate."""
    draws = [ours(seed + r, ref_rows, window, windows) for r in range(references)]
    others = [theirs(seed + r, ref_rows, window, windows, nannyml_python) for r in range(references)]
    mine = combined(draws)
    failed = next((o for o in others if not isinstance(o, dict)), None)
    other: dict[str, Any] | str = failed if failed is not None else combined(others)  # type: ignore[arg-type]
    label = f"NannyML {other['version']}" if isinstance(other, dict) else None
    console.print(
        f"estimated quality: {references} reference draws of {ref_rows:,} rows (seeds {seed}-{seed + references - 1}), "
        f"{windows} windows of {window:,} rows per draw and scenario; NannyML: {label or other}"
    )
    ok = True
    verdicts: list[bool] = []
    per_draw: list[bool] = []
    for kind, metrics, unit in (
        ("binary", ("accuracy", "roc_auc", "f1"), "points"),
        ("regression", ("mae", "rmse"), "%"),
    ):
        method = "CBPE" if kind == "binary" else "DLE"
        table = Table(
            title=f"{method} ({kind}): mean |estimate - realized| per window ({unit}), CPU seconds per window"
        )
        table.add_column("scenario")
        table.add_column("metric")
        table.add_column("driftwarden", justify="right")
        if label:
            table.add_column(label, justify="right")
            table.add_column("draws at most theirs", justify="right")
        for scenario, result in mine[kind].items():
            for metric in metrics:
                row = [scenario, metric, _fmt(result["error"][metric], unit)]
                if isinstance(other, dict):
                    theirs_error = other[kind][scenario]["error"][metric]
                    wins = [
                        d[kind][scenario]["error"][metric] <= o[kind][scenario]["error"][metric] + TIE
                        for d, o in zip(draws, others, strict=True)
                    ]
                    row += [_fmt(theirs_error, unit), f"{sum(wins)} of {len(wins)}"]
                    if metric != "f1":  # each tool's own F1: not the same metric
                        verdicts.append(result["error"][metric] <= theirs_error + TIE)
                        per_draw += wins
                table.add_row(*row)
            row = [scenario, "seconds / window", f"{result['seconds_per_window']:.4f}"]
            if isinstance(other, dict):
                row += [f"{other[kind][scenario]['seconds_per_window']:.4f}", ""]
            table.add_row(*row, end_section=True)
        console.print(table)
        if kind == "binary":
            slowest = max(r["seconds_per_window"] for r in mine["binary"].values())
            ok &= slowest < TARGET_SECONDS
            console.print(f"CBPE seconds per {window:,}-row window: {slowest:.4f} (target < {TARGET_SECONDS})")
    console.print(f"DLE fit on {ref_rows:,} rows: {mine['dle_fit_seconds']:.2f} CPU s (median over the draws)")
    if verdicts:
        console.print(
            f"driftwarden's error at most NannyML's (within {TIE:g}) in {sum(verdicts)} of {len(verdicts)} "
            f"(scenario, metric) pairs over all draws, in {sum(per_draw)} of {len(per_draw)} (draw, scenario, metric) "
            "triples (accuracy, ROC AUC, MAE, RMSE)"
        )
    return ok


def _fmt(value: float, unit: str) -> str:
    return f"{100 * value:.2f} %" if unit == "%" else f"{100 * value:.2f}"


if __name__ == "__main__":
    sys.exit(0 if estimation_benchmark(Console(width=120)) else 1)
