"""Plain parameter objects built from the config, in this one module.

The pydantic models in `driftwarden.config` describe the file a user writes: aliases,
durations with units, validation messages. Everything below the daemon's wiring
(collectors, detectors, persistence, alert code) takes these frozen dataclasses or plain
keyword arguments instead, so none of it imports the config and each can be built by
hand in a test or a notebook:

>>> slo = SLOParams(name="api", objective=0.99, threshold=0.25, service="fraud")
>>> slo.kind, round(slo.error_budget, 3)
('latency', 0.01)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

import numpy as np

from driftwarden.core.alert_names import runbook_path
from driftwarden.core.arrays import FloatArray
from driftwarden.core.constraints import ConstraintSet, FeatureRule
from driftwarden.core.urls import public_url

if TYPE_CHECKING:  # the converters' argument types only: detectors and `check` import no pydantic
    from driftwarden.config import (
        AlertingSettings,
        AnomalySettings,
        Config,
        ConstraintSettings,
        DriftSettings,
        EmbeddingSettings,
        EstimateSettings,
        FleetSettings,
        GpuSettings,
        LogSettings,
        MetricsSettings,
        OutboxSettings,
        ReceiverSettings,
        RouteSettings,
        SLOSettings,
        TraceSettings,
    )

__all__ = [
    "DEFAULT_SCORES",
    "DEFAULT_THRESHOLDS",
    "METHODS",
    "AlertLinkParams",
    "AlertingParams",
    "AnomalyParams",
    "BinExportParams",
    "DriftThresholds",
    "EmbeddingSpec",
    "EstimateParams",
    "GpuParams",
    "InhibitRuleParams",
    "LogParams",
    "MultivariateParams",
    "OpsGenieParams",
    "OutboxParams",
    "RouteParams",
    "SLOParams",
    "SeriesParams",
    "TraceParams",
    "alert_link_params",
    "alerting_params",
    "anomaly_params",
    "bin_export_params",
    "constraint_set",
    "drift_thresholds",
    "embedding_specs",
    "estimate_params",
    "gpu_params",
    "log_params",
    "opsgenie_params",
    "outbox_params",
    "route_params",
    "series_params",
    "slo_params",
    "trace_params",
]

DAY = 86400.0
METHODS = ("ks", "psi", "wasserstein", "jensenshannon")  # numeric statistics computed by default


@dataclass(frozen=True)
class DriftThresholds:
    """When a feature's effect counts, and when a model drifts (per-feature overrides included)."""

    psi: float = 0.2
    ks: float = 0.1
    wasserstein: float = 0.1  # normed by the reference's standard deviation
    alpha: float = 0.05
    share: float = 0.5
    methods: tuple[str, ...] = METHODS  # ks is always computed: its p-value gates every numeric verdict
    missing: float = 0.05  # change in the missing rate (absolute) that counts as an effect
    per_feature: Mapping[str, Mapping[str, float]] = field(default_factory=dict)  # feature -> {psi: 0.3, ...}
    _vectors: dict[tuple[str, tuple[str, ...]], FloatArray] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    def vector(self, name: str, features: Sequence[str]) -> FloatArray:
        """The threshold `name` per feature, per-feature overrides applied (read-only; made once per feature
        list: every evaluation of a model asks for the same ones)."""
        key = (name, tuple(features))
        made = self._vectors.get(key)
        if made is None:
            default = getattr(self, name)
            made = np.array([self.per_feature.get(f, {}).get(name, default) for f in features], dtype=np.float64)
            made.setflags(write=False)
            if len(self._vectors) >= 64:  # feature lists of a model that keeps changing its columns
                self._vectors.clear()
            self._vectors[key] = made
        return made


DEFAULT_THRESHOLDS = DriftThresholds()


@dataclass(frozen=True, kw_only=True)
class MultivariateParams:
    """Multivariate drift over a model's input features (detectors/multivariate.py): the methods, the PCA's
    share of variance, the false-alarm rate each method's threshold is calibrated to and the time budget."""

    methods: tuple[str, ...] = ("pca",)
    variance: float = 0.65
    alpha: float = 0.001
    budget: float = 5.0  # seconds per model and evaluation, all methods together


