"""A model with no new rows since its last evaluation (issue 22): its comparison and its multivariate
verdicts are re-issued, not computed again, and its report is the one a fresh computation gives."""

from __future__ import annotations

import asyncio
import dataclasses
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest
from prometheus_client import CollectorRegistry

from driftwarden.config import Config
from driftwarden.daemon.daemon import Daemon
from driftwarden.daemon.faults import FaultLog
from driftwarden.detectors.multivariate import MultivariateDetector
from driftwarden.detectors.reference import ReferenceProfile
from driftwarden.exporters.prometheus import Instruments
from driftwarden.persistence.database import Database
from driftwarden.persistence.store import Store
from tests.support.reports import comparable

FEATURES = [f"f{j}" for j in range(6)]
MODELS = ["steady", "moved"]


def _daemon(tmp_path: Path, name: str) -> Daemon:
    config = Config.model_validate({"state_path": str(tmp_path / f"{name}.db"), "gpu": {"enabled": False}})
    registry = CollectorRegistry()
    return Daemon(config, Store(Database(config.state_path)), Instruments(registry), FaultLog(registry))


def _fill(daemon: Daemon, rng: np.random.Generator) -> None:
    """Two models: one whose rows match its reference, one whose rows' correlation flipped (multivariate drift)."""
    cov = np.array([[1.0, 0.9], [0.9, 1.0]])
    for i, model in enumerate(MODELS):
        reference = np.column_stack([rng.multivariate_normal([0, 0], cov, 2000), rng.normal(size=(2000, 4))])
        profile = ReferenceProfile.fit(FEATURES, reference)
        sample = pl.DataFrame({name: reference[:, j] for j, name in enumerate(FEATURES)})
        daemon.ingest.install_reference(model, dataclasses.replace(profile, sample=sample))  # rows whole: pca
        state = daemon.models.get_or_create(model)
        assert state is not None
        flipped = cov * (np.array([[1, -1], [-1, 1]]) if i else 1)
        rows = np.column_stack([rng.multivariate_normal([0, 0], flipped, 1500), rng.normal(size=(1500, 4))])
        state.detector.window.append(FEATURES, rows)


@pytest.fixture
def evaluations(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The multivariate methods run, by name, in order."""
    calls: list[str] = []
    evaluate, evaluate_pca = MultivariateDetector.evaluate, MultivariateDetector.evaluate_pca

    def counted(self: MultivariateDetector, method: str, *args: Any, **kwargs: Any) -> Any:
        calls.append(method)
        return evaluate(self, method, *args, **kwargs)

    def counted_pca(self: MultivariateDetector, *args: Any, **kwargs: Any) -> Any:  # a sliding window's pca
        calls.append("pca")
        return evaluate_pca(self, *args, **kwargs)

    monkeypatch.setattr(MultivariateDetector, "evaluate", counted)
    monkeypatch.setattr(MultivariateDetector, "evaluate_pca", counted_pca)
    return calls


def test_no_new_rows_reissues_the_reports_a_fresh_computation_gives(tmp_path: Path, evaluations: list[str]) -> None:
    reused, fresh = _daemon(tmp_path, "reused"), _daemon(tmp_path, "fresh")
    _fill(reused, np.random.default_rng(7))
    _fill(fresh, np.random.default_rng(7))

    async def run() -> tuple[list[Any], list[Any], int]:
        for daemon in (reused, fresh):
            await daemon.evaluator.evaluate_all()
        first = len(evaluations)
        second = await reused.evaluator.evaluate_all()  # nothing new: re-issued
        reissued = len(evaluations) - first
        for state in fresh.models:
            state.detector._compared = None  # forget the comparison: computed again from the same rows
        return second, await fresh.evaluator.evaluate_all(), reissued

    second, recomputed, reissued = asyncio.run(run())
    assert reissued == 0
    assert len(evaluations) == 3 * len(MODELS)  # pca a model: both daemons' first cycles, the fresh one's second
    assert [comparable(r) for r in second] == [comparable(r) for r in recomputed]
    by_model = {r.model: r for r in second}
    assert by_model["moved"].drifted and by_model["moved"].multivariate[0].drifted  # the verdicts re-issued whole
    assert not by_model["steady"].drifted
    assert all(state.detector.reused for state in reused.models)


def test_new_rows_or_a_skipped_method_are_judged_again(tmp_path: Path, evaluations: list[str]) -> None:
    daemon = _daemon(tmp_path, "daemon")
    _fill(daemon, np.random.default_rng(8))
    steady = daemon.models.get("steady")
    assert steady is not None

    async def cycle() -> None:
        await daemon.evaluator.evaluate_all()

    asyncio.run(cycle())
    assert len(evaluations) == len(MODELS)
    steady.detector.window.append(FEATURES, np.random.default_rng(9).normal(size=(10, 6)))
    asyncio.run(cycle())
    assert evaluations.count("pca") == len(MODELS) + 1 and not steady.detector.reused  # its new rows judged
    skipped = steady.multivariate.results[0].skip("pca", "budget")
    steady.multivariate.results = (skipped,)  # as when the last look ran past its budget
    asyncio.run(cycle())
    assert evaluations.count("pca") == len(MODELS) + 2 and steady.detector.reused  # no verdict to re-issue: run
    report = steady.detector.report
    assert report is not None and report.multivariate[0].skipped is None
