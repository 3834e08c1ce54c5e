"""Start-up, run as a user runs it: every file and directory the config names is checked by
`driftwarden config validate` and by `driftwarden run` before anything starts; each problem is one
line naming where the config gives the key (`file:line:column:`), the key and the path, the exit code 2,
no traceback, nothing created."""

from __future__ import annotations

import os
import sqlite3
import stat
import subprocess
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from tests.support.ports import free_port
from tests.support.processes import driftwarden, driftwarden_run
from tests.support.startup import assert_refused, run, unlocated, validate, write_config

NO_FILE = "No such file or directory"


def missing_files(tmp: Path) -> dict[str, tuple[str, str]]:
    """A config naming a file that is not there, and the line that says so."""
    gone = tmp / "gone"
    hook = "{name: hook, type: webhook, url: 'http://127.0.0.1:9/hook', hmac_secret_file: %s}" % (gone / "hmac")
    pd = "{name: pd, type: pagerduty, routing_key_file: %s}" % (gone / "pd-key")
    return {
        "token": (f"auth_token_file: {gone / 'token'}\n", f"auth_token_file: {gone / 'token'}: {NO_FILE}"),
        "tls": (
            f"tls_cert_file: {gone / 'cert.pem'}\ntls_key_file: {gone / 'key.pem'}\n",
            f"tls_cert_file: {gone / 'cert.pem'}: {NO_FILE}\nconfig error tls_key_file: {gone / 'key.pem'}: {NO_FILE}",
        ),
        "reference": (
            f"models: {{fraud: {{reference: {gone / 'ref.parquet'}}}}}\n",
            f"models.fraud.reference: {gone / 'ref.parquet'}: {NO_FILE}",
        ),
        "routing key": (
            f"receivers: [{pd}]\n",
            f"receivers.0.routing_key_file: {gone / 'pd-key'}: {NO_FILE}",
        ),
        "hmac secret": (
            f"receivers: [{hook}]\n",
            f"receivers.0.hmac_secret_file: {gone / 'hmac'}: {NO_FILE}",
        ),
        "source directory": (
            f"sources: [{{file: {gone / 'predictions.ndjson'}}}]\n",
            f"sources.0.file: {gone / 'predictions.ndjson'}: the directory {gone} does not exist",
        ),
    }


@pytest.mark.parametrize("case", list(missing_files(Path("/x"))))
def test_a_missing_file_is_one_line_naming_key_and_path_in_validate_and_run(tmp_path: Path, case: str) -> None:
    body, line = missing_files(tmp_path)[case]
    config = write_config(tmp_path, body)
    assert_refused(validate(config), *line.split("\nconfig error "))
    assert_refused(run(config), *line.split("\nconfig error "))
    assert not (tmp_path / "state").exists()  # refused before anything was made


def test_a_path_is_printed_as_it_is_never_read_as_markup(tmp_path: Path) -> None:
    token = tmp_path / "[red]" / "[/]token"
    config = write_config(tmp_path, f"auth_token_file: '{token}'\n")
    assert_refused(validate(config), f"auth_token_file: {token}: {NO_FILE}")


def test_every_problem_is_listed_at_once(tmp_path: Path) -> None:
    token, secret = tmp_path / "token", tmp_path / "secret"
    token.write_text("  \n")
    secret.mkdir()
    config = write_config(
        tmp_path,
        f"auth_token_file: {token}\n"
        f"receivers: [{{name: hook, type: webhook, url: 'http://127.0.0.1:9/', hmac_secret_file: {secret}}}]\n"
        f"models: {{a: {{reference: {tmp_path / 'a.csv'}}}}}\n",
    )
    lines = [
        f"auth_token_file: {token}: empty",
        f"receivers.0.hmac_secret_file: {secret}: not a regular file",
        f"models.a.reference: {tmp_path / 'a.csv'}: {NO_FILE}",
    ]
    assert_refused(validate(config), *lines)
    assert_refused(run(config), *lines)
    lines_of = {line.split(": ")[1]: line.split(": ")[0] for line in run(config).stderr.splitlines()}
    assert lines_of == {  # the config's first two lines are write_config's
        "auth_token_file": f"config error {config}:3:18",
        "receivers.0.hmac_secret_file": f"config error {config}:4:87",
        "models.a.reference": f"config error {config}:5:25",
    }


