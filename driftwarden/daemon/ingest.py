"""Admission for every way records come in (HTTP, KServe, the file tail, reference uploads).

Parsers turn bodies into `ParseResult`s; `IngestService.admit()` applies what the config
bounds (queue rows and values, models, features, the windows' memory), redaction and sampling, counts every
rejected record exactly once in `driftwarden_records_rejected_total{source,reason}` — the parser's
per-record rejections, rows a KServe join dropped, and its own refusals alike — and puts the rest on
one bounded queue. A consumer task moves queued batches into the models' windows, so request
handlers never touch a window.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Callable, Collection

import numpy as np

from driftwarden.collector.embeddings import conform
from driftwarden.collector.sampling import sampled
from driftwarden.config import Config
from driftwarden.core.errors import BodyTooLarge, LimitExceeded, Overloaded, TooManyFeatures, TooManyModels
from driftwarden.core.points import PointBatch
from driftwarden.core.records import (
    MAX_MAGNITUDE,
    MAX_REPORTED_ERRORS,
    ParseResult,
    RecordBatch,
    RecordError,
    representable,
)
from driftwarden.core.semconv import MetricKind
from driftwarden.core.spans import SpanBatch
from driftwarden.daemon.models import ModelRegistry
from driftwarden.daemon.window_budget import WindowBudget
from driftwarden.detectors.constraints import BatchViolations, check
from driftwarden.detectors.latency import RequestStats
from driftwarden.detectors.latency_sources import LatencySources
from driftwarden.detectors.reference import ReferenceProfile
from driftwarden.detectors.slo import SLOTracker
from driftwarden.exporters.prometheus import Instruments
from driftwarden.params import constraint_set

__all__ = ["IngestService"]

_Queued = RecordBatch | SpanBatch | PointBatch


class IngestService:
    def __init__(
        self,
        config: Config,
        models: ModelRegistry,
        instruments: Instruments,
        requests: RequestStats,
        slos: dict[str, SLOTracker],
        *,
        on_requests: Callable[..., None] | None = None,
    ) -> None:
        self.config = config
        self.models = models
        self.instruments = instruments
        self.requests = requests
        self.slos = slos
        self.on_requests = on_requests  # (model, count, traced=) for cost per inference
        self.window_budget = WindowBudget(config, models)
        # per service: spans or metrics (traces.latency_source), applied on the loop by the consumer
        self.sources = LatencySources(config.traces.latency_source, config.limits.max_series_per_metric)
        self._queue: asyncio.Queue[_Queued] = asyncio.Queue()
        self._queued_rows = 0
        self._queued_values = 0  # rows x columns: what the queued batches' arrays hold
        # features of kind `ignore` are dropped like `redact`ed ones, for their model only
        self._ignored = {name: m.ignored_features for name, m in config.models.items() if m.ignored_features}
        # data-quality constraints: checked on every admitted batch before redaction, examples of redacted hidden
        self._constraints = {
            name: constraint_set(m.constraints) for name, m in config.models.items() if m.constraints is not None
        }

    def _dropped(self, model: str) -> frozenset[str]:
        """The features of `model` that are never stored: `redact`, and its features of kind `ignore`."""
        return frozenset(self.config.redact) | self._ignored.get(model, frozenset())

    # -- admission -------------------------------------------------------------
    def admit(self, result: ParseResult, *, source: str, retry_on_overload: bool = False) -> None:
        """Count the result's rejections and queue its batches. A request is refused whole, nothing
        queued: `BodyTooLarge` when it has more rows or values (rows x columns) than the queue holds
        at all, `Overloaded` when the queue cannot take them now, `LimitExceeded` (memory_budget) when
        a batch would take the windows past their memory budget. The file tail (`retry_on_overload`:
        it reads the same lines again after an overload, not counted as rejected) has its batches
        refused one by one; a read larger than the queue raises `BodyTooLarge`, not counted, for it
        to read fewer lines, and a single record larger than the queue is dropped, counted."""
        limits = self.config.limits
        _drop_unrepresentable(result)
        self._conform_embeddings(result)
        values = sum(_values(batch) for batch in result.batches)
        too_large = self._larger_than_queue(result.accepted, values)
        if too_large is not None and retry_on_overload and result.accepted > 1:
            raise BodyTooLarge(too_large, code="larger_than_queue")
        if too_large is not None and not retry_on_overload:
            self._refuse_whole(result, source, "larger_than_queue")
            raise BodyTooLarge(too_large, code="larger_than_queue")
        if too_large is None and (
            self._queued_rows + result.accepted > limits.max_queue_rows
            or self._queued_values + values > limits.max_queue_values
        ):
            if not retry_on_overload:
                self._refuse_whole(result, source, "queue_full")
            raise Overloaded(
                f"ingest queue holds {self._queued_rows} rows (limits.max_queue_rows = {limits.max_queue_rows}) "
                f"and {self._queued_values} values (limits.max_queue_values = {limits.max_queue_values}); "
                "retry shortly"
            )
        violations = self._check_constraints(result.batches)
        if self.config.redact or self._ignored:
            result.batches = [_redacted(b, self._dropped(b.model)) for b in result.batches]
        if not retry_on_overload and (refusal := self.window_budget.refusal(result.batches)) is not None:
            self._refuse_whole(result, source, "memory_budget")
            raise LimitExceeded(refusal, code="memory_budget")
        self._count_parse_rejections(result, source)
        for k, batch in enumerate(result.batches):
            if too_large is not None:  # the file tail's one record
                self._refuse(result, batch, source, "larger_than_queue", too_large)
                continue
            rate = self.config.model(batch.model).sample_rate
            if rate < 1.0:
                batch, dropped = sampled(batch, rate)
                result.batches[k] = batch
                self.instruments.records_sampled_out.labels(batch.model, source).inc(dropped)
            if retry_on_overload and (refusal := self.window_budget.refusal([batch])) is not None:
                self._refuse(result, batch, source, "memory_budget", refusal)  # a request was checked whole
                continue
            state = self.models.get_or_create(batch.model)
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
            if (found := violations[k]) is not None and state.constraints is not None:
                self._count_violations(state.name, found)
                state.constraints.add(found)
            state.queued_rows += batch.rows
            state.queued_features |= {
                name for name in (*batch.features, *batch.categorical) if name not in state.detector.window
            }
            self._queue.put_nowait(batch)
            self._queued_rows += batch.rows
            self._queued_values += _values(batch)
            self.instruments.records.labels(batch.model, source).inc(batch.rows)

    def _conform_embeddings(self, result: ParseResult) -> None:
        """Records whose vectors their model does not declare with that length are rejected (`bad_embedding`)."""
        if not any(batch.embeddings for batch in result.batches):
            return
        batches = []
        for batch in result.batches:
            dims = {name: e.dim for name, e in self.config.model(batch.model).embeddings.items()}
            kept = conform(batch, dims, result)
            if kept is not None:
                batches.append(kept)
        result.batches = batches

    def _check_constraints(self, batches: list[RecordBatch]) -> list[BatchViolations | None]:
        """Each batch's constraint violations (None: its model has no constraints), before redaction."""
        redact = frozenset(self.config.redact)
        return [
            check(rules, batch, hidden=redact, known=self._dropped(batch.model))
            if (rules := self._constraints.get(batch.model)) is not None
            else None
            for batch in batches
        ]

    def _count_violations(self, model: str, violations: BatchViolations) -> None:
        for (feature, kind), count in violations.counts.items():
            self.instruments.constraint_violations.labels(model, feature, kind.value).inc(count)

    def _larger_than_queue(self, rows: int, values: int) -> str | None:
        """Why records could never be admitted, even to an empty queue; None when they could."""
        limits = self.config.limits
        if rows > limits.max_queue_rows:
            return (
                f"{rows} records in one request, more than the ingest queue holds "
                f"(limits.max_queue_rows = {limits.max_queue_rows}): it could never be admitted; "
                f"split it into requests of at most {limits.max_queue_rows} records"
            )
        if values > limits.max_queue_values:
            return (
                f"{values} values (records x features) in one request, more than the ingest queue holds "
                f"(limits.max_queue_values = {limits.max_queue_values}): it could never be admitted; "
                "split it into smaller requests"
            )
        return None

    def admit_spans(self, batch: SpanBatch) -> None:
        """Queue a trace export's observations; raises `BodyTooLarge` for a whole-request 413 when they
        could never fit the queue, `Overloaded` for a 429 when they cannot now."""
        limit = self.config.limits.max_queue_rows
        if len(batch) > limit:
            raise BodyTooLarge(
                f"{len(batch)} spans in one export, more than the ingest queue holds (limits.max_queue_rows = "
                f"{limit}): it could never be admitted; export batches of at most {limit} spans",
                code="larger_than_queue",
            )
        if self._queued_rows + len(batch) > limit:
            raise Overloaded(f"ingest queue holds {self._queued_rows} rows (limit {limit}); retry shortly")
        self._queue.put_nowait(batch)
        self._queued_rows += len(batch)

    def admit_points(self, batch: PointBatch) -> None:
        """Queue a metrics export's histogram points; `BodyTooLarge` (413) when they could never fit
        the queue, `Overloaded` (429) when they cannot now."""
        limit = self.config.limits.max_queue_rows
        if len(batch) > limit:
            raise BodyTooLarge(
                f"{len(batch)} data points in one export, more than the ingest queue holds (limits.max_queue_rows "
                f"= {limit}): it could never be admitted; export batches of at most {limit} points",
                code="larger_than_queue",
            )
        if self._queued_rows + len(batch) > limit:
            raise Overloaded(f"ingest queue holds {self._queued_rows} rows (limit {limit}); retry shortly")
        self._queue.put_nowait(batch)
        self._queued_rows += len(batch)

    def check_reference(self, model: str, features: Collection[str] = ()) -> None:
        """Refuse a reference the model could not take: before its body is read when the model could
        not be tracked; before it is stored when its features would pass `limits.max_features` with
        those the model already has (the rule records are admitted by)."""
        limits = self.config.limits
        if not self.models.can_track(model):
            raise TooManyModels(f"{limits.max_models} models already tracked (limits.max_models)")
        state = self.models.get(model)
        announced = state.announced if state is not None else set()
        new = set(features) - announced
        if len(announced) + len(new) > limits.max_features:
            raise TooManyFeatures(
                f"model {model!r}: {len(new)} new features would pass the limit of {limits.max_features} "
                f"(limits.max_features) with the {len(announced)} it has"
            )

    def install_reference(self, model: str, profile: ReferenceProfile) -> None:
        """Make `profile` the model's reference (already stored by the caller)."""
        state = self.models.get_or_create(model)
        if state is None:  # the last free slot was taken while the profile was being fitted or stored
            raise TooManyModels(f"{self.config.limits.max_models} models already tracked (limits.max_models)")
        state.detector.set_reference(profile)
        state.announced |= {*profile.features, *profile.categories}

    def _count_parse_rejections(self, result: ParseResult, source: str) -> None:
        for reason, rows in result.dropped_rows.items():  # a KServe join's unpaired rows
            self._count_rejected(source, reason, rows)
        for reason, count in result.rejected_by_reason.items():
            self._count_rejected(source, reason, count)

    def _count_rejected(self, source: str, reason: str, rows: int) -> None:
        if rows:
            self.instruments.records_rejected.labels(source, reason).inc(rows)

    def _refuse_whole(self, result: ParseResult, source: str, reason: str) -> None:
        """Count a refused request: its accepted records under `reason`, the parser's rejections as they were."""
        self._count_rejected(source, reason, result.accepted)
        self._count_parse_rejections(result, source)

    def _refuse(self, result: ParseResult, batch: RecordBatch, source: str, reason: str, message: str) -> None:
        result.accepted -= batch.rows
        result.rejected_by_reason[reason] += batch.rows
        if len(result.errors) < MAX_REPORTED_ERRORS:
            result.errors.append(RecordError(index=-1, reason=reason, message=message))
        self._count_rejected(source, reason, batch.rows)

    # -- the queue -----------------------------------------------------------------
    @property
    def queue_rows(self) -> tuple[int, int]:
        return self._queued_rows, self.config.limits.max_queue_rows

    @property
    def saturated(self) -> bool:
        return self._queued_rows >= 0.9 * self.config.limits.max_queue_rows

    async def consume_forever(self) -> None:
        while True:
            self._apply(await self._queue.get())

    def drain(self) -> None:
        """Apply every queued batch now (on the loop)."""
        while not self._queue.empty():
            self._apply(self._queue.get_nowait())

    async def flush(self) -> None:
        """Wait until every admitted batch is in its window."""
        while not self._queue.empty():
            await asyncio.sleep(0.001)
        self.drain()

    def _apply(self, batch: _Queued) -> None:
        if isinstance(batch, SpanBatch):
            self._queued_rows -= len(batch)
            self._apply_spans(batch)
            return
        if isinstance(batch, PointBatch):
            self._queued_rows -= len(batch)
            self._apply_points(batch)
            return
        self._queued_rows -= batch.rows
        self._queued_values -= _values(batch)
        state = self.models.get(batch.model)
        if state is not None:
            state.queued_rows -= batch.rows
            if state.queued_rows == 0:
                state.queued_features.clear()
            state.detector.update(
                batch.features,
                batch.values,
                batch.categorical,
                batch.categorical_values,
                batch.traces,
                text=batch.text_columns,
            )
            if batch.embeddings and state.embeddings is not None:
                state.embeddings.update(batch.embeddings)
            state.labels.add_batch(batch)
            state.estimation.update(batch)
            if batch.model_version:
                state.detector.model_version = batch.model_version
        if self.on_requests is not None:
            self.on_requests(batch.model, batch.rows, traced=False)

    def _apply_spans(self, batch: SpanBatch) -> None:
        evicted = self.sources.evicted
        verdict = self.sources.spans(batch)
        self._count_evicted(evicted)
        batch = verdict.blank(batch)
        self.requests.update(batch, latency=verdict.latency)
        latency = verdict.latency
        selectors, duration, end_time, error = batch.selectors, batch.duration, batch.end_time, batch.error
        if latency is not None:
            if not latency.any():
                return
            selectors = {label: names[latency] for label, names in selectors.items()}
            duration, end_time, error = duration[latency], end_time[latency], error[latency]
        if self.on_requests is not None:
            for model, count in zip(*np.unique(selectors["model"], return_counts=True), strict=True):
                self.on_requests(str(model), int(count), traced=True)
        for tracker in self.slos.values():
            tracker.update(selectors, duration, end_time, error)

    def _apply_points(self, batch: PointBatch) -> None:
        evicted = self.sources.evicted
        keep, ignored = self.sources.points(batch)
        self._count_evicted(evicted)
        for reason, count in ignored.items():
            self.instruments.otlp_points_ignored.labels(reason).inc(count)
            self.instruments.otlp_points.labels("ignored").inc(count)
        self.instruments.otlp_points.labels("counted").inc(int(keep.sum()))
        if not keep.all():
            batch = batch.subset(keep)
        self.requests.update_points(batch)
        durations = batch.kind == MetricKind.DURATION
        if not durations.any():
            return
        if self.on_requests is not None:
            models = batch.selectors["model"][durations]
            for model in np.unique(models).tolist():
                self.on_requests(str(model), int(batch.count[durations][models == model].sum()), traced=True)
        for tracker in self.slos.values():
            rows = durations[batch.point]
            tracker.update_buckets(
                batch.selectors,
                batch.point[rows],
                batch.upper[rows],
                batch.weight[rows],
                batch.end_time,
                batch.error,
            )

    def _count_evicted(self, before: int) -> None:
        if self.sources.evicted > before:
            self.instruments.otlp_state_evicted.labels("services").inc(self.sources.evicted - before)


def _values(batch: RecordBatch) -> int:
    vectors = sum(v.shape[1] for v in batch.embeddings.values()) if batch.embeddings else 0
    return batch.rows * (len(batch.features) + len(batch.categorical) + vectors)


def _redacted(batch: RecordBatch, redact: Collection[str]) -> RecordBatch:
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
        text=None if batch.text is None else tuple(batch.text[k] for k in keep_text),
    )


def _drop_unrepresentable(result: ParseResult) -> None:
    """Rows with a number beyond ±MAX_MAGNITUDE are rejected (`unrepresentable`) before anything
    counts them as accepted: a window holding one would overflow the statistics at every evaluation."""
    for k, batch in enumerate(result.batches):
        ok = representable(batch)
        dropped = int(batch.rows - ok.sum())
        if dropped:
            result.batches[k] = batch.subset(ok)
            result.accepted -= dropped
            result.reject(
                -1,
                "unrepresentable",
                f"model {batch.model!r}: {dropped} record(s) with a value beyond ±{MAX_MAGNITUDE:g}; "
                "the statistics square values and would overflow: rescale those features",
            )
            result.rejected_by_reason["unrepresentable"] += dropped - 1
    result.batches = [batch for batch in result.batches if batch.rows]
