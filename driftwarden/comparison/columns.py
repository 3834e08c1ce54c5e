"""Which columns of two frames are compared, and why each other one is not (the `schema` block).

A column is compared when both frames have it and it is not left out: excluded (`exclude`, or kind
`ignore`), named an ID (`id_columns`), or found ID-like. An ID-like column is a string or integer
column whose reference values are nearly all distinct (more than 95 % of at least 100 values): a
customer or request id is read as a category or a number that drifts by construction, and would
decide the verdict alone. A column given a kind, or asked for in `features`, is never taken for one.
Columns only one frame has, columns of a type no statistic reads (dates, lists) and columns with
numbers in the reference but text in the current data are reported, never compared.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field

import polars as pl

from driftwarden.collector.tables import IGNORE, TableError, column_kinds

__all__ = ["ID_LIKE_MIN_VALUES", "ID_LIKE_RATIO", "ColumnPlan", "Schema", "SchemaNote", "plan_columns"]

ID_LIKE_RATIO = 0.95  # distinct / non-missing reference values above which a column is ID-like
ID_LIKE_MIN_VALUES = 100  # fewer values than this say nothing about uniqueness


@dataclass(frozen=True)
class Schema:
    """What was not compared, by reason; `to_dict()` is the JSON's `schema` block."""

    missing_in_current: tuple[str, ...] = ()
    missing_in_reference: tuple[str, ...] = ()
    excluded: tuple[str, ...] = ()
    id_like: tuple[str, ...] = ()  # named with id_columns, or found (those in `distinct`)
    kind_mismatch: tuple[str, ...] = ()  # numbers in the reference, not in the current data
    unsupported: tuple[str, ...] = ()  # of a type no statistic reads (dates, lists, ...)
    distinct: Mapping[str, float] = field(default_factory=dict)  # found ID-like column -> its distinct share
    unknown: tuple[str, ...] = ()  # columns named (features, exclude, id columns) that neither frame has: a typo?

    def to_dict(self) -> dict[str, list[str]]:
        return {
            "missing_in_current": list(self.missing_in_current),
            "missing_in_reference": list(self.missing_in_reference),
            "excluded": list(self.excluded),
            "id_like": list(self.id_like),
            "kind_mismatch": list(self.kind_mismatch),
            "unsupported": list(self.unsupported),
        }

    @property
    def differences(self) -> tuple[str, ...]:
        """Columns the two sides disagree on (missing from one, or of another kind): what strictness refuses."""
        return (*self.missing_in_current, *self.missing_in_reference, *self.kind_mismatch)

    def notes(self) -> list[SchemaNote]:
        """One per column not compared for a reason the user did not give (the warnings)."""
        out = [
            SchemaNote(c, "in the reference, missing from the current data: not compared", True)
            for c in self.missing_in_current
        ]
        out += [
            SchemaNote(c, "in the current data, not in the reference: not compared", True)
            for c in self.missing_in_reference
        ]
        out += [
            SchemaNote(c, f"skipped as ID-like ({share:.0%} of its reference values are distinct)")
            for c, share in self.distinct.items()
        ]
        out += [
            SchemaNote(c, "numbers in the reference, not in the current data: not compared", True)
            for c in self.kind_mismatch
        ]
        out += [
            SchemaNote(c, "of a type drift is not computed for (use numbers or strings): not compared")
            for c in self.unsupported
        ]
        out += [SchemaNote(c, "named, but neither side has such a column") for c in self.unknown]
        return out


@dataclass(frozen=True)
class SchemaNote:
    """Why `column` was not compared; `difference`: the two sides disagree on it (what strictness refuses)."""

    column: str
    text: str
    difference: bool = False

    def __str__(self) -> str:
        return f"{self.column}: {self.text}"


@dataclass(frozen=True)
class ColumnPlan:
    compared: tuple[str, ...]  # in the reference's order
    kinds: dict[str, str]  # compared column -> numeric | categorical, decided on the reference
    schema: Schema


def plan_columns(
    reference: pl.DataFrame,
    current: pl.DataFrame,
    *,
    features: Sequence[str] | None = None,
    exclude: Collection[str] = (),
    id_columns: Collection[str] = (),
    kinds: Mapping[str, str] | None = None,
    skip_id_like: bool = True,
) -> ColumnPlan:
    """The columns to compare, their kinds and the `Schema` of the rest.

    >>> ref = pl.DataFrame({"id": range(200), "age": [30.0] * 200, "old": [1] * 200})
    >>> cur = pl.DataFrame({"id": range(200), "age": [31.0] * 200, "new": [1] * 200})
    >>> plan = plan_columns(ref, cur)
    >>> plan.compared, plan.kinds, plan.schema.to_dict()["id_like"], plan.schema.differences
    (('age',), {'age': 'numeric'}, ['id'], ('old', 'new'))
    """
    kinds = dict(kinds or {})
    wanted = list(features) if features is not None else list(dict.fromkeys([*reference.columns, *current.columns]))
    present = set(reference.columns) | set(current.columns)
    left_out = set(exclude) | {name for name, kind in kinds.items() if kind == IGNORE}
    excluded = [c for c in wanted if c in left_out and c in present]
    named_ids = [c for c in wanted if c in set(id_columns) and c in present and c not in left_out]
    unknown = [c for c in dict.fromkeys([*(features or ()), *exclude, *id_columns]) if c not in present]
    candidates = [c for c in wanted if c not in left_out and c not in named_ids]
    both = [c for c in candidates if c in reference.columns and c in current.columns]
    chosen = set(features or ())
    distinct = {
        c: share
        for c in both
        if skip_id_like
        and c not in kinds
        and c not in chosen
        and (share := _distinct_share(reference.get_column(c))) is not None
    }
    unsupported = [c for c in both if c not in distinct and c not in kinds and not _supported(reference.schema[c])]
    kept = [c for c in both if c not in distinct and c not in unsupported]
    decided = column_kinds(
        {c: reference.schema[c] for c in kept}, reference.height, kinds, lambda c: reference.get_column(c).n_unique()
    )
    mismatch = [c for c in kept if decided[c] == "numeric" and not _numbers(current.schema[c])]
    compared = tuple(c for c in kept if c not in mismatch)
    schema = Schema(
        missing_in_current=tuple(c for c in candidates if c in reference.columns and c not in current.columns),
        missing_in_reference=tuple(c for c in candidates if c in current.columns and c not in reference.columns),
        excluded=tuple(excluded),
        id_like=(*named_ids, *distinct),
        kind_mismatch=tuple(mismatch),
        unsupported=tuple(unsupported),
        distinct=distinct,
        unknown=tuple(unknown),
    )
    return ColumnPlan(compared=compared, kinds={c: decided[c] for c in compared}, schema=schema)


def _distinct_share(column: pl.Series) -> float | None:
    """The share of distinct values of a string or integer column when it is ID-like; None otherwise."""
    dtype = column.dtype
    if not (dtype.is_integer() or dtype in (pl.String, pl.Categorical)):
        return None
    values = column.drop_nulls()
    if values.len() < ID_LIKE_MIN_VALUES:
        return None
    share = values.n_unique() / values.len()
    return share if share > ID_LIKE_RATIO else None


def _supported(dtype: pl.DataType) -> bool:
    try:
        column_kinds({"c": dtype}, 0, None, lambda _: 0)
    except TableError:
        return False
    return True


def _numbers(dtype: pl.DataType) -> bool:
    return dtype.is_numeric() or dtype == pl.Null
