"""The embedding statistics against scipy and hand-computed cases (detectors/embedding_stats.py)."""

from __future__ import annotations

import numpy as np
from scipy import stats as scipy_stats

from driftwarden.detectors.embedding_stats import (
    RandomFeatures,
    benjamini_hochberg,
    median_bandwidth,
    pc_ks,
    permutation_weights,
)


def test_benjamini_hochberg_is_scipys() -> None:
    p = np.random.default_rng(0).uniform(size=50) ** 3
    assert np.allclose(benjamini_hochberg(p), scipy_stats.false_discovery_control(p))


def test_ks_per_component_is_scipys_statistic_and_asymptotic_pvalue() -> None:
    rng = np.random.default_rng(1)
    ref, cur = rng.normal(size=(3000, 3)), rng.normal(size=(2000, 3)) + np.array([0.0, 0.1, 0.3])
    result = pc_ks(np.sort(ref, axis=0), cur, alpha=0.01)
    expected = [scipy_stats.ks_2samp(ref[:, j], cur[:, j], method="asymp").pvalue for j in range(3)]
    assert np.allclose(result.pvalues, scipy_stats.false_discovery_control(expected), rtol=1e-3)
    assert result.drifted == 2 and result.components == 3


def test_random_features_approximate_the_gaussian_kernel_at_the_median_bandwidth() -> None:
    rng = np.random.default_rng(2)
    x = rng.normal(size=(400, 8))
    sigma = median_bandwidth(x)
    d2 = ((x[:, None, :] - x[None, :, :]) ** 2).sum(-1)
    assert np.isclose(sigma**2, np.median(d2[np.triu_indices(400, 1)]))
    z = RandomFeatures.fit(x, dim=4096, seed=0).transform(x).astype(np.float64)
    assert np.abs(z @ z.T - np.exp(-d2 / (2 * sigma**2))).mean() < 0.02


def test_permutation_weights_split_every_row_into_the_two_sample_sizes() -> None:
    w = permutation_weights(3, 5, 40, seed=0)
    assert w.shape == (40, 8)
    assert ((w > 0).sum(axis=1) == 3).all() and np.allclose(w.sum(axis=1), 0.0, atol=1e-6)
    assert len({tuple(row > 0) for row in w}) > 20  # the permutations differ
