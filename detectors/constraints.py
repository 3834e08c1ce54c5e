"""Data-quality constraints checked on every batch, vectorized: numbers against their ranges across
all numeric columns at once (numpy: each column's smallest, largest value and NaN found in three
passes over the block; only a column that breaks something is counted value by value), text columns
as their set of distinct values (C; a pattern's verdicts on values seen before are remembered, so a
regex runs on new values only), counted once per distinct value only where one breaks a constraint,
schema rules over the batch's column names. Never a Python loop over rows.

`check()` is the pure function (one batch -> its violations); `ConstraintMonitor` the thin stateful
wrapper: the violating share of the model's current window (its last `window` rows) per feature and
constraint, and the `DataQualityViolation` findings; `suggest()` writes constraints from a reference.

>>> import numpy as np
>>> rules = ConstraintSet(features={"age": FeatureRule(name="age", type="numeric", min=0, max=120)})
>>> batch = RecordBatch("m", ("age",), np.array([[30.0], [-4.0], [np.nan]]))
>>> v = check(rules, batch)
>>> v.counts, v.examples
({('age', <ConstraintKind.RANGE: 'range'>): 1}, {('age', <ConstraintKind.RANGE: 'range'>): ('-4',)})
"""

from __future__ import annotations

import itertools
import math
import time
from collections import Counter, deque
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import polars as pl

from driftwarden.core.arrays import FloatArray, IntArray
from driftwarden.core.constraints import ConstraintKind, ConstraintSet, FeatureRule
from driftwarden.core.records import PREDICTION, RecordBatch, number_label
from driftwarden.detectors.findings import DataQualityFinding, Severity
from driftwarden.detectors.reference import ReferenceProfile
from driftwarden.detectors.vocabulary import OTHER

__all__ = ["REDACTED", "BatchViolations", "ConstraintMonitor", "check", "suggest"]

Key = tuple[str, ConstraintKind]
REDACTED = "[redacted]"  # the example shown for a feature in `redact`
EXAMPLES = 3  # example values kept per feature and constraint
_EXAMPLE_CHARS = 64


@dataclass
class BatchViolations:
    """One batch's violating values per (feature, constraint), and a few of them."""

    rows: int
    counts: dict[Key, int] = field(default_factory=dict)
    examples: dict[Key, tuple[str, ...]] = field(default_factory=dict)

    def add(self, key: Key, count: int, examples: Collection[Any]) -> None:
        if count:
            self.counts[key] = self.counts.get(key, 0) + int(count)
            self.examples[key] = tuple(_shown(x) for x in list(examples)[:EXAMPLES])


def check(
    rules: ConstraintSet,
    batch: RecordBatch,
    *,
    hidden: Collection[str] = (),
    known: Collection[str] = (),
    max_examples: int = EXAMPLES,
) -> BatchViolations:
    """The violations of `batch`; the examples of features in `hidden` (redacted) are `REDACTED`; the
    features in `known` (redacted or ignored: never in a reference) are never `undeclared`."""
    out = BatchViolations(batch.rows)
    features = rules.features
    _numeric(rules, batch.features, batch.values, out, max_examples)
    _texts(rules, batch, out, max_examples)
    present = {*batch.features, *batch.categorical}
    if rules.undeclared:
        _undeclared(rules, batch, out, max_examples, frozenset(known))
    if rules.absent and batch.rows:
        for name in features.keys() - present:
            out.add((name, ConstraintKind.ABSENT), batch.rows, ())
    if hidden:
        for key in out.examples:
            if key[0] in hidden:
                out.examples[key] = (REDACTED,) if out.examples[key] else ()
    return out


