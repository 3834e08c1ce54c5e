"""Feature drift of one model: a reference profile against the current window.

`compare()` is the whole decision for one evaluation and has no state; `DriftDetector`
wraps it with the model's sliding window. The rule (design.md, "Drift defaults"):
a feature drifts when an effect size passes its threshold (PSI or KS D) **and** its
KS p-value, Benjamini-Hochberg-adjusted across the model's features, is below alpha.
The effect-size gate keeps large windows from turning negligible shifts into alarms;
the p-value gate keeps small windows from alarming on noise.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from detectors import stats
from detectors.findings import Finding, FindingKind, Severity
from detectors.reference import ReferenceProfile
from detectors.windows import SlidingWindow

__all__ = ["METHODS", "DriftDetector", "DriftReport", "DriftThresholds", "FeatureDrift", "compare"]


METHODS = ("ks", "psi", "wasserstein", "jensenshannon")  # numeric statistics computed by default


@dataclass(frozen=True)
class DriftThresholds:
    psi: float = 0.2
    ks: float = 0.1
    wasserstein: float = 0.1  # normed by the reference's standard deviation
    alpha: float = 0.05
    share: float = 0.5
    methods: tuple[str, ...] = METHODS  # ks is always computed: its p-value gates every verdict


@dataclass(frozen=True)
class FeatureDrift:
    name: str
    drifted: bool
    missing_rate: dict[str, float | None]
    scores: dict[str, float]
    pvalues: dict[str, float]
    pvalues_adjusted: dict[str, float]
    rows: dict[str, int]
    bins: dict[str, list[int]] = field(default_factory=dict)  # per-bin counts, reference and current
    kind: str = "numeric"
    bin_labels: tuple[str, ...] = ()  # one per bin: an interval ("[0.5, 1.2)") or a category name

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.kind,
            "drifted": self.drifted,
            "missing_rate": self.missing_rate,
            "scores": {k: _num(v) for k, v in self.scores.items()},  # +inf (moved constant) -> null
            "pvalues": self.pvalues,
            "pvalues_adjusted": self.pvalues_adjusted,
            "rows": self.rows,
        }


@dataclass(frozen=True)
class DriftReport:
    model: str
    drifted: bool
    drift_share: float
    rows: dict[str, int]
    features: tuple[FeatureDrift, ...]
    thresholds: DriftThresholds
    critical_features: tuple[str, ...] = ()
    model_version: str | None = None
    evaluated_at: float = field(default_factory=time.time)
    duration_seconds: float = 0.0

    @property
    def drifted_features(self) -> list[FeatureDrift]:
        return [f for f in self.features if f.drifted]

    def to_dict(self) -> dict[str, Any]:
        t = self.thresholds
        return {
            "model": self.model,
            "model_version": self.model_version,
            "drifted": self.drifted,
            "drift_share": self.drift_share,
            "rows": self.rows,
            "thresholds": {"psi": t.psi, "ks": t.ks, "wasserstein": t.wasserstein, "alpha": t.alpha, "share": t.share},
            "critical_features": list(self.critical_features),
            "evaluated_at": self.evaluated_at,
            "features": [f.to_dict() for f in self.features],
        }

    def summary(self) -> str:
        """One line a person can act on."""
        if self.rows["current"] == 0:
            return f"{self.model}: no current rows yet"
        n = sum(1 for f in self.features if f.scores)
        drifted = sorted(self.drifted_features, key=lambda f: -f.scores.get("psi", 0.0))
        if not drifted:
            return f"{self.model}: no drift ({n} features, {self.rows['current']} current rows)"
        parts = ", ".join(f"{f.name} (PSI {f.scores['psi']:.2f}, KS {f.scores['ks']:.2f})" for f in drifted[:5])
        more = f" and {len(drifted) - 5} more" if len(drifted) > 5 else ""
        verdict = "DRIFT" if self.drifted else "drift below the model threshold"
        critical = [f.name for f in drifted if f.name in self.critical_features]
        why = f"; critical: {', '.join(critical)}" if critical else ""
        return (
            f"{self.model}: {verdict}: {len(drifted)} of {n} features drifted "
            f"(share {self.drift_share:.2f}, threshold {self.thresholds.share}{why}): {parts}{more}"
        )

    def findings(self) -> list[Finding]:
        out = []
        for f in self.drifted_features:
            critical = f.name in self.critical_features
            out.append(
                Finding(
                    kind=FindingKind.DRIFT,
                    model=self.model,
                    subject=f.name,
                    severity=Severity.PAGE if critical else Severity.WARNING,
                    value=f.scores["psi"],
                    threshold=self.thresholds.psi,
                    evidence={
                        "scores": f.scores,
                        "pvalues_adjusted": f.pvalues_adjusted,
                        "rows": f.rows,
                        "missing_rate": f.missing_rate,
                        "model_version": self.model_version,
                    },
                    at=self.evaluated_at,
                )
            )
        if self.drifted:
            out.append(
                Finding(
                    kind=FindingKind.DRIFT,
                    model=self.model,
                    subject="__model__",
                    severity=Severity.WARNING,
                    value=self.drift_share,
                    threshold=self.thresholds.share,
                    evidence={
                        "drifted_features": [f.name for f in self.drifted_features],
                        "critical_drifted": [f.name for f in self.drifted_features if f.name in self.critical_features],
                        "model_version": self.model_version,
                    },
                    at=self.evaluated_at,
                )
            )
        return out


def compare(
    model: str,
    reference: ReferenceProfile,
    names: Sequence[str],
    current: np.ndarray,
    *,
    thresholds: DriftThresholds = DriftThresholds(),
    critical_features: Sequence[str] = (),
    model_version: str | None = None,
) -> DriftReport:
    """Evaluate every reference feature of `current` (rows x len(names), NaN missing) at once."""
    started = time.perf_counter()
    cur_sorted = stats.sort_columns(_aligned(reference.features, names, current))
    n_cur = stats.valid_counts(cur_sorted)
    n_ref = reference.valid_counts
    ks = stats.ks_2samp(reference.sorted_values, cur_sorted)
    cur_bins = stats.bin_counts(cur_sorted, reference.edges)
    scores = {"ks": ks.statistic, "psi": stats.psi(reference.bin_counts, cur_bins)}
    if "wasserstein" in thresholds.methods:
        scores["wasserstein"] = stats.wasserstein_normed(
            reference.sorted_values, cur_sorted, reference_std=reference.std
        )
    if "jensenshannon" in thresholds.methods:
        scores["jensenshannon"] = stats.jensen_shannon(reference.bin_counts, cur_bins)
    adjusted = stats.benjamini_hochberg(ks.pvalue)
    effect = (scores["psi"] >= thresholds.psi) | (ks.statistic >= thresholds.ks)
    if "wasserstein" in scores:
        effect |= scores["wasserstein"] >= thresholds.wasserstein
    drifted = effect & (adjusted < thresholds.alpha)  # NaN compares False: no data, no drift

    rows_cur = cur_sorted.shape[0]
    missing_cur = 1.0 - n_cur / rows_cur if rows_cur else np.full(len(n_cur), np.nan)
    features = []
    for j, name in enumerate(reference.features):
        evaluated = not np.isnan(ks.statistic[j])
        features.append(
            FeatureDrift(
                name=name,
                drifted=bool(drifted[j]),
                missing_rate={"reference": _num(reference.missing_rate[j]), "current": _num(missing_cur[j])},
                scores={method: float(values[j]) for method, values in scores.items()} if evaluated else {},
                pvalues={"ks": float(ks.pvalue[j])} if evaluated else {},
                pvalues_adjusted={"ks": float(adjusted[j])} if evaluated else {},
                rows={"reference": int(n_ref[j]), "current": int(n_cur[j])},
                bins={"reference": reference.bin_counts[j].tolist(), "current": cur_bins[j].tolist()},
                bin_labels=interval_labels(reference.edges[j]),
            )
        )
    evaluated_count = int((~np.isnan(ks.statistic)).sum())
    share = float(drifted.sum() / evaluated_count) if evaluated_count else 0.0
    critical_hit = any(f.drifted and f.name in critical_features for f in features)
    return DriftReport(
        model=model,
        drifted=bool(evaluated_count and (share >= thresholds.share or critical_hit)),
        drift_share=share,
        rows={"reference": reference.rows, "current": rows_cur},
        features=tuple(features),
        thresholds=thresholds,
        critical_features=tuple(critical_features),
        model_version=model_version,
        duration_seconds=time.perf_counter() - started,
    )


class DriftDetector:
    """A model's reference plus its sliding current window.

    `update()` is cheap (a ring-buffer append) and safe to call while `evaluate()` runs
    in another thread.

    >>> rng = np.random.default_rng(7)
    >>> ref = ReferenceProfile.fit(["x", "y"], rng.normal(size=(5000, 2)))
    >>> detector = DriftDetector("demo", ref, window=1000)
    >>> detector.update(["x", "y"], rng.normal(size=(1000, 2)))
    >>> detector.evaluate(), detector.report.drifted
    ([], False)
    >>> detector.update(["x", "y"], rng.normal(size=(1000, 2)) + [1.0, 0.0])   # x shifts by one sd
    >>> [(f.subject, f.severity.value) for f in detector.evaluate()]
    [('x', 'warning'), ('__model__', 'warning')]
    """

    def __init__(
        self,
        model: str,
        reference: ReferenceProfile | None,
        *,
        window: int = 5000,
        thresholds: DriftThresholds = DriftThresholds(),
        critical_features: Sequence[str] = (),
        max_features: int = 1000,
    ) -> None:
        self.model = model
        self.reference = reference
        self.thresholds = thresholds
        self.critical_features = tuple(critical_features)
        self.model_version: str | None = None  # the latest the prediction records named
        self.window = SlidingWindow(reference.features if reference else (), capacity=window, max_features=max_features)
        self._report: DriftReport | None = None

    @property
    def report(self) -> DriftReport | None:
        """The latest evaluation; None before the first one or without a reference."""
        return self._report

    def set_reference(self, reference: ReferenceProfile) -> None:
        self.reference = reference
        self._report = None

    def update(self, names: Sequence[str], values: np.ndarray) -> None:
        self.window.append(names, values)

    def evaluate(self) -> list[Finding]:
        reference = self.reference
        if reference is None:
            return []
        names, values = self.window.snapshot()
        report = compare(
            self.model,
            reference,
            names,
            values,
            thresholds=self.thresholds,
            critical_features=self.critical_features,
            model_version=self.model_version,
        )
        if self.reference is reference:  # not replaced while this evaluation ran
            self._report = report
        return report.findings()


def _aligned(features: Sequence[str], names: Sequence[str], current: np.ndarray) -> np.ndarray:
    """`current`'s columns in the reference's feature order; NaN for features it lacks."""
    current = np.asarray(current, dtype=np.float64)
    if tuple(names) == tuple(features):
        return current
    position = {name: j for j, name in enumerate(names)}
    aligned = np.full((current.shape[0], len(features)), np.nan, order="F")
    for j, name in enumerate(features):
        if name in position:
            aligned[:, j] = current[:, position[name]]
    return aligned


def interval_labels(edges: np.ndarray) -> tuple[str, ...]:
    """Names of the bins that `edges` cut: below the first edge, between edges, from the last one on.

    >>> interval_labels(np.array([0.5, 1.25]))
    ('< 0.5', '[0.5, 1.25)', '≥ 1.25')
    """
    if len(edges) == 0:
        return ("all",)
    e = [f"{x:.4g}" for x in edges]
    return (f"< {e[0]}", *(f"[{a}, {b})" for a, b in itertools.pairwise(e)), f"≥ {e[-1]}")


def _num(x: float) -> float | None:
    return float(x) if np.isfinite(x) else None
