"""Following an NDJSON file: every line read once, across appends, rotation and restarts."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import orjson
import pytest

from driftwarden.collector.tail import FileTail
from driftwarden.core.records import ParseResult


def line(n: int) -> bytes:
    return orjson.dumps({"model": "m", "features": {"n": n}}) + b"\n"


def append(path: Path, data: bytes) -> None:
    with path.open("ab") as f:
        f.write(data)


class Offsets:
    """A dict-backed stand-in for the store's offset row."""

    def __init__(self) -> None:
        self.saved: dict[str, Any] | None = None
        self.saves = 0

    def load(self) -> dict[str, Any] | None:
        return self.saved

    def save(self, state: dict[str, Any]) -> None:
        self.saved = dict(state)
        self.saves += 1


def make(path: Path, offsets: Offsets | None = None, **kwargs: Any) -> FileTail:
    offsets = offsets or Offsets()
    return FileTail(path, load_offset=offsets.load, save_offset=offsets.save, **kwargs)


def values(result: ParseResult | None) -> list[int]:
    if result is None:
        return []
    return sorted(int(v) for batch in result.batches for v in batch.values[:, 0])


def drain(tail: FileTail, calls: int = 50) -> list[int]:
    """Read and commit until nothing is left, returning every `n` seen."""
    seen: list[int] = []
    for _ in range(calls):
        result = tail.read_new()
        if result is None:
            return seen
        seen += values(result)
        tail.commit()
    raise AssertionError("the tail never ran dry")


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "predictions.ndjson"


def test_appends_are_read_once_across_calls(path: Path) -> None:
    path.write_bytes(line(0) + line(1))
    offsets = Offsets()
    tail = make(path, offsets)
    assert drain(tail) == [0, 1]
    append(path, line(2))
    assert drain(tail) == [2]
    assert drain(tail) == []
    assert offsets.saved == {
        "inode": path.stat().st_ino,
        "device": path.stat().st_dev,
        "offset": path.stat().st_size,
        "head": offsets.saved["head"],
    }
    tail.close()


def test_a_partial_last_line_waits_for_its_newline(path: Path) -> None:
    whole = line(1)
    path.write_bytes(line(0) + whole[:10])
    tail = make(path)
    assert drain(tail) == [0]
    assert tail.read_new() is None
    append(path, whole[10:-1])
    assert tail.read_new() is None
    append(path, b"\n")
    assert drain(tail) == [1]
    tail.close()


def test_an_uncommitted_read_is_read_again(path: Path) -> None:
    path.write_bytes(line(0))
    offsets = Offsets()
    tail = make(path, offsets)
    assert values(tail.read_new()) == [0]  # say the queue was full: no commit
    append(path, line(1))
    assert values(tail.read_new()) == [0, 1]
    tail.commit()
    assert tail.read_new() is None
    assert offsets.saves == 1
    tail.close()


def test_rename_rotation_finishes_the_old_file_first(path: Path) -> None:
    path.write_bytes(line(0) + line(1))
    tail = make(path)
    assert drain(tail) == [0, 1]
    append(path, line(2))
    rotated = path.with_name(path.name + ".1")
    path.rename(rotated)
    append(rotated, line(3) + line(4))  # the writer still holds the old file
    path.write_bytes(line(5) + line(6))
    first = tail.read_new()
    assert values(first) == [2, 3, 4]  # the old file, before any of the new one
    tail.commit()
    append(path, line(7))
    assert drain(tail) == [5, 6, 7]
    tail.close()


def test_rename_rotation_reads_every_line_exactly_once(path: Path) -> None:
    path.write_bytes(line(0))
    tail = make(path)
    seen = drain(tail)
    append(path, line(1))
    rotated = path.with_name(path.name + ".1")
    path.rename(rotated)
    assert tail.read_new() is not None  # line 1 from the renamed file
    tail.commit()
    seen.append(1)
    append(rotated, line(2) + line(3)[:-1])  # written after the rename, before the new file
    assert drain(tail) == [2]  # the old file is followed while there is no new file...
    seen.append(2)
    path.write_bytes(line(4))
    seen += drain(tail)  # ...then finished (its unterminated last line included) before the new one
    append(path, line(5))
    seen += drain(tail)
    assert seen == [0, 1, 2, 3, 4, 5]
    tail.close()


def test_copytruncate_starts_again_from_zero(path: Path) -> None:
    path.write_bytes(line(0) + line(1))
    tail = make(path)
    assert drain(tail) == [0, 1]
    inode = path.stat().st_ino
    with path.open("r+b") as f:  # copytruncate keeps the inode
        f.truncate(0)
    append(path, line(2))
    assert path.stat().st_ino == inode
    assert drain(tail) == [2]
    # truncated and regrown past the old offset before the next poll: the head tells
    with path.open("r+b") as f:
        f.truncate(0)
    append(path, line(30) + line(40) + line(50))
    assert drain(tail) == [30, 40, 50]
    tail.close()


