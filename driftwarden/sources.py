"""Following files of prediction records (`sources: [{file: ...}]`), one task per file.

Offsets are committed only after the records were admitted, so a full queue or a crash makes
the same lines come back rather than skipping any; see `collector/tail.py`.
"""

from __future__ import annotations

import asyncio
import logging

from collector.tail import FileTail
from driftwarden.config import FileSource
from driftwarden.pipeline import Pipeline, QueueFull
from driftwarden.store import Store

__all__ = ["follow"]

log = logging.getLogger("driftwarden.sources")


async def follow(pipeline: Pipeline, store: Store, source: FileSource) -> None:
    key = f"tail:{source.file}"
    tail = FileTail(
        source.file,
        load_offset=lambda: store.load_document(key),
        save_offset=lambda state: store.save_document(key, state),
    )
    try:
        while True:
            result = await asyncio.to_thread(tail.read_new)
            if result is None:
                await asyncio.sleep(source.poll_interval)
                continue
            try:
                pipeline.admit(result, source="file")
            except QueueFull:
                await asyncio.sleep(source.poll_interval)  # not committed: the same lines come back
                continue
            for reason, count in result.rejected_by_reason.items():
                pipeline.instruments.records_rejected.labels("file", reason).inc(count)
            await asyncio.to_thread(tail.commit)
    finally:
        tail.close()
