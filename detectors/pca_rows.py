"""A sliding window's PCA reconstruction errors per ring slot, kept across evaluations.

Multivariate PCA averages each row's reconstruction error over the window (`PcaModel.row_errors`), and a
row's error depends on that row and the fitted model only. As `ks_ranks.WindowRanks` keeps the KS ranks,
`WindowRowErrors` keeps the errors of a sliding window's slots and encodes and projects only the rows
written since its last call: all of them after a new fit, a changed generation (rows changed other than by
appending), new columns, a window that grew or more new rows than it holds. The score is then the mean of
the kept errors, in the window's ring order as a whole-window computation takes them.
"""

from __future__ import annotations

import threading

import numpy as np

from driftwarden.core.arrays import FloatArray
from driftwarden.detectors.estimation import WindowColumns
from driftwarden.detectors.multivariate import MultivariateDetector

__all__ = ["WindowRowErrors"]


class WindowRowErrors:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._detector: MultivariateDetector | None = None  # held: its identity is the key's first part
        self._key: tuple[object, ...] | None = None
        self._total = 0
        self._errors: FloatArray = np.empty(0)

    def incremental(self, detector: MultivariateDetector, window: WindowColumns) -> bool:
        """Whether `errors(detector, window)` would compute only the rows written since its last call (a bounded
        piece of work: no new fit, no changed generation, fewer new rows than the window holds)."""
        if detector.pca is None or window.ring is None:
            return False
        with self._lock:
            fresh = window.ring[1] - self._total
            return detector is self._detector and self._key == self._window_key(window) and 0 <= fresh < window.rows

    @staticmethod
    def _window_key(window: WindowColumns) -> tuple[object, ...]:
        assert window.ring is not None
        return (tuple(window.names), window.ring[2], window.rows)

    def errors(self, detector: MultivariateDetector, window: WindowColumns) -> FloatArray:
        """Each row's reconstruction error for `window` (a sliding window's snapshot, `ring` set), a copy."""
        pca = detector.pca
        if pca is None or window.ring is None:
            raise ValueError("row errors need a fitted PCA and a window's ring position")
        next_slot, total, _ = window.ring
        rows = window.rows
        key = self._window_key(window)
        with self._lock:
            fresh = total - self._total
            if detector is not self._detector or key != self._key or not 0 <= fresh < rows:
                self._errors = pca.row_errors(detector.encode(window))
            elif fresh:
                slots = (np.arange(next_slot - fresh, next_slot) % rows).astype(np.int64)
                written = WindowColumns(window.names, window.values[slots], window.categories)
                self._errors[slots] = pca.row_errors(detector.encode(written))
            self._detector, self._key, self._total = detector, key, total
            return self._errors.copy()
