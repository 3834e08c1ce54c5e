"""The parts of a running daemon assembled: tracked models, the ingest service, the evaluator and
the checkpointer, started and stopped together."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence

from opentelemetry import trace

from driftwarden.alerts.notifier import Notifier
from driftwarden.config import Config
from driftwarden.core.errors import InputError
from driftwarden.core.gpu import GpuSample
from driftwarden.daemon.anomalies import AnomalyMonitor
from driftwarden.daemon.audit_trail import AuditTrail
from driftwarden.daemon.checkpoints import Checkpointer
from driftwarden.daemon.estimation import Fitted, fit_extras
from driftwarden.daemon.evaluator import Evaluator, ReportHook, SloHook
from driftwarden.daemon.faults import FaultLog
from driftwarden.daemon.ingest import IngestService
from driftwarden.daemon.models import ModelRegistry
from driftwarden.detectors.findings import Finding
from driftwarden.detectors.label_join import OutcomeCounts
from driftwarden.detectors.latency import RequestStats
from driftwarden.detectors.reference import ReferenceProfile
from driftwarden.detectors.slo import SLOTracker
from driftwarden.exporters.prometheus import Instruments
from driftwarden.params import slo_params
from driftwarden.persistence.audit import DAEMON, Audited, AuditStore, Caller
from driftwarden.persistence.store import Store

__all__ = ["Daemon", "UnknownModel"]


class UnknownModel(KeyError):
    """No model of that name is tracked."""


class Daemon:
    def __init__(
        self,
        config: Config,
        store: Store,
        instruments: Instruments,
        faults: FaultLog,
        *,
        notifier: Notifier | None = None,
        on_report: ReportHook | None = None,
        on_slo: SloHook | None = None,
        finding_sources: dict[str, Callable[[], list[Finding]]] | None = None,
        on_requests: Callable[..., None] | None = None,
        tracer: trace.Tracer | None = None,
        clock: Callable[[], float] = time.time,
        gpu_samples: Callable[[], Sequence[GpuSample]] = list,
    ) -> None:
        self.config = config
        self.store = store
        self.instruments = instruments
        self.faults = faults
        t = config.traces
        self.requests = RequestStats(
            config.latency_buckets(),
            extra_labels=t.label_names,  # attribute names made label names
            max_label_values=t.max_label_values,
            max_series=config.limits.max_series_per_metric,
            max_quantile_samples=t.max_quantile_samples,
        )
        self.slos = {slo.name: SLOTracker(slo_params(slo), clock=clock) for slo in config.slos}
        self.models = ModelRegistry(config)
        self.ingest = IngestService(config, self.models, instruments, self.requests, self.slos, on_requests=on_requests)
        self.checkpointer = Checkpointer(store, self.models, self.ingest, faults)
        # anomaly-based alerts (issue 20): the daemon's own signals against their seasonal baseline
        self.anomalies = AnomalyMonitor(
            config, store.database, self.requests, instruments.records, gpu_samples=gpu_samples, clock=clock
        )
        self.evaluator = Evaluator(
            config,
            self.models,
            self.slos,
            self.checkpointer,
            faults,
            instruments,
            notifier=notifier,
            on_report=on_report,
            on_slo=on_slo,
            finding_sources=finding_sources,
            tracer=tracer,
            clock=clock,
            anomalies=self.anomalies,
        )
        self.audit = AuditTrail(config, AuditStore(store.database), clock)
        self._tasks: list[asyncio.Task[None]] = []
        self.ready = False

    async def start(self) -> None:
        await self.checkpointer.restore()
        for name, tracker in self.slos.items():
            self.checkpointer.restore_counts(name, tracker)
        await self.audit.start()
        self._tasks = [
            asyncio.create_task(self.ingest.consume_forever(), name="driftwarden-consume"),
            asyncio.create_task(self.evaluator.evaluate_forever(), name="driftwarden-evaluate"),
            asyncio.create_task(self.evaluator.checkpoint_forever(), name="driftwarden-checkpoint"),
            asyncio.create_task(self.audit.prune_forever(), name="driftwarden-audit-prune"),
        ]
        self.ready = True

    async def stop(self) -> None:
        self.ready = False
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self.ingest.drain()
        await self.evaluator.checkpoint()

    async def flush_and_evaluate(self) -> None:
        """Every admitted row in its window, then one evaluation (tests and the demo)."""
        await self.ingest.flush()
        await self.evaluator.evaluate_all()

    # -- references and labels -----------------------------------------------------
    async def set_reference(
        self, model: str, profile: ReferenceProfile, *, source: str, audited: Audited | None = None
    ) -> Fitted:
        """Fit its estimator and segments and store the profile (in worker threads), with its audit entry
        when `audited`, then install them; the model map changes only on the loop."""
        self.ingest.check_reference(model, (*profile.features, *profile.categories))
        fitted = await asyncio.to_thread(fit_extras, model, profile, self.config)  # InputError: nothing stored
        await asyncio.to_thread(self.store.save_reference, model, profile, source=source, audited=audited)
        self.ingest.install_reference(model, profile)
        state = self.models.get(model)
        if state is not None:
            state.estimation.install(fitted)
        return fitted

    async def pin_reference(self, model: str, *, caller: Caller = DAEMON) -> ReferenceProfile:
        """The model's current window becomes its reference (stored)."""
        state = self.models.get(model)
        if state is None:
            raise UnknownModel(model)
        await self.ingest.flush()
        try:
            profile = await asyncio.to_thread(state.detector.window_profile)
        except InputError:  # values no reference can hold: nothing is stored
            raise
        except ValueError as exc:  # an empty window
            raise InputError(str(exc), code="empty_window") from exc
        await self.set_reference(model, profile, source="pinned window", audited=Audited("reference.pin", caller))
        return profile

    def add_labels(self, model: str, request_ids: Sequence[str], labels: Sequence[str | float]) -> OutcomeCounts | None:
        """Join labels to the model's waiting predictions; None for a model not tracked."""
        state = self.models.get(model)
        if state is None:
            return None
        counts = state.labels.add_labels(request_ids, labels)
        self.instruments.labels.labels(model, "matched").inc(counts.matched)
        self.instruments.labels.labels(model, "unmatched").inc(counts.unmatched)
        return counts
