"""The vectorized constraint checker agrees with a plain per-value implementation (hypothesis), and
the window's shares follow its rows."""

from __future__ import annotations

import dataclasses
import math
import re
from collections import Counter

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from driftwarden.core.constraints import ConstraintKind, ConstraintSet, FeatureRule
from driftwarden.core.records import RecordBatch
from driftwarden.core.text_columns import encode_text
from driftwarden.detectors.constraints import REDACTED, ConstraintMonitor, check

K = ConstraintKind
NUMBERS = st.one_of(st.none(), st.floats(-1e6, 1e6, allow_nan=False), st.sampled_from([0.0, -1.0, 10.0, 100.0]))
WORDS = st.one_of(st.none(), st.sampled_from(["a", "b", "ab", "A1", "x_y", "", "zz9", "é"]))
PATTERNS = ["^a", "b$", "[0-9]", "^[a-z]+$", "x_", "^$"]


def plain(rules: ConstraintSet, batch: RecordBatch, known: frozenset[str] = frozenset()) -> Counter[tuple[str, K]]:
    """The same checks, one value at a time."""
    found: Counter[tuple[str, K]] = Counter()
    rows = batch.rows
    for j, name in enumerate(batch.features):
        rule = rules.features.get(name)
        column = [None if math.isnan(x) else x for x in batch.values[:, j].tolist()]
        if rule is None:
            if rules.undeclared and name not in known and name != "prediction":
                found[name, K.UNDECLARED] += sum(x is not None for x in column)
            continue
        low, high = rule.bounds
        for x in column:
            if x is None:
                found[name, K.MISSING] += rule.max_missing is not None
            else:
                bounded = rule.min is not None or rule.max is not None
                found[name, K.RANGE] += bounded and rule.type != "categorical" and not low <= x <= high
                found[name, K.TYPE] += rules.type_change and rule.type == "categorical"
    for k, name in enumerate(batch.categorical):
        rule = rules.features.get(name)
        column = batch.categorical_values[:, k].tolist() if batch.categorical_values is not None else []
        if rule is None:
            if rules.undeclared and name not in known and name != "prediction":
                found[name, K.UNDECLARED] += sum(x is not None for x in column)
            continue
        for x in column:
            if x is None:
                found[name, K.MISSING] += rule.max_missing is not None
            elif rules.type_change and rule.type == "numeric":
                found[name, K.TYPE] += 1
            else:
                found[name, K.CATEGORY] += rule.allowed is not None and x not in rule.allowed
                found[name, K.REGEX] += rule.regex is not None and re.search(rule.regex, x) is None
    if rules.absent and rows:
        for name in rules.features:
            if name not in batch.features and name not in batch.categorical:
                found[name, K.ABSENT] += rows
    return +found


@st.composite
def cases(draw: st.DrawFn) -> tuple[ConstraintSet, RecordBatch]:
    rows = draw(st.integers(0, 30))
    numeric = draw(st.lists(st.sampled_from(["n1", "n2", "n3", "w1"]), unique=True, max_size=4))
    text = draw(st.lists(st.sampled_from(["t1", "t2", "w1x", "n3t"]), unique=True, max_size=4))
    values = np.array(
        [
            [np.nan if x is None else x for x in draw(st.lists(NUMBERS, min_size=len(numeric), max_size=len(numeric)))]
            for _ in range(rows)
        ],
        dtype=np.float64,
    ).reshape(rows, len(numeric))
    words = np.empty((rows, len(text)), dtype=object)
    for i in range(rows):
        words[i, :] = draw(st.lists(WORDS, min_size=len(text), max_size=len(text)))
    features = {}
    for name in draw(st.lists(st.sampled_from(["n1", "n2", "n3", "t1", "t2", "n3t", "gone"]), unique=True)):
        low = draw(st.one_of(st.none(), st.floats(-100, 100)))
        high = draw(st.one_of(st.none(), st.floats(-100, 100)))
        if low is not None and high is not None and low > high:
            low, high = high, low
        features[name] = FeatureRule(
            name=name,
            type=draw(st.sampled_from([None, "numeric", "categorical"])),
            min=low,
            max=high,
            tolerance=draw(st.sampled_from([0.0, 0.1])),
            allowed=draw(st.one_of(st.none(), st.frozensets(st.sampled_from(["a", "b", "ab", "zz9"])))),
            max_missing=draw(st.one_of(st.none(), st.floats(0, 1))),
            regex=draw(st.one_of(st.none(), st.sampled_from(PATTERNS))),
        )
    rules = ConstraintSet(
        features=features, undeclared=draw(st.booleans()), absent=draw(st.booleans()), type_change=draw(st.booleans())
    )
    return rules, RecordBatch("m", tuple(numeric), values, None, tuple(text), words)


@settings(max_examples=200, deadline=None)
@given(cases(), st.frozensets(st.sampled_from(["n1", "w1", "t2"])))
def test_the_vectorized_checker_agrees_with_a_per_value_one(
    case: tuple[ConstraintSet, RecordBatch], known: frozenset[str]
) -> None:
    rules, batch = case
    found = check(rules, batch, known=known, hidden={"t1"})
    assert Counter(found.counts) == plain(rules, batch, known)
    assert set(found.examples) <= set(found.counts)
    for (feature, _), shown in found.examples.items():
        if feature == "t1" and shown:
            assert shown == (REDACTED,)
        assert len(shown) <= 3


