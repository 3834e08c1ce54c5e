"""Helpers for the tests of the windows' memory: wide records, window sizes as /v1/models reports them,
rejection counts, and a daemon whose admitted rows stay queued."""

from __future__ import annotations

import asyncio

import orjson

from tests.support.server import Daemon

__all__ = ["BUDGET", "MIB", "NDJSON", "pause_ingest", "rejected", "wide_record", "window_rows"]

NDJSON = {"content-type": "application/x-ndjson"}
MIB = 1024 * 1024
# 1 MiB per model: 1,000 rows of 100 features (1,024 rows allocated: 800 KiB) fit, 1,100 (2,048: 1.6 MiB) do not
BUDGET = {"max_window_bytes_per_model": MIB, "max_window_bytes_total": 2 * MIB}


def wide_record(model: str, features: int, rows: int = 1) -> bytes:
    """NDJSON: `rows` copies of one record of `model` with `features` numeric features."""
    record = {"model": model, "features": {f"f{j}": 0.5 + j for j in range(features)}}
    return b"\n".join(orjson.dumps(record) for _ in range(rows))


def rejected(d: Daemon, reason: str, source: str = "http") -> float:
    return d.metric("driftwarden_records_rejected_total", source=source, reason=reason) or 0.0


def window_rows(d: Daemon) -> dict[str, int]:
    """Tracked model -> rows in its current window, once every admitted row is in."""
    d.evaluate()
    return {m["model"]: m["rows"]["current"] for m in d.client.get("/v1/models").json()["models"]}


def pause_ingest(d: Daemon) -> None:
    """Stop the task that moves queued rows into the windows: what is admitted from now on stays queued."""

    async def cancel() -> None:
        for task in asyncio.all_tasks():
            if task.get_name() == "driftwarden-consume":
                task.cancel()

    asyncio.run_coroutine_threadsafe(cancel(), d.server.servers[0].get_loop()).result(timeout=10)
