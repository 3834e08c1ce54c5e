"""Prometheus exposition: counters updated on ingest, gauges read from detector state at scrape time.

The drift gauges come from a custom collector, after prometheus/client_python's
"custom collectors" pattern: no gauge is ever stale or left behind for a model whose
reference was replaced, and a scrape costs a walk over the latest reports (taken on the
event loop by `snapshot()`, walked in the scrape's worker thread).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from driftwarden.core import metric_names as m
from driftwarden.detectors.drift import DriftReport
from driftwarden.detectors.estimation import QualityEstimate
from driftwarden.detectors.segments import SegmentResult
from driftwarden.exporters.exposition import TextFamily, short_float
from driftwarden.params import BinExportParams, SeriesParams

__all__ = ["FEATURE_FAMILIES", "DriftCollector", "FeatureText", "Instruments", "ModelState"]

EVERY_BIN = BinExportParams()  # fleet.export_bins: all
EVERY_SERIES = SeriesParams(scores=None, pvalues="all", missing_ratio="both")  # every optional per-feature series


def _escape(value: str) -> str:
    return value.replace("\\", r"\\").replace("\n", r"\n").replace('"', r"\"")


@dataclass(frozen=True)
class ModelState:
    model: str
    report: DriftReport | None
    window_rows: int
    reference_rows: int | None
    quality: dict[str, float] = field(default_factory=dict)  # realized quality from joined labels
    quality_baseline: dict[str, float] = field(default_factory=dict)  # the same over the first labelled window
    labels_pending: int = 0
    window_bytes: int = 0  # the current window's buffer
    estimate: QualityEstimate | None = None  # estimated quality of the current window (CBPE, DLE)
    segments: tuple[SegmentResult, ...] = ()  # per segment of models.<m>.segments
    constraints: tuple[tuple[str, str, float], ...] = ()  # (feature, constraint, violating share of the window)


class Instruments:
    """The event-driven metrics, registered on the registry the app is given."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.records = Counter(
            m.RECORDS, "Prediction records accepted into a model's window.", ["model", "source"], registry=registry
        )
        self.records_rejected = Counter(
            m.RECORDS_REJECTED, "Prediction records refused, by reason.", ["source", "reason"], registry=registry
        )
        self.requests_rejected = Counter(
            m.REQUESTS_REJECTED,
            "Requests refused as a whole (bad body, size, media type, auth, overload), by reason.",
            ["endpoint", "reason"],
            registry=registry,
        )
        self.connections_refused = Counter(
            m.CONNECTIONS_REFUSED,
            "Connections closed or answered before a request reached the app (server: limits), by reason.",
            ["reason"],
            registry=registry,
        )
        self.records_sampled_out = Counter(
            m.RECORDS_SAMPLED_OUT,
            "Prediction records left out by the model's sample_rate.",
            ["model", "source"],
            registry=registry,
        )
        self.constraint_violations = Counter(
            m.CONSTRAINT_VIOLATIONS,
            "Values breaking a data-quality constraint at ingest (models.<m>.constraints), by feature and constraint.",
            ["model", "feature", "constraint"],
            registry=registry,
        )
        self.labels = Counter(
            m.LABELS, "Labels posted to /v1/labels, by join outcome.", ["model", "outcome"], registry=registry
        )
        self.spans = Counter(
            m.SPANS,
            "Spans received over OTLP: observed as requests, skipped, or rejected.",
            ["outcome"],
            registry=registry,
        )
        self.otlp_points = Counter(
            m.OTLP_POINTS,
            "OTLP metric data points received: counted into the request series, ignored, or rejected.",
            ["outcome"],
            registry=registry,
        )
        self.otlp_points_ignored = Counter(
            m.OTLP_POINTS_IGNORED,
            "OTLP metric data points acknowledged but not counted, by reason.",
            ["reason"],
            registry=registry,
        )
        self.otlp_state_evicted = Counter(
            m.OTLP_STATE_EVICTED,
            "OTLP per-stream (cumulative to delta) and per-service (latency source) state forgotten at its bound.",
            ["state"],
            registry=registry,
        )
        self.deliveries = Counter(
            m.WEBHOOK_DELIVERIES,
            "Notification deliveries by receiver and outcome.",
            ["receiver", "outcome"],
            registry=registry,
        )
        self.multivariate_skipped = Counter(
            m.MULTIVARIATE_SKIPPED,
            "Multivariate drift methods skipped in an evaluation (budget: past drift.multivariate_budget; "
            "running: still running from the last one; failed).",
            ["model", "method", "reason"],
            registry=registry,
        )
        self.evaluation_duration = Histogram(
            m.EVALUATION_DURATION,
            "Time to evaluate drift for one model (any model: a model's own is its report's duration_seconds).",
            buckets=(0.005, 0.025, 0.1, 0.5, 2.5, 10),
            registry=registry,
        )
        self.evaluation_cycle = Gauge(
            m.EVALUATION_CYCLE,
            "The last evaluation cycle over every model: wall seconds, and the process's CPU seconds meanwhile.",
            ["clock"],
            registry=registry,
        )


