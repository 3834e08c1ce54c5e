"""Logging that cannot flood: one line per key per interval, with how many were folded into it."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

__all__ = ["RateLimitedLog"]


class RateLimitedLog:
    """`note(key, message)` logs the first occurrence at once, then at most one line per
    `interval` seconds per key, saying how many occurrences it stands for.

    >>> clock = iter([0.0, 1.0, 2.0, 61.0]).__next__
    >>> lines = []
    >>> log = RateLimitedLog(logging.getLogger("t"), interval=60, clock=clock, emit=lines.append)
    >>> for _ in range(4):
    ...     log.note("http:bad_json", "rejected records: bad_json")
    >>> lines
    ['rejected records: bad_json', 'rejected records: bad_json (3 times in the last 61s)']
    """

    def __init__(
        self,
        logger: logging.Logger,
        *,
        interval: float = 60.0,
        level: int = logging.WARNING,
        clock: Callable[[], float] = time.monotonic,
        emit: Callable[[str], None] | None = None,
    ) -> None:
        self.interval = interval
        self._clock = clock
        self._emit = emit or (lambda line: logger.log(level, "%s", line))
        self._lock = threading.Lock()
        self._last: dict[str, float] = {}
        self._folded: dict[str, int] = {}

    def note(self, key: str, message: str, count: int = 1) -> None:
        now = self._clock()
        with self._lock:
            last = self._last.get(key)
            if last is not None and now - last < self.interval:
                self._folded[key] = self._folded.get(key, 0) + count
                return
            folded = self._folded.pop(key, 0) + (count if last is not None else 0)
            self._last[key] = now
        if last is None or not folded:
            self._emit(message)
        else:
            self._emit(f"{message} ({folded} times in the last {now - last:.0f}s)")
