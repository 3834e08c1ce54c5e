"""The daemon's side of the audit trail: the config it starts with, and retention pruning (`audit.retention`)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable

from driftwarden.config import Config
from driftwarden.core.errors import StorageError
from driftwarden.persistence.audit import AuditStore

__all__ = ["PRUNE_EVERY", "AuditTrail"]

PRUNE_EVERY = 3600.0  # seconds between two prunings


class AuditTrail:
    def __init__(self, config: Config, audit: AuditStore, clock: Callable[[], float]) -> None:
        self.config = config
        self.audit = audit
        self._clock = clock

    async def start(self) -> None:
        """A first pruning, then the config's entry when it changed since the last start. A state file that
        refuses the writes (logged and counted by the database) does not stop the daemon from starting."""
        await self.prune()
        state = self.config.model_dump(mode="json")
        with contextlib.suppress(StorageError):
            await asyncio.to_thread(self.audit.record_config, state)

    async def prune(self) -> None:
        with contextlib.suppress(StorageError):
            await asyncio.to_thread(self.audit.prune, self._clock() - self.config.audit.retention)

    async def prune_forever(self, every: float = PRUNE_EVERY) -> None:
        while True:
            await asyncio.sleep(every)
            await self.prune()
