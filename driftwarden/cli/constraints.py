"""Constraints on the command line: `reference build --constraints OUT` writes the constraints a
reference passes, for a person to review and load back (`models.<m>.constraints_file`);
`check --constraints FILE` checks the current file against them (exit 1 on a violation)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import yaml
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from driftwarden.core.records import RecordBatch
from driftwarden.detectors.constraints import ConstraintMonitor, check, suggest
from driftwarden.detectors.reference import ReferenceProfile

__all__ = ["check_frame", "print_violations", "write_suggested"]

_HEADER = """\
# Data-quality constraints suggested by `driftwarden reference build --constraints` from {source}
# ({rows:,} rows, model {model}). Review them: ranges are the reference's 0.1% and 99.9% quantiles
# widened by a quarter of their distance (not below zero for a feature never negative, always holding
# every reference value); `allowed` lists every category the reference holds.
# Load them back with  models: {{{model}: {{constraints_file: {out}}}}}
"""


def write_suggested(
    out: Path,
    profile: ReferenceProfile,
    *,
    model: str,
    source: str,
    rows: int,
    missing: Mapping[str, float],
    kinds: Mapping[str, str],
) -> dict[str, Any]:
    """Write the constraints `profile` passes to `out` (YAML, with a header saying how to use it)."""
    suggested = suggest(profile, missing=missing, kinds=kinds)
    header = _HEADER.format(source=source, rows=rows, model=model, out=out)
    out.write_text(header + yaml.safe_dump(suggested, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return suggested


def frame_batch(frame: pl.DataFrame, model: str) -> RecordBatch:
    """The frame's columns as the daemon's records would hold them: numbers as float64 (NaN missing),
    strings and booleans as text (None missing); other types (dates, lists) left out."""
    numeric, text = [], []
    for name, dtype in frame.schema.items():
        if dtype.is_numeric():
            numeric.append(name)
        elif dtype in (pl.String, pl.Boolean, pl.Categorical, pl.Enum):
            text.append(name)
    values = frame.select(pl.col(numeric).cast(pl.Float64)).to_numpy() if numeric else np.empty((len(frame), 0))
    # booleans cast to "true"/"false", as JSON records spell them
    words = frame.select(pl.col(text).cast(pl.String)).to_numpy().astype(object) if text else None
    return RecordBatch(model, tuple(numeric), np.asarray(values, dtype=np.float64), None, tuple(text), words)


def check_frame(
    monitor: ConstraintMonitor, frame: pl.DataFrame, hidden: set[str], known: set[str]
) -> list[dict[str, Any]]:
    """The frame's violations, as the drift report lists them (examples of `hidden` columns redacted;
    `known` columns, redacted or ignored, never undeclared)."""
    monitor.add(check(monitor.rules, frame_batch(frame, monitor.model), hidden=hidden, known=known))
    return monitor.summary()


def print_violations(console: Console, rows: list[dict[str, Any]]) -> None:
    if not rows:
        console.print("constraints: no violations", markup=False)
        return
    table = Table(title="data-quality constraints")
    for col in ("feature", "constraint", "violated", "violations", "share", "allowed", "expected", "examples"):
        table.add_column(col, overflow="fold", justify="right" if col in ("violations", "share", "allowed") else "left")
    for r in sorted(rows, key=lambda r: (not r["violated"], -r["share"])):
        table.add_row(
            escape(r["feature"]),
            r["constraint"],
            "[red]yes[/]" if r["violated"] else "no",
            f"{r['violations']:,} / {r['rows']:,}",
            f"{r['share']:.2%}",
            f"{r['threshold']:.2%}",
            escape(r["expected"]),
            escape(", ".join(r["examples"])),
        )
    console.print(table)
