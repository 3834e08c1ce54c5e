"""A model's drift detector: its reference, its current window and the stability of its verdicts.

The thin stateful wrapper around `compare()`: `update()` appends rows (categorical values
as vocabulary codes, numeric ones binned as they pass, trace ids beside them), `evaluate()`
compares the window with the reference — a sliding window at every call, a tumbling one when its
period ends — and names the traces of a few rows behind its worst drifted features.
"""

from __future__ import annotations

import dataclasses
import json
import math
import time
from collections.abc import Callable, Mapping, Sequence
from functools import partial

import numpy as np
import numpy.typing as npt

from driftwarden.core.arrays import ByteArray, FloatArray, ObjectArray
from driftwarden.core.records import number_label
from driftwarden.core.text_columns import TextColumn
from driftwarden.detectors.drift import compare
from driftwarden.detectors.embedding import EmbeddingDrift
from driftwarden.detectors.estimation import WindowColumns
from driftwarden.detectors.findings import Finding
from driftwarden.detectors.ks_ranks import WindowRanks
from driftwarden.detectors.multivariate import MultivariateResult
from driftwarden.detectors.reference import ReferenceProfile
from driftwarden.detectors.report import DriftReport
from driftwarden.detectors.stability import VerdictStability
from driftwarden.detectors.trace_examples import with_trace_examples
from driftwarden.detectors.vocabulary import Vocabulary
from driftwarden.detectors.windows import SlidingWindow, encode_checkpoint
from driftwarden.params import DEFAULT_THRESHOLDS, DriftThresholds

__all__ = ["DriftDetector"]


