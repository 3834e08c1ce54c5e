"""NannyML's CBPE and DLE on the estimated-quality benchmark's streams (benchmarks/estimation_streams.py).

Run by benchmarks/quality.py: in its own process when nannyml imports there, else with the Python given
by --nannyml-python (a throwaway venv: `python -m venv /tmp/nml && /tmp/nml/bin/pip install nannyml
pandas`), as `PYTHON benchmarks/estimation_nannyml.py ARGS_JSON` printing a JSON result on stdout:
{"version", "binary": {scenario: {"error": {metric: mean |estimate - realized|}, "seconds_per_window"}},
"regression": {...}}. Same seeds, same windows as driftwarden's side.
"""

from __future__ import annotations

import json
import sys
import time
from typing import Any

import numpy as np
import pandas as pd
from estimation_streams import BINARY_SCENARIOS, REGRESSION_SCENARIOS, binary, regression


def run(seed: int, ref_rows: int, window: int, windows: int) -> dict[str, Any]:
    import nannyml as nml

    out: dict[str, Any] = {"version": nml.__version__, "binary": {}, "regression": {}}
    reference = binary(np.random.default_rng([seed, 1]), ref_rows)
    cbpe = nml.CBPE(
        y_pred_proba="y_pred_proba",
        y_pred="y_pred",
        y_true="y_true",
        problem_type="classification_binary",
        metrics=["roc_auc", "accuracy", "f1"],
        chunk_size=window,
    )
    cbpe.fit(reference)
    for k, (name, (shift, scale)) in enumerate(BINARY_SCENARIOS.items()):
        rng = np.random.default_rng([seed, 2, k])
        analysis = pd.concat([binary(rng, window, shift=shift, scale=scale) for _ in range(windows)], ignore_index=True)
        started = time.process_time()
        result = cbpe.estimate(analysis.drop(columns=["y_true"])).filter(period="analysis").to_df()
        seconds = (time.process_time() - started) / windows
        errors = {}
        for metric in ("accuracy", "roc_auc", "f1"):
            estimates = result[(metric, "value")].to_numpy()
            errors[metric] = float(np.mean(np.abs(estimates - _realized_binary(analysis, window, metric))))
        out["binary"][name] = {"error": errors, "seconds_per_window": seconds}
    reference = regression(np.random.default_rng([seed, 3]), ref_rows)
    dle = nml.DLE(
        feature_column_names=["x0", "x1", "c"],
        y_pred="y_pred",
        y_true="y_true",
        metrics=["mae", "rmse"],
        chunk_size=window,
    )
    dle.fit(reference.astype({"c": "category"}))
    for k, (name, shift) in enumerate(REGRESSION_SCENARIOS.items()):
        rng = np.random.default_rng([seed, 4, k])
        analysis = pd.concat([regression(rng, window, shift=shift) for _ in range(windows)], ignore_index=True)
        started = time.process_time()
        result = dle.estimate(analysis.drop(columns=["y_true"]).astype({"c": "category"})).filter(period="analysis")
        frame = result.to_df()
        seconds = (time.process_time() - started) / windows
        errors = {}
        for metric in ("mae", "rmse"):
            estimates = frame[(metric, "value")].to_numpy()
            realized = _realized_regression(analysis, window, metric)
            errors[metric] = float(np.mean(np.abs(estimates - realized) / realized))
        out["regression"][name] = {"error": errors, "seconds_per_window": seconds}
    return out


def _realized_binary(frame: pd.DataFrame, window: int, metric: str) -> np.ndarray:
    from sklearn.metrics import accuracy_score, f1_score, roc_auc_score

    values = []
    for start in range(0, len(frame), window):
        chunk = frame.iloc[start : start + window]
        if metric == "accuracy":
            values.append(accuracy_score(chunk["y_true"], chunk["y_pred"]))
        elif metric == "roc_auc":
            values.append(roc_auc_score(chunk["y_true"], chunk["y_pred_proba"]))
        else:
            values.append(f1_score(chunk["y_true"], chunk["y_pred"]))
    return np.array(values)


def _realized_regression(frame: pd.DataFrame, window: int, metric: str) -> np.ndarray:
    error = (frame["y_true"] - frame["y_pred"]).to_numpy()
    chunks = error.reshape(-1, window)
    return np.abs(chunks).mean(axis=1) if metric == "mae" else np.sqrt((chunks**2).mean(axis=1))


if __name__ == "__main__":
    args = json.loads(sys.argv[1])
    print(json.dumps(run(**args)))
