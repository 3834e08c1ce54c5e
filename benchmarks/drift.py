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

Further sections (issue #3, "Speed"), chosen with --section (repeatable; `all` runs every one):

* compare: the benchmark above (the default).
* update: `DriftDetector.update()` of a 10k-row batch into a full 100k-row window that has a reference:
  50 numeric columns, and 40 numeric + 10 categorical string columns (target <= 10 ms median).
* floor: `DriftDetector.evaluate()` of a full 100k-row window, 50 numeric + 10 categorical features
  (Zipf-distributed strings over 20-200 categories), against np.sort(axis=0) of its numeric columns
  (target <= 2.5x that floor).
* memory: in a fresh interpreter per run, a 1M x 50 window fed in 10k-row updates and evaluated once; peak
  ru_maxrss above the interpreter after imports, against the data (1M x 50 x 8 bytes; target <= 3x), with
  the reference fitted from 1M rows, all kept and (not with --quick) sampled to 100k (max_rows); then where
  an evaluation's memory goes, step by step (Linux: high-water mark reset through /proc/self/clear_refs).
* evidently: compare() against Evidently's DataDriftPreset() at 10k, 100k and 1M rows x 50 numeric features;
  the 1M Evidently run in a subprocess, killed and reported "skipped (> 5 min)" past 300 s.

--quick: 3 repeats (10 updates), one Evidently run per size, no 1M Evidently run, one memory configuration.
Example:  .venv/bin/python benchmarks/drift.py --section update --section floor --quick
"""

from __future__ import annotations

import argparse
import gc
import itertools
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

import numpy as np
from rich.console import Console
from rich.table import Table
from scipy import stats as sps

from driftwarden.detectors.detector import DriftDetector
from driftwarden.detectors.drift import DriftThresholds, compare
from driftwarden.detectors.reference import ReferenceProfile
from driftwarden.detectors.vocabulary import Vocabulary

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


# -- issue #3 "Speed": batch update, the sort floor, memory at 1M rows, Evidently by size -----------

SECTIONS = ("compare", "update", "floor", "memory", "evidently")
BATCH = 10_000  # rows a batch update ingests
ZIPF_EXPONENT = 1.1  # category k of a categorical feature has probability ~ k^-1.1
MIB = 1024 * 1024
EVIDENTLY_SIZES = (10_000, 100_000, 1_000_000)
EVIDENTLY_TIMEOUT_S = 300  # the 1M-row Evidently run is skipped past this
SPEED_TARGETS = {"update_ms": 10.0, "floor": 2.5, "memory": 3.0}
console = Console(highlight=False, width=150)


class Stream:
    """Rows as a prediction log would send them: make_data's numeric columns (half normal, half lognormal),
    plus categorical string columns, each Zipf-distributed over 20-200 categories.

    `shifted=True` moves the first len(SHIFTS) numeric columns by SHIFTS standard deviations and rotates the
    first categorical column's category shares by one, so that an evaluation has drift to report.
    """

    def __init__(self, n_numeric: int, n_categorical: int = 0, seed: int = 0) -> None:
        rng = np.random.default_rng(seed)
        self.names = [f"f{j:03d}" for j in range(n_numeric)]
        self.categorical_names = [f"c{k:02d}" for k in range(n_categorical)]
        self.lognormal = np.arange(n_numeric) % 2 == 1
        self.scale = rng.uniform(0.5, 5.0, n_numeric)
        self.sigma = rng.uniform(0.25, 1.0, n_numeric)
        s2 = self.sigma**2
        self.sd = np.where(self.lognormal, np.sqrt((np.exp(s2) - 1) * np.exp(s2)), self.scale)
        self.categories = [
            np.array([f"{name}_{i:03d}" for i in range(size)], dtype=object)
            for name, size in zip(self.categorical_names, rng.integers(20, 201, n_categorical), strict=True)
        ]
        self.shares = [self._zipf(len(c)) for c in self.categories]
        self._rng = rng

    @staticmethod
    def _zipf(size: int) -> np.ndarray:
        weights = np.arange(1, size + 1, dtype=np.float64) ** -ZIPF_EXPONENT
        return weights / weights.sum()

    def numeric(self, rows: int, *, shifted: bool = False) -> np.ndarray:
        out = np.empty((rows, len(self.names)))
        for start in range(0, rows, BATCH):  # in batches: no full-size temporaries
            part = self._rng.normal(size=(min(BATCH, rows - start), len(self.names))) * self.scale
            part[:, self.lognormal] = np.exp(
                part[:, self.lognormal] / self.scale[self.lognormal] * self.sigma[self.lognormal]
            )
            if shifted:
                k = min(len(SHIFTS), len(self.names))
                part[:, :k] += np.array(SHIFTS[:k]) * self.sd[:k]
            out[start : start + part.shape[0]] = part
        return out

    def categorical(self, rows: int, *, shifted: bool = False) -> np.ndarray:
        out = np.empty((rows, len(self.categories)), dtype=object)
        for k, (categories, shares) in enumerate(zip(self.categories, self.shares, strict=True)):
            p = np.roll(shares, 1) if shifted and k == 0 else shares
            out[:, k] = categories[self._rng.choice(len(categories), size=rows, p=p)]
        return out

    def counts(self, values: np.ndarray) -> dict[str, dict[str, int]]:
        """Category counts per categorical column, as ReferenceProfile.fit(categories=...) takes them."""
        out = {}
        for k, name in enumerate(self.categorical_names):
            labels, n = np.unique(values[:, k].astype(str), return_counts=True)
            out[name] = dict(zip(labels.tolist(), n.tolist(), strict=True))
        return out

    def fill(self, detector: DriftDetector, rows: int) -> None:
        """Feed `rows` shifted rows to `detector` in BATCH-row updates."""
        for _ in range(0, rows, BATCH):
            detector.update(*self.batch(BATCH, shifted=True))

    def batch(self, rows: int, *, shifted: bool = False) -> tuple:
        """update() arguments for one batch."""
        if not self.categories:
            return (self.names, self.numeric(rows, shifted=shifted))
        return (
            self.names,
            self.numeric(rows, shifted=shifted),
            self.categorical_names,
            self.categorical(rows, shifted=shifted),
        )


def times_of(fn: Callable[[], Any], repeats: int) -> list[float]:
    out = []
    for _ in range(repeats):
        started = time.perf_counter()
        fn()
        out.append(time.perf_counter() - started)
    return out


def table(title: str, *columns: str) -> Table:
    t = Table(title=title, title_justify="left")
    for k, column in enumerate(columns):
        t.add_column(column, justify="left" if k == 0 else "right")
    return t


def fitted(stream: Stream, rows: int, *, max_rows: int | None = None) -> ReferenceProfile:
    categories = stream.counts(stream.categorical(rows)) if stream.categories else None
    return ReferenceProfile.fit(stream.names, stream.numeric(rows), categories=categories, max_rows=max_rows)


def section_update(args: argparse.Namespace) -> bool:
    """DriftDetector.update() of one 10k-row batch into a full 100k-row window."""
    rows, repeats = args.window_rows, args.update_repeats
    target = SPEED_TARGETS["update_ms"]
    console.print(
        f"\n[bold]update[/]: DriftDetector.update() of a {BATCH:,}-row batch into a full {rows:,}-row window "
        f"(reference of {rows:,} rows set), median of {repeats} updates, 5 distinct batches cycled"
    )
    out = table("batch update", "batch", "median ms", "p90 ms", "min ms", "rows/s", f"target ≤ {target:g} ms")
    ok = True
    for label, n_numeric, n_categorical in (("50 numeric", 50, 0), ("40 numeric + 10 categorical (str)", 40, 10)):
        stream = Stream(n_numeric, n_categorical, args.seed)
        detector = DriftDetector("bench", fitted(stream, rows), window=rows)
        stream.fill(detector, rows)  # the ring buffer is full: every timed update overwrites the oldest rows
        batches = [stream.batch(BATCH, shifted=True) for _ in range(5)]
        it = itertools.cycle(batches)
        ms = np.array(times_of(lambda it=it, detector=detector: detector.update(*next(it)), repeats)) * 1e3
        median = float(np.median(ms))
        ok &= median <= target
        out.add_row(
            label,
            f"{median:.2f}",
            f"{np.percentile(ms, 90):.2f}",
            f"{ms.min():.2f}",
            f"{BATCH / median * 1e3 / 1e6:.1f} M",
            f"{median / target:.2f}x  {verdict(median <= target)}",
        )
        if n_categorical:  # where the time of the mixed batch goes
            categorical_names, categorical = batches[0][2:]
            vocabulary = Vocabulary()
            for k, name in enumerate(categorical_names):
                vocabulary.encode(name, categorical[:, k])
            encode = times_of(
                lambda v=vocabulary, c=categorical, n=categorical_names: [
                    v.encode(name, c[:, k]) for k, name in enumerate(n)
                ],
                repeats,
            )
            out.add_row(
                "  of which Vocabulary.encode, 10 str columns", f"{statistics.median(encode) * 1e3:.2f}", "", "", "", ""
            )
    console.print(out)
    return ok


def section_floor(args: argparse.Namespace) -> bool:
    """DriftDetector.evaluate() of a full 100k-row window, 50 numeric + 10 categorical, against np.sort."""
    rows, repeats = args.window_rows, args.repeats
    target = SPEED_TARGETS["floor"]
    stream = Stream(50, 10, args.seed)
    detector = DriftDetector("bench", fitted(stream, rows), window=rows)
    stream.fill(detector, rows)
    names, values = detector.window.snapshot()
    coded = [j for j, name in enumerate(names) if name in detector.vocabulary]
    numeric_columns = [j for j in range(len(names)) if j not in set(coded)]
    window = np.asfortranarray(values[:, numeric_columns])  # the numeric window as the ring buffer holds it
    current_categories = {names[j]: detector.vocabulary.counts(names[j], values[:, j]) for j in coded}
    numeric_names = [names[j] for j in numeric_columns]
    sizes = [len(c) for c in stream.categories]
    console.print(
        f"\n[bold]floor[/]: DriftDetector.evaluate() of a full window, {rows:,} rows x 50 numeric + 10 categorical "
        f"(Zipf over {min(sizes)}-{max(sizes)} categories), reference {rows:,} rows; median of {repeats}"
    )
    detector.evaluate()  # warm-up
    ks_psi = DriftThresholds(methods=("ks", "psi"))

    def evaluate_with(thresholds: DriftThresholds) -> Callable[[], Any]:
        def run() -> Any:
            detector.thresholds = thresholds
            return detector.evaluate()

        return run

    c_order = np.ascontiguousarray(window)
    results = {
        "floor: np.sort(numeric window, axis=0)": timed(lambda: np.sort(window, axis=0), repeats)[0],
        "evaluate(), default statistics": timed(evaluate_with(DriftThresholds()), repeats)[0],
        "evaluate(), KS + PSI": timed(evaluate_with(ks_psi), repeats)[0],
        "  of which window.snapshot()": timed(detector.window.snapshot, repeats)[0],
        "compare(numeric, current_categories=...), default": timed(
            lambda: compare("bench", detector.reference, numeric_names, window, current_categories=current_categories),
            repeats,
        )[0],
        "np.sort of the same values in C order (for reference)": timed(lambda c=c_order: np.sort(c, axis=0), repeats)[
            0
        ],
    }
    floor = results["floor: np.sort(numeric window, axis=0)"]
    out = table("full evaluation vs the sort floor", "step", "median s", "x floor", f"target ≤ {target:g}x")
    ok = True
    for label, seconds in results.items():
        judged = label.startswith("evaluate()")
        ok &= not judged or seconds / floor <= target
        out.add_row(
            label, f"{seconds:.3f}", f"{seconds / floor:.2f}", verdict(seconds / floor <= target) if judged else ""
        )
    console.print(out)
    return ok


# memory: a fresh interpreter per configuration, so that ru_maxrss is this run's alone


def rss_now() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def peak_rss() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # KiB on Linux


def reset_peak() -> bool:
    """Lower the high-water mark (and ru_maxrss) to the current RSS (Linux >= 4.0); False where not allowed."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def memory_child(args: argparse.Namespace) -> None:
    """Prints one JSON line: RSS at each phase, the evaluation peak and where the peak goes."""
    from driftwarden.detectors import stats

    rows, features = args.memory_rows, 50
    stream = Stream(features, 0, args.seed)
    compare("warm", ReferenceProfile.fit(["x"], np.arange(100.0)[:, None]), ["x"], np.arange(50.0)[:, None])
    baseline = peak_rss()
    out: dict[str, Any] = {"rows": rows, "features": features, "baseline": baseline, "rss_baseline": rss_now()}

    reference_values = stream.numeric(args.memory_reference_rows)
    profile = ReferenceProfile.fit(stream.names, reference_values, max_rows=args.memory_max_rows)
    del reference_values
    gc.collect()
    out |= {"reference_kept": profile.rows, "fit_peak": peak_rss(), "rss_fitted": rss_now()}

    detector = DriftDetector("bench", profile, window=rows)
    stream.fill(detector, rows)
    out |= {"fill_peak": peak_rss(), "rss_filled": rss_now()}
    started = time.perf_counter()
    findings = detector.evaluate()
    out |= {"evaluate_s": time.perf_counter() - started, "peak": peak_rss(), "rss_after": rss_now()}
    out["drifted"] = len(findings)

    # where the evaluation peak goes: each step's high-water mark above the RSS it started at
    steps: list[tuple[str, int]] = []
    if reset_peak():

        def step(label: str, fn: Callable[[], Any]) -> Any:
            gc.collect()
            reset_peak()
            before = rss_now()
            result = fn()
            steps.append((label, peak_rss() - before))
            return result

        step("evaluate() as a whole (for comparison with the steps below)", detector.evaluate)
        _, snapshot = step("window.snapshot(): copy of the filled rows", detector.window.snapshot)
        ordered = step("stats.sort_columns(): a second, sorted copy", lambda: stats.sort_columns(snapshot))
        step("stats.ks_2samp(): per-column merge buffers", lambda: stats.ks_2samp(profile.sorted_values, ordered))
        step(
            "stats.wasserstein_normed(): coupling + gathers",
            lambda: stats.wasserstein_normed(profile.sorted_values, ordered, reference_std=profile.std),
        )
        step("stats.bin_counts()", lambda: stats.bin_counts(ordered, profile.edges))
        del ordered
        step("proposal: snapshot sorted in place (ndarray.sort(axis=0))", lambda: snapshot.sort(axis=0))
    out["steps"] = steps
    print(json.dumps(out))


def section_memory(args: argparse.Namespace) -> bool:
    rows = args.memory_rows
    data = rows * 50 * 8
    target = SPEED_TARGETS["memory"]
    configs = [(rows, None)] if args.quick else [(rows, None), (rows, args.memory_sample)]
    console.print(
        f"\n[bold]memory[/]: a {rows:,}-row x 50 window (data {data / MIB:,.0f} MiB) fed in {BATCH:,}-row updates, "
        "evaluated once (default statistics), each in a fresh interpreter; "
        "peak = ru_maxrss minus ru_maxrss after imports"
    )
    results = []
    for reference_rows, max_rows in configs:
        command = [sys.executable, __file__, "--memory-child", "--memory-rows", str(rows)]
        command += ["--memory-reference-rows", str(reference_rows), "--seed", str(args.seed)]
        if max_rows:
            command += ["--memory-max-rows", str(max_rows)]
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            console.print(f"memory child failed ({done.returncode}):\n{done.stderr[-2000:]}")
            return False
        results.append(json.loads(done.stdout.strip().splitlines()[-1]))

    def mib(n: float) -> str:
        return f"{n / MIB:,.0f}"

    out = table(
        "peak memory, MiB above the interpreter after imports",
        "reference kept",
        "after fit (peak)",
        "window filled",
        "evaluate s",
        "peak",
        "peak / data",
        f"target ≤ {target:g}x",
    )
    ok = True
    for r in results:
        base = r["baseline"]
        peak = r["peak"] - base
        ok &= peak / data <= target
        out.add_row(
            f"{r['reference_kept']:,} of {args.memory_reference_rows:,} rows",
            mib(r["fit_peak"] - base),
            mib(r["rss_filled"] - r["rss_baseline"]),
            f"{r['evaluate_s']:.2f}",
            mib(peak),
            f"{peak / data:.2f}",
            verdict(peak / data <= target),
        )
    console.print(out)
    for r in results:
        if not r["steps"]:
            console.print("(no breakdown: /proc/self/clear_refs cannot be written here)")
            continue
        steps = table(
            f"where an evaluation's memory goes (reference {r['reference_kept']:,} rows), high-water mark above the "
            "step's start",
            "step",
            "MiB",
            "x data",
        )
        for label, extra in r["steps"]:
            steps.add_row(label, mib(max(extra, 0)), f"{max(extra, 0) / data:.2f}")
        console.print(steps)
    return ok


def evidently_child(args: argparse.Namespace) -> None:
    """One DataDriftPreset() run at --evidently-child rows; prints 'ready' before it starts, then its seconds."""
    rows = args.evidently_child
    names, ref, cur = make_data(rows, rows, args.features, args.seed)
    runs = evidently_runs(names, ref, cur)
    if runs is None:
        print("not installed", flush=True)
        return
    del ref, cur
    gc.collect()
    print("ready", flush=True)
    print(json.dumps({"seconds": timed(runs["evidently DataDriftPreset()"], 1)[0]}), flush=True)


def evidently_in_subprocess(rows: int, args: argparse.Namespace) -> float | None:
    """Seconds of one run, or None when it takes longer than EVIDENTLY_TIMEOUT_S (data setup not counted)."""
    command = [sys.executable, __file__, "--evidently-child", str(rows), "--seed", str(args.seed)]
    with subprocess.Popen(command, stdout=subprocess.PIPE, text=True) as child:
        assert child.stdout is not None
        if child.stdout.readline().strip() != "ready":
            child.wait()
            return None
        try:
            child.wait(timeout=EVIDENTLY_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()
            return None
        return float(json.loads(child.stdout.read().strip().splitlines()[-1])["seconds"])


def evidently_row(rows: int, args: argparse.Namespace) -> tuple[float, float, float | None]:
    """Seconds of compare() (KS + PSI), compare() (default statistics) and DataDriftPreset() at `rows` x `rows`.

    Above 100k rows Evidently runs once in its own interpreter, after this one has let go of its data."""
    ours_ks_psi, ours, theirs = time_at_size(rows, args, with_evidently=rows <= 100_000)
    if rows > 100_000:
        gc.collect()
        theirs = evidently_in_subprocess(rows, args)
    return ours_ks_psi, ours, theirs


def time_at_size(rows: int, args: argparse.Namespace, *, with_evidently: bool) -> tuple[float, float, float | None]:
    names, ref, cur = make_data(rows, rows, args.features, args.seed)
    profile = ReferenceProfile.fit(names, ref)
    compare("bench", profile, names, cur)  # warm-up
    repeats = args.repeats if rows <= 100_000 else min(args.repeats, 3)
    ks_psi = DriftThresholds(methods=("ks", "psi"))
    ours_ks_psi = timed(lambda: compare("bench", profile, names, cur, thresholds=ks_psi), repeats)[0]
    ours = timed(lambda: compare("bench", profile, names, cur), repeats)[0]
    runs = evidently_runs(names, ref, cur) if with_evidently else None
    theirs = timed(runs["evidently DataDriftPreset()"], args.evidently_repeats)[0] if runs else None
    return ours_ks_psi, ours, theirs


def section_evidently(args: argparse.Namespace) -> bool:
    if args.no_evidently or evidently_runs(["x"], np.zeros((2, 1)), np.zeros((2, 1))) is None:
        console.print("\n[bold]evidently[/]: skipped (not installed or --no-evidently)")
        return True
    import evidently

    console.print(
        f"\n[bold]evidently[/]: reference N x current N rows x {args.features} numeric features (make_data), "
        f"Evidently {evidently.__version__} DataDriftPreset() (default: normed Wasserstein above 1,000 rows) vs "
        f"driftwarden compare(), reference fitted once (not timed); {args.evidently_repeats} Evidently runs at "
        f"10k-100k, one at 1M in a subprocess killed after {EVIDENTLY_TIMEOUT_S} s"
    )
    out = table(
        "driftwarden vs Evidently, seconds per run",
        "rows",
        "compare() KS+PSI",
        "compare() default",
        "DataDriftPreset()",
        "ours/theirs (default)",
        "ours/theirs (KS+PSI)",
    )
    for rows in EVIDENTLY_SIZES:
        if args.quick and rows > 100_000:
            out.add_row(f"{rows:,}", "", "", "skipped (--quick)", "", "")
            continue
        ours_ks_psi, ours, theirs = evidently_row(rows, args)
        if theirs is None:
            skipped = f"skipped (> {EVIDENTLY_TIMEOUT_S // 60} min)"
            out.add_row(f"{rows:,}", f"{ours_ks_psi:.3f}", f"{ours:.3f}", skipped, "", "")
            continue
        out.add_row(
            f"{rows:,}",
            f"{ours_ks_psi:.3f}",
            f"{ours:.3f}",
            f"{theirs:.2f}",
            f"{ours / theirs:.4f} ({theirs / ours:.0f}x faster)",
            f"{ours_ks_psi / theirs:.4f} ({theirs / ours_ks_psi:.0f}x faster)",
        )
    console.print(out)
    return True


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument(
        "--section",
        action="append",
        choices=(*SECTIONS, "all"),
        help="what to run (repeatable; default: compare, the original benchmark)",
    )
    p.add_argument("--quick", action="store_true", help="3 repeats, 1 Evidently run, no 1M Evidently run")
    p.add_argument("--ref-rows", type=int, default=100_000)
    p.add_argument("--cur-rows", type=int, default=100_000)
    p.add_argument("--features", type=int, default=50)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--evidently-repeats", type=int, default=3)
    p.add_argument("--no-evidently", action="store_true", help="skip Evidently even when installed")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--window-rows", type=int, default=100_000, help="update and floor: the window's rows")
    p.add_argument("--update-repeats", type=int, default=30)
    p.add_argument("--memory-rows", type=int, default=1_000_000)
    p.add_argument("--memory-reference-rows", type=int, default=1_000_000, help="rows the reference is fitted from")
    p.add_argument("--memory-sample", type=int, default=100_000, help="max_rows of the second memory run")
    p.add_argument("--memory-max-rows", type=int, default=None, help=argparse.SUPPRESS)
    p.add_argument("--memory-child", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--evidently-child", type=int, default=None, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.memory_child:
        memory_child(args)
        return 0
    if args.evidently_child:
        evidently_child(args)
        return 0
    if args.quick:
        args.repeats, args.evidently_repeats, args.update_repeats = 3, 1, 10
    chosen = args.section or ["compare"]
    sections = SECTIONS if "all" in chosen else tuple(s for s in SECTIONS if s in chosen)
    runners = {
        "compare": lambda: section_compare(args) == 0,
        "update": lambda: section_update(args),
        "floor": lambda: section_floor(args),
        "memory": lambda: section_memory(args),
        "evidently": lambda: section_evidently(args),
    }
    ok = True
    console.print(f"load average at start: {', '.join(f'{x:.1f}' for x in os.getloadavg())} ({os.cpu_count()} CPUs)")
    for name in sections:
        started = time.perf_counter()
        ok &= runners[name]()
        if name != "compare":
            console.print(f"[dim]({name}: {time.perf_counter() - started:.0f} s)[/]")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
