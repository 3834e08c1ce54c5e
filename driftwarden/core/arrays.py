"""The numpy array types passed between the layers, named once.

Signatures say the element type (`FloatArray` is `npt.NDArray[np.float64]`); shapes, which numpy's
typing cannot yet express as (rows, features), stay in the comments and docstrings beside them.
"""

from __future__ import annotations

from typing import TypeAlias

import numpy as np
import numpy.typing as npt

__all__ = ["BoolArray", "ByteArray", "Float32Array", "FloatArray", "IntArray", "ObjectArray", "StrArray"]

FloatArray: TypeAlias = npt.NDArray[np.float64]  # values, NaN where missing
Float32Array: TypeAlias = npt.NDArray[np.float32]  # embeddings (vectors) and their random features
IntArray: TypeAlias = npt.NDArray[np.int64]  # counts, codes, row indices
BoolArray: TypeAlias = npt.NDArray[np.bool_]  # masks
ObjectArray: TypeAlias = npt.NDArray[np.object_]  # str or None: categories, request ids, labels
StrArray: TypeAlias = npt.NDArray[np.str_]  # fixed-width strings (numpy "<U")
ByteArray: TypeAlias = npt.NDArray[np.uint8]  # raw bytes: packed trace and span ids
