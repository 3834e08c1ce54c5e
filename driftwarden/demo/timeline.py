"""Events from several threads (the load, the evaluator, the receiver watcher), printed in the order
they happened.

Each event is stamped when it happens and printed once it is `hold` seconds old, after every event
stamped before it: a delivery seen by the watcher half a second late still comes out in its place.
An event that arrives later than that is printed with the latest stamp so far, so the stamps never go
back in time.

>>> from rich.console import Console
>>> console = Console(width=100, color_system=None)
>>> now = [10.0]
>>> t = Timeline(console, hold=1.0, clock=lambda: now[0])
>>> t.note("second", at=12.0); t.note("first", "  and its detail", at=11.0); now[0] = 14.0
>>> t.flush()
  [+1s] first
          and its detail
  [+2s] second
"""

from __future__ import annotations

import asyncio
import itertools
import threading
import time
from collections.abc import Callable

from rich.console import Console

__all__ = ["Timeline"]


class Timeline:
    def __init__(self, console: Console, *, hold: float = 1.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.console = console
        self.hold = hold
        self._clock = clock
        self.started = clock()
        self._pending: list[tuple[float, int, tuple[str, ...]]] = []
        self._order = itertools.count()
        self._lock = threading.Lock()
        self._printed_at = 0.0  # seconds since the start of the latest event printed

    def now(self) -> float:
        return self._clock()

    def since_start(self, at: float | None = None) -> float:
        return (self.now() if at is None else at) - self.started

    def note(self, first: str, *more: str, at: float | None = None) -> None:
        """An event (rich markup), stamped `at` (this clock's time; default now). Any thread may call it."""
        with self._lock:
            self._pending.append((self.now() if at is None else at, next(self._order), (first, *more)))

    def flush(self, *, everything: bool = False) -> None:
        """Print the events older than `hold` (all of them with `everything`), oldest first."""
        cutoff = float("inf") if everything else self.now() - self.hold
        with self._lock:
            due = sorted(e for e in self._pending if e[0] <= cutoff)
            self._pending = [e for e in self._pending if e[0] > cutoff]
        for at, _, (first, *more) in due:
            self._printed_at = max(self._printed_at, at - self.started)
            self.console.print(f"  [+{self._printed_at:.0f}s] {first}")
            for line in more:
                self.console.print(f"        {line}")

    async def run(self) -> None:
        """Flush a few times a second until cancelled (then flush what is left)."""
        try:
            while True:
                await asyncio.sleep(0.2)
                self.flush()
        finally:
            self.flush(everything=True)
