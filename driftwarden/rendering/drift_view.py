"""One drift view: for each feature of a drift report, which threshold applies to each statistic, whether
the statistic passed it, and which test fired.

The three renderers of a `DriftReport` (the UI's model page, the `check --html` report and the
`check` terminal table) read these decisions here instead of making them again. The rule is
`detectors/drift.py`'s (design.md, "Drift defaults"):

- an effect size is *over* when it is at or above its threshold, a per-feature override first:
  PSI, KS D and normed Wasserstein for numeric features, PSI for categorical ones (chi-square's
  statistic grows with the window, Jensen-Shannon is reported only), the missing-rate change for
  any feature;
- a test is *significant* when its Benjamini-Hochberg-adjusted p-value is below alpha, and *fires*
  when it is significant and an effect size it gates is over: KS for numeric features, chi-square
  for categorical ones, the missing-rate test for the missing-rate change.

A feature drifted when a test fired; the verdict itself (`FeatureDrift.drifted`) stays the detector's.

>>> from driftwarden.detectors.report import FeatureDrift

>>> from driftwarden.params import DriftThresholds
>>> f = FeatureDrift(name="amount", drifted=False, missing_rate={}, rows={},
...                  scores={"psi": 0.31, "ks": 0.04}, pvalues={"ks": 0.2}, pvalues_adjusted={"ks": 0.4})
>>> view = FeatureView(f, DriftThresholds())
>>> view.statistic("psi").over, view.statistic("ks").over, view.check("ks").significant, view.fired
(True, False, False, ())
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from driftwarden.detectors.report import PREDICTION, DriftReport, FeatureDrift
from driftwarden.params import DriftThresholds

__all__ = [
    "DISTRIBUTION_TEST",
    "GATED",
    "STATISTIC_NAMES",
    "TEST_NAMES",
    "FeatureView",
    "HypothesisCheck",
    "StatisticCheck",
    "feature_views",
    "threshold",
]

# Names of the statistics as a person reads them, in the order they are shown; unknown ones come last.
STATISTIC_NAMES = {
    "psi": "PSI",
    "ks": "KS D",
    "wasserstein": "Wasserstein (normed)",
    "jensenshannon": "Jensen–Shannon",
    "chi2": "χ²",
    "missing": "missing-rate change",
}
TEST_NAMES = {"ks": "KS", "chi2": "χ²", "missing": "missing-rate"}
# The effect sizes with a threshold, by feature kind.
GATED = {"numeric": ("psi", "ks", "wasserstein", "missing"), "categorical": ("psi", "missing")}
# The hypothesis test whose p-value gates a kind's distribution effect sizes.
DISTRIBUTION_TEST = {"numeric": "ks", "categorical": "chi2"}


def threshold(thresholds: DriftThresholds, feature: str, kind: str, key: str) -> float | None:
    """The threshold of statistic `key` for `feature` (its per-feature override first); None when a
    statistic of that kind has none.

    >>> t = DriftThresholds(per_feature={"age": {"psi": 0.5}})
    >>> threshold(t, "age", "numeric", "psi"), threshold(t, "amount", "numeric", "psi")
    (0.5, 0.2)
    >>> threshold(t, "country", "categorical", "ks") is None
    True
    """
    if key not in GATED.get(kind, ()):
        return None
    return float(thresholds.per_feature.get(feature, {}).get(key, getattr(thresholds, key)))


@dataclass(frozen=True)
class StatisticCheck:
    """One statistic of a feature against its threshold (None: reported, not gated)."""

    key: str
    value: float | None
    threshold: float | None

    @property
    def name(self) -> str:
        return STATISTIC_NAMES.get(self.key, self.key)

    @property
    def over(self) -> bool:
        """At or above its threshold: the statistic fails (NaN and absent values never do)."""
        if self.value is None or self.threshold is None or math.isnan(self.value):
            return False
        return self.value >= self.threshold


@dataclass(frozen=True)
class HypothesisCheck:
    """One hypothesis test of a feature: its p-values against alpha and whether it fired."""

    key: str
    pvalue: float | None  # raw
    adjusted: float | None  # Benjamini-Hochberg-adjusted across the model's features
    alpha: float
    effect: bool  # an effect size this test gates is over its threshold

    @property
    def name(self) -> str:
        return TEST_NAMES.get(self.key, self.key)

    @property
    def significant(self) -> bool:
        return self.adjusted is not None and self.adjusted < self.alpha

    @property
    def fired(self) -> bool:
        """Significant with an effect: this test makes the feature drift."""
        return self.significant and self.effect


@dataclass(frozen=True)
class FeatureView:
    """A feature of a drift report with every threshold decision made."""

    feature: FeatureDrift
    thresholds: DriftThresholds

    @property
    def name(self) -> str:
        return self.feature.name

    @property
    def kind(self) -> str:
        return self.feature.kind

    @property
    def drifted(self) -> bool:
        """This evaluation's verdict, as the detector gave it."""
        return self.feature.drifted

    @property
    def is_output(self) -> bool:
        """The model's output (the `prediction` column), kept out of the input drift share."""
        return self.feature.role == PREDICTION

    @property
    def test(self) -> str:
        """The key of the test gating this kind's distribution effect sizes: "ks" or "chi2"."""
        return DISTRIBUTION_TEST.get(self.kind, "ks")

    def threshold(self, key: str) -> float | None:
        return threshold(self.thresholds, self.name, self.kind, key)

    def statistic(self, key: str) -> StatisticCheck:
        """Statistic `key` against its threshold; its value is None when the feature has no such score."""
        return StatisticCheck(key, self.feature.scores.get(key), self.threshold(key))

    @property
    def statistics(self) -> tuple[StatisticCheck, ...]:
        """Every score the feature has, in the order of STATISTIC_NAMES (unknown ones last, by name)."""
        order = list(STATISTIC_NAMES)
        keys = sorted(self.feature.scores, key=lambda k: (order.index(k) if k in order else len(order), k))
        return tuple(self.statistic(k) for k in keys)

    def check(self, key: str) -> HypothesisCheck:
        """Test `key`: its p-values (None when it did not run) and whether it fired."""
        if key == "missing":
            effect = self.statistic("missing").over
        elif key == self.test:
            effect = any(self.statistic(k).over for k in GATED.get(self.kind, ()) if k != "missing")
        else:
            effect = False
        f = self.feature
        return HypothesisCheck(key, f.pvalues.get(key), f.pvalues_adjusted.get(key), self.thresholds.alpha, effect)

    @property
    def tests(self) -> tuple[HypothesisCheck, ...]:
        """One per test that ran (has a p-value), the distribution test first."""
        keys = sorted(self.feature.pvalues, key=lambda k: k != self.test)
        return tuple(self.check(k) for k in keys)

    @property
    def fired(self) -> tuple[HypothesisCheck, ...]:
        """The tests that made the feature drift, the distribution test first; () when none did."""
        return tuple(t for t in self.tests if t.fired)

    @property
    def missing_drifted(self) -> bool:
        """The missing-rate test fired: the share of missing values moved."""
        return self.check("missing").fired


def feature_views(report: DriftReport) -> list[FeatureView]:
    """One view per feature of `report`, in the report's order (the rows of `driftwarden check`'s table)."""
    return [FeatureView(f, report.thresholds) for f in report.features]
