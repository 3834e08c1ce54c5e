"""State-file faults seen from outside: `driftwarden run` as a process, over real HTTP.

(a) The state file stops taking writes while the daemon runs: /readyz turns 503 with the reason,
    /metrics shows it, ingest and reads keep answering 200; once writes succeed again /readyz
    is 200 and a restart finds everything stored before, and during, the outage.
    How writes are made to fail for real (tests/persistence/faults.py): RLIMIT_FSIZE = 0 set on
    the daemon's process (EFBIG: "disk I/O error"; any user), and a full tmpfs ("database or
    disk is full"; only where mounting is permitted, else skipped).
(b) Stored rows that no longer load are skipped at start, each with a log line, and counted in
    driftwarden_state_rows_skipped_total{kind}; the daemon starts and serves the rest.
"""

from __future__ import annotations

import contextlib
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

import httpx
import numpy as np
import orjson
import pytest
from prometheus_client.parser import text_string_to_metric_families

from driftwarden.config import load_config
from driftwarden.detectors.reference import ReferenceProfile
from driftwarden.detectors.slo import SLOTracker
from driftwarden.params import slo_params
from driftwarden.persistence.database import Database
from driftwarden.persistence.store import Store
from tests.persistence.faults import full_disk, refuse_writes, tmpfs

pytestmark = pytest.mark.server

T = TypeVar("T")


