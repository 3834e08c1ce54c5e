"""Streaming bin counts, tumbling windows with `reference: previous`, pinning a window, categorical streams."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from driftwarden.detectors import stats
from driftwarden.detectors.detector import DriftDetector
from driftwarden.detectors.reference import ReferenceProfile
from driftwarden.detectors.windows import SlidingWindow
from tests.support.server import running


@settings(max_examples=40, deadline=None)
@given(
    capacity=st.integers(1, 300),
    batches=st.lists(st.tuples(st.integers(0, 400), st.booleans()), min_size=1, max_size=8),
    seed=st.integers(0, 2**16),
)
def test_streamed_bin_counts_equal_counting_the_window(capacity: int, batches: list, seed: int) -> None:
    rng = np.random.default_rng(seed)
    edges = stats.quantile_edges(stats.sort_columns(rng.normal(size=(1000, 2))), 10)
    window = SlidingWindow(capacity=capacity)
    window.append(["a"], rng.normal(size=(rng.integers(0, 50), 1)))
    window.track_bins(["a", "b"], edges)  # b arrives later
    for rows, with_b in batches:
        names = ["b", "a"] if with_b else ["a"]
        values = rng.normal(size=(rows, len(names)))
        values[rng.random(values.shape) < 0.1] = np.nan
        window.append(names, values)
        names_now, filled, bins = window.binned()
        columns = [names_now.index(n) if n in names_now else None for n in ("a", "b")]
        expected = np.stack(
            [
                stats.bin_counts(stats.sort_columns(filled[:, [c]]), edges[[j]])[0] if c is not None else np.zeros(10)
                for j, c in enumerate(columns)
            ]
        )
        np.testing.assert_array_equal(bins, expected)


def categorical_reference(rng: np.random.Generator) -> ReferenceProfile:
    return ReferenceProfile.fit(
        ["x"], rng.normal(size=(20_000, 1)), categories={"c": {"a": 10_000, "b": 6000, "c": 4000}}
    )


def test_a_new_category_at_ten_percent_is_caught_and_named() -> None:
    rng = np.random.default_rng(3)
    detector = DriftDetector("m", categorical_reference(rng), window=5000)
    cats = rng.choice(["a", "b", "c", "brand-new"], size=5000, p=[0.45, 0.27, 0.18, 0.10]).astype(object)
    detector.update(["x"], rng.normal(size=(5000, 1)), ["c"], cats[:, None])
    detector.evaluate()
    c = next(f for f in detector.report.features if f.name == "c")
    assert c.kind == "categorical" and c.drifted and c.unseen[0][0] == "brand-new"
    assert 450 < c.unseen[0][1] < 550 and c.bin_labels == ("a", "b", "c", "__unseen__")
    same = DriftDetector("m", categorical_reference(rng), window=5000)
    cats = rng.choice(["a", "b", "c"], size=5000, p=[0.5, 0.3, 0.2]).astype(object)
    same.update(["x"], rng.normal(size=(5000, 1)), ["c"], cats[:, None])
    same.evaluate()
    assert not next(f for f in same.report.features if f.name == "c").drifted


def test_integers_of_a_categorical_feature_are_counted_as_categories() -> None:
    rng = np.random.default_rng(4)
    reference = ReferenceProfile.fit(["x"], rng.normal(size=(5000, 1)), categories={"code": {"1": 2500, "2": 2500}})
    detector = DriftDetector("m", reference, window=1000)
    detector.update(["x", "code"], np.column_stack([rng.normal(size=1000), rng.integers(1, 3, 1000).astype(float)]))
    detector.evaluate()
    code = next(f for f in detector.report.features if f.name == "code")
    assert sum(code.bins["current"]) == 1000 and not code.drifted and code.unseen == ()


def test_tumbling_window_is_judged_once_per_period_against_the_previous_one() -> None:
    rng = np.random.default_rng(5)
    detector = DriftDetector("m", None, every=600.0, previous_as_reference=True)
    start = detector.period_start
    detector.update(["x"], rng.normal(size=(3000, 1)))
    assert detector.evaluate(now=start + 300) == [] and detector.reference is None  # period still open
    assert detector.evaluate(now=start + 600) == [] and detector.reference.rows == 3000  # first period: reference
    assert detector.window.rows == 0
    detector.update(["x"], rng.normal(size=(3000, 1)))
    detector.evaluate(now=start + 1200)
    assert detector.report is not None and not detector.report.drifted
    detector.update(["x"], rng.normal(size=(3000, 1)) + 1.0)
    assert detector.evaluate(now=start + 1500) == []  # mid-period: the last verdict (no drift) stands
    findings = detector.evaluate(now=start + 1800)
    assert detector.report.drifted and {f.subject for f in findings} == {"x", "__model__"}
    assert detector.reference.rows == 3000 and detector.window.rows == 0  # the shifted period is the new reference


@pytest.mark.server
def test_pinning_the_current_window_makes_it_the_reference(tmp_path: Path) -> None:
    rng = np.random.default_rng(6)
    with running(tmp_path / "s.db") as d:
        assert d.client.post("/v1/models/nope/reference/pin").status_code == 404
        body = b"\n".join(
            orjson.dumps({"model": "m", "features": {"x": float(x), "c": str(c)}})
            for x, c in zip(rng.normal(size=2000), rng.choice(["a", "b"], 2000), strict=True)
        )
        d.client.post("/v1/predictions", content=body, headers={"content-type": "application/x-ndjson"})
        pinned = d.client.post("/v1/models/m/reference/pin")
        assert pinned.status_code == 200, pinned.text
        kinds = {f["name"]: f["kind"] for f in pinned.json()["features"]}
        assert pinned.json()["rows"] == 2000 and kinds == {"x": "numeric", "c": "categorical"}
        d.evaluate()
        report = d.client.get("/v1/models/m/drift").json()
        assert report["rows"] == {"reference": 2000, "current": 2000} and report["drifted"] is False
        assert {f["name"]: max(f["scores"]["psi"], 0) for f in report["features"]} == {"x": 0.0, "c": 0.0}


def test_a_feature_sent_as_numbers_then_as_text_is_recoded_not_misread() -> None:
    """Found by the fuzzer: raw numbers left in a column that became categorical were read as codes."""
    rng = np.random.default_rng(8)
    detector = DriftDetector("m", ReferenceProfile.fit(["x"], rng.normal(size=(1000, 1)), categories={"c": {"1": 5}}))
    other = DriftDetector("m", None)
    other.update(["c"], np.array([[-3.5], [1.0], [np.nan]]))  # numbers first, no reference to say otherwise
    other.update([], np.empty((2, 0)), ["c"], np.array([["a"], [None]], dtype=object))
    names, values = other.window.snapshot()
    assert other.vocabulary.counts("c", values[:, names.index("c")]) == {"-3.5": 1, "1": 1, "a": 1}
    detector.update(["x", "c"], np.array([[0.1, 1.0], [0.2, 1.0]]))
    detector.evaluate()
    c = next(f for f in detector.report.features if f.name == "c")
    assert c.bins["current"] == [2, 0]


def test_a_reference_without_numeric_features_evaluates() -> None:
    """Found by the long fuzz: no numeric features left the streamed bins and the reference's of two shapes."""
    detector = DriftDetector("m", ReferenceProfile.fit([], np.empty((100, 0)), categories={"c": {"a": 60, "b": 40}}))
    detector.update(["x"], np.array([[1.0], [2.0]]), ["c"], np.array([["a"], ["b"]], dtype=object))
    detector.evaluate()
    assert [f.name for f in detector.report.features] == ["c"]


