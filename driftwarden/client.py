"""Sending prediction records to a driftwarden sidecar from a model server's process.

`DriftClient.record()` puts one record in a bounded buffer and returns at once (never blocks a request,
never raises for the sidecar's sake); a background thread sends the buffer as one `POST /v1/predictions`
when it holds `batch_size` records or `flush_interval` seconds after the first one came, as NDJSON or as an
Arrow IPC stream (`format="arrow"`: a column per feature, pyarrow needed in the model server's environment).

Back-pressure: a 429 or 503 answer (the sidecar's queue is full) is retried after its `Retry-After` seconds,
or after an exponential backoff (`backoff` x 2^attempt, at most `max_backoff`) without one, at most
`max_retries` times; connection errors alike. Meanwhile records keep coming into the buffer, up to
`max_buffer`; beyond it they are dropped and counted (`stats.dropped`): a sidecar that cannot keep up costs
the model server records, never memory or latency. Records the sidecar refused (any other 4xx) or that ran
out of retries are counted too (`stats.rejected`, `stats.failed`).

This module imports only the standard library, httpx and orjson (pyarrow when it first sends Arrow): none of
the daemon's parts.

    client = DriftClient("http://127.0.0.1:4318", token="...")
    client.record("fraud", {"amount": 12.5, "country": "DE"}, prediction=0.91, request_id="r-1")
    client.close()  # sends what is left (at most `close_timeout` seconds)
"""

from __future__ import annotations

import io
import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import Any, Literal

import httpx
import orjson

__all__ = ["ClientStats", "DriftClient"]

NDJSON = "application/x-ndjson"
ARROW_STREAM = "application/vnd.apache.arrow.stream"
_FIELDS = ("prediction", "request_id", "label", "model_version", "trace_id", "span_id")


@dataclass
class ClientStats:
    """What became of the records given to `record()` (a snapshot: `DriftClient.stats`)."""

    sent: int = 0  # accepted by the sidecar
    rejected: int = 0  # refused by it, record by record or whole (a 4xx other than 429)
    dropped: int = 0  # not buffered: the buffer held max_buffer records
    failed: int = 0  # given up on after max_retries (429, 503, 5xx or the connection)
    posts: int = 0  # requests answered (any status)
    retries: int = 0  # requests sent again after a 429, 503, 5xx or connection error


