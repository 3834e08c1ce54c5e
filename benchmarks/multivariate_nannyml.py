"""NannyML's DataReconstructionDriftCalculator and DomainClassifierCalculator on the multivariate benchmark's
streams (benchmarks/multivariate_streams.py), with their defaults (PCA keeping 0.65 of the variance, the
threshold at ±3 standard deviations of the reference chunks' errors; LightGBM domain classifier, AUROC
threshold from the reference chunks).

Run by benchmarks/multivariate.py: in its own process when nannyml imports there, else with the Python given
by --nannyml-python, as `PYTHON benchmarks/multivariate_nannyml.py ARGS_JSON` printing one JSON line:
{"version", method: {"none": {"alarms", "n"}, "flip": {"caught", "runs"}, "seconds_per_window"}}.
"""

from __future__ import annotations

import inspect
import json
import os
import sys
import time
import warnings
from typing import Any

import numpy as np
import pandas as pd
from multivariate_streams import CATEGORICAL, FEATURES, frame


def run(seed: int, ref_rows: int, window: int, evals: dict[str, int], runs: dict[str, int]) -> dict[str, Any]:
    os.environ.setdefault("NML_DISABLE_USAGE_LOGGING", "1")  # else each calculate() tries to reach the internet
    warnings.filterwarnings("ignore", module="nannyml")  # "too few chunks": the windows are given one by one
    import nannyml as nml

    defaults = inspect.signature(nml.DomainClassifierCalculator).parameters["hyperparameters"].default
    quiet = {**{k: v for k, v in defaults.items() if k != "silent"}, "verbose": -1}  # its defaults, less the logs
    reference = frame(np.random.default_rng([seed, 1]), ref_rows).astype({c: "category" for c in CATEGORICAL})
    calculators = {
        "pca": lambda: nml.DataReconstructionDriftCalculator(column_names=list(FEATURES), chunk_size=window),
        "classifier": lambda: nml.DomainClassifierCalculator(
            feature_column_names=list(FEATURES), chunk_size=window, hyperparameters=quiet
        ),
    }
    out: dict[str, Any] = {"version": nml.__version__}
    for method, make in calculators.items():
        calc = make()
        calc.fit(reference)
        none = _analysis(np.random.default_rng([seed, 2]), evals[method], window, flip=[False] * evals[method])
        started = time.process_time()
        alarms_none = _alarms(calc.calculate(none))
        seconds = (time.process_time() - started) / max(1, evals[method])
        # a run: two flipped windows; caught when either alarms
        flip = _analysis(np.random.default_rng([seed, 3]), 2 * runs[method], window, flip=[True] * 2 * runs[method])
        alarms_flip = _alarms(calc.calculate(flip)).reshape(-1, 2)
        out[method] = {
            "none": {"alarms": int(alarms_none.sum()), "n": int(alarms_none.size)},
            "flip": {"caught": int(alarms_flip.any(axis=1).sum()), "runs": int(alarms_flip.shape[0])},
            "caught_first": int(alarms_flip[:, 0].sum()),
            "seconds_per_window": seconds,
        }
    return out


def _analysis(rng: np.random.Generator, windows: int, window: int, *, flip: list[bool]) -> pd.DataFrame:
    parts = [frame(rng, window, flip=f) for f in flip[:windows]]
    return pd.concat(parts, ignore_index=True).astype({c: "category" for c in CATEGORICAL})


def _alarms(result: Any) -> np.ndarray:
    df = result.filter(period="analysis").to_df()
    alert = [c for c in df.columns if isinstance(c, tuple) and c[-1] == "alert" and c[0] != "chunk"]
    return df[alert[0]].to_numpy(dtype=bool)


if __name__ == "__main__":
    args = json.loads(sys.argv[1])
    print(json.dumps(run(**args)))
