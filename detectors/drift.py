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
import json
import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from collector.predictions import number_label
from detectors import stats
from detectors.categorical import compare_categories
from detectors.findings import Finding, FindingKind, Severity
from detectors.reference import ReferenceProfile
from detectors.stability import VerdictStability
from detectors.vocabulary import Vocabulary
from detectors.windows import SlidingWindow, encode_checkpoint

__all__ = ["METHODS", "DriftDetector", "DriftReport", "DriftThresholds", "FeatureDrift", "compare"]


METHODS = ("ks", "psi", "wasserstein", "jensenshannon")  # numeric statistics computed by default
PREDICTION = "prediction"  # the model's output column: reported, kept out of the input drift share


@dataclass(frozen=True)
class DriftThresholds:
    psi: float = 0.2
    ks: float = 0.1
    wasserstein: float = 0.1  # normed by the reference's standard deviation
    alpha: float = 0.05
    share: float = 0.5
    methods: tuple[str, ...] = METHODS  # ks is always computed: its p-value gates every numeric verdict
    missing: float = 0.05  # change in the missing rate (absolute) that counts as an effect
    per_feature: Mapping[str, Mapping[str, float]] = field(default_factory=dict)  # feature -> {psi: 0.3, ...}

    def vector(self, name: str, features: Sequence[str]) -> np.ndarray:
        """The threshold `name` per feature, per-feature overrides applied."""
        default = getattr(self, name)
        return np.array([self.per_feature.get(f, {}).get(name, default) for f in features], dtype=np.float64)


