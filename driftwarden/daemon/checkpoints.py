"""What must survive a restart or a `kill -9`: model references, current windows, label joins,
SLO and drift-budget counts — saved on a clock and after every evaluation, restored at start.

A stored row that no longer loads (a window blob from a damaged file, counts of an SLO whose
blob is cut short) is skipped with one log line and counted in
`driftwarden_state_rows_skipped_total{kind}` (`Database.skip`): the daemon starts without it
rather than not at all. So is a reference past the bounds references are held to today (a model
name records may have, at most `limits.max_features` columns named in 1-128 characters), which a
state file written before them may hold: it would make a series per column while the file is used.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from driftwarden.collector.predictions import MAX_FEATURE_NAME
from driftwarden.core.records import MODEL_NAME
from driftwarden.daemon.faults import FaultLog
from driftwarden.daemon.ingest import IngestService
from driftwarden.daemon.models import ModelRegistry
from driftwarden.detectors.reference import ReferenceProfile
from driftwarden.detectors.slo import SLOTracker
from driftwarden.detectors.windows import encode_checkpoint
from driftwarden.persistence.store import Store

__all__ = ["Checkpointer"]

log = logging.getLogger("driftwarden.checkpoints")


class Checkpointer:
    def __init__(self, store: Store, models: ModelRegistry, ingest: IngestService, faults: FaultLog) -> None:
        self.store = store
        self.models = models
        self.ingest = ingest
        self.faults = faults
        self._checkpointed: dict[str, int] = {}  # model -> window total_rows at its last checkpoint
        self._segments_checkpointed: dict[str, int] = {}  # model -> its segments' total_rows then
        self._counts_saved: dict[str, tuple[str, int]] = {}  # tracker -> (fingerprint, revision) last saved
        self._embeddings_checkpointed: dict[str, int] = {}  # model -> its embedding windows' total_rows then
        self._staged: dict[str, object] = {}  # documents written with the next window checkpoint
        self._saved_counts: dict[str, tuple[str, bytes]] = {}  # SLO and drift-budget counts read at start

    # -- restore -------------------------------------------------------------------
    async def restore(self) -> None:
        """Every model's reference, window and label join, each on its own: one that fails is skipped."""
        for model, profile in (await asyncio.to_thread(self.store.load_references)).items():
            if (problem := self._out_of_bounds(model, profile)) is not None:
                self.store.database.skip("reference", model, problem)
                continue
            if (state := self.models.get_or_create(model)) is None:
                log.error("stored reference for %r ignored: limits.max_models reached", model)
                continue
            self.ingest.install_reference(model, profile)
            settings = self.models.config.model(model)
            if settings.segments:  # fitted at the first evaluation: the rows meanwhile are held for them
                state.estimation.await_fit(settings.segmenting.min_rows * (settings.segmenting.top + 1))
        for model, blob in (await asyncio.to_thread(self.store.load_windows)).items():
            state = self.models.get_or_create(model)
            if state is not None:
                try:
                    state.detector.restore(blob)
                except Exception as exc:  # a damaged checkpoint: the model starts with an empty window
                    self.store.database.skip("window", model, exc)
                    continue
                state.announced |= set(state.detector.window.features)
        for model, blobs in (await asyncio.to_thread(self.store.load_segment_windows)).items():
            state = self.models.get(model)
            if state is None:
                for key in blobs:
                    self.store.database.skip("segment_window", f"{model} {key}", "the model has no reference")
                continue
            state.estimation.saved_segments = blobs  # restored once its segments are fitted
            state.estimation.skip_saved = self._skipper(model)
        for model, blobs in (await asyncio.to_thread(self.store.load_embedding_windows)).items():
            self._restore_embeddings(model, blobs)
        saved_labels = await asyncio.to_thread(self.store.load_document, "labels", {})
        for model, saved in (saved_labels if isinstance(saved_labels, dict) else {}).items():
            state = self.models.get_or_create(model)
            if state is not None:
                with self.faults.contain(model, "restore"):
                    state.labels.restore(saved)
        self._saved_counts = await asyncio.to_thread(self.store.load_slo_states)

    def _restore_embeddings(self, model: str, blobs: dict[str, bytes]) -> None:
        """A model's embedding windows, each on its own: one no longer configured (or saved with another dim,
        or damaged) is skipped and counted."""
        state = self.models.get_or_create(model) if MODEL_NAME.fullmatch(model) else None
        monitor = state.embeddings if state is not None else None
        for name, blob in blobs.items():
            if monitor is None:
                self.store.database.skip("embedding_window", f"{model} {name}", "the model has no embeddings now")
                continue
            try:
                monitor.restore(name, blob)
            except (KeyError, ValueError) as exc:
                self.store.database.skip("embedding_window", f"{model} {name}", exc)
        if monitor is not None:
            self._embeddings_checkpointed[model] = monitor.total_rows

    def _skipper(self, model: str) -> Callable[[str, Exception], None]:
        def skip(key: str, error: Exception) -> None:
            self.store.database.skip("segment_window", f"{model} {key}", error)

        return skip

    def _out_of_bounds(self, model: str, profile: ReferenceProfile) -> str | None:
        """Why a stored reference could not be uploaded today; None when it could."""
        if not MODEL_NAME.fullmatch(model):
            return f"model names match {MODEL_NAME.pattern}"
        columns = [*profile.features, *profile.categories]
        max_features = self.ingest.config.limits.max_features
        if len(columns) > max_features:
            return f"{len(columns)} columns, more than limits.max_features ({max_features})"
        bad = next((name for name in columns if not 0 < len(name) <= MAX_FEATURE_NAME), None)
        if bad is not None:
            return f"a column named in {len(bad)} characters; feature names are 1-{MAX_FEATURE_NAME} characters"
        return None

    def restore_counts(self, name: str, tracker: SLOTracker) -> None:
        """Counts saved by an earlier run, when the definition they were counted for is unchanged."""
        saved = self._saved_counts.get(name)
        if saved is not None and saved[0] == tracker.fingerprint:
            try:
                tracker.restore(saved[1])
            except Exception as exc:  # counts cut short: the SLO counts from zero again
                self.store.database.skip("slo_state", name, exc)

    # -- save ----------------------------------------------------------------------
    def stage_document(self, name: str, value: object) -> None:
        """A document saved with the next window checkpoint, in its transaction: a file-tail offset
        staged right after its rows were admitted is then never ahead of (rows lost) or behind
        (rows counted twice) the windows a restart resumes from."""
        self._staged[name] = value

    async def save_counts(self, counted: list[tuple[str, SLOTracker]]) -> None:
        """Persist the SLO and drift-budget counts that changed since they were last saved: a restart (even
        kill -9) loses at most one checkpoint interval. Copied on the loop, encoded in a worker thread (a
        week of minutes is ~0.2 MB of counts a tracker)."""
        moved = [
            (name, tracker.copy())
            for name, tracker in counted
            if self._counts_saved.get(name) != (tracker.fingerprint, tracker.revision)
        ]
        if not moved:
            return
        saved = {name: (copy.fingerprint, copy.revision) for name, copy in moved}

        def save() -> None:
            self.store.save_slo_states({name: (copy.fingerprint, copy.to_bytes()) for name, copy in moved})

        await asyncio.to_thread(save)
        self._counts_saved.update(saved)

    async def save_windows(self) -> None:
        """Persist every model's current window (and the label joins and staged documents), so a
        restart resumes from the last checkpoint instead of empty windows."""
        self.ingest.drain()  # every admitted row (and so every staged offset) is in a window now
        models = list(self.models)
        if any(state.labels.touched for state in models):  # one document: every model's join
            labels = {state.name: state.labels.to_dict() for state in models}
            await asyncio.to_thread(self.store.save_document, "labels", labels)
            for state in models:
                state.labels.touched = False
        changed = [
            state
            for state in models
            if state.detector.window.rows and state.detector.window.total_rows != self._checkpointed.get(state.name)
        ]
        segmented = {
            state.name: segments
            for state in models
            if (segments := state.estimation.segmenting) is not None
            and segments.total_rows != self._segments_checkpointed.get(state.name, 0)
        }
        embedded = {
            state.name: monitor
            for state in models
            if (monitor := state.embeddings) is not None
            and monitor.total_rows != self._embeddings_checkpointed.get(state.name, 0)
        }
        if not changed and not self._staged and not segmented and not embedded:
            return
        states = {}
        for state in changed:  # copies, on the loop; one model's failure leaves the others saved
            with self.faults.contain(state.name, "checkpoint"):
                states[state.name] = state.detector.checkpoint_state()
        segment_states = {}
        for name, segments in segmented.items():
            with self.faults.contain(name, "checkpoint"):
                segment_states[name] = (segments.checkpoint_states(), segments.total_rows)
        embedding_states = {}
        for name, monitor in embedded.items():  # float32 copies of the rings, taken under their lock
            with self.faults.contain(name, "checkpoint"):
                total = monitor.total_rows  # read first: rows arriving meanwhile make the next checkpoint due
                embedding_states[name] = (monitor.checkpoint(), total)
        documents, self._staged = self._staged, {}

        def save() -> None:
            self.store.save_windows(
                {name: encode_checkpoint(*state) for name, state in states.items()},
                documents,
                {
                    name: {key: encode_checkpoint(*s) for key, s in per_segment.items()}
                    for name, (per_segment, _) in segment_states.items()
                },
                {name: blobs for name, (blobs, _) in embedding_states.items()},
            )

        try:
            await asyncio.to_thread(save)
        except Exception:
            self._staged = documents | self._staged  # written with the next checkpoint that succeeds
            raise
        self._checkpointed |= {name: state[2] for name, state in states.items()}
        self._segments_checkpointed |= {name: total for name, (_, total) in segment_states.items()}
        self._embeddings_checkpointed |= {name: total for name, (_, total) in embedding_states.items()}
