"""The current window of a model: the last N rows, column-wise, in a ring buffer that grows with them.

Appends are a couple of slice assignments per batch (no Python loop over rows);
`snapshot()` copies the filled rows out under a lock so that evaluation can run in
another thread while ingestion goes on. Row order is not kept in the snapshot: none
of the statistics depend on it.

The buffer holds the rows it has, rounded up to a power of two (at least 16 rows), never more
than the window's rows: a model that sent one row costs one small block, not a whole window,
and filling a window copies each row about twice (amortized doubling). Until the window is full
its rows sit at the front in arrival order, so growing keeps the ring's positions; once full it
is the same ring as ever. `window_bytes()` says what a window of some rows and columns takes,
which admission uses to keep the windows within their memory budget before it appends.

Rows may carry a trace and span id (`core.records.pack_traces`): a window that has been sent one
keeps a second ring of TRACE_BYTES per row at the same positions (zeros where a row had none), so an
evaluation can name the traces of the rows behind a drift.
"""

from __future__ import annotations

import io
import threading
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import numpy.typing as npt

from driftwarden.core.arrays import ByteArray, FloatArray, IntArray
from driftwarden.core.records import TRACE_BYTES
from driftwarden.detectors import stats

__all__ = ["VALUE_BYTES", "SlidingWindow", "TooManyFeatures", "allocated_rows", "encode_checkpoint", "window_bytes"]

_binning = ThreadPoolExecutor(max_workers=1, thread_name_prefix="driftwarden-bins")  # its own: never queued
# behind an evaluation's work


VALUE_BYTES = 8  # a float64
_MIN_ROWS = 16  # the smallest block a window with rows allocates: fewer would only mean more copies


def allocated_rows(rows: int, capacity: int) -> int:
    """The rows a window of `capacity` allocates to hold `rows`: none for none, else the next power of
    two (at least 16), at most `capacity`.

    >>> [allocated_rows(n, 5000) for n in (0, 1, 17, 4096, 4097, 9999)]
    [0, 16, 32, 4096, 5000, 5000]
    """
    if rows <= 0:
        return 0
    return min(capacity, max(_MIN_ROWS, 1 << (min(rows, capacity) - 1).bit_length()))


def window_bytes(rows: int, columns: int, capacity: int, *, traced: bool = False) -> int:
    """Bytes of a window of `capacity` holding `rows` rows of `columns` features (and their trace ids)."""
    return allocated_rows(rows, capacity) * (columns * VALUE_BYTES + TRACE_BYTES * traced)


class TooManyFeatures(ValueError):
    """A batch would take the window past its feature limit (bounded label cardinality)."""


