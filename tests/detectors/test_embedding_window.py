"""The embedding window's ring and its checkpoint: the last `capacity` vectors, oldest first, back as they were."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from driftwarden.detectors.embedding import EmbeddingWindow


@settings(max_examples=100, deadline=None)
@given(st.lists(st.integers(0, 40), max_size=8), st.integers(1, 30), st.integers(1, 30))
def test_a_checkpoint_restores_the_last_vectors_oldest_first(blocks: list[int], capacity: int, later: int) -> None:
    rng = np.random.default_rng(len(blocks) + capacity)
    window = EmbeddingWindow(3, capacity)
    sent = []
    for rows in blocks:
        block = rng.normal(size=(rows, 3)).astype(np.float32)
        window.append(block)
        sent.append(block)
    every = np.concatenate(sent) if sent else np.empty((0, 3), dtype=np.float32)
    np.testing.assert_array_equal(window.ordered(), every[len(every) - min(len(every), capacity) :])
    restored = EmbeddingWindow(3, later)  # the window's size may have changed since: the last `later` rows
    restored.restore(window.to_bytes())
    np.testing.assert_array_equal(restored.ordered(), every[len(every) - min(len(every), capacity, later) :])
    assert restored.total_rows == len(every)


def test_a_checkpoint_of_another_dim_or_a_damaged_one_is_refused() -> None:
    window = EmbeddingWindow(4, 10)
    window.append(np.ones((5, 4), dtype=np.float32))
    blob = window.to_bytes()
    with pytest.raises(ValueError, match="saved with dim 4"):
        EmbeddingWindow(8, 10).restore(blob)
    with pytest.raises(ValueError, match="announced"):
        EmbeddingWindow(4, 10).restore(blob[:-4])
    with pytest.raises(ValueError, match="not an embedding window checkpoint"):
        EmbeddingWindow(4, 10).restore(b"x" * len(blob))
