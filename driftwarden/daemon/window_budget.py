"""The memory the models' current windows may take: `limits.max_window_bytes_per_model` for one
model, `limits.max_window_bytes_total` for all of them.

Admission asks before it queues anything: what each batch would take its model's window to (the
rows already held and queued, its own rows and any new features, in the buffer sizes the window
grows by, and the ring of trace ids once a batch brings them), and all windows with it. A window
never shrinks by appending and a full one costs nothing more for further rows: only its growth can
be refused.
"""

from __future__ import annotations

from collections.abc import Iterable

from driftwarden.config import Config
from driftwarden.core.records import RecordBatch
from driftwarden.daemon.models import ModelRegistry
from driftwarden.detectors.windows import window_bytes

__all__ = ["WindowBudget"]

_MIB = 1024 * 1024


class WindowBudget:
    def __init__(self, config: Config, models: ModelRegistry) -> None:
        self.config = config
        self.models = models

    def total_bytes(self) -> int:
        """Bytes of every window once its queued rows are in."""
        return sum(state.window_bytes_after() for state in self.models)

    def refusal(self, batches: Iterable[RecordBatch]) -> str | None:
        """Why the first of `batches` that would take its model's window, or all windows, past their
        budget is refused (the ones before it counted as appended); None when all fit. Batches that
        `limits.max_models` or `limits.max_features` will refuse are left out."""
        limits = self.config.limits
        total = self.total_bytes()
        new_models: set[str] = set()
        pending_rows: dict[str, int] = {}
        pending_features: dict[str, set[str]] = {}
        pending_traced: set[str] = set()  # models with a batch carrying trace ids before this one
        for batch in batches:
            model = batch.model
            state = self.models.get(model)
            if state is None and model not in new_models:
                if len(self.models) + len(new_models) >= limits.max_models:
                    continue
                new_models.add(model)
            rows, known = pending_rows.get(model, 0), pending_features.get(model, set())
            features = known | set(batch.features) | set(batch.categorical)
            if len((state.announced if state else set()) | features) > limits.max_features:
                continue
            was_traced = model in pending_traced
            traced = was_traced or batch.traces is not None
            before = self._bytes(model, rows, known, was_traced)
            after = self._bytes(model, rows + batch.rows, features, traced)
            if after > limits.max_window_bytes_per_model:
                return self._message(
                    model, "its window", after, "max_window_bytes_per_model", limits.max_window_bytes_per_model
                )
            if total - before + after > limits.max_window_bytes_total:
                every = f"the windows of all {len(self.models) + len(new_models)} models"
                return self._message(
                    model, every, total - before + after, "max_window_bytes_total", limits.max_window_bytes_total
                )
            total += after - before
            pending_rows[model], pending_features[model] = rows + batch.rows, features
            if traced:
                pending_traced.add(model)
        return None

    def _bytes(self, model: str, rows: int, features: set[str], traced: bool) -> int:
        state = self.models.get(model)
        if state is not None:
            return state.window_bytes_after(rows, features, traced=traced)
        return window_bytes(rows, len(features), self.config.model(model).window.rows, traced=traced)

    def _message(self, model: str, what: str, grown: int, key: str, limit: int) -> str:
        return (
            f"model {model!r} refused: {what} would grow to {grown / _MIB:.1f} MiB, more than "
            f"limits.{key} ({limit / _MIB:.1f} MiB); send fewer features, lower window.rows "
            f"(the model's is {self.config.model(model).window.rows}), or raise the limit"
        )
