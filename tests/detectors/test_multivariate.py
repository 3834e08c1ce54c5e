"""detectors/multivariate.py: the encoding, the PCA's reconstruction error against a hand-computed case, the
thresholds' false-alarm rate measured on the null, the AUROC against scikit-learn's, and a flipped
correlation seen by both methods."""

from __future__ import annotations

import math

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats as sps

from driftwarden.detectors.estimation import FrameColumns
from driftwarden.detectors.multivariate import (
    FOLDS,
    BudgetExceeded,
    Encoder,
    MultivariateDetector,
    PcaModel,
    _auroc,
    classifier_test,
)
from driftwarden.detectors.reference import ReferenceProfile
from driftwarden.params import MultivariateParams


def correlated(rng: np.random.Generator, n: int, rho: float, d: int = 10) -> np.ndarray:
    x = rng.normal(size=(n, d))
    x[:, 1] = rho * x[:, 0] + math.sqrt(1 - rho**2) * x[:, 1]
    return x


def profile(frame: pl.DataFrame, numeric: list[str], categorical: list[str] = ()) -> ReferenceProfile:  # type: ignore[assignment]
    counts = {c: dict(frame[c].drop_nulls().value_counts().iter_rows()) for c in categorical}
    p = ReferenceProfile.fit(numeric, frame.select(numeric).to_numpy(), categories=counts)
    return ReferenceProfile(**{**p.__dict__, "sample": frame})


def test_categories_are_their_reference_shares_unseen_is_zero_and_missing_values_take_the_reference_mean() -> None:
    ref = pl.DataFrame({"x": [1.0, 3.0, None, 2.0], "c": ["a", "a", "b", None], "prediction": [0.1, 0.2, 0.3, 0.4]})
    enc = Encoder.fit(profile(ref, ["x", "prediction"], ["c"]), FrameColumns(ref))
    assert enc.names == ("x", "c")  # the model's output is not an input feature
    cur = pl.DataFrame({"x": [None, 5.0], "c": ["zzz", None]})
    got = enc.encode(FrameColumns(cur))
    # x: NaN -> mean 2.0; c: unseen -> 0, missing -> the reference's mean of its encoded column (2/3, 2/3, 1/3)
    np.testing.assert_allclose(got, [[2.0, 0.0], [5.0, (2 / 3 + 2 / 3 + 1 / 3) / 3]])


def test_pca_error_is_the_distance_to_the_kept_components() -> None:
    rng = np.random.default_rng(1)
    values = correlated(rng, 4000, 0.9, d=3)
    model = PcaModel.fit(values, variance=0.5)
    order = np.random.default_rng(0).permutation(4000)  # fitted on one half, its errors over the other
    fit, held = values[order[:2000]], values[order[2000:]]
    z = (fit - fit.mean(0)) / fit.std(0)
    w, v = np.linalg.eigh(np.cov(z, rowvar=False, ddof=0))
    top = v[:, np.argsort(w)[::-1][: model.kept]]
    zh = (held - fit.mean(0)) / fit.std(0)
    expected = np.linalg.norm(zh - zh @ top @ top.T, axis=1)
    np.testing.assert_allclose(model.reference_errors, expected, rtol=1e-8, atol=1e-10)
    assert model.kept == 1  # (x0 + x1) explains 1.9 of 3


def test_pca_false_alarms_stay_near_alpha_and_a_flip_is_seen_with_the_two_features_named() -> None:
    rng = np.random.default_rng(2)
    names = [f"x{j}" for j in range(10)]
    model = PcaModel.fit(correlated(rng, 20_000, 0.9), alpha=0.01)
    alarms = sum(model.test(correlated(rng, 1000, 0.9), names).drifted for _ in range(300))
    assert alarms <= 12  # alpha 1 %: 3 expected of 300; P(> 12) is under 1e-4 for a binomial(300, 0.01)
    flipped = model.test(correlated(rng, 1000, -0.9), names)
    assert flipped.drifted and flipped.pvalue < 1e-6
    assert set(flipped.top_features[:2]) == {"x0", "x1"}


def test_auroc_is_scikit_learns() -> None:
    from sklearn.metrics import roc_auc_score

    rng = np.random.default_rng(3)
    y = rng.integers(0, 2, 500)
    scores = np.round(rng.random(500) + 0.3 * y, 2)  # ties included
    assert _auroc(scores, y) == pytest.approx(roc_auc_score(y, scores), abs=1e-12)


def test_classifier_names_the_flipped_pair_and_leaves_the_null_alone() -> None:
    rng = np.random.default_rng(4)
    names = [f"x{j}" for j in range(10)]
    reference = correlated(rng, 6000, 0.9)
    calm = classifier_test(reference, correlated(rng, 2000, 0.9), names)
    assert not calm.drifted and calm.pvalue > 0.001
    flipped = classifier_test(reference, correlated(rng, 2000, -0.9), names)
    assert flipped.drifted and flipped.score > 0.75
    assert flipped.threshold == pytest.approx(0.5 + sps.norm.isf(0.001) * flipped_sd(2000), rel=0.01)
    assert set(flipped.top_features[:2]) == {"x0", "x1"}


def flipped_sd(n: int, folds: int = FOLDS) -> float:
    """The Mann-Whitney null sd of the mean AUROC of `folds` folds with n/folds rows of each side per fold."""
    k = n / folds
    return math.sqrt(folds * (2 * k + 1) / (12 * k * k)) / folds


def test_a_classifier_past_its_deadline_stops() -> None:
    rng = np.random.default_rng(5)
    with pytest.raises(BudgetExceeded):
        classifier_test(correlated(rng, 500, 0.5), correlated(rng, 500, 0.5), list("abcdefghij"), deadline=0.0)


def test_a_reference_without_rows_kept_gives_skipped_verdicts() -> None:
    rng = np.random.default_rng(6)
    p = ReferenceProfile.fit(["a", "b"], rng.normal(size=(100, 2)))
    detector = MultivariateDetector(p, MultivariateParams())
    assert not detector.usable
    result = detector.evaluate("pca", rng.normal(size=(100, 2)))
    assert result.skipped == "no_reference_rows" and not result.drifted and math.isnan(result.score)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(-5, 5), min_size=1, max_size=60))
def test_mean_ranks_are_scipys_average_ranks(values: list[int]) -> None:
    from driftwarden.detectors.multivariate import _mean_ranks

    x = np.array(values, dtype=np.float64)
    np.testing.assert_allclose(_mean_ranks(x), sps.rankdata(x))
