"""Many models in one evaluation cycle (issue 22): their drift comparisons share one worker-thread hop,
and each model's report is the one it gets evaluated alone."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import numpy as np
from prometheus_client import CollectorRegistry

from driftwarden.config import Config
from driftwarden.daemon.daemon import Daemon
from driftwarden.daemon.evaluator import MODELS_PER_HOP
from driftwarden.daemon.faults import FaultLog
from driftwarden.detectors.reference import ReferenceProfile
from driftwarden.exporters.prometheus import Instruments
from driftwarden.persistence.database import Database
from driftwarden.persistence.store import Store

FEATURES = [f"f{j}" for j in range(6)]
MODELS = [f"m{i}" for i in range(MODELS_PER_HOP + 3)]  # two hops: one full, one of three


def _daemon(tmp_path: Path, name: str) -> Daemon:
    config = Config.model_validate({"state_path": str(tmp_path / f"{name}.db"), "gpu": {"enabled": False}})
    registry = CollectorRegistry()
    return Daemon(config, Store(Database(config.state_path)), Instruments(registry), FaultLog(registry))


def _fill(daemon: Daemon, rng: np.random.Generator) -> None:
    """Each model its reference and 400 rows, model i shifted by (i % 5)/4 standard deviations (some drift)."""
    for i, model in enumerate(MODELS):
        daemon.ingest.install_reference(model, ReferenceProfile.fit(FEATURES, rng.normal(size=(2000, 6))))
        state = daemon.models.get_or_create(model)
        assert state is not None
        state.detector.window.append(FEATURES, rng.normal((i % 5) / 4, 1.0, size=(400, 6)))


def _comparable(report: Any) -> dict[str, Any]:
    out = report.to_dict()
    out.pop("evaluated_at", None)
    out.pop("duration_seconds", None)
    return out


def test_reports_of_one_cycle_equal_those_of_models_evaluated_one_at_a_time(tmp_path: Path) -> None:
    together, alone = _daemon(tmp_path, "together"), _daemon(tmp_path, "alone")
    _fill(together, np.random.default_rng(22))
    _fill(alone, np.random.default_rng(22))

    async def run() -> tuple[list[Any], list[Any]]:
        batch = await together.evaluator.evaluate_all()
        single = [await alone.evaluator.evaluate_model(state) for state in alone.models]
        return batch, single

    batch, single = asyncio.run(run())
    assert [r.model for r in batch] == MODELS
    assert [_comparable(r) for r in batch] == [_comparable(r) for r in single if r is not None]
    assert any(r.drifted for r in batch) and not all(r.drifted for r in batch)  # both kinds of verdict compared
