"""Rows applied while a restored reference's segments await their fit are held, the newest ones within
the bound `await_fit` sets (whole batches), and only then."""

from __future__ import annotations

import numpy as np

from driftwarden.core.records import RecordBatch
from driftwarden.daemon.estimation import ModelEstimation


def batch(rows: int, value: float) -> RecordBatch:
    return RecordBatch("m", ("x",), np.full((rows, 1), value))


def test_held_rows_are_the_newest_within_the_bound() -> None:
    estimation = ModelEstimation()
    estimation.await_fit(250)
    for k in range(10):
        estimation.update(batch(100, float(k)))
    held = [b.values[0, 0] for b in estimation.pending]
    assert held == [7.0, 8.0, 9.0] and estimation.pending_rows == 300  # whole batches: the last reaching 250


def test_nothing_is_held_unless_segments_await_their_fit() -> None:
    estimation = ModelEstimation()
    estimation.update(batch(100, 0.0))
    assert not estimation.pending and estimation.pending_rows == 0