def _numeric(rules: ConstraintSet, names: tuple[str, ...], values: FloatArray, out: BatchViolations, n: int) -> None:
    """Every numeric column at once: each column's smallest and largest value and whether it has a NaN
    (three passes over the block, `_column_reduce`) say which columns can break a range, a missing share
    or a type; only those are counted value by value (still vectorized, one column at a time)."""
    features = rules.features
    rules_at = [(j, features[name]) for j, name in enumerate(names) if name in features]
    if not rules_at or not len(values):
        return
    ranged = [(j, r) for j, r in rules_at if (r.min is not None or r.max is not None) and r.type != "categorical"]
    watched = [j for j, r in rules_at if r.max_missing is not None or (rules.type_change and r.type == "categorical")]
    if ranged:  # a column's smallest and largest values, NaN ignored (NaN: the column has only NaN)
        lowest, highest = _column_reduce(np.fmin, values), _column_reduce(np.fmax, values)
        bounds = np.array([r.bounds for _, r in ranged], dtype=np.float64)
        at = np.array([j for j, _ in ranged], dtype=np.intp)
        outside = (lowest[at] < bounds[:, 0]) | (highest[at] > bounds[:, 1])  # NaN compares false
        ranged = [ranged[k] for k in np.flatnonzero(outside)]
    if ranged:
        columns = [j for j, _ in ranged]
        bounds = np.array([r.bounds for _, r in ranged], dtype=np.float64)
        block = values[:, columns]
        with np.errstate(invalid="ignore"):
            bad = (block < bounds[:, 0]) | (block > bounds[:, 1])  # NaN (missing) compares false
        counts = bad.sum(axis=0)
        for k in np.flatnonzero(counts):
            out.add((names[columns[k]], ConstraintKind.RANGE), counts[k], block[bad[:, k], k][:n])
    if not watched:
        return
    # a column's sum is NaN when it holds a NaN (or +inf and -inf): only those are counted
    gaps = np.isnan(_column_reduce(np.add, values))
    missing = np.zeros(len(names), dtype=np.int64)
    holed = [j for j in watched if gaps[j]]
    if holed:
        missing[holed] = np.isnan(values[:, holed]).sum(axis=0)
    for j in watched:
        rule = features[names[j]]
        if rule.max_missing is not None:
            out.add((rule.name, ConstraintKind.MISSING), missing[j], ())
        if rules.type_change and rule.type == "categorical" and missing[j] < len(values):
            column = values[:, j]
            out.add((rule.name, ConstraintKind.TYPE), len(values) - missing[j], column[~np.isnan(column)][:n])


_REDUCE_WIDTH = 1024  # values per row of the reshaped block `_column_reduce` folds


