"""A population for data-quality constraints: ages, amounts in dollars, a country, an email; and the
faults constraints exist for (negative ages, cents instead of dollars, a new undeclared column, a
column changing type)."""

from __future__ import annotations

import numpy as np
import orjson
import polars as pl

__all__ = ["CONSTRAINTS", "COUNTRIES", "frame", "ndjson"]

COUNTRIES = ["DE", "FR", "US"]
CONSTRAINTS = {
    "features": {
        "age": {"type": "numeric", "min": 18, "max": 90, "max_missing": 0.2},
        "amount": {"type": "numeric", "min": 0, "max": 1000},
        "country": {"type": "categorical", "allowed": COUNTRIES},
        "email": {"type": "categorical", "regex": r"^[a-z0-9.]+@[a-z0-9]+\.(com|org)$"},
    },
}


def frame(rng: np.random.Generator, rows: int) -> pl.DataFrame:
    """Rows of the population: age 18-90, amount in dollars (log-normal, median ~40), country, email."""
    users = rng.integers(0, 100_000, rows)
    return pl.DataFrame(
        {
            "age": rng.integers(18, 91, rows).astype(np.float64),
            "amount": np.round(np.minimum(rng.lognormal(3.7, 0.8, rows), 900.0), 2),
            "country": rng.choice(COUNTRIES, rows),
            "email": [f"user{u}@mail{u % 7}.com" for u in users.tolist()],
        }
    )


def ndjson(df: pl.DataFrame, model: str = "shop") -> bytes:
    """The frame's rows as prediction records (a null leaves the feature out of its record)."""
    return b"\n".join(
        orjson.dumps({"model": model, "features": {k: v for k, v in row.items() if v is not None}})
        for row in df.iter_rows(named=True)
    )
