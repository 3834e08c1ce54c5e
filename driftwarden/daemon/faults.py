"""Contained failures: what failed, where, how often — logged once per distinct error, counted,
and kept for the model's page and drift report until the same work succeeds again.

A monitoring sidecar that stops watching without saying so is the worst failure it can have:
each model's evaluation, each SLO's, each finding source's and each receiver's work runs
under `FaultLog.contain()`, so one failure costs only itself.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter

from driftwarden.core import metric_names as m

__all__ = ["Failure", "FaultLog"]

log = logging.getLogger("driftwarden.faults")

MAX_MESSAGE = 500  # characters of an error kept and shown
MAX_LOGGED = 1000  # distinct errors remembered as logged; past it, the memory starts again (bounded)


@dataclass(frozen=True)
class Failure:
    scope: str  # a model name, "slo:<name>", "source:<name>", "receiver:<name>" or "daemon"
    stage: str  # drift, quality, drift_budget, findings, report_hook, restore, checkpoint, alerts, slo, ...
    error: str  # "ExceptionType: message", bounded
    since: float  # when this stage first failed in a row
    at: float  # its latest failure
    count: int  # failures in a row

    def to_dict(self) -> dict[str, object]:
        return {
            "stage": self.stage,
            "error": self.error,
            "since": self.since,
            "at": self.at,
            "count": self.count,
        }


class FaultLog:
    def __init__(self, registry: CollectorRegistry) -> None:
        self._counter = Counter(
            m.EVALUATION_FAILURES,
            "Work the daemon could not do, by model (or SLO, source, receiver) and stage; the rest went on.",
            ["model", "stage"],
            registry=registry,
        )
        self._current: dict[tuple[str, str], Failure] = {}
        self._logged: set[tuple[str, str, str]] = set()

    @contextmanager
    def contain(self, scope: str, stage: str) -> Iterator[None]:
        """Run a block; an exception in it is recorded and swallowed, a success clears the stage."""
        try:
            yield
        except Exception as exc:
            self.record(scope, stage, exc)
        else:
            self.succeeded(scope, stage)

    def record(self, scope: str, stage: str, exc: BaseException) -> None:
        error = f"{type(exc).__name__}: {exc}"[:MAX_MESSAGE]
        now = time.time()
        previous = self._current.get((scope, stage))
        since = previous.since if previous else now
        count = previous.count + 1 if previous else 1
        self._current[(scope, stage)] = Failure(scope, stage, error, since, now, count)
        self._counter.labels(scope, stage).inc()
        if (scope, stage, error) not in self._logged:  # once per distinct error, with its traceback
            if len(self._logged) >= MAX_LOGGED:
                self._logged.clear()
            self._logged.add((scope, stage, error))
            log.error("%s: %s failed; the rest goes on (logged once): %s", scope, stage, error, exc_info=exc)

    def succeeded(self, scope: str, stage: str) -> None:
        failure = self._current.pop((scope, stage), None)
        if failure is not None:
            self._logged = {k for k in self._logged if k[:2] != (scope, stage)}
            log.info("%s: %s works again after %d failure(s)", scope, stage, failure.count)

    def failures(self, scope: str) -> list[Failure]:
        """The stages of `scope` failing now, oldest first."""
        return sorted((f for (s, _), f in self._current.items() if s == scope), key=lambda f: f.since)
