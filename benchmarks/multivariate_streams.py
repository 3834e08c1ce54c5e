"""The multivariate benchmark's streams (benchmarks/multivariate.py and multivariate_nannyml.py share them).

50 features: 45 numeric (x00 and x01 standard normal correlated +0.9; the others normal with random
location and scale, every third lognormal) and 5 categorical (truncated Zipf over 5 to 50 categories).
`flip=True` makes the x00-x01 correlation -0.9: every marginal unchanged.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

NUMERIC = tuple(f"x{j:02d}" for j in range(45))
CATEGORICAL = tuple(f"c{k}" for k in range(5))
FEATURES = NUMERIC + CATEGORICAL
RHO = 0.9
_SIZES = (5, 10, 20, 50, 8)


def frame(rng: np.random.Generator, rows: int, *, flip: bool = False) -> pd.DataFrame:
    params = np.random.default_rng(12345)  # the stream's fixed shape, the same on every call
    loc, scale = params.uniform(-5, 5, len(NUMERIC)), params.uniform(0.5, 3, len(NUMERIC))
    z = rng.normal(size=(rows, len(NUMERIC)))
    rho = -RHO if flip else RHO
    z[:, 1] = rho * z[:, 0] + np.sqrt(1 - RHO**2) * z[:, 1]
    values = loc + scale * z
    lognormal = np.arange(len(NUMERIC)) % 3 == 2
    values[:, lognormal] = np.exp(0.5 * z[:, lognormal])
    out = pd.DataFrame(values, columns=list(NUMERIC))
    for name, size in zip(CATEGORICAL, _SIZES, strict=True):
        p = np.arange(1, size + 1) ** -1.2
        out[name] = np.array([f"v{i}" for i in range(size)], dtype=object)[rng.choice(size, rows, p=p / p.sum())]
    return out