def test_a_restart_keeps_verdict_streaks_and_held_verdicts() -> None:
    rng = np.random.default_rng(9)
    reference = ReferenceProfile.fit(["x"], rng.normal(size=(5000, 1)))
    first = DriftDetector("m", reference, window=2000, hold=2)
    first.update(["x"], rng.normal(size=(2000, 1)) + 1.0)
    first.evaluate()
    first.evaluate()
    assert first.report.stable
    second = DriftDetector("m", reference, window=2000, hold=2)
    second.restore(first.checkpoint())
    second.evaluate()
    assert second.report.stable  # held across the restart, not counted again from zero


@pytest.mark.server
def test_the_rolling_reference_of_a_tumbling_window_is_stored(tmp_path: Path) -> None:
    models = {"m": {"window": {"every": "1s"}, "reference": "previous"}}
    body = b"\n".join(orjson.dumps({"model": "m", "features": {"x": float(x)}}) for x in range(100))
    with running(tmp_path / "s.db", evaluate_every="1h", models=models) as d:
        d.client.post("/v1/predictions", content=body, headers={"content-type": "application/x-ndjson"})
        time.sleep(1.1)  # the period closes
        d.evaluate()
    with running(tmp_path / "s.db", evaluate_every="1h", models=models) as d:
        (model,) = d.client.get("/v1/models").json()["models"]
    assert model["rows"]["reference"] == 100
