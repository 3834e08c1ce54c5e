"""Which file may be the state file: a new one is made private and whole, anything that is not a
driftwarden state file is refused untouched (never replaced, converted or migrated)."""

from __future__ import annotations

import os
import shutil
import sqlite3
import stat
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from driftwarden.core.errors import StorageError
from driftwarden.persistence.database import Database, check_state_file
from driftwarden.persistence.store import Store


@pytest.fixture
def umask_022() -> Iterator[None]:
    previous = os.umask(0o022)  # what most services run with: new files 0644, directories 0755
    try:
        yield
    finally:
        os.umask(previous)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def contents(folder: Path) -> dict[str, bytes]:
    """Each file's bytes; a -shm file only by name (SQLite's index of the WAL, which readers refresh)."""
    return {p.name: b"" if p.name.endswith("-shm") else p.read_bytes() for p in folder.iterdir()}


def a_state_file(path: Path) -> Path:
    """A state file with some pages, checkpointed into the main file (as a clean shutdown leaves it)."""
    database = Database(path)
    store = Store(database)
    for i in range(50):
        store.save_document(f"doc{i}", {"filler": "x" * 2000})
    database.close()
    assert not Path(f"{path}-wal").exists()
    return path


def random_bytes(path: Path) -> None:
    path.write_bytes(os.urandom(8192))


def another_sqlite_database(path: Path) -> None:
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT)")
    db.execute("INSERT INTO users (name) VALUES ('ada')")
    db.commit()
    db.close()


def another_database_in_wal_mode(path: Path) -> None:
    """Its table only in the WAL (the writer was killed): only a WAL-aware read sees it."""
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA wal_autocheckpoint=0")
    db.execute("CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT)")
    files = ("", "-wal", "-shm")
    for suffix in files:  # what a kill -9 leaves: the close below would checkpoint the WAL
        shutil.copy(f"{path}{suffix}", f"{path}{suffix}.kept")
    db.close()
    for suffix in files:
        os.replace(f"{path}{suffix}.kept", f"{path}{suffix}")
    db = sqlite3.connect(f"{path.absolute().as_uri()}?immutable=1", uri=True)
    assert db.execute("SELECT name FROM sqlite_master").fetchall() == []  # not in the main file
    db.close()


def truncated(keep: Callable[[int], int]) -> Callable[[Path], None]:
    def make(path: Path) -> None:
        a_state_file(path)
        size = path.stat().st_size
        with path.open("r+b") as f:
            f.truncate(keep(size))

    return make


def empty(path: Path) -> None:
    path.write_bytes(b"")


def text(path: Path) -> None:
    path.write_text("state_path: oops, this is the config\n")


NOT_STATE_FILES = {
    "random bytes": (random_bytes, "not_a_state_file", "not an SQLite database"),
    "a text file": (text, "not_a_state_file", "not an SQLite database"),
    "another SQLite database": (another_sqlite_database, "not_a_state_file", "holds users"),
    "another database, its tables in the WAL": (another_database_in_wal_mode, "not_a_state_file", "holds users"),
    "truncated to half": (truncated(lambda size: size // 2), "damaged_state_file", "damaged or truncated"),
    "truncated by one page": (truncated(lambda size: size - 4096), "damaged_state_file", "damaged or truncated"),
    "truncated into its header": (truncated(lambda size: 50), "damaged_state_file", "damaged or truncated"),
    "0 bytes": (empty, "empty_state_file", "is empty (0 bytes)"),
}


@pytest.mark.parametrize("case", list(NOT_STATE_FILES))
def test_a_file_that_is_not_a_state_file_is_refused_untouched(tmp_path: Path, case: str) -> None:
    make, code, words = NOT_STATE_FILES[case]
    path = tmp_path / "state.db"
    make(path)
    before = contents(tmp_path)
    for attempt in (lambda: check_state_file(path), lambda: Database(path)):
        with pytest.raises(StorageError) as refused:
            attempt()
        assert refused.value.code == code
        assert words in refused.value.reason and str(path) in refused.value.reason
        assert "\n" not in refused.value.reason
    assert contents(tmp_path) == before  # no -wal or -shm added, nothing converted or checkpointed


def test_an_empty_state_file_says_how_to_start_fresh(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    path.touch()
    with pytest.raises(StorageError, match=r"to start with no state, delete it"):
        Database(path)


def test_a_state_file_driftwarden_made_passes_the_check(tmp_path: Path) -> None:
    path = a_state_file(tmp_path / "state.db")
    check_state_file(path)
    database = Database(path)
    assert Store(database).load_document("doc7") == {"filler": "x" * 2000}
    database.close()


def test_a_valid_sqlite_file_without_tables_is_taken_as_new(tmp_path: Path) -> None:
    """What `sqlite3 state.db 'PRAGMA user_version'` or an interrupted start of an older release leaves:
    nothing in it could be lost, so it becomes the state file."""
    path = tmp_path / "state.db"
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.close()
    check_state_file(path)
    Database(path).close()


def test_the_check_creates_nothing(tmp_path: Path) -> None:
    path = tmp_path / "new" / "dir" / "state.db"
    check_state_file(path)
    assert list(tmp_path.iterdir()) == []
    made = a_state_file(tmp_path / "state.db")
    names = sorted(p.name for p in tmp_path.iterdir())
    check_state_file(made)
    assert sorted(p.name for p in tmp_path.iterdir()) == names  # an immutable read: no -wal, no -shm


def test_a_state_path_under_a_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    for attempt in (
        lambda: check_state_file(tmp_path / "file" / "state.db"),
        lambda: Database(tmp_path / "file" / "s"),
    ):
        with pytest.raises(StorageError, match=r"is not a directory"):
            attempt()


def test_a_directory_as_the_state_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "state.db").mkdir()
    with pytest.raises(StorageError, match=r"is not a regular file"):
        check_state_file(tmp_path / "state.db")


@pytest.mark.usefixtures("umask_022")
def test_a_new_state_file_its_wal_and_shm_are_0600_in_a_0700_directory(tmp_path: Path) -> None:
    path = tmp_path / "parent" / "state" / "state.db"
    database = Database(path)
    Store(database).save_document("a", {"b": 1})
    files = [path, Path(f"{path}-wal"), Path(f"{path}-shm")]
    assert {f.name: oct(mode(f)) for f in files} == {f.name: "0o600" for f in files}
    assert oct(mode(path.parent)) == "0o700"
    assert sorted(p.name for p in path.parent.iterdir()) == ["state.db", "state.db-shm", "state.db-wal"]
    database.close()


@pytest.mark.usefixtures("umask_022")
def test_an_existing_directory_keeps_its_mode(tmp_path: Path) -> None:
    folder = tmp_path / "shared"
    folder.mkdir(mode=0o755)
    Database(folder / "state.db").close()
    assert oct(mode(folder)) == "0o755" and oct(mode(folder / "state.db")) == "0o600"