@dataclass(frozen=True)
class FeatureDrift:
    name: str
    drifted: bool  # this evaluation's verdict (raw)
    missing_rate: dict[str, float | None]
    scores: dict[str, float]
    pvalues: dict[str, float]
    pvalues_adjusted: dict[str, float]
    rows: dict[str, int]
    bins: dict[str, list[int]] = field(default_factory=dict)  # per-bin counts, reference and current
    kind: str = "numeric"
    bin_labels: tuple[str, ...] = ()  # one per bin: an interval ("[0.5, 1.2)") or a category name
    role: str = "feature"  # or "prediction": the model's output
    effect: float = float("nan")  # the largest score / threshold ratio: >= 1 is an effect
    stable: bool = False  # the verdict after `for` evaluations and hysteresis (see detectors/stability.py)
    unseen: tuple[tuple[str, int], ...] = ()  # categorical: the most frequent categories the reference lacks

    def to_dict(self) -> dict[str, Any]:
        out = {
            "name": self.name,
            "kind": self.kind,
            "role": self.role,
            "drifted": self.drifted,
            "drifted_stable": self.stable,
            "effect": _num(self.effect),
            "missing_rate": self.missing_rate,
            "scores": {k: _num(v) for k, v in self.scores.items()},  # +inf (moved constant) -> null
            "pvalues": self.pvalues,
            "pvalues_adjusted": self.pvalues_adjusted,
            "rows": self.rows,
        }
        if self.kind == "categorical":
            out["unseen"] = [{"category": c, "count": n} for c, n in self.unseen]
        return out


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
    stable: bool = False  # the model verdict from the features' stable verdicts

    @property
    def prediction(self) -> FeatureDrift | None:
        return next((f for f in self.features if f.role == PREDICTION), None)

    @property
    def drifted_features(self) -> list[FeatureDrift]:
        """The input features drifted now (the prediction, the model's output, is `prediction`)."""
        return [f for f in self.features if f.drifted and f.role != PREDICTION]

    def to_dict(self) -> dict[str, Any]:
        t = self.thresholds
        prediction = self.prediction
        return {
            "model": self.model,
            "model_version": self.model_version,
            "drifted": self.drifted,
            "drifted_stable": self.stable,
            "prediction_drifted": prediction.drifted if prediction else None,
            "drift_share": self.drift_share,
            "rows": self.rows,
            "thresholds": {
                "psi": t.psi,
                "ks": t.ks,
                "wasserstein": t.wasserstein,
                "missing": t.missing,
                "alpha": t.alpha,
                "share": t.share,
                "per_feature": {name: dict(v) for name, v in t.per_feature.items()},
            },
            "critical_features": list(self.critical_features),
            "evaluated_at": self.evaluated_at,
            "features": [f.to_dict() for f in self.features],
        }

    def summary(self) -> str:
        """One line a person can act on."""
        if self.rows["current"] == 0:
            return f"{self.model}: no current rows yet"
        inputs = [f for f in self.features if f.role != PREDICTION]
        n = sum(1 for f in inputs if f.scores)
        drifted = sorted((f for f in inputs if f.drifted), key=lambda f: -_finite(f.scores.get("psi")))
        prediction = self.prediction
        output = f"; prediction drifted ({_describe(prediction)})" if prediction and prediction.drifted else ""
        if not drifted:
            return f"{self.model}: no drift ({n} input features, {self.rows['current']} current rows){output}"
        parts = ", ".join(f"{f.name} ({_describe(f)})" for f in drifted[:5])
        more = f" and {len(drifted) - 5} more" if len(drifted) > 5 else ""
        verdict = "DRIFT" if self.drifted else "drift below the model threshold"
        critical = [f.name for f in drifted if f.name in self.critical_features]
        why = f"; critical: {', '.join(critical)}" if critical else ""
        return (
            f"{self.model}: {verdict}: {len(drifted)} of {n} features drifted "
            f"(share {self.drift_share:.2f}, threshold {self.thresholds.share}{why}): {parts}{more}{output}"
        )

    def findings(self) -> list[Finding]:
        """A finding per feature drifted now or still held by hysteresis, and one for the model."""
        out = []
        for f in self.features:
            if not (f.drifted or f.stable):
                continue
            critical = f.name in self.critical_features
            psi = _finite(f.scores.get("psi"), default=float("nan"))
            out.append(
                Finding(
                    kind=FindingKind.DRIFT,
                    model=self.model,
                    subject=f.name,
                    severity=Severity.PAGE if critical else Severity.WARNING,
                    value=psi if np.isfinite(psi) else f.effect,
                    threshold=self.thresholds.psi if np.isfinite(psi) else 1.0,
                    evidence={
                        "kind": f.kind,
                        "role": f.role,
                        "scores": f.scores,
                        "pvalues_adjusted": f.pvalues_adjusted,
                        "rows": f.rows,
                        "missing_rate": f.missing_rate,
                        "unseen": dict(f.unseen),
                        "model_version": self.model_version,
                    },
                    at=self.evaluated_at,
                )
            )
        if self.drifted or self.stable:
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
                        "prediction_drifted": bool(self.prediction and self.prediction.drifted),
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
    current_categories: Mapping[str, Mapping[str, int]] | None = None,
    current_bins: np.ndarray | None = None,
    thresholds: DriftThresholds = DriftThresholds(),
    critical_features: Sequence[str] = (),
    model_version: str | None = None,
    scratch: bool = False,
) -> DriftReport:
    """Evaluate every reference feature at once.

    `current` is (rows x len(names)) floats, NaN missing, for the numeric features;
    `current_categories` the category counts of the same rows for the categorical ones
    (a row missing a categorical feature is simply not counted); `current_bins` the counts of
    `current` per reference bin (features, bins) when a streaming window kept them; `scratch`
    lets it sort `current` in place (the caller's own copy: one window's worth of memory saved).
    """
    started = time.perf_counter()
    numeric = _numeric_scores(reference, names, current, thresholds, current_bins, scratch)
    categorical = compare_categories(reference.categories, current_categories or {})
    rows_cur = int(np.asarray(current).shape[0])

    # one row per feature: numeric ones first, then categorical, all of them vectorized
    feature_names = reference.features + categorical.features
    cat_ref_valid, cat_cur_valid = categorical.valid_counts
    n_ref = np.concatenate([reference.valid_counts, cat_ref_valid]).astype(np.float64)
    n_cur = np.concatenate([numeric["valid"], cat_cur_valid]).astype(np.float64)
    # rows behind each feature's counts: category counts may cover more rows than the sampled values
    base_ref = np.concatenate(
        [np.full(len(reference.features), reference.rows), np.full(len(categorical.features), reference.category_rows)]
    ).astype(np.float64)
    base_ref = np.maximum(base_ref, n_ref)
    base_cur = np.maximum(float(rows_cur), n_cur)
    pvalue = np.concatenate([numeric["pvalue"], categorical.pvalue])
    evaluated = ~np.isnan(pvalue)
    adjusted = stats.benjamini_hochberg(pvalue)
    categorical_effect = categorical.psi / thresholds.vector("psi", categorical.features)
    effect = np.concatenate([numeric["effect"], categorical_effect])

    # missing-rate drift: a two-proportion test, gated by the size of the change like every other test
    with np.errstate(invalid="ignore", divide="ignore"):
        missing_ref = np.where(base_ref > 0, 1.0 - n_ref / base_ref, np.nan)
        missing_cur = np.where(base_cur > 0, 1.0 - n_cur / base_cur, np.nan)
    _, missing_p = stats.proportions_ztest(base_ref - n_ref, base_ref, base_cur - n_cur, base_cur)
    missing_adjusted = stats.benjamini_hochberg(missing_p)
    missing_change = np.abs(missing_cur - missing_ref)
    missing_effect = missing_change / thresholds.vector("missing", feature_names)
    missing_drift = (missing_effect >= 1.0) & (missing_adjusted < thresholds.alpha)

    with np.errstate(invalid="ignore"):
        drifted = ((effect >= 1.0) & (adjusted < thresholds.alpha)) | missing_drift  # NaN compares False
    effect = np.fmax(effect, missing_effect)

    features = []
    for j, name in enumerate(feature_names):
        is_numeric = j < len(reference.features)
        k = j if is_numeric else j - len(reference.features)
        if is_numeric:
            scores = {m: float(v[j]) for m, v in numeric["scores"].items()}
            test = "ks"
            bins = {"reference": reference.bin_counts[j].tolist(), "current": numeric["bins"][j].tolist()}
            labels = interval_labels(reference.edges[j])
        else:
            width = len(categorical.labels[k])
            scores = {
                "chi2": float(categorical.chi2[k]),
                "psi": float(categorical.psi[k]),
                "jensenshannon": float(categorical.jensenshannon[k]),
            }
            test = "chi2"
            bins = {
                "reference": categorical.reference_counts[k, :width].tolist(),
                "current": categorical.current_counts[k, :width].tolist(),
            }
            labels = categorical.labels[k]
        missing_scores = {"missing": float(missing_change[j])} if np.isfinite(missing_change[j]) else {}
        pvalues = {test: float(pvalue[j])} if evaluated[j] else {}
        pvalues_adjusted = {test: float(adjusted[j])} if evaluated[j] else {}
        if np.isfinite(missing_p[j]):
            pvalues["missing"] = float(missing_p[j])
            pvalues_adjusted["missing"] = float(missing_adjusted[j])
        features.append(
            FeatureDrift(
                name=name,
                drifted=bool(drifted[j]),
                missing_rate={"reference": _num(missing_ref[j]), "current": _num(missing_cur[j])},
                scores=(scores if evaluated[j] else {}) | missing_scores,
                pvalues=pvalues,
                pvalues_adjusted=pvalues_adjusted,
                rows={"reference": int(n_ref[j]), "current": int(n_cur[j])},
                bins=bins,
                kind="numeric" if is_numeric else "categorical",
                bin_labels=labels,
                role=PREDICTION if name == PREDICTION else "feature",
                effect=float(effect[j]),
                unseen=() if is_numeric else categorical.unseen[k],
            )
        )
    inputs = [f for f in features if f.role != PREDICTION and (f.scores or f.drifted)]
    share = sum(f.drifted for f in inputs) / len(inputs) if inputs else 0.0
    critical_hit = any(f.drifted and f.name in critical_features for f in features)
    return DriftReport(
        model=model,
        drifted=bool(inputs and (share >= thresholds.share or critical_hit)),
        drift_share=share,
        rows={"reference": reference.rows, "current": rows_cur},
        features=tuple(features),
        thresholds=thresholds,
        critical_features=tuple(critical_features),
        model_version=model_version,
        duration_seconds=time.perf_counter() - started,
    )


