"""Why a feature drifted: each statistic that crossed its threshold, with the p-value of the test gating it.

The headline of a verdict wherever `check` and the notebook API show one (the terminal table, the
HTML report, `Comparison.reasons`, the JSON's per-feature `reasons`), so "drifted" never stands
beside numbers that look fine: the missing rate that moved, or the normed Wasserstein that crossed
while PSI did not, is named with its value and threshold. The decisions are the drift view's
(`drift_view.FeatureView.fired`); a feature that carries `reasons` of its own (the drift report's)
is shown with those.

>>> from driftwarden.detectors.report import FeatureDrift
>>> from driftwarden.params import DriftThresholds
>>> f = FeatureDrift(name="age", drifted=True, missing_rate={"reference": 0.03, "current": 0.093}, rows={},
...                  scores={"psi": 0.02, "ks": 0.05, "missing": 0.063}, pvalues={"ks": 0.2, "missing": 1e-9},
...                  pvalues_adjusted={"ks": 0.42, "missing": 2e-9})
>>> [r.to_dict() for r in feature_reasons(f, DriftThresholds())]
[{'test': 'missing', 'value': 0.063, 'threshold': 0.05, 'pvalue': 2e-09, 'from': 0.03, 'to': 0.093}]
>>> describe(feature_reasons(f, DriftThresholds()))
'missing rate 3.0% → 9.3% (change ≥ 5.0%, p 2e-09)'
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from driftwarden.detectors.report import FeatureDrift
from driftwarden.params import DriftThresholds
from driftwarden.rendering.drift_view import GATED, STATISTIC_NAMES, FeatureView

__all__ = ["Reason", "describe", "feature_reasons"]

MISSING = "missing"


@dataclass(frozen=True)
class Reason:
    """One statistic over its threshold, with the BH-adjusted p-value of the test that gates it
    (`gate`: ks, chi2 or missing); a missing-rate reason also says the rates, `before` → `after`."""

    test: str
    value: float | None
    threshold: float | None
    pvalue: float | None
    gate: str = ""
    before: float | None = None
    after: float | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "test": self.test,
            "value": self.value,
            "threshold": self.threshold,
            "pvalue": self.pvalue,
        }
        if self.test == MISSING:
            out |= {"from": self.before, "to": self.after}
        return out

    @classmethod
    def from_mapping(cls, m: Mapping[str, Any]) -> Reason:
        """A reason as the drift report's JSON writes it (`{"test", "value", "threshold", "pvalue", ...}`)."""
        return cls(
            test=str(m.get("test", "")),
            value=m.get("value"),
            threshold=m.get("threshold"),
            pvalue=m.get("pvalue"),
            gate=str(m.get("gate", "")),
            before=m.get("from"),
            after=m.get("to"),
        )

    def __str__(self) -> str:
        return describe([self])

    @property
    def headline(self) -> str:
        """The statistic against its threshold, without the p-value: "PSI 0.41 ≥ 0.2"."""
        if self.test == MISSING:
            return f"missing rate {_rate(self.before)} → {_rate(self.after)}"
        return f"{STATISTIC_NAMES.get(self.test, self.test)} {_number(self.value)} ≥ {_number(self.threshold)}"


def feature_reasons(feature: FeatureDrift, thresholds: DriftThresholds) -> tuple[Reason, ...]:
    """The reasons `feature` drifted, the distribution test's first; () when it did not."""
    own = getattr(feature, "reasons", None)  # the drift report's own, when it carries them
    if own is not None:
        return tuple(_reason(r) for r in own)
    if not feature.drifted:
        return ()
    view = FeatureView(feature, thresholds)
    out = []
    for test in view.fired:
        if test.key == MISSING:
            stat = view.statistic(MISSING)
            rates = feature.missing_rate
            out.append(
                Reason(
                    MISSING,
                    stat.value,
                    stat.threshold,
                    test.adjusted,
                    gate=MISSING,
                    before=rates.get("reference"),
                    after=rates.get("current"),
                )
            )
            continue
        for key in GATED.get(view.kind, ()):
            stat = view.statistic(key)
            if key != MISSING and stat.over:
                out.append(Reason(key, stat.value, stat.threshold, test.adjusted, gate=test.key))
    return tuple(out)


def describe(reasons: Iterable[Reason]) -> str:
    """The reasons as one line; those gated by one test share its p-value."""
    parts = []
    for (gate, pvalue), group in itertools.groupby(reasons, key=lambda r: (r.gate, r.pvalue)):
        items = list(group)
        if items[0].test == MISSING:
            parts.append(f"{items[0].headline} (change ≥ {_rate(items[0].threshold)}, p {_p(pvalue)})")
            continue
        test = {"ks": "KS", "chi2": "χ²"}.get(gate, gate)
        shown = ", ".join(r.headline for r in items)
        parts.append(f"{shown} ({test} p {_p(pvalue)})" if pvalue is not None else shown)
    return "; ".join(parts)


def _reason(value: object) -> Reason:
    if isinstance(value, Reason):
        return value
    if isinstance(value, Mapping):
        return Reason.from_mapping(value)
    to_dict = getattr(value, "to_dict", None)
    return Reason.from_mapping(to_dict() if callable(to_dict) else vars(value))


def _number(x: float | None) -> str:
    if x is None or math.isnan(x):
        return "-"
    if math.isinf(x):
        return "∞"
    return f"{x:.3g}" if abs(x) < 1000 else f"{x:,.0f}"


def _rate(x: float | None) -> str:
    return "-" if x is None or math.isnan(x) else f"{100 * x:.1f}%"


def _p(x: float | None) -> str:
    return "-" if x is None else f"{x:.2g}"
