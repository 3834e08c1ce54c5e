"""Benchmark: how far the drift verdicts can be trusted (issue #3), next to Evidently's DataDriftPreset.

Streams (seeded): 50 features, 40 numeric (even columns normal with random location and scale, odd ones
lognormal with sigma in [0.25, 1]) and 10 categorical (truncated Zipf, exponent 1.2, over 5 to 100
categories). One fixed reference (default 50,000 rows); every evaluation compares an independent fresh
window (default 5,000 rows) against it with the default thresholds (PSI 0.2, KS D 0.1, normed Wasserstein
0.1, BH-adjusted alpha 0.05, drift share 0.5).

* no drift: model false-alarm rate (`report.drifted`) and per-feature false-alarm rate (`FeatureDrift.drifted`).
* mean +0.25 sd on 5 numeric features, sd x 1.3 on 5 numeric features (around the reference mean), a new
  category at 10 % of the rows on 5 categorical features: per run, up to 2 fresh drifted windows; a run is
  caught when each of the 5 features has been flagged (feature-level `drifted`, not the model verdict: 5 of
  50 is below the 0.5 drift share, so the model verdict only fires for these when they are marked
  `critical_features`; both model rates are shown).
* stable verdict: `DriftDetector(hold=2)` on a long no-drift stream, sliding by `--step` new rows between
  evaluations; the share of evaluations with the model's stable verdict on, and with any feature's on.

Evidently (when installed) runs the same windows (the first N of each scenario: it takes seconds per
evaluation), with `DataDriftPreset()` defaults: a column drifts when its default statistic passes its
threshold (here normed Wasserstein >= 0.1 for numeric, Jensen-Shannon distance >= 0.1 for categorical,
reference > 1,000 rows), the dataset when the drifted share >= 0.5.

Estimated quality before labels (benchmarks/estimation.py): driftwarden's CBPE and DLE against the
realized metric of fresh windows, beside NannyML's CBPE and DLE when nannyml imports (or in another
venv, `--nannyml-python PATH`): estimation error and seconds per window, over several reference draws
(`--estimation-references`, default 5: one draw's tails decide extrapolation by chance).

Multivariate drift (benchmarks/multivariate.py): driftwarden's pca and classifier on a correlation flip of two
features of fifty (marginals unchanged) and on no-drift windows, beside NannyML's
DataReconstructionDriftCalculator and DomainClassifierCalculator: false-alarm rate, runs caught within 2
evaluations, CPU seconds per evaluation.

Embedding drift (benchmarks/embeddings.py): driftwarden's MMD, principal components and classifier on
384-dimensional vectors beside a quadratic-time MMD (or Alibi Detect's MMDDrift where it installs).

Run:  .venv/bin/python benchmarks/quality.py [--quick] [--no-evidently] [--estimation-only] [--multivariate-only]
       [--embeddings-only] [--nannyml-python PY]
With Evidently:  .venv/bin/pip install -e '.[bench]'
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from embeddings import embedding_benchmark  # benchmarks/ is the script's directory, first on sys.path
from estimation import estimation_benchmark
from multivariate import multivariate_benchmark
from rich.console import Console
from rich.table import Table

from driftwarden.detectors.detector import DriftDetector
from driftwarden.detectors.drift import compare
from driftwarden.detectors.reference import ReferenceProfile

SCENARIOS = ("mean", "spread", "category")
TARGETS = {"model_fa": 0.01, "caught": 0.99}
NEW = "new"  # the label of the category the reference never saw


@dataclass(frozen=True)
class Stream:
    """Parameters of a no-drift stream; `draw()` gives numeric values and categorical codes."""

    numeric: tuple[str, ...]
    categorical: tuple[str, ...]
    loc: np.ndarray
    scale: np.ndarray
    sigma: np.ndarray
    lognormal: np.ndarray  # bool per numeric feature
    probs: tuple[np.ndarray, ...]  # per categorical feature

    @classmethod
    def make(cls, seed: int = 0, n_numeric: int = 40, n_categorical: int = 10) -> Stream:
        rng = np.random.default_rng(seed)
        sizes = [(5, 10, 20, 50, 100)[k % 5] for k in range(n_categorical)]
        probs = tuple(np.arange(1, k + 1) ** -1.2 / np.sum(np.arange(1, k + 1) ** -1.2) for k in sizes)
        return cls(
            numeric=tuple(f"x{j:02d}" for j in range(n_numeric)),
            categorical=tuple(f"c{k:02d}" for k in range(n_categorical)),
            loc=rng.uniform(-10, 10, n_numeric),
            scale=rng.uniform(0.5, 5, n_numeric),
            sigma=rng.uniform(0.25, 1, n_numeric),
            lognormal=np.arange(n_numeric) % 2 == 1,
            probs=probs,
        )

    @property
    def names(self) -> tuple[str, ...]:
        return self.numeric + self.categorical

    def draw(self, rng: np.random.Generator, rows: int) -> tuple[np.ndarray, np.ndarray]:
        z = rng.normal(size=(rows, len(self.numeric)))
        values = np.where(self.lognormal, np.exp(z * self.sigma), self.loc + z * self.scale)
        codes = np.column_stack([rng.choice(len(p), size=rows, p=p) for p in self.probs])
        return values, codes

    def labels(self, k: int) -> np.ndarray:
        """Category names of feature k by code; code len(probs[k]) is the new category."""
        return np.array([*(f"v{i}" for i in range(len(self.probs[k]))), NEW], dtype=object)

    def counts(self, codes: np.ndarray) -> dict[str, dict[str, int]]:
        out = {}
        for k, name in enumerate(self.categorical):
            n = np.bincount(codes[:, k], minlength=len(self.probs[k]) + 1)
            out[name] = {str(label): int(c) for label, c in zip(self.labels(k), n, strict=True) if c}
        return out

    def strings(self, codes: np.ndarray) -> np.ndarray:
        return np.column_stack([self.labels(k)[codes[:, k]] for k in range(len(self.categorical))])


def drift(
    kind: str, stream: Stream, ref: ReferenceProfile, values: np.ndarray, codes: np.ndarray, rng: np.random.Generator
) -> tuple[str, ...]:
    """Apply drift `kind` to 5 features of a window in place; returns their names."""
    if kind == "category":
        targets = list(range(5))
        rows = codes.shape[0]
        for k in targets:
            codes[rng.choice(rows, size=rows // 10, replace=False), k] = len(stream.probs[k])
        return tuple(stream.categorical[k] for k in targets)
    targets = list(range(5))  # x00..x04: normal, lognormal, normal, lognormal, normal
    sd = ref.std[targets]
    if kind == "mean":
        values[:, targets] += 0.25 * sd
    elif kind == "spread":
        mean = np.array([np.nanmean(ref.sorted_values[:, j]) for j in targets])
        values[:, targets] = mean + 1.3 * (values[:, targets] - mean)
    else:
        raise ValueError(f"unknown drift kind {kind!r}")
    return tuple(stream.numeric[j] for j in targets)


# An engine: (numeric values, categorical codes) -> (model drifted, drifted feature names, scores by feature)
Engine = Callable[[np.ndarray, np.ndarray], tuple[bool, set[str], dict[str, dict[str, float]]]]


def ours(stream: Stream, ref: ReferenceProfile) -> Engine:
    def run(values: np.ndarray, codes: np.ndarray) -> tuple[bool, set[str], dict[str, dict[str, float]]]:
        report = compare("bench", ref, stream.numeric, values, current_categories=stream.counts(codes))
        return (
            report.drifted,
            {f.name for f in report.features if f.drifted},
            {f.name: f.scores for f in report.features},
        )

    return run


def evidently(stream: Stream, ref_values: np.ndarray, ref_codes: np.ndarray) -> Engine | None:
    try:
        import pandas as pd
        from evidently import DataDefinition, Dataset, Report
        from evidently.presets import DataDriftPreset
    except ImportError:
        return None
    definition = DataDefinition(numerical_columns=list(stream.numeric), categorical_columns=list(stream.categorical))

    def frame(values: np.ndarray, codes: np.ndarray) -> Any:
        df = pd.DataFrame(values, columns=list(stream.numeric))
        for k, name in enumerate(stream.categorical):
            df[name] = stream.labels(k)[codes[:, k]]
        return Dataset.from_pandas(df, data_definition=definition)

    reference = frame(ref_values, ref_codes)

    def run(values: np.ndarray, codes: np.ndarray) -> tuple[bool, set[str], dict[str, dict[str, float]]]:
        snapshot = Report([DataDriftPreset()]).run(frame(values, codes), reference)
        model, drifted, scores = False, set(), {}
        for metric in snapshot.dict()["metrics"]:
            config = metric["config"]
            if config["type"].endswith("DriftedColumnsCount"):
                model = metric["value"]["share"] >= config["drift_share"]
            elif config["type"].endswith("ValueDrift"):
                value, threshold = metric["value"], config["threshold"]
                p_value = "p_value" in config["method"]
                if (value < threshold) if p_value else (value >= threshold):
                    drifted.add(config["column"])
                scores[config["column"]] = {config["method"]: value}
        return model, drifted, scores

    return run


def no_drift(engine: Engine, stream: Stream, rows: int, evals: int, seed: int) -> dict[str, Any]:
    model_alarms, flags, seconds = 0, dict.fromkeys(stream.names, 0), []
    for i in range(evals):
        values, codes = stream.draw(np.random.default_rng([seed, 0, i]), rows)
        started = time.perf_counter()
        model, drifted, _ = engine(values, codes)
        seconds.append(time.perf_counter() - started)
        model_alarms += model
        for name in drifted:
            flags[name] += 1
    family = {
        "normal": [n for j, n in enumerate(stream.numeric) if not stream.lognormal[j]],
        "lognormal": [n for j, n in enumerate(stream.numeric) if stream.lognormal[j]],
        "categorical": list(stream.categorical),
    }
    return {
        "n": evals,
        "model_fa": model_alarms / evals,
        "feature_fa": sum(flags.values()) / (evals * len(stream.names)),
        **{f"fa_{k}": sum(flags[n] for n in v) / (evals * len(v)) for k, v in family.items()},
        "seconds": seconds,
    }


def drifted_runs(
    engine: Engine, kind: str, stream: Stream, ref: ReferenceProfile, rows: int, runs: int, seed: int
) -> dict[str, Any]:
    caught_first = caught_two = model_share = model_critical = collateral = collateral_n = 0
    first_hits, seconds = 0, []
    passes = {"ks": 0, "psi": 0, "wasserstein": 0}
    limits = {"ks": 0.1, "psi": 0.2, "wasserstein": 0.1}
    for r in range(runs):
        seen: set[str] = set()
        for e in range(2):
            rng = np.random.default_rng([seed, 1 + SCENARIOS.index(kind), r, e])
            values, codes = stream.draw(rng, rows)
            targets = drift(kind, stream, ref, values, codes, rng)
            started = time.perf_counter()
            model, drifted, scores = engine(values, codes)
            seconds.append(time.perf_counter() - started)
            hit = drifted & set(targets)
            seen |= hit
            collateral += len(drifted - set(targets))
            collateral_n += len(stream.names) - len(targets)
            if e == 0:
                caught_first += len(hit) == len(targets)
                first_hits += len(hit)
                model_share += model
                model_critical += model or bool(hit)  # the model rule with the 5 as critical_features
                for t in targets:
                    for stat, limit in limits.items():
                        passes[stat] += scores.get(t, {}).get(stat, float("nan")) >= limit
            if len(seen) == len(targets):
                caught_two += 1
                break
    return {
        "n": runs,
        "caught_first": caught_first / runs,
        "caught": caught_two / runs,
        "feature_first": first_hits / (5 * runs),
        "model": model_share / runs,
        "model_critical": model_critical / runs,
        "collateral": collateral / collateral_n,
        "passes": {k: v / (5 * runs) for k, v in passes.items()},
        "seconds": seconds,
    }


def stable_stream(stream: Stream, ref: ReferenceProfile, window: int, step: int, evals: int, seed: int) -> dict:
    detector = DriftDetector("bench", ref, window=window, hold=2)
    rng = np.random.default_rng([seed, 9])

    def feed(rows: int) -> None:
        values, codes = stream.draw(rng, rows)
        detector.update(stream.numeric, values, stream.categorical, stream.strings(codes))

    feed(window)
    raw = stable = any_stable = feature_stable = 0
    seconds = []
    for i in range(evals):
        if i:
            feed(step)
        started = time.perf_counter()
        detector.evaluate()
        seconds.append(time.perf_counter() - started)
        report = detector.report
        raw += report.drifted
        stable += report.stable
        on = sum(f.stable for f in report.features)
        any_stable += on > 0
        feature_stable += on
    n = len(stream.names)
    return {
        "n": evals,
        "raw": raw / evals,
        "stable": stable / evals,
        "any_stable": any_stable / evals,
        "feature_stable": feature_stable / (evals * n),
        "seconds": seconds,
    }


def pct(x: float | None) -> str:
    return "n/a" if x is None else f"{100 * x:.2f} %"


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="fewer evaluations (a few minutes with Evidently)")
    p.add_argument("--ref-rows", type=int, default=50_000)
    p.add_argument("--window", type=int, default=5_000)
    p.add_argument("--evals", type=int, help="no-drift evaluations (default 500, quick 100)")
    p.add_argument("--runs", type=int, help="runs per drift scenario (default 500, quick 100)")
    p.add_argument("--stable-evals", type=int, help="evaluations of the stable stream (default 1000, quick 200)")
    p.add_argument("--step", type=int, default=1_000, help="new rows between evaluations of the stable stream")
    p.add_argument("--evidently-evals", type=int, help="Evidently no-drift evaluations (default 40, quick 10)")
    p.add_argument("--evidently-runs", type=int, help="Evidently runs per drift scenario (default 15, quick 5)")
    p.add_argument("--no-evidently", action="store_true", help="skip Evidently even when installed")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--estimation-only", action="store_true", help="only the estimated-quality part (CBPE, DLE)")
    p.add_argument(
        "--estimation-windows", type=int, help="windows per reference draw and scenario (default 20, quick 8)"
    )
    p.add_argument("--estimation-references", type=int, help="reference draws to estimate from (default 5, quick 2)")
    p.add_argument("--nannyml-python", help="a Python with nannyml installed, for NannyML's CBPE and DLE")
    p.add_argument("--multivariate-only", action="store_true", help="only the multivariate drift benchmark")
    p.add_argument("--embeddings-only", action="store_true", help="only the embedding-drift part (MMD and others)")
    args = p.parse_args()
    console = Console(width=max(Console().width, 120))
    multivariate_ok = (
        args.estimation_only
        or args.embeddings_only
        or multivariate_benchmark(
            console, seed=args.seed, window=args.window, quick=args.quick, nannyml_python=args.nannyml_python
        )
    )
    if args.multivariate_only:
        return 0 if multivariate_ok else 1
    embeddings_ok = (
        args.estimation_only or args.multivariate_only or embedding_benchmark(console, seed=args.seed, quick=args.quick)
    )  # benchmarks/embeddings.py
    if args.embeddings_only:
        return 0 if embeddings_ok else 1
    estimated_ok = estimation_benchmark(
        console,
        seed=args.seed,
        ref_rows=args.ref_rows,
        window=args.window,
        windows=args.estimation_windows or (8 if args.quick else 20),
        references=args.estimation_references or (2 if args.quick else 5),
        nannyml_python=args.nannyml_python,
    )
    if args.estimation_only:
        return 0 if estimated_ok else 1
    q = args.quick
    evals = args.evals or (100 if q else 500)
    runs = args.runs or (100 if q else 500)
    stable_evals = args.stable_evals or (200 if q else 1000)
    ev_evals = args.evidently_evals or (10 if q else 40)
    ev_runs = args.evidently_runs or (5 if q else 15)

    stream = Stream.make(args.seed)
    ref_values, ref_codes = stream.draw(np.random.default_rng([args.seed, 100]), args.ref_rows)
    ref = ReferenceProfile.fit(stream.numeric, ref_values, categories=stream.counts(ref_codes))
    console.print(
        f"reference {args.ref_rows:,} rows, windows {args.window:,} rows, {len(stream.numeric)} numeric + "
        f"{len(stream.categorical)} categorical features, seed {args.seed}; driftwarden: {evals} no-drift "
        f"evaluations, {runs} runs per drift scenario, {stable_evals} stable-stream evaluations"
    )

    engines: dict[str, Engine] = {"driftwarden": ours(stream, ref)}
    counts = {"driftwarden": (evals, runs)}
    other = None if args.no_evidently else evidently(stream, ref_values, ref_codes)
    if other is not None:
        import evidently as ev

        engines[f"Evidently {ev.__version__}"] = other
        counts[f"Evidently {ev.__version__}"] = (ev_evals, ev_runs)
        console.print(f"Evidently DataDriftPreset(): {ev_evals} no-drift evaluations, {ev_runs} runs per scenario")
    else:
        console.print("Evidently: " + ("skipped" if args.no_evidently else "not installed (pip install -e .[bench])"))

    results: dict[str, dict[str, Any]] = {}
    for label, engine in engines.items():
        n_evals, n_runs = counts[label]
        engine(*stream.draw(np.random.default_rng(1), args.window))  # warm-up
        results[label] = {"none": no_drift(engine, stream, args.window, n_evals, args.seed)}
        for kind in SCENARIOS:
            results[label][kind] = drifted_runs(engine, kind, stream, ref, args.window, n_runs, args.seed)
        console.print(f"{label}: done")
    stable = stable_stream(stream, ref, args.window, args.step, stable_evals, args.seed)

    table = Table(title="Drift verdict quality (default thresholds)")
    table.add_column("measure")
    table.add_column("target")
    for label in engines:
        table.add_column(label, justify="right")

    def row(measure: str, target: str, get: Callable[[dict[str, Any]], Any], fmt: Callable = pct) -> None:
        table.add_row(measure, target, *(fmt(get(results[label])) for label in engines))

    row("runs / evaluations (no drift; per drift scenario)", "", lambda r: (r["none"]["n"], r["mean"]["n"]), str)
    row("no drift: model false alarms (report.drifted)", "≤ 1 %", lambda r: r["none"]["model_fa"])
    row("no drift: feature false alarms, all 50", "", lambda r: r["none"]["feature_fa"])
    for fam in ("normal", "lognormal", "categorical"):
        row(f"  {fam}", "", lambda r, fam=fam: r["none"][f"fa_{fam}"])
    names = {"mean": "mean +0.25 sd", "spread": "sd x 1.3", "category": "new category 10 %"}
    for kind, title in names.items():
        row(f"{title}: all 5 flagged within 2 evaluations", "≥ 99 %", lambda r, k=kind: r[k]["caught"])
        row("  all 5 flagged at the first evaluation", "", lambda r, k=kind: r[k]["caught_first"])
        row("  per feature, first evaluation", "", lambda r, k=kind: r[k]["feature_first"])
        row("  model verdict (share ≥ 0.5)", "", lambda r, k=kind: r[k]["model"])
        row("  model verdict, the 5 as critical_features", "", lambda r, k=kind: r[k]["model_critical"])
        row("  other 45 features flagged (per feature)", "", lambda r, k=kind: r[k]["collateral"])
    row(
        "median seconds per evaluation",
        "",
        lambda r: statistics.median([s for v in r.values() for s in v["seconds"]]),
        lambda s: f"{s:.3f}",
    )
    console.print(table)

    why = Table(title="driftwarden, first drifted evaluation: share of the 5 target features passing each effect gate")
    why.add_column("scenario")
    for stat in ("KS D ≥ 0.1", "PSI ≥ 0.2", "normed Wasserstein ≥ 0.1"):
        why.add_column(stat, justify="right")
    for kind in ("mean", "spread"):
        passes = results["driftwarden"][kind]["passes"]
        why.add_row(names[kind], *(pct(passes[s]) for s in ("ks", "psi", "wasserstein")))
    console.print(why)

    st = Table(
        title=f"Stable verdict: DriftDetector(hold=2), no drift, window {args.window:,}, +{args.step:,} rows/eval"
    )
    st.add_column("measure")
    st.add_column("driftwarden", justify="right")
    st.add_row("evaluations", str(stable["n"]))
    st.add_row("raw model verdict on (report.drifted)", pct(stable["raw"]))
    st.add_row("stable model verdict on (report.stable)", pct(stable["stable"]))
    st.add_row("evaluations with any feature's stable verdict on", pct(stable["any_stable"]))
    st.add_row("stable feature verdicts on (per feature)", pct(stable["feature_stable"]))
    st.add_row("median seconds per evaluate()", f"{statistics.median(stable['seconds']):.3f}")
    console.print(st)

    ours_r = results["driftwarden"]
    ok = ours_r["none"]["model_fa"] <= TARGETS["model_fa"] and all(
        ours_r[k]["caught"] >= TARGETS["caught"] for k in SCENARIOS
    )
    ok = ok and estimated_ok and multivariate_ok and embeddings_ok
    console.print(f"driftwarden targets: {'all met' if ok else 'NOT all met'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
