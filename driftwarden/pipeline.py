"""The main flow on one screen: receivers → bounded queue → detectors → exporters.

Request handlers parse and validate, then `admit()` the batches: admission is where
the limits are enforced (queue rows, models, features) so that a client learns at
once what was refused. A consumer task moves admitted batches into the models'
windows; an evaluator task runs every `evaluate_every` and computes drift in a
worker thread, never on the request path.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from opentelemetry import trace

from driftwarden.alerts.notifier import Notifier
from driftwarden.config import Config, DriftSettings, ModelSettings
from driftwarden.core.records import MAX_REPORTED_ERRORS, ParseResult, RecordBatch, RecordError
from driftwarden.core.spans import SpanBatch
from driftwarden.detectors.detector import DriftDetector
from driftwarden.detectors.drift import DriftReport, DriftThresholds
from driftwarden.detectors.drift_budget import DriftBudget
from driftwarden.detectors.findings import Finding
from driftwarden.detectors.latency import RequestStats
from driftwarden.detectors.reference import ReferenceProfile
from driftwarden.detectors.slo import SLOTracker
from driftwarden.detectors.windows import encode_checkpoint
from driftwarden.exporters.prometheus import Instruments, ModelState
from driftwarden.outcomes import LabelJoin, OutcomeCounts
from driftwarden.params import alerting_params, slo_params
from driftwarden.persistence.store import Store
from driftwarden.sampling import sampled

__all__ = ["Pipeline", "QueueFull"]

log = logging.getLogger("driftwarden.pipeline")


HISTORY_LENGTH = 720  # evaluations kept for score timelines (6 h at the default 30 s)


class TooManyModels(ValueError):
    """limits.max_models models are tracked already."""


class QueueFull(Exception):
    """Ingest is behind: answer 429 and let the client retry."""


@dataclass
class _Model:
    detector: DriftDetector
    labels: LabelJoin
    announced: set[str] = field(default_factory=set)  # features admitted, applied or still queued


class Pipeline:
    def __init__(
        self,
        config: Config,
        store: Store,
        instruments: Instruments,
        *,
        on_report: Callable[[DriftReport, DriftReport | None], None] | None = None,
        on_slo: Callable[[str, list[Finding], list[Finding]], None] | None = None,
        tracer: trace.Tracer | None = None,
        notifier: Notifier | None = None,
    ) -> None:
        self.config = config
        self.notifier = notifier
        self.store = store
        self.instruments = instruments
        self.on_report = on_report or _log_verdict_change
        self.on_slo = on_slo or _log_new_burns
        self.tracer = tracer or trace.NoOpTracer()
        self._models: dict[str, _Model] = {}
        t = config.traces
        self.requests = RequestStats(
            config.latency_buckets(),
            extra_labels=t.label_attributes,
            max_label_values=t.max_label_values,
            max_quantile_samples=t.max_quantile_samples,
        )
        self.slos = {slo.name: SLOTracker(slo_params(slo)) for slo in config.slos}
        self.slo_findings: dict[str, list[Finding]] = {name: [] for name in self.slos}
        self.drift_budgets: dict[str, DriftBudget] = {}
        self._history: dict[str, deque[tuple[float, float, dict[str, float]]]] = {}
        self._checkpointed: dict[str, int] = {}  # model -> window total_rows at its last checkpoint
        self._staged: dict[str, object] = {}  # documents written with the next window checkpoint
        self._saved_counts: dict[str, tuple[str, bytes]] = {}  # SLO and drift-budget counts read at start
        self.extra_findings: dict[str, Callable[[], list[Finding]]] = {}  # e.g. GPU health, by source
        self.on_requests: Callable[..., None] | None = None  # (model, count, traced=) for cost per inference
        self._queue: asyncio.Queue[RecordBatch | SpanBatch] = asyncio.Queue()
        self._queued_rows = 0
        self._tasks: list[asyncio.Task] = []
        self.ready = False

    # -- lifecycle -------------------------------------------------------------
    async def start(self) -> None:
        for model, profile in (await asyncio.to_thread(self.store.load_references)).items():
            state = self._model(model, create=True)
            if state is None:
                log.error("stored reference for %r ignored: limits.max_models reached", model)
                continue
            state.detector.set_reference(profile)
            state.announced |= set(profile.features)
        for model, blob in (await asyncio.to_thread(self.store.load_windows)).items():
            state = self._model(model, create=True)
            if state is not None:
                state.detector.restore(blob)
                state.announced |= set(state.detector.window.features)
        saved_labels = await asyncio.to_thread(self.store.load_document, "labels", {})
        for model, saved in saved_labels.items():
            state = self._model(model, create=True)
            if state is not None:
                state.labels.restore(saved)
        self._saved_counts = await asyncio.to_thread(self.store.load_slo_states)
        for name, tracker in self._counted():
            self._restore_counts(name, tracker)
        self._tasks = [
            asyncio.create_task(self._consume(), name="driftwarden-consume"),
            asyncio.create_task(self._evaluate_forever(), name="driftwarden-evaluate"),
            asyncio.create_task(self._checkpoint_forever(), name="driftwarden-checkpoint"),
        ]
        self.ready = True

    async def stop(self) -> None:
        self.ready = False
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._drain()
        await self.checkpoint_slos()
        await self.checkpoint_windows()

    # -- ingest ----------------------------------------------------------------
    def admit(self, result: ParseResult, *, source: str) -> None:
        """Queue a parse result's batches, applying the limits; raises QueueFull for a whole-request 429."""
        limits = self.config.limits
        if self._queued_rows + result.accepted > limits.max_queue_rows:
            raise QueueFull(
                f"ingest queue holds {self._queued_rows} rows (limit {limits.max_queue_rows}); retry shortly"
            )
        if self.config.redact:
            result.batches = [_redacted(b, self.config.redact) for b in result.batches]
        for k, batch in enumerate(result.batches):
            rate = self.config.model(batch.model).sample_rate
            if rate < 1.0:
                batch, dropped = sampled(batch, rate)
                result.batches[k] = batch
                self.instruments.records_sampled_out.labels(batch.model, source).inc(dropped)
            rows = batch.values.shape[0]
            state = self._model(batch.model, create=True)
            if state is None:
                self._refuse(
                    result,
                    batch,
                    source,
                    "too_many_models",
                    f"model {batch.model!r} refused: {limits.max_models} models already tracked (limits.max_models)",
                )
                continue
            new = (set(batch.features) | set(batch.categorical)) - state.announced
            if len(state.announced) + len(new) > limits.max_features:
                self._refuse(
                    result,
                    batch,
                    source,
                    "too_many_features",
                    f"model {batch.model!r}: {len(new)} new features would pass the limit of "
                    f"{limits.max_features} (limits.max_features)",
                )
                continue
            state.announced |= new
            self._queue.put_nowait(batch)
            self._queued_rows += rows
            self.instruments.records.labels(batch.model, source).inc(rows)

    def admit_spans(self, batch: SpanBatch) -> None:
        """Queue a trace export's observations; raises QueueFull for a whole-request 429."""
        limit = self.config.limits.max_queue_rows
        if self._queued_rows + len(batch) > limit:
            raise QueueFull(f"ingest queue holds {self._queued_rows} rows (limit {limit}); retry shortly")
        self._queue.put_nowait(batch)
        self._queued_rows += len(batch)

    def _refuse(self, result: ParseResult, batch: RecordBatch, source: str, reason: str, message: str) -> None:
        rows = batch.values.shape[0]
        result.accepted -= rows
        result.rejected_by_reason[reason] += rows
        if len(result.errors) < MAX_REPORTED_ERRORS:
            result.errors.append(RecordError(index=-1, reason=reason, message=message))
        self.instruments.records_rejected.labels(source, reason).inc(rows)

    @property
    def queue_rows(self) -> tuple[int, int]:
        return self._queued_rows, self.config.limits.max_queue_rows

    @property
    def saturated(self) -> bool:
        return self._queued_rows >= 0.9 * self.config.limits.max_queue_rows

    async def _consume(self) -> None:
        while True:
            self._apply(await self._queue.get())

    def _drain(self) -> None:
        while not self._queue.empty():
            self._apply(self._queue.get_nowait())

    def _apply(self, batch: RecordBatch | SpanBatch) -> None:
        if isinstance(batch, SpanBatch):
            self._queued_rows -= len(batch)
            self.requests.update(batch)
            if self.on_requests is not None:
                for model, count in zip(*np.unique(batch.selectors["model"], return_counts=True), strict=True):
                    self.on_requests(str(model), int(count), traced=True)
            for tracker in self.slos.values():
                tracker.update(batch.selectors, batch.duration, batch.end_time, batch.error)
            return
        self._queued_rows -= batch.values.shape[0]
        state = self._models.get(batch.model)
        if state is not None:
            state.detector.update(batch.features, batch.values, batch.categorical, batch.categorical_values)
            state.labels.add_batch(batch)
            if batch.model_version:
                state.detector.model_version = batch.model_version
        if self.on_requests is not None:
            self.on_requests(batch.model, batch.values.shape[0], traced=False)

    async def flush(self) -> None:
        """Wait until every admitted batch is in its window (tests and `check` use this)."""
        while not self._queue.empty():
            await asyncio.sleep(0.001)
        self._drain()

    # -- references ------------------------------------------------------------
    def can_track(self, model: str) -> bool:
        return model in self._models or len(self._models) < self.config.limits.max_models

    async def set_reference(self, model: str, profile: ReferenceProfile, *, source: str) -> None:
        """Store the profile (in a worker thread), then install it; the model map changes only on the loop."""
        if not self.can_track(model):
            raise TooManyModels(f"{self.config.limits.max_models} models already tracked (limits.max_models)")
        await asyncio.to_thread(self.store.save_reference, model, profile, source=source)
        state = self._model(model, create=True)
        if state is None:  # the last free slot was taken while the profile was being stored
            raise TooManyModels(f"{self.config.limits.max_models} models already tracked (limits.max_models)")
        state.detector.set_reference(profile)
        state.announced |= set(profile.features)

    async def pin_reference(self, model: str) -> ReferenceProfile:
        """The model's current window becomes its reference (stored); KeyError unknown, ValueError empty."""
        state = self._models.get(model)
        if state is None:
            raise KeyError(model)
        await self.flush()
        profile = await asyncio.to_thread(state.detector.window_profile)
        await self.set_reference(model, profile, source="pinned window")
        return profile

    # -- evaluation --------------------------------------------------------------
    async def _checkpoint_forever(self) -> None:
        """Windows saved on their own clock too, so a long `evaluate_every` does not widen what a crash loses."""
        while True:
            await asyncio.sleep(self.config.checkpoint_every)
            try:
                await self.checkpoint_windows()
            except Exception:
                log.exception("window checkpoint failed")

    async def _evaluate_forever(self) -> None:
        while True:
            await asyncio.sleep(self.config.evaluate_every)
            try:
                await self.evaluate_all()
            except Exception:  # an evaluation bug must not stop the daemon; it is logged with its trace
                log.exception("drift evaluation failed")

    async def evaluate_all(self) -> list[DriftReport]:
        with self.tracer.start_as_current_span("driftwarden.evaluate") as span:
            reports = await self._evaluate_drift()
            self.evaluate_slos()
            findings = [f for r in reports for f in r.findings()]
            findings += self._quality_findings()
            findings += [f for b in self.drift_budgets.values() for f in b.evaluate()]
            findings += [f for fs in self.slo_findings.values() for f in fs]
            findings += [f for source in self.extra_findings.values() for f in source()]
            if self.notifier is not None:
                await self.notifier.observe(findings)
            await self.checkpoint_slos()
            await self.checkpoint_windows()
            span.set_attribute("driftwarden.models", len(reports))
            span.set_attribute("driftwarden.findings", len(findings))
        return reports

    async def _evaluate_drift(self) -> list[DriftReport]:
        reports = []
        for name, state in list(self._models.items()):
            previous, reference = state.detector.report, state.detector.reference
            started = time.perf_counter()
            with self.tracer.start_as_current_span("driftwarden.evaluate_drift", attributes={"model.name": name}):
                await asyncio.to_thread(state.detector.evaluate)
            rolled = state.detector.reference
            if state.detector.previous_as_reference and rolled is not None and rolled is not reference:
                # `reference: previous`: the period that just closed is stored like any reference
                await asyncio.to_thread(self.store.save_reference, name, rolled, source="previous window")
            report = state.detector.report
            if report is None:
                continue
            self.instruments.evaluation_duration.labels(name).observe(time.perf_counter() - started)
            if report.rows["current"]:
                scores = {f.name: f.scores["psi"] for f in report.features if "psi" in f.scores}
                self._history.setdefault(name, deque(maxlen=HISTORY_LENGTH)).append(
                    (report.evaluated_at, report.drift_share, scores)
                )
                budget = self.drift_budgets.get(name)
                if budget is None:
                    budget = self.drift_budgets[name] = DriftBudget(name, alerting_params(self.config.alerting))
                    self._restore_counts(f"drift-budget:{name}", budget.tracker)
                budget.record(report.drifted, report.evaluated_at)
            reports.append(report)
            try:
                self.on_report(report, previous)
            except Exception:  # a reporting hook must not cost the evaluation its alerts and checkpoints
                log.exception("on_report hook failed for %s", name)
        return reports

    def _quality_findings(self) -> list[Finding]:
        """Realized quality (joined labels) worse than in the model's first labelled window."""
        findings = (
            state.labels.finding(name, alpha=self.config.model(name).drift.alpha)
            for name, state in list(self._models.items())
        )
        return [f for f in findings if f is not None]

    def evaluate_slos(self) -> None:
        for name, tracker in self.slos.items():
            with self.tracer.start_as_current_span("driftwarden.evaluate_slo", attributes={"slo": name}):
                findings = tracker.evaluate()
            self.on_slo(name, findings, self.slo_findings[name])
            self.slo_findings[name] = findings

    async def checkpoint_slos(self) -> None:
        """Persist SLO and drift-budget counts: a restart (even kill -9) loses at most one interval."""
        states = {name: (t.fingerprint, t.to_bytes()) for name, t in self._counted()}
        if states:
            await asyncio.to_thread(self.store.save_slo_states, states)

    def stage_document(self, name: str, value: object) -> None:
        """A document saved with the next window checkpoint, in its transaction: a file-tail offset
        staged right after its rows were admitted is then never ahead of (rows lost) or behind
        (rows counted twice) the windows a restart resumes from."""
        self._staged[name] = value

    async def checkpoint_windows(self) -> None:
        """Persist every model's current window, so a restart (even kill -9) resumes from the last
        evaluation instead of an empty window."""
        self._drain()  # every admitted row (and so every staged offset) is in a window now
        if any(state.labels.touched for state in self._models.values()):  # one document: every model's join
            labels = {name: state.labels.to_dict() for name, state in list(self._models.items())}
            for state in self._models.values():
                state.labels.touched = False
            await asyncio.to_thread(self.store.save_document, "labels", labels)
        changed = {
            name: state.detector
            for name, state in list(self._models.items())
            if state.detector.window.rows and state.detector.window.total_rows != self._checkpointed.get(name)
        }
        if not changed and not self._staged:
            return
        states = {name: detector.checkpoint_state() for name, detector in changed.items()}  # copies, on the loop
        documents, self._staged = self._staged, {}

        def save() -> None:
            self.store.save_windows({name: encode_checkpoint(*state) for name, state in states.items()}, documents)

        await asyncio.to_thread(save)
        self._checkpointed |= {name: state[2] for name, state in states.items()}

    def _restore_counts(self, name: str, tracker: SLOTracker) -> None:
        """Counts saved by an earlier run, when the definition they were counted for is unchanged."""
        saved = self._saved_counts.get(name)
        if saved is not None and saved[0] == tracker.fingerprint:
            tracker.restore(saved[1])

    def _counted(self) -> list[tuple[str, SLOTracker]]:
        budgets = [(f"drift-budget:{m}", b.tracker) for m, b in self.drift_budgets.items()]
        return list(self.slos.items()) + budgets

    def add_labels(self, model: str, request_ids: list[str], labels: list) -> OutcomeCounts | None:
        """Join labels to the model's waiting predictions; None for a model not tracked."""
        state = self._models.get(model)
        if state is None:
            return None
        counts = state.labels.add_labels(request_ids, labels)
        self.instruments.labels.labels(model, "matched").inc(counts.matched)
        self.instruments.labels.labels(model, "unmatched").inc(counts.unmatched)
        return counts

    # -- reading -----------------------------------------------------------------
    def models(self) -> list[str]:
        return sorted(self._models)

    def history(self, model: str) -> list[tuple[float, float, dict[str, float]]]:
        """(evaluated_at, drift share, PSI per feature) of the model's recent evaluations, oldest first."""
        return list(self._history.get(model, ()))

    def detector(self, model: str) -> DriftDetector | None:
        state = self._models.get(model)
        return state.detector if state else None

    def states(self) -> list[ModelState]:
        return [
            ModelState(
                model=name,
                report=state.detector.report,
                window_rows=state.detector.window.rows,
                reference_rows=state.detector.reference.rows if state.detector.reference else None,
                quality=state.labels.metrics(),
                quality_baseline=state.labels.baseline_metrics,
                labels_pending=state.labels.pending,
            )
            for name, state in sorted(list(self._models.items()))
        ]

    def _model(self, model: str, *, create: bool) -> _Model | None:
        state = self._models.get(model)
        if state is None and create and len(self._models) < self.config.limits.max_models:
            settings = self.config.model(model)
            detector = _detector(model, settings, self.config.limits.max_features, self.config.alerting.for_)
            state = _Model(detector=detector, labels=LabelJoin(ttl=settings.label_ttl, window=settings.window.rows))
            self._models[model] = state
        return state


