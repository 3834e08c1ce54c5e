"""Shared by the sections of `benchmarks/drift.py`: the synthetic data, timing, tables and the
Evidently baseline. Imported as a sibling module (`python benchmarks/drift.py` puts benchmarks/
on the path, as `bench_daemon` is for the ingest benchmarks).
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console
from rich.table import Table

from driftwarden.detectors.detector import DriftDetector
from driftwarden.detectors.reference import ReferenceProfile

__all__ = [
    "BATCH",
    "MIB",
    "RUNNER",
    "SHIFTS",
    "Stream",
    "console",
    "evidently_runs",
    "fitted",
    "make_data",
    "table",
    "timed",
    "times_of",
    "verdict",
]

# Shift in reference standard deviations of the first features of the current window:
# subtle ones put scipy's KS p-value in its slow (Smirnov sum) regime, large ones in the easy ones.
SHIFTS = (0.03, 0.04, 0.05, 0.07, 0.1, 0.15, 0.3, 0.5, 1.0, 2.0)
BATCH = 10_000  # rows a batch update ingests
ZIPF_EXPONENT = 1.1  # category k of a categorical feature has probability ~ k^-1.1
MIB = 1024 * 1024
RUNNER = Path(__file__).with_name("drift.py")  # what the memory and Evidently sections start children with
console = Console(highlight=False, width=150)


def make_data(ref_rows: int, cur_rows: int, n_features: int, seed: int) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Half normal, half lognormal features; the first len(SHIFTS) columns shift in the current window."""
    rng = np.random.default_rng(seed)
    names = [f"f{j:03d}" for j in range(n_features)]
    lognormal = np.arange(n_features) % 2 == 1
    scale = rng.uniform(0.5, 5.0, n_features)
    sigma = rng.uniform(0.25, 1.0, n_features)

    def draw(rows: int) -> np.ndarray:
        out = rng.normal(size=(rows, n_features)) * scale
        out[:, lognormal] = np.exp(rng.normal(size=(rows, int(lognormal.sum()))) * sigma[lognormal])
        return out

    ref, cur = draw(ref_rows), draw(cur_rows)
    sd = ref.std(axis=0)
    for j, shift in enumerate(SHIFTS[:n_features]):
        cur[:, j] += shift * sd[j]
    return names, ref, cur


def timed(fn: Callable[[], Any], repeats: int) -> tuple[float, Any]:
    """Median seconds of `repeats` calls, and the last call's result."""
    times, result = [], None
    for _ in range(repeats):
        started = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times), result


def evidently_runs(names: list[str], ref: np.ndarray, cur: np.ndarray) -> dict[str, Callable[[], Any]] | None:
    """Zero-argument callables running Evidently's DataDriftPreset, or None when it is not installed."""
    try:
        import pandas as pd
        from evidently import DataDefinition, Dataset, Report
        from evidently.presets import DataDriftPreset
    except ImportError:
        return None
    ref_df, cur_df = pd.DataFrame(ref, columns=names), pd.DataFrame(cur, columns=names)
    definition = DataDefinition(numerical_columns=names)

    def run(**preset: Any) -> Any:
        report = Report([DataDriftPreset(**preset)])
        return report.run(
            Dataset.from_pandas(cur_df, data_definition=definition),
            Dataset.from_pandas(ref_df, data_definition=definition),
        )

    return {"evidently DataDriftPreset()": run, 'evidently DataDriftPreset(method="ks")': lambda: run(method="ks")}


def verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


