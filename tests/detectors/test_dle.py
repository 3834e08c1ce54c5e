"""Direct loss estimation (detectors/dle.py) on a regression stream with known errors.

The model's error is normal with a standard deviation 0.3 + 0.8 |x0| (+ 0.5 in category "c"), so the
expected absolute error is √(2/π) σ and the expected squared error σ²; windows are drawn fresh with
their labels, and each estimate is checked against the window's realized MAE and RMSE. Seeded, at test
sizes (a 20,000-row reference, 5,000-row windows); the same stream beside NannyML is in
benchmarks/estimation.py.
"""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from driftwarden.detectors.dle import DLE, regression_metrics
from driftwarden.detectors.estimation import FrameColumns
from driftwarden.params import EstimateParams

WINDOW = 5000


def rows(rng: np.random.Generator, n: int, *, shift: float = 0.0) -> pl.DataFrame:
    x0, x1 = rng.normal(shift, 1.0, n), rng.normal(0.0, 1.0, n)
    country = rng.choice(["a", "b", "c"], n, p=[0.5, 0.3, 0.2])
    prediction = 2.0 * x0 + x1
    noise = rng.normal(0.0, 0.3 + 0.8 * np.abs(x0) + 0.5 * (country == "c"), n)
    return pl.DataFrame({"x0": x0, "x1": x1, "country": country, "prediction": prediction, "label": prediction + noise})


@pytest.fixture(scope="module")
def dle() -> DLE:
    return DLE.fit(
        FrameColumns(rows(np.random.default_rng(0), 20_000)),
        EstimateParams(kind="regression"),
        numeric=["x0", "x1"],
        categorical=["country"],
    )


def realized(frame: pl.DataFrame) -> dict[str, float]:
    return regression_metrics(np.abs(frame["label"].to_numpy() - frame["prediction"].to_numpy()))


@pytest.mark.parametrize("shift", [0.0, 1.0, 2.0])
def test_estimated_mae_and_rmse_are_within_ten_percent_of_the_realized_ones(dle: DLE, shift: float) -> None:
    """Also where the inputs move 2 σ, a sixth of the rows past the reference's range."""
    window = rows(np.random.default_rng([1, int(10 * shift)]), WINDOW, shift=shift)
    estimate = dle.estimate(FrameColumns(window.drop("label")))
    assert estimate is not None and estimate.rows == WINDOW
    truth = realized(window)
    for metric in ("mae", "rmse"):
        value = estimate.metrics[metric].value
        assert abs(value - truth[metric]) < 0.1 * truth[metric], (metric, value, truth[metric])
    assert estimate.metrics["rmse"].value >= estimate.metrics["mae"].value


def test_the_loss_grows_past_the_reference_range_where_trees_alone_stay_flat(dle: DLE) -> None:
    """x0 at 4 to 6 σ (the reference has a handful of rows beyond 3.5): the trend carries the growing error
    on, within a quarter of the stream's own values (√(2/π) σ, σ², σ from 3.5 to 5.1; trees flat past the
    reference's last rows would stay near σ = 3)."""
    rng = np.random.default_rng(2)
    x0 = rng.uniform(4.0, 6.0, WINDOW)
    x1 = rng.normal(0.0, 1.0, WINDOW)
    window = pl.DataFrame({"x0": x0, "x1": x1, "country": ["a"] * WINDOW, "prediction": 2.0 * x0 + x1})
    estimate = dle.estimate(FrameColumns(window))
    assert estimate is not None
    sigma = 0.3 + 0.8 * x0
    expected = {"mae": float(np.sqrt(2 / np.pi) * sigma.mean()), "rmse": float(np.sqrt((sigma**2).mean()))}
    for metric, value in expected.items():
        assert abs(estimate.metrics[metric].value - value) < 0.25 * value, (metric, estimate.metrics[metric], value)
    assert estimate.metrics["mae"].lower > estimate.metrics["mae"].reference


def test_the_band_holds_the_reference_value_without_shift_and_the_fit_reports_its_r2(dle: DLE) -> None:
    window = rows(np.random.default_rng(3), WINDOW)
    estimate = dle.estimate(FrameColumns(window.drop("label")))
    assert estimate is not None
    for metric in ("mae", "rmse"):
        m = estimate.metrics[metric]
        assert m.lower < m.value < m.upper and m.lower <= m.reference <= m.upper
    quality = dle.fit_quality
    assert quality["r2_absolute_error"] > 0.2 and quality["r2_squared_error"] > 0.1
    assert quality["reference_rows"] == 20_000


def test_missing_inputs_and_unseen_categories_still_give_an_estimate(dle: DLE) -> None:
    window = rows(np.random.default_rng(4), 500).with_columns(
        pl.when(pl.int_range(pl.len()) % 3 == 0).then(None).otherwise(pl.col("x0")).alias("x0"),
        pl.lit("zz").alias("country"),
    )
    estimate = dle.estimate(FrameColumns(window.drop("label", "x1")))
    assert estimate is not None
    assert all(np.isfinite(m.value) and m.value > 0 for m in estimate.metrics.values())
