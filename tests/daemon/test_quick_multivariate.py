"""pca on a sliding window judged beside the drift comparison, in its worker thread (issue 22): when only the
new rows' errors are needed, the report is the one the pool path gives; otherwise, or when it fails, the pool
path judges the window as before."""

from __future__ import annotations

import asyncio
import dataclasses
import threading
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest
from prometheus_client import CollectorRegistry

from driftwarden.config import Config
from driftwarden.daemon.daemon import Daemon
from driftwarden.daemon.faults import FaultLog
from driftwarden.daemon.multivariate import ModelMultivariate
from driftwarden.detectors.pca_rows import WindowRowErrors
from driftwarden.detectors.reference import ReferenceProfile
from driftwarden.exporters.prometheus import Instruments
from driftwarden.persistence.database import Database
from driftwarden.persistence.store import Store
from tests.support.reports import comparable

FEATURES = [f"f{j}" for j in range(5)]
MODELS = ["steady", "moved"]


def _daemon(tmp_path: Path, name: str) -> Daemon:
    models = {model: {"window": {"rows": 1000}} for model in MODELS}  # full after the first rows: it slides
    config = Config.model_validate(
        {"state_path": str(tmp_path / f"{name}.db"), "gpu": {"enabled": False}, "models": models}
    )
    registry = CollectorRegistry()
    daemon = Daemon(config, Store(Database(config.state_path)), Instruments(registry), FaultLog(registry))
    rng = np.random.default_rng(11)
    cov = np.array([[1.0, 0.9], [0.9, 1.0]])
    for model in MODELS:
        reference = np.column_stack([rng.multivariate_normal([0, 0], cov, 2000), rng.normal(size=(2000, 3))])
        sample = pl.DataFrame({name: reference[:, j] for j, name in enumerate(FEATURES)})
        profile = dataclasses.replace(ReferenceProfile.fit(FEATURES, reference), sample=sample)
        daemon.ingest.install_reference(model, profile)
        assert daemon.models.get_or_create(model) is not None
    return daemon


def _append(daemon: Daemon, rng: np.random.Generator, rows: int) -> None:
    """Rows matching the reference for `steady`, rows whose first two features' correlation flipped for `moved`."""
    for i, model in enumerate(MODELS):
        state = daemon.models.get(model)
        assert state is not None
        cov = np.array([[1.0, -0.9 if i else 0.9], [-0.9 if i else 0.9, 1.0]])
        block = np.column_stack([rng.multivariate_normal([0, 0], cov, rows), rng.normal(size=(rows, 3))])
        state.detector.window.append(FEATURES, block)


def _cycles(daemon: Daemon, seed: int) -> list[list[dict[str, Any]]]:
    """A first cycle on a full window (pca fitted, every row's error computed), then three after 40 new rows each."""
    rng = np.random.default_rng(seed)

    async def run() -> list[list[dict[str, Any]]]:
        out = []
        _append(daemon, rng, 1500)
        for _ in range(4):
            out.append([comparable(r) for r in await daemon.evaluator.evaluate_all()])
            _append(daemon, rng, 40)
        return out

    return asyncio.run(run())


@pytest.fixture
def pooled(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """One entry per multivariate evaluation the pool path (`ModelMultivariate.evaluate`) made."""
    calls: list[str] = []
    evaluate = ModelMultivariate.evaluate

    async def counted(self: ModelMultivariate, *args: Any, **kwargs: Any) -> Any:
        calls.append("pool")
        return await evaluate(self, *args, **kwargs)

    monkeypatch.setattr(ModelMultivariate, "evaluate", counted)
    return calls


def test_new_rows_are_judged_beside_the_comparison_with_the_pool_paths_verdicts(
    tmp_path: Path, pooled: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    quick = _cycles(_daemon(tmp_path, "quick"), seed=3)
    assert len(pooled) == len(MODELS)  # the first cycle only: the fit and every row's error
    monkeypatch.setattr(ModelMultivariate, "quick", lambda self, *args: None)
    pooled.clear()
    pool = _cycles(_daemon(tmp_path, "pool"), seed=3)
    assert len(pooled) == 4 * len(MODELS)
    assert quick == pool
    last = {r["model"]: r for r in quick[-1]}
    assert last["moved"]["multivariate"][0]["drifted"] and not last["steady"]["multivariate"][0]["drifted"]


def test_a_failure_beside_the_comparison_is_judged_again_in_the_pool(
    tmp_path: Path, pooled: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    daemon = _daemon(tmp_path, "daemon")
    errors, failures = WindowRowErrors.errors, []

    def fails_in_the_drift_thread(self: WindowRowErrors, *args: Any) -> Any:
        if threading.current_thread().name.startswith("asyncio"):  # the loop's default pool: the comparison's
            failures.append(1)
            raise RuntimeError("row errors failed")
        return errors(self, *args)

    monkeypatch.setattr(WindowRowErrors, "errors", fails_in_the_drift_thread)
    reports = _cycles(daemon, seed=4)
    assert failures and len(pooled) == 4 * len(MODELS)  # every look judged again by the pool path
    assert all(r["multivariate"][0]["method"] == "pca" and not r["multivariate"][0]["skipped"] for r in reports[-1])
    assert not any(daemon.faults.failures(m) for m in MODELS)  # none shown as failed: the pool path's verdicts stand
