"""The evaluation cycle: every `evaluate_every`, each model's drift (in a worker thread), realized
quality and drift budget, each SLO's burn rates and each extra finding source (GPU health) are
judged; the findings of all of them go to the alert notifier once. State (counts, windows, anomaly
slots) is checkpointed on its own clock, `checkpoint_every`, and at shutdown.

Every step runs contained (`FaultLog.contain`): one model's failed evaluation costs that model's
report only — the other models, the SLOs, the alerts and the checkpoint still happen on time —
and the failure is logged once, counted in `driftwarden_evaluation_failures_total{model,stage}`
and shown on the model's page and in its drift report.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
from collections import deque
from collections.abc import Callable

from opentelemetry import trace

from driftwarden.alerts.notifier import Notifier
from driftwarden.config import Config
from driftwarden.core.errors import StorageError
from driftwarden.daemon.anomalies import AnomalyMonitor
from driftwarden.daemon.checkpoints import Checkpointer
from driftwarden.daemon.estimation import Fitted, fit_extras
from driftwarden.daemon.faults import FaultLog
from driftwarden.daemon.models import ModelRegistry, TrackedModel
from driftwarden.detectors.detector import DriftDetector
from driftwarden.detectors.drift import DriftReport
from driftwarden.detectors.drift_budget import DriftBudget
from driftwarden.detectors.estimation import WindowColumns
from driftwarden.detectors.findings import Finding, SLOBurnFinding
from driftwarden.detectors.multivariate import MultivariateResult
from driftwarden.detectors.reference import ReferenceProfile
from driftwarden.detectors.slo import SLOTracker
from driftwarden.exporters.prometheus import Instruments
from driftwarden.params import MultivariateParams, alerting_params, multivariate_params

__all__ = ["HISTORY_LENGTH", "Evaluator", "History"]

log = logging.getLogger("driftwarden.evaluator")

MODELS_PER_HOP = 16  # drift comparisons per worker-thread hop: hops amortized, at most 16 windows' copies held
HISTORY_LENGTH = 720  # evaluations kept for score timelines (6 h at the default 30 s)
History = deque[tuple[float, float, dict[str, float]]]  # (evaluated_at, drift share, PSI per feature)
# (window judged, its multivariate verdicts when judged beside the comparison, failure, seconds taken)
_Outcome = tuple["WindowColumns | None", "tuple[MultivariateResult, ...] | None", "Exception | None", float]
_Quick = Callable[[WindowColumns], "tuple[MultivariateResult, ...] | None"]  # ModelMultivariate.quick, bound
ReportHook = Callable[[DriftReport, DriftReport | None], None]
SloHook = Callable[[str, list[SLOBurnFinding], list[SLOBurnFinding]], None]


class Evaluator:
    def __init__(
        self,
        config: Config,
        models: ModelRegistry,
        slos: dict[str, SLOTracker],
        checkpointer: Checkpointer,
        faults: FaultLog,
        instruments: Instruments,
        *,
        notifier: Notifier | None = None,
        on_report: ReportHook | None = None,
        on_slo: SloHook | None = None,
        finding_sources: dict[str, Callable[[], list[Finding]]] | None = None,
        tracer: trace.Tracer | None = None,
        clock: Callable[[], float] = time.time,
        anomalies: AnomalyMonitor | None = None,
    ) -> None:
        self.config = config
        self.models = models
        self.slos = slos
        self.checkpointer = checkpointer
        self.faults = faults
        self.instruments = instruments
        self.notifier = notifier
        self.on_report = on_report or _log_verdict_change
        self.on_slo = on_slo or _log_new_burns
        self.finding_sources = dict(finding_sources or {})  # e.g. GPU health, by source name
        self.anomalies = anomalies
        if anomalies is not None:
            self.finding_sources["anomaly"] = anomalies.findings
        self.tracer = tracer or trace.NoOpTracer()
        self._clock = clock  # the drift budgets' (the SLOs' trackers come with theirs)
        self.slo_findings: dict[str, list[SLOBurnFinding]] = {name: [] for name in slos}
        self.drift_budgets: dict[str, DriftBudget] = {}
        self.histories: dict[str, History] = {}
        self._lock = asyncio.Lock()  # one evaluation of a model at a time (the clock or a first look)

    async def evaluate_all(self) -> list[DriftReport]:
        wall, cpu = time.perf_counter(), time.process_time()
        with self.tracer.start_as_current_span("driftwarden.evaluate") as span:
            reports = await self._evaluate_models(list(self.models))
            self.evaluate_slos()
            if self.anomalies is not None:  # anomaly-based alerts: reads the signals, judges them (SQLite)
                with self.faults.contain("daemon", "anomaly"):
                    await asyncio.to_thread(self.anomalies.evaluate)
            # a model whose evaluation failed keeps its last verdict: its alerts neither resolve nor
            # flap because the judge broke; the failure itself is on /metrics and its page
            latest = [s.detector.report for s in self.models if s.detector.report is not None]
            findings = self._findings(latest)
            if self.notifier is not None:
                with self.faults.contain("daemon", "alerts"):
                    await self.notifier.observe(findings)
            span.set_attribute("driftwarden.models", len(reports))
            span.set_attribute("driftwarden.findings", len(findings))
        self.instruments.evaluation_cycle.labels("wall").set(time.perf_counter() - wall)
        self.instruments.evaluation_cycle.labels("cpu").set(time.process_time() - cpu)
        return reports

    async def evaluate_model(self, state: TrackedModel) -> DriftReport | None:
        """One model's evaluation, contained; its new report, or None when it has none (or failed)."""
        reports = await self._evaluate_models([state])
        return reports[0] if reports else None

    async def _evaluate_models(self, states: list[TrackedModel]) -> list[DriftReport]:
        """The models' evaluations, each contained: their drift comparisons `MODELS_PER_HOP` to a worker-thread
        hop (a hop per model cost more than a small model's statistics), the rest model by model.
        Each model's report is the one it gets evaluated alone (tests/daemon/test_many_models.py)."""
        finished = []
        async with self._lock:
            for start in range(0, len(states), MODELS_PER_HOP):  # bounded: the windows kept for multivariate
                prepared = [(state, *await self._prepare(state)) for state in states[start : start + MODELS_PER_HOP]]
                with self.tracer.start_as_current_span(
                    "driftwarden.evaluate_drift", attributes={"driftwarden.models": len(prepared)}
                ):
                    outcomes = await asyncio.to_thread(
                        _evaluate_many,
                        [(state.detector, _quick(state, reference, mv)) for state, _, reference, mv in prepared],
                    )
                finished += [
                    (state, previous, await self._after_drift(state, previous, reference, multivariate, outcome))
                    for (state, previous, reference, multivariate), outcome in zip(prepared, outcomes, strict=True)
                ]
        return [r for state, previous, took in finished if (r := self._record(state, previous, took)) is not None]

    async def _prepare(
        self, state: TrackedModel
    ) -> tuple[DriftReport | None, ReferenceProfile | None, MultivariateParams]:
        """Before the drift comparison (on the loop): the extras of a reference restored at start fitted."""
        name, detector = state.name, state.detector
        previous, reference = detector.report, detector.reference
        if reference is not None and state.estimation.needs_fit(reference):  # a reference restored at start
            try:
                fitted = await asyncio.to_thread(fit_extras, name, reference, self.config)
                self.faults.succeeded(name, "estimate_fit")
            except Exception as exc:  # shown until a new reference fits; not tried again for this one
                self.faults.record(name, "estimate_fit", exc)
                fitted = Fitted(reference)
            state.estimation.install(fitted)
        return previous, reference, multivariate_params(self.config.model(name).drift)

    async def _after_drift(
        self,
        state: TrackedModel,
        previous: DriftReport | None,
        reference: ReferenceProfile | None,
        multivariate: MultivariateParams,
        outcome: _Outcome,
    ) -> float | None:
        """What follows the drift comparison: multivariate drift, embeddings, estimated quality, a rolled
        reference stored; the seconds the model took, or None when its comparison failed."""
        name, detector = state.name, state.detector
        window, quick, error, drift_seconds = outcome
        started = time.perf_counter() - drift_seconds  # its comparison's time, not the other models' beside it
        if error is not None:
            self.faults.record(name, "drift", error)
            return None
        self.faults.succeeded(name, "drift")
        new = detector.report
        if multivariate.methods and reference is not None and new is not None and new is not previous:
            with self.faults.contain(name, "multivariate"):  # the rows whole: beside the per-feature verdicts
                # no new rows: the verdicts of the same rows; rows that came after the look: the window now
                results = state.multivariate.unchanged_results(reference, multivariate) if detector.reused else quick
                if results is None:
                    rows = window if window is not None else detector.window_columns()
                    results = await state.multivariate.evaluate(reference, rows, multivariate, self._skipped(name))
                detector.with_multivariate(new, results)
        if state.embeddings is not None and detector.reference is not None and detector.reference.embeddings:
            with self.faults.contain(name, "embeddings"):  # models.<m>.embeddings: their own verdicts
                verdicts = await asyncio.to_thread(state.embeddings.evaluate, detector.reference.embeddings)
                detector.attach_embeddings(verdicts)
        fitted = state.estimation.fitted
        if fitted is not None and (fitted.estimator or fitted.segments):  # estimated quality, segments: not drift
            with self.faults.contain(name, "estimate"):
                await asyncio.to_thread(state.estimation.evaluate, detector, state.labels.metrics())
        rolled = detector.reference
        if detector.previous_as_reference and rolled is not None and rolled is not reference:
            with self.faults.contain(name, "store_reference"):  # `reference: previous`, stored like any
                await asyncio.to_thread(self.checkpointer.store.save_reference, name, rolled, source="previous window")
        return time.perf_counter() - started

    def _record(self, state: TrackedModel, previous: DriftReport | None, took: float | None) -> DriftReport | None:
        """The model's new report counted: its duration, score history, drift budget and report hook."""
        name, report = state.name, state.detector.report
        if took is None or report is None:
            return None
        self.instruments.evaluation_duration.observe(took)
        if report.rows["current"]:
            scores = {f.name: f.scores["psi"] for f in report.features if "psi" in f.scores}
            self.histories.setdefault(name, deque(maxlen=HISTORY_LENGTH)).append(
                (report.evaluated_at, report.drift_share, scores)
            )
            with self.faults.contain(name, "drift_budget"):
                self._budget(name).record(report.drifted, self._clock())  # on the budgets' clock
        with self.faults.contain(name, "report_hook"):  # a reporting hook must not cost the alerts
            self.on_report(report, previous)
        return report

    def _skipped(self, model: str) -> Callable[[str, str], None]:
        def count(method: str, reason: str) -> None:
            self.instruments.multivariate_skipped.labels(model, method, reason).inc()

        return count

    def evaluate_slos(self) -> None:
        for name, tracker in self.slos.items():
            with self.faults.contain(f"slo:{name}", "slo"):
                with self.tracer.start_as_current_span("driftwarden.evaluate_slo", attributes={"slo": name}):
                    findings = tracker.evaluate()
                previous, self.slo_findings[name] = self.slo_findings[name], findings
                self.on_slo(name, findings, previous)

    def _findings(self, reports: list[DriftReport]) -> list[Finding]:
        findings: list[Finding] = []
        for report in reports:
            with self.faults.contain(report.model, "findings"):
                findings += report.findings()
        for state in self.models:
            with self.faults.contain(state.name, "quality"):
                quality = state.labels.finding(state.name, alpha=self.config.model(state.name).drift.alpha)
                if quality is not None:
                    findings.append(quality)
            with self.faults.contain(state.name, "estimate"):
                findings += state.estimation.findings(state.name)
            if state.constraints is not None:
                with self.faults.contain(state.name, "constraints"):
                    findings += state.constraints.findings()
        for model, budget in list(self.drift_budgets.items()):
            with self.faults.contain(model, "drift_budget"):
                findings += budget.evaluate()
        findings += [f for fs in self.slo_findings.values() for f in fs]
        for source, find in self.finding_sources.items():
            with self.faults.contain(f"source:{source}", "findings"):
                findings += find()
        return findings

    def _budget(self, model: str) -> DriftBudget:
        budget = self.drift_budgets.get(model)
        if budget is None:
            budget = self.drift_budgets[model] = DriftBudget(
                model, alerting_params(self.config.alerting), clock=self._clock
            )
            self.checkpointer.restore_counts(f"drift-budget:{model}", budget.tracker)
        return budget

    def counted(self) -> list[tuple[str, SLOTracker]]:
        """Every count worth saving: the SLOs' and the drift budgets'."""
        budgets = [(f"drift-budget:{m}", b.tracker) for m, b in self.drift_budgets.items()]
        return list(self.slos.items()) + budgets

    async def checkpoint(self) -> None:
        """Save what must survive a restart: the counts that moved, the current windows, the anomaly slots.
        On `checkpoint_forever`'s clock and at shutdown, not by each evaluation (rewriting every window and
        count each cycle cost more than judging them). A state file that refuses writes is already logged
        (once) and counted by the database, and turns /readyz unready; the daemon keeps watching."""
        with self.faults.contain("daemon", "checkpoint"), contextlib.suppress(StorageError):
            await self.checkpointer.save_counts(self.counted())
            await self.checkpointer.save_windows()
            if self.anomalies is not None:  # the current slot's values so far
                await asyncio.to_thread(self.anomalies.flush)

    async def evaluate_forever(self) -> None:
        while True:
            await asyncio.sleep(self.config.evaluate_every)
            await self.evaluate_all()

    async def checkpoint_forever(self) -> None:
        """State saved on its own clock, so a long `evaluate_every` does not widen what a crash loses."""
        while True:
            await asyncio.sleep(self.config.checkpoint_every)
            await self.checkpoint()


