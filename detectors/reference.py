"""Reference profiles: what "normal" looks like for one model, fitted once and stored.

A profile keeps, per numeric feature, the sorted reference values (for KS), the
reference-quantile bin edges and bin counts (for PSI) and the missing rate; per
categorical column, its category frequencies. Fitting is vectorized over features.

A model that estimates its quality or judges segments (models.<m>.estimate, segments) also keeps
`sample`: reference rows whole, as they were read (inputs, model outputs, labels, segment columns),
stored as Parquet inside the profile; what is fitted from it (calibration, loss models, segment
profiles) is fitted again from it after a restart.
"""

from __future__ import annotations

import io
import itertools
import json
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np
import numpy.typing as npt
import polars as pl

from driftwarden.core.arrays import Float32Array, FloatArray, IntArray
from driftwarden.core.errors import InputError
from driftwarden.core.records import MAX_MAGNITUDE
from driftwarden.detectors import stats
from driftwarden.detectors.vocabulary import OTHER

__all__ = ["DEFAULT_BINS", "ReferenceProfile", "interval_labels"]

DEFAULT_BINS = 10
EMBEDDING_KEY = "embedding:"  # the stored arrays of the reference's embeddings: "embedding:query"
MAX_CATEGORIES = 1000  # categories kept per categorical column; the rest pooled as OTHER ("__other__")


@dataclass(frozen=True)
class ReferenceProfile:
    features: tuple[str, ...]  # numeric features, the columns of every array below
    sorted_values: FloatArray  # (rows, features) sorted per column, NaN last
    edges: FloatArray  # (features, bins-1) reference-quantile bin edges
    bin_counts: IntArray  # (features, bins)
    rows: int
    categories: dict[str, dict[str, int]] = field(default_factory=dict)  # column -> category -> count
    created_at: float = field(default_factory=time.time)
    category_rows: int = 0  # rows the category counts were taken over (all rows, even when values are sampled)
    sample: pl.DataFrame | None = None  # rows kept whole for estimated quality and segments; None: not kept
    embeddings: dict[str, Float32Array] = field(default_factory=dict)  # name -> (rows, dim) float32 vectors

    @classmethod
    def fit(
        cls,
        names: Sequence[str],
        values: npt.ArrayLike,
        *,
        categories: dict[str, dict[str, int]] | None = None,
        bins: int = DEFAULT_BINS,
        max_rows: int | None = None,
    ) -> ReferenceProfile:
        """Fit from a (rows, features) float array with NaN for missing values.

        Beyond `max_rows` rows a seeded uniform sample is kept (the profile stores every
        kept value, sorted, for exact KS).
        """
        values = np.asarray(values, dtype=np.float64)
        all_rows = values.shape[0]
        if max_rows is not None and values.shape[0] > max_rows:
            keep = np.random.default_rng(0).choice(values.shape[0], size=max_rows, replace=False)
            values = values[np.sort(keep)]
        if values.ndim != 2 or values.shape[1] != len(names):
            raise ValueError(f"values must be (rows, {len(names)}), got {values.shape}")
        if np.isinf(values).any():
            bad = [names[int(j)] for j in np.flatnonzero(np.isinf(values).any(axis=0))]
            raise InputError(f"infinite values in column(s): {', '.join(bad)}", code="unrepresentable")
        too_large = np.abs(np.nan_to_num(values)) > MAX_MAGNITUDE
        if too_large.any():
            bad = [names[int(j)] for j in np.flatnonzero(too_large.any(axis=0))]
            raise InputError(
                f"values beyond ±{MAX_MAGNITUDE:g} in column(s) {', '.join(bad)}: the statistics square them "
                "(standard deviations, Wasserstein) and would overflow; rescale or drop those columns",
                code="unrepresentable",
            )
        ordered = stats.sort_columns(values)
        edges = stats.quantile_edges(ordered, bins)
        return cls(
            features=tuple(names),
            sorted_values=ordered,
            edges=edges,
            bin_counts=stats.bin_counts(ordered, edges),
            rows=values.shape[0],
            categories=_capped(categories or {}),
            category_rows=all_rows,
        )

    @cached_property
    def valid_counts(self) -> IntArray:
        return stats.valid_counts(self.sorted_values)

    @cached_property
    def std(self) -> FloatArray:
        """Standard deviation per feature (ddof=0), the scale of the normed Wasserstein distance."""
        return stats.column_std(self.sorted_values)

    @cached_property
    def bin_lists(self) -> tuple[list[list[int]], list[tuple[float, ...]]]:
        """Per numeric feature, its bin counts and its bin edges as Python values (every report carries them)."""
        return self.bin_counts.tolist(), [tuple(row) for row in self.edges.tolist()]

    @cached_property
    def bin_labels(self) -> list[tuple[str, ...]]:
        """Per numeric feature, its bins' names (`interval_labels` of its edges), written once per reference."""
        return [interval_labels(row) for row in self.edges]

    @cached_property
    def missing_rate(self) -> FloatArray:
        if self.rows == 0:
            return np.full(len(self.features), np.nan)
        return 1.0 - self.valid_counts / self.rows

    def summary(self) -> dict[str, Any]:
        """What a user sees after fitting: sizes, kinds and a few numbers per feature.

        Numeric features: count, missing rate, min/median/max, quantiles p1..p99 and bin edges over
        the kept (possibly sampled) rows. Categorical features: count, missing rate (over
        `category_rows`, every row of the input), number of categories and the top 5 with their
        share of the non-missing values.
        """
        levels = (0.01, 0.25, 0.5, 0.75, 0.99)
        n_valid = self.valid_counts
        features = []
        for j, name in enumerate(self.features):
            col = self.sorted_values[: n_valid[j], j]
            quantiles = np.quantile(col, levels) if col.size else [np.nan] * len(levels)
            features.append(
                {
                    "name": name,
                    "kind": "numeric",
                    "count": int(n_valid[j]),
                    "missing_rate": _num(self.missing_rate[j]),
                    "min": _num(col[0]) if col.size else None,
                    "median": _num(np.median(col)) if col.size else None,
                    "max": _num(col[-1]) if col.size else None,
                    "quantiles": {f"p{round(100 * q)}": _num(v) for q, v in zip(levels, quantiles, strict=True)},
                    "bin_edges": [_num(e) for e in self.edges[j]],
                }
            )
        for name, freq in self.categories.items():
            count = sum(freq.values())
            top = sorted(freq.items(), key=lambda kv: (-kv[1], kv[0]))[:5]
            features.append(
                {
                    "name": name,
                    "kind": "categorical",
                    "count": count,
                    "missing_rate": 1.0 - count / self.category_rows if self.category_rows else None,
                    "categories": len(freq),
                    "top": [{"value": value, "count": n, "share": n / count} for value, n in top],
                    "monitored": True,
                }
            )
        return {
            "rows": self.rows,
            "category_rows": self.category_rows,
            "created_at": self.created_at,
            "features": features,
        }

    def to_bytes(self) -> bytes:
        meta = {
            "features": list(self.features),
            "rows": self.rows,
            "categories": self.categories,
            "created_at": self.created_at,
            "category_rows": self.category_rows,
        }
        buf = io.BytesIO()
        np.savez(
            buf,
            meta=np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8),
            sorted_values=self.sorted_values,
            edges=self.edges,
            bin_counts=self.bin_counts,
            **({} if self.sample is None else {"sample": _parquet(self.sample)}),  # type: ignore[arg-type]
            **{EMBEDDING_KEY + name: vectors for name, vectors in self.embeddings.items()},  # type: ignore[arg-type]
        )
        return buf.getvalue()

    @classmethod
    def from_bytes(cls, blob: bytes) -> ReferenceProfile:
        with np.load(io.BytesIO(blob), allow_pickle=False) as npz:
            meta = json.loads(npz["meta"].tobytes())
            return cls(
                features=tuple(meta["features"]),
                sorted_values=np.asfortranarray(npz["sorted_values"]),
                edges=npz["edges"],
                bin_counts=npz["bin_counts"],
                rows=int(meta["rows"]),
                categories=meta["categories"],
                created_at=float(meta["created_at"]),
                category_rows=int(meta.get("category_rows", meta["rows"])),
                sample=pl.read_parquet(io.BytesIO(npz["sample"].tobytes())) if "sample" in npz.files else None,
                embeddings={
                    key.removeprefix(EMBEDDING_KEY): npz[key] for key in npz.files if key.startswith(EMBEDDING_KEY)
                },
            )


