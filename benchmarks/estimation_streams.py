"""The streams of the estimated-quality benchmark (benchmarks/quality.py --estimation), shared by
driftwarden's side and NannyML's (benchmarks/estimation_nannyml.py, which may run in another venv:
this module needs numpy and pandas only).

Binary: a calibrated logistic model of 5 inputs (its score is P(y = 1 | x)); regression: a linear model
whose error grows with |x0| and in category "c". Every window is drawn fresh with its labels, so each
window's realized metric is known; scenarios move the inputs only (covariate shift), as CBPE and DLE assume.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["BINARY_SCENARIOS", "REGRESSION_SCENARIOS", "binary", "regression"]

WEIGHTS = np.array([1.6, -1.2, 0.8, 0.5, 0.0])
BINARY_SCENARIOS = {"none": (0.0, 1.0), "uncertain region (sd x 0.4)": (0.0, 0.4), "mean +1 sd": (1.0, 1.0)}
REGRESSION_SCENARIOS = {"none": 0.0, "x0 +1 sd": 1.0, "x0 +2 sd": 2.0}


def binary(rng: np.random.Generator, n: int, *, shift: float = 0.0, scale: float = 1.0) -> pd.DataFrame:
    x = rng.normal(shift, scale, (n, WEIGHTS.size))
    score = 1 / (1 + np.exp(-(x @ WEIGHTS)))
    frame = pd.DataFrame({f"x{j}": x[:, j] for j in range(WEIGHTS.size)})
    frame["y_pred_proba"] = score
    frame["y_pred"] = (score >= 0.5).astype(np.int64)
    frame["y_true"] = (rng.random(n) < score).astype(np.int64)
    return frame


def regression(rng: np.random.Generator, n: int, *, shift: float = 0.0) -> pd.DataFrame:
    x0, x1 = rng.normal(shift, 1.0, n), rng.normal(0.0, 1.0, n)
    category = rng.choice(["a", "b", "c"], n, p=[0.5, 0.3, 0.2])
    prediction = 2.0 * x0 + x1
    noise = rng.normal(0.0, 0.3 + 0.8 * np.abs(x0) + 0.5 * (category == "c"), n)
    return pd.DataFrame({"x0": x0, "x1": x1, "c": category, "y_pred": prediction, "y_true": prediction + noise})
