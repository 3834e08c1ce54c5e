"""Follows an NDJSON file of prediction records on a shared volume, like `tail -F`.

`FileTail(path, load_offset=..., save_offset=...)` reads the complete lines appended since the
last call in bounded batches (`max_batch_bytes`, 4 MiB, and at most `max_lines` lines: what the
ingest queue can take at once) and parses them with `parse_records`:

    result = tail.read_new(max_lines=1000)  # blocking I/O: call it from a worker thread
    if result is not None:
        pipeline.admit(result, source="file")
        tail.commit()                 # only now is the offset saved

Delivery is at least once, never skipping a line:

* a read is not consumed until `commit()`: `read_new()` without a `commit()` in between (the
  queue was full, the process crashed) returns the same lines again;
* a crash after the batch was admitted and before `commit()` saved the offset reads that one
  batch again after the restart (at most `max_batch_bytes`); nothing else is read twice;
* a trailing line without its newline waits for it; a line longer than `max_batch_bytes` is
  skipped without being held in memory and reported as one `line_too_long` error.

The saved offset is `{"inode", "device", "offset", "head"}`, `head` being a hash of the file's
first `min(64, offset)` bytes (lines already read, so they never change while the file is the
same one). After a restart the tail resumes at `offset` when the file at `path` is that file,
else (rotated while the process was down) it first finishes the rotated file if it is still
next to `path` under a name starting with the file's stem, else starts the file at 0.

Rotation, as Filebeat and the OpenTelemetry Collector's filelog receiver handle it:

* rename and create (`path` names a new inode): the old file stays open and is read to its end
  first (a final line without a newline is taken as it is), then the new one from 0;
* copytruncate (same inode, now shorter than the offset, or its head changed): from 0. Lines the
  writer appended between the last read and the copy are in the copy only, as with any tail;
* no file yet: `read_new()` returns None, logged once, and tries again on the next call.
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from driftwarden.collector.predictions import parse_records
from driftwarden.core.records import ParseResult

__all__ = ["FileTail"]

log = logging.getLogger(__name__)

NDJSON = "application/x-ndjson"
HEAD_BYTES = 64
DEFAULT_MAX_BATCH_BYTES = 4 * 1024 * 1024


@dataclass
class _Open:
    """One open file: the committed offset is the start of the first line not yet admitted."""

    fd: int
    device: int
    inode: int
    offset: int = 0
    head: str = ""  # hash of the first min(HEAD_BYTES, offset) bytes
    scanned: int = 0  # an over-long line has no newline before this position (memory only)

    @property
    def ident(self) -> tuple[int, int]:
        return self.device, self.inode


class FileTail:
    """Reads the complete NDJSON lines appended to `path` since the last committed read.

    >>> import tempfile
    >>> saved = {}
    >>> with tempfile.TemporaryDirectory() as d:
    ...     path = Path(d) / "predictions.ndjson"
    ...     _ = path.write_bytes(b'{"model": "m", "features": {"x": 1}}\\n{"model": "m", "fea')
    ...     tail = FileTail(path, load_offset=lambda: None, save_offset=saved.update)
    ...     first = tail.read_new()
    ...     tail.commit()
    ...     with path.open("ab") as f:
    ...         _ = f.write(b'tures": {"x": 2}}\\n')
    ...     second = tail.read_new()
    ...     tail.commit()
    ...     tail.close()
    >>> first.accepted, second.accepted, saved["offset"]
    (1, 1, 74)
    """

    def __init__(
        self,
        path: Path,
        *,
        load_offset: Callable[[], object],  # the saved offset as stored: checked before use
        save_offset: Callable[[dict[str, Any]], None],
        max_batch_bytes: int = DEFAULT_MAX_BATCH_BYTES,
    ) -> None:
        if max_batch_bytes < 1:
            raise ValueError(f"max_batch_bytes must be positive, got {max_batch_bytes}")
        self.path = Path(path)
        self.max_batch_bytes = max_batch_bytes
        self._load_offset = load_offset
        self._save_offset = save_offset
        self._lock = threading.Lock()
        self._cur: _Open | None = None
        self._started = False  # the saved offset has been consulted
        self._pending: tuple[_Open, int] | None = None
        self._missing_logged = False

    # -- public ----------------------------------------------------------------
    def read_new(self, max_lines: int | None = None) -> ParseResult | None:
        """The records of the complete lines after the committed offset, at most `max_lines` of them;
        None when there are none."""
        if max_lines is not None and max_lines < 1:
            raise ValueError(f"max_lines must be positive, got {max_lines}")
        with self._lock:
            self._pending = None
            if self._cur is None:
                self._cur = self._open_first() if not self._started else self._open_path()
                self._started = self._started or self._cur is not None
                if self._cur is None:
                    return None
            cur = self._cur
            size = os.fstat(cur.fd).st_size
            if size < cur.offset or (cur.offset and _head(cur.fd, cur.offset) != cur.head):
                log.warning("%s was truncated (copytruncate): reading it again from the start", self.path)
                cur.offset, cur.head, cur.scanned = 0, "", 0
            read = self._read(cur, size, final=False, max_lines=max_lines)
            if read is not None:
                return self._hold(cur, *read)
            ident = self._path_ident()
            if ident == cur.ident:
                return None
            if ident is None:  # renamed away and not yet recreated, or deleted
                if os.fstat(cur.fd).st_nlink == 0 and cur.offset >= size:
                    self._close()
                return None
            # the rotated file's last line may lack its newline
            read = self._read(cur, size, final=True, max_lines=max_lines)
            if read is not None:
                return self._hold(cur, *read)
            log.info("%s was rotated: following the new file from its start", self.path)
            self._close()
            self._cur = self._open_path()
            if self._cur is None:
                return None
            read = self._read(self._cur, os.fstat(self._cur.fd).st_size, final=False, max_lines=max_lines)
            return self._hold(self._cur, *read) if read is not None else None

    def commit(self) -> None:
        """Mark the last `read_new()` result admitted: save its end as the offset to resume from."""
        with self._lock:
            if self._pending is None:
                return
            cur, end = self._pending
            self._pending = None
            cur.offset, cur.head, cur.scanned = end, _head(cur.fd, end), 0
            state = {"inode": cur.inode, "device": cur.device, "offset": cur.offset, "head": cur.head}
        self._save_offset(state)

    def close(self) -> None:
        with self._lock:
            self._pending = None
            self._close()

    # -- reading ---------------------------------------------------------------
    def _hold(self, cur: _Open, result: ParseResult, end: int) -> ParseResult:
        self._pending = (cur, end)
        return result

    def _read(self, cur: _Open, size: int, *, final: bool, max_lines: int | None) -> tuple[ParseResult, int] | None:
        """(records, end offset) of the complete lines after `cur.offset`, reading at most one batch."""
        start = cur.offset
        if start >= size:
            return None
        chunk = os.pread(cur.fd, min(self.max_batch_bytes, size - start), start)
        cut = chunk.rfind(b"\n") + 1
        if cut:
            body = chunk[: _after_lines(chunk, cut, max_lines)]
            return parse_records(body, NDJSON, max_records=body.count(b"\n") + 1), start + len(body)
        if len(chunk) < self.max_batch_bytes:  # a line still being written
            if not final or not chunk:
                return None
            return parse_records(chunk, NDJSON, max_records=1), start + len(chunk)
        end = self._end_of_long_line(cur, start + len(chunk), size)
        if end is None and not final:
            return None
        end = size if end is None else end
        result = ParseResult()
        result.reject(
            0,
            "line_too_long",
            f"{self.path}: the line at offset {start} has {end - start} bytes, more than max_batch_bytes "
            f"({self.max_batch_bytes}); skipped",
        )
        return result, end

    def _end_of_long_line(self, cur: _Open, scan: int, size: int) -> int | None:
        """The offset after the newline ending an over-long line, scanning in bounded pieces."""
        scan = max(scan, cur.scanned)
        while scan < size:
            piece = os.pread(cur.fd, min(self.max_batch_bytes, size - scan), scan)
            if not piece:
                break
            newline = piece.find(b"\n")
            if newline >= 0:
                return scan + newline + 1
            scan += len(piece)
        cur.scanned = scan
        return None

    # -- opening ---------------------------------------------------------------
    def _open_first(self) -> _Open | None:
        """The file to start with after a (re)start: the saved one where it still is, else `path`."""
        saved = self._load_offset()
        cur = self._open_path()
        if not saved or cur is None:
            return cur
        position = _saved_position(saved)
        if position is None:
            log.warning("%s: ignoring an unreadable saved offset %r", self.path, saved)
            return cur
        ident, offset, head = position
        if ident == cur.ident:
            if _matches(cur.fd, offset, head):
                cur.offset, cur.head = offset, head
                log.info("%s: resuming at offset %d", self.path, offset)
            else:
                log.info("%s is not the file the saved offset belongs to: reading it from the start", self.path)
            return cur
        rotated = self._find_rotated(ident, offset, head)
        if rotated is None:
            log.info("%s was replaced while stopped: reading the new file from the start", self.path)
            return cur
        os.close(cur.fd)  # taken up again by rotation once the old file is finished
        return rotated

    def _find_rotated(self, ident: tuple[int, int], offset: int, head: str) -> _Open | None:
        """The file the saved offset belongs to, renamed next to `path` (`predictions.ndjson.1`)."""
        try:
            entries = list(os.scandir(self.path.parent))
        except OSError:
            return None
        for entry in entries:
            if not entry.name.startswith(self.path.stem) or entry.name == self.path.name:
                continue
            try:
                if entry.inode() != ident[1] or entry.stat(follow_symlinks=False).st_dev != ident[0]:
                    continue
                fd = os.open(entry.path, os.O_RDONLY)
            except OSError:
                continue
            st = os.fstat(fd)
            if (st.st_dev, st.st_ino) == ident and _matches(fd, offset, head):
                log.info("%s was rotated while stopped: finishing %s from offset %d", self.path, entry.path, offset)
                return _Open(fd, st.st_dev, st.st_ino, offset, head)
            os.close(fd)
        return None

    def _open_path(self) -> _Open | None:
        try:
            fd = os.open(self.path, os.O_RDONLY)
        except OSError as exc:
            if not self._missing_logged:
                log.warning("cannot read %s (%s): trying again on every poll", self.path, exc.strerror or exc)
                self._missing_logged = True
            return None
        if self._missing_logged:
            log.info("%s is readable now: following it", self.path)
            self._missing_logged = False
        st = os.fstat(fd)
        return _Open(fd, st.st_dev, st.st_ino)

    def _path_ident(self) -> tuple[int, int] | None:
        try:
            st = os.stat(self.path)
        except OSError:
            return None
        return st.st_dev, st.st_ino

    def _close(self) -> None:
        if self._cur is not None:
            os.close(self._cur.fd)
            self._cur = None


def _after_lines(chunk: bytes, end: int, max_lines: int | None) -> int:
    """Where the first `max_lines` lines of `chunk[:end]` (complete lines) end."""
    if max_lines is None or chunk.count(b"\n", 0, end) <= max_lines:
        return end
    newlines = np.flatnonzero(np.frombuffer(chunk, dtype=np.uint8, count=end) == ord("\n"))
    return int(newlines[max_lines - 1]) + 1


def _head(fd: int, offset: int) -> str:
    data = os.pread(fd, min(HEAD_BYTES, offset), 0) if offset else b""
    return hashlib.blake2b(data, digest_size=16).hexdigest()


def _saved_position(saved: object) -> tuple[tuple[int, int], int, str] | None:
    """((device, inode), offset, head) of a saved offset; None when it does not read as one."""
    if not isinstance(saved, Mapping):
        return None
    try:
        return (int(saved["device"]), int(saved["inode"])), int(saved["offset"]), str(saved["head"])
    except (KeyError, TypeError, ValueError):
        return None


def _matches(fd: int, offset: int, head: str) -> bool:
    return 0 <= offset <= os.fstat(fd).st_size and _head(fd, offset) == head
