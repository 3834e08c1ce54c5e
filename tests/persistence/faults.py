"""State files that really refuse writes, for a process that has them open.

Running as root (as CI does), `chmod` stops nothing, and `chattr +i` on a WAL database kills
the process with SIGBUS (SQLite's `-shm` file is memory-mapped). What works, for any user:

- RLIMIT_FSIZE = 0 (`refused_writes()` in this process, `refuse_writes(pid)` for another): the
  kernel fails every write(2) to a regular file with EFBIG, and SQLite reports "disk I/O error"
  (SQLITE_IOERR_WRITE); Python ignores SIGXFSZ, so the process lives on. Lifting the limit
  lets the next write succeed. Pipes are not limited: read a daemon's logs through one.
- a full disk (`full_disk()`, root with CAP_SYS_ADMIN only): a small tmpfs filled up; SQLite
  reports "database or disk is full" (SQLITE_FULL). Skipped where mounting is not permitted.
"""

from __future__ import annotations

import contextlib
import os
import resource
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

__all__ = ["full_disk", "refuse_writes", "refused_writes", "tmpfs"]


@contextlib.contextmanager
def refused_writes() -> Iterator[None]:
    """Every write to a regular file by this process fails (EFBIG) inside the block."""
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    resource.setrlimit(resource.RLIMIT_FSIZE, (0, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))


@contextlib.contextmanager
def refuse_writes(pid: int) -> Iterator[None]:
    """Every write to a regular file by process `pid` fails (EFBIG) inside the block."""
    soft, hard = resource.prlimit(pid, resource.RLIMIT_FSIZE)
    resource.prlimit(pid, resource.RLIMIT_FSIZE, (0, hard))
    try:
        yield
    finally:
        resource.prlimit(pid, resource.RLIMIT_FSIZE, (soft, hard))


@contextlib.contextmanager
def tmpfs(where: Path, size: str = "4m") -> Iterator[Path]:
    """A small tmpfs mounted at `where` (skips the test where mounting is not permitted)."""
    where.mkdir(parents=True, exist_ok=True)
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)], capture_output=True, text=True
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.strip() or mounted.returncode}")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


@contextlib.contextmanager
def full_disk(mount: Path) -> Iterator[None]:
    """The tmpfs at `mount` filled to the last block inside the block; freed after."""
    filler = mount / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT)
    try:
        with contextlib.suppress(OSError):  # ENOSPC: full
            while True:
                os.write(fd, b"\0" * 65536)
    finally:
        os.close(fd)
    try:
        yield
    finally:
        filler.unlink()
