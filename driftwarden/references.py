"""Fitting reference profiles from files or uploaded bodies (the daemon and the CLI share it)."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

from collector.tables import TableError, read_table
from detectors.reference import ReferenceProfile
from driftwarden.config import Config, ConfigError
from driftwarden.pipeline import Pipeline

__all__ = ["fit_configured_references", "fit_reference"]

log = logging.getLogger("driftwarden.references")


def fit_reference(source: bytes | Path, fmt: str | None, config: Config, model: str) -> ReferenceProfile:
    """Read CSV/Parquet/NDJSON and fit the model's profile; raises TableError or ValueError with a reason."""
    table = read_table(source, fmt, kinds=config.model(model).features)
    keep = [j for j, name in enumerate(table.numeric) if name not in config.redact]
    return ReferenceProfile.fit(
        [table.numeric[j] for j in keep],
        table.values[:, keep],
        categories={k: v for k, v in table.categories.items() if k not in config.redact},
        bins=config.model(model).drift.bins,
        max_rows=config.limits.max_reference_rows,
    )


async def fit_configured_references(config: Config, pipeline: Pipeline) -> None:
    """Fit every `models.<name>.reference` file at start; a bad file is a config error naming its key."""
    for model, settings in config.models.items():
        if settings.reference is None:
            continue
        path = Path(settings.reference)
        try:
            profile = await asyncio.to_thread(fit_reference, path, None, config, model)
        except (TableError, ValueError) as exc:
            raise ConfigError([f"models.{model}.reference: {path}: {exc}"]) from exc
        await pipeline.set_reference(model, profile, source=f"file:{path}")
        log.info("reference for %s fitted from %s: %d rows", model, path, profile.rows)