def _numeric_scores(
    reference: ReferenceProfile,
    names: Sequence[str],
    current: np.ndarray,
    thresholds: DriftThresholds,
    current_bins: np.ndarray | None,
    scratch: bool,
) -> dict[str, Any]:
    """KS, PSI and the optional numeric statistics of every numeric reference feature."""
    aligned = _aligned(reference.features, names, current)
    cur_sorted = stats.sort_columns(aligned, in_place=scratch or aligned is not current)
    ks = stats.ks_2samp(reference.sorted_values, cur_sorted)
    cur_bins = stats.bin_counts(cur_sorted, reference.edges) if current_bins is None else current_bins
    features = reference.features
    scores = {"ks": ks.statistic, "psi": stats.psi(reference.bin_counts, cur_bins)}
    effect = np.fmax(
        scores["psi"] / thresholds.vector("psi", features), ks.statistic / thresholds.vector("ks", features)
    )
    if "wasserstein" in thresholds.methods:
        scores["wasserstein"] = stats.wasserstein_normed(
            reference.sorted_values, cur_sorted, reference_std=reference.std
        )
        effect = np.fmax(effect, scores["wasserstein"] / thresholds.vector("wasserstein", features))
    if "jensenshannon" in thresholds.methods:
        scores["jensenshannon"] = stats.jensen_shannon(reference.bin_counts, cur_bins)
    return {
        "scores": scores,
        "pvalue": ks.pvalue,
        "psi": scores["psi"],
        "effect": effect,
        "bins": cur_bins,
        "valid": stats.valid_counts(cur_sorted),
    }


