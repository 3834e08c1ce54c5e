"""The two data frames a comparison takes, as polars frames: polars as it is, pandas converted.

pandas is never imported here: a pandas frame is recognised by its type's module, so `import
driftwarden` and a comparison of polars frames work without pandas installed. A pandas frame goes
through `pl.from_pandas` (which needs pyarrow for anything but plain numpy columns) or, without
pyarrow, column by column: numpy numbers and booleans as they are, any other column (strings,
categoricals, nullable integers) as Python values with every missing value (None, NaN, NA) null.
Its index is not a column.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import polars as pl

__all__ = ["as_polars"]


def as_polars(frame: object, side: str) -> pl.DataFrame:
    """`frame` (a polars DataFrame or LazyFrame, or a pandas DataFrame) as a polars DataFrame;
    TypeError naming `side` ("reference", "current") for anything else.

    >>> as_polars(pl.DataFrame({"a": [1, 2]}), "reference").columns
    ['a']
    >>> as_polars([1, 2], "current")
    Traceback (most recent call last):
    ...
    TypeError: current: expected a polars or pandas DataFrame, got list
    """
    if isinstance(frame, pl.DataFrame):
        return frame
    if isinstance(frame, pl.LazyFrame):
        return frame.collect()
    if type(frame).__module__.partition(".")[0] == "pandas" and hasattr(frame, "columns"):
        return _from_pandas(frame)
    raise TypeError(f"{side}: expected a polars or pandas DataFrame, got {type(frame).__name__}")


def _from_pandas(frame: Any) -> pl.DataFrame:
    if len(set(map(str, frame.columns))) != len(frame.columns):
        raise ValueError(f"column names repeat: {', '.join(map(str, frame.columns))}")
    try:
        return pl.from_pandas(frame, include_index=False)
    except ImportError:  # pyarrow is needed for anything but plain numpy columns
        return pl.DataFrame([_series(str(name), frame[name]) for name in frame.columns])


def _series(name: str, column: Any) -> pl.Series:
    dtype = column.dtype
    if isinstance(dtype, np.dtype) and dtype.kind in "biuf":
        return pl.Series(name, column.to_numpy())
    values = column.astype(object).where(column.notna(), None).tolist()  # NaN, NA, NaT -> None
    return pl.Series(name, values, strict=False)