def _column_reduce(ufunc: np.ufunc, values: FloatArray) -> FloatArray:
    """`ufunc.reduce(values, axis=0)`, faster: a C-ordered (rows, columns) block is reduced as rows of
    about `_REDUCE_WIDTH` values (several of its rows side by side), then those partial results, so the
    inner loop runs over a long contiguous row instead of one of `columns` values."""
    rows, width = values.shape
    group = max(1, _REDUCE_WIDTH // max(width, 1))
    whole = rows // group
    if whole < 2 or group == 1 or not values.flags.c_contiguous:
        reduced: FloatArray = ufunc.reduce(values, axis=0)
        return reduced
    head = values[: whole * group].reshape(whole, group * width)
    out: FloatArray = ufunc.reduce(ufunc.reduce(head, axis=0).reshape(group, width), axis=0)
    if rows > whole * group:
        out = ufunc(out, ufunc.reduce(values[whole * group :], axis=0))
    return out


def _texts(rules: ConstraintSet, batch: RecordBatch, out: BatchViolations, n: int) -> None:
    """The constrained text columns, each as its distinct values and their counts (`batch.text_columns`,
    encoded once per batch): missing values from the count of code -1, allowed categories and a declared
    type from the distinct values (a set comparison in C), a regex on the distinct values no batch showed
    it before (`_regexes`). Counted per value only where a value breaks something."""
    if not batch.categorical:
        return
    regexed: list[tuple[str, str, Sequence[Any], IntArray]] = []
    for name, column in zip(batch.categorical, batch.text_columns, strict=True):
        rule = rules.features.get(name)
        if rule is None:
            continue
        counts = column.counts()
        missing = int(counts[0])
        if rule.max_missing is not None:
            out.add((name, ConstraintKind.MISSING), missing, ())
        if missing == batch.rows:
            continue
        tally = counts[1:]
        distinct: Sequence[Any] = column.values
        if not tally.all():  # a subset of the rows the column was encoded from
            present = np.flatnonzero(tally)
            distinct, tally = [distinct[i] for i in present.tolist()], tally[present]
        if rules.type_change and rule.type == "numeric":  # text where numbers are declared: nothing else applies
            out.add((name, ConstraintKind.TYPE), batch.rows - missing, distinct[:n])
            continue
        if rule.allowed is not None and not rule.allowed.issuperset(distinct):
            unknown = [i for i, value in enumerate(distinct) if value not in rule.allowed]
            unknown.sort(key=tally.__getitem__, reverse=True)  # the most frequent first
            out.add((name, ConstraintKind.CATEGORY), int(tally[unknown].sum()), [distinct[i] for i in unknown[:n]])
        if rule.regex is not None:
            regexed.append((name, rule.regex, distinct, tally))
    if regexed:
        _regexes(regexed, out, n)


# per pattern, the values it matched in earlier batches (a match depends on the pattern and the value
# only); each set bounded, emptied when full
_MATCHED: dict[str, set[str]] = {}
_MATCHED_VALUES = 50_000


def _regexes(regexed: list[tuple[str, str, Sequence[Any], IntArray]], out: BatchViolations, n: int) -> None:
    """(column, pattern, distinct values, their counts) -> the values that break their pattern, counted. A
    pattern runs once (one polars call) on the values of all its columns it has not matched before, and
    remembers those it matches; a value that is not a string never matches."""
    failed: dict[str, set[Any]] = {}
    for _, pattern, distinct, _ in regexed:
        matched = _MATCHED.setdefault(pattern, set())
        if not matched.issuperset(distinct):
            failed.setdefault(pattern, set()).update(set(distinct) - matched)
    for pattern, fresh in failed.items():
        candidates = [value for value in fresh if isinstance(value, str)]
        ok = pl.Series(candidates, dtype=pl.String).str.contains(pattern).to_numpy()
        matched = _MATCHED[pattern]
        if len(matched) + len(candidates) > _MATCHED_VALUES:
            matched.clear()
        good = set(itertools.compress(candidates, ok.tolist()))
        matched.update(good)
        fresh -= good  # what is left fails the pattern
    for name, pattern, distinct, tally in regexed:
        bad_values = failed.get(pattern)
        if not bad_values or bad_values.isdisjoint(distinct):
            continue
        bad = [i for i, value in enumerate(distinct) if value in bad_values]
        out.add((name, ConstraintKind.REGEX), int(tally[bad].sum()), [distinct[i] for i in bad[:n]])


def _undeclared(rules: ConstraintSet, batch: RecordBatch, out: BatchViolations, n: int, known: frozenset[str]) -> None:
    declared = known.union(rules.features)
    numeric = [j for j, name in enumerate(batch.features) if name not in declared and name != PREDICTION]
    if numeric:
        block = batch.values[:, numeric]
        present = ~np.isnan(block)
        counts = present.sum(axis=0)
        for k in np.flatnonzero(counts):
            out.add((batch.features[numeric[k]], ConstraintKind.UNDECLARED), counts[k], block[present[:, k], k][:n])
    text = batch.categorical_values
    for i, name in enumerate(batch.categorical):
        if name not in declared and name != PREDICTION and text is not None:
            column = text[:, i]
            filled = column[column != None]  # noqa: E711 — elementwise on an object array
            out.add((name, ConstraintKind.UNDECLARED), len(filled), filled[:n])


def _shown(value: Any) -> str:
    if isinstance(value, (float, np.floating)):
        return number_label(float(value)) if math.isfinite(value) else str(value)
    return str(value)[:_EXAMPLE_CHARS]


class ConstraintMonitor:
    """A model's violations over its current window: the last `window` rows checked (whole batches).

    >>> import numpy as np
    >>> rules = ConstraintSet(features={"x": FeatureRule(name="x", min=0, max=1)})
    >>> m = ConstraintMonitor("m", rules, window=4)
    >>> m.add(check(rules, RecordBatch("m", ("x",), np.array([[0.5], [2.0]]))))
    >>> [(f.feature, f.constraint.value, f.value) for f in m.findings()]
    [('x', 'range', 0.5)]
    """

    def __init__(self, model: str, rules: ConstraintSet, *, window: int) -> None:
        self.model = model
        self.rules = rules
        self.window = window
        self._batches: deque[BatchViolations] = deque()
        self._rows = 0
        self._counts: Counter[Key] = Counter()
        self._examples: dict[Key, tuple[str, ...]] = {}  # the latest of each

    @property
    def rows(self) -> int:
        return self._rows

    def add(self, violations: BatchViolations) -> None:
        self._batches.append(violations)
        self._rows += violations.rows
        self._counts.update(violations.counts)
        self._examples.update(violations.examples)
        while len(self._batches) > 1 and self._rows - self._batches[0].rows >= self.window:
            old = self._batches.popleft()
            self._rows -= old.rows
            self._counts.subtract(old.counts)
        for key in [key for key, count in self._counts.items() if count <= 0]:
            del self._counts[key]
            self._examples.pop(key, None)

    def shares(self) -> dict[Key, tuple[int, float]]:
        """(violating values, their share of the window's rows) per feature and constraint."""
        rows = max(self._rows, 1)
        return {key: (count, count / rows) for key, count in sorted(self._counts.items())}

    def findings(self, now: float | None = None) -> list[DataQualityFinding]:
        """A finding per feature and constraint whose share passes its threshold."""
        at = time.time() if now is None else now
        severity = Severity(self.rules.severity)
        found = []
        for (feature, kind), (count, share) in self.shares().items():
            threshold = self.rules.threshold(feature, kind)
            if share <= threshold:
                continue
            rule = self.rules.features.get(feature) or FeatureRule(name=feature)
            found.append(
                DataQualityFinding(
                    model=self.model,
                    feature=feature,
                    constraint=kind,
                    severity=severity,
                    value=share,
                    threshold=threshold,
                    violations=count,
                    rows=self._rows,
                    expected=rule.describe(kind),
                    examples=self._examples.get((feature, kind), ()),
                    at=at,
                )
            )
        return found

    def summary(self) -> list[dict[str, Any]]:
        """Every feature and constraint with violations in the window, for the UI and the drift report."""
        out = []
        for (feature, kind), (count, share) in self.shares().items():
            rule = self.rules.features.get(feature) or FeatureRule(name=feature)
            threshold = self.rules.threshold(feature, kind)
            out.append(
                {
                    "feature": feature,
                    "constraint": kind.value,
                    "violations": count,
                    "rows": self._rows,
                    "share": share,
                    "threshold": threshold,
                    "violated": share > threshold,
                    "expected": rule.describe(kind),
                    "examples": list(self._examples.get((feature, kind), ())),
                }
            )
        return out


# --- suggested from a reference ----------------------------------------------------------------------

SUGGESTED_QUANTILES = (0.001, 0.999)
SUGGESTED_TOLERANCE = 0.25
SUGGESTED_SHARE = 0.001


def suggest(
    profile: ReferenceProfile,
    *,
    missing: Mapping[str, float] | None = None,
    kinds: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """Constraints a reference passes, as the mapping a `constraints_file` holds: per numeric feature
    a range from its 0.1 % and 99.9 % quantiles widened by a quarter of that width (never below zero
    for a feature the reference never has negative, always holding every reference value), per
    categorical one the categories it holds (all of them, unless pooled past the profile's limit);
    the type each has; a missing share of twice the reference's plus 1 %. `missing`: the reference's
    missing share per feature over every row (else the profile's); `kinds`: the config's feature kinds
    (a feature declared categorical whose values are numbers gets no type)."""
    kinds = kinds or {}
    features: dict[str, dict[str, Any]] = {}
    values = profile.sorted_values
    for j, name in enumerate(profile.features):
        column = values[:, j]
        filled = column[~np.isnan(column)]
        rule: dict[str, Any] = {} if kinds.get(name) == "categorical" else {"type": "numeric"}
        if len(filled):
            rule |= _suggested_range(filled)
        share = (missing or {}).get(name, 1 - len(filled) / max(len(column), 1))
        features[name] = rule | {"max_missing": _allowed_missing(share)}
    for name, counts in profile.categories.items():
        rule = {"type": "categorical"}
        observed = sorted(c for c in counts if c != OTHER)
        if observed and OTHER not in counts:
            rule["allowed"] = observed
        rows = profile.category_rows or profile.rows
        share = (missing or {}).get(name, 1 - sum(counts.values()) / max(rows, 1))
        features[name] = rule | {"max_missing": _allowed_missing(share)}
    return {
        "max_violating_share": SUGGESTED_SHARE,
        "schema": {"undeclared": True, "absent": True, "type_change": True},
        "features": features,
    }


def _suggested_range(filled: FloatArray) -> dict[str, Any]:
    low, high = np.quantile(filled, SUGGESTED_QUANTILES)
    slack = SUGGESTED_TOLERANCE * (high - low)
    smallest, largest = float(filled.min()), float(filled.max())
    low = low - slack if smallest < 0 else max(low - slack, 0.0)
    low, high = min(low, smallest), max(high + slack, largest)
    return {"min": _round(low, math.floor), "max": _round(high, math.ceil)}


def _allowed_missing(share: float) -> float:
    return round(min(1.0, 2 * max(share, 0.0) + 0.01), 4)


def _round(x: float, direction: Any = round) -> float | int:
    """Six significant digits, rounded outward by `direction` (math.floor, math.ceil); integral values as integers."""
    x = float(x)
    if x == 0 or not math.isfinite(x):
        return 0 if x == 0 else x
    scale = 10.0 ** (math.floor(math.log10(abs(x))) - 5)
    value = float(f"{direction(x / scale) * scale:.6g}")
    return int(value) if value.is_integer() and abs(value) < 2**53 else value