class DriftClient:
    """Batches records in a background thread and POSTs them to `url` + /v1/predictions (thread-safe)."""

    def __init__(
        self,
        url: str = "http://127.0.0.1:4318",
        *,
        token: str | None = None,
        format: Literal["ndjson", "arrow"] = "ndjson",
        batch_size: int = 1000,
        flush_interval: float = 1.0,
        max_buffer: int = 100_000,
        max_retries: int = 6,
        backoff: float = 0.1,
        max_backoff: float = 10.0,
        timeout: float = 10.0,
        close_timeout: float = 10.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        if format not in ("ndjson", "arrow"):
            raise ValueError(f"format is 'ndjson' or 'arrow', not {format!r}")
        if batch_size < 1 or max_buffer < batch_size:
            raise ValueError("batch_size must be at least 1 and max_buffer at least batch_size")
        self.format = format
        self.batch_size = batch_size
        self.flush_interval = flush_interval
        self.max_buffer = max_buffer
        self.max_retries = max_retries
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.close_timeout = close_timeout
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._http = httpx.Client(base_url=url.rstrip("/"), headers=headers, timeout=timeout, transport=transport)
        self._buffer: deque[dict[str, Any]] = deque()
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._stats = ClientStats()
        self._first_at: float | None = None  # when the oldest buffered record came
        self._in_flight = 0
        self._flush_requested = False
        self._closing = threading.Event()
        self._thread = threading.Thread(target=self._run, name="driftwarden-client", daemon=True)
        self._thread.start()

    # -- the model server's side ----------------------------------------------------------------------------------
    def record(
        self,
        model: str,
        features: dict[str, Any],
        *,
        prediction: Any = None,
        request_id: str | None = None,
        label: Any = None,
        model_version: str | None = None,
        trace_id: str | None = None,
        span_id: str | None = None,
    ) -> bool:
        """Buffer one record; False (counted in `stats.dropped`) when the buffer is full or the client closed."""
        record: dict[str, Any] = {"model": model, "features": features}
        for name, value in zip(_FIELDS, (prediction, request_id, label, model_version, trace_id, span_id), strict=True):
            if value is not None:
                record[name] = value
        with self._wake:
            if self._closing.is_set() or len(self._buffer) >= self.max_buffer:
                self._stats.dropped += 1
                return False
            self._buffer.append(record)
            if self._first_at is None:
                self._first_at = time.monotonic()
            if len(self._buffer) >= self.batch_size:
                self._wake.notify()
        return True

    @property
    def stats(self) -> ClientStats:
        with self._lock:
            return ClientStats(**vars(self._stats))

    @property
    def buffered(self) -> int:
        with self._lock:
            return len(self._buffer) + self._in_flight

    def flush(self, timeout: float | None = None) -> bool:
        """Send what is buffered now; True when it all went (sent, refused or given up on) within `timeout`."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._wake:
            self._flush_requested = True
            self._wake.notify()
            while self._buffer or self._in_flight:
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    return False
                self._wake.wait(timeout=0.05 if left is None else min(left, 0.05))
            return True

    def close(self) -> None:
        """Send what is left (at most `close_timeout` seconds), then stop; later records are dropped."""
        self.flush(self.close_timeout)
        self._closing.set()
        with self._wake:
            self._wake.notify_all()
        self._thread.join(timeout=self.close_timeout)
        self._http.close()

    def __enter__(self) -> DriftClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- the background thread ------------------------------------------------------------------------------------
    def _run(self) -> None:
        while True:
            with self._wake:
                while not self._due():
                    if self._closing.is_set():
                        return
                    wait = None if self._first_at is None else self._first_at + self.flush_interval - time.monotonic()
                    self._wake.wait(timeout=0.1 if wait is None else max(0.0, min(wait, 0.1)))
                batch = [self._buffer.popleft() for _ in range(min(self.batch_size, len(self._buffer)))]
                self._in_flight = len(batch)
                self._first_at = time.monotonic() if self._buffer else None
                if not self._buffer:
                    self._flush_requested = False
            try:
                self._send(batch)
            finally:
                with self._wake:
                    self._in_flight = 0
                    self._wake.notify_all()

    def _due(self) -> bool:
        if not self._buffer:
            return False
        if len(self._buffer) >= self.batch_size or self._flush_requested or self._closing.is_set():
            return True
        return self._first_at is not None and time.monotonic() - self._first_at >= self.flush_interval

    def _send(self, batch: list[dict[str, Any]]) -> None:
        body, content_type = self._encode(batch)
        for attempt in range(self.max_retries + 1):
            wait: float | None
            try:
                answer = self._http.post("/v1/predictions", content=body, headers={"Content-Type": content_type})
            except httpx.HTTPError:
                wait = None
            else:
                with self._lock:
                    self._stats.posts += 1
                if answer.status_code < 300 or (400 <= answer.status_code < 500 and answer.status_code != 429):
                    self._count(batch, answer)
                    return
                wait = _retry_after(answer.headers.get("retry-after"))
            if attempt == self.max_retries:
                break
            with self._lock:
                self._stats.retries += 1
            delay = min(self.max_backoff, self.backoff * 2**attempt) if wait is None else min(wait, self.max_backoff)
            if self._closing.wait(delay) and attempt >= 1:
                break  # closing: one more try at most, not the whole backoff
        with self._lock:
            self._stats.failed += len(batch)

    def _count(self, batch: list[dict[str, Any]], answer: httpx.Response) -> None:
        try:
            accepted = int(answer.json().get("accepted", 0)) if answer.status_code < 300 else 0
        except (ValueError, AttributeError):
            accepted = 0
        with self._lock:
            self._stats.sent += accepted
            self._stats.rejected += len(batch) - accepted

    def _encode(self, batch: list[dict[str, Any]]) -> tuple[bytes, str]:
        if self.format == "ndjson":
            return b"\n".join(map(orjson.dumps, batch)), NDJSON
        return _arrow(batch), ARROW_STREAM


def _retry_after(value: str | None) -> float | None:
    """Retry-After in seconds (its HTTP-date form is not used by driftwarden: None, the backoff decides)."""
    try:
        return max(0.0, float(value)) if value else None
    except ValueError:
        return None


def _arrow(batch: list[dict[str, Any]]) -> bytes:
    """The records as an Arrow IPC stream: a column per feature (null where a record lacks it), then the fields."""
    import pyarrow as pa  # the model server needs pyarrow only when it sends Arrow

    names = list(dict.fromkeys(name for record in batch for name in record["features"]))
    columns: dict[str, list[Any]] = {"model": [record["model"] for record in batch]}
    for field in _FIELDS:
        if any(field in record for record in batch):
            columns[field] = [record.get(field) for record in batch]
    for name in names:
        if name not in columns:  # a feature named like a field: the field wins, as in a JSON record
            columns[name] = [record["features"].get(name) for record in batch]
    table = pa.table(columns)
    sink = io.BytesIO()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return sink.getvalue()
