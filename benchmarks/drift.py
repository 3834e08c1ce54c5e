"""Benchmark: one drift evaluation (KS + PSI on every feature) against the usual alternatives.

What is measured (wall clock, `time.perf_counter`, median of `--repeats` runs):

* driftwarden: `detectors.drift.compare()` (KS + PSI, like the baselines; and separately with the default
  statistics, which add normed Wasserstein and Jensen-Shannon) against a `ReferenceProfile` fitted once (not timed);
  this sorts the current window, runs KS and PSI for every feature and builds the report.
* scipy loop: what a user would write: per column `scipy.stats.ks_2samp` plus a numpy PSI
  (10 reference-quantile bins, shares clipped at 1e-4).
* Evidently `DataDriftPreset` (default method and method="ks"), when evidently is importable;
  fewer repeats (`--evidently-repeats`), as one run takes seconds.
* floor: `np.sort(current, axis=0)`, the sort no KS implementation can skip.

It also checks once that driftwarden's KS statistics equal scipy's to 1e-12 and its
p-values to 1e-6 (and its PSI the numpy PSI's to 1e-9), and exits 1 if not.

Run:  .venv/bin/python benchmarks/drift.py [--ref-rows 100000 --cur-rows 100000 --features 50 --repeats 5]
With Evidently:  pip install -e '.[bench]'  (or any venv with evidently==0.7.23 and pandas<3)
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

import numpy as np
from scipy import stats as sps

from detectors.drift import DriftThresholds, compare
from detectors.reference import ReferenceProfile

PSI_BINS = 10
PSI_EPS = 1e-4
# Shift in reference standard deviations of the first features of the current window:
# subtle ones put scipy's KS p-value in its slow (Smirnov sum) regime, large ones in the easy ones.
SHIFTS = (0.03, 0.04, 0.05, 0.07, 0.1, 0.15, 0.3, 0.5, 1.0, 2.0)
TARGETS = {"scipy": 4.0, "evidently": 40.0, "floor": 2.5}


def make_data(ref_rows: int, cur_rows: int, n_features: int, seed: int) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Half normal, half lognormal features; the first len(SHIFTS) columns shift in the current window."""
    rng = np.random.default_rng(seed)
    names = [f"f{j:03d}" for j in range(n_features)]
    lognormal = np.arange(n_features) % 2 == 1
    scale = rng.uniform(0.5, 5.0, n_features)
    sigma = rng.uniform(0.25, 1.0, n_features)

    def draw(rows: int) -> np.ndarray:
        out = rng.normal(size=(rows, n_features)) * scale
        out[:, lognormal] = np.exp(rng.normal(size=(rows, int(lognormal.sum()))) * sigma[lognormal])
        return out

    ref, cur = draw(ref_rows), draw(cur_rows)
    sd = ref.std(axis=0)
    for j, shift in enumerate(SHIFTS[:n_features]):
        cur[:, j] += shift * sd[j]
    return names, ref, cur


def timed(fn: Callable[[], Any], repeats: int) -> tuple[float, Any]:
    """Median seconds of `repeats` calls, and the last call's result."""
    times, result = [], None
    for _ in range(repeats):
        started = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times), result


def numpy_psi(ref_col: np.ndarray, cur_col: np.ndarray) -> float:
    edges = np.quantile(ref_col, np.arange(1, PSI_BINS) / PSI_BINS)
    ref_counts = np.diff(np.searchsorted(np.sort(ref_col), edges, side="right"), prepend=0, append=ref_col.size)
    cur_counts = np.diff(np.searchsorted(np.sort(cur_col), edges, side="right"), prepend=0, append=cur_col.size)
    r = np.maximum(ref_counts / ref_col.size, PSI_EPS)
    c = np.maximum(cur_counts / cur_col.size, PSI_EPS)
    return float(((c - r) * np.log(c / r)).sum())


def scipy_loop(ref: np.ndarray, cur: np.ndarray) -> np.ndarray:
    """(features, 3): KS statistic, KS p-value, PSI per column."""
    out = np.empty((ref.shape[1], 3))
    for j in range(ref.shape[1]):
        ks = sps.ks_2samp(ref[:, j], cur[:, j])
        out[j] = ks.statistic, ks.pvalue, numpy_psi(ref[:, j], cur[:, j])
    return out


def check_against_scipy(report: Any, baseline: np.ndarray) -> bool:
    ks = np.array([f.scores["ks"] for f in report.features])
    pv = np.array([f.pvalues["ks"] for f in report.features])
    psi = np.array([f.scores["psi"] for f in report.features])
    d_err = float(np.abs(ks - baseline[:, 0]).max())
    p_err = float(np.abs(pv - baseline[:, 1]).max())
    p_rel = float((np.abs(pv - baseline[:, 1]) / np.maximum(baseline[:, 1], 1e-300)).max())
    psi_err = float(np.abs(psi - baseline[:, 2]).max())
    ok = d_err <= 1e-12 and p_err <= 1e-6 and psi_err <= 1e-9
    print(
        f"correctness vs scipy: {'OK' if ok else 'MISMATCH'}: max |dD| {d_err:.1e} (<= 1e-12), "
        f"max |dp| {p_err:.1e} (<= 1e-6, max relative {p_rel:.1e}), max |dPSI| {psi_err:.1e} (<= 1e-9)"
    )
    worst = int(np.argmax(np.abs(pv - baseline[:, 1])))
    print(f"  largest p-value gap: {report.features[worst].name}: scipy {baseline[worst, 1]:.6g}, ours {pv[worst]:.6g}")
    drifted = [f.name for f in report.features if f.drifted]
    print(f"  driftwarden flags {len(drifted)} drifted features: {', '.join(drifted)}")
    return ok


