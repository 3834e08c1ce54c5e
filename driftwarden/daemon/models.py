"""The models a daemon tracks: each one's drift detector, label join and announced features,
created on first sight up to `limits.max_models`."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from driftwarden.config import Config, ModelSettings
from driftwarden.daemon.estimation import ModelEstimation
from driftwarden.daemon.multivariate import ModelMultivariate
from driftwarden.detectors.constraints import ConstraintMonitor
from driftwarden.detectors.detector import DriftDetector
from driftwarden.detectors.embedding import EmbeddingMonitor
from driftwarden.detectors.label_join import LabelJoin
from driftwarden.params import constraint_set, drift_thresholds, embedding_specs

__all__ = ["ModelRegistry", "TrackedModel"]


@dataclass
class TrackedModel:
    name: str
    detector: DriftDetector
    labels: LabelJoin
    announced: set[str] = field(default_factory=set)  # features admitted, applied or still queued
    queued_rows: int = 0  # admitted, not yet in the window
    queued_features: set[str] = field(default_factory=set)  # of queued batches, not in the window when admitted
    estimation: ModelEstimation = field(default_factory=ModelEstimation)  # estimated quality and segments
    constraints: ConstraintMonitor | None = None  # models.<m>.constraints: violations over the current window
    multivariate: ModelMultivariate = field(default_factory=ModelMultivariate)  # drift.multivariate
    embeddings: EmbeddingMonitor | None = None  # models.<m>.embeddings: their windows and verdicts

    def window_bytes_after(self, rows: int = 0, features: Iterable[str] = (), *, traced: bool = False) -> int:
        """Bytes the window would take with its queued rows and `rows` more naming `features` (`traced`:
        with trace ids) appended."""
        return self.detector.window.bytes_after(
            self.queued_rows + rows, self.queued_features.union(features), traced=traced
        )


class ModelRegistry:
    """Model name -> `TrackedModel`; the map changes only on the event loop."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self._models: dict[str, TrackedModel] = {}

    def __len__(self) -> int:
        return len(self._models)

    def __contains__(self, model: object) -> bool:
        return model in self._models

    def __iter__(self) -> Iterator[TrackedModel]:
        return iter(list(self._models.values()))

    def names(self) -> list[str]:
        return sorted(self._models)

    def get(self, model: str) -> TrackedModel | None:
        return self._models.get(model)

    def can_track(self, model: str) -> bool:
        return model in self._models or len(self._models) < self.config.limits.max_models

    def get_or_create(self, model: str) -> TrackedModel | None:
        """The model's state, created when there is room; None when `limits.max_models` are tracked."""
        state = self._models.get(model)
        if state is None and len(self._models) < self.config.limits.max_models:
            settings = self.config.model(model)
            state = TrackedModel(
                name=model,
                detector=_detector(model, settings, self.config.limits.max_features, self.config.alerting.for_),
                labels=LabelJoin(ttl=settings.label_ttl, window=settings.window.rows),
                constraints=None
                if settings.constraints is None
                else ConstraintMonitor(model, constraint_set(settings.constraints), window=settings.window.rows),
                embeddings=EmbeddingMonitor(embedding_specs(settings.embeddings)) if settings.embeddings else None,
            )
            self._models[model] = state
        return state


def _detector(model: str, settings: ModelSettings, max_features: int, hold: int) -> DriftDetector:
    return DriftDetector(
        model,
        None,
        window=settings.window.rows,
        thresholds=drift_thresholds(settings.drift),
        critical_features=settings.critical_features,
        max_features=max_features,
        hold=hold,
        kinds=settings.features,
        every=settings.window.every,
        previous_as_reference=settings.previous_as_reference,
        bins=settings.drift.bins,
    )