class SlidingWindow:
    """The most recent `capacity` rows of a model's features (categorical ones as codes).

    A feature seen for the first time gets a new column, NaN (missing) for the rows
    already in the window. The buffer grows with the rows (`allocated_rows`), up to `capacity`.

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
        self._values: FloatArray = np.empty((0, 0), order="F")  # rows past `_rows` are never read
        self._traces: ByteArray | None = None  # (allocated rows, TRACE_BYTES) beside `_values`, once a row had one
        self._next = 0  # ring position of the next row
        self._rows = 0
        self._total = 0
        self._generation = 0  # changes whenever rows change other than by appending (`ring_snapshot`)
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

    @property
    def columns(self) -> int:
        return len(self._columns)

    def __contains__(self, feature: object) -> bool:
        return feature in self._columns

    @property
    def nbytes(self) -> int:
        """Bytes the window's buffers take now."""
        return int(self._values.nbytes) + (0 if self._traces is None else int(self._traces.nbytes))

    def bytes_after(self, rows: int, features: Iterable[str] = (), *, traced: bool = False) -> int:
        """Bytes the buffers would take once `rows` more rows naming `features` (`traced`: with trace
        ids) are appended (before they are: what admission weighs against the memory budget).
        Appending never shrinks them."""
        columns = len(self._columns) + sum(1 for name in set(features) if name not in self._columns)
        allocated = max(int(self._values.shape[0]), self._allocation(self._rows + rows))
        return allocated * (columns * VALUE_BYTES + TRACE_BYTES * (traced or self._traces is not None))

    def append(self, names: Sequence[str], values: npt.ArrayLike, traces: ByteArray | None = None) -> None:
        """Append a (rows, len(names)) batch; features absent from it are missing for its rows.
        `traces` (rows, TRACE_BYTES) are the rows' packed trace and span ids."""
        values = np.asarray(values, dtype=np.float64)
        if values.ndim != 2 or values.shape[1] != len(names):
            raise ValueError(f"values must be (rows, {len(names)}), got {values.shape}")
        if traces is not None and traces.shape != (values.shape[0], TRACE_BYTES):
            raise ValueError(f"traces must be ({values.shape[0]}, {TRACE_BYTES}), got {traces.shape}")
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
            self._grow(self._rows + incoming.shape[0])
            if traces is not None and self._traces is None:
                self._traces = np.zeros((self._values.shape[0], TRACE_BYTES), dtype=np.uint8)
            if self._binned:
                self._count_bins(incoming, self._evicted(incoming.shape[0]))
            self._write(incoming, None if traces is None else traces[-self.capacity :])
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

    def binned_with_traces(self) -> tuple[tuple[str, ...], FloatArray, IntArray, ByteArray | None]:
        """`binned()` and the filled rows' packed trace ids, row for row (None when no row has one), atomically."""
        names, values, bins, traces, _ = self.ring_snapshot()
        return names, values, bins, traces

    def ring_snapshot(self) -> tuple[tuple[str, ...], FloatArray, IntArray, ByteArray | None, tuple[int, int, int]]:
        """`binned_with_traces()` (the rows in ring order) and (the slot the next row goes to, rows ever
        appended, the generation), atomically: the slots written since an earlier snapshot of the same
        generation are the last (total - earlier total) before that slot, modulo the rows."""
        with self._lock:
            return (
                tuple(self._columns),
                np.array(self._values[: self._rows], order="F"),
                self._bins.copy(),
                self._filled_traces(),
                (self._next, self._total, self._generation),
            )

    def transform(self, name: str, fn: Callable[[FloatArray], FloatArray]) -> None:
        """Replace the filled values of one column by `fn(values)` (a feature found to be categorical
        after numbers had arrived for it: its numbers become category codes)."""
        with self._lock:
            j = self._columns.get(name)
            if j is not None and self._rows:
                self._values[: self._rows, j] = fn(self._values[: self._rows, j])
                self._generation += 1

    def clear(self) -> None:
        """Empty the window (a tumbling window closing), giving its buffer back; columns and tracked bins stay."""
        with self._lock:
            self._values = np.empty((0, len(self._columns)), order="F")
            self._traces = None
            self._next = self._rows = 0
            self._bins[:] = 0
            self._generation += 1

    def snapshot(self) -> tuple[tuple[str, ...], FloatArray]:
        """(feature names, a copy of the filled rows) taken atomically."""
        with self._lock:
            return tuple(self._columns), np.array(self._values[: self._rows], order="F")

    def to_bytes(self, meta: bytes = b"") -> bytes:
        """A checkpoint: feature names, the filled rows (order within the window is not kept), their
        trace ids and `meta`, bytes the owner needs to read the columns back (e.g. category vocabularies)."""
        names, values, total, traces = self.checkpoint_state()
        return encode_checkpoint(names, values, total, meta, traces)

    def checkpoint_state(self) -> tuple[tuple[str, ...], FloatArray, int, ByteArray | None]:
        """(names, a copy of the filled rows, rows ever appended, their trace ids), taken atomically;
        cheap beside encoding."""
        with self._lock:
            values = np.array(self._values[: self._rows], order="F")
            return tuple(self._columns), values, self._total, self._filled_traces()

    def restore(self, blob: bytes) -> bytes:
        """Refill from `to_bytes()`, returning its `meta`; rows beyond this window's capacity keep the most recent."""
        with np.load(io.BytesIO(blob), allow_pickle=False) as saved:
            names, values, total = saved["names"].tolist(), saved["values"], int(saved["total"][0])
            meta = saved["meta"].tobytes() if "meta" in saved.files else b""
            traces = saved["traces"] if "traces" in saved.files else None
        if traces is not None and traces.shape != (values.shape[0], TRACE_BYTES):
            traces = None  # not this window's: the rows are still good without them
        if names and values.shape[0]:
            self.append(names, values[-self.capacity :], None if traces is None else traces[-self.capacity :])
        with self._lock:
            self._total = max(self._total, total)
            self._generation += 1
        return meta

    def _filled_traces(self) -> ByteArray | None:
        """A copy of the filled rows' trace ids; None when none of them has one (call under the lock)."""
        if self._traces is None:
            return None
        traces = self._traces[: self._rows]
        return traces.copy() if traces[:, :16].any() else None

    def _evicted(self, n: int) -> FloatArray | None:
        """The rows that writing `n` rows will overwrite (the oldest), before they are."""
        if self._rows + n <= self.capacity:
            return None
        first = self._values[self._next : min(self._next + n, self._rows)]  # a view: read before `_write`
        wrapped = self._next + n - self.capacity  # the rows past the end, taken from the start
        if wrapped <= 0:
            return first
        return np.concatenate([first, self._values[: min(wrapped, self._rows)]])

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

    def _write(self, rows: FloatArray, traces: ByteArray | None) -> None:
        n = rows.shape[0]
        first = min(n, self.capacity - self._next)
        self._values[self._next : self._next + first] = rows[:first]
        if n > first:
            self._values[: n - first] = rows[first:]
        if self._traces is not None:  # a row sent without a trace id must not keep the one it overwrites
            self._traces[self._next : self._next + first] = 0 if traces is None else traces[:first]
            if n > first:
                self._traces[: n - first] = 0 if traces is None else traces[first:]
        self._next = (self._next + n) % self.capacity
        self._rows = min(self.capacity, self._rows + n)

    def _add_columns(self, names: list[str]) -> None:
        if len(self._columns) + len(names) > self.max_features:
            raise TooManyFeatures(
                f"window already holds {len(self._columns)} features; {len(names)} more would pass "
                f"the limit of {self.max_features} (limits.max_features)"
            )
        for name in names:
            self._columns[name] = len(self._columns)
        self._generation += 1
        self._grow(self._rows)

    def _grow(self, rows: int) -> None:
        """Room for `rows` rows (at most `capacity`) in a column per feature, keeping the filled rows."""
        old_rows, old_columns = self._values.shape
        shape = (max(old_rows, self._allocation(rows)), len(self._columns))
        if shape == (old_rows, old_columns):
            return
        grown: FloatArray = np.empty(shape, order="F")
        # until full, the rows sit at the front (ring position == rows); once full, every slot is a row
        grown[: self._rows, :old_columns] = self._values[: self._rows]
        grown[: self._rows, old_columns:] = np.nan  # a new feature is missing for the rows already here
        self._values = grown
        if self._traces is not None and self._traces.shape[0] != shape[0]:
            traces = np.zeros((shape[0], TRACE_BYTES), dtype=np.uint8)
            traces[: self._rows] = self._traces[: self._rows]
            self._traces = traces

    def _allocation(self, rows: int) -> int:
        return allocated_rows(rows, self.capacity)


def encode_checkpoint(
    names: Sequence[str], values: FloatArray, total: int, meta: bytes = b"", traces: ByteArray | None = None
) -> bytes:
    """The bytes `SlidingWindow.restore()` reads back."""
    buf = io.BytesIO()
    arrays: dict[str, npt.NDArray[Any]] = {
        "names": np.array(names, dtype=object).astype(str),
        "values": values,
        "total": np.array([total]),
        "meta": np.frombuffer(meta, dtype=np.uint8),
    }
    if traces is not None:
        arrays["traces"] = traces
    # stored, not deflated: a window of measured values barely compresses (~4 %), and deflating it cost
    # ~45 ms a 5,000 x 20 window, most of an evaluation cycle's CPU; `np.load` reads either
    np.savez(buf, **arrays)  # type: ignore[arg-type]  # numpy types **kwds as the arrays, not a dict
    return buf.getvalue()