def evidently_runs(names: list[str], ref: np.ndarray, cur: np.ndarray) -> dict[str, Callable[[], Any]] | None:
    """Zero-argument callables running Evidently's DataDriftPreset, or None when it is not installed."""
    try:
        import pandas as pd
        from evidently import DataDefinition, Dataset, Report
        from evidently.presets import DataDriftPreset
    except ImportError:
        return None
    ref_df, cur_df = pd.DataFrame(ref, columns=names), pd.DataFrame(cur, columns=names)
    definition = DataDefinition(numerical_columns=names)

    def run(**preset: Any) -> Any:
        report = Report([DataDriftPreset(**preset)])
        return report.run(
            Dataset.from_pandas(cur_df, data_definition=definition),
            Dataset.from_pandas(ref_df, data_definition=definition),
        )

    return {"evidently DataDriftPreset()": run, 'evidently DataDriftPreset(method="ks")': lambda: run(method="ks")}


def verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--ref-rows", type=int, default=100_000)
    p.add_argument("--cur-rows", type=int, default=100_000)
    p.add_argument("--features", type=int, default=50)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--evidently-repeats", type=int, default=3)
    p.add_argument("--no-evidently", action="store_true", help="skip Evidently even when installed")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()

    names, ref, cur = make_data(args.ref_rows, args.cur_rows, args.features, args.seed)
    print(f"data: reference {ref.shape[0]:,} x current {cur.shape[0]:,} rows x {len(names)} features, seed {args.seed}")
    profile = ReferenceProfile.fit(names, ref)
    ks_psi = DriftThresholds(methods=("ks", "psi"))  # what the baselines compute; the default adds two more
    compare("bench", profile, names, cur)  # warm-up: imports, thread pool

    results: dict[str, float] = {}
    results["driftwarden compare()"], report = timed(
        lambda: compare("bench", profile, names, cur, thresholds=ks_psi), args.repeats
    )
    results["driftwarden, + Wasserstein and JS"], _ = timed(lambda: compare("bench", profile, names, cur), args.repeats)
    results["scipy loop (ks_2samp + numpy PSI)"], baseline = timed(lambda: scipy_loop(ref, cur), args.repeats)
    results["floor np.sort(current)"], _ = timed(lambda: np.sort(cur, axis=0), args.repeats)
    ok = check_against_scipy(report, baseline)

    runs = None if args.no_evidently else evidently_runs(names, ref, cur)
    if runs is None:
        print("evidently: not installed (pip install -e .[bench])" if not args.no_evidently else "evidently: skipped")
    else:
        import evidently

        print(f"evidently {evidently.__version__}: {args.evidently_repeats} repeats per variant")
        for label, fn in runs.items():
            results[label], _ = timed(fn, args.evidently_repeats)

    print_table(results)
    return 0 if ok else 1


def print_table(results: dict[str, float]) -> None:
    ours = results["driftwarden compare()"]
    print(f"\n{'method':<42} {'median s':>9}  vs driftwarden")
    for label, seconds in results.items():
        if label.startswith("driftwarden"):
            note = ""
        elif label.startswith("floor"):
            note = f"(driftwarden = {ours / seconds:.1f}x the floor)"
        else:
            note = f"({seconds / ours:.1f}x slower than driftwarden)"
        print(f"{label:<42} {seconds:>9.3f}  {note}".rstrip())

    scipy_ratio = results["scipy loop (ks_2samp + numpy PSI)"] / ours
    floor_ratio = ours / results["floor np.sort(current)"]
    print("\ntargets:")
    target = TARGETS["scipy"]
    print(f"  >= {target:g}x faster than the scipy loop: {scipy_ratio:.1f}x  {verdict(scipy_ratio >= target)}")
    target = TARGETS["evidently"]
    evidently = {label: s for label, s in results.items() if label.startswith("evidently")}
    for label, seconds in evidently.items():
        print(f"  >= {target:g}x faster than {label}: {seconds / ours:.1f}x  {verdict(seconds / ours >= target)}")
    if not evidently:
        print(f"  >= {target:g}x faster than Evidently: not measured")
    target = TARGETS["floor"]
    print(f"  <= {target:g}x the np.sort floor: {floor_ratio:.1f}x  {verdict(floor_ratio <= target)}")


if __name__ == "__main__":
    sys.exit(main())
