"""Cumulative OTLP histogram points turned into deltas: over any sequence of intervals, with resets,
the deltas counted add up to what was observed, and never to more."""

from __future__ import annotations

import numpy as np
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from driftwarden.collector.otlp_deltas import CumulativeDeltas, ExponentialCounts, ExponentialPoints

STARTED = 1_000  # the receiver started at t=1000 ns; the streams below start later
SIGNATURE = np.array([0.1, 0.5, 1.0]).tobytes()
WIDTH = 4

interval = st.lists(st.integers(0, 40), min_size=WIDTH, max_size=WIDTH)  # one interval's new counts per bucket
step = st.tuples(st.sampled_from(["none", "none", "none", "restart", "drop"]), st.integers(0, 2), interval)


def explicit(converter: CumulativeDeltas, key: str, start: int, at: int, cumulative: np.ndarray):
    return converter.explicit(
        [key],
        SIGNATURE,
        np.array([start]),
        np.array([at]),
        cumulative[None, :].astype(np.int64),
        np.array([int(cumulative.sum())]),
        np.array([float(cumulative.sum())]),
    )


@settings(max_examples=300, deadline=None)
@given(st.lists(step, min_size=1, max_size=40))
def test_cumulative_to_delta_over_resets_gives_the_deltas_totals(steps: list[tuple[str, int, list[int]]]) -> None:
    """Three streams, each interval adding counts; a reset restarts a stream's cumulative counts, seen
    as a new start time ("restart") or, with the start time unchanged, as counts going down ("drop")."""
    converter = CumulativeDeltas(max_streams=100, started_ns=STARTED)
    start = {k: STARTED + 1 for k in range(3)}
    cumulative = {k: np.zeros(WIDTH, dtype=np.int64) for k in range(3)}
    sent = np.zeros(WIDTH, dtype=np.int64)
    counted = np.zeros(WIDTH, dtype=np.int64)
    for at, (reset, stream, new) in enumerate(steps, start=STARTED + 10):
        added = np.array(new, dtype=np.int64)
        if reset == "restart":
            start[stream], cumulative[stream] = at, np.zeros(WIDTH, dtype=np.int64)
        elif reset == "drop":  # detectable only when some bucket ends up lower than it was
            assume(bool((added < cumulative[stream]).any()))
            cumulative[stream] = np.zeros(WIDTH, dtype=np.int64)
        cumulative[stream] = cumulative[stream] + added
        sent += added
        out = explicit(converter, f"stream-{stream}", start[stream], at, cumulative[stream])
        if out.counted[0]:
            counted += out.buckets[0]
            assert out.count[0] == out.buckets[0].sum() and out.total[0] == out.count[0]
        converter.commit()
    assert counted.tolist() == sent.tolist()


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 5), interval), min_size=1, max_size=30), st.integers(1, 4))
def test_forgotten_streams_are_never_counted_twice(steps: list[tuple[int, list[int]]], bound: int) -> None:
    """Six streams, state for at most `bound`: a forgotten stream loses intervals, never counts twice."""
    converter = CumulativeDeltas(max_streams=bound, started_ns=STARTED)
    cumulative = {k: np.zeros(WIDTH, dtype=np.int64) for k in range(6)}
    sent = np.zeros(WIDTH, dtype=np.int64)
    counted = np.zeros(WIDTH, dtype=np.int64)
    for at, (stream, new) in enumerate(steps, start=STARTED + 10):
        cumulative[stream] += np.array(new, dtype=np.int64)
        sent += np.array(new, dtype=np.int64)
        out = explicit(converter, f"s{stream}", STARTED + 1, at, cumulative[stream])
        counted += out.buckets[0] if out.counted[0] else 0
        converter.commit()
        assert len(converter) <= bound
    assert (counted <= sent).all()
    if len(set(s for s, _ in steps)) <= bound:
        assert counted.tolist() == sent.tolist()


def test_a_stream_older_than_the_receiver_is_a_baseline_and_an_uncommitted_point_changes_nothing() -> None:
    converter = CumulativeDeltas(max_streams=10, started_ns=STARTED)
    old = explicit(converter, "old", STARTED - 500, STARTED + 1, np.array([5, 5, 0, 0]))
    assert not old.counted[0]  # its history before we started is not ours to count
    converter.commit()
    refused = explicit(converter, "old", STARTED - 500, STARTED + 2, np.array([6, 9, 0, 0]))
    assert refused.counted[0] and refused.buckets[0].tolist() == [1, 4, 0, 0]
    converter.discard()  # its request was refused (a full queue): the next export counts it
    again = explicit(converter, "old", STARTED - 500, STARTED + 3, np.array([7, 9, 1, 0]))
    assert again.buckets[0].tolist() == [2, 4, 1, 0]


