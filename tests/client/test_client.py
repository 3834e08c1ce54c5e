"""`driftwarden.client.DriftClient` against a real daemon over real HTTP (issue 19), and against a small HTTP server
that answers 429 the way a sidecar with a full queue does: batching by size and by interval, both formats, the
same records arriving, Retry-After honoured, records given up on after the retries and beyond the buffer counted."""

from __future__ import annotations

import itertools
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import orjson
import pytest

from driftwarden.client import DriftClient
from tests.support.server import Daemon, running

pytestmark = pytest.mark.server


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Daemon]:
    with running(tmp_path_factory.mktemp("client") / "state.db", evaluate_every="1h") as d:
        yield d


def wait_for(condition: object, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


@pytest.mark.parametrize("form", ["ndjson", "arrow"])
def test_records_are_batched_and_arrive_in_the_daemon(daemon: Daemon, form: str) -> None:
    model = f"client-{form}"
    with DriftClient(daemon.url, format=form, batch_size=100, flush_interval=30.0) as client:  # type: ignore[arg-type]
        threads = [
            threading.Thread(
                target=lambda t=t: [
                    client.record(model, {"a": float(i), "c": "DE"}, prediction=0.5, request_id=f"{t}-{i}")
                    for i in range(125)
                ]
            )
            for t in range(4)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        wait_for(lambda: client.stats.posts == 5)  # 500 records in batches of 100: no partial batch before 30 s
        assert client.buffered == 0
    stats = client.stats
    assert (stats.sent, stats.rejected, stats.dropped, stats.failed, stats.posts) == (500, 0, 0, 0, 5)
    assert daemon.metric("driftwarden_records_total", model=model, source="http") == 500


def test_a_partial_batch_goes_after_the_flush_interval(daemon: Daemon) -> None:
    with DriftClient(daemon.url, batch_size=1000, flush_interval=0.2) as client:
        client.record("client-interval", {"a": 1.0})
        wait_for(lambda: client.stats.sent == 1)
        assert client.stats.posts == 1


def test_records_the_daemon_refuses_are_counted_not_retried(daemon: Daemon) -> None:
    with DriftClient(daemon.url, batch_size=3, flush_interval=30.0) as client:
        client.record("bad model", {"a": 1.0})
        client.record("client-refused", {"a": 1.0})
        client.record("client-refused", {"a": [1.0]})
        wait_for(lambda: client.stats.posts == 1)
    assert (client.stats.sent, client.stats.rejected, client.stats.retries) == (1, 2, 0)


class Overloaded(BaseHTTPRequestHandler):
    """Answers 429 (Retry-After: `retry_after`) to the first `refuse` posts, then accepts every record."""

    refuse = 2
    retry_after = "0.2"
    posts: ClassVar[list[tuple[float, int]]] = []  # (when, records) of each post; a list per test (fixture)

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        records = len(body.splitlines())
        type(self).posts.append((time.monotonic(), records))
        if len(self.posts) <= self.refuse:
            self.send_response(429)
            self.send_header("Retry-After", self.retry_after)
            answer = orjson.dumps({"error": "ingest queue full", "reason": "queue_full"})
        else:
            self.send_response(200)
            answer = orjson.dumps({"accepted": records, "rejected": 0, "errors": []})
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def overloaded() -> Iterator[tuple[str, type[Overloaded]]]:
    handler = type("Handler", (Overloaded,), {"posts": []})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", handler
    finally:
        server.shutdown()
        server.server_close()


def test_a_429_is_retried_after_its_retry_after(overloaded: tuple[str, type[Overloaded]]) -> None:
    url, handler = overloaded
    with DriftClient(url, batch_size=10, flush_interval=30.0, backoff=0.001) as client:
        for i in range(10):
            client.record("m", {"a": float(i)})
        wait_for(lambda: client.stats.sent == 10)
    assert (client.stats.posts, client.stats.retries, client.stats.failed) == (3, 2, 0)
    when = [t for t, _ in handler.posts]
    # the client waited as told, not its own 1 ms backoff (a lower bound: a busy machine only waits longer)
    assert all(b - a >= 0.2 for a, b in itertools.pairwise(when))


def test_a_sidecar_that_stays_overloaded_costs_records_not_memory(overloaded: tuple[str, type[Overloaded]]) -> None:
    url, handler = overloaded
    handler.refuse, handler.retry_after = 10**6, "0.3"  # each batch is held ~0.6 s: the buffer fills meanwhile
    client = DriftClient(url, batch_size=10, max_buffer=20, flush_interval=30.0, max_retries=2, close_timeout=20)
    accepted = [client.record("m", {"a": 1.0}) for _ in range(10)]  # the first batch, sent and refused
    wait_for(lambda: len(handler.posts) >= 1)
    accepted += [client.record("m", {"a": 1.0}) for _ in range(40)]  # 20 fit the buffer while it retries
    client.close()
    stats = client.stats
    assert accepted.count(False) == stats.dropped == 20
    assert stats.failed == 30 and stats.sent == 0  # three batches, each refused three times (two retries)
    assert stats.posts == len(handler.posts)


def test_the_client_imports_none_of_the_daemon(tmp_path: Path) -> None:
    heavy = "{'numpy', 'scipy', 'polars', 'fastapi', 'pyarrow', 'sklearn'}"
    code = f"import sys, driftwarden.client; print(sorted(m for m in sys.modules if m.split('.')[0] in {heavy} "
    code += "or m.startswith('driftwarden.')))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=tmp_path)
    assert out.stdout.strip() == "['driftwarden.client']"
