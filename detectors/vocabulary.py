"""Categorical values of a model's window as small integer codes.

The window is one float ring buffer; a categorical feature's column holds codes into
this vocabulary (NaN when missing), so categorical rows slide out with the numeric
ones and are checkpointed with them. Codes are assigned in order of first sight and
never reused; past `max_categories` distinct values a feature's further new values
share one code, `OTHER`, so a feature with unbounded cardinality (an id sent as a
feature) cannot grow memory.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Sequence
from itertools import repeat

import numpy as np
import polars as pl

from driftwarden.core.arrays import FloatArray, ObjectArray
from driftwarden.core.text_columns import TextColumn

__all__ = ["OTHER", "Vocabulary"]

OTHER = "__other__"
_MISSING = -1.0  # lookup results before they become NaN
_NEW = -2.0  # not in the vocabulary yet


class Vocabulary:
    """Per feature, category → code.

    >>> v = Vocabulary(max_categories=2)
    >>> v.encode("c", np.array(["a", "b", None, "a", "z"], dtype=object)).tolist()
    [0.0, 1.0, nan, 0.0, 2.0]
    >>> v.counts("c", np.array([0.0, 0.0, 2.0, np.nan]))
    {'a': 2, '__other__': 1}
    """

    def __init__(self, max_categories: int = 1000) -> None:
        self.max_categories = max_categories
        self._codes: dict[str, dict[str, int]] = {}
        self._enums: dict[str, tuple[int, pl.Enum]] = {}  # feature -> (categories, the Enum of them)
        self._lock = threading.Lock()

    def __contains__(self, feature: str) -> bool:
        return feature in self._codes

    def encode(self, feature: str, values: ObjectArray) -> FloatArray:
        """Codes (float64, NaN for None) of a 1-D object array of str/None; new values get new codes.

        Vectorized: the column becomes one Arrow string array (polars) and its codes come from one
        hash lookup of every value in the feature's categories (a cast to a polars `Enum` of them, kept
        until a category is added), no Python call per value; only a batch that brings new categories
        takes a second pass. A column holding other objects than str and None takes `_encode_objects`.
        """
        with self._lock:
            codes = self._codes.setdefault(feature, {})
            try:
                strings = pl.Series(values, dtype=pl.String)
            except (TypeError, ValueError, pl.exceptions.PolarsError):
                return self._encode_objects(codes, values)
            out = self._lookup(feature, codes, strings)
            new = np.isnan(out)
            if new.any():  # None, or a value not seen before
                new &= strings.is_not_null().to_numpy()
            if new.any():
                self._add(codes, set(strings.filter(pl.Series(new)).to_list()))
                out = self._lookup(feature, codes, strings)
                other = float(codes.get(OTHER, np.nan))  # past max_categories, a new value is OTHER
                new[new] = np.isnan(out[new])
                out[new] = other
        return out

    def encode_column(self, feature: str, column: TextColumn) -> FloatArray:
        """`encode` of a column the parser dictionary-encoded: its distinct values looked up (new ones
        added), then each row's code taken from them; no pass over the rows' strings."""
        if not all(isinstance(value, str) for value in column.values):
            return self.encode(feature, np.array([*column.values, None], dtype=object)[column.codes])
        with self._lock:
            codes = self._codes.setdefault(feature, {})
            fresh = set(column.values) - codes.keys()
            if fresh and not (OTHER in codes and len(codes) >= self.max_categories):  # else: all become OTHER
                present = column.counts()[1:] > 0
                if not present.all():  # values of rows dropped since the column was encoded
                    fresh &= set(itertools.compress(column.values, present.tolist()))
                self._add(codes, fresh)
            other = float(codes.get(OTHER, np.nan))
            lookup = np.fromiter(
                map(codes.get, column.values, repeat(other)), dtype=np.float64, count=len(column.values)
            )
        out: FloatArray = np.append(lookup, np.nan)[column.codes]  # code -1 (missing): the NaN at the end
        return out

    def _lookup(self, feature: str, codes: dict[str, int], strings: pl.Series) -> FloatArray:
        """Each value's code; NaN for None and for a value not among `codes` (one Enum cast)."""
        enum = self._enums.get(feature)
        if enum is None or enum[0] != len(codes):
            enum = self._enums[feature] = (len(codes), pl.Enum(list(codes)))  # codes are its categories' order
        physical = strings.cast(enum[1], strict=False).to_physical().cast(pl.Float64)
        out: FloatArray = physical.to_numpy(allow_copy=True, writable=True)
        return out

    def _encode_objects(self, codes: dict[str, int], values: ObjectArray) -> FloatArray:
        """`encode` of a column with objects other than str and None: one dict lookup per value."""
        lookup = codes | {None: _MISSING}
        out = np.fromiter(map(lookup.get, values, repeat(_NEW)), dtype=np.float64, count=len(values))
        if (out == _NEW).any():
            self._add(codes, set(values[out == _NEW].tolist()))
            lookup = codes | {None: _MISSING}
            other = codes.get(OTHER, _NEW)
            out = np.fromiter(map(lookup.get, values, repeat(other)), dtype=np.float64, count=len(values))
        out[out == _MISSING] = np.nan
        return out

    def _add(self, codes: dict[str, int], new: set[str]) -> None:
        for value in sorted(new):  # sorted: the same input gives the same codes
            if len(codes) < self.max_categories:
                codes[value] = len(codes)
            elif OTHER not in codes:
                codes[OTHER] = len(codes)

    def counts(self, feature: str, codes: FloatArray) -> dict[str, int]:
        """Category → count of a window column of codes (NaN missing): one bincount."""
        names = self.names(feature)
        present = codes[(codes >= 0) & (codes < len(names))].astype(np.int64)  # NaN compares False: missing
        tally = np.bincount(present, minlength=len(names))
        return {names[k]: int(n) for k, n in enumerate(tally) if n}

    def names(self, feature: str) -> list[str]:
        with self._lock:
            return list(self._codes.get(feature, {}))

    def to_dict(self) -> dict[str, list[str]]:
        """Checkpoint form: per feature, the categories in code order."""
        with self._lock:
            return {feature: list(codes) for feature, codes in self._codes.items()}

    def restore(self, saved: dict[str, Sequence[str]]) -> None:
        with self._lock:
            self._codes = {feature: {name: k for k, name in enumerate(names)} for feature, names in saved.items()}
            self._enums = {}
