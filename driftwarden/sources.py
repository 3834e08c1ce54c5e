"""Following files of prediction records (`sources: [{file: ...}]`), one task per file.

Offsets are committed only after the records were admitted, and saved in the same SQLite
transaction as the window checkpoint that holds their rows: after a kill -9 the windows resume
from the checkpoint and the file from the offset of exactly those rows, so no line is lost or
counted twice; see `collector/tail.py`.
"""

from __future__ import annotations

import asyncio
import logging

from driftwarden.collector.tail import FileTail
from driftwarden.config import FileSource
from driftwarden.persistence.store import Store
from driftwarden.pipeline import Pipeline, QueueFull

__all__ = ["follow"]

log = logging.getLogger("driftwarden.sources")


async def follow(pipeline: Pipeline, store: Store, source: FileSource) -> None:
    key = f"tail:{source.file}"
    tail = FileTail(
        source.file,
        load_offset=lambda: store.load_document(key),
        save_offset=lambda state: pipeline.stage_document(key, state),  # saved with the windows holding its rows
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
            tail.commit()  # at once, with no await since admit(): a checkpoint sees both or neither
            for reason, count in result.rejected_by_reason.items():
                pipeline.instruments.records_rejected.labels("file", reason).inc(count)
    finally:
        tail.close()