def test_restart_resumes_at_the_committed_offset(path: Path) -> None:
    offsets = Offsets()
    path.write_bytes(line(0) + line(1))
    first = make(path, offsets)
    assert drain(first) == [0, 1]
    append(path, line(2))
    assert values(first.read_new()) == [2]  # read, but the process dies before commit
    first.close()
    append(path, line(3))
    second = make(path, offsets)
    assert drain(second) == [2, 3]  # line 2 read again rather than skipped; 0 and 1 not
    second.close()
    third = make(path, offsets)
    assert drain(third) == []
    third.close()


def test_restart_on_a_different_file_starts_from_zero(path: Path) -> None:
    offsets = Offsets()
    path.write_bytes(line(0) + line(1))
    tail = make(path, offsets)
    drain(tail)
    tail.close()
    path.unlink()
    path.write_bytes(line(7) + line(8) + line(9))  # same name, maybe even the same inode
    tail = make(path, offsets)
    assert drain(tail) == [7, 8, 9]
    tail.close()


def test_restart_after_rotation_finishes_the_rotated_file(path: Path) -> None:
    offsets = Offsets()
    path.write_bytes(line(0))
    tail = make(path, offsets)
    assert drain(tail) == [0]
    tail.close()
    append(path, line(1))  # written while driftwarden was down...
    path.rename(path.with_name(path.name + ".1"))  # ...then rotated
    path.write_bytes(line(2))
    tail = make(path, offsets)
    assert drain(tail) == [1, 2]
    tail.close()


def test_a_missing_file_is_waited_for_and_logged_once(path: Path, caplog: pytest.LogCaptureFixture) -> None:
    tail = make(path)
    with caplog.at_level(logging.INFO, logger="driftwarden.collector.tail"):
        assert tail.read_new() is None
        assert tail.read_new() is None
        path.write_bytes(line(0))
        assert drain(tail) == [0]
    messages = [r.getMessage() for r in caplog.records]
    assert sum("cannot read" in m for m in messages) == 1
    assert any("readable now" in m for m in messages)
    tail.close()


def test_a_large_file_is_read_in_bounded_batches(path: Path) -> None:
    body = b"".join(line(n) for n in range(5000))
    path.write_bytes(body)
    limit = 8 * 1024
    tail = make(path, max_batch_bytes=limit)
    seen: list[int] = []
    calls = 0
    while (result := tail.read_new()) is not None:
        calls += 1
        assert result.accepted * len(line(0)) <= limit
        seen += values(result)
        tail.commit()
    assert seen == list(range(5000))
    assert calls >= len(body) // limit
    tail.close()


def test_a_read_holds_at_most_max_lines_lines(path: Path) -> None:
    """What the ingest queue can take at once: a read of more could never be admitted."""
    path.write_bytes(b"".join(line(n) for n in range(25)))
    offsets = Offsets()
    tail = make(path, offsets)
    assert values(tail.read_new(max_lines=10)) == list(range(10))
    assert values(tail.read_new(max_lines=3)) == [0, 1, 2]  # not committed: read again, fewer lines
    tail.commit()
    assert offsets.saved is not None and offsets.saved["offset"] == 3 * len(line(0))
    seen = [0, 1, 2]
    while (result := tail.read_new(max_lines=10)) is not None:
        assert result.accepted <= 10
        seen += values(result)
        tail.commit()
    assert seen == list(range(25))
    with pytest.raises(ValueError, match="max_lines"):
        tail.read_new(max_lines=0)
    tail.close()


def test_a_line_longer_than_a_batch_is_skipped_and_reported(path: Path) -> None:
    long = b'{"model": "m", "features": {"n": 1, "pad": "' + b"x" * 5000 + b'"}}\n'
    path.write_bytes(line(0) + long[:3000])
    tail = make(path, max_batch_bytes=1024)
    assert drain(tail) == [0]
    append(path, long[3000:] + line(2))
    result = tail.read_new()
    assert result is not None
    assert [e.reason for e in result.errors] == ["line_too_long"]
    tail.commit()
    assert drain(tail) == [2]
    tail.close()


def test_bad_lines_are_reported_and_the_rest_accepted(path: Path) -> None:
    path.write_bytes(line(0) + b"{not json\n" + b'{"model": "m"}\n' + b"\n" + line(1))
    tail = make(path)
    result = tail.read_new()
    assert result is not None
    assert values(result) == [0, 1]
    assert (result.accepted, result.rejected) == (2, 2)
    assert sorted(e.reason for e in result.errors) == ["bad_features", "invalid_json"]
    tail.commit()
    assert tail.read_new() is None
    tail.close()


def test_a_deleted_file_is_let_go_and_its_successor_read(path: Path) -> None:
    path.write_bytes(line(0))
    tail = make(path)
    assert drain(tail) == [0]
    os.unlink(path)
    assert tail.read_new() is None
    path.write_bytes(line(1))
    assert drain(tail) == [1]
    tail.close()
