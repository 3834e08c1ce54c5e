"""The request/response join of payload-logger events: `EventJoiner` pairs the two halves of an
inference call by id and turns each pair into prediction records, one per row of the batch.

Each row of the request's batch becomes one record `{"model", "request_id", "features",
"prediction"}` (and `model_version` when the response names one); a batch's rows get request ids
`<id>/<row>`. A half without its pair expires after the joiner's TTL and is counted, not
guessed at.
"""

from __future__ import annotations

import time
from collections import Counter, OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from driftwarden.collector.kserve_payloads import Half

__all__ = ["EVICTED", "EXPIRED", "REPLACED", "EventJoiner", "Joined"]

# why unpaired halves leave the join table; also the `reason` of driftwarden_records_rejected_total
EXPIRED = "unpaired_expired"  # its other half did not come within the TTL
EVICTED = "join_table_full"  # the oldest half, dropped to make room
REPLACED = "duplicate_event"  # the same half again under the same id: the newer one is kept


@dataclass(frozen=True)
class Joined:
    records: list[dict[str, Any]]  # prediction records of the pair this half completed, row by row
    dropped_rows: Counter[str]  # rows of unpaired halves dropped meanwhile, by reason


@dataclass
class _Waiting:
    half: Half
    deadline: float


class EventJoiner:
    """Pairs request and response halves by id, in a bounded table whose halves expire.

    Not thread-safe: the app calls it from its event loop only.

    A half waits at most `ttl` seconds for its other half, then is dropped and counted
    (`unpaired[EXPIRED]`); when `max_pending` halves or `max_pending_rows` rows wait, the
    oldest is dropped to make room (`unpaired[EVICTED]`). Expiry runs on every `add()` (and on
    `expire()`), so an idle joiner holds at most what it held when traffic stopped.
    """

    def __init__(
        self,
        *,
        max_pending: int = 10_000,
        max_pending_rows: int = 100_000,
        ttl: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if max_pending < 1 or max_pending_rows < 1 or not ttl > 0:
            raise ValueError("max_pending and max_pending_rows must be at least 1 and ttl positive")
        self.max_pending = max_pending
        self.max_pending_rows = max_pending_rows
        self.ttl = ttl
        self.clock = clock
        self.paired = 0
        self.unpaired: Counter[str] = Counter()  # halves dropped, by reason
        self._table: OrderedDict[tuple[str, ...], _Waiting] = OrderedDict()  # oldest first: deadlines ascend
        self._rows = 0

    @property
    def pending(self) -> int:
        """Halves waiting for their other half."""
        return len(self._table)

    @property
    def pending_rows(self) -> int:
        return self._rows

    def add(self, half: Half) -> Joined:
        now = self.clock()
        dropped: Counter[str] = Counter()
        self._expire(now, dropped)
        waiting = self._table.pop(half.key, None)
        if waiting is not None:
            self._rows -= len(waiting.half.rows)
            if waiting.half.kind != half.kind:
                self.paired += 1
                request, response = (half, waiting.half) if half.kind == "request" else (waiting.half, half)
                return Joined(_records(request, response), dropped)
            self._drop(waiting.half, REPLACED, dropped)
        while self._table and (
            len(self._table) >= self.max_pending or self._rows + len(half.rows) > self.max_pending_rows
        ):
            _, oldest = self._table.popitem(last=False)
            self._rows -= len(oldest.half.rows)
            self._drop(oldest.half, EVICTED, dropped)
        self._table[half.key] = _Waiting(half, now + self.ttl)
        self._rows += len(half.rows)
        return Joined([], dropped)

    def expire(self) -> Counter[str]:
        """Drop the halves past their TTL now; returns the rows dropped, by reason."""
        dropped: Counter[str] = Counter()
        self._expire(self.clock(), dropped)
        return dropped

    def _expire(self, now: float, dropped: Counter[str]) -> None:
        while self._table:
            key, first = next(iter(self._table.items()))
            if first.deadline > now:
                return
            del self._table[key]
            self._rows -= len(first.half.rows)
            self._drop(first.half, EXPIRED, dropped)

    def _drop(self, half: Half, reason: str, dropped: Counter[str]) -> None:
        self.unpaired[reason] += 1
        dropped[reason] += len(half.rows)


def _records(request: Half, response: Half) -> list[dict[str, Any]]:
    predictions = response.rows
    single = len(request.rows) == 1
    records = []
    for i, features in enumerate(request.rows):
        record = {
            "model": request.model,
            "request_id": request.request_id if single else f"{request.request_id}/{i}",
            "features": features,
            "prediction": predictions[i] if i < len(predictions) else None,
        }
        if response.model_version is not None:
            record["model_version"] = response.model_version
        vectors = {
            **(request.embeddings[i] if request.embeddings else {}),
            **(response.embeddings[i] if response.embeddings and i < len(response.embeddings) else {}),
        }
        if vectors:
            record["embeddings"] = vectors
        records.append(record)
    return records
