"""Prometheus exposition: counters updated on ingest, gauges read from detector state at scrape time.

The drift gauges come from a custom collector, after prometheus/client_python's
"custom collectors" pattern: no gauge is ever stale or left behind for a model whose
reference was replaced, and a scrape costs a walk over the latest reports (taken on the
event loop by `snapshot()`, walked in the scrape's worker thread).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from driftwarden.core import metric_names as m
from driftwarden.detectors.drift import DriftReport
from driftwarden.detectors.estimation import QualityEstimate
from driftwarden.detectors.segments import SegmentResult
from driftwarden.params import BinExportParams

__all__ = ["DriftCollector", "Instruments", "ModelState"]

EVERY_BIN = BinExportParams()  # fleet.export_bins: all


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
        self.evaluation_duration = Histogram(
            m.EVALUATION_DURATION,
            "Time to evaluate drift for one model.",
            ["model"],
            buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
            registry=registry,
        )


class DriftCollector(Collector):
    """Reads the latest drift reports and window sizes when Prometheus scrapes."""

    def __init__(
        self,
        states: Callable[[], Iterable[ModelState]],
        queue_rows: Callable[[], tuple[int, int]],
        bins: BinExportParams = EVERY_BIN,
    ) -> None:
        self._states = states
        self._queue_rows = queue_rows
        self._bins = bins  # which features' bin values to export: most of a replica's series

    def describe(self) -> list[Metric]:
        return []  # the metric set depends on the models seen: skip the registration-time collect

    def snapshot(self) -> DriftCollector:
        """On the loop: the models' states now (reports are immutable), to collect in any thread."""
        states, queue_rows = list(self._states()), self._queue_rows()
        return DriftCollector(lambda: states, lambda: queue_rows, self._bins)

    def collect(self) -> Iterator[Metric]:
        score = GaugeMetricFamily(
            m.FEATURE_DRIFT_SCORE, "Drift statistic per feature and method.", labels=["model", "feature", "method"]
        )
        pvalue = GaugeMetricFamily(
            m.FEATURE_DRIFT_PVALUE,
            "Drift test p-value (BH-adjusted) per feature and method.",
            labels=["model", "feature", "method"],
        )
        drifted = GaugeMetricFamily(
            m.FEATURE_DRIFTED, "1 when the feature is drifted by the decision rule.", labels=["model", "feature"]
        )
        stable = GaugeMetricFamily(
            m.FEATURE_DRIFTED_STABLE,
            "1 when the feature's drift held for `for` evaluations (clears below 80% of its threshold).",
            labels=["model", "feature"],
        )
        reason = GaugeMetricFamily(
            m.FEATURE_DRIFT_REASON,
            "1 while this test makes the feature drift (its reason); absent otherwise.",
            labels=["model", "feature", "test"],
        )
        prediction = GaugeMetricFamily(
            m.PREDICTION_DRIFT_SCORE, "Drift statistic of the model's output (prediction).", labels=["model", "method"]
        )
        missing = GaugeMetricFamily(
            m.FEATURE_MISSING_RATIO,
            "Missing rate: the share of the feature's values that are missing, per window.",
            labels=["model", "feature", "window"],
        )
        bins = GaugeMetricFamily(
            m.FEATURE_BIN_VALUES,
            "Values per reference-quantile bin; sum across replicas.",
            labels=["model", "feature", "bin", "window"],
        )
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

        for state in self._states():
            rows.add_metric([state.model, "current"], state.window_rows)
            window_bytes.add_metric([state.model], state.window_bytes)
            if state.reference_rows is not None:
                rows.add_metric([state.model, "reference"], state.reference_rows)
            pending.add_metric([state.model], state.labels_pending)
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
            for f in report.features:
                for method, value in f.scores.items():
                    score.add_metric([state.model, f.name, method], value)
                for method, value in f.pvalues_adjusted.items():
                    pvalue.add_metric([state.model, f.name, method], value)
                drifted.add_metric([state.model, f.name], float(f.drifted))
                stable.add_metric([state.model, f.name], float(f.stable))
                for r in f.reasons:  # at most one per test: bounded by features x tests
                    reason.add_metric([state.model, f.name, r.test], 1.0)
                if f.role == "prediction":
                    for method, value in f.scores.items():
                        prediction.add_metric([state.model, method], value)
                for window, rate in f.missing_rate.items():
                    if rate is not None:
                        missing.add_metric([state.model, f.name, window], rate)
                if not self._bins.exports(state.model, f.name, drifting=f.drifted or f.stable):
                    continue
                for window, counts in f.bins.items():
                    for b, count in enumerate(counts):
                        bins.add_metric([state.model, f.name, str(b), window], count)

        queued, capacity = self._queue_rows()
        queue = GaugeMetricFamily(m.QUEUE_ROWS, "Rows accepted and waiting for the detectors.", value=queued)
        queue_capacity = GaugeMetricFamily(
            m.QUEUE_CAPACITY_ROWS, "Rows the ingest queue holds before 429.", value=capacity
        )
        yield from (
            score,
            pvalue,
            drifted,
            stable,
            reason,
            prediction,
            missing,
            bins,
            share,
            model_drifted,
            model_stable,
        )
        yield from (rows, window_bytes, last, quality, baseline, pending, queue, queue_capacity)
        yield from _estimated(self._states())
        yield from _embeddings(self._states())


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
