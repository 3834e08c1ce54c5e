"""The state file: the one SQLite connection, and the health of its writes.

One file, WAL journal, `synchronous=FULL`: a write that returned is on disk. The connection is
shared by the store (references, windows, documents, SLO states) and the alert outbox; a lock
serialises its use, so it is safe from the event loop and from worker threads alike.

A state file can stop taking writes while the daemon runs: a full disk, a volume remounted
read-only, an I/O error. Every write goes through `Database.write`, which turns the SQLite error
into `StorageError` for its caller and keeps the daemon's view of it:

- `writable` is False from a failed write until a later write succeeds (`/readyz` answers 503
  meanwhile); `last_failure` says which write failed, when, and why;
- the first failure with a given error text is logged, the rest only counted
  (`write_failures`, by operation); recovery is logged once, with how many writes failed;
- `probe()` makes one tiny write (at most once a second) while writes fail, so readiness
  comes back without waiting for the next scheduled checkpoint.

Reads go on meanwhile: SQLite keeps serving what was committed.

Only a driftwarden state file is opened (`check_state_file`, which `driftwarden config validate`
runs too): a file that is empty, not SQLite, damaged or truncated, or another program's database
is refused with a StorageError naming it, and left as it was. A new state file is made whole
under a temporary name and linked into place, 0600 (SQLite gives its -wal and -shm files the same
mode), in a directory made 0700 when driftwarden creates it; existing files and directories keep
their modes.

Loaders meet rows that no longer decode (a corrupt blob, a document that does not parse, an
item with a bad field); they call `skip(kind, key, error)`, which logs one line and counts the
row in `skipped_rows`, and load the rest.

>>> import tempfile
>>> db = Database(Path(tempfile.mkdtemp()) / "state.db")
>>> db.write("document", lambda c: c.execute("INSERT INTO documents VALUES ('a', 0, x'7b7d')").rowcount)
1
>>> db.writable, db.last_write_error, db.read("SELECT name FROM documents")
(True, None, [('a',)])
>>> db.close()
"""

from __future__ import annotations

import contextlib
import functools
import logging
import math
import os
import sqlite3
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from driftwarden.core.errors import StorageError
from driftwarden.persistence.schema import migrate, schema_version

__all__ = ["PROBE_INTERVAL", "ROW_KINDS", "Database", "WriteFailure", "check_state_file"]

log = logging.getLogger("driftwarden.state")

PROBE_INTERVAL = 1.0  # seconds between two writability probes while writes fail

# what a loader can skip, and the table it lives in (for the log line)
ROW_KINDS = {
    "reference": "reference_profiles",
    "window": "windows",
    "document": "documents",
    "silence": "documents",
    "slo_state": "slo_states",
    "segment_window": "segment_windows",
    "embedding_window": "embedding_windows",
    "outbox": "outbox",
}

# SQLite's primary result codes for a file that cannot be written or read (full, read-only, I/O,
# corrupt, locked by another process); any other error (wrong SQL, a constraint, a closed
# connection) is a bug and is raised as it is
_FAULTS = frozenset(
    {
        sqlite3.SQLITE_BUSY,
        sqlite3.SQLITE_LOCKED,
        sqlite3.SQLITE_NOMEM,
        sqlite3.SQLITE_READONLY,
        sqlite3.SQLITE_IOERR,
        sqlite3.SQLITE_CORRUPT,
        sqlite3.SQLITE_FULL,
        sqlite3.SQLITE_CANTOPEN,
        sqlite3.SQLITE_PROTOCOL,
        sqlite3.SQLITE_NOLFS,
        sqlite3.SQLITE_NOTADB,
        sqlite3.SQLITE_PERM,
    }
)

T = TypeVar("T")


@dataclass(frozen=True)
class WriteFailure:
    operation: str  # e.g. "window_checkpoint", as in driftwarden_state_write_failures_total{operation}
    at: float  # unix time
    error: str  # SQLite's message, e.g. "database or disk is full"


