"""Every file and directory a config names, checked before anything starts: by `driftwarden config
validate` and by `driftwarden run` alike, so that what validates also starts.

Each problem is one line naming where the config gives the key, the key and the path
(`driftwarden.yaml:3:18: auth_token_file: /run/token: No such file or directory`); all are raised
together as one ConfigError (exit 2). Nothing is created or written:
a state file that does not exist yet only needs a directory where it can be made. A source file
may be missing (it is followed like `tail -F`, from when it appears), but not its directory. A
receiver secret given by environment variable (`routing_key_env`, `api_key_env`, ...) must be set.
"""

from __future__ import annotations

import os
import ssl
from collections.abc import Iterator
from pathlib import Path

from driftwarden.collector.tables import TableError, check_readable
from driftwarden.config import SECRET_SOURCES, Config, ConfigError, Problem, locate, read_config_file
from driftwarden.core.errors import StorageError
from driftwarden.persistence.database import check_state_file

__all__ = ["check_files"]

SECRET_BYTES = 64 * 1024  # a token or key file larger than this is not one


def check_files(config: Config, source: Path | None = None) -> None:
    """Raise ConfigError listing every named file or directory that cannot be used, each at its line
    of `source`, the file `config` was loaded from."""
    found = [
        *_secrets(config),
        *_secret_variables(config),
        *_tls(config),
        *_references(config),
        *_sources(config),
        *_state(config),
    ]
    if not found:
        return
    document = read_config_file(source) if source is not None else None
    problems = []
    for line in found:
        key, _, message = line.partition(": ")
        problems.append(Problem(key, message, locate(document, key)))
    raise ConfigError(problems)


def _secrets(config: Config) -> Iterator[str]:
    files: list[tuple[str, Path | None, bool]] = [("auth_token_file", config.auth_token_file, True)]
    files += [(f"auth.tokens.{name}", path, True) for name, path in config.auth.tokens.items()]
    for i, receiver in enumerate(config.receivers):
        files.append((f"receivers.{i}.routing_key_file", receiver.routing_key_file, True))  # sent as JSON text
        files.append((f"receivers.{i}.hmac_secret_file", receiver.hmac_secret_file, False))  # bytes to HMAC with
        for key in ("api_key_file", "webhook_url_file", "bot_token_file"):  # sent in a header or as the URL
            files.append((f"receivers.{i}.{key}", getattr(receiver, key), True))
    unusable = False
    for key, path, text in files:
        if path is None:
            continue
        problem = _secret_problem(path, text=text)
        if problem:
            unusable = True
            yield f"{key}: {path}: {problem}"
    if not unusable:
        try:  # two names with one token: the audit trail could not tell their callers apart
            config.auth_tokens()
        except ConfigError as exc:
            yield from exc.problems


def _secret_variables(config: Config) -> Iterator[str]:
    """Each receiver secret given by environment variable (`*_env`) is set, as the daemon reads it."""
    for i, receiver in enumerate(config.receivers):
        for secret in SECRET_SOURCES:
            name: str | None = getattr(receiver, f"{secret}_env")
            if name is not None and not os.environ.get(name, "").strip():
                yield f"receivers.{i}.{secret}_env: environment variable {name} is not set"


def _secret_problem(path: Path, *, text: bool) -> str | None:
    """What the daemon does with the file (read it whole, strip it), checked the same way."""
    if path.exists() and not path.is_file():
        return "not a regular file"
    try:
        with path.open("rb") as f:
            content = f.read(SECRET_BYTES + 1)
    except OSError as exc:
        return exc.strerror or str(exc)
    if len(content) > SECRET_BYTES:
        return f"larger than {SECRET_BYTES // 1024} KiB: not a secret"
    if not content.strip():
        return "empty"
    if text:
        try:
            content.decode("utf-8")
        except UnicodeDecodeError:
            return "not UTF-8 text"
    return None


class _Encrypted(Exception):
    """The key asked for a passphrase, which driftwarden has no way to be given."""


def _no_passphrase() -> bytes:
    raise _Encrypted


def _tls(config: Config) -> Iterator[str]:
    """Loaded as uvicorn will load them, so a bad PEM is named here rather than in a traceback."""
    cert, key = config.tls_cert_file, config.tls_key_file
    if cert is None or key is None:  # the config holds both or neither
        return
    unreadable = [
        f"{name}: {path}: {problem}"
        for name, path in (("tls_cert_file", cert), ("tls_key_file", key))
        if (problem := _readable(path))
    ]
    if unreadable:
        yield from unreadable
        return
    try:
        ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER).load_cert_chain(cert, key, password=_no_passphrase)
    except _Encrypted:
        yield (
            f"tls_key_file: {key}: the private key is encrypted, and driftwarden takes no passphrase: "
            f"decrypt it (openssl pkey -in {key} -out key.pem) and keep the file private"
        )
    except ssl.SSLError as exc:
        if exc.reason == "KEY_VALUES_MISMATCH":
            yield f"tls_key_file: {key}: not the private key of tls_cert_file {cert}"
        elif not _holds_certificate(cert):
            yield f"tls_cert_file: {cert}: no PEM certificate in it"
        else:
            yield f"tls_key_file: {key}: no PEM private key in it ({exc.reason or exc})"


def _holds_certificate(path: Path) -> bool:
    try:
        ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER).load_verify_locations(cafile=path)
    except ssl.SSLError:
        return False
    return True


def _readable(path: Path) -> str | None:
    if path.exists() and not path.is_file():
        return "not a regular file"
    try:
        path.open("rb").close()
    except OSError as exc:
        return exc.strerror or str(exc)
    return None


def _references(config: Config) -> Iterator[str]:
    """Its schema only: the daemon fits the file with a bounded-memory scan, which reading it whole here would undo."""
    for model, settings in config.models.items():
        if settings.reference is not None and not settings.previous_as_reference:
            try:
                check_readable(Path(settings.reference))
            except TableError as exc:
                yield f"models.{model}.reference: {settings.reference}: {exc}"


def _sources(config: Config) -> Iterator[str]:
    for i, source in enumerate(config.sources):
        if source.file.exists() or source.file.is_symlink():
            problem = _readable(source.file)
            if problem:
                yield f"sources.{i}.file: {source.file}: {problem}"
        elif not source.file.parent.is_dir():
            yield f"sources.{i}.file: {source.file}: the directory {source.file.parent} does not exist"


def _state(config: Config) -> Iterator[str]:
    try:
        check_state_file(config.state_path)
    except StorageError as exc:
        yield f"state_path: {exc.reason}"