def _detector(model: str, settings: ModelSettings, max_features: int, hold: int) -> DriftDetector:
    return DriftDetector(
        model,
        None,
        window=settings.window.rows,
        thresholds=thresholds(settings.drift),
        critical_features=settings.critical_features,
        max_features=max_features,
        hold=hold,
        kinds=settings.features,
        every=settings.window.every,
        previous_as_reference=settings.previous_as_reference,
        bins=settings.drift.bins,
    )


def thresholds(d: DriftSettings) -> DriftThresholds:
    return DriftThresholds(
        psi=d.psi,
        ks=d.ks,
        wasserstein=d.wasserstein,
        alpha=d.alpha,
        share=d.share,
        methods=tuple(dict.fromkeys(["ks", "psi", *d.methods])),
        missing=d.missing,
        per_feature={name: t.model_dump(exclude_none=True) for name, t in d.per_feature.items()},
    )


def _redacted(batch: RecordBatch, redact: list[str]) -> RecordBatch:
    keep = [j for j, name in enumerate(batch.features) if name not in redact]
    keep_text = [j for j, name in enumerate(batch.categorical) if name not in redact]
    if len(keep) == len(batch.features) and len(keep_text) == len(batch.categorical):
        return batch
    return dataclasses.replace(
        batch,
        features=tuple(batch.features[j] for j in keep),
        values=batch.values[:, keep],
        categorical=tuple(batch.categorical[j] for j in keep_text),
        categorical_values=None if batch.categorical_values is None else batch.categorical_values[:, keep_text],
    )


def _log_new_burns(slo: str, findings: list[Finding], previous: list[Finding]) -> None:
    before = {f.subject for f in previous}
    for f in findings:
        if f.subject not in before:
            log.warning(
                "SLO %s is burning its error budget: %.1fx over %s (threshold %.1fx), severity %s",
                slo,
                f.value,
                f.evidence["windows"],
                f.threshold,
                f.severity.value,
            )


def _log_verdict_change(report: DriftReport, previous: DriftReport | None) -> None:
    was = previous.drifted if previous else False
    if report.drifted and not was:
        log.warning("drift detected: %s", report.summary())
    elif was and not report.drifted:
        log.info("drift cleared: %s", report.summary())
