"""FaultLog: a failure is counted every time, logged once per distinct error, kept until the same
stage works again, and never raised to the caller."""

from __future__ import annotations

import logging

import pytest
from prometheus_client import CollectorRegistry

from driftwarden.daemon.faults import FaultLog


def failures_total(registry: CollectorRegistry, model: str, stage: str) -> float | None:
    return registry.get_sample_value("driftwarden_evaluation_failures_total", {"model": model, "stage": stage})


def test_counted_each_time_logged_once_cleared_by_success(caplog: pytest.LogCaptureFixture) -> None:
    registry = CollectorRegistry()
    faults = FaultLog(registry)
    with caplog.at_level(logging.ERROR, logger="driftwarden.faults"):
        for _ in range(3):
            with faults.contain("fraud", "drift"):
                raise ValueError("bins overflowed")
        with faults.contain("fraud", "drift"):
            raise ValueError("another reason")  # a new error is logged again
    assert failures_total(registry, "fraud", "drift") == 4
    assert [r.getMessage().split("(logged once): ")[1] for r in caplog.records] == [
        "ValueError: bins overflowed",
        "ValueError: another reason",
    ]
    [failure] = faults.failures("fraud")
    assert (failure.stage, failure.count, failure.error) == ("drift", 4, "ValueError: another reason")
    assert failure.since <= failure.at

    with faults.contain("fraud", "drift"):
        pass
    assert faults.failures("fraud") == []
    caplog.clear()
    with caplog.at_level(logging.ERROR, logger="driftwarden.faults"), faults.contain("fraud", "drift"):
        raise ValueError("bins overflowed")  # after a recovery, the same error is news again
    assert len(caplog.records) == 1


def test_scopes_and_stages_are_apart() -> None:
    faults = FaultLog(CollectorRegistry())
    with faults.contain("a", "drift"):
        raise RuntimeError("x")
    with faults.contain("a", "quality"):
        raise RuntimeError("y")
    with faults.contain("b", "drift"):
        pass
    assert [f.stage for f in faults.failures("a")] == ["drift", "quality"]
    assert faults.failures("b") == []


def test_a_long_message_is_bounded() -> None:
    faults = FaultLog(CollectorRegistry())
    with faults.contain("m", "drift"):
        raise RuntimeError("x" * 10_000)
    assert len(faults.failures("m")[0].error) == 500