def test_a_token_that_is_not_utf8_is_refused(tmp_path: Path) -> None:
    token = tmp_path / "token"
    token.write_bytes(b"\xff\xfesecret\n")
    config = write_config(tmp_path, f"auth_token_file: {token}\n")
    assert_refused(validate(config), f"auth_token_file: {token}: not UTF-8 text")
    assert_refused(run(config), f"auth_token_file: {token}: not UTF-8 text")


def test_a_config_that_is_not_utf8_is_refused(tmp_path: Path) -> None:
    config = tmp_path / "c.yaml"
    config.write_bytes(b"listen: 127.0.0.1:4318\n# caf\xe9\n")
    line = f"{config}: not UTF-8 text (byte 0xe9 on line 2)"
    assert_refused(validate(config), line)
    assert_refused(run(config), line)


def openssl(*args: str) -> None:
    made = subprocess.run(["openssl", *args], capture_output=True, check=False)
    if made.returncode != 0:
        pytest.skip("openssl could not make a test certificate")


def certificate(folder: Path, name: str) -> tuple[Path, Path]:
    cert, key = folder / f"{name}.crt", folder / f"{name}.key"
    openssl(
        "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", f"/CN={name}",
        "-keyout", str(key), "-out", str(cert),
    )  # fmt: skip
    return cert, key


def test_tls_files_that_do_not_load_are_named(tmp_path: Path) -> None:
    cert, key = certificate(tmp_path, "a")
    _, other_key = certificate(tmp_path, "b")
    encrypted = tmp_path / "encrypted.key"
    openssl("pkey", "-in", str(key), "-aes256", "-passout", "pass:x", "-out", str(encrypted))
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("not a certificate\n")
    cases = {
        (cert, other_key): f"tls_key_file: {other_key}: not the private key of tls_cert_file {cert}",
        (cert, encrypted): f"tls_key_file: {encrypted}: the private key is encrypted",
        (garbage, key): f"tls_cert_file: {garbage}: no PEM certificate in it",
        (cert, garbage): f"tls_key_file: {garbage}: no PEM private key in it",
    }
    for (cert_file, key_file), line in cases.items():
        config = write_config(tmp_path, f"tls_cert_file: {cert_file}\ntls_key_file: {key_file}\n")
        for result in (validate(config), run(config)):
            assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr
            (printed,) = unlocated(result.stderr)
            assert printed.startswith(f"config error {line}"), printed


