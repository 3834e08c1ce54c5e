"""Cumulative OTLP histogram points turned into deltas, per stream.

A stream is one resource + scope + metric + attribute set; a cumulative point carries its counts
since the stream's `start_time_unix_nano`. Its delta is the point minus the stream's previous point,
or the whole point when the stream was reset: its start time changed, or its count (or a bucket's)
went down. A stream seen for the first time counts whole when it started after this receiver did
(everything in it is new), and is only remembered otherwise (a baseline: its history before we
started, or before we forgot it, is not ours to count). A stream whose bucket bounds changed without
a reset is a baseline again.

Work is per batch and vectorized: explicit-bucket streams live in one table per bounds signature
(a slot each), so a batch's previous counts are one fancy index. Nothing is changed until `commit()`:
a request refused after conversion (a full queue) leaves the state as it was, and its cumulative
counts are simply counted by the next export. At most `max_streams` streams are remembered; past
that the least recently seen is forgotten and counted in `evicted`; since a forgotten stream seen
again must not count whole a second time, an eviction also moves the "started after us" line to
the present (a new stream that started before it then loses its first interval, never counts twice).

Several points of one stream in one batch (a Collector batching two collection intervals): only the
latest counts, which includes the earlier ones.
"""

from __future__ import annotations

import time
from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field
from itertools import repeat

import numpy as np

from driftwarden.core.arrays import BoolArray, FloatArray, IntArray

__all__ = ["CumulativeDeltas", "ExplicitDeltas", "ExponentialCounts", "ExponentialPoints"]


@dataclass
class ExplicitDeltas:
    """A batch of explicit-bucket points as deltas; `counted` False for baselines and earlier duplicates."""

    latest: BoolArray  # each stream's latest point in the batch: the one that counts
    counted: BoolArray
    buckets: IntArray  # (points, buckets)
    count: IntArray
    total: FloatArray


@dataclass
class ExponentialCounts:
    """One exponential histogram point's positive counts (negative values are no duration)."""

    scale: int
    zero: int
    offset: int
    counts: IntArray
    count: int
    total: float

    def at_scale(self, scale: int) -> ExponentialCounts:
        """The same counts on a coarser scale (each bucket merged into the one holding it)."""
        shift = self.scale - scale
        if shift <= 0 or not self.counts.size:
            return ExponentialCounts(scale, self.zero, self.offset, self.counts, self.count, self.total)
        index = (self.offset + np.arange(self.counts.size)) >> shift
        merged = np.bincount(index - index[0], weights=self.counts).astype(np.int64)
        return ExponentialCounts(scale, self.zero, int(index[0]), merged, self.count, self.total)


@dataclass
class ExponentialPoints:
    """Exponential histogram points column-wise, their positive bucket counts one flat array."""

    scale: IntArray
    zero: IntArray
    offset: IntArray
    counts: IntArray  # every point's, one after the other
    lengths: IntArray  # how many of `counts` each point has
    count: IntArray
    total: FloatArray

    def point(self, i: int, first: int) -> ExponentialCounts:
        """Point `i` (its counts from `first`), copied: it may be kept as a stream's state."""
        counts = self.counts[first : first + int(self.lengths[i])].copy()
        return ExponentialCounts(
            int(self.scale[i]), int(self.zero[i]), int(self.offset[i]), counts, int(self.count[i]), float(self.total[i])
        )


