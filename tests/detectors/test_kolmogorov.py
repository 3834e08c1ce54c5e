"""detectors.kolmogorov against scipy.stats, branch by branch; and the drift statistics, imported and
run, leave scipy.stats unimported (a subprocess, so that no other test has imported it already)."""

from __future__ import annotations

import math
import subprocess
import sys

import numpy as np
import pytest
from scipy import stats as sps

from driftwarden.detectors import kolmogorov

# n*d^2 at each of scipy's branch points, so that both sides of every one are compared
BRANCH_POINTS = np.array([0.5, 0.754693, 0.76, 2.0, 2.2, 3.9, 4.0, 4.1, 18.0, 370.0])


def distances(n: int) -> np.ndarray:
    d = np.concatenate(
        [
            np.geomspace(1e-6, 0.9999, 40),
            np.array([0.3, 0.5, 0.8, 1.0, 1.5, n - 1.5, n - 1.0]) / n,  # Ruben-Gambino's ends
            np.sqrt((BRANCH_POINTS[:, None] * np.array([0.999, 1.0, 1.001])).ravel() / n),
            (1.4 / n) ** (2 / 3) * np.array([0.999, 1.001]),  # Durbin's matrix / Pelz-Good
        ]
    )
    return np.unique(d[(d > 0) & (d < 1)])


@pytest.mark.parametrize("n", [1, 2, 3, 10, 50, 139, 140, 141, 500, 2500, 25000, 50000, 100000, 100001])
def test_kolmogorov_sf_equals_scipy_kstwo_on_every_branch(n: int) -> None:
    d = distances(n)
    got = np.array([kolmogorov.kolmogorov_sf(float(x), float(n)) for x in d])
    np.testing.assert_allclose(got, sps.kstwo.sf(d, n), rtol=1e-8, atol=1e-12)


def test_kolmogorov_sf_outside_its_domain() -> None:
    assert kolmogorov.kolmogorov_sf(0.0, 10.0) == 1.0 and kolmogorov.kolmogorov_sf(1.0, 10.0) == 0.0
    assert math.isnan(kolmogorov.kolmogorov_sf(math.nan, 10.0))
    assert math.isnan(kolmogorov.kolmogorov_sf(0.1, 2.5))


SIZES = [
    (1, 1),
    (1, 2),
    (5, 7),
    (7, 5),
    (100, 100),
    (1000, 1000),
    (300, 1000),
    (3, 10000),
    (4000, 10000),
    (9999, 10000),
]


@pytest.mark.parametrize(("n1", "n2"), SIZES)
def test_exact_two_sample_p_values_equal_scipy_down_to_the_smallest(n1: int, n2: int) -> None:
    rng = np.random.default_rng(n1 * 7 + n2)
    for shift in (0.0, 0.1, 1.0):
        ref, cur = rng.normal(size=n1), rng.normal(shift, 1.0, size=n2)
        want = sps.ks_2samp(ref, cur, method="exact")
        got = kolmogorov.two_sample_exact(n1, n2, float(want.statistic))
        assert got is not None
        assert got[0] == pytest.approx(want.statistic, abs=1e-15)
        assert got[1] == pytest.approx(want.pvalue, rel=1e-12, abs=1e-300), shift


def test_exact_two_sample_of_identical_samples_is_one() -> None:
    assert kolmogorov.two_sample_exact(30, 40, 0.0) == (0.0, 1.0)


NO_SCIPY_STATS = """
import sys
import numpy as np
from driftwarden.detectors import stats
rng = np.random.default_rng(0)
for n1, n2 in ((50, 50), (300, 700), (20000, 30000), (20000, 100)):  # exact (both forms) and asymptotic
    stats.ks_2samp(stats.sort_columns(rng.normal(size=(n1, 2))), stats.sort_columns(rng.normal(0.1, 1, (n2, 2))))
stats.chi_square_homogeneity(np.array([[5, 9, 1]]), np.array([[6, 2, 8]]))
stats.chi_square(np.array([[5, 9, 1]]), np.array([[6, 2, 8]]))
stats.jensen_shannon(np.array([[5, 9, 0]]), np.array([[6, 0, 8]]))
stats.proportions_ztest(3, 100, 9, 100)
kernel = "scipy.stats._stats_pythran"  # scipy's compiled lattice-path kernel, loaded from its file alone
print(sorted(m for m in sys.modules if m.startswith("scipy.stats") and m != kernel))
"""


def test_the_drift_statistics_do_not_import_scipy_stats() -> None:
    done = subprocess.run([sys.executable, "-c", NO_SCIPY_STATS], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