def _parquet(frame: pl.DataFrame) -> npt.NDArray[np.uint8]:
    buf = io.BytesIO()
    frame.write_parquet(buf, compression="zstd")
    return np.frombuffer(buf.getvalue(), dtype=np.uint8)


def _capped(categories: dict[str, dict[str, int]]) -> dict[str, dict[str, int]]:
    out = {}
    for column, freq in categories.items():
        top = sorted(freq.items(), key=lambda kv: (-kv[1], kv[0]))  # ties by name: the same counts keep the same ones
        kept = dict(top[:MAX_CATEGORIES])
        rest = sum(count for _, count in top[MAX_CATEGORIES:])
        if rest:
            kept[OTHER] = kept.get(OTHER, 0) + rest
        out[column] = kept
    return out


def _num(x: float) -> float | None:
    return None if np.isnan(x) else float(x)


def interval_labels(edges: np.ndarray) -> tuple[str, ...]:
    """Names of the bins that `edges` cut, closed on the right as `stats.bin_counts` counts them.

    >>> interval_labels(np.array([0.5, 1.25]))
    ('≤ 0.5', '(0.5, 1.25]', '> 1.25')
    """
    if len(edges) == 0:
        return ("all",)
    e = [f"{x:.4g}" for x in edges]
    return (f"≤ {e[0]}", *(f"({a}, {b}]" for a, b in itertools.pairwise(e)), f"> {e[-1]}")
