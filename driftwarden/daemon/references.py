"""Fitting reference profiles from files or uploaded bodies (the daemon and the CLI share it).

A file is scanned (`collector.tables.scan_table`): counts over every row, numeric values from a
uniform sample of `limits.max_reference_rows` rows, so a file larger than memory can be fitted.
An uploaded body is already in memory and is read whole (`read_table`): one with more rows than
that limit, or a decoded size beyond `limits.max_reference_bytes`, is refused from its header or
Parquet footer before its rows are read. Both decide kinds the same way (`column_kinds`) and hold
a reference to the rules of records: at most `limits.max_features` columns (those in `redact`
are not read), named in 1-128 characters.

A model with `estimate`, `segments` or `drift.multivariate` keeps a uniform sample of the reference's rows whole in its
profile (`ReferenceProfile.sample`, at most `estimate.max_rows` rows and SAMPLE_VALUES values); its
`estimate.label` column is kept there and left out of the drift profile.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import polars as pl

from driftwarden.collector.embeddings import read_vectors
from driftwarden.collector.tables import TableError, TableLimits, read_frame, sample_frame, scan_table, table_from_frame
from driftwarden.config import Config, ConfigError, ModelSettings
from driftwarden.core.records import RECORD_LABELS
from driftwarden.detectors.embedding import REFERENCE_ROWS
from driftwarden.detectors.reference import ReferenceProfile

if TYPE_CHECKING:
    from driftwarden.daemon.daemon import Daemon  # `reference build` need not import the daemon

__all__ = ["BuiltReference", "build_reference", "build_steps", "fit_configured_references", "fit_reference"]

log = logging.getLogger("driftwarden.daemon.references")

SAMPLE_VALUES = 4_000_000  # values (rows x columns) of the rows a profile keeps whole: 32 MB as float64
DEFAULT_SAMPLE_ROWS = 100_000  # rows kept whole for segments when there is no estimate (estimate.max_rows)
MULTIVARIATE_SAMPLE_ROWS = 20_000  # rows kept whole for drift.multivariate alone (its PCA and classifier)


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
    settings = config.model(model)
    dims = {name: e.dim for name, e in settings.embeddings.items()}
    vectors = read_vectors(source, dims, max_rows=REFERENCE_ROWS) if dims and fmt == "parquet" else {}
    frame = read_frame(
        source,
        fmt,
        kinds=settings.features,
        limits=TableLimits(limits.max_features, limits.max_reference_rows, limits.max_reference_bytes),
        drop=set(config.redact) | settings.ignored_features | set(dims),
    )
    table = table_from_frame(frame.drop(_outside_drift(settings), strict=False), settings.features)
    profile = ReferenceProfile.fit(
        list(table.numeric), table.values, categories=table.categories, bins=settings.drift.bins
    )
    if vectors:
        profile = dataclasses.replace(profile, embeddings=vectors)
    if not _keeps_sample(settings):
        return profile
    size = _sample_rows(settings, frame.width)
    if size < frame.height:
        frame = frame[np.sort(np.random.default_rng(0).choice(frame.height, size, replace=False))]
    return dataclasses.replace(profile, sample=frame)


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
    settings = config.model(model)
    table = scan_table(
        path,
        fmt,
        kinds=settings.features,
        sample=min(sample or limit, limit),
        drop=set(config.redact) | settings.ignored_features | set(_outside_drift(settings)) | set(settings.embeddings),
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
    profile = dataclasses.replace(profile, category_rows=table.rows)
    dims = {name: e.dim for name, e in settings.embeddings.items()}
    if dims and (fmt or path.suffix.lstrip(".")) == "parquet":
        profile = dataclasses.replace(
            profile, embeddings=read_vectors(path.read_bytes(), dims, max_rows=REFERENCE_ROWS)
        )
    if _keeps_sample(settings):
        columns = {*table.numeric, *table.categories, *_outside_drift(settings)}
        size = _sample_rows(settings, len(columns))
        if on_step:
            on_step(
                f"keeping {min(size, table.rows):,} rows whole for estimated quality, segments and multivariate drift"
            )
        kept: pl.DataFrame = sample_frame(path, fmt, columns=columns, size=size)
        profile = dataclasses.replace(profile, sample=kept)
    return BuiltReference(profile, rows=table.rows, nulls=table.nulls)


def build_steps(settings: ModelSettings) -> int:
    """How many times build_reference calls on_step: schema, counts, sample, fit, and the kept rows."""
    return 4 + _keeps_sample(settings)


def _keeps_sample(settings: ModelSettings) -> bool:
    return settings.estimate is not None or bool(settings.segments) or bool(settings.drift.multivariate)


def _outside_drift(settings: ModelSettings) -> list[str]:
    """Reference columns kept for estimation and segments only, never compared for drift: the label, and the
    segment columns that are record labels (`labels.app_version`)."""
    label = [settings.estimate.label] if settings.estimate is not None else []
    return label + [column for column in settings.segments if column.startswith(RECORD_LABELS)]


def _sample_rows(settings: ModelSettings, columns: int) -> int:
    if settings.estimate is not None:
        rows = settings.estimate.max_rows
    else:
        rows = DEFAULT_SAMPLE_ROWS if settings.segments else MULTIVARIATE_SAMPLE_ROWS
    return max(1, min(rows, SAMPLE_VALUES // max(1, columns)))


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
