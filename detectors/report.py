"""What a drift evaluation says: thresholds, per-feature results and the model's report.

Plain data with the few methods that read it (`summary()`, `findings()`, `to_dict()`, the
JSON shape of design.md); computing them is `detectors/drift.py`'s job.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from driftwarden.core.records import PREDICTION  # the model's output column, reported apart
from driftwarden.detectors.embedding import EmbeddingDrift, embedding_findings
from driftwarden.detectors.findings import FeatureDriftFinding, Finding, ModelDriftFinding, Severity
from driftwarden.detectors.multivariate import MultivariateResult
from driftwarden.detectors.reasons import Reason, headline, reasons_text
from driftwarden.detectors.reference import interval_labels
from driftwarden.params import DriftThresholds

__all__ = [
    "PREDICTION",
    "DriftReport",
    "FeatureDrift",
    "TraceExamples",
    "interval_labels",
]

TOP_FEATURES = 5  # drifted features (with their reasons) named in a model drift alert


@dataclass(frozen=True)
class TraceExamples:
    """Current-window rows of a drifted feature's top drifted bin (the one that gained the most share
    of rows over the reference, "__missing__" for the missing values), by their trace and span ids."""

    bin: str  # the bin's label as `FeatureDrift.bin_labels` names it, or "__missing__"
    traces: tuple[tuple[str, str | None], ...]  # (trace id, span id or None), lowercase hex

    def to_dict(self) -> dict[str, Any]:
        return {"bin": self.bin, "traces": [{"trace_id": t, "span_id": s} for t, s in self.traces]}


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
    bin_labels: tuple[str, ...] = ()  # one per bin, as shown: an interval ("(0.5, 1.25]") or a category name
    bin_edges: tuple[float, ...] = ()  # numeric: the bins-1 interior edges, bin k is edges[k-1] < x <= edges[k]
    role: str = "feature"  # or "prediction": the model's output
    effect: float = float("nan")  # the largest score / threshold ratio: >= 1 is an effect
    stable: bool = False  # the verdict after `for` evaluations and hysteresis (see detectors/stability.py)
    unseen: tuple[tuple[str, int], ...] = ()  # categorical: the most frequent categories the reference lacks
    trace_examples: TraceExamples | None = None  # for the worst drifted features, when their rows had trace ids
    reasons: tuple[Reason, ...] = ()  # the tests that fired now, headline first (detectors/reasons.py)
    held_reasons: tuple[Reason, ...] = ()  # stable but not drifted now: the reasons it last drifted with

    @property
    def headline(self) -> Reason | None:
        """The test to name first: the most decisive that fired now; None when none did."""
        return headline(self.reasons)

    def to_dict(self) -> dict[str, Any]:
        out = {
            "name": self.name,
            "kind": self.kind,
            "role": self.role,
            "drifted": self.drifted,
            "drifted_stable": self.stable,
            "reasons": [r.to_dict() for r in self.reasons],
            "held_reasons": [r.to_dict() for r in self.held_reasons],
            "effect": _num(self.effect),
            "missing_rate": self.missing_rate,
            "scores": {k: _num(v) for k, v in self.scores.items()},  # +inf (moved constant) -> null
            "pvalues": self.pvalues,
            "pvalues_adjusted": self.pvalues_adjusted,
            "rows": self.rows,
        }
        if self.kind == "categorical":
            out["unseen"] = [{"category": c, "count": n} for c, n in self.unseen]
        if self.trace_examples is not None:
            out["trace_examples"] = self.trace_examples.to_dict()
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
    multivariate: tuple[MultivariateResult, ...] = ()  # drift.multivariate's verdicts (detectors/multivariate.py)

    def with_multivariate(self, results: tuple[MultivariateResult, ...]) -> DriftReport:
        """This report with the multivariate verdicts of its window: a model whose multivariate verdict
        drifted is drifted, as one with half its features drifted is (docs/design.md)."""
        moved = any(r.drifted for r in results)
        return dataclasses.replace(
            self, multivariate=results, drifted=self.drifted or moved, stable=self.stable or moved
        )

    embeddings: tuple[EmbeddingDrift, ...] = ()  # models.<m>.embeddings: each one's verdict by each method

    @property
    def prediction(self) -> FeatureDrift | None:
        return next((f for f in self.features if f.role == PREDICTION), None)

    @property
    def drifted_features(self) -> list[FeatureDrift]:
        """The input features drifted now (the prediction, the model's output, is `prediction`)."""
        return [f for f in self.features if f.drifted and f.role != PREDICTION]

    @property
    def reasons(self) -> tuple[Reason, ...]:
        """Why the model drifted now (`drifted`): its drift share over the threshold, a critical feature
        drifted, or both, in that order; () when it did not."""
        if not self.drifted:
            return ()
        out = []
        if self.drift_share >= self.thresholds.share:
            names = tuple(f.name for f in _most_decisive_first(self.drifted_features))
            out.append(Reason("drift_share", self.drift_share, self.thresholds.share, features=names))
        critical = tuple(
            f.name for f in _most_decisive_first(self.features) if f.drifted and f.name in self.critical_features
        )
        if critical:
            out.append(Reason("critical", float(len(critical)), 1.0, features=critical))
        out += [
            Reason("multivariate", r.score, r.threshold, pvalue=r.pvalue, pvalue_test=r.method, features=r.top_features)
            for r in self.multivariate
            if r.drifted
        ]
        return tuple(out)

    def to_dict(self) -> dict[str, Any]:
        t = self.thresholds
        prediction = self.prediction
        return {
            "model": self.model,
            "model_version": self.model_version,
            "drifted": self.drifted,
            "drifted_stable": self.stable,
            "reasons": [r.to_dict() for r in self.reasons],
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
            "multivariate": [r.to_dict() for r in self.multivariate],
            "embeddings": [e.to_dict() for e in self.embeddings],
        }

    def summary(self) -> str:
        """One line a person can act on."""
        if self.rows["current"] == 0:
            return f"{self.model}: no current rows yet"
        inputs = [f for f in self.features if f.role != PREDICTION]
        n = sum(1 for f in inputs if f.scores)
        drifted = _most_decisive_first(f for f in inputs if f.drifted)
        prediction = self.prediction
        output = f"; prediction drifted: {_describe(prediction)}" if prediction and prediction.drifted else ""
        output += "".join(
            f"; multivariate {r.method} drifted ({r.score:.3g} > {r.threshold:.3g}"
            + (f"; most: {', '.join(r.top_features)})" if r.top_features else ")")
            for r in self.multivariate
            if r.drifted
        )
        if not drifted:
            verdict = "DRIFT" if self.drifted else "no drift"
            return f"{self.model}: {verdict} ({n} input features, {self.rows['current']} current rows){output}"
        parts = ", ".join(f"{f.name}: {_describe(f)}" for f in drifted[:5])
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
        out: list[Finding] = []
        for f in self.features:
            if not (f.drifted or f.stable):
                continue
            critical = f.name in self.critical_features
            top = f.headline  # None: held by hysteresis, no test fires now; its effect ratio is the value
            out.append(
                FeatureDriftFinding(
                    model=self.model,
                    feature=f.name,
                    severity=Severity.PAGE if critical else Severity.WARNING,
                    value=top.value if top else f.effect,
                    threshold=top.threshold if top else 1.0,
                    reasons=f.reasons,
                    held_reasons=f.held_reasons,
                    feature_kind=f.kind,
                    role=f.role,
                    scores=f.scores,
                    pvalues_adjusted=f.pvalues_adjusted,
                    rows=f.rows,
                    missing_rate=f.missing_rate,
                    unseen=f.unseen,
                    model_version=self.model_version,
                    at=self.evaluated_at,
                )
            )
        if self.drifted or self.stable:
            drifted = self.drifted_features
            shown = _most_decisive_first(f for f in self.features if f.role != PREDICTION and (f.drifted or f.stable))
            out.append(
                ModelDriftFinding(
                    model=self.model,
                    severity=Severity.WARNING,
                    value=self.drift_share,
                    threshold=self.thresholds.share,
                    reasons=self.reasons,
                    top_features=tuple((f.name, f.reasons or f.held_reasons) for f in shown[:TOP_FEATURES]),
                    drifted_features=tuple(f.name for f in drifted),
                    prediction_drifted=bool(self.prediction and self.prediction.drifted),
                    critical_drifted=tuple(f.name for f in drifted if f.name in self.critical_features),
                    model_version=self.model_version,
                    at=self.evaluated_at,
                )
            )
        for r in self.multivariate:
            if (found := r.finding(self.model, model_version=self.model_version, at=self.evaluated_at)) is not None:
                out.append(found)
        if self.embeddings:
            out += embedding_findings(
                self.model, self.embeddings, model_version=self.model_version, at=self.evaluated_at
            )
        return out


def _describe(f: FeatureDrift) -> str:
    """What made a drifted feature drift: its headline reason (and how many more), its unseen categories."""
    parts = [reasons_text(f.reasons, limit=1)] if f.reasons else []
    if f.unseen:
        parts.append("unseen " + ", ".join(c for c, _ in f.unseen[:3]))
    return "; ".join(parts) or "no data"


def _most_decisive_first(features: Iterable[FeatureDrift]) -> list[FeatureDrift]:
    """By the headline reason's value / threshold (held ones by their last reasons), then by name."""

    def key(f: FeatureDrift) -> tuple[float, str]:
        top = headline(f.reasons or f.held_reasons)
        return (-(top.ratio if top else _finite(f.effect)), f.name)

    return sorted(features, key=key)


def _finite(x: float | None, default: float = 0.0) -> float:
    return float(x) if x is not None and np.isfinite(x) else default


def _num(x: float) -> float | None:
    return float(x) if math.isfinite(x) else None  # math, not numpy: a Python float's test, 10x cheaper
