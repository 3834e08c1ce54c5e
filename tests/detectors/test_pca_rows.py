"""PCA row errors kept per ring slot across evaluations (issue 22) equal a whole-window computation's,
whatever the window went through between evaluations, and give the same verdict."""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import polars as pl

from driftwarden.detectors.estimation import WindowColumns
from driftwarden.detectors.multivariate import MultivariateDetector
from driftwarden.detectors.pca_rows import WindowRowErrors
from driftwarden.detectors.reference import ReferenceProfile
from driftwarden.detectors.windows import SlidingWindow
from driftwarden.params import MultivariateParams

FEATURES = [f"x{j}" for j in range(6)]


def _detector(rng: np.random.Generator) -> MultivariateDetector:
    cov = np.full((6, 6), 0.7) + 0.3 * np.eye(6)
    values = rng.multivariate_normal(np.zeros(6), cov, 3000)
    frame = pl.DataFrame({name: values[:, j] for j, name in enumerate(FEATURES)})
    reference = dataclasses.replace(ReferenceProfile.fit(FEATURES, values), sample=frame)
    return MultivariateDetector(reference, MultivariateParams(methods=("pca",), alpha=0.01))


def _rows(rng: np.random.Generator, n: int, flip: bool) -> np.ndarray:
    cov = np.full((6, 6), -0.15 if flip else 0.7) + (1.15 if flip else 0.3) * np.eye(6)
    rows = rng.multivariate_normal(np.zeros(6), cov, n)
    rows[rng.random(n) < 0.03, 2] = np.nan  # missing values: imputed by the encoder
    return rows


def _columns(window: SlidingWindow) -> WindowColumns:
    names, values, _, _, ring = window.ring_snapshot()
    return WindowColumns(names, values, {}, ring)


def test_kept_errors_equal_a_whole_window_computation_through_appends_wraps_and_changes() -> None:
    rng = np.random.default_rng(21)
    detector, refit = _detector(rng), _detector(rng)
    pca = detector.pca
    assert pca is not None
    window = SlidingWindow(FEATURES, capacity=400)
    kept = WindowRowErrors()
    encoded: list[int] = []
    encode = detector.encode

    def counted(columns: Any, **kwargs: Any) -> Any:
        encoded.append(columns.rows)
        return encode(columns, **kwargs)

    detector.encode = counted  # type: ignore[method-assign]
    verdicts = []
    for step, n in enumerate([120, 0, 300, 60, 60, 399, 400, 900, 5, 45]):  # growing, wrapping, refills
        if n:
            window.append(FEATURES, _rows(rng, n, flip=step >= 6))
        if step == 8:
            window.transform("x1", lambda column: column * 2.0)  # rows changed in place: a new generation
        columns = _columns(window)
        encoded.clear()
        got = kept.errors(detector, columns)
        whole = pca.row_errors(encode(columns))
        np.testing.assert_allclose(got, whole, rtol=1e-12, atol=1e-12)
        fresh = detector.evaluate_pca(got, lambda columns=columns: encode(columns))
        assert fresh.drifted == detector.evaluate("pca", encode(columns)).drifted
        assert abs(fresh.score - detector.evaluate("pca", encode(columns)).score) < 1e-12
        verdicts.append(fresh.drifted)
        if step in (4, 9):  # a full window and a few new rows: only those rows encoded
            assert encoded == [n], (step, encoded)
    assert not verdicts[4] and verdicts[7]  # both verdicts met on the way
    other = kept.errors(refit, _columns(window))  # a new fit: every row again
    np.testing.assert_allclose(other, refit.pca.row_errors(refit.encode(_columns(window))), rtol=1e-12)  # type: ignore[union-attr]