class DriftDetector:
    """A model's reference plus its sliding current window.

    `update()` is cheap (a ring-buffer append; categorical values become vocabulary codes)
    and safe to call while `evaluate()` runs in another thread.

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
        hold: int = 1,
        kinds: Mapping[str, str] | None = None,
        max_categories: int = 1000,
        every: float | None = None,
        previous_as_reference: bool = False,
        bins: int = 10,
    ) -> None:
        self.model = model
        self.reference = reference
        self.thresholds = thresholds
        self.critical_features = tuple(critical_features)
        self.kinds = dict(kinds or {})  # configured kind overrides: feature -> numeric | categorical
        self.model_version: str | None = None  # the latest the prediction records named
        self.window = SlidingWindow(reference.features if reference else (), capacity=window, max_features=max_features)
        self.vocabulary = Vocabulary(max_categories)  # the window's categorical columns hold its codes
        self.stability = VerdictStability(hold)
        self.every = every  # seconds of a tumbling window; None: sliding by count
        self.previous_as_reference = previous_as_reference  # `reference: previous`: each closed window
        self.bins = bins
        self.period_start = _period_start(time.time(), every) if every else 0.0
        self._report: DriftReport | None = None
        if reference is not None:
            self.window.track_bins(reference.features, reference.edges)

    @property
    def report(self) -> DriftReport | None:
        """The latest evaluation; None before the first one or without a reference."""
        return self._report

    def set_reference(self, reference: ReferenceProfile, *, keep_verdicts: bool = False) -> None:
        self.window.track_bins(reference.features, reference.edges)
        self.reference = reference
        if not keep_verdicts:
            self.stability.reset()
            self._report = None

    def update(
        self,
        names: Sequence[str],
        values: np.ndarray,
        categorical: Sequence[str] = (),
        categorical_values: np.ndarray | None = None,
    ) -> None:
        """Append rows: numeric columns `values`, categorical ones `categorical_values` (str or None)."""
        convert = [j for j, name in enumerate(names) if self._is_categorical(name)]
        if not convert and not categorical:
            self.window.append(names, values)
            return
        columns: list[tuple[str, np.ndarray]] = []
        values = np.asarray(values, dtype=np.float64)
        for j, name in enumerate(names):
            column = values[:, j]
            columns.append((name, self.vocabulary.encode(name, _labels(column)) if j in convert else column))
        reference_numeric = set(self.reference.features) if self.reference else set()
        for k, name in enumerate(categorical):
            if name in reference_numeric or self.kinds.get(name) == "numeric":
                continue  # text where numbers are expected: the numeric statistics cannot use it
            if name not in self.vocabulary and name in self.window.features:  # numbers came first: recode them
                self.window.transform(name, lambda column, name=name: self.vocabulary.encode(name, _labels(column)))
            columns.append((name, self.vocabulary.encode(name, categorical_values[:, k])))
        rows = values.shape[0]
        block = np.column_stack([c for _, c in columns]) if columns else np.empty((rows, 0))
        self.window.append([n for n, _ in columns], block)

    def evaluate(self, now: float | None = None) -> list[Finding]:
        """Compare the current window with the reference. A tumbling window is compared once,
        when its period ends, and then emptied; until then the last verdict stands."""
        now = time.time() if now is None else now
        if self.every is not None:
            if now < self.period_start + self.every:
                return self._report.findings() if self._report else []
            self.period_start = _period_start(now, self.every)
            if self.window.rows == 0:
                return []
        reference = self.reference
        names, values, bins = self.window.binned()
        numeric, current_categories = self._split(names, values)
        if self.every is not None:
            self.window.clear()
            if self.previous_as_reference:
                closed = self._profile(numeric, current_categories)
                if reference is None:  # the first period only becomes the reference
                    self.set_reference(closed)
                    return []
                self.set_reference(closed, keep_verdicts=True)
        if reference is None:
            return []
        report = compare(
            self.model,
            reference,
            *numeric,
            current_categories=current_categories,
            current_bins=bins if bins.shape == reference.bin_counts.shape else None,
            thresholds=self.thresholds,
            critical_features=self.critical_features,
            model_version=self.model_version,
            scratch=True,  # `numeric` is this evaluation's own copy of the window
        )
        if self.reference is not reference and not self.previous_as_reference:  # replaced meanwhile
            return []
        self._report = report = self.stability.apply(report)
        return report.findings()

    def window_profile(self) -> ReferenceProfile:
        """The current window as a reference profile (to pin it); ValueError when it is empty."""
        names, values = self.window.snapshot()
        if values.shape[0] == 0:
            raise ValueError(f"model {self.model!r} has no rows in its current window to pin")
        return self._profile(*self._split(names, values))

    def _split(
        self, names: tuple[str, ...], values: np.ndarray
    ) -> tuple[tuple[tuple[str, ...], np.ndarray], dict[str, dict[str, int]]]:
        """((numeric names, their columns), category counts) of a window snapshot."""
        coded = [j for j, name in enumerate(names) if name in self.vocabulary]
        if not coded:
            return (names, values), {}
        categories = {names[j]: self.vocabulary.counts(names[j], values[:, j]) for j in coded}
        keep = [j for j in range(len(names)) if j not in set(coded)]
        return (tuple(names[j] for j in keep), values[:, keep]), categories

    def _profile(
        self, numeric: tuple[tuple[str, ...], np.ndarray], categories: dict[str, dict[str, int]]
    ) -> ReferenceProfile:
        names, values = numeric
        return ReferenceProfile.fit(list(names), values, categories=categories, bins=self.bins)

    def checkpoint(self) -> bytes:
        """The window, its category vocabulary and the period it covers, for `restore()` after a restart."""
        return encode_checkpoint(*self.checkpoint_state())

    def checkpoint_state(self) -> tuple[tuple[str, ...], np.ndarray, int, bytes]:
        """What `checkpoint()` encodes, copied now (cheap; the encoding can run in another thread)."""
        state = {"vocabulary": self.vocabulary.to_dict(), "period_start": self.period_start}
        return (*self.window.checkpoint_state(), json.dumps(state).encode())

    def restore(self, blob: bytes) -> None:
        meta = json.loads(self.window.restore(blob) or b"{}")
        self.vocabulary.restore(meta.get("vocabulary", {}))
        if self.every is not None and meta.get("period_start"):
            self.period_start = float(meta["period_start"])

    def _is_categorical(self, name: str) -> bool:
        kind = self.kinds.get(name)
        if kind is not None:
            return kind == "categorical"
        return name in self.vocabulary or (self.reference is not None and name in self.reference.categories)


def _period_start(now: float, every: float) -> float:
    """Tumbling periods are aligned to multiples of `every` since the epoch (10m: :00, :10, ...)."""
    return math.floor(now / every) * every


def _labels(column: np.ndarray) -> np.ndarray:
    """Numbers as category names (3.0 -> "3"), NaN as None: for integer codes sent as categories."""
    out = np.full(column.shape[0], None, dtype=object)
    present = ~np.isnan(column)
    numbers = column[present]
    if np.all(numbers == np.round(numbers)) and np.all(np.abs(numbers) < 2**53):
        out[present] = numbers.astype(np.int64).astype(str)
    else:
        out[present] = [number_label(x) for x in numbers]
    return out


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
    """Names of the bins that `edges` cut, closed on the right as `stats.bin_counts` counts them.

    >>> interval_labels(np.array([0.5, 1.25]))
    ('≤ 0.5', '(0.5, 1.25]', '> 1.25')
    """
    if len(edges) == 0:
        return ("all",)
    e = [f"{x:.4g}" for x in edges]
    return (f"≤ {e[0]}", *(f"({a}, {b}]" for a, b in itertools.pairwise(e)), f"> {e[-1]}")


def _describe(f: FeatureDrift) -> str:
    shown = [("PSI", "psi"), ("KS", "ks"), ("chi2", "chi2"), ("missing", "missing")]
    parts = [f"{label} {f.scores[key]:.2f}" for label, key in shown if key in f.scores and np.isfinite(f.scores[key])]
    if f.unseen:
        parts.append("unseen " + ", ".join(c for c, _ in f.unseen[:3]))
    return ", ".join(parts[:3]) or "no data"


def _finite(x: float | None, default: float = 0.0) -> float:
    return float(x) if x is not None and np.isfinite(x) else default


def _num(x: float) -> float | None:
    return float(x) if np.isfinite(x) else None