@dataclass(frozen=True, kw_only=True)
class EstimateParams:
    """What a model's estimated quality is computed from (detectors/cbpe.py, detectors/dle.py): the
    reference's columns and the alert's metric and margin."""

    kind: Literal["binary", "multiclass", "regression"]
    label: str = "label"
    prediction: str = "prediction"
    score: str = "prediction"  # binary: the score column
    class_scores: tuple[tuple[str, str], ...] = ()  # multiclass: (class, its score column)
    threshold: float = 0.5
    metric: str = "accuracy"
    margin: float = 0.05
    max_rows: int = 100_000

    @property
    def columns(self) -> tuple[str, ...]:
        """The model-output columns the estimator reads besides the inputs (label excluded)."""
        if self.kind == "binary":
            return (self.score,)
        if self.kind == "multiclass":
            return (self.prediction, *(column for _, column in self.class_scores))
        return (self.prediction,)


@dataclass(frozen=True, kw_only=True)
class SLOParams:
    """A latency SLO (with `threshold`, seconds) or an availability SLO (without), over `period` seconds."""

    name: str
    objective: float
    threshold: float | None = None
    service: str | None = None
    model: str | None = None
    operation: str | None = None
    period: float = 30 * DAY
    min_requests: int = 10

    @property
    def kind(self) -> str:
        return "latency" if self.threshold is not None else "availability"

    @property
    def error_budget(self) -> float:
        return 1.0 - self.objective


@dataclass(frozen=True, kw_only=True)
class TraceParams:
    """How spans become request observations (defaults from the OTel semantic conventions)."""

    model_attributes: tuple[str, ...] = ("model.name", "gen_ai.request.model", "gen_ai.response.model")
    operation_attributes: tuple[str, ...] = ("http.route", "gen_ai.operation.name")
    server_spans_only: bool = True
    label_attributes: tuple[str, ...] = ()
    max_label_values: int = 50
    buckets: tuple[float, ...] = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
    ttft_event: str = "gen_ai.content.first_token"
    ttft_attribute: str = "gen_ai.server.time_to_first_token"
    max_quantile_samples: int = 20_000


@dataclass(frozen=True, kw_only=True)
class LogParams:
    """How OTLP log records become prediction records (collector/otlp_logs.py)."""

    feature_prefix: str = "driftwarden.features."
    model_attributes: tuple[str, ...] = ("driftwarden.model", "model.name", "gen_ai.request.model")
    prediction_attribute: str = "driftwarden.prediction"
    request_id_attribute: str = "driftwarden.request_id"
    label_attribute: str = "driftwarden.label"
    model_version_attribute: str = "driftwarden.model_version"
    labels_prefix: str = "driftwarden.labels."


@dataclass(frozen=True, kw_only=True)
class GpuParams:
    """NVML polling: `enabled` "auto" polls when NVML and a GPU are present."""

    enabled: bool | Literal["auto"] = "auto"
    interval: float = 5.0
    cost_per_hour: float | None = None
    hostname: str | None = None
    model_processes: Mapping[str, tuple[str, ...]] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class InhibitRuleParams:
    """A firing alert matching `source_match` mutes alerts matching `target_match` with the same `equal` labels."""

    source_match: Mapping[str, str]
    target_match: Mapping[str, str]
    equal: tuple[str, ...] = ()


@dataclass(frozen=True, kw_only=True)
class AlertingParams:
    """Finding -> alert lifecycle and notification timing, as Alertmanager defines them (seconds)."""

    for_: int = 2
    group_by: tuple[str, ...] = ("model", "kind")
    group_wait: float = 30.0
    group_interval: float = 300.0
    repeat_interval: float = 4 * 3600.0
    resolve_hold: float = 300.0
    default_receivers: tuple[str, ...] = ()
    drift_objective: float = 0.99
    drift_period: float = 7 * DAY
    drift_min_evaluations: int = 5
    inhibit: tuple[InhibitRuleParams, ...] = ()


