"""The vocabulary's encoding as it was before it was vectorized: one dict lookup per value. Tests hold the
vectorized `Vocabulary.encode` to it, code for code."""

from __future__ import annotations

from itertools import repeat

import numpy as np

from driftwarden.core.arrays import FloatArray, ObjectArray
from driftwarden.detectors.vocabulary import OTHER

__all__ = ["DictVocabulary"]


class DictVocabulary:
    """Per feature, category -> code, encoded a value at a time (new codes in sorted order, then OTHER)."""

    def __init__(self, max_categories: int = 1000) -> None:
        self.max_categories = max_categories
        self.codes: dict[str, dict[str, int]] = {}

    def encode(self, feature: str, values: ObjectArray) -> FloatArray:
        codes = self.codes.setdefault(feature, {})
        lookup = codes | {None: -1.0}
        out = np.fromiter(map(lookup.get, values, repeat(-2.0)), dtype=np.float64, count=len(values))
        if (out == -2.0).any():
            for value in sorted(set(values[out == -2.0].tolist())):
                if len(codes) < self.max_categories:
                    codes[value] = len(codes)
                elif OTHER not in codes:
                    codes[OTHER] = len(codes)
            lookup = codes | {None: -1.0}
            other = codes.get(OTHER, -2.0)
            out = np.fromiter(map(lookup.get, values, repeat(other)), dtype=np.float64, count=len(values))
        out[out == -1.0] = np.nan
        return out