def test_two_points_of_a_stream_in_one_batch_count_once_as_the_latest() -> None:
    converter = CumulativeDeltas(max_streams=10, started_ns=STARTED)
    out = converter.explicit(
        ["a", "a"],
        SIGNATURE,
        np.array([STARTED + 1, STARTED + 1]),
        np.array([STARTED + 20, STARTED + 10]),
        np.array([[3, 1, 0, 0], [1, 0, 0, 0]]),
        np.array([4, 1]),
        np.array([4.0, 1.0]),
    )
    assert out.counted.tolist() == [True, False] and out.latest.tolist() == [True, False]
    assert out.buckets[0].tolist() == [3, 1, 0, 0]


@st.composite
def exponential_steps(draw: st.DrawFn) -> list[tuple[int, list[int]]]:
    """Per interval: the scale the SDK reports at (never going up while the stream runs), and new
    observations as bucket indices at scale 4."""
    steps, scale = [], 4
    for _ in range(draw(st.integers(1, 12))):
        scale = draw(st.integers(max(scale - 2, 0), scale))
        steps.append((scale, draw(st.lists(st.integers(-40, 40), max_size=30))))
    return steps


@settings(max_examples=200, deadline=None)
@given(exponential_steps())
def test_exponential_cumulative_to_delta_follows_a_falling_scale(steps: list[tuple[int, list[int]]]) -> None:
    converter = CumulativeDeltas(max_streams=10, started_ns=STARTED)
    observed: list[int] = []
    counted = np.zeros(64, dtype=np.int64)  # at scale 0, indices -32..31 (scale-4 indices >> 4)
    total = 0
    for scale, new in steps:
        observed.extend(new)
        index = np.array(observed, dtype=np.int64) >> (4 - scale)
        low = int(index.min()) if index.size else 0
        counts = np.bincount(index - low) if index.size else np.zeros(0, dtype=np.int64)
        point = ExponentialCounts(scale, 0, low, counts.astype(np.int64), len(observed), float(len(observed)))
        delta = converter.exponential("e", STARTED + 1, point)
        converter.commit()
        assert delta is not None and delta.count == len(new) and (delta.counts >= 0).all()
        total += delta.count
        at_zero = (delta.offset + np.arange(delta.counts.size)) >> delta.scale
        np.add.at(counted, at_zero + 32, delta.counts)
    expected = np.zeros(64, dtype=np.int64)
    np.add.at(expected, (np.array(observed, dtype=np.int64) >> 4) + 32, 1)
    assert total == len(observed) and counted.tolist() == expected.tolist()


@settings(max_examples=200, deadline=None)
@given(exponential_steps(), exponential_steps())
def test_exponential_batches_convert_as_points_one_by_one(
    first: list[tuple[int, list[int]]], second: list[tuple[int, list[int]]]
) -> None:
    """`exponential_many` (the batch path: both streams in each export) adds up to what was observed,
    whether a stream's scale falls (merged in the batch) or it starts (one at a time)."""
    converter = CumulativeDeltas(max_streams=10, started_ns=STARTED)
    observed: dict[str, list[int]] = {"a": [], "b": []}
    counted = {k: np.zeros(64, dtype=np.int64) for k in observed}
    for at, steps in enumerate(zip(first, second, strict=False), start=STARTED + 10):
        points, keys = [], []
        for key, (scale, new) in zip(observed, steps, strict=True):
            observed[key].extend(new)
            index = np.array(observed[key], dtype=np.int64) >> (4 - scale)
            low = int(index.min()) if index.size else 0
            counts = np.bincount(index - low).astype(np.int64) if index.size else np.zeros(0, dtype=np.int64)
            points.append(ExponentialCounts(scale, 0, low, counts, len(observed[key]), 0.0))
            keys.append(key)
        batch = ExponentialPoints(
            scale=np.array([p.scale for p in points]),
            zero=np.zeros(len(points), dtype=np.int64),
            offset=np.array([p.offset for p in points]),
            counts=np.concatenate([p.counts for p in points]),
            lengths=np.array([p.counts.size for p in points]),
            count=np.array([p.count for p in points]),
            total=np.zeros(len(points)),
        )
        latest, done, deltas = converter.exponential_many(keys, np.full(2, STARTED + 1), np.full(2, at), batch)
        converter.commit()
        assert latest.all() and done.all() and (deltas.counts >= 0).all()
        where = np.cumsum(deltas.lengths) - deltas.lengths
        for i, key in enumerate(keys):
            own = deltas.counts[where[i] : where[i] + deltas.lengths[i]]
            at_zero = (deltas.offset[i] + np.arange(own.size)) >> deltas.scale[i]
            np.add.at(counted[key], at_zero + 32, own)
    for key, values in observed.items():
        expected = np.zeros(64, dtype=np.int64)
        np.add.at(expected, (np.array(values, dtype=np.int64) >> 4) + 32, 1)
        assert counted[key].tolist() == expected.tolist()