class Database:
    """The state file at `path`, opened (created, upgraded to the current schema) on construction.

    Raises StorageError when the file cannot be opened, is not a driftwarden state file (see
    `check_state_file`), or was written by a newer driftwarden.
    """

    def __init__(self, path: Path, *, clock: Callable[[], float] = time.time) -> None:
        self.path = Path(path)
        self._clock = clock
        self._lock = threading.Lock()  # the connection, and the write-health fields below
        check_state_file(self.path)  # before anything is written to it
        try:
            if not self.path.exists():
                _create(self.path)
            self._db = sqlite3.connect(
                _uri(self.path, "mode=rw"), uri=True, check_same_thread=False, isolation_level=None
            )
        except (OSError, sqlite3.Error) as exc:
            raise StorageError(f"state file {self.path} cannot be opened: {exc}") from exc
        try:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            migrate(self._db, self.path)
        except sqlite3.Error as exc:
            self._db.close()
            raise _unreadable(self.path, exc) from exc
        except StorageError:
            self._db.close()
            raise
        self.write_failures: Counter[str] = Counter()
        self.skipped_rows: Counter[str] = Counter()
        self.last_failure: WriteFailure | None = None
        self._failing_since: float | None = None  # None while writes succeed
        self._failures_in_outage = 0  # writes failed since then
        self._logged: set[str] = set()  # error texts already logged in this outage
        self._last_probe = -math.inf

    @property
    def writable(self) -> bool:
        """False from a failed write until a write succeeds again."""
        return self._failing_since is None

    @property
    def last_write_error(self) -> str | None:
        """The error of the last failed write while writes fail; None once one succeeded."""
        if self._failing_since is None or self.last_failure is None:
            return None
        return self.last_failure.error

    def read(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        with self._lock:
            try:
                return self._db.execute(sql, params).fetchall()
            except sqlite3.Error as exc:
                if not _is_fault(exc):
                    raise
                raise StorageError(f"state file {self.path}: reading failed: {exc}") from exc

    def write(self, operation: str, work: Callable[[sqlite3.Connection], T]) -> T:
        """Run `work` in one transaction; StorageError (recorded, counted, logged once) when it fails.

        `operation` names the write in logs, in `/readyz` and as a metric label: a short, bounded
        name such as "window_checkpoint", never a value that grows with the data.
        """
        return self._write(operation, work, probe=False)

    def probe(self) -> bool:
        """While writes fail: one tiny write, at most once per PROBE_INTERVAL, to learn whether they
        succeed again. Returns `writable`; costs nothing while writes succeed."""
        if self.writable:
            return True
        now = time.monotonic()
        if now - self._last_probe < PROBE_INTERVAL:
            return False
        self._last_probe = now
        try:
            self._write(
                "health_probe",
                lambda c: c.execute(
                    "INSERT INTO health (id, probed_at) VALUES (1, ?) "
                    "ON CONFLICT(id) DO UPDATE SET probed_at=excluded.probed_at",
                    (self._clock(),),
                ),
                probe=True,
            )
        except StorageError:
            return False
        return True

    def skip(self, kind: str, key: str, error: object) -> None:
        """A stored row (or an item of a document) that no longer loads: one log line, counted by kind.

        `kind` is one of ROW_KINDS; `key` names the row (a model, a document, an outbox id).
        """
        if isinstance(error, BaseException):
            error = f"{type(error).__name__}: {error}"
        with self._lock:
            self.skipped_rows[kind] += 1
        log.error(
            "state file %s: skipped %s %r (table %s) that no longer loads: %s; the rest of the state is used",
            self.path,
            kind,
            key,
            ROW_KINDS.get(kind, "?"),
            error,
        )

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def _write(self, operation: str, work: Callable[[sqlite3.Connection], T], *, probe: bool) -> T:
        with self._lock:
            try:
                self._db.execute("BEGIN IMMEDIATE")
                result = work(self._db)
                self._db.execute("COMMIT")
            except BaseException as exc:
                if self._db.in_transaction:
                    with contextlib.suppress(sqlite3.Error):  # SQLite may have rolled back already
                        self._db.execute("ROLLBACK")
                if not _is_fault(exc):
                    raise
                self._failed(operation, str(exc), probe=probe)
                raise StorageError(
                    f"state file {self.path}: saving {operation.replace('_', ' ')} failed: {exc}"
                ) from exc
            self._succeeded()
            return result

    def _failed(self, operation: str, error: str, *, probe: bool) -> None:
        """Called with the lock held."""
        now = self._clock()
        self.write_failures[operation] += 1
        if not probe:  # a failed probe says nothing new: the failure it probes stays the one reported
            self.last_failure = WriteFailure(operation, now, error)
        if self._failing_since is None:
            self._failing_since, self._failures_in_outage = now, 0
        self._failures_in_outage += 1
        if error not in self._logged:
            self._logged.add(error)
            log.error(
                "state file %s: saving %s failed: %s. Reads and ingest go on; /readyz answers 503 until a "
                "write succeeds; further failures with this error are counted "
                "(driftwarden_state_write_failures_total), not logged",
                self.path,
                operation.replace("_", " "),
                error,
            )

    def _succeeded(self) -> None:
        """Called with the lock held."""
        if self._failing_since is None:
            return
        log.warning(
            "state file %s takes writes again, after %d failed writes over %.0fs",
            self.path,
            self._failures_in_outage,
            self._clock() - self._failing_since,
        )
        self._failing_since = None
        self._logged.clear()


def check_state_file(path: Path) -> None:
    """Raise StorageError unless `path` can be the state file: absent, with a directory that exists or
    can be made (a new state file), or a driftwarden state file. Reads only and creates nothing (no
    directory, no -wal or -shm file), so it is safe beside a running daemon.

    The file is read as it is on disk (SQLite's `immutable`), or, when a -wal file beside it holds
    transactions not yet copied into it, with a read-only connection that sees them (SQLite may then
    add the -shm index beside them, owned like the file).

    A valid SQLite file without tables is taken as new: nothing in it can be lost. A file of 0 bytes
    is refused, though SQLite would take it as an empty database: driftwarden never leaves one (see
    `_create`), so it is a state file that lost its content (a failed copy or restore, a full disk),
    and starting empty would hide that.
    """
    path = Path(path)
    if not path.exists() and not path.is_symlink():
        _check_directory(path)
        return
    _check_file(path)
    wal = Path(f"{path}-wal")
    read = "mode=ro" if wal.is_file() and wal.stat().st_size > 0 else "immutable=1"
    try:
        with contextlib.closing(sqlite3.connect(_uri(path, read), uri=True)) as db:
            _check_tables(db, path)
    except sqlite3.Error as exc:
        raise _unreadable(path, exc) from exc


_SQLITE_HEADER = b"SQLite format 3\x00"
_HEADER_BYTES = 100  # an SQLite file starts with a header this long


def _check_file(path: Path) -> None:
    if not path.is_file():
        raise StorageError(f"state file {path} is not a regular file", code="not_a_state_file")
    try:
        with path.open("rb") as f:
            head = f.read(_HEADER_BYTES)
    except OSError as exc:
        raise StorageError(f"state file {path} cannot be read: {exc.strerror or exc}") from exc
    if not os.access(path, os.R_OK | os.W_OK):
        raise StorageError(f"state file {path} is not writable by this user")
    if not os.access(path.parent, os.W_OK | os.X_OK):
        raise StorageError(
            f"state file {path}: its directory is not writable by this user (SQLite keeps -wal and -shm files there)"
        )
    wal = Path(f"{path}-wal")
    if not head and not (wal.is_file() and wal.stat().st_size > 0):
        raise StorageError(
            f"state file {path} is empty (0 bytes): not a driftwarden state file, and no state to load; "
            "to start with no state, delete it",
            code="empty_state_file",
        )
    if head and len(head) < _HEADER_BYTES and _SQLITE_HEADER.startswith(head[: len(_SQLITE_HEADER)]):
        raise _damaged(path, f"{len(head)} bytes, shorter than an SQLite header")
    if head and not head.startswith(_SQLITE_HEADER):
        raise StorageError(
            f"state file {path} is not a driftwarden state file (not an SQLite database): "
            "point state_path at another file, or move this one away",
            code="not_a_state_file",
        )


def _check_directory(path: Path) -> None:
    """An absent state file: its directory must exist, or the nearest existing one must let it be made."""
    ancestor = path.parent
    while not ancestor.exists() and ancestor != ancestor.parent:
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        raise StorageError(f"state file {path}: {ancestor} is not a directory")
    if not os.access(ancestor, os.W_OK | os.X_OK):
        made = "created in" if ancestor == path.parent else f"{path.parent} created under"
        raise StorageError(f"state file {path} cannot be {made} {ancestor}: not writable by this user")


def _check_tables(db: sqlite3.Connection, path: Path) -> None:
    """What the file holds is driftwarden's, at a schema version this code reads."""
    names = {name for (name,) in db.execute("SELECT name FROM sqlite_master")}
    foreign = sorted(names - _driftwarden_names())
    if foreign:
        listed = ", ".join(foreign[:5]) + (f" and {len(foreign) - 5} more" if len(foreign) > 5 else "")
        raise StorageError(
            f"state file {path} is not a driftwarden state file: it holds {listed}, which driftwarden does not "
            "create; point state_path at another file",
            code="not_a_state_file",
        )
    schema_version(db, path)


@functools.cache
def _driftwarden_names() -> frozenset[str]:
    """The tables and indexes every schema version has created: the migrations run on a blank database."""
    with contextlib.closing(sqlite3.connect(":memory:", isolation_level=None)) as db:
        migrate(db, ":memory:")
        return frozenset(name for (name,) in db.execute("SELECT name FROM sqlite_master"))


def _create(path: Path) -> None:
    """A new state file, whole or not at all: made under a temporary name (mkstemp: 0600) with every
    table, then linked into place, so that no crash leaves an empty file the next start refuses."""
    folder = path.parent
    if not folder.is_dir():
        folder.parent.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(FileExistsError):  # made meanwhile: used as it is
            folder.mkdir()
            os.chmod(folder, 0o700)  # not by mkdir's mode, which the umask may narrow further
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".new", dir=folder)
    os.close(fd)
    try:
        with contextlib.closing(sqlite3.connect(name, isolation_level=None)) as db:
            migrate(db, path)
        try:
            os.link(name, path)
        except FileExistsError:
            pass  # another process made it first: it is opened, this one dropped
        except OSError:  # a file system without hard links
            if not path.exists():
                os.replace(name, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(name)


def _uri(path: Path, parameters: str) -> str:
    """`file:` URI of `path` with query `parameters` (`mode=rw`: open, never create)."""
    return f"{path.absolute().as_uri()}?{parameters}"


def _unreadable(path: Path, exc: sqlite3.Error) -> StorageError:
    code = getattr(exc, "sqlite_errorcode", 0) & 0xFF
    if code in (sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB):
        return _damaged(path, str(exc))
    return StorageError(f"state file {path} cannot be opened: {exc}")


def _damaged(path: Path, why: str) -> StorageError:
    return StorageError(
        f"state file {path} is damaged or truncated ({why}): restore it from a backup, or delete it to start "
        "with no state",
        code="damaged_state_file",
    )


def _is_fault(exc: BaseException) -> bool:
    """An error of the state file (the disk, the file, another process), not of the code."""
    code = getattr(exc, "sqlite_errorcode", None)
    return isinstance(exc, sqlite3.Error) and code is not None and code & 0xFF in _FAULTS
