"""kill -9 with full embedding windows: the restarted daemon judges its embeddings on the vectors it had
(embedding windows are checkpointed with the model's window, table `embedding_windows`), before any new
record arrives; a window saved for an embedding whose `dim` changed is skipped and counted."""

from __future__ import annotations

import io
import os
import signal
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import orjson
import polars as pl
import pytest

from tests.support.ports import free_port
from tests.support.processes import driftwarden_run

pytestmark = [pytest.mark.server, pytest.mark.slow]

DIM = 16
WINDOW = 1000


def embeddings(url: str) -> dict[str, dict[str, Any]]:
    answer = httpx.get(f"{url}/v1/models/m/drift")
    return {e["method"]: e for e in answer.json().get("embeddings", [])} if answer.status_code == 200 else {}


def wait_for_mmd(url: str, timeout: float = 60.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while not (found := embeddings(url).get("mmd", {})) and time.monotonic() < deadline:
        time.sleep(0.2)
    return found


def write_config(path: Path, state: Path, dim: int) -> None:
    path.write_text(
        f"state_path: {state}\nevaluate_every: 1s\ncheckpoint_every: 1s\n"
        "gpu: {enabled: false}\nalerting: {for: 1}\n"
        f"models: {{m: {{embeddings: {{query: {{dim: {dim}, window: {WINDOW}}}}}}}}}\n"
    )


def test_kill_9_keeps_the_embedding_windows(tmp_path: Path) -> None:
    rng = np.random.default_rng(11)
    vectors = rng.normal(size=(3000, DIM)).astype(np.float32)
    reference = pl.DataFrame({"amount": rng.normal(size=3000), "query": pl.Series(vectors.tolist())})
    buf = io.BytesIO()
    reference.write_parquet(buf)
    current = rng.normal(size=(1500, DIM)) + 0.5  # moved: 1,500 sent, the window keeps the last 1,000
    body = b"\n".join(
        orjson.dumps({"model": "m", "features": {"amount": float(a)}, "embeddings": {"query": v}})
        for a, v in zip(rng.normal(size=len(current)), current.round(5).tolist(), strict=True)
    )
    config = tmp_path / "c.yaml"
    write_config(config, tmp_path / "state.db", DIM)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with driftwarden_run(config, tmp_path / "first.log", port=port) as served:
        answer = httpx.put(
            f"{url}/v1/models/m/reference",
            content=buf.getvalue(),
            headers={"content-type": "application/vnd.apache.parquet"},
            timeout=60,
        )
        assert answer.status_code == 200, answer.text
        posted = httpx.post(f"{url}/v1/predictions", content=body, headers={"content-type": "application/x-ndjson"})
        assert posted.json()["accepted"] == len(current)
        before = wait_for_mmd(url)
        assert before["drifted"] is True and before["rows"]["current"] == WINDOW, before
        time.sleep(1.5)  # a checkpoint (checkpoint_every) holds the embedding window
        os.kill(served.proc.pid, signal.SIGKILL)
        served.proc.wait(timeout=10)
    with driftwarden_run(config, tmp_path / "second.log", port=port) as served:
        after = wait_for_mmd(url)
        log = served.log_text()
    assert after["drifted"] is True and after["rows"]["current"] == WINDOW, after
    assert after["score"] == pytest.approx(before["score"], rel=1e-6)  # the same vectors, the same seed
    assert "skipped embedding_window" not in log

    write_config(config, tmp_path / "state.db", DIM * 2)  # the embedding's dim changed: the saved rows do not compare
    with driftwarden_run(config, tmp_path / "third.log", port=port) as served:
        deadline = time.monotonic() + 30
        while "skipped embedding_window" not in served.log_text() and time.monotonic() < deadline:
            time.sleep(0.2)
        log = served.log_text()
        metrics = httpx.get(f"{url}/metrics").text
    assert "skipped embedding_window 'm query'" in log and f"saved with dim {DIM}" in log
    assert 'driftwarden_state_rows_skipped_total{kind="embedding_window"} 1.0' in metrics