class DriftCollector(Collector):
    """Reads the latest drift reports and window sizes when Prometheus scrapes."""

    def __init__(
        self,
        states: Callable[[], Iterable[ModelState]],
        queue_rows: Callable[[], tuple[int, int]],
        bins: BinExportParams = EVERY_BIN,
        *,
        series: SeriesParams = EVERY_SERIES,
        cache: FeatureText | None = None,
    ) -> None:
        self._states = states
        self._queue_rows = queue_rows
        self._bins = bins  # which features' bin values to export: most of a replica's series
        self._series = series  # which optional per-feature series (`metrics:`)
        self._text = cache if cache is not None else FeatureText(bins, series)

    def describe(self) -> list[Metric]:
        return []  # the metric set depends on the models seen: skip the registration-time collect

    def snapshot(self) -> DriftCollector:
        """On the loop: the models' states now (reports are immutable), to collect in any thread."""
        states, queue_rows = list(self._states()), self._queue_rows()
        return DriftCollector(lambda: states, lambda: queue_rows, self._bins, series=self._series, cache=self._text)

    def collect(self) -> Iterator[Metric]:
        states = list(self._states())
        per_feature = self._text.families(states)
        share = GaugeMetricFamily(m.MODEL_DRIFT_SHARE, "Share of the model's features that drifted.", labels=["model"])
        model_drifted = GaugeMetricFamily(m.MODEL_DRIFTED, "1 when the model is drifted.", labels=["model"])
        model_stable = GaugeMetricFamily(
            m.MODEL_DRIFTED_STABLE, "1 when the model is drifted by its features' stable verdicts.", labels=["model"]
        )
        rows = GaugeMetricFamily(
            m.WINDOW_ROWS, "Rows in the model's reference and current window.", labels=["model", "window"]
        )
        window_bytes = GaugeMetricFamily(
            m.WINDOW_BYTES,
            "Bytes the model's current window takes (limits.max_window_bytes_per_model and _total bound them).",
            labels=["model"],
        )
        last = GaugeMetricFamily(m.LAST_EVALUATION, "Unix time of the model's last drift evaluation.", labels=["model"])
        quality = GaugeMetricFamily(
            m.MODEL_QUALITY,
            "Realized model quality over the last window of labelled predictions.",
            labels=["model", "metric"],
        )
        baseline = GaugeMetricFamily(
            m.MODEL_QUALITY_BASELINE,
            "Realized model quality over the first full window of labelled predictions.",
            labels=["model", "metric"],
        )
        pending = GaugeMetricFamily(m.LABELS_PENDING, "Sampled predictions waiting for their label.", labels=["model"])
        violating = GaugeMetricFamily(
            m.CONSTRAINT_VIOLATING_SHARE,
            "Share of the current window's rows breaking a data-quality constraint.",
            labels=["model", "feature", "constraint"],
        )

        for state in states:
            rows.add_metric([state.model, "current"], state.window_rows)
            window_bytes.add_metric([state.model], state.window_bytes)
            if state.reference_rows is not None:
                rows.add_metric([state.model, "reference"], state.reference_rows)
            pending.add_metric([state.model], state.labels_pending)
            for feature, constraint, value in state.constraints:  # features bounded per model, constraint an enum
                violating.add_metric([state.model, feature, constraint], value)
            for metric, value in state.quality.items():
                quality.add_metric([state.model, metric], value)
            for metric, value in state.quality_baseline.items():
                baseline.add_metric([state.model, metric], value)
            report = state.report
            if report is None:
                continue
            share.add_metric([state.model], report.drift_share)
            model_drifted.add_metric([state.model], float(report.drifted))
            model_stable.add_metric([state.model], float(report.stable))
            last.add_metric([state.model], report.evaluated_at)

        queued, capacity = self._queue_rows()
        queue = GaugeMetricFamily(m.QUEUE_ROWS, "Rows accepted and waiting for the detectors.", value=queued)
        queue_capacity = GaugeMetricFamily(
            m.QUEUE_CAPACITY_ROWS, "Rows the ingest queue holds before 429.", value=capacity
        )
        yield from per_feature
        yield from (share, model_drifted, model_stable)
        yield from (rows, window_bytes, last, quality, baseline, pending, violating, queue, queue_capacity)
        yield from _estimated(states)
        yield from _multivariate(states)
        yield from _embeddings(states)