@dataclass(frozen=True, kw_only=True)
class AlertLinkParams:
    """What makes an alert actionable beyond its text: where its links point and where it runs.

    `external_url` is the link base ("" for no UI links: a daemon whose listen address nobody can
    open and that has no `alerting.external_url`); `pod` and `namespace` come from the environment
    (POD_NAME, POD_NAMESPACE: the Kubernetes downward API the manifests set).
    """

    external_url: str = ""
    grafana_url: str | None = None
    runbooks: Mapping[str, str] = field(default_factory=dict)
    pod: str | None = None
    namespace: str | None = None

    def runbook(self, alertname: str) -> str:
        """The configured runbook of an alert, else the daemon's own page of it (its section of the
        operator's guide): `<external_url>/runbooks/<alertname>`, a path alone without a link base."""
        base = public_url(self.external_url) if self.external_url else ""
        return self.runbooks.get(alertname) or base + runbook_path(alertname)


@dataclass(frozen=True, kw_only=True)
class RouteParams:
    """Alerts whose labels equal every `match` pair go to `receivers`; `continue_` keeps matching."""

    receivers: tuple[str, ...]
    match: Mapping[str, str] = field(default_factory=dict)
    continue_: bool = False


@dataclass(frozen=True, kw_only=True)
class OutboxParams:
    """Delivery retries: exponential backoff between the two bounds, given up after `max_age` seconds."""

    max_age: float = DAY
    initial_backoff: float = 1.0
    max_backoff: float = 300.0


OPSGENIE_API = {"us": "https://api.opsgenie.com", "eu": "https://api.eu.opsgenie.com"}
OPSGENIE_PRIORITIES = {"page": "P1", "ticket": "P3", "warning": "P4", "info": "P5"}  # P3 is OpsGenie's default


@dataclass(frozen=True, kw_only=True)
class OpsGenieParams:
    """Where an OpsGenie receiver sends (the Alert API's base URL) and what every alert carries:
    responders as the API takes them (`{"type": "team", "name": "NOC"}`), extra tags, and the
    priority of each severity."""

    base_url: str = OPSGENIE_API["us"]
    responders: tuple[Mapping[str, str], ...] = ()
    tags: tuple[str, ...] = ()
    priorities: Mapping[str, str] = field(default_factory=lambda: dict(OPSGENIE_PRIORITIES))


def opsgenie_params(r: ReceiverSettings) -> OpsGenieParams:
    return OpsGenieParams(
        base_url=(r.url or OPSGENIE_API[r.region]).rstrip("/"),
        responders=tuple(x.model_dump(exclude_none=True) for x in r.responders),
        tags=tuple(r.tags),
        priorities=OPSGENIE_PRIORITIES | r.priorities,
    )


def slo_params(s: SLOSettings) -> SLOParams:
    return SLOParams(
        name=s.name,
        objective=s.objective,
        threshold=s.threshold,
        service=s.service,
        model=s.model,
        operation=s.operation,
        period=s.period,
        min_requests=s.min_requests,
    )


def trace_params(s: TraceSettings) -> TraceParams:
    return TraceParams(
        model_attributes=tuple(s.model_attributes),
        operation_attributes=tuple(s.operation_attributes),
        server_spans_only=s.server_spans_only,
        label_attributes=tuple(s.label_attributes),
        max_label_values=s.max_label_values,
        buckets=tuple(s.buckets),
        ttft_event=s.ttft_event,
        ttft_attribute=s.ttft_attribute,
        max_quantile_samples=s.max_quantile_samples,
    )


def log_params(s: LogSettings) -> LogParams:
    return LogParams(
        feature_prefix=s.feature_prefix,
        model_attributes=tuple(s.model_attributes),
        prediction_attribute=s.prediction_attribute,
        request_id_attribute=s.request_id_attribute,
        label_attribute=s.label_attribute,
        model_version_attribute=s.model_version_attribute,
        labels_prefix=s.labels_prefix,
    )