@dataclass(eq=False)  # compared by identity
class _Table:
    """The last cumulative point of every explicit-bucket stream with one bounds signature."""

    width: int
    start: IntArray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    count: IntArray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    total: FloatArray = field(default_factory=lambda: np.zeros(0))
    counts: IntArray = field(default_factory=lambda: np.zeros((0, 0), dtype=np.int64))
    seen: IntArray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))  # the commit that last wrote it
    free: list[int] = field(default_factory=list)
    slots: dict[Hashable, int] = field(default_factory=dict)  # stream -> its row
    keys: list[Hashable] = field(default_factory=list)  # row -> its stream

    def __post_init__(self) -> None:
        self.counts = np.zeros((0, self.width), dtype=np.int64)

    def allocate(self, key: Hashable) -> int:
        if not self.free:
            have = self.start.size
            more = max(8, have)
            self.start = np.concatenate([self.start, np.zeros(more, dtype=np.int64)])
            self.count = np.concatenate([self.count, np.zeros(more, dtype=np.int64)])
            self.total = np.concatenate([self.total, np.zeros(more)])
            self.counts = np.vstack([self.counts.reshape(have, self.width), np.zeros((more, self.width), np.int64)])
            self.seen = np.concatenate([self.seen, np.full(more, -1, dtype=np.int64)])
            self.keys.extend([None] * more)
            self.free.extend(range(have + more - 1, have - 1, -1))
        slot = self.slots[key] = self.free.pop()
        self.keys[slot] = key
        return slot

    def release(self, key: Hashable) -> None:
        slot = self.slots.pop(key)
        self.keys[slot], self.seen[slot] = None, -1
        self.free.append(slot)

    def previous(self, slot: IntArray) -> tuple[IntArray, IntArray, FloatArray, IntArray]:
        """start, count, total and counts at `slot` (zeros where it is -1)."""
        known = slot >= 0
        if known.all():  # the steady state: every stream known
            return self.start[slot], self.count[slot], self.total[slot], self.counts[slot]
        at = np.where(known, slot, 0)
        if not self.start.size:
            zeros = np.zeros(slot.size, dtype=np.int64)
            return zeros, zeros, np.zeros(slot.size), np.zeros((slot.size, self.width), dtype=np.int64)
        return (
            np.where(known, self.start[at], 0),
            np.where(known, self.count[at], 0),
            np.where(known, self.total[at], 0.0),
            np.where(known[:, None], self.counts[at], 0),
        )


@dataclass
class _Pending:
    """The latest points of one `explicit` call, to be remembered on `commit`."""

    table: _Table
    keys: list[Hashable]
    slot: IntArray  # -1: not in `table` yet
    start: IntArray
    count: IntArray
    total: FloatArray
    buckets: IntArray = field(default_factory=lambda: np.zeros((0, 0), dtype=np.int64))


@dataclass
class _Exponential:
    start: int
    last: ExponentialCounts
    seen: int = 0  # the commit that last wrote it


_Where = _Table | _Exponential


