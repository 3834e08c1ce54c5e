"""Read views of a running daemon, shared by the JSON API, the UI and the scrape: what each
model's latest evaluation says, its history, its failures; the SLOs. Nothing here evaluates
outside the evaluator: a first look at a model not yet judged asks the evaluator to judge it.

Call them on the event loop, where that state changes, and hand what they return to a worker
thread for the slow part (encoding, rendering). `latency` is the exception: it reads the
request stats under their lock and is meant to run in a worker thread.
"""

from __future__ import annotations

from dataclasses import dataclass

from driftwarden.daemon.daemon import Daemon
from driftwarden.daemon.estimation import ModelEstimation, QualityPoint
from driftwarden.daemon.faults import Failure
from driftwarden.detectors.detector import DriftDetector
from driftwarden.detectors.drift import DriftReport
from driftwarden.detectors.findings import SLOBurnFinding
from driftwarden.detectors.latency import LatencyTable
from driftwarden.detectors.slo import SLOTracker
from driftwarden.exporters.prometheus import ModelState
from driftwarden.persistence.database import Database

__all__ = ["DaemonViews", "ModelDrift"]


@dataclass(frozen=True)
class ModelDrift:
    """A model's latest report (None before its first successful evaluation) and what fails now."""

    report: DriftReport | None
    failures: list[Failure]
    estimation: ModelEstimation | None = None
    constraints: list[dict[str, object]] | None = None  # models.<m>.constraints: violations in the window

    def to_dict(self) -> dict[str, object]:
        body: dict[str, object] = self.report.to_dict() if self.report is not None else {}
        if self.estimation is not None:
            body.update(estimation_sections(self.estimation))
        if self.constraints is not None:
            body["constraints"] = self.constraints
        if self.failures:
            body["evaluation_failures"] = [f.to_dict() for f in self.failures]
        return body


def estimation_sections(estimation: ModelEstimation) -> dict[str, object]:
    """The drift report's `estimated_quality` (with the estimator's fit) and `segments` (worst first)."""
    out: dict[str, object] = {}
    fitted = estimation.fitted
    if fitted is not None and fitted.estimator is not None:
        estimator = fitted.estimator
        out["estimated_quality"] = {
            **(estimation.estimate.to_dict() if estimation.estimate is not None else {"method": estimator.method}),
            "fit": dict(estimator.fit_quality),
        }
    if fitted is not None and fitted.segments is not None:
        out["segments"] = [s.to_dict() for s in estimation.segments]
    return out


class DaemonViews:
    def __init__(self, daemon: Daemon) -> None:
        self._daemon = daemon

    @property
    def ready(self) -> bool:
        return self._daemon.ready

    @property
    def database(self) -> Database:
        """The state file's connection: whether writes succeed now (readiness reads it)."""
        return self._daemon.store.database

    def models(self) -> list[str]:
        return self._daemon.models.names()

    def detector(self, model: str) -> DriftDetector | None:
        state = self._daemon.models.get(model)
        return state.detector if state else None

    def states(self) -> list[ModelState]:
        return [
            ModelState(
                model=state.name,
                report=state.detector.report,
                window_rows=state.detector.window.rows,
                reference_rows=state.detector.reference.rows if state.detector.reference else None,
                quality=state.labels.metrics(),
                quality_baseline=state.labels.baseline_metrics,
                labels_pending=state.labels.pending,
                window_bytes=state.detector.window.nbytes,
                estimate=state.estimation.estimate,
                segments=tuple(state.estimation.segments),
                constraints=tuple(
                    (feature, kind.value, share) for (feature, kind), (_, share) in state.constraints.shares().items()
                )
                if state.constraints is not None
                else (),
            )
            for state in sorted(self._daemon.models, key=lambda s: s.name)
        ]

    def estimation(self, model: str) -> ModelEstimation | None:
        state = self._daemon.models.get(model)
        return state.estimation if state else None

    def quality_history(self, model: str) -> list[QualityPoint]:
        """Estimated and realized quality of the model's recent evaluations, oldest first."""
        state = self._daemon.models.get(model)
        return list(state.estimation.history) if state else []

    def history(self, model: str) -> list[tuple[float, float, dict[str, float]]]:
        """(evaluated_at, drift share, PSI per feature) of the model's recent evaluations, oldest first."""
        return list(self._daemon.evaluator.histories.get(model, ()))

    def failures(self, model: str) -> list[Failure]:
        return self._daemon.faults.failures(model)

    async def drift(self, model: str) -> ModelDrift | None:
        """The model's drift; evaluated now (by the evaluator) when it was never evaluated. None: unknown."""
        state = self._daemon.models.get(model)
        if state is None:
            return None
        if state.detector.report is None and state.detector.reference is not None:
            await self._daemon.evaluator.evaluate_model(state)
        constraints = state.constraints.summary() if state.constraints is not None else None
        return ModelDrift(state.detector.report, self.failures(model), state.estimation, constraints)

    def constraints(self, model: str) -> list[dict[str, object]] | None:
        """The model's constraint violations over its current window; None: no constraints (or model)."""
        state = self._daemon.models.get(model)
        return state.constraints.summary() if state is not None and state.constraints is not None else None

    def latency(self, seconds: float) -> LatencyTable:
        """p50/p95/p99 per service/model/operation over the last `seconds` (any thread; slow over many series)."""
        return self._daemon.requests.quantiles(seconds)

    def slos(self) -> dict[str, SLOTracker]:
        return self._daemon.slos

    def slo_findings(self, name: str) -> list[SLOBurnFinding]:
        return self._daemon.evaluator.slo_findings.get(name, [])

    @property
    def queue_rows(self) -> tuple[int, int]:
        return self._daemon.ingest.queue_rows

    @property
    def saturated(self) -> bool:
        return self._daemon.ingest.saturated
