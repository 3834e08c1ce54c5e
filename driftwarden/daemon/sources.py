"""Following files of prediction records (`sources: [{file: ...}]`), one task per file.

Offsets are committed only after the records were admitted, and saved in the same SQLite
transaction as the window checkpoint that holds their rows: after a kill -9 the windows resume
from the checkpoint and the file from the offset of exactly those rows, so no line is lost or
counted twice; see `collector/tail.py`.

A read holds no more than the queue can take, or the same lines would be read again forever: at
most `limits.max_queue_rows` lines, and half as many each time a read holds more values than
`limits.max_queue_values` (wide records), down to one line — a record larger than the queue on its
own is dropped and counted. Each admitted read lets the next one hold twice as many lines again.
"""

from __future__ import annotations

import asyncio
import logging

from driftwarden.collector.tail import FileTail
from driftwarden.config import FileSource
from driftwarden.core.errors import BodyTooLarge, Overloaded
from driftwarden.daemon.daemon import Daemon

__all__ = ["follow"]

log = logging.getLogger("driftwarden.daemon.sources")


async def follow(daemon: Daemon, source: FileSource) -> None:
    key = f"tail:{source.file}"
    tail = FileTail(
        source.file,
        load_offset=lambda: daemon.store.load_document(key),
        save_offset=lambda state: daemon.checkpointer.stage_document(key, state),  # saved with its rows' windows
    )
    most_lines = daemon.config.limits.max_queue_rows
    lines = most_lines
    try:
        while True:
            result = await asyncio.to_thread(tail.read_new, lines)
            if result is None:
                await asyncio.sleep(source.poll_interval)
                continue
            try:  # counts every rejected record, once
                daemon.ingest.admit(result, source="file", retry_on_overload=True)
            except BodyTooLarge:  # more values than the queue holds: the same lines again, fewer of them
                lines = max(1, lines // 2)
                continue
            except Overloaded:
                await asyncio.sleep(source.poll_interval)  # not committed: the same lines come back
                continue
            tail.commit()  # at once, with no await since admit(): a checkpoint sees both or neither
            lines = min(most_lines, lines * 2)
    finally:
        tail.close()