class CumulativeDeltas:
    def __init__(self, max_streams: int, started_ns: int) -> None:
        self.max_streams = max_streams
        self.started_ns = started_ns  # streams that start later are wholly new to us
        self.evicted = 0
        self._where: dict[Hashable, _Where] = {}
        self._commits = 0
        self._tables: dict[bytes, _Table] = {}
        self._pending: list[_Pending] = []
        self._pending_exponential: list[tuple[Hashable, _Exponential]] = []

    def __len__(self) -> int:
        return len(self._where)

    # -- explicit buckets ---------------------------------------------------------------------------------------
    def explicit(
        self,
        keys: Sequence[Hashable],
        signature: bytes,
        start: IntArray,
        time: IntArray,
        buckets: IntArray,
        count: IntArray,
        total: FloatArray,
    ) -> ExplicitDeltas:
        """Deltas of cumulative points of streams `keys` (one per point) whose bounds are `signature`."""
        table = self._tables.get(signature)
        if table is None:
            table = self._tables[signature] = _Table(buckets.shape[1])
        latest = _latest(keys, time)
        slot = np.fromiter(map(table.slots.get, keys, repeat(-1)), dtype=np.intp, count=len(keys))
        slot[~latest] = -1
        prev_start, prev_count, prev_total, prev = table.previous(slot)
        has_prev = slot >= 0
        reset = has_prev & ((start != prev_start) | (count < prev_count) | (buckets < prev).any(axis=1))
        continuing = has_prev & ~reset
        fresh = latest & ~has_prev & (start >= self.started_ns) & (start > 0)
        counted = latest & (continuing | reset | fresh)
        last = np.flatnonzero(latest)
        latest_keys = list(keys) if last.size == len(keys) else [keys[i] for i in last.tolist()]
        pending = _Pending(table, latest_keys, slot[last], start[last], count[last], total[last])
        pending.buckets = buckets[last]
        self._pending.append(pending)
        if continuing.all():  # the steady state
            return ExplicitDeltas(latest, counted, buckets - prev, count - prev_count, total - prev_total)
        delta = np.where(continuing[:, None], buckets - prev, buckets)
        return ExplicitDeltas(
            latest,
            counted,
            delta,
            np.where(continuing, count - prev_count, count),
            np.where(continuing, total - prev_total, total),
        )

    # -- exponential buckets ------------------------------------------------------------------------------------
    def exponential(self, key: Hashable, start: int, point: ExponentialCounts) -> ExponentialCounts | None:
        """The delta of one cumulative exponential point; None for a baseline."""
        known = self._where.get(key)
        self._pending_exponential.append((key, _Exponential(start, point)))
        if not isinstance(known, _Exponential):
            return point if start > 0 and self.started_ns <= start else None
        last = known.last
        if start != known.start or point.count < last.count or point.scale > last.scale:
            return point  # a reset (the SDK only ever lowers the scale of a running stream)
        last = last.at_scale(point.scale)
        low = min(point.offset, last.offset)
        size = max(point.offset + point.counts.size, last.offset + last.counts.size) - low
        cur, old = _spread(point, low, size), _spread(last, low, size)  # the SDK sends zeros at either end
        if (old > cur).any() or point.zero < last.zero:
            return point
        zero, count, total = point.zero - last.zero, point.count - last.count, point.total - last.total
        return ExponentialCounts(point.scale, zero, low, cur - old, count, total)

    def exponential_many(
        self, keys: Sequence[Hashable], start: IntArray, time: IntArray, points: ExponentialPoints
    ) -> tuple[BoolArray, BoolArray, ExponentialPoints]:
        """Deltas of cumulative exponential points: (latest, counted, the deltas; a point not counted has
        no counts there). A stream whose last point has its start (and a scale no coarser) is converted for
        the whole batch at once, its last counts merged to the new scale where the SDK lowered it; any other
        (a new stream, a reset) goes through `exponential`."""
        n = len(keys)
        latest = _latest(keys, time)
        first = np.cumsum(points.lengths) - points.lengths
        known = [self._where.get(k) for k in keys]
        fast = latest & np.fromiter(
            (
                isinstance(s, _Exponential) and s.start == t and s.last.scale >= c
                for s, t, c in zip(known, start.tolist(), points.scale.tolist(), strict=True)
            ),
            dtype=bool,
            count=n,
        )
        delta = points.counts.copy()
        zero, count, total = points.zero.copy(), points.count.copy(), points.total.copy()
        at = np.flatnonzero(fast)
        if at.size:
            last = [known[i].last for i in at.tolist()]  # type: ignore[union-attr]
            size = np.fromiter((x.counts.size for x in last), dtype=np.int64, count=at.size)
            owner = np.repeat(at, size)
            within = np.arange(int(size.sum())) - np.repeat(np.cumsum(size) - size, size)
            offset = np.repeat(np.fromiter((x.offset for x in last), dtype=np.int64, count=at.size), size)
            coarser = np.repeat(np.fromiter((x.scale for x in last), dtype=np.int64, count=at.size), size)
            coarser -= points.scale[owner]  # the SDK only lowers a running stream's scale: merge 2**k buckets
            position = ((offset + within) >> coarser) - points.offset[owner]  # in the new point's buckets
            before = np.concatenate([x.counts for x in last]) if last else np.zeros(0, dtype=np.int64)
            inside = (position >= 0) & (position < points.lengths[owner])
            np.subtract.at(delta, first[owner[inside]] + position[inside], before[inside])
            fallback = np.zeros(n, dtype=bool)
            fallback[owner[~inside & (before > 0)]] = True  # counts where the new point has no bucket
            zero[at] -= np.fromiter((x.zero for x in last), dtype=np.int64, count=at.size)
            count[at] -= np.fromiter((x.count for x in last), dtype=np.int64, count=at.size)
            total[at] -= np.fromiter((x.total for x in last), dtype=np.float64, count=at.size)
            dropped = np.bincount(np.repeat(np.arange(n), points.lengths), weights=delta < 0, minlength=n) > 0
            fast &= ~(fallback | dropped | (zero < 0) | (count < 0))  # a reset, or counts that moved: one by one
        counted = fast.copy()
        lengths = np.where(fast, points.lengths, 0)
        scale, offset = points.scale.copy(), points.offset.copy()
        pending, cumulative = self._pending_exponential, points.counts
        for i, at_first, size, started in zip(
            np.flatnonzero(fast).tolist(),
            first[fast].tolist(),
            points.lengths[fast].tolist(),
            start[fast].tolist(),
            strict=True,
        ):
            state = ExponentialCounts(
                int(scale[i]),
                int(points.zero[i]),
                int(offset[i]),
                cumulative[at_first : at_first + size].copy(),  # its own copy: a view would pin the whole batch
                int(points.count[i]),
                float(points.total[i]),
            )
            pending.append((keys[i], _Exponential(started, state)))
        flat = delta[np.repeat(fast, points.lengths)]
        others = np.flatnonzero(latest & ~fast)  # new streams, resets: one at a time, spliced in their places
        if others.size:
            parts = [delta[first[i] : first[i] + lengths[i]] for i in range(n)]
            for i in others.tolist():
                one = self.exponential(keys[i], int(start[i]), points.point(i, int(first[i])))
                if one is None:
                    continue
                counted[i] = True
                scale[i], zero[i], offset[i], count[i], total[i] = one.scale, one.zero, one.offset, one.count, one.total
                parts[i], lengths[i] = one.counts, one.counts.size
            flat = np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)
        return latest, counted, ExponentialPoints(scale, zero, offset, flat, lengths, count, total)

    # -- state ----------------------------------------------------------------------------------------------------
    def commit(self) -> None:
        """Remember the points converted since the last commit or discard (their request was admitted)."""
        where = self._where
        self._commits += 1
        for p in self._pending:
            table, slot = p.table, p.slot.copy()
            for i in np.flatnonzero(slot < 0).tolist():  # new, or moved from other bounds
                key = p.keys[i]
                self._free(key)
                slot[i] = table.allocate(key)
                where[key] = table
            table.start[slot], table.count[slot], table.total[slot] = p.start, p.count, p.total
            table.counts[slot], table.seen[slot] = p.buckets, self._commits
        for key, exponential in self._pending_exponential:
            self._free(key)
            exponential.seen = self._commits
            where[key] = exponential
        self.discard()
        if len(where) > self.max_streams:
            self._evict(len(where) - self.max_streams)

    def _evict(self, excess: int) -> None:
        """Forget the `excess` streams seen least recently (by the commit that last wrote them)."""
        seen: list[IntArray] = []
        keys: list[Hashable] = []
        for table in self._tables.values():
            used = np.flatnonzero(table.seen >= 0)
            seen.append(table.seen[used])
            keys.extend(table.keys[i] for i in used.tolist())
        exponential = [(k, v.seen) for k, v in self._where.items() if isinstance(v, _Exponential)]
        seen.append(np.array([s for _, s in exponential], dtype=np.int64))
        keys.extend(k for k, _ in exponential)
        for i in np.argsort(np.concatenate(seen), kind="stable")[:excess].tolist():
            self._free(keys[i])
            self.evicted += 1
        # a forgotten stream seen again must be a baseline, not counted whole a second time: from now on
        # only streams that start later count whole when first seen
        self.started_ns = max(self.started_ns, time.time_ns())

    def discard(self) -> None:
        """Forget the points converted since the last commit (their request was refused)."""
        self._pending.clear()
        self._pending_exponential.clear()

    def _free(self, key: Hashable) -> None:
        """Give up the stream's row, if it has one (it moves to other bounds, or to an exponential)."""
        old = self._where.pop(key, None)
        if isinstance(old, _Table):
            old.release(key)


def _latest(keys: Sequence[Hashable], time: IntArray) -> BoolArray:
    """True for each stream's latest point (the last of equal times)."""
    latest = np.ones(len(keys), dtype=bool)
    if len(set(keys)) == len(keys):
        return latest
    best: dict[Hashable, int] = {}
    for i, key in enumerate(keys):
        j = best.get(key)
        if j is None or time[i] >= time[j]:
            if j is not None:
                latest[j] = False
            best[key] = i
        else:
            latest[i] = False
    return latest


def _spread(point: ExponentialCounts, low: int, size: int) -> IntArray:
    """The point's counts laid out over `size` buckets from bucket index `low`."""
    shift = point.offset - low
    out = np.zeros(size, dtype=np.int64)
    out[shift : shift + point.counts.size] = point.counts
    return out
