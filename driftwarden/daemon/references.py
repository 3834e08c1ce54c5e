"""Fitting reference profiles from files or uploaded bodies (the daemon and the CLI share it).

A file is scanned (`collector.tables.scan_table`): counts over every row, numeric values from a
uniform sample of `limits.max_reference_rows` rows, so a file larger than memory can be fitted.
An uploaded body is already in memory and is read whole (`read_table`): one with more rows than
that limit, or a decoded size beyond `limits.max_reference_bytes`, is refused from its header or
Parquet footer before its rows are read. Both decide kinds the same way (`column_kinds`) and hold
a reference to the rules of records: at most `limits.max_features` columns (those in `redact`
are not read), named in 1-128 characters.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from driftwarden.collector.tables import TableError, TableLimits, read_table, scan_table
from driftwarden.config import Config, ConfigError
from driftwarden.detectors.reference import ReferenceProfile

if TYPE_CHECKING:
    from driftwarden.daemon.daemon import Daemon  # `reference build` need not import the daemon

__all__ = ["BuiltReference", "build_reference", "fit_configured_references", "fit_reference"]

log = logging.getLogger("driftwarden.daemon.references")


@dataclass(frozen=True)
class BuiltReference:
    profile: ReferenceProfile
    rows: int  # every row of the file
    nulls: dict[str, int]  # feature -> missing values over every row


def fit_reference(
    source: bytes | Path,
    fmt: str | None,
    config: Config,
    model: str,
) -> ReferenceProfile:
    """Read CSV/Parquet/NDJSON and fit the model's profile; raises TableError or ValueError with a reason,
    TooManyFeatures or BodyTooLarge (a body over the limits, refused before its rows are read)."""
    if isinstance(source, Path):
        return build_reference(source, config, model, fmt=fmt).profile
    limits = config.limits
    table = read_table(
        source,
        fmt,
        kinds=config.model(model).features,
        limits=TableLimits(limits.max_features, limits.max_reference_rows, limits.max_reference_bytes),
        drop=set(config.redact) | config.model(model).ignored_features,
    )
    return ReferenceProfile.fit(
        list(table.numeric), table.values, categories=table.categories, bins=config.model(model).drift.bins
    )


def build_reference(
    path: Path,
    config: Config,
    model: str,
    *,
    fmt: str | None = None,
    sample: int | None = None,
    on_step: Callable[[str], None] | None = None,
) -> BuiltReference:
    """Fit from a file with bounded memory: numeric values from a uniform sample of `sample` rows
    (at most, and by default, `limits.max_reference_rows`), category counts and missing values
    over all rows. Raises TableError or ValueError with a reason.
    """
    limit = config.limits.max_reference_rows
    table = scan_table(
        path,
        fmt,
        kinds=config.model(model).features,
        sample=min(sample or limit, limit),
        drop=set(config.redact) | config.model(model).ignored_features,
        limits=TableLimits(config.limits.max_features),
        on_step=on_step,
    )
    if on_step:
        on_step(f"fitting {len(table.numeric)} numeric and {len(table.categories)} categorical features")
    profile = ReferenceProfile.fit(
        list(table.numeric),
        table.values,
        categories=table.categories,
        bins=config.model(model).drift.bins,
    )
    # the categories were counted over every row, not only over the sampled ones
    return BuiltReference(dataclasses.replace(profile, category_rows=table.rows), rows=table.rows, nulls=table.nulls)


async def fit_configured_references(config: Config, daemon: Daemon) -> None:
    """Fit every `models.<name>.reference` file at start; a bad file is a config error naming its key."""
    for model, settings in config.models.items():
        if settings.reference is None or settings.previous_as_reference:
            continue
        path = Path(settings.reference)
        try:
            profile = await asyncio.to_thread(fit_reference, path, None, config, model)
            await daemon.set_reference(model, profile, source=f"file:{path}")
        except (TableError, ValueError) as exc:  # ValueError: TooManyModels, TooManyFeatures too
            raise ConfigError([f"models.{model}.reference: {path}: {exc}"]) from exc
        log.info("reference for %s fitted from %s: %d rows", model, path, profile.rows)