# The per-feature families: (name, help, labels). A new family (multivariate) is one more entry here and
# one more branch in `FeatureText._lines`; design.md "Metric set" says which are default. Embedding series
# are per model x embedding x method, not per feature: `_embeddings`, read at scrape time.
FEATURE_FAMILIES: tuple[tuple[str, str], ...] = (
    (m.FEATURE_DRIFT_SCORE, "Drift statistic per feature and method."),
    (m.FEATURE_DRIFT_PVALUE, "Drift test p-value (BH-adjusted) per feature and method (metrics.pvalues)."),
    (m.FEATURE_DRIFTED, "1 when the feature is drifted by the decision rule."),
    (
        m.FEATURE_DRIFTED_STABLE,
        "1 when the feature's drift held for `for` evaluations (clears below 80% of its threshold).",
    ),
    (m.FEATURE_DRIFT_REASON, "1 while this test makes the feature drift (its reason); absent otherwise."),
    (m.PREDICTION_DRIFT_SCORE, "Drift statistic of the model's output (prediction)."),
    (m.FEATURE_MISSING_RATIO, "Missing rate: the share of the feature's values that are missing, per window."),
    (m.FEATURE_BIN_VALUES, "Values per reference-quantile bin; sum across replicas (fleet.export_bins)."),
)


class FeatureText:
    """The per-feature sample lines of each model, rendered once per report and kept until the next
    evaluation replaces it: a scrape between evaluations joins cached text (any thread; a model's
    entry is replaced whole, never changed)."""

    def __init__(self, bins: BinExportParams, series: SeriesParams) -> None:
        self._bins = bins
        self._series = series
        self._cache: dict[str, tuple[DriftReport, dict[str, str]]] = {}

    def families(self, states: Iterable[ModelState]) -> list[TextFamily]:
        out = {name: TextFamily(name, documentation) for name, documentation in FEATURE_FAMILIES}
        for state in states:
            if state.report is None:
                continue
            cached = self._cache.get(state.model)
            if cached is None or cached[0] is not state.report:
                cached = self._cache[state.model] = (state.report, self._lines(state.report))
            for name, text in cached[1].items():
                out[name].add_text(text)
        return list(out.values())

    def _lines(self, report: DriftReport) -> dict[str, str]:
        lines: dict[str, list[str]] = {name: [] for name, _ in FEATURE_FAMILIES}
        series, model = self._series, _escape(report.model)
        score, pvalue = lines[m.FEATURE_DRIFT_SCORE], lines[m.FEATURE_DRIFT_PVALUE]
        drifted, stable = lines[m.FEATURE_DRIFTED], lines[m.FEATURE_DRIFTED_STABLE]
        reason, prediction = lines[m.FEATURE_DRIFT_REASON], lines[m.PREDICTION_DRIFT_SCORE]
        missing, bins = lines[m.FEATURE_MISSING_RATIO], lines[m.FEATURE_BIN_VALUES]
        for f in report.features:  # labels in sorted order, as prometheus_client writes them
            drifting = f.drifted or f.stable
            feature = f'feature="{_escape(f.name)}"'
            verdict = f'{{{feature},model="{model}"}}'
            for method, value in f.scores.items():
                if series.score(method):
                    labels = f'{{{feature},method="{method}",model="{model}"}}'
                    score.append(f"{m.FEATURE_DRIFT_SCORE}{labels} {short_float(value)}\n")
            if series.exports(series.pvalues, drifting=drifting):
                for method, value in f.pvalues_adjusted.items():
                    labels = f'{{{feature},method="{method}",model="{model}"}}'
                    pvalue.append(f"{m.FEATURE_DRIFT_PVALUE}{labels} {short_float(value)}\n")
            drifted.append(f"{m.FEATURE_DRIFTED}{verdict} {short_float(float(f.drifted))}\n")
            stable.append(f"{m.FEATURE_DRIFTED_STABLE}{verdict} {short_float(float(f.stable))}\n")
            for r in f.reasons:  # at most one per test: bounded by features x tests
                reason.append(f'{m.FEATURE_DRIFT_REASON}{{{feature},model="{model}",test="{_escape(r.test)}"}} 1\n')
            if f.role == "prediction":
                for method, value in f.scores.items():
                    if series.score(method):
                        labels = f'{{method="{method}",model="{model}"}}'
                        prediction.append(f"{m.PREDICTION_DRIFT_SCORE}{labels} {short_float(value)}\n")
            if series.missing_ratio != "none":
                for window, rate in f.missing_rate.items():
                    if rate is not None and series.window(window):
                        labels = f'{{{feature},model="{model}",window="{window}"}}'
                        missing.append(f"{m.FEATURE_MISSING_RATIO}{labels} {short_float(rate)}\n")
            if not self._bins.exports(report.model, f.name, drifting=drifting):
                continue
            for window, counts in f.bins.items():
                for b, count in enumerate(counts):
                    labels = f'{{bin="{b}",{feature},model="{model}",window="{window}"}}'
                    bins.append(f"{m.FEATURE_BIN_VALUES}{labels} {short_float(count)}\n")
        return {name: "".join(text) for name, text in lines.items() if text}


