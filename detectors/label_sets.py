"""The label sets of one metric family, at most a fixed number of them.

Per-label caps (`LabelFolder`) do not bound a family: the label values multiply (services x
models x operations x ...). A family therefore also keeps at most `limit` distinct label sets;
once it holds `limit - 1`, any new one is folded into the overflow set, whose labels are all
"other" (the value the per-label cap folds to), and the observation is counted in `folded`.
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["FOLDED", "LabelSets", "SeriesCounter"]

FOLDED = "other"  # a metric label value beyond its cap; not a feature category (those pool as "__other__")


class LabelSets:
    """Label set -> dense index (0, 1, 2, ... in order of arrival), at most `limit` of them.

    >>> sets = LabelSets(2, limit=3)
    >>> [sets.index(k) for k in [("a", "x"), ("b", "x"), ("c", "x"), ("a", "x"), ("d", "y")]]
    [0, 1, 2, 0, 2]
    >>> sets.keys, sets.folded
    ([('a', 'x'), ('b', 'x'), ('other', 'other')], 2)
    """

    def __init__(self, arity: int, limit: int) -> None:
        if limit < 2:
            raise ValueError("a family needs room for one label set and the overflow set")
        self.limit = limit
        self.overflow: tuple[str, ...] = (FOLDED,) * arity
        self.keys: list[tuple[str, ...]] = []  # index -> label set; only ever appended to
        self._index: dict[tuple[str, ...], int] = {}
        self.folded = 0  # observations folded into the overflow set

    def __len__(self) -> int:
        return len(self.keys)

    def indices(self, keys: Sequence[tuple[str, ...]]) -> list[int]:
        """`index` of each key (one C-level pass when every key has been seen)."""
        found = list(map(self._index.get, keys))
        if None in found:
            return [self.index(k) if i is None else i for k, i in zip(keys, found, strict=True)]
        return found  # type: ignore[return-value]

    def index(self, key: tuple[str, ...]) -> int:
        i = self._index.get(key)
        if i is not None:
            return i
        if len(self.keys) >= self.limit - 1 and key != self.overflow:
            self.folded += 1
            return self.index(self.overflow)  # the overflow set always has room: it is the last one
        i = self._index[key] = len(self.keys)
        self.keys.append(key)
        return i


class SeriesCounter:
    """A counter per label set, with the family's label sets capped as `LabelSets` does.

    >>> tokens = SeriesCounter(1, limit=2)
    >>> for key, n in [(("a",), 5), (("b",), 1), (("a",), 2), (("c",), 3)]:
    ...     tokens.add(key, n)
    >>> tokens.items(), tokens.folded
    ([(('a',), 7.0), (('other',), 4.0)], 2)
    """

    def __init__(self, arity: int, limit: int) -> None:
        self.sets = LabelSets(arity, limit)
        self._values: list[float] = []

    @property
    def folded(self) -> int:
        return self.sets.folded

    def add(self, key: tuple[str, ...], amount: float) -> None:
        i = self.sets.index(key)
        if i == len(self._values):
            self._values.append(0.0)
        self._values[i] += amount

    def items(self) -> list[tuple[tuple[str, ...], float]]:
        """(label set, value) pairs, a copy."""
        return list(zip(self.sets.keys, self._values, strict=True))
