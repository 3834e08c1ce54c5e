"""Data-quality constraints as the rest of driftwarden sees them: what one model's features must
look like (range, allowed categories, type, missing share, a regex) and its schema rules.

The config (`models.<m>.constraints`, or a `constraints_file`) is turned into a `ConstraintSet` by
`driftwarden.params`; `driftwarden.detectors.constraints` checks batches against it. The kinds are
a closed set: they are the `constraint` label of `driftwarden_constraint_violations_total`.

>>> rule = FeatureRule(name="age", type="numeric", min=0.0, max=100.0, tolerance=0.1)
>>> rule.bounds
(-10.0, 110.0)
"""

from __future__ import annotations

import enum
import math
from collections.abc import Mapping
from dataclasses import dataclass, field

__all__ = ["ConstraintKind", "ConstraintSet", "FeatureRule"]


class ConstraintKind(enum.StrEnum):
    """What a value (or a column) broke; the `constraint` label of the violation counter."""

    RANGE = "range"  # a number below min or above max (less the tolerance)
    CATEGORY = "category"  # a category outside `allowed`
    REGEX = "regex"  # a string the pattern does not match
    TYPE = "type"  # text where numbers are declared, or numbers where text is
    MISSING = "missing"  # a missing value of a feature with `max_missing`
    UNDECLARED = "undeclared"  # a value of a feature the constraints do not declare
    ABSENT = "absent"  # a batch without a declared feature at all


@dataclass(frozen=True, kw_only=True)
class FeatureRule:
    """One feature's constraints; None: not constrained that way."""

    name: str
    type: str | None = None  # "numeric" or "categorical"
    min: float | None = None
    max: float | None = None
    tolerance: float = 0.0  # share of (max - min) a value may pass min or max by
    allowed: frozenset[str] | None = None
    max_missing: float | None = None  # share of the window's rows
    regex: str | None = None  # searched (not anchored unless it says so), as polars' str.contains

    @property
    def bounds(self) -> tuple[float, float]:
        """(low, high) with the tolerance applied; -inf/inf where not bounded."""
        low = -math.inf if self.min is None else self.min
        high = math.inf if self.max is None else self.max
        slack = self.tolerance * (high - low) if math.isfinite(high - low) else 0.0
        return low - slack, high + slack

    def describe(self, kind: ConstraintKind) -> str:
        """What the rule expects, in words, for findings and reports."""
        match kind:
            case ConstraintKind.RANGE:
                low, high = self.bounds
                return f"within [{low:.6g}, {high:.6g}]"
            case ConstraintKind.CATEGORY:
                shown = sorted(self.allowed or ())
                more = f" (+{len(shown) - 10} more)" if len(shown) > 10 else ""
                return "one of " + ", ".join(shown[:10]) + more
            case ConstraintKind.REGEX:
                return f"matching /{self.regex}/"
            case ConstraintKind.TYPE:
                return f"of type {self.type}"
            case ConstraintKind.MISSING:
                return f"missing in at most {self.max_missing:.4g} of rows"
            case ConstraintKind.ABSENT:
                return "present in every batch"
        return "declared in the constraints"


@dataclass(frozen=True, kw_only=True)
class ConstraintSet:
    """A model's constraints: its features' rules and which schema rules apply."""

    features: Mapping[str, FeatureRule] = field(default_factory=dict)
    undeclared: bool = True  # a feature the rules do not name is a violation
    absent: bool = True  # a declared feature missing from a batch is one
    type_change: bool = True  # a feature arriving with another type than declared is one
    max_violating_share: float = 0.0  # of the window's rows, above which a finding (missing: max_missing)
    severity: str = "warning"

    def threshold(self, feature: str, kind: ConstraintKind) -> float:
        """The share of the window's rows a finding needs to pass."""
        rule = self.features.get(feature)
        if kind is ConstraintKind.MISSING and rule is not None and rule.max_missing is not None:
            return rule.max_missing
        return self.max_violating_share
