"""A batch's text (categorical) column dictionary-encoded once, for every consumer of the batch.

The parser builds it while it builds the column (`encode_text`); the constraint checks then look at
each distinct value once (allowed categories, a regex) and count through `counts()`, and the window's
vocabulary maps the distinct values to its codes and takes them, instead of each hashing the batch's
strings again.

>>> column = encode_text(["DE", None, "FR", "DE"])
>>> column.values, column.codes.tolist(), column.counts().tolist()
(('DE', 'FR'), [0, -1, 1, 0], [1, 2, 1])
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from driftwarden.core.arrays import BoolArray, IntArray

__all__ = ["TextColumn", "encode_text"]


@dataclass(frozen=True)
class TextColumn:
    """`codes[i]` is row i's position in `values` (its distinct values in order of first sight), -1 when
    missing. After `take`, `values` may hold values no row has any more: `counts()` says which do."""

    values: tuple[Any, ...]
    codes: IntArray

    def counts(self) -> IntArray:
        """Missing rows, then the rows of each of `values`: one bincount."""
        counted: IntArray = np.bincount(self.codes + 1, minlength=len(self.values) + 1)
        return counted

    def take(self, rows: BoolArray | IntArray) -> TextColumn:
        return TextColumn(self.values, self.codes[rows])


def encode_text(column: Sequence[Any]) -> TextColumn:
    """The column (str, or None when missing) as its distinct values and a code per row: two passes in C
    (the distinct values as dict keys, then one dict lookup a value)."""
    distinct = dict.fromkeys(column)
    distinct.pop(None, None)
    values = tuple(distinct)
    lookup: dict[Any, int] = {value: k for k, value in enumerate(values)}
    lookup[None] = -1
    codes: IntArray = np.fromiter(map(lookup.__getitem__, column), dtype=np.int64, count=len(column))
    return TextColumn(values, codes)