class Stream:
    """Rows as a prediction log would send them: make_data's numeric columns (half normal, half lognormal),
    plus categorical string columns, each Zipf-distributed over 20-200 categories.

    `shifted=True` moves the first len(SHIFTS) numeric columns by SHIFTS standard deviations and rotates the
    first categorical column's category shares by one, so that an evaluation has drift to report.
    """

    def __init__(self, n_numeric: int, n_categorical: int = 0, seed: int = 0) -> None:
        rng = np.random.default_rng(seed)
        self.names = [f"f{j:03d}" for j in range(n_numeric)]
        self.categorical_names = [f"c{k:02d}" for k in range(n_categorical)]
        self.lognormal = np.arange(n_numeric) % 2 == 1
        self.scale = rng.uniform(0.5, 5.0, n_numeric)
        self.sigma = rng.uniform(0.25, 1.0, n_numeric)
        s2 = self.sigma**2
        self.sd = np.where(self.lognormal, np.sqrt((np.exp(s2) - 1) * np.exp(s2)), self.scale)
        self.categories = [
            np.array([f"{name}_{i:03d}" for i in range(size)], dtype=object)
            for name, size in zip(self.categorical_names, rng.integers(20, 201, n_categorical), strict=True)
        ]
        self.shares = [self._zipf(len(c)) for c in self.categories]
        self._rng = rng

    @staticmethod
    def _zipf(size: int) -> np.ndarray:
        weights = np.arange(1, size + 1, dtype=np.float64) ** -ZIPF_EXPONENT
        return weights / weights.sum()

    def numeric(self, rows: int, *, shifted: bool = False) -> np.ndarray:
        out = np.empty((rows, len(self.names)))
        for start in range(0, rows, BATCH):  # in batches: no full-size temporaries
            part = self._rng.normal(size=(min(BATCH, rows - start), len(self.names))) * self.scale
            part[:, self.lognormal] = np.exp(
                part[:, self.lognormal] / self.scale[self.lognormal] * self.sigma[self.lognormal]
            )
            if shifted:
                k = min(len(SHIFTS), len(self.names))
                part[:, :k] += np.array(SHIFTS[:k]) * self.sd[:k]
            out[start : start + part.shape[0]] = part
        return out

    def categorical(self, rows: int, *, shifted: bool = False) -> np.ndarray:
        out = np.empty((rows, len(self.categories)), dtype=object)
        for k, (categories, shares) in enumerate(zip(self.categories, self.shares, strict=True)):
            p = np.roll(shares, 1) if shifted and k == 0 else shares
            out[:, k] = categories[self._rng.choice(len(categories), size=rows, p=p)]
        return out

    def counts(self, values: np.ndarray) -> dict[str, dict[str, int]]:
        """Category counts per categorical column, as ReferenceProfile.fit(categories=...) takes them."""
        out = {}
        for k, name in enumerate(self.categorical_names):
            labels, n = np.unique(values[:, k].astype(str), return_counts=True)
            out[name] = dict(zip(labels.tolist(), n.tolist(), strict=True))
        return out

    def fill(self, detector: DriftDetector, rows: int) -> None:
        """Feed `rows` shifted rows to `detector` in BATCH-row updates."""
        for _ in range(0, rows, BATCH):
            detector.update(*self.batch(BATCH, shifted=True))

    def batch(self, rows: int, *, shifted: bool = False) -> tuple:
        """update() arguments for one batch."""
        if not self.categories:
            return (self.names, self.numeric(rows, shifted=shifted))
        return (
            self.names,
            self.numeric(rows, shifted=shifted),
            self.categorical_names,
            self.categorical(rows, shifted=shifted),
        )


def times_of(fn: Callable[[], Any], repeats: int) -> list[float]:
    out = []
    for _ in range(repeats):
        started = time.perf_counter()
        fn()
        out.append(time.perf_counter() - started)
    return out


def table(title: str, *columns: str) -> Table:
    t = Table(title=title, title_justify="left")
    for k, column in enumerate(columns):
        t.add_column(column, justify="left" if k == 0 else "right")
    return t


def fitted(stream: Stream, rows: int, *, max_rows: int | None = None) -> ReferenceProfile:
    categories = stream.counts(stream.categorical(rows)) if stream.categories else None
    return ReferenceProfile.fit(stream.names, stream.numeric(rows), categories=categories, max_rows=max_rows)
