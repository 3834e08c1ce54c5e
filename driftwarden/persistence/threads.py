"""Where each Slack alert group's thread started (the `ts` of its first post), kept across restarts:
a group that fired before a restart gets its later notifications and its resolution in the same
thread after it.

One small JSON document (`threads`: receiver -> group key -> {ts, at}) in the documents table,
written at each change. A thread is forgotten when its group resolves; at most MAX_THREADS are
kept (the oldest go first), so groups that never resolve (a receiver removed from a route, say)
cannot grow it without bound. While the state file refuses writes the threads are kept in memory
and written with the next change; a reply then may start a new thread after a restart, never fail.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from typing import Any

from driftwarden.core.errors import StorageError
from driftwarden.persistence.store import Store

__all__ = ["MAX_THREADS", "ThreadTimestamps"]

DOCUMENT = "threads"
MAX_THREADS = 10_000


class ThreadTimestamps:
    def __init__(self, store: Store, *, clock: Callable[[], float] = time.time) -> None:
        self._store = store
        self._clock = clock
        self._threads: dict[str, dict[str, dict[str, Any]]] = {}
        saved = store.load_document(DOCUMENT, {})
        for receiver, threads in (saved if isinstance(saved, dict) else {}).items():
            if not isinstance(threads, dict):
                store.database.skip("document", f"{DOCUMENT}.{receiver}", "not a mapping of threads")
                continue
            for key, thread in threads.items():
                if isinstance(thread, dict) and isinstance(thread.get("ts"), str):
                    at = thread.get("at")
                    at = float(at) if isinstance(at, int | float) else 0.0
                    self._threads.setdefault(receiver, {})[key] = {"ts": thread["ts"], "at": at}
                else:
                    store.database.skip("document", f"{DOCUMENT}.{receiver}.{key}", "a thread without its ts")

    def get(self, receiver: str, key: str) -> str | None:
        thread = self._threads.get(receiver, {}).get(key)
        return thread["ts"] if thread else None

    def put(self, receiver: str, key: str, ts: str) -> None:
        self._threads.setdefault(receiver, {})[key] = {"ts": ts, "at": self._clock()}
        self._forget_oldest()
        self._save()

    def drop(self, receiver: str, key: str) -> None:
        if self._threads.get(receiver, {}).pop(key, None) is not None:
            self._save()

    def count(self) -> int:
        return sum(len(threads) for threads in self._threads.values())

    def _forget_oldest(self) -> None:
        extra = self.count() - MAX_THREADS
        if extra <= 0:
            return
        every = sorted((t["at"], r, k) for r, threads in self._threads.items() for k, t in threads.items())
        for _, receiver, key in every[:extra]:
            del self._threads[receiver][key]

    def _save(self) -> None:
        with contextlib.suppress(StorageError):  # logged and counted by the database; saved with the next change
            self._store.save_document(DOCUMENT, self._threads)