@settings(max_examples=200, deadline=None)
@given(cases(), st.data())
def test_a_subset_of_a_parsed_batch_is_checked_as_its_own_rows(
    case: tuple[ConstraintSet, RecordBatch], data: st.DataObject
) -> None:
    """A batch whose text columns were encoded before some rows were dropped (as the parser's, before
    `subset`) breaks what those rows break, no more."""
    rules, batch = case
    words = batch.categorical_values
    assert words is not None
    parsed = dataclasses.replace(batch, text=tuple(encode_text(words[:, k].tolist()) for k in range(words.shape[1])))
    mask = np.array(data.draw(st.lists(st.booleans(), min_size=batch.rows, max_size=batch.rows)), dtype=bool)
    kept = parsed.subset(mask)
    assert kept.text is not None
    assert Counter(check(rules, kept).counts) == plain(rules, batch.subset(mask), frozenset())


def test_the_window_share_follows_its_rows() -> None:
    rules = ConstraintSet(features={"x": FeatureRule(name="x", min=0, max=1)}, max_violating_share=0.1)
    monitor = ConstraintMonitor("m", rules, window=100)
    bad = RecordBatch("m", ("x",), np.array([[5.0]] * 20 + [[0.5]] * 30))
    good = RecordBatch("m", ("x",), np.full((50, 1), 0.5))
    monitor.add(check(rules, bad))
    [finding] = monitor.findings(now=1.0)
    assert (finding.value, finding.violations, finding.rows, finding.examples) == (0.4, 20, 50, ("5", "5", "5"))
    monitor.add(check(rules, good))
    assert monitor.findings(now=1.0)[0].value == 0.2
    monitor.add(check(rules, good))  # the bad batch leaves the window
    assert monitor.findings(now=1.0) == [] and monitor.shares() == {} and monitor.rows == 100


def test_the_alert_links_the_model_pages_data_quality_card() -> None:
    from driftwarden.alerts.alert import Alert
    from driftwarden.alerts.links import alert_context
    from driftwarden.params import AlertLinkParams

    labels = {"alertname": "DataQualityViolation", "kind": "data_quality", "subject": "age", "model": "shop"}
    alert = Alert("f1", labels | {"constraint": "range"}, {"summary": "..."}, 0.2, 0.0, {})
    context = alert_context(alert, AlertLinkParams(external_url="https://dw.example"))
    assert context.ui_url == "https://dw.example/ui/models/shop#data-quality"


@settings(max_examples=60, deadline=None)
@given(
    st.integers(0, 2_000),
    st.integers(1, 60),
    st.sampled_from(["fmin", "fmax", "add"]),
    st.integers(0, 2**32 - 1),
    st.floats(0, 0.01),
)
def test_the_blocked_column_reduction_agrees_with_numpys(
    rows: int, width: int, name: str, seed: int, gaps: float
) -> None:
    from driftwarden.detectors.constraints import _column_reduce

    rng = np.random.default_rng(seed)
    values = rng.normal(size=(rows, width)) * 1e3
    values[rng.random(values.shape) < gaps] = np.nan
    ufunc = getattr(np, name)
    if rows == 0 and name != "add":
        return  # fmin and fmax have no identity: the checker never reduces an empty batch
    got, want = _column_reduce(ufunc, values), ufunc.reduce(values, axis=0)
    if name == "add":  # another order of summation: the same NaNs, nearly the same sums
        np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
        np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-6)
    else:
        np.testing.assert_array_equal(got, want)


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(1, 3_000), st.floats(0, 0.002), st.floats(0, 0.01))
def test_large_batches_agree_with_the_per_value_checker(seed: int, rows: int, outside: float, gaps: float) -> None:
    """Batches large enough for the blocked reductions and the distinct-value fast path, with a few
    values out of range, missing, unknown or not matching, anywhere."""
    rng = np.random.default_rng(seed)
    names = tuple(f"n{j}" for j in range(12))
    values = rng.uniform(-1, 1, size=(rows, len(names)))
    values[rng.random(values.shape) < outside] = 5.0
    values[rng.random(values.shape) < gaps] = np.nan
    words = rng.choice(
        np.array(["a", "b", "ab", None, "zz9", "x_y"], dtype=object),
        size=(rows, 3),
        p=[0.4, 0.3, 0.2, 0.05, 0.04, 0.01],
    )
    features = {name: FeatureRule(name=name, type="numeric", min=-1, max=1, max_missing=0.5) for name in names}
    features |= {
        "t0": FeatureRule(name="t0", type="categorical", allowed=frozenset({"a", "b", "ab"})),
        "t1": FeatureRule(name="t1", type="categorical", regex="^[a-z]+$", max_missing=0.1),
        "t2": FeatureRule(name="t2", type="numeric"),
    }
    rules = ConstraintSet(features=features)
    batch = RecordBatch("m", names, values, None, ("t0", "t1", "t2"), words)
    assert Counter(check(rules, batch).counts) == plain(rules, batch)