def _quick(state: TrackedModel, reference: ReferenceProfile | None, params: MultivariateParams) -> _Quick | None:
    """The model's multivariate verdicts to try beside its comparison; None when it has no methods."""
    if not params.methods or reference is None:
        return None
    return functools.partial(state.multivariate.quick, reference, params)


def _evaluate_many(detectors: list[tuple[DriftDetector, _Quick | None]]) -> list[_Outcome]:
    """Each detector's evaluation (in one worker thread), with its multivariate verdicts when `quick` gave
    them here, before the comparison; else the rows it compared when it has multivariate methods (they
    judge the same rows; a tumbling window is emptied by its evaluation), none when it had no new rows since
    its last (its verdicts stand). One detector's failure is its own outcome; the others are still evaluated."""
    outcomes: list[_Outcome] = []
    for detector, quick in detectors:
        started = time.perf_counter()
        look = _Beside(quick) if quick is not None else None
        try:
            detector.evaluate(keep_window=look is not None, look=look)
            window = detector.take_judged()
        except Exception as exc:
            detector.take_judged()  # not held until the next evaluation
            outcomes.append((None, None, exc, time.perf_counter() - started))
        else:
            results = look.results if look is not None else None
            outcomes.append((window, results, None, time.perf_counter() - started))
    return outcomes


