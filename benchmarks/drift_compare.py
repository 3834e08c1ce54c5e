"""`drift.py --section compare` (the default, `make bench`): one drift evaluation (KS + PSI on
every feature) against a scipy loop, Evidently and the sort floor, with a correctness check
against scipy (see `benchmarks/drift.py`).
"""

from __future__ import annotations

import argparse
from typing import Any

import numpy as np
from drift_common import evidently_runs, make_data, timed, verdict
from scipy import stats as sps

from driftwarden.detectors.drift import compare
from driftwarden.detectors.reference import ReferenceProfile
from driftwarden.params import DriftThresholds

__all__ = ["section_compare"]

PSI_BINS = 10
PSI_EPS = 1e-4
TARGETS = {"scipy": 4.0, "evidently": 40.0, "floor": 2.5}


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


def section_compare(args: argparse.Namespace) -> int:
    """The original benchmark: 100k x 100k x 50 numeric, compare() against scipy, Evidently and the sort floor."""
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
