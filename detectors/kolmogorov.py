"""The distributions behind the Kolmogorov-Smirnov p-values, without importing `scipy.stats`.

`scipy.stats` takes about a second to import (it parses the docstrings of every distribution), two
thirds of a `driftwarden check` that needs only two of its functions. These are those functions,
written from the published algorithms and matched to scipy branch for branch (the tests compare
them with `scipy.stats` over every branch):

* `kolmogorov_sf(d, n)`: `scipy.stats.kstwo.sf(d, n)`, the one-sample two-sided statistic of n
  values, as `ks_2samp` uses it above 10,000 values. scipy picks a method by n and n*d^2 (Simard and
  L'Ecuyer, 2011) and so does this: Ruben-Gambino's closed forms at the ends, twice the exact
  one-sided (Smirnov) tail where that is accurate, Durbin's matrix (Marsaglia, Tsang and Wang, 2003)
  where the CDF is small, and Pelz-Good's asymptotic series elsewhere. Up to n = 140 scipy uses
  Pomeranz's recursion between n*d^2 = 0.75 and 4; Durbin's matrix is exact there too, and is used.
* `two_sample_exact(n1, n2, d)`: the exact two-sided p-value of `ks_2samp` up to 10,000 values: for
  equal sizes the alternating sum of Gnedenko and Korolyuk (its ratios from a table cached per size,
  summed only as far as its terms matter), otherwise the lattice-path recursion of Hodges (1958) in
  Viehmann's stabler form (2021). That recursion is a tight double loop, so it runs in scipy's
  compiled kernel, loaded from its file without the package around it (`_lattice_kernel`);
  where that cannot be loaded, from `scipy.stats` itself.
"""

from __future__ import annotations

import functools
import importlib.machinery
import importlib.util
import math
import threading
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import numpy as np

from driftwarden.core.arrays import FloatArray

__all__ = ["kolmogorov_sf", "two_sample_exact"]

_LOG_TINY = -708.0  # exp() of anything below is 0 in float64


def kolmogorov_sf(d: float, n: float) -> float:
    """P(D_n >= d) for the two-sided one-sample statistic of n values: `scipy.stats.kstwo.sf(d, n)`."""
    if math.isnan(d) or math.isnan(n) or n <= 0 or int(n) != n:
        return math.nan
    n = int(n)
    if d >= 1.0:
        return 0.0
    if d <= 0.0:
        return 1.0
    t = n * d
    if t <= 1.0:  # Ruben-Gambino: P(D_n <= d) = n!/n^n (2t-1)^n for 1/2n <= d <= 1/n
        if t <= 0.5:
            return 1.0
        return _clipped(1.0 - math.exp(_log_factorial_over_power(n) + n * math.log(2.0 * t - 1.0)))
    if t >= n - 1:  # Ruben-Gambino: P(D_n >= d) = 2 (1-d)^n for d >= 1 - 1/n
        return _clipped(2.0 * (1.0 - d) ** n)
    if d >= 0.5:  # the two one-sided tails cannot both be crossed: exactly twice one of them
        return _clipped(2.0 * smirnov_sf(n, d))
    nxx = t * d
    if n <= 140:
        if nxx <= 4.0:
            return _clipped(1.0 - _durbin_cdf(n, d))
        return _clipped(2.0 * smirnov_sf(n, d))  # Miller's approximation, as scipy
    if nxx >= 370.0:
        return 0.0
    if nxx >= 2.2:
        return _clipped(2.0 * smirnov_sf(n, d))
    if n <= 100_000 and n * d**1.5 <= 1.4:
        return _clipped(1.0 - _durbin_cdf(n, d))
    return _clipped(1.0 - _pelz_good_cdf(n, d))