class _Beside:
    """A model's multivariate verdicts (`ModelMultivariate.quick`) of the rows its comparison is about to
    compare: when it gives them, the comparison sorts those rows in place instead of a copy of them."""

    def __init__(self, quick: _Quick) -> None:
        self.quick = quick
        self.results: tuple[MultivariateResult, ...] | None = None

    def __call__(self, window: WindowColumns) -> bool:
        try:
            self.results = self.quick(window)
        except Exception:  # judged again by `ModelMultivariate.evaluate`, which counts and shows a failure
            log.debug("multivariate verdicts beside the comparison failed; judged in the pool", exc_info=True)
        return self.results is not None


def _log_new_burns(slo: str, findings: list[SLOBurnFinding], previous: list[SLOBurnFinding]) -> None:
    before = {f.subject for f in previous}
    for f in findings:
        if f.subject not in before:
            log.warning(
                "SLO %s is burning its error budget: %.1fx over %s (threshold %.1fx), severity %s",
                slo,
                f.value,
                f.windows,
                f.threshold,
                f.severity.value,
            )


def _log_verdict_change(report: DriftReport, previous: DriftReport | None) -> None:
    was = previous.drifted if previous else False
    if report.drifted and not was:
        log.warning("drift detected: %s", report.summary())
    elif was and not report.drifted:
        log.info("drift cleared: %s", report.summary())
