"""The port holds up against many, idle and slow clients: `driftwarden run` in a subprocess with a small
`server:` section and a low open-files limit (`ulimit -n`), as a container might have.

The defect these pin down: 1,050 connections that sent nothing, against 1,024 file descriptors, made
every /healthz fail until they were released — uvicorn never times out a connection that has not sent
a request, and accepts connections until the process has no descriptor left."""

from __future__ import annotations

import contextlib
import resource
import select
import shlex
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from driftwarden.api.serving import DESCRIPTOR_RESERVE
from driftwarden.config import ServerSettings
from tests.support.ports import free_port
from tests.support.processes import DRIFTWARDEN, Served, serving

pytestmark = pytest.mark.server

DEFAULT_MAX = ServerSettings().max_connections
STOCK_FILES = DEFAULT_MAX + DESCRIPTOR_RESERVE + 128  # `ulimit -n` of a daemon with the default server settings
OPEN_FILES = 256  # `ulimit -n` of the others
MAX_CONNECTIONS = 32  # + DESCRIPTOR_RESERVE (128) fits under OPEN_FILES
BOUND = 15.0  # seconds: generous on a loaded 2-core machine, for timeouts of 1 s


def run_limited(
    tmp_path: Path, server: str | None, name: str, open_files: int = OPEN_FILES
) -> contextlib.AbstractContextManager[Served]:
    """`driftwarden run` under `ulimit -n open_files`, with `server:` set to `server` (None: the defaults)."""
    config = tmp_path / f"{name}.yaml"
    section = f"server: {server}\n" if server is not None else ""
    config.write_text(f"state_path: {tmp_path / name}.db\ngpu: {{enabled: false}}\n{section}")
    port = free_port()
    command = [*DRIFTWARDEN, "run", "--config", str(config), "--listen", f"127.0.0.1:{port}"]
    limited = ["sh", "-c", f"ulimit -n {open_files} && exec {shlex.join(command)}"]
    return serving(limited, base_url=f"http://127.0.0.1:{port}", log=tmp_path / f"{name}.log")


def address(served: Served) -> tuple[str, int]:
    host, port = served.base_url.removeprefix("http://").split(":")
    return host, int(port)


@contextlib.contextmanager
def idle_connections(served: Served, count: int) -> Iterator[list[socket.socket]]:
    """`count` connections that send nothing (the kernel completes them whether or not the daemon accepts)."""
    sockets = []
    try:
        for _ in range(count):
            sockets.append(socket.create_connection(address(served), timeout=5))
        yield sockets
    finally:
        for s in sockets:
            s.close()


def refused(served: Served, reason: str) -> float:
    """driftwarden_connections_refused_total{reason} as /metrics reports it."""
    with httpx.Client(base_url=served.base_url, timeout=BOUND) as client:
        text = client.get("/metrics").text
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "driftwarden_connections_refused_total" and sample.labels == {"reason": reason}:
                return sample.value
    return 0.0


def closed_by_server(s: socket.socket) -> bool:
    readable, _, _ = select.select([s], [], [], 0)
    if not readable:
        return False
    try:
        return s.recv(1 << 16) == b""
    except ConnectionError:
        return True


def read_until_closed(s: socket.socket, within: float = BOUND) -> bytes:
    """What the daemon answered on `s` before it closed it; fails when it is still open after `within` s."""
    deadline = time.monotonic() + within
    received = b""
    while time.monotonic() < deadline:
        s.settimeout(max(deadline - time.monotonic(), 0.01))
        try:
            chunk = s.recv(1 << 16)
        except TimeoutError:
            break
        except ConnectionError:
            return received
        if not chunk:
            return received
        received += chunk
    raise AssertionError(f"the daemon left the connection open for {within:g} s")


