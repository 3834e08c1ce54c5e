"""Why a verdict is what it is: the tests that fired, each with its value, threshold and p-value.

A drifted feature carries one `Reason` per effect size over its threshold whose gating test is
significant (the rule of detectors/drift.py): PSI, KS D or normed Wasserstein gated by the KS p-value
(numeric), PSI gated by the chi-square p-value (categorical), the missing-rate change gated by its
two-proportion test. A drifted model carries `drift_share` and/or `critical`. Reasons are ordered
most decisive first (value / threshold), so `reasons[0]` is the headline wherever a verdict is shown;
a statistic under its threshold is never a reason.

>>> r = Reason("missing", 0.063, 0.05, pvalue=1e-9, pvalue_bh=3e-9, pvalue_test="missing", from_=0.03, to=0.093)
>>> r.text()
'missing rate 3.0% → 9.3% (change 6.3 pts ≥ 5 pts; p(BH) 3e-09)'
>>> r.to_dict()["from"], r.to_dict()["to"], r.to_dict()["threshold"]
(0.03, 0.093, 0.05)
>>> Reason("wasserstein", 0.31, 0.1, pvalue=1e-30, pvalue_bh=2e-30, pvalue_test="ks").text()
'normed Wasserstein 0.31 ≥ 0.1 (KS p(BH) 2e-30)'
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["FEATURE_TESTS", "MODEL_TESTS", "TEST_LABELS", "Reason", "headline", "ordered", "reasons_text"]

# The feature tests a reason can name (the `test` label of driftwarden_feature_drift_reason), and the model's.
FEATURE_TESTS = ("missing", "psi", "ks", "wasserstein")
MODEL_TESTS = ("drift_share", "critical", "multivariate")
TEST_LABELS = {
    "psi": "PSI",
    "ks": "KS D",
    "wasserstein": "normed Wasserstein",
    "missing": "missing rate",
    "chi2": "χ²",
    "drift_share": "drift share",
    "critical": "critical feature",
    "multivariate": "multivariate",
}
_P_TEST_LABELS = {"ks": "KS", "chi2": "χ²", "missing": ""}


@dataclass(frozen=True, slots=True)
class Reason:
    """One test that fired. `value` is compared with `threshold` (value ≥ threshold fired); `pvalue` and
    `pvalue_bh` (Benjamini-Hochberg-adjusted across the model's features) are those of `pvalue_test`,
    the test that gates this effect size; `from_`/`to` are the missing rates (test "missing");
    `features` the features behind a model reason."""

    test: str
    value: float
    threshold: float
    pvalue: float | None = None
    pvalue_bh: float | None = None
    pvalue_test: str | None = None
    from_: float | None = None
    to: float | None = None
    features: tuple[str, ...] = ()

    @property
    def ratio(self) -> float:
        """How far past its threshold: the sort key of the headline (an infinite value is the most decisive)."""
        if math.isnan(self.value):
            return 0.0
        return self.value / self.threshold if self.threshold > 0 else math.inf

    def to_dict(self) -> dict[str, Any]:
        """The JSON shape of design.md ("Reasons"): only the fields the test has."""
        out: dict[str, Any] = {"test": self.test}
        if self.from_ is not None or self.to is not None:
            out["from"], out["to"] = self.from_, self.to
        out["value"], out["threshold"] = _num(self.value), self.threshold
        if self.pvalue_test is not None:
            out["pvalue"], out["pvalue_bh"], out["pvalue_test"] = self.pvalue, self.pvalue_bh, self.pvalue_test
        if self.features:
            out["features"] = list(self.features)
        return out

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Reason:
        value = d.get("value")
        return cls(
            test=str(d["test"]),
            value=math.inf if value is None else float(value),
            threshold=float(d["threshold"]),
            pvalue=d.get("pvalue"),
            pvalue_bh=d.get("pvalue_bh"),
            pvalue_test=d.get("pvalue_test"),
            from_=d.get("from"),
            to=d.get("to"),
            features=tuple(d.get("features", ())),
        )

    def text(self, *, with_p: bool = True) -> str:
        """The reason as a person reads it, in one phrase (`with_p=False`: without its p-value)."""
        match self.test:
            case "missing":
                return (
                    f"missing rate {_pct(self.from_)} → {_pct(self.to)} "
                    f"(change {self.value * 100:.2g} pts ≥ {self.threshold * 100:.2g} pts{self._p() if with_p else ''})"
                )
            case "drift_share":
                n = len(self.features)
                return f"{n} input feature{'s' * (n != 1)} drifted (share {self.value:.0%} ≥ {self.threshold:.0%})"
            case "critical":
                return f"critical feature{'s' * (len(self.features) != 1)} {', '.join(self.features)} drifted"
            case "multivariate":  # pvalue_test names the method (detectors/multivariate.py)
                where = f"; most: {', '.join(self.features)}" if self.features else ""
                p = f", p {self.pvalue:.2g}" if self.pvalue is not None and with_p else ""
                return f"multivariate {self.pvalue_test} {_fmt(self.value)} > {self.threshold:.3g}{p}{where}"
        label = TEST_LABELS.get(self.test, self.test)
        return f"{label} {_fmt(self.value)} ≥ {self.threshold:g}{self._p() if with_p else ''}"

    def _p(self) -> str:
        if self.pvalue_bh is None:
            return ""
        test = _P_TEST_LABELS.get(self.pvalue_test or "", self.pvalue_test or "")
        p = f"{test} p(BH) {self.pvalue_bh:.2g}".strip()
        return f"; {p}" if self.test == "missing" else f" ({p})"


def ordered(reasons: Iterable[Reason]) -> tuple[Reason, ...]:
    """Most decisive first: by value / threshold, then in FEATURE_TESTS order (stable across runs)."""
    order = {t: i for i, t in enumerate(FEATURE_TESTS + MODEL_TESTS)}
    return tuple(sorted(reasons, key=lambda r: (-r.ratio, order.get(r.test, len(order)), r.test)))


def headline(reasons: Iterable[Reason]) -> Reason | None:
    """The reason to name first, None when nothing fired."""
    return next(iter(ordered(reasons)), None)


def reasons_text(reasons: Iterable[Reason], *, limit: int = 3) -> str:
    """The headline and the next reasons, `; `-joined, a p-value shared by neighbours said once.

    >>> ks = dict(pvalue=1e-9, pvalue_bh=2e-9, pvalue_test="ks")
    >>> reasons_text([Reason("psi", 0.41, 0.2, **ks), Reason("ks", 0.22, 0.1, **ks)])
    'KS D 0.22 ≥ 0.1; PSI 0.41 ≥ 0.2 (KS p(BH) 2e-09)'
    """
    shown = ordered(reasons)[:limit]
    parts = []
    for i, r in enumerate(shown):
        after = shown[i + 1] if i + 1 < len(shown) else None
        shared = after is not None and (after.pvalue_test, after.pvalue_bh) == (r.pvalue_test, r.pvalue_bh)
        parts.append(r.text(with_p=not shared or r.test == "missing"))
    more = len(ordered(reasons)) - len(shown)
    return "; ".join(parts) + (f"; and {more} more" if more > 0 else "")


def _fmt(x: float) -> str:
    return "∞" if math.isinf(x) else f"{x:.3g}"


def _pct(x: float | None) -> str:
    return "—" if x is None else f"{x:.1%}"


def _num(x: float) -> float | None:
    return float(x) if math.isfinite(x) else None
