"""Benchmark: embedding drift (issue 17), driftwarden's linear-time MMD beside a quadratic-time MMD.

Streams (seeded): 384-dimensional vectors, N(0, I); one reference of 5,000 vectors; every evaluation
compares an independent fresh window of 5,000 vectors with it (`EmbeddingMonitor`, default settings:
768 orthogonal random Fourier features, 200 permutations, alpha 0.005, 20 principal components).

* no drift: the share of evaluations each method calls drifted (target at most 1 %);
* shift: the centroid moves by 0.1 of the spread (sd) in 8 of the 384 dimensions; per run, up to 2 fresh
  drifted windows; a run is caught when `mmd` flags one of them (target at least 99 %);
* CPU seconds per evaluation (time.process_time, BLAS on one thread): MMD on 5,000 x 384 (target under
  100 ms), the share of drifted components, the domain classifier (opt-in method; target under 1 s).

Baseline: Alibi Detect's `MMDDrift` (PyTorch backend) when it imports; else the same test a user would
write without driftwarden: the exact quadratic-time Gaussian-kernel MMD (numpy), the same median-heuristic
bandwidth, 100 permutations of the kernel matrix; it takes seconds per evaluation, so it runs a few.

Run:  OMP_NUM_THREADS=1 .venv/bin/python benchmarks/embeddings.py [--quick]   (or benchmarks/quality.py)
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from typing import Any

import numpy as np
from rich.console import Console
from rich.table import Table

from driftwarden.detectors.embedding import EmbeddingMonitor
from driftwarden.detectors.embedding_stats import median_bandwidth
from driftwarden.params import EmbeddingSpec

DIM = 384
SHIFTED = 8
SHIFT = 0.1
TARGETS = {"fa": 0.01, "caught": 0.99, "mmd_seconds": 0.1, "classifier_seconds": 1.0}
Verdict = Callable[[np.ndarray], tuple[bool, float]]  # window -> (drifted, CPU seconds)


def ours(reference: np.ndarray, window: int, method: str, seed: int) -> Verdict:
    spec = EmbeddingSpec(dim=reference.shape[1], window=window, methods=(method,))
    monitor = EmbeddingMonitor({"v": spec})
    refs = {"v": reference}

    def judge(current: np.ndarray) -> tuple[bool, float]:
        monitor.windows["v"].clear()
        monitor.update({"v": current})
        started = time.process_time()
        (result,) = monitor.evaluate(refs, seed=seed)
        return result.drifted, time.process_time() - started

    judge(reference[: min(window, len(reference))])  # fits the reference once, outside the timings
    return judge


def quadratic_mmd(reference: np.ndarray, permutations: int = 200, alpha: float = 0.005) -> Verdict:
    """The exact Gaussian-kernel MMD (biased V-statistic) with a permutation p-value over the kernel matrix."""
    sigma = median_bandwidth(reference)
    ref = reference.astype(np.float32)

    def judge(current: np.ndarray) -> tuple[bool, float]:
        started = time.process_time()
        x = np.vstack([ref, current.astype(np.float32)])
        sq = (x * x).sum(axis=1)
        k = x @ x.T
        k *= -2.0
        k += sq[:, None]
        k += sq[None, :]
        np.maximum(k, 0.0, out=k)
        k *= np.float32(-1.0 / (2.0 * sigma * sigma))
        np.exp(k, out=k)
        n, m = len(ref), len(current)
        rng = np.random.default_rng(0)
        w = np.full((permutations + 1, n + m), -1.0 / m, dtype=np.float32)
        w[0, :n] = 1.0 / n
        for p in range(1, permutations + 1):
            w[p, rng.permutation(n + m)[:n]] = 1.0 / n
        stats = np.einsum("pn,pn->p", w @ k, w)
        pvalue = (1 + (stats[1:] >= stats[0]).sum()) / (1 + permutations)
        return bool(pvalue < alpha), time.process_time() - started

    return judge


def alibi_mmd(reference: np.ndarray, alpha: float = 0.005) -> Verdict | None:
    try:
        from alibi_detect.cd import MMDDrift
    except Exception:  # not installed, or no backend for it
        return None
    detector = MMDDrift(reference.astype(np.float32), backend="pytorch", p_val=alpha, n_permutations=100)

    def judge(current: np.ndarray) -> tuple[bool, float]:
        started = time.process_time()
        result = detector.predict(current.astype(np.float32))
        return bool(result["data"]["is_drift"]), time.process_time() - started

    return judge


def draw(rng: np.random.Generator, rows: int, shift: float = 0.0) -> np.ndarray:
    x = rng.standard_normal((rows, DIM)).astype(np.float32)
    x[:, :SHIFTED] += shift
    return x


def run(judge: Verdict, window: int, evals: int, runs: int, seed: int) -> dict[str, Any]:
    seconds: list[float] = []
    false_alarms = 0
    for e in range(evals):
        drifted, s = judge(draw(np.random.default_rng([seed, 1, e]), window))
        false_alarms += drifted
        seconds.append(s)
    caught = first = 0
    for r in range(runs):
        rng = np.random.default_rng([seed, 2, r])
        for attempt in range(2):
            drifted, s = judge(draw(rng, window, SHIFT))
            seconds.append(s)
            if drifted:
                caught += 1
                first += attempt == 0
                break
    return {
        "evals": evals,
        "runs": runs,
        "fa": false_alarms / evals if evals else None,
        "caught": caught / runs if runs else None,
        "first": first / runs if runs else None,
        "seconds": statistics.median(seconds) if seconds else None,
    }


def embedding_benchmark(
    console: Console, *, seed: int = 0, quick: bool = False, evals: int | None = None, runs: int | None = None
) -> bool:
    evals = evals or (100 if quick else 300)
    runs = runs or (100 if quick else 300)
    window = 5000
    reference = draw(np.random.default_rng([seed, 0]), 5000)
    console.print(
        f"embeddings: {DIM} dimensions, reference and windows of {window:,} vectors, shift {SHIFT} sd in "
        f"{SHIFTED} dimensions; {evals} no-drift evaluations, {runs} shifted runs"
    )
    results = {
        "driftwarden mmd": run(ours(reference, window, "mmd", seed), window, evals, runs, seed),
        "driftwarden pcs": run(ours(reference, window, "pcs", seed), window, evals // 4, runs // 4, seed),
        "driftwarden classifier": run(ours(reference, window, "classifier", seed), window, 5, 5, seed),
    }
    alibi = alibi_mmd(reference)
    if alibi is not None:
        results["Alibi Detect MMDDrift"] = run(alibi, window, 5 if quick else 10, 5 if quick else 10, seed)
    else:
        console.print("Alibi Detect: not importable here (pip install alibi-detect[torch]); quadratic MMD instead")
    results["quadratic MMD (numpy)"] = run(quadratic_mmd(reference), window, 3 if quick else 8, 3 if quick else 8, seed)

    table = Table(title="Embedding drift: 384 dims, 5,000 vs 5,000 vectors")
    table.add_column("measure")
    table.add_column("target")
    for label in results:
        table.add_column(label, justify="right")

    def pct(x: float | None) -> str:
        return "—" if x is None else f"{100 * x:.1f} %"

    table.add_row("no-drift evaluations / shifted runs", "", *(f"{r['evals']} / {r['runs']}" for r in results.values()))
    table.add_row("no drift: false alarms", "≤ 1 %", *(pct(r["fa"]) for r in results.values()))
    table.add_row(
        "+0.1 sd in 8 of 384 dims: caught within 2 evaluations", "≥ 99 %", *(pct(r["caught"]) for r in results.values())
    )
    table.add_row("  caught at the first evaluation", "", *(pct(r["first"]) for r in results.values()))
    table.add_row(
        "median CPU seconds per evaluation",
        "mmd < 0.1, classifier < 1",
        *(f"{r['seconds']:.3f}" for r in results.values()),
    )
    console.print(table)
    mmd = results["driftwarden mmd"]
    ok = (
        mmd["fa"] <= TARGETS["fa"]
        and mmd["caught"] >= TARGETS["caught"]
        and mmd["seconds"] < TARGETS["mmd_seconds"]
        and results["driftwarden classifier"]["seconds"] < TARGETS["classifier_seconds"]
    )
    console.print(f"driftwarden embedding targets: {'all met' if ok else 'NOT all met'}")
    return ok


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true")
    p.add_argument("--evals", type=int)
    p.add_argument("--runs", type=int)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()
    console = Console(width=max(Console().width, 120))
    return 0 if embedding_benchmark(console, seed=args.seed, quick=args.quick, evals=args.evals, runs=args.runs) else 1


if __name__ == "__main__":
    raise SystemExit(main())
