"""The current window of a model: the last N rows, column-wise, in a preallocated ring buffer.

Appends are a couple of slice assignments per batch (no Python loop over rows);
`snapshot()` copies the filled rows out under a lock so that evaluation can run in
another thread while ingestion goes on. Row order is not kept in the snapshot: none
of the statistics depend on it.
"""

from __future__ import annotations

import io
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import numpy.typing as npt

from driftwarden.core.arrays import FloatArray, IntArray
from driftwarden.detectors import stats

__all__ = ["SlidingWindow", "TooManyFeatures", "encode_checkpoint"]

_binning = ThreadPoolExecutor(max_workers=1, thread_name_prefix="driftwarden-bins")  # its own: never queued
# behind an evaluation's work


class TooManyFeatures(ValueError):
    """A batch would take the window past its feature limit (bounded label cardinality)."""


class SlidingWindow:
    """The most recent `capacity` rows of a model's features (categorical ones as codes).

    A feature seen for the first time gets a new column, NaN (missing) for the rows
    already in the window.

    >>> w = SlidingWindow(capacity=3)
    >>> w.append(["x"], np.array([[1.0], [2.0]]))
    >>> w.append(["x", "y"], np.array([[3.0, 30.0], [4.0, 40.0]]))
    >>> names, values = w.snapshot()
    >>> names, sorted(values[:, 0].tolist()), int(np.isnan(values[:, 1]).sum())
    (('x', 'y'), [2.0, 3.0, 4.0], 1)
    """

    def __init__(self, features: Sequence[str] = (), *, capacity: int = 5000, max_features: int = 1000) -> None:
        if capacity < 1:
            raise ValueError("capacity must be at least 1")
        self.capacity = capacity
        self.max_features = max_features
        self._lock = threading.Lock()
        self._columns: dict[str, int] = {}
        self._values: FloatArray = np.full((capacity, 0), np.nan, order="F")
        self._next = 0  # ring position of the next row
        self._rows = 0
        self._total = 0
        self._binned: list[str] = []  # features whose values are counted into reference bins as they arrive
        self._edges: FloatArray = np.empty((0, 1))
        self._bins: IntArray = np.zeros((0, 2), dtype=np.int64)
        self._add_columns(list(features))

    @property
    def rows(self) -> int:
        return self._rows

    @property
    def total_rows(self) -> int:
        """Rows ever appended, including those that have slid out."""
        return self._total

    @property
    def features(self) -> tuple[str, ...]:
        return tuple(self._columns)

    def append(self, names: Sequence[str], values: npt.ArrayLike) -> None:
        """Append a (rows, len(names)) batch; features absent from it are missing for its rows."""
        values = np.asarray(values, dtype=np.float64)
        if values.ndim != 2 or values.shape[1] != len(names):
            raise ValueError(f"values must be (rows, {len(names)}), got {values.shape}")
        with self._lock:
            new = [n for n in names if n not in self._columns]
            if new:
                self._add_columns(new)
            cols = np.fromiter((self._columns[n] for n in names), dtype=np.intp, count=len(names))
            if len(names) == len(self._columns) and np.array_equal(cols, np.arange(len(cols))):
                incoming = values[-self.capacity :]  # the usual batch: every column, in window order
            else:
                full = np.full((values.shape[0], len(self._columns)), np.nan)
                full[:, cols] = values
                incoming = full[-self.capacity :]
            if self._binned:
                self._count_bins(incoming, self._evicted(incoming.shape[0]))
            self._write(incoming)
            self._total += values.shape[0]

    def track_bins(self, features: Sequence[str], edges: npt.ArrayLike) -> None:
        """Count these features' values into bins cut at `edges` (features, bins-1) from now on,
        starting from the rows already here; `binned()` reads the counts."""
        with self._lock:
            self._binned = list(features)
            edges = np.asarray(edges, dtype=np.float64)
            self._edges = edges.reshape(len(self._binned), edges.shape[-1] if edges.ndim == 2 else 1)
            self._bins = np.zeros((len(self._binned), self._edges.shape[1] + 1), dtype=np.int64)
            if self._binned and self._rows:
                self._count_bins(self._values[: self._rows], None)

    def binned(self) -> tuple[tuple[str, ...], FloatArray, IntArray]:
        """(feature names, a copy of the filled rows, per-bin counts of the tracked features), atomically."""
        with self._lock:
            return tuple(self._columns), np.array(self._values[: self._rows], order="F"), self._bins.copy()

    def transform(self, name: str, fn: Callable[[FloatArray], FloatArray]) -> None:
        """Replace the filled values of one column by `fn(values)` (a feature found to be categorical
        after numbers had arrived for it: its numbers become category codes)."""
        with self._lock:
            j = self._columns.get(name)
            if j is not None and self._rows:
                self._values[: self._rows, j] = fn(self._values[: self._rows, j])

    def clear(self) -> None:
        """Empty the window (a tumbling window closing); columns and tracked bins stay."""
        with self._lock:
            self._values[:] = np.nan
            self._next = self._rows = 0
            self._bins[:] = 0

    def snapshot(self) -> tuple[tuple[str, ...], FloatArray]:
        """(feature names, a copy of the filled rows) taken atomically."""
        with self._lock:
            return tuple(self._columns), np.array(self._values[: self._rows], order="F")

    def to_bytes(self, meta: bytes = b"") -> bytes:
        """A checkpoint: feature names, the filled rows (order within the window is not kept) and
        `meta`, bytes the owner needs to read the columns back (e.g. category vocabularies)."""
        return encode_checkpoint(*self.checkpoint_state(), meta)

    def checkpoint_state(self) -> tuple[tuple[str, ...], FloatArray, int]:
        """(names, a copy of the filled rows, rows ever appended), taken atomically; cheap beside encoding."""
        with self._lock:
            return tuple(self._columns), np.array(self._values[: self._rows], order="F"), self._total

    def restore(self, blob: bytes) -> bytes:
        """Refill from `to_bytes()`, returning its `meta`; rows beyond this window's capacity keep the most recent."""
        with np.load(io.BytesIO(blob), allow_pickle=False) as saved:
            names, values, total = saved["names"].tolist(), saved["values"], int(saved["total"][0])
            meta = saved["meta"].tobytes() if "meta" in saved.files else b""
        if names and values.shape[0]:
            self.append(names, values[-self.capacity :])
        self._total = max(self._total, total)
        return meta

    def _evicted(self, n: int) -> FloatArray | None:
        """The rows that writing `n` rows will overwrite (the oldest), before they are."""
        if self._rows + n <= self.capacity:
            return None
        positions = (self._next + np.arange(n)) % self.capacity
        return self._values[positions[positions < self._rows]]  # slots not yet filled hold nothing to evict

    def _count_bins(self, added: FloatArray, evicted: FloatArray | None) -> None:
        cols = [self._columns.get(name) for name in self._binned]
        present = [j for j, c in enumerate(cols) if c is not None]
        if not present:
            return
        columns = [c for c in cols if c is not None]  # the window columns of `present`, in order
        where: list[int] | slice = columns
        if columns == list(range(columns[0], columns[0] + len(columns))):
            where = slice(columns[0], columns[0] + len(columns))  # a view, not a copy
        edges = self._edges[present]
        if evicted is None or len(evicted) == 0:
            self._bins[present] += stats.unsorted_bin_counts(added[:, where], edges)
            return
        # both batches at once: numpy drops the GIL in the comparisons, so the two cores share the work
        gone = _binning.submit(stats.unsorted_bin_counts, evicted[:, where], edges)
        self._bins[present] += stats.unsorted_bin_counts(added[:, where], edges)
        self._bins[present] -= gone.result()

    def _write(self, rows: FloatArray) -> None:
        n = rows.shape[0]
        first = min(n, self.capacity - self._next)
        self._values[self._next : self._next + first] = rows[:first]
        if n > first:
            self._values[: n - first] = rows[first:]
        self._next = (self._next + n) % self.capacity
        self._rows = min(self.capacity, self._rows + n)

    def _add_columns(self, names: list[str]) -> None:
        if len(self._columns) + len(names) > self.max_features:
            raise TooManyFeatures(
                f"window already holds {len(self._columns)} features; {len(names)} more would pass "
                f"the limit of {self.max_features} (limits.max_features)"
            )
        grown = np.full((self.capacity, len(self._columns) + len(names)), np.nan, order="F")
        grown[:, : self._values.shape[1]] = self._values
        self._values = grown
        for name in names:
            self._columns[name] = len(self._columns)


def encode_checkpoint(names: Sequence[str], values: FloatArray, total: int, meta: bytes = b"") -> bytes:
    """The bytes `SlidingWindow.restore()` reads back."""
    buf = io.BytesIO()
    np.savez_compressed(
        buf,
        names=np.array(names, dtype=object).astype(str),
        values=values,
        total=np.array([total]),
        meta=np.frombuffer(meta, dtype=np.uint8),
    )
    return buf.getvalue()