def a_state_file(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(path)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("CREATE TABLE windows (model TEXT PRIMARY KEY, saved_at REAL NOT NULL, window BLOB NOT NULL)")
    db.executemany("INSERT INTO windows VALUES (?, 0, ?)", [(f"m{i}", b"x" * 4000) for i in range(40)])
    db.commit()
    db.close()


def truncated(path: Path) -> None:
    a_state_file(path)
    os.truncate(path, path.stat().st_size // 2)


def other_database(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE invoices (id INTEGER PRIMARY KEY)")
    db.commit()
    db.close()


def empty(path: Path) -> None:
    path.write_bytes(b"")


def random_bytes(path: Path) -> None:
    path.write_bytes(os.urandom(4096))


STATE_FILES: dict[str, tuple[Callable[[Path], None], str]] = {
    "0 bytes": (
        empty,
        "is empty (0 bytes): not a driftwarden state file, and no state to load; to start with no state, delete it",
    ),
    "random bytes": (random_bytes, "is not a driftwarden state file (not an SQLite database)"),
    "another database": (other_database, "is not a driftwarden state file: it holds invoices"),
    "truncated": (truncated, "is damaged or truncated (database disk image is malformed)"),
}


@pytest.mark.parametrize("case", list(STATE_FILES))
def test_a_state_file_that_is_not_ours_is_refused_untouched(tmp_path: Path, case: str) -> None:
    make, words = STATE_FILES[case]
    state = tmp_path / "state" / "state.db"
    state.parent.mkdir()
    make(state)
    before = state.read_bytes()
    config = write_config(tmp_path, "")
    for result in (validate(config), run(config)):
        assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr
        (line,) = unlocated(result.stderr)
        assert line.startswith(f"config error state_path: state file {state} {words}"), line
    assert state.read_bytes() == before
    assert sorted(p.name for p in state.parent.iterdir()) == ["state.db"]


@pytest.mark.parametrize("case", list(STATE_FILES))
def test_reference_build_and_demo_refuse_such_a_state_file_in_one_line(tmp_path: Path, case: str) -> None:
    make, words = STATE_FILES[case]
    state = tmp_path / "state" / "state.db"
    state.parent.mkdir()
    make(state)
    before = state.read_bytes()
    table = tmp_path / "reference.csv"
    table.write_text("amount,country\n1.5,DE\n2.5,FR\n")
    config = write_config(tmp_path, "")
    build = driftwarden(
        "reference", "build", "--config", str(config), "--model", "m", "--input", str(table), timeout=60
    )
    demo = driftwarden(
        "demo", "--state", str(state), "--listen", f"127.0.0.1:{free_port()}", "--duration", "1", "--exit", timeout=60
    )
    for result, prefix in ((build, "config error state_path:"), (demo, "error --state:")):
        assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr
        (line,) = result.stderr.strip().splitlines()
        assert line.startswith(f"{prefix} state file {state} {words}"), line
    assert state.read_bytes() == before
    assert sorted(p.name for p in state.parent.iterdir()) == ["state.db"]  # nothing written beside it


def test_a_state_path_that_cannot_be_made_is_refused(tmp_path: Path) -> None:
    (tmp_path / "state").write_text("a file where the directory should be")
    config = write_config(tmp_path, "")
    line = f"state_path: state file {tmp_path / 'state' / 'state.db'}: {tmp_path / 'state'} is not a directory"
    assert_refused(validate(config), line)
    assert_refused(run(config), line)


def test_validate_passes_a_config_whose_files_are_all_there(tmp_path: Path) -> None:
    token, secret, reference = tmp_path / "token", tmp_path / "hmac", tmp_path / "ref.csv"
    token.write_text("s3cret\n")
    secret.write_bytes(b"\x00\x01binary secrets are fine\n")
    reference.write_text("a,b\n1,2\n3,4\n")
    config = write_config(
        tmp_path,
        f"auth_token_file: {token}\nmodels: {{fraud: {{reference: {reference}}}}}\n"
        f"receivers: [{{name: hook, type: webhook, url: 'http://127.0.0.1:9/', hmac_secret_file: {secret}}}]\n"
        f"sources: [{{file: {tmp_path / 'not-yet-written.ndjson'}}}]\n",
    )
    result = validate(config)
    assert result.returncode == 0, result.stderr
    assert not (tmp_path / "state").exists()  # validate creates nothing


def mode(path: Path) -> str:
    return oct(stat.S_IMODE(path.stat().st_mode))


def test_the_daemon_makes_its_state_private(tmp_path: Path) -> None:
    state = tmp_path / "data" / "state" / "state.db"
    config = tmp_path / "c.yaml"
    config.write_text(f"state_path: {state}\ngpu: {{enabled: false}}\n")
    previous = os.umask(0o022)  # the child inherits it: files 0644 and directories 0755 unless made private
    try:
        with driftwarden_run(config, tmp_path / "daemon.log") as served:
            put = httpx.put(
                f"{served.base_url}/v1/models/fraud/reference",
                content=b"a,b\n1,2\n3,4\n5,6\n",
                headers={"content-type": "text/csv"},
            )
            assert put.status_code == 200, put.text
            files = {p.name: mode(p) for p in state.parent.iterdir()}
    finally:
        os.umask(previous)
    assert files == {"state.db": "0o600", "state.db-wal": "0o600", "state.db-shm": "0o600"}
    assert mode(state.parent) == "0o700"