@dataclass(frozen=True, kw_only=True)
class AnomalyParams:
    """Seasonal anomaly detection (`detectors/seasonal.py`): durations in seconds."""

    signals: tuple[str, ...] = (
        "request_rate",
        "error_ratio",
        "p99_latency",
        "gpu_utilization",
        "gpu_memory",
        "prediction_volume",
    )
    season: float = 7 * 86400.0
    seasons: int = 4
    min_seasons: int = 2
    resolution: float = 600.0
    sensitivity: float = 3.0
    min_spread: float = 0.1
    for_: float = 900.0
    max_series: int = 200

    @property
    def season_slots(self) -> int:
        """Slots in one season (a week of 10-minute slots: 1008)."""
        return round(self.season / self.resolution)


def anomaly_params(s: AnomalySettings) -> AnomalyParams:
    return AnomalyParams(
        signals=tuple(s.signals),
        season=s.season_seconds,
        seasons=s.seasons,
        min_seasons=s.min_seasons,
        resolution=s.resolution,
        sensitivity=s.sensitivity,
        min_spread=s.min_spread,
        for_=s.for_,
        max_series=s.max_series,
    )


def gpu_params(s: GpuSettings) -> GpuParams:
    return GpuParams(
        enabled=s.enabled,
        interval=s.interval,
        cost_per_hour=s.cost_per_hour,
        hostname=s.hostname,
        model_processes={model: tuple(matchers) for model, matchers in s.model_processes.items()},
    )


def alert_link_params(config: Config, environ: Mapping[str, str]) -> AlertLinkParams:
    """The links of `config` and the pod this daemon runs in, from `environ` (the process's environment)."""
    return AlertLinkParams(
        external_url=config.link_base(),
        grafana_url=config.alerting.grafana_url,
        runbooks=dict(config.alerting.runbooks),
        pod=environ.get("POD_NAME") or None,
        namespace=environ.get("POD_NAMESPACE") or None,
    )


def alerting_params(s: AlertingSettings) -> AlertingParams:
    return AlertingParams(
        for_=s.for_,
        group_by=tuple(s.group_by),
        group_wait=s.group_wait,
        group_interval=s.group_interval,
        repeat_interval=s.repeat_interval,
        resolve_hold=s.resolve_hold,
        default_receivers=tuple(s.default_receivers),
        drift_objective=s.drift_objective,
        drift_period=s.drift_period,
        drift_min_evaluations=s.drift_min_evaluations,
        inhibit=tuple(
            InhibitRuleParams(
                source_match=dict(r.source_match), target_match=dict(r.target_match), equal=tuple(r.equal)
            )
            for r in s.inhibit
        ),
    )


def route_params(routes: list[RouteSettings]) -> tuple[RouteParams, ...]:
    return tuple(RouteParams(receivers=tuple(r.receivers), match=dict(r.match), continue_=r.continue_) for r in routes)


def outbox_params(s: OutboxSettings) -> OutboxParams:
    return OutboxParams(max_age=s.max_age, initial_backoff=s.initial_backoff, max_backoff=s.max_backoff)


def estimate_params(e: EstimateSettings) -> EstimateParams:
    return EstimateParams(
        kind=e.kind,
        label=e.label,
        prediction=e.prediction,
        score=e.scores if isinstance(e.scores, str) else "prediction",
        class_scores=tuple(e.scores.items()) if isinstance(e.scores, dict) else (),
        threshold=e.threshold,
        metric=e.alert_metric,
        margin=e.margin,
        max_rows=e.max_rows,
    )


def multivariate_params(d: DriftSettings) -> MultivariateParams:
    return MultivariateParams(
        methods=tuple(dict.fromkeys(d.multivariate)),
        variance=d.multivariate_variance,
        alpha=d.multivariate_alpha,
        budget=d.multivariate_budget,
    )


@dataclass(frozen=True)
class EmbeddingSpec:
    """One embedding's dimension, window and tests (`detectors.embedding`)."""

    dim: int
    window: int = 5000  # vectors the current window keeps (a ring)
    methods: tuple[str, ...] = ("mmd", "pcs")
    alpha: float = 0.005
    features: int = 768  # random Fourier features (orthogonal)
    permutations: int = 200
    components: int = 20  # principal components for `pcs`, `classifier` and the projection
    pcs_share: float = 0.1  # `pcs` drifts when at least this share of the components does
    auroc: float = 0.55  # `classifier` drifts when its AUROC passes this and its p-value alpha