def _embeddings(states: Iterable[ModelState]) -> Iterator[Metric]:
    """Each embedding's score and verdict by each method (models.<m>.embeddings)."""
    labels = ["model", "embedding", "method"]
    score = GaugeMetricFamily(
        m.EMBEDDING_DRIFT_SCORE,
        "Embedding drift score: mmd squared MMD, pcs share of drifted components, classifier AUROC.",
        labels=labels,
    )
    drifted = GaugeMetricFamily(m.EMBEDDING_DRIFTED, "1 when the embedding drifted by that method.", labels=labels)
    for state in states:
        for e in state.report.embeddings if state.report is not None else ():
            score.add_metric([state.model, e.embedding, e.method], e.score)
            drifted.add_metric([state.model, e.embedding, e.method], float(e.drifted))
    yield from (score, drifted)


def _estimated(states: Iterable[ModelState]) -> Iterator[Metric]:
    """Estimated quality with its band, the reference's realized quality, and the segments' verdicts."""
    labels = ["model", "metric"]
    estimated = GaugeMetricFamily(
        m.MODEL_QUALITY_ESTIMATED, "Estimated model quality (CBPE, DLE), no labels needed.", labels=labels
    )
    lower = GaugeMetricFamily(
        m.MODEL_QUALITY_ESTIMATED_LOWER, "Lower end of the estimate's band (-3 sampling errors).", labels=labels
    )
    upper = GaugeMetricFamily(
        m.MODEL_QUALITY_ESTIMATED_UPPER, "Upper end of the estimate's band (+3 sampling errors).", labels=labels
    )
    reference = GaugeMetricFamily(
        m.MODEL_QUALITY_REFERENCE, "Realized model quality on the reference's labelled rows.", labels=labels
    )
    share = GaugeMetricFamily(
        m.SEGMENT_DRIFT_SHARE, "Share of drifted input features in one segment.", labels=["model", "segment"]
    )
    drifted = GaugeMetricFamily(m.SEGMENT_DRIFTED, "1 when the segment is drifted.", labels=["model", "segment"])
    rows = GaugeMetricFamily(m.SEGMENT_WINDOW_ROWS, "Rows in the segment's own window.", labels=["model", "segment"])
    segment_quality = GaugeMetricFamily(
        m.SEGMENT_QUALITY_ESTIMATED, "Estimated quality of one segment.", labels=["model", "segment", "metric"]
    )
    for state in states:
        if state.estimate is not None:
            for metric, e in state.estimate.metrics.items():
                for family, value in (
                    (estimated, e.value),
                    (lower, e.lower),
                    (upper, e.upper),
                    (reference, e.reference),
                ):
                    if value == value:  # NaN: not defined for this window (e.g. one class only)
                        family.add_metric([state.model, metric], value)
        for segment in state.segments:
            rows.add_metric([state.model, segment.key], segment.window_rows)
            if segment.report is None:
                continue
            share.add_metric([state.model, segment.key], segment.report.drift_share)
            drifted.add_metric([state.model, segment.key], float(segment.report.drifted))
            if segment.estimate is not None:
                for metric, e in segment.estimate.metrics.items():
                    if e.value == e.value:
                        segment_quality.add_metric([state.model, segment.key, metric], e.value)
    yield from (estimated, lower, upper, reference, share, drifted, rows, segment_quality)


def _multivariate(states: Iterable[ModelState]) -> Iterator[Metric]:
    """Each multivariate method's score, threshold and verdict (drift.multivariate); none for a skipped one."""
    labels = ["model", "method"]
    score = GaugeMetricFamily(
        m.MODEL_MULTIVARIATE_DRIFT_SCORE,
        "Multivariate drift score of the current window: mean PCA reconstruction error, or the domain "
        "classifier's held-out AUROC.",
        labels=labels,
    )
    threshold = GaugeMetricFamily(
        m.MODEL_MULTIVARIATE_DRIFT_THRESHOLD,
        "The score's threshold, calibrated on the reference for the window's size.",
        labels=labels,
    )
    drifted = GaugeMetricFamily(m.MODEL_MULTIVARIATE_DRIFTED, "1 when the method finds the rows moved.", labels=labels)
    for state in states:
        for r in state.report.multivariate if state.report is not None else ():
            if r.skipped is not None:
                continue
            score.add_metric([state.model, r.method], r.score)
            threshold.add_metric([state.model, r.method], r.threshold)
            drifted.add_metric([state.model, r.method], float(r.drifted))
    yield from (score, threshold, drifted)