class DriftDetector:
    """A model's reference plus its sliding current window.

    `update()` is cheap (a ring-buffer append; categorical values become vocabulary codes)
    and safe to call while `evaluate()` runs in another thread.

    >>> rng = np.random.default_rng(7)
    >>> ref = ReferenceProfile.fit(["x", "y"], rng.normal(size=(5000, 2)))
    >>> detector = DriftDetector("demo", ref, window=1000)
    >>> detector.update(["x", "y"], rng.normal(size=(1000, 2)))
    >>> detector.evaluate(), detector.report.drifted
    ([], False)
    >>> detector.update(["x", "y"], rng.normal(size=(1000, 2)) + [1.0, 0.0])   # x shifts by one sd
    >>> [(f.subject, f.severity.value) for f in detector.evaluate()]
    [('x', 'warning'), ('__model__', 'warning')]
    """

    def __init__(
        self,
        model: str,
        reference: ReferenceProfile | None,
        *,
        window: int = 5000,
        thresholds: DriftThresholds = DEFAULT_THRESHOLDS,
        critical_features: Sequence[str] = (),
        max_features: int = 1000,
        hold: int = 1,
        kinds: Mapping[str, str] | None = None,
        max_categories: int = 1000,
        every: float | None = None,
        previous_as_reference: bool = False,
        bins: int = 10,
    ) -> None:
        self.model = model
        self.reference = reference
        self.thresholds = thresholds
        self.critical_features = tuple(critical_features)
        self.kinds = dict(kinds or {})  # configured kind overrides: feature -> numeric | categorical
        self.model_version: str | None = None  # the latest the prediction records named
        self.window = SlidingWindow(reference.features if reference else (), capacity=window, max_features=max_features)
        self.vocabulary = Vocabulary(max_categories)  # the window's categorical columns hold its codes
        self.stability = VerdictStability(hold)
        self.every = every  # seconds of a tumbling window; None: sliding by count
        self.previous_as_reference = previous_as_reference  # `reference: previous`: each closed window
        self.bins = bins
        self.period_start = _period_start(time.time(), every) if every else 0.0
        self._report: DriftReport | None = None
        # the last comparison and what it compared (window rows seen, reference): rows unchanged since,
        # the same comparison is judged again (stability, drift budget) without computing it again
        self._compared: tuple[int, ReferenceProfile, DriftReport] | None = None
        self.reused = False  # the last `evaluate()` re-issued the comparison before it (no new rows)
        self._judged: WindowColumns | None = None  # the rows it compared, when asked to keep them
        self._ranks = WindowRanks()  # the KS statistic's merge, kept across evaluations (detectors/ks_ranks.py)
        if reference is not None:
            self.window.track_bins(reference.features, reference.edges)

    @property
    def report(self) -> DriftReport | None:
        """The latest evaluation; None before the first one or without a reference."""
        return self._report

    def set_reference(self, reference: ReferenceProfile, *, keep_verdicts: bool = False) -> None:
        self.window.track_bins(reference.features, reference.edges)
        self.reference = reference
        if not keep_verdicts:
            self.stability.reset()
            self._report = None

    def update(
        self,
        names: Sequence[str],
        values: npt.ArrayLike,
        categorical: Sequence[str] = (),
        categorical_values: ObjectArray | None = None,
        traces: ByteArray | None = None,
        *,
        text: Sequence[TextColumn] | None = None,
    ) -> None:
        """Append rows: numeric columns `values`, categorical ones `categorical_values` (str or None) or
        their dictionary encoding `text` where the parser made it, the rows' packed trace ids `traces`
        (`core.records.pack_traces`)."""
        convert = {j for j, name in enumerate(names) if self._is_categorical(name)}
        if not convert and not categorical:
            self.window.append(names, values, traces)
            return
        columns: list[tuple[str, FloatArray]] = []
        values = np.asarray(values, dtype=np.float64)
        for j, name in enumerate(names):
            column = values[:, j]
            columns.append((name, self._encode_numbers(name, column) if j in convert else column))
        reference_numeric = set(self.reference.features) if self.reference else set()
        for k, name in enumerate(categorical):
            if name in reference_numeric or self.kinds.get(name) == "numeric":
                continue  # text where numbers are expected: the numeric statistics cannot use it
            if name not in self.vocabulary and name in self.window.features:  # numbers came first: recode them
                self.window.transform(name, partial(self._encode_numbers, name))
            if text is not None:
                columns.append((name, self.vocabulary.encode_column(name, text[k])))
                continue
            if categorical_values is None:
                raise ValueError(f"categorical column {name!r} sent without categorical_values")
            columns.append((name, self.vocabulary.encode(name, categorical_values[:, k])))
        block = np.empty((values.shape[0], len(columns)), order="F")  # the window's layout: one copy, no transpose
        for j, (_, column) in enumerate(columns):
            block[:, j] = column
        self.window.append([n for n, _ in columns], block, traces)

    def evaluate(
        self,
        now: float | None = None,
        *,
        keep_window: bool = False,
        look: Callable[[WindowColumns], bool] | None = None,
    ) -> list[Finding]:
        """Compare the current window with the reference. A tumbling window is compared once,
        when its period ends, and then emptied; until then the last verdict stands. `keep_window`:
        the rows compared are kept whole for `take_judged()` (the multivariate methods judge the same rows),
        unless `look`, shown them first, says it has judged them (True): then they are sorted in place, not
        copied once more."""
        now = time.time() if now is None else now
        self._judged = None
        if self.every is not None:
            if now < self.period_start + self.every:
                return self._report.findings() if self._report else []
            self.period_start = _period_start(now, self.every)
            if self.window.rows == 0:
                return []
        reference = self.reference
        self.reused = self.unchanged()
        if self.reused:  # no new rows: the same comparison, its verdict streaks moved on
            assert self._compared is not None
            raw = self._compared[2]
            self._report = report = self.stability.apply(dataclasses.replace(raw, evaluated_at=time.time()))
            return report.findings()
        names, values, bins, traces, (next_slot, total, generation) = self.window.ring_snapshot()
        if keep_window:
            judged = self._columns(names, values, (next_slot, total, generation))
            self._judged = None if look is not None and look(judged) else judged
        numeric, current_categories = self._split(names, values)
        if self.every is not None:
            self.window.clear()
            if self.previous_as_reference:
                closed = self._profile(numeric, current_categories)
                if reference is None:  # the first period only becomes the reference
                    self.set_reference(closed)
                    return []
                self.set_reference(closed, keep_verdicts=True)
        if reference is None:
            return []
        current_ks = None
        if self.every is None:  # a sliding window: its values' ranks in the reference kept between evaluations
            current_ks = self._ranks.statistic(reference, *numeric, next_slot, total, generation)
        report = compare(
            self.model,
            reference,
            *numeric,
            current_categories=current_categories,
            current_bins=bins if bins.shape == reference.bin_counts.shape else None,
            thresholds=self.thresholds,
            critical_features=self.critical_features,
            model_version=self.model_version,
            # `numeric` is this evaluation's own copy of the window, sorted in place unless its rows are
            # wanted whole afterwards (their traces found, the multivariate methods): then copied once more
            scratch=numeric[1] is not values or (traces is None and self._judged is None),
            current_ks=current_ks,
        )
        if traces is not None:
            report = with_trace_examples(report, names, values, traces, self.vocabulary.names)
        if self.reference is not reference and not self.previous_as_reference:  # replaced meanwhile
            return []
        self._compared = (total, reference, report) if self.every is None else None
        self._report = report = self.stability.apply(report)
        return report.findings()

    def unchanged(self) -> bool:
        """A sliding window with no new rows since its last comparison with the same reference: `evaluate()`
        re-issues that comparison rather than compute it again (and says so in `reused`)."""
        compared = self._compared
        return (
            self.every is None
            and compared is not None
            and compared[0] == self.window.total_rows
            and compared[1] is self.reference
        )

    def with_multivariate(self, report: DriftReport, results: tuple[MultivariateResult, ...]) -> None:
        """Add the multivariate verdicts of `report`'s window to it, unless a newer report replaced it."""
        if self._report is report:
            self._report = report.with_multivariate(results)

    def window_columns(self) -> WindowColumns:
        """A copy of the current window, categorical columns as codes into their vocabulary."""
        return self._columns(*self.window.snapshot())

    def take_judged(self) -> WindowColumns | None:
        """The rows the last `evaluate(keep_window=True)` compared (None when it compared none: no new
        rows, a tumbling period still open), handed over once (a window's worth of memory)."""
        judged, self._judged = self._judged, None
        return judged

    def _columns(
        self, names: tuple[str, ...], values: FloatArray, ring: tuple[int, int, int] | None = None
    ) -> WindowColumns:
        vocabulary = self.vocabulary
        return WindowColumns(names, values, {n: vocabulary.names(n) for n in names if n in vocabulary}, ring)

    def attach_embeddings(self, results: tuple[EmbeddingDrift, ...]) -> None:
        """Add the embeddings' verdicts (`detectors.embedding`) to the latest report."""
        if self._report is not None:
            self._report = dataclasses.replace(self._report, embeddings=results)

    def window_profile(self) -> ReferenceProfile:
        """The current window as a reference profile (to pin it); ValueError when it is empty."""
        names, values = self.window.snapshot()
        if values.shape[0] == 0:
            raise ValueError(f"model {self.model!r} has no rows in its current window to pin")
        return self._profile(*self._split(names, values))

    def _split(
        self, names: tuple[str, ...], values: FloatArray
    ) -> tuple[tuple[tuple[str, ...], FloatArray], dict[str, dict[str, int]]]:
        """((numeric names, their columns), category counts) of a window snapshot."""
        coded = [j for j, name in enumerate(names) if name in self.vocabulary]
        if not coded:
            return (names, values), {}
        categories = {names[j]: self.vocabulary.counts(names[j], values[:, j]) for j in coded}
        coded_set = set(coded)
        keep = [j for j in range(len(names)) if j not in coded_set]
        return (tuple(names[j] for j in keep), values[:, keep]), categories

    def _profile(
        self, numeric: tuple[tuple[str, ...], FloatArray], categories: dict[str, dict[str, int]]
    ) -> ReferenceProfile:
        names, values = numeric
        return ReferenceProfile.fit(list(names), values, categories=categories, bins=self.bins)

    def checkpoint(self) -> bytes:
        """The window, its category vocabulary, the period it covers and the verdict streaks, for `restore()`."""
        return encode_checkpoint(*self.checkpoint_state())

    def checkpoint_state(self) -> tuple[tuple[str, ...], FloatArray, int, bytes, ByteArray | None]:
        """What `checkpoint()` encodes (`encode_checkpoint`'s arguments: names, rows, total, meta,
        traces), copied now (cheap; the encoding can run in another thread)."""
        state = {
            "vocabulary": self.vocabulary.to_dict(),
            "period_start": self.period_start,
            "stability": self.stability.to_dict(),  # a restart keeps streaks and held verdicts
        }
        names, values, total, traces = self.window.checkpoint_state()
        return names, values, total, json.dumps(state).encode(), traces

    def restore(self, blob: bytes) -> None:
        meta = json.loads(self.window.restore(blob) or b"{}")
        self.vocabulary.restore(meta.get("vocabulary", {}))
        self.stability.restore(meta.get("stability", {}))
        if self.every is not None and meta.get("period_start"):
            self.period_start = float(meta["period_start"])

    def _encode_numbers(self, name: str, column: FloatArray) -> FloatArray:
        """Vocabulary codes of numbers sent for a categorical feature."""
        return self.vocabulary.encode(name, _labels(column))

    def _is_categorical(self, name: str) -> bool:
        kind = self.kinds.get(name)
        if kind is not None:
            return kind == "categorical"
        return name in self.vocabulary or (self.reference is not None and name in self.reference.categories)


def _period_start(now: float, every: float) -> float:
    """Tumbling periods are aligned to multiples of `every` since the epoch (10m: :00, :10, ...)."""
    return math.floor(now / every) * every


def _labels(column: FloatArray) -> ObjectArray:
    """Numbers as category names (3.0 -> "3"), NaN as None: for integer codes sent as categories."""
    out = np.full(column.shape[0], None, dtype=object)
    present = ~np.isnan(column)
    numbers = column[present]
    if np.all(numbers == np.round(numbers)) and np.all(np.abs(numbers) < 2**53):
        out[present] = numbers.astype(np.int64).astype(str)
    else:
        out[present] = [number_label(x) for x in numbers]
    return out