@pytest.fixture(scope="module")
def stock(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """The default server settings, under fewer open files than the flood below opens connections."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    needed = STOCK_FILES + 256  # this process's own end of the flood
    if soft < needed:
        if hard != resource.RLIM_INFINITY and hard < needed:
            pytest.skip(f"the flood needs {needed} open files; this process may open {hard}")
        resource.setrlimit(resource.RLIMIT_NOFILE, (needed, hard))
    with run_limited(tmp_path_factory.mktemp("stock"), None, "stock", open_files=STOCK_FILES) as served:
        yield served


@pytest.fixture(scope="module")
def guarded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    server = (
        f"{{max_connections: {MAX_CONNECTIONS}, header_timeout: 1s, body_timeout: 1s, keep_alive_timeout: 1s, "
        "max_header_bytes: 8192}"
    )
    with run_limited(tmp_path_factory.mktemp("guarded"), server, "guarded") as served:
        yield served


def test_more_idle_connections_than_open_files_do_not_lock_out_healthz(stock: Served) -> None:
    with idle_connections(stock, STOCK_FILES + 50) as idle:
        with httpx.Client(base_url=stock.base_url, timeout=BOUND) as client:
            assert client.get("/healthz").status_code == 200
            ingest = client.post(
                "/v1/predictions",
                content=b'{"model": "m", "features": {"a": 1}}\n',
                headers={"content-type": "application/x-ndjson"},
            )
            assert ingest.status_code == 200
        deadline = time.monotonic() + BOUND
        while sum(not closed_by_server(s) for s in idle) > DEFAULT_MAX and time.monotonic() < deadline:
            time.sleep(0.2)
        assert sum(not closed_by_server(s) for s in idle) <= DEFAULT_MAX  # the longest idle ones were shed
        assert f"closed the longest idle one (server.max_connections {DEFAULT_MAX})" in stock.log_text()
    assert refused(stock, "shed_idle") >= 1


def test_a_connection_that_sends_nothing_is_closed_after_the_header_timeout(guarded: Served) -> None:
    before = refused(guarded, "header_timeout")
    with socket.create_connection(address(guarded), timeout=5) as s:
        read_until_closed(s)
    assert refused(guarded, "header_timeout") == before + 1


def test_headers_trickled_a_line_at_a_time_are_cut_off(guarded: Served) -> None:
    with socket.create_connection(address(guarded), timeout=5) as s:
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        started, closed = time.monotonic(), False
        while not closed and time.monotonic() - started < BOUND:
            try:
                s.sendall(b"X-Slow: 1\r\n")  # each line well within the timeout: the deadline is for them all
            except ConnectionError:
                break
            time.sleep(0.2)
            closed = closed_by_server(s)
        else:
            assert closed, "the daemon kept reading headers trickled for longer than server.header_timeout"


def test_an_idle_keep_alive_connection_is_closed(guarded: Served) -> None:
    with socket.create_connection(address(guarded), timeout=5) as s:
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        assert s.recv(1 << 16).startswith(b"HTTP/1.1 200")
        read_until_closed(s)


@pytest.mark.parametrize("daemon", ["stock", "guarded"])
def test_headers_larger_than_the_limit_are_431(daemon: str, request: pytest.FixtureRequest) -> None:
    served: Served = request.getfixturevalue(daemon)
    limit = ServerSettings().max_header_bytes if daemon == "stock" else 8192
    before = refused(served, "headers_too_large")
    with httpx.Client(base_url=served.base_url, timeout=BOUND) as client:
        r = client.get("/healthz", headers={"x-big": "a" * limit})  # in one piece
        assert r.status_code == 431 and r.json()["reason"] == "headers_too_large"
        assert "server.max_header_bytes" in r.json()["error"]
        assert client.get("/healthz", headers={"x-small": "a" * (limit // 2)}).status_code == 200
    with socket.create_connection(address(served), timeout=BOUND) as s:  # a line at a time, never ending
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        with contextlib.suppress(ConnectionError):
            for _ in range(limit // 1000 + 1):
                s.sendall(b"X-Line: " + b"a" * 1000 + b"\r\n")
        assert read_until_closed(s).startswith(b"HTTP/1.1 431")
    assert refused(served, "headers_too_large") == before + 2  # in one piece, and a line at a time


def test_a_body_that_does_not_arrive_in_time_is_408(guarded: Served) -> None:
    with socket.create_connection(address(guarded), timeout=BOUND) as s:
        s.sendall(
            b"POST /v1/predictions HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-ndjson\r\n"
            b"Content-Length: 1000\r\n\r\n" + b'{"model": "m", '
        )
        answer = read_until_closed(s)
        assert answer.startswith(b"HTTP/1.1 408") and b'"reason":"body_timeout"' in answer
    with httpx.Client(base_url=guarded.base_url) as client:
        counted = 'driftwarden_requests_rejected_total{endpoint="/v1/predictions",reason="body_timeout"} 1.0'
        assert counted in client.get("/metrics").text


def test_when_every_connection_is_busy_one_more_is_503(tmp_path: Path) -> None:
    with run_limited(tmp_path, "{max_connections: 4, body_timeout: 1h}", "busy") as served:
        busy = []
        try:
            for _ in range(4):  # each inside a request whose body is still coming: nothing idle to close
                s = socket.create_connection(address(served), timeout=BOUND)
                s.sendall(b"POST /v1/labels HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n[")
                busy.append(s)
            time.sleep(0.5)  # the daemon has read their headers
            with httpx.Client(base_url=served.base_url, timeout=BOUND) as client:
                r = client.get("/healthz")
                assert r.status_code == 503 and r.json()["reason"] == "too_many_connections"
                assert r.headers["retry-after"] == "1"
        finally:
            for s in busy:
                s.close()
        with httpx.Client(base_url=served.base_url, timeout=BOUND) as client:
            deadline = time.monotonic() + BOUND
            while client.get("/healthz").status_code != 200:
                assert time.monotonic() < deadline
                time.sleep(0.1)
        assert refused(served, "too_many_connections") == 1


def test_too_few_open_files_for_max_connections_is_a_config_error(tmp_path: Path) -> None:
    config = tmp_path / "c.yaml"
    config.write_text(f"state_path: {tmp_path / 's.db'}\ngpu: {{enabled: false}}\nserver: {{max_connections: 512}}\n")
    command = shlex.join([*DRIFTWARDEN, "run", "--config", str(config), "--listen", f"127.0.0.1:{free_port()}"])
    done = subprocess.run(
        ["sh", "-c", f"ulimit -n 256 && exec {command}"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert "server.max_connections" in done.stderr and "ulimit -n" in done.stderr and "128" in done.stderr
