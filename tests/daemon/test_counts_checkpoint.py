"""SLO and drift-budget counts are saved on the checkpoint's clock, only the trackers whose counts moved
(issue 22: a week of minutes is ~0.2 MB a tracker; saving every model's each evaluation cost more than
judging it), and what is saved restores the counts a restart continues from."""

from __future__ import annotations

import asyncio
from pathlib import Path

import numpy as np
from prometheus_client import CollectorRegistry

from driftwarden.config import Config
from driftwarden.daemon.daemon import Daemon
from driftwarden.daemon.faults import FaultLog
from driftwarden.detectors.reference import ReferenceProfile
from driftwarden.exporters.prometheus import Instruments
from driftwarden.persistence.database import Database
from driftwarden.persistence.store import Store

FEATURES = ["a", "b"]
MODELS = ["m1", "m2"]


def _daemon(path: Path) -> Daemon:
    config = Config.model_validate(
        {
            "state_path": str(path),
            "gpu": {"enabled": False},
            "slos": [{"name": "api", "service": "fraud", "objective": 0.99, "threshold": "250ms"}],
            "models": {model: {"drift": {"multivariate": []}} for model in MODELS},
        }
    )
    registry = CollectorRegistry()
    daemon = Daemon(config, Store(Database(config.state_path)), Instruments(registry), FaultLog(registry))
    rng = np.random.default_rng(3)
    for model in MODELS:
        daemon.ingest.install_reference(model, ReferenceProfile.fit(FEATURES, rng.normal(size=(500, 2))))
        state = daemon.models.get_or_create(model)
        assert state is not None
        state.detector.window.append(FEATURES, rng.normal(size=(200, 2)))
    return daemon


def test_only_the_trackers_that_moved_are_saved_and_they_restore(tmp_path: Path) -> None:
    daemon = _daemon(tmp_path / "state.db")
    saved: list[set[str]] = []
    save = daemon.store.save_slo_states
    daemon.store.save_slo_states = lambda states: (saved.append(set(states)), save(states))[1]  # type: ignore[method-assign]

    async def run() -> None:
        await daemon.evaluator.evaluate_all()
        assert saved == []  # an evaluation saves no counts: the checkpoint's clock does
        await daemon.evaluator.checkpoint()
        await daemon.evaluator.checkpoint()  # nothing moved since
        daemon.evaluator.slos["api"].record(np.array([daemon.evaluator.slos["api"]._clock()]), np.array([True]))
        await daemon.evaluator.checkpoint()
        await daemon.evaluator.evaluate_all()
        await daemon.evaluator.checkpoint()

    asyncio.run(run())
    budgets = {"drift-budget:m1", "drift-budget:m2"}
    assert saved == [{"api"} | budgets, {"api"}, budgets]
    counts = {name: tracker.counts(86400) for name, tracker in daemon.evaluator.counted()}
    assert counts["api"] == (0, 1) and counts["drift-budget:m1"] == (2, 0)

    restarted = _daemon(tmp_path / "state.db")  # the same state file: the counts restored where they were

    async def restart() -> None:
        await restarted.start()
        await restarted.evaluator.evaluate_all()
        await restarted.stop()

    asyncio.run(restart())
    restored = {name: tracker.counts(86400) for name, tracker in restarted.evaluator.counted()}
    assert restored["api"] == (0, 1)
    assert restored["drift-budget:m1"] == (3, 0)  # two saved, and this evaluation's
