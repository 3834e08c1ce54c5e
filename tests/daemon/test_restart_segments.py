"""kill -9 with full segment windows: the restarted daemon judges its segments on the rows it had
(segment windows are checkpointed with the model's window), before any new row arrives."""

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

APPS = ["1.4", *(f"2.{k}" for k in range(9))]  # 1.4: a tenth of the rows


def rows(rng: np.random.Generator, n: int, *, shift: float) -> pl.DataFrame:
    app = np.array(APPS)[rng.integers(0, len(APPS), n)]
    x = rng.normal((app == "1.4") * shift, 1.0, n)
    return pl.DataFrame({"x": x, "country": np.where(x > 0, "A", "B"), "labels.app_version": app})


def segments(url: str) -> dict[str, dict[str, Any]]:
    answer = httpx.get(f"{url}/v1/models/m/drift")
    return {s["segment"]: s for s in answer.json().get("segments", [])} if answer.status_code == 200 else {}


def wait_for(url: str, key: str, judged: bool, timeout: float = 30.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while (found := segments(url).get(key, {})).get("judged") is not judged and time.monotonic() < deadline:
        time.sleep(0.2)
    return found


def test_kill_9_keeps_the_segment_windows(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    reference, current = rows(rng, 20_000, shift=0.0), rows(rng, 4_000, shift=2.0)
    buf = io.BytesIO()
    reference.write_parquet(buf)
    config = tmp_path / "c.yaml"
    config.write_text(
        f"state_path: {tmp_path / 'state.db'}\nevaluate_every: 1s\ncheckpoint_every: 1s\ngpu: {{enabled: false}}\n"
        "alerting: {for: 1}\n"
        "models: {m: {window: 100000, segments: [labels.app_version, country], segmenting: {min_rows: 300}}}\n"
    )
    body = b"\n".join(
        orjson.dumps({"model": "m", "features": {"x": r["x"], "country": r["country"]}, "labels": {"app_version": a}})
        for r, a in zip(current.iter_rows(named=True), current["labels.app_version"], strict=True)
    )
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
        assert posted.json()["accepted"] == 4_000
        before = wait_for(url, "labels.app_version=1.4", judged=True)
        assert before["drifted"] is True, before
        time.sleep(1.5)  # a checkpoint (checkpoint_every) holds the segment windows
        os.kill(served.proc.pid, signal.SIGKILL)
        served.proc.wait(timeout=10)
    with driftwarden_run(config, tmp_path / "second.log", port=port) as served:
        after = wait_for(url, "labels.app_version=1.4", judged=True)
        every = segments(url)
        log = served.log_text()
    assert after["drifted"] is True and after["rows"]["current"] == 300, after
    assert every["country=A"]["rows"]["current"] == 300 and every["country=A"]["judged"] is True
    assert "skipped segment_window" not in log