class Running:
    """`driftwarden run` in a subprocess on a free loopback port; its log read through a pipe
    (a pipe, unlike a log file, is not subject to the RLIMIT_FSIZE the tests set on it)."""

    def __init__(self, config: Path) -> None:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"
        cmd = [sys.executable, "-m", "driftwarden", "run", "--config", str(config), "--listen", f"127.0.0.1:{port}"]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.lines: list[str] = []
        self._reader = threading.Thread(target=lambda: self.lines.extend(self.proc.stdout or ()), daemon=True)
        self._reader.start()
        self.client = httpx.Client(base_url=self.url, timeout=10)

    @property
    def log(self) -> str:
        return "".join(self.lines)

    def wait_ready(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while True:
            assert self.proc.poll() is None, f"driftwarden exited with {self.proc.returncode}:\n{self.log}"
            with contextlib.suppress(httpx.HTTPError):
                if self.client.get("/readyz").status_code == 200:
                    return
            assert time.monotonic() < deadline, f"driftwarden not ready after {timeout}s:\n{self.log}"
            time.sleep(0.05)

    def metric(self, name: str, **labels: str) -> float | None:
        for family in text_string_to_metric_families(self.client.get("/metrics").text):
            for sample in family.samples:
                if sample.name == name and sample.labels == labels:
                    return sample.value
        return None

    def stop(self) -> None:
        self.client.close()
        if self.proc.poll() is None:
            self.proc.terminate()
        self.proc.wait(timeout=20)
        self._reader.join(timeout=5)


@contextlib.contextmanager
def running(config: Path) -> Iterator[Running]:
    daemon = Running(config)
    try:
        daemon.wait_ready()
        yield daemon
    finally:
        daemon.stop()


def eventually(check: Callable[[], T], what: str, timeout: float = 15) -> T:
    deadline = time.monotonic() + timeout
    while not (result := check()):
        assert time.monotonic() < deadline, f"not within {timeout}s: {what}"
        time.sleep(0.05)
    return result


def write_config(tmp_path: Path, state: Path, extra: str = "") -> Path:
    config = tmp_path / "driftwarden.yaml"
    config.write_text(
        f"state_path: {state}\nevaluate_every: 1h\ncheckpoint_every: 1s\ngpu: {{enabled: false}}\n" + extra
    )
    return config


def records(rng: np.random.Generator, n: int) -> bytes:
    return b"\n".join(
        orjson.dumps({"model": "fraud", "features": {"a": a, "b": b}}) for a, b in rng.normal(size=(n, 2)).tolist()
    )


def rows(daemon: Running) -> dict[str, dict[str, int]]:
    return {m["model"]: m["rows"] for m in daemon.client.get("/v1/models").json()["models"]}


def saved_at(state: Path, model: str) -> float:
    db = sqlite3.connect(state)
    try:
        found = db.execute("SELECT saved_at FROM windows WHERE model = ?", (model,)).fetchone()
        return found[0] if found else 0.0
    finally:
        db.close()


@pytest.mark.parametrize("fault", ["file_size_limit", "disk_full"])
def test_a_state_file_that_refuses_writes_turns_readyz_503_until_writes_succeed(tmp_path: Path, fault: str) -> None:
    rng = np.random.default_rng(7)
    with contextlib.ExitStack() as stack:
        folder = stack.enter_context(tmpfs(tmp_path / "state")) if fault == "disk_full" else tmp_path / "state"
        state = folder / "state.db"
        config = write_config(tmp_path, state)
        ndjson = {"content-type": "application/x-ndjson"}
        with running(config) as d:
            reference = b"a,b\n" + b"\n".join(b"%f,%f" % tuple(r) for r in rng.normal(size=(500, 2)))
            put = d.client.put("/v1/models/fraud/reference", content=reference, headers={"content-type": "text/csv"})
            assert put.status_code == 200, put.text
            assert d.client.post("/v1/predictions", content=records(rng, 200), headers=ndjson).status_code == 200
            eventually(lambda: saved_at(state, "fraud"), "the first window checkpoint")

            refused = refuse_writes(d.proc.pid) if fault == "file_size_limit" else full_disk(folder)
            error = "disk I/O error" if fault == "file_size_limit" else "database or disk is full"
            with refused:
                assert d.client.post("/v1/predictions", content=records(rng, 100), headers=ndjson).status_code == 200
                unready = eventually(lambda: (r := d.client.get("/readyz")).status_code == 503 and r, "/readyz 503")
                body = unready.json()
                assert body["status"] == "unready"
                assert body["reason"].startswith(f"state file not writable: {error} (last failed write: window ")
                assert d.metric("driftwarden_state_writable") == 0
                failures = "driftwarden_state_write_failures_total"
                eventually(lambda: (d.metric(failures, operation="window_checkpoint") or 0) >= 3, "failed checkpoints")
                # ingest and reads go on
                assert d.client.post("/v1/predictions", content=records(rng, 100), headers=ndjson).status_code == 200
                eventually(lambda: rows(d)["fraud"] == {"reference": 500, "current": 400}, "rows in the window")
                assert d.client.get("/readyz").status_code == 503
                assert d.log.count(f"saving window checkpoint failed: {error}. Reads and ingest go on") == 1
            recovered = time.time()
            eventually(lambda: d.client.get("/readyz").status_code == 200, "/readyz 200 again")
            assert d.metric("driftwarden_state_writable") == 1
            assert "takes writes again" in d.log
            eventually(lambda: saved_at(state, "fraud") > recovered, "a window checkpoint after the outage")
        with running(config) as again:  # nothing stored before, or admitted during, the outage is lost
            assert rows(again)["fraud"] == {"reference": 500, "current": 400}
            assert again.metric("driftwarden_state_write_failures_total", operation="window_checkpoint") is None


def test_stored_rows_that_no_longer_load_are_skipped_at_start(tmp_path: Path) -> None:
    state = tmp_path / "state.db"
    store = Store(Database(state))
    store.save_reference("good", ReferenceProfile.fit(["a"], np.arange(300.0).reshape(-1, 1)), source="test")
    silence = {"matchers": {"model": "good"}, "starts_at": time.time(), "ends_at": time.time() + 3600}
    store.save_document("silences", [{"id": "kept", **silence}, {"id": "bad", **silence, "ends_at": "soon"}])
    store.close()
    db = sqlite3.connect(state, isolation_level=None)
    db.execute("INSERT INTO reference_profiles VALUES ('broken', 0, 'test', ?)", (b"PK\x03\x04 truncated",))
    db.execute("INSERT INTO documents VALUES ('alerts', 0, ?)", (b'[{"fingerprint": "f", "stat',))
    db.execute(
        "INSERT INTO outbox (receiver, ordering_key, headers, body, created_at, next_attempt_at) "
        "VALUES ('am', 'k', ?, ?, ?, ?)",
        (b"{not json", b"{}", time.time(), time.time()),
    )
    db.close()

    with running(write_config(tmp_path, state)) as d:
        assert rows(d) == {"good": {"reference": 300, "current": 0}}
        assert [s["id"] for s in d.client.get("/v1/silences").json()["silences"]] == ["kept"]
        skipped = "driftwarden_state_rows_skipped_total"
        eventually(lambda: d.metric(skipped, kind="outbox") == 1, "the outbox row skipped")
        assert d.metric(skipped, kind="reference") == 1
        assert d.metric(skipped, kind="document") == 1
        assert d.metric(skipped, kind="silence") == 1
        assert d.metric(skipped, kind="window") == 0
        assert d.client.get("/readyz").status_code == 200
        log = d.log
    assert "skipped reference 'broken' (table reference_profiles)" in log
    assert "skipped document 'alerts' (table documents)" in log and "JSONDecodeError" in log
    assert "skipped silence 'bad' (table documents)" in log and "ends_at must be a number" in log
    assert "skipped outbox 'id 1' (table outbox)" in log


def test_stored_references_past_todays_bounds_are_skipped_at_start(tmp_path: Path) -> None:
    """Saved before references were held to max_features and 1-128 character names, they would make
    a series per column for as long as the file is used."""
    state = tmp_path / "state.db"
    store = Store(Database(state))
    column = np.arange(300.0).reshape(-1, 1)
    store.save_reference("good", ReferenceProfile.fit(["a"], column), source="test")
    wide = [f"f{j}" for j in range(12)]
    store.save_reference("wide", ReferenceProfile.fit(wide, np.tile(column, (1, 12))), source="test")
    store.save_reference("long", ReferenceProfile.fit(["x" * 129], column), source="test")
    store.save_reference("unnamed", ReferenceProfile.fit([""], column), source="test")
    long_category = ReferenceProfile.fit(["a"], column, categories={"c" * 200: {"DE": 3}})
    store.save_reference("categories", long_category, source="test")
    store.save_reference("not a model name", ReferenceProfile.fit(["a"], column), source="test")
    store.close()

    with running(write_config(tmp_path, state, "limits: {max_features: 10}\n")) as d:
        assert rows(d) == {"good": {"reference": 300, "current": 0}}
        assert d.metric("driftwarden_state_rows_skipped_total", kind="reference") == 5
        assert d.client.get("/readyz").status_code == 200
        log = d.log
    assert "skipped reference 'wide' (table reference_profiles)" in log and "limits.max_features (10)" in log
    for model in ("long", "unnamed", "categories"):
        assert f"skipped reference {model!r} (table reference_profiles)" in log
    assert log.count("feature names are 1-128 characters") == 3
    assert "skipped reference 'not a model name'" in log and "model names match" in log


def test_a_failing_checkpoint_is_logged_once_not_with_a_traceback_per_try(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    with running(write_config(tmp_path, tmp_path / "state.db")) as d:
        ndjson = {"content-type": "application/x-ndjson"}
        assert d.client.post("/v1/predictions", content=records(rng, 50), headers=ndjson).status_code == 200
        with refuse_writes(d.proc.pid):
            failures = "driftwarden_state_write_failures_total"
            eventually(lambda: (d.metric(failures, operation="window_checkpoint") or 0) >= 3, "failed checkpoints")
        eventually(lambda: d.client.get("/readyz").status_code == 200, "/readyz 200 again")
        log = d.log
    assert log.count("saving window checkpoint failed") == 1 and "Traceback" not in log


def test_a_window_checkpoint_that_no_longer_loads_is_skipped_at_start(tmp_path: Path) -> None:
    state = tmp_path / "state.db"
    store = Store(Database(state))
    store.save_reference("fraud", ReferenceProfile.fit(["a"], np.arange(300.0).reshape(-1, 1)), source="test")
    store.save_windows({"fraud": b"not a checkpoint"})
    store.close()
    with running(write_config(tmp_path, state)) as d:
        assert rows(d) == {"fraud": {"reference": 300, "current": 0}}
        assert d.metric("driftwarden_state_rows_skipped_total", kind="window") == 1
        log = d.log
    assert "skipped window 'fraud' (table windows)" in log


def test_slo_counts_that_no_longer_load_are_skipped_at_start(tmp_path: Path) -> None:
    state = tmp_path / "state.db"
    config = write_config(tmp_path, state, "slos: [{name: api, objective: 0.99, threshold: 250ms}]\n")
    fingerprint = SLOTracker(slo_params(load_config(config).slos[0])).fingerprint
    store = Store(Database(state))
    store.save_slo_states({"api": (fingerprint, b"not saved counts")})
    store.close()
    with running(config) as d:
        assert d.metric("driftwarden_state_rows_skipped_total", kind="slo_state") == 1
        assert d.client.get("/v1/slos").json()["slos"][0]["events"] == {"good": 0, "bad": 0}
        log = d.log
    assert "skipped slo_state 'api' (table slo_states)" in log