def embedding_specs(embeddings: Mapping[str, EmbeddingSettings]) -> dict[str, EmbeddingSpec]:
    """models.<m>.embeddings as the specs `detectors.embedding.EmbeddingMonitor` takes."""
    return {
        name: EmbeddingSpec(
            dim=e.dim,
            window=e.window,
            methods=tuple(dict.fromkeys(e.methods)),
            alpha=e.alpha,
            features=e.features,
            permutations=e.permutations,
            components=e.components,
            pcs_share=e.pcs_share,
            auroc=e.auroc,
        )
        for name, e in embeddings.items()
    }


def drift_thresholds(d: DriftSettings) -> DriftThresholds:
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


@dataclass(frozen=True)
class BinExportParams:
    """Which features' bin values a replica exports (`fleet.export_bins`, `fleet.bin_features`).

    >>> p = BinExportParams("drifted", {"fraud": frozenset({"amount"})})
    >>> p.exports("fraud", "amount", drifting=True), p.exports("fraud", "age", drifting=True)
    (True, False)
    >>> p.exports("churn", "age", drifting=False), p.exports("churn", "age", drifting=True)
    (False, True)
    """

    mode: Literal["all", "drifted", "none"] = "all"
    features: Mapping[str, frozenset[str]] = field(default_factory=dict)  # model -> the only features exported

    def exports(self, model: str, feature: str, *, drifting: bool) -> bool:
        if self.mode == "none":
            return False
        allowed = self.features.get(model)
        if allowed is not None and feature not in allowed:
            return False
        return self.mode == "all" or drifting


def bin_export_params(s: FleetSettings) -> BinExportParams:
    return BinExportParams(s.export_bins, {model: frozenset(names) for model, names in s.bin_features.items()})


def constraint_set(c: ConstraintSettings) -> ConstraintSet:
    """A model's `constraints` (inline or from its constraints_file) as the checker takes them."""
    return ConstraintSet(
        features={
            name: FeatureRule(
                name=name,
                type=f.type,
                min=f.min,
                max=f.max,
                tolerance=f.tolerance,
                allowed=None if f.allowed is None else frozenset(f.allowed),
                max_missing=f.max_missing,
                regex=f.regex,
            )
            for name, f in c.features.items()
        },
        undeclared=c.schema_.undeclared,
        absent=c.schema_.absent,
        type_change=c.schema_.type_change,
        max_violating_share=c.max_violating_share,
        severity=c.severity,
    )


# the statistics that can make a feature's verdict (design.md "Metric set"): the default scores exported
DEFAULT_SCORES = frozenset({"ks", "psi", "wasserstein", "chi2"})


@dataclass(frozen=True)
class SeriesParams:
    """Which optional per-feature series /metrics exports (`metrics:`); the verdicts always are.

    >>> p = SeriesParams(pvalues="drifted")
    >>> p.exports(p.pvalues, drifting=False), p.exports(p.pvalues, drifting=True), p.score("psi")
    (False, True, True)
    >>> p.score("jensenshannon"), p.window("current"), p.window("reference")
    (False, True, False)
    """

    scores: frozenset[str] | None = DEFAULT_SCORES  # None: every statistic computed
    pvalues: Literal["all", "drifted", "none"] = "drifted"
    missing_ratio: Literal["current", "both", "none"] = "current"

    def score(self, method: str) -> bool:
        return self.scores is None or method in self.scores

    def window(self, window: str) -> bool:
        """Whether the missing ratio of this window (`reference`, `current`) is exported."""
        return self.missing_ratio == "both" or self.missing_ratio == window

    @staticmethod
    def exports(mode: Literal["all", "drifted", "none"], *, drifting: bool) -> bool:
        return mode == "all" or (mode == "drifted" and drifting)


def series_params(s: MetricsSettings) -> SeriesParams:
    return SeriesParams(DEFAULT_SCORES if s.scores is None else frozenset(s.scores), s.pvalues, s.missing_ratio)
