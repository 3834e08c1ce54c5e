"""A model's multivariate drift (`drift.multivariate`), wired to its reference and its evaluations.

Fitted once per reference, off the loop (the encoder and the PCA, `detectors/multivariate.py`), at the
model's first evaluation with that reference. Each evaluation then runs each method on the window the
drift verdict was taken from. pca alone on a sliding window whose kept row errors need only the new rows
(`quick`) is judged in the drift comparison's worker thread, on its snapshot before the comparison sorts it:
a hop, a task, a timer and a window copy less per model, most of its cost in a sidecar of many models.
Otherwise each method runs in this module's own worker thread, within `drift.multivariate_budget` seconds
for all methods together: a method past the budget is reported `skipped: budget` and counted
(`driftwarden_multivariate_skipped_total{model,method,reason}`); the evaluation does not wait for it (it
stops at its next step), and the model's next evaluation skips that method (`running`) while it still runs.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import math
import threading
import time
from collections.abc import Callable
from typing import TypeVar

from driftwarden.core.arrays import FloatArray
from driftwarden.detectors.estimation import WindowColumns
from driftwarden.detectors.multivariate import BudgetExceeded, MultivariateDetector, MultivariateResult
from driftwarden.detectors.pca_rows import WindowRowErrors
from driftwarden.detectors.reference import ReferenceProfile
from driftwarden.params import MultivariateParams

__all__ = ["ModelMultivariate"]

log = logging.getLogger("driftwarden.daemon.multivariate")

# Multivariate methods run here, never in the loop's default pool: an overrunning classifier must not hold
# a thread the drift verdicts of other models need.
_POOL = concurrent.futures.ThreadPoolExecutor(max_workers=2, thread_name_prefix="driftwarden-multivariate")

R = TypeVar("R")
SkipCounter = Callable[[str, str], None]  # (method, reason)


class ModelMultivariate:
    def __init__(self) -> None:
        self.detector: MultivariateDetector | None = None
        self.results: tuple[MultivariateResult, ...] = ()
        self._running: dict[str, concurrent.futures.Future[MultivariateResult]] = {}
        self._row_errors = WindowRowErrors()  # pca's per-row errors of a sliding window, kept between looks

    def needs_fit(self, reference: ReferenceProfile | None, params: MultivariateParams) -> bool:
        return (
            reference is not None
            and bool(params.methods)
            and (self.detector is None or self.detector.reference is not reference or self.detector.params != params)
        )

    def unchanged_results(
        self, reference: ReferenceProfile, params: MultivariateParams
    ) -> tuple[MultivariateResult, ...] | None:
        """The last evaluation's results for a window with no new rows since (the same rows get the same
        verdicts): None unless every configured method judged it with this reference and these settings."""
        detector, results = self.detector, self.results
        if detector is None or detector.reference is not reference or detector.params != params:
            return None
        if [r.method for r in results] != list(params.methods) or any(r.skipped for r in results):
            return None
        return results

    def quick(
        self, reference: ReferenceProfile, params: MultivariateParams, window: WindowColumns
    ) -> tuple[MultivariateResult, ...] | None:
        """The verdicts of `window` when they are a bounded piece of work done where the caller is (the drift
        comparison's worker thread, beside it): pca alone, fitted for this reference and these settings, its
        kept row errors updated by the new rows only, no earlier run still going. None otherwise: `evaluate`
        (the pool, the budget) then judges the window. Skips nothing, so counts nothing."""
        detector = self.detector
        if params.methods != ("pca",) or detector is None or self.needs_fit(reference, params):
            return None
        running = self._running.get("pca")
        if (running is not None and not running.done()) or not (detector.usable and window.rows):
            return None
        if not self._row_errors.incremental(detector, window):
            return None
        encoded = _Encoded(detector, window, self._row_errors)
        self.results = (encoded.evaluate("pca", math.inf),)
        return self.results

    async def evaluate(
        self,
        reference: ReferenceProfile,
        window: WindowColumns,
        params: MultivariateParams,
        on_skip: SkipCounter,
    ) -> tuple[MultivariateResult, ...]:
        """Every configured method on `window` (a snapshot of the current window), within the budget."""
        self.results = ()  # a failure below leaves no results for `unchanged_results` to hand out
        if not params.methods:
            return ()
        started = time.perf_counter()
        deadline = started + params.budget
        if self.needs_fit(reference, params):
            self.detector = None
            self.detector = await _in_pool(MultivariateDetector, reference, params)
        detector = self.detector
        assert detector is not None
        encoded = _Encoded(detector, window, self._row_errors)
        out: list[MultivariateResult] = []
        for method in params.methods:
            if not (detector.usable and window.rows):
                out.append(MultivariateResult.skip(method, "no_reference_rows", window.rows))
                continue
            running = self._running.get(method)
            if running is not None and not running.done():
                out.append(MultivariateResult.skip(method, "running", window.rows))
                on_skip(method, "running")
                continue
            future = _POOL.submit(encoded.evaluate, method, deadline)
            self._running[method] = future
            left = max(0.0, deadline - time.perf_counter())
            try:
                result = await asyncio.wait_for(asyncio.shield(asyncio.wrap_future(future)), timeout=left)
            except (TimeoutError, BudgetExceeded):
                result = MultivariateResult.skip(method, "budget", window.rows, time.perf_counter() - started)
                on_skip(method, "budget")
            except Exception as exc:  # one method's failure costs its verdict only
                log.warning("multivariate %s failed: %s", method, exc)
                result = MultivariateResult.skip(method, "failed", window.rows)
                on_skip(method, "failed")
            out.append(result)
        self.results = tuple(out)
        return self.results


class _Encoded:
    """A window encoded once for all the methods, by the first method's job (in the pool: one hop a method,
    the encoding inside the first's); pca on a sliding window from its rows' errors kept between looks."""

    def __init__(self, detector: MultivariateDetector, window: WindowColumns, row_errors: WindowRowErrors) -> None:
        self._detector, self._window, self._row_errors = detector, window, row_errors
        self._current: FloatArray | None = None
        self._lock = threading.Lock()

    def evaluate(self, method: str, deadline: float) -> MultivariateResult:
        detector = self._detector
        if method == "pca" and detector.pca is not None and self._window.ring is not None:
            return detector.evaluate_pca(self._row_errors.errors(detector, self._window), self.encoded)
        return detector.evaluate(method, self.encoded(), deadline=deadline)

    def encoded(self) -> FloatArray:
        with self._lock:  # a method past its budget may still be encoding when the next one starts
            if self._current is None:
                self._current = self._detector.encode(self._window)
            return self._current


async def _in_pool(fn: Callable[..., R], *args: object) -> R:
    return await asyncio.wrap_future(_POOL.submit(fn, *args))


def drifted(results: tuple[MultivariateResult, ...]) -> bool:
    return any(r.drifted and not math.isnan(r.score) for r in results)
