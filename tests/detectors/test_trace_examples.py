"""Trace ids beside a window's rows, and the rows a drift report names by them."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from driftwarden.core.records import TRACE_BYTES, pack_traces, trace_hex
from driftwarden.detectors.detector import DriftDetector
from driftwarden.detectors.reference import ReferenceProfile
from driftwarden.detectors.trace_examples import MAX_TRACES, MISSING
from driftwarden.detectors.windows import SlidingWindow


def traces_of(values: list[int]) -> np.ndarray:
    """A packed trace id per row that says its value (trace id = the value + 1, span id = the value + 1)."""
    packed = pack_traces([f"{v + 1:032x}" for v in values], [f"{v + 1:016x}" for v in values])
    assert packed is not None
    return packed


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(1, 40), st.booleans()), min_size=1, max_size=12), st.integers(1, 50))
def test_each_row_keeps_its_trace_id_through_growth_wraps_and_a_checkpoint(
    batches: list[tuple[int, bool]], capacity: int
) -> None:
    w = SlidingWindow(["x"], capacity=capacity)
    sent, serial = [], 0
    for rows, traced in batches:
        values = list(range(serial, serial + rows))
        serial += rows
        w.append(["x"], np.array(values, dtype=float)[:, None], traces_of(values) if traced else None)
        sent += [(v, traced) for v in values]
    expected = sent[-capacity:]  # the rows still in the window
    for window in (w, restored(w, capacity)):
        _, values, _, traces = window.binned_with_traces()
        if not any(traced for _, traced in expected):
            assert traces is None
            continue
        assert traces is not None and traces.shape == (len(expected), TRACE_BYTES)
        got = {int(v): trace_hex(t) for v, t in zip(values[:, 0], traces, strict=True)}
        assert got == {v: (f"{v + 1:032x}", f"{v + 1:016x}") if traced else None for v, traced in expected}


def restored(w: SlidingWindow, capacity: int) -> SlidingWindow:
    other = SlidingWindow(["x"], capacity=capacity)
    other.restore(w.to_bytes())
    return other


def test_a_traced_window_counts_its_trace_bytes() -> None:
    w = SlidingWindow(["x", "y"], capacity=100)
    assert w.bytes_after(10) == 16 * 2 * 8 and w.bytes_after(10, traced=True) == 16 * (2 * 8 + TRACE_BYTES)
    w.append(["x", "y"], np.zeros((10, 2)), traces_of(list(range(10))))
    assert w.nbytes == 16 * (2 * 8 + TRACE_BYTES) == w.bytes_after(0)
    w.clear()
    assert w.nbytes == 0 and w.binned_with_traces()[3] is None


def test_the_report_names_traces_of_rows_in_the_bin_that_gained_the_most() -> None:
    rng = np.random.default_rng(1)
    reference = ReferenceProfile.fit(["x", "y"], rng.normal(size=(5000, 2)))
    detector = DriftDetector("m", reference, window=2000)
    x = np.concatenate([rng.normal(size=1000), rng.normal(3.0, 0.5, size=1000)])  # half of them far up
    y = rng.normal(size=2000)
    y[:300] = np.nan  # y drifts by its missing rate only
    detector.update(["x", "y"], np.column_stack([x, y]), traces=traces_of(list(range(2000))))
    detector.evaluate()
    report = detector.report
    assert report is not None
    features = {f.name: f for f in report.features}
    shown = features["x"].trace_examples
    assert features["x"].drifted and shown is not None and shown.bin.startswith(">")
    top = reference.edges[0][-1]
    assert len(shown.traces) == MAX_TRACES and all(x[int(t, 16) - 1] > top for t, _ in shown.traces)
    missing = features["y"].trace_examples
    assert features["y"].drifted and missing is not None and missing.bin == MISSING
    assert all(int(t, 16) - 1 < 300 for t, _ in missing.traces)


def test_without_trace_ids_the_report_is_as_before() -> None:
    rng = np.random.default_rng(2)
    reference = ReferenceProfile.fit(["x"], rng.normal(size=(5000, 1)))
    detector = DriftDetector("m", reference, window=1000)
    detector.update(["x"], rng.normal(2.0, 1.0, size=(1000, 1)))
    detector.evaluate()
    assert detector.report is not None
    assert all(f.trace_examples is None for f in detector.report.features)
    assert "trace_examples" not in str(detector.report.to_dict())


def test_a_category_that_gained_names_its_rows() -> None:
    rng = np.random.default_rng(3)
    reference = ReferenceProfile.fit(["x"], rng.normal(size=(5000, 1)), categories={"c": {"DE": 2500, "FR": 2500}})
    detector = DriftDetector("m", reference, window=2000)
    countries = np.array(["DE"] * 600 + ["FR"] * 600 + ["BR"] * 800, dtype=object)
    detector.update(["x"], rng.normal(size=(2000, 1)), ["c"], countries[:, None], traces=traces_of(list(range(2000))))
    detector.evaluate()
    assert detector.report is not None
    shown = next(f for f in detector.report.features if f.name == "c").trace_examples
    assert shown is not None and shown.bin == "__unseen__"
    assert all(countries[int(t, 16) - 1] == "BR" for t, _ in shown.traces)