def smirnov_sf(n: int, x: float) -> float:
    """P(D+_n >= x), the exact one-sided tail (Birnbaum-Tingey):
    x * sum_j C(n,j) (x + j/n)^(j-1) (1 - x - j/n)^(n-j), j = 0..floor(n(1-x)), summed in log space."""
    log_factorial = _log_factorials(n)
    j = np.arange(math.floor(n * (1.0 - x)) + 1)
    jf = j.astype(np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        log_terms = (
            (log_factorial[n] - log_factorial[j] - log_factorial[n - j])
            + (jf - 1.0) * np.log(x + jf / n)
            + (n - jf) * np.log1p(-x - jf / n)
        )
    log_terms = log_terms[np.isfinite(log_terms)]  # (1 - x - j/n)^(n-j) = 0 where x + j/n = 1
    if log_terms.size == 0:
        return 0.0
    top = log_terms.max()
    return float(x * math.exp(top) * np.exp(log_terms - top).sum())


def _clipped(p: float) -> float:
    return min(max(p, 0.0), 1.0)


def _log_factorial_over_power(n: int) -> float:
    """log(n! / n^n)."""
    return math.lgamma(n + 1) - n * math.log(n)


_BIG = 2.0**128  # Durbin's matrix powers are rescaled by this to stay within float64


def _durbin_cdf(n: int, d: float) -> float:
    """P(D_n < d) by Durbin's matrix: with d = (k - h)/n, k an integer and 0 <= h < 1,
    n!/n^n times the centre entry of H^n, H the (2k-1) x (2k-1) matrix of Marsaglia, Tsang and Wang."""
    nd = n * d
    k = math.ceil(nd)
    h = k - nd
    m = 2 * k - 1
    order = np.arange(m + 1, dtype=np.float64)
    with np.errstate(under="ignore"):
        inverse_factorial = np.cumprod(np.concatenate([[1.0], 1.0 / order[1:]]))  # 1/i!, i = 0..m
    rows, columns = np.indices((m, m))
    span = rows - columns + 1
    matrix = np.where(span >= 0, inverse_factorial[np.clip(span, 0, m)], 0.0)
    edge = (1.0 - h ** order[1:]) * inverse_factorial[1:]  # 1/i! - h^i/i!, i = 1..m
    corner = max(2.0 * h - 1.0, 0.0) ** m
    edge[-1] = (1.0 - 2.0 * h**m + corner) * inverse_factorial[m]
    matrix[:, 0] = edge
    matrix[-1, :] = edge[::-1]
    power, exponent = _matrix_power(matrix, n, k - 1)
    centre = float(power[k - 1, k - 1])
    if centre <= 0.0:
        return max(centre, 0.0)
    return math.exp(math.log(centre) + exponent * math.log(2.0) + _log_factorial_over_power(n))


def _matrix_power(matrix: FloatArray, n: int, watch: int) -> tuple[FloatArray, int]:
    """(M, e) with matrix^n = M * 2^e: square-and-multiply, rescaling whenever the watched
    diagonal entry passes 2^128."""
    result = np.eye(matrix.shape[0])
    result_exponent = square_exponent = 0
    square = matrix
    while n:
        if n & 1:
            result = result @ square
            result_exponent += square_exponent
        n >>= 1
        if not n:
            break
        square = square @ square
        square_exponent *= 2
        if abs(square[watch, watch]) > _BIG:
            square = square / _BIG
            square_exponent += 128
    return result, result_exponent


_PI2 = math.pi**2


def _pelz_good_cdf(n: int, d: float) -> float:
    """P(D_n <= d) by Pelz and Good's expansion K0 + K1/sqrt(n) + K2/n + K3/n^1.5 in z = d sqrt(n),
    each term a fast-converging theta series for small z."""
    z = math.sqrt(n) * d
    z2 = z * z
    log_q = -_PI2 / (8.0 * z2)
    if log_q < _LOG_TINY:
        return 0.0
    k = np.arange(1, math.ceil(16.0 * z / math.pi) + 1, dtype=np.float64)
    odd2 = (2.0 * k - 1.0) ** 2
    odd_terms = np.exp(log_q * odd2)  # q^((2k-1)^2)
    square_terms = k**2 * np.exp(-_PI2 / (2.0 * z2) * k**2)  # k^2 q'^(k^2), q' = exp(-pi^2 / 2z^2)
    root = math.sqrt(2.0 * math.pi)

    def odd_sum(*coefficients: float) -> float:  # sum_k P((2k-1)^2) q^((2k-1)^2), P's coefficients highest first
        return float((np.polyval(coefficients, odd2) * odd_terms).sum())

    z4, z6 = z2 * z2, z2 * z2 * z2
    k0 = root / z * odd_sum(1.0)
    k1 = root / (6.0 * z4) * odd_sum(_PI2 / 4.0, -z2)
    k2 = root / (72.0 * z6 * z) * odd_sum(
        _PI2**2 * (1.0 - 2.0 * z2) / 16.0, (2.0 * z4 - 5.0 * z2) * _PI2 / 4.0, 6.0 * z6 + 2.0 * z4
    ) - _PI2 * root / (36.0 * z2 * z) * float(square_terms.sum())
    k3 = root / (6480.0 * z6 * z4) * odd_sum(
        _PI2**3 * (5.0 - 30.0 * z2) / 64.0,
        _PI2**2 * (212.0 * z4 - 60.0 * z2) / 16.0,
        _PI2 * (135.0 * z4 - 96.0 * z6) / 4.0,
        -30.0 * z6 - 90.0 * z6 * z2,
    ) + _PI2 * root / (216.0 * z6) * float(((3.0 * z2 - _PI2 * k**2) * square_terms).sum())
    root_n = math.sqrt(n)
    return k0 + k1 / root_n + k2 / n + k3 / (n * root_n)


_log_factorial_table: FloatArray = np.zeros(1)


def _log_factorials(n: int) -> FloatArray:
    """log(k!) for k = 0..n, from a table that grows on demand (shared by all threads, never shrunk)."""
    global _log_factorial_table
    table = _log_factorial_table
    if table.size <= n:
        size = max(n + 1, 2 * table.size)
        table = np.concatenate([[0.0], np.cumsum(np.log(np.arange(1, size, dtype=np.float64)))])
        _log_factorial_table = table
    return table


# -- the exact two-sample distribution ---------------------------------------------------------


def two_sample_exact(n1: int, n2: int, d: float) -> tuple[float, float] | None:
    """(d on the lattice of attainable values, P(D >= d)) for the two-sided two-sample statistic of
    samples of n1 and n2 values; None when the computation breaks down numerically."""
    lcm = (n1 // math.gcd(n1, n2)) * n2
    h = round(d * lcm)
    d = h / lcm
    if h == 0:
        return d, 1.0
    prob = _exact_sf(n1, n2, h)
    return (d, prob) if 0.0 <= prob <= 1.0 else None


@functools.lru_cache(maxsize=16384)
def _exact_sf(n1: int, n2: int, h: int) -> float:
    """P(D >= h / lcm(n1, n2)), remembered: the windows of a sidecar's models share a few sizes and their
    statistics a few hundred lattice steps, so most of an evaluation's p-values were computed before."""
    if n1 == n2:
        return _outside_square(n1, h)
    return float(_lattice_kernel()(n1, n2, math.gcd(n1, n2), h))


def _outside_square(n: int, h: int) -> float:
    """P(D_{n,n} >= h/n) = 2 sum_{k>=1} (-1)^(k-1) C(2n, n-kh) / C(2n, n) (Gnedenko-Korolyuk).

    With r_t = (n - t) / (n + t + 1), C(2n, n-kh) / C(2n, n) is the product of r_t over t < kh: each
    term is the one before times the product of r over [(k-1)h, kh), one `multiply.reduceat` over the
    table of r for n (cached: every column of every model with n-row windows and references shares it).
    The terms fall fast: since ln r_t <= -(2t+1)/(2n+1), term k is below exp(-((kh)^2 - h^2)/(2n+1)) of
    the first, under 1e-20 of it (e^-46) once k^2 > 1 + 92 (n + 1/2) / h^2; the sum stops there. Its
    terms fall from the first, so the alternating sum loses no more than a few ulps per term."""
    # the (n//h + 1)-th term and beyond are 0: their range reaches t = n, where r_t = 0
    terms = min(n // h, math.isqrt(1 + (92 * n + 46) // (h * h)) + 2)
    ratios = np.multiply.reduceat(_ratio_table(n)[: terms * h], np.arange(0, terms * h, h))
    with np.errstate(under="ignore"):
        products = np.cumprod(ratios)
    return float(2.0 * (products[::2].sum() - products[1::2].sum()))


@functools.lru_cache(maxsize=32)
def _ratio_table(n: int) -> FloatArray:
    """r_t = (n - t) / (n + t + 1) for t = 0..n-1, read-only (shared between threads)."""
    t = np.arange(n, dtype=np.float64)
    table = (n - t) / (n + t + 1.0)
    table.setflags(write=False)
    return table


_kernel: Callable[[int, int, int, int], float] | None = None
_kernel_lock = threading.Lock()
_KERNEL_MODULE = "scipy.stats._stats_pythran"  # the compiled `_compute_outer_prob_inside_method`


def _lattice_kernel() -> Callable[[int, int, int, int], float]:
    """scipy's compiled lattice-path recursion, P(D >= h / lcm(m, n)) for samples of m and n values
    with gcd g, loaded from its extension file: the kernel needs numpy only, the package around it
    a second of imports. From `scipy.stats` when the file is not where scipy keeps it."""
    global _kernel
    with _kernel_lock:
        if _kernel is None:
            module = _load_extension(_KERNEL_MODULE)
            if module is None:
                module = importlib.import_module(_KERNEL_MODULE)
            _kernel = module._compute_outer_prob_inside_method
        return _kernel


def _load_extension(name: str) -> ModuleType | None:
    """The extension module `name` loaded from its file, its package not imported; None if absent."""
    import scipy

    package, _, leaf = name.rpartition(".")
    folder = Path(scipy.__path__[0], *package.split(".")[1:])
    for suffix in importlib.machinery.EXTENSION_SUFFIXES:
        path = folder / f"{leaf}{suffix}"
        if path.is_file():
            spec = importlib.util.spec_from_file_location(name, path)
            if spec is None or spec.loader is None:
                return None
            module = importlib.util.module_from_spec(spec)
            try:
                spec.loader.exec_module(module)
            except ImportError:
                return None
            return module
    return None
