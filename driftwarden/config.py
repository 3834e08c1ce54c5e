"""Configuration: every key, its default and its meaning, in one place (design.md, "Config").

Every key is optional; an unknown key is an error that names it. Durations are
strings with a unit: `500ms`, `30s`, `5m`, `24h`, `30d`. One module past 400 lines on purpose:
the file a user writes, read in one place (docs/config-reference.md is generated from it); what
the rest of driftwarden takes from it is built in `driftwarden.params`.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import math
import re
import types
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar, Union, get_args, get_origin
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ModelWrapValidatorHandler,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import ErrorDetails, InitErrorDetails, PydanticCustomError
from pydantic_core.core_schema import ErrorType

from driftwarden.core.alert_names import ALERT_NAMES
from driftwarden.core.label_names import (
    ALERT_LABELS,
    HISTOGRAM_RESERVED,
    REQUEST_LABELS,
    SCRAPE_LABELS,
    label_for_attribute,
    label_name_problem,
)
from driftwarden.core.records import MODEL_NAME
from driftwarden.core.suggestions import did_you_mean, hint
from driftwarden.core.urls import redacted_url
from driftwarden.core.yaml_document import Location, YamlDocument, YamlSyntaxError, read_yaml

__all__ = [
    "ANOMALY_SIGNALS",
    "DEFAULT_TOKEN",
    "AnomalySettings",
    "AuditSettings",
    "AuthSettings",
    "Config",
    "ConfigError",
    "DriftMethod",
    "DriftSettings",
    "EstimateSettings",
    "FleetSettings",
    "GpuSettings",
    "Limits",
    "MetricsSettings",
    "ModelSettings",
    "Problem",
    "SLOSettings",
    "SegmentSettings",
    "ServerSettings",
    "TraceSettings",
    "load_config",
    "parse_duration",
]

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)\s*$")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


def parse_duration(value: Any) -> float:
    """'30s' -> 30.0 seconds. Bare numbers are refused: a unit is required."""
    if isinstance(value, str):
        match = _DURATION.match(value)
        if match:
            seconds = float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
            if not math.isfinite(seconds):
                raise ValueError(f"{value.strip()[:40]!r} is not a finite duration")
            return seconds
    raise ValueError(f"expected a duration with a unit such as 500ms, 30s, 5m, 24h or 30d, got {value!r}")


Duration = Annotated[float, BeforeValidator(parse_duration)]


def _at_least(minimum: str) -> AfterValidator:
    """A lower bound said with its unit, for the durations that drive a loop: `Annotated[Duration,
    _at_least("1s")]`. Shorter ones are typos (`1ms` for `1m`) that would spin a core."""
    seconds = parse_duration(minimum)

    def check(value: float) -> float:
        if value < seconds:
            raise ValueError(f"must be at least {minimum}")
        return value

    return AfterValidator(check)


def _label_name(value: str) -> str:
    problem = label_name_problem(value)
    if problem:
        raise ValueError(problem)
    return value


LabelName = Annotated[str, AfterValidator(_label_name)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FeatureThresholds(_Strict):
    psi: float | None = Field(default=None, gt=0)
    ks: float | None = Field(default=None, gt=0, le=1)
    wasserstein: float | None = Field(default=None, gt=0)
    missing: float | None = Field(default=None, gt=0, le=1)


DriftMethod = Literal["ks", "psi", "wasserstein", "jensenshannon"]


def _all_methods() -> list[DriftMethod]:
    return ["ks", "psi", "wasserstein", "jensenshannon"]


MultivariateMethod = Literal["pca", "classifier"]


def _pca_only() -> list[MultivariateMethod]:
    return ["pca"]


class DriftSettings(_Strict):
    psi: float = Field(default=0.2, gt=0, description="PSI at or above which a feature's effect counts")
    ks: float = Field(default=0.1, gt=0, le=1, description="KS statistic D at or above which a feature's effect counts")
    wasserstein: float = Field(
        default=0.1, gt=0, description="normed Wasserstein distance at or above which the effect counts"
    )
    alpha: float = Field(default=0.05, gt=0, lt=1, description="significance after Benjamini-Hochberg correction")
    share: float = Field(default=0.5, gt=0, le=1, description="share of drifted features that makes the model drifted")
    bins: int = Field(default=10, ge=2, le=100, description="reference-quantile bins for PSI")
    methods: list[DriftMethod] = Field(
        default_factory=_all_methods,
        description="numeric statistics to compute (ks and psi always are)",
    )
    missing: float = Field(
        default=0.05, gt=0, le=1, description="change in a feature's missing rate that counts as an effect"
    )
    per_feature: dict[str, FeatureThresholds] = Field(
        default_factory=dict, description="thresholds for single features, e.g. {amount: {psi: 0.3}}"
    )
    # multivariate drift (detectors/multivariate.py): the rows taken whole, beside the one-feature tests
    multivariate: list[MultivariateMethod] = Field(
        default_factory=_pca_only,
        description="multivariate methods over the input features: pca (reconstruction error), classifier "
        "(domain classifier, costlier); [] for none",
    )
    multivariate_variance: float = Field(
        default=0.65, gt=0, lt=1, description="share of the reference's variance the PCA's kept components explain"
    )
    multivariate_alpha: float = Field(
        default=0.001,
        gt=0,
        lt=0.5,
        description="false-alarm rate per evaluation each multivariate threshold is calibrated to on the reference",
    )
    multivariate_budget: Annotated[Duration, _at_least("10ms")] = Field(
        default=5.0,
        description="time a model's multivariate methods may take per evaluation; one past it is skipped and counted",
    )


class WindowSettings(_Strict):
    rows: int = Field(
        default=5000,
        ge=10,
        le=10_000_000,
        description="rows in the sliding window; with `every`, the most kept per period",
    )
    every: Annotated[Duration, _at_least("1s")] | None = Field(
        default=None,
        description="tumble by time: each period (aligned to the clock) is evaluated once when it ends; at least 1s",
    )

    @model_validator(mode="before")
    @classmethod
    def _tumbling_rows(cls, value: Any) -> Any:
        if isinstance(value, dict) and value.get("every") is not None and "rows" not in value:
            return {**value, "rows": 100_000}  # a time window is bounded by time; rows only caps memory
        return value


def _window(value: Any) -> Any:
    return {"rows": value} if isinstance(value, int) and not isinstance(value, bool) else value


EstimatedMetric = Literal["accuracy", "precision", "recall", "f1", "roc_auc", "mae", "rmse"]


class EstimateSettings(_Strict):
    """Estimated quality before labels arrive (CBPE for classifiers, DLE for regressors), fitted on the reference."""

    kind: Literal["binary", "multiclass", "regression"] = Field(
        description="binary: one score per row (CBPE); multiclass: a score per class (CBPE); regression: DLE"
    )
    label: str = Field(default="label", description="the reference column with the ground truth (left out of drift)")
    prediction: str = Field(
        default="prediction",
        description="the predicted class (multiclass; argmax of the scores when absent) or value (regression)",
    )
    scores: str | dict[str, str] = Field(
        default="prediction",
        description="binary: the score column (class 1 when >= threshold); multiclass: {class: its score column}",
    )
    threshold: float = Field(default=0.5, description="binary: the score at or above which the class is 1")
    metric: EstimatedMetric | None = Field(
        default=None, description="the metric the ModelQualityEstimatedDegraded alert watches (accuracy; mae)"
    )
    margin: float = Field(
        default=0.05,
        gt=0,
        description="alert when the band's best end is this far below the reference (points of accuracy, "
        "F1, ...; for mae and rmse: this share above it)",
    )
    max_rows: int = Field(
        default=100_000,
        ge=100,
        le=1_000_000,
        description="reference rows (a uniform sample) the estimator is fitted on",
    )

    @property
    def alert_metric(self) -> str:
        return self.metric or ("mae" if self.kind == "regression" else "accuracy")

    @model_validator(mode="after")
    def _consistent(self) -> EstimateSettings:
        if self.kind == "multiclass" and (not isinstance(self.scores, dict) or len(self.scores) < 2):
            raise ValueError("multiclass: scores must map each class to its score column, e.g. {a: p_a, b: p_b}")
        if self.kind == "binary" and not isinstance(self.scores, str):
            raise ValueError("binary: scores is the one score column (e.g. prediction)")
        regression = self.alert_metric in ("mae", "rmse")
        if regression != (self.kind == "regression"):
            raise ValueError(f"metric {self.alert_metric} does not apply to a {self.kind} model")
        return self


class SegmentSettings(_Strict):
    top: int = Field(
        default=20,
        ge=1,
        le=200,
        description="values of each segment column judged apart (most rows in the "
        "reference first); the rest are pooled as `other`",
    )
    min_rows: int = Field(
        default=1000,
        ge=50,
        le=100_000,
        description="rows in each segment's own window; a segment is judged once its window holds them",
    )


EmbeddingMethod = Literal["mmd", "pcs", "classifier"]


def _default_embedding_methods() -> list[EmbeddingMethod]:
    return ["mmd", "pcs"]


class EmbeddingSettings(_Strict):
    """One named vector a model's prediction records carry (`embeddings: {query: [...]}`)."""

    dim: int = Field(ge=1, le=4096, description="the vector's length; records sending another are rejected")
    window: int = Field(default=5000, ge=10, le=100_000, description="vectors kept in the current window (a ring)")
    methods: list[EmbeddingMethod] = Field(
        default_factory=_default_embedding_methods,
        description="mmd: kernel MMD through random features, permutation p-value; pcs: share of drifted "
        "principal components; classifier: domain classifier AUROC (opt-in, costs more)",
    )
    alpha: float = Field(default=0.005, gt=0, lt=1, description="significance of the mmd, pcs and classifier tests")
    features: int = Field(default=768, ge=16, le=8192, description="random Fourier features of the mmd method")
    permutations: int = Field(default=200, ge=20, le=2000, description="permutations behind the mmd p-value")
    components: int = Field(default=20, ge=2, le=512, description="principal components of the reference used")
    pcs_share: float = Field(default=0.1, gt=0, le=1, description="share of drifted components that drifts `pcs`")
    auroc: float = Field(default=0.55, gt=0.5, lt=1, description="AUROC above which `classifier` drifts")
    tensor: str | None = Field(
        default=None,
        min_length=1,
        max_length=128,
        description="KServe / Open Inference Protocol V2 payload-logger events (/v1/kserve): the request input "
        "or response output tensor of this name, shape [N, dim], is this embedding (neither features nor the "
        "prediction)",
    )


# --- data-quality constraints (models.<m>.constraints, or a constraints_file of the same shape) ----


class FeatureConstraintSettings(_Strict):
    type: Literal["numeric", "categorical"] | None = Field(
        default=None, description="numbers, or strings and booleans; another type is a `type` violation"
    )
    min: float | None = Field(default=None, description="values below it (less the tolerance) are `range` violations")
    max: float | None = Field(default=None, description="values above it (plus the tolerance) are `range` violations")
    tolerance: float = Field(default=0.0, ge=0, description="share of max - min a value may pass min or max by")
    allowed: list[str] | None = Field(
        default=None, description="the categories allowed; others are `category` violations"
    )
    max_missing: float | None = Field(
        default=None, ge=0, le=1, description="share of the window's rows that may miss it (`missing`)"
    )
    regex: str | None = Field(
        default=None, description="strings must contain a match (anchor with ^...$ for the whole); `regex` violations"
    )

    @field_validator("regex")
    @classmethod
    def _compiles(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value)
                _polars_regex(value)
            except (re.error, ValueError) as exc:
                raise ValueError(f"not a regular expression both Python and polars (Rust) accept: {exc}") from exc
        return value

    @model_validator(mode="after")
    def _consistent(self) -> FeatureConstraintSettings:
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"min ({self.min:g}) is above max ({self.max:g})")
        if self.type == "numeric" and (self.allowed is not None or self.regex is not None):
            raise ValueError("allowed and regex apply to categorical features, not to one of type numeric")
        if self.type == "categorical" and (self.min is not None or self.max is not None):
            raise ValueError("min and max apply to numeric features, not to one of type categorical")
        return self


class ConstraintSchemaSettings(_Strict):
    undeclared: bool = Field(default=True, description="a feature the constraints do not declare is a violation")
    absent: bool = Field(default=True, description="a batch without a declared feature is a violation")
    type_change: bool = Field(default=True, description="a feature arriving with another than its declared type is one")


class ConstraintSettings(_Strict):
    features: dict[str, FeatureConstraintSettings] = Field(
        default_factory=dict, description="per feature: type, min, max, tolerance, allowed, max_missing, regex"
    )
    schema_: ConstraintSchemaSettings = Field(
        default=ConstraintSchemaSettings(),
        alias="schema",
        description="the schema rules: undeclared, absent, type_change",
    )
    max_violating_share: float = Field(
        default=0.0,
        ge=0,
        le=1,
        description="share of the window's rows breaking a constraint above which DataQualityViolation fires "
        "(missing: max_missing)",
    )
    severity: Literal["warning", "ticket", "page"] = Field(default="warning", description="of DataQualityViolation")


def _polars_regex(pattern: str) -> None:
    import polars as pl  # only where a regex is configured

    try:
        pl.Series([""], dtype=pl.String).str.contains(pattern)
    except pl.exceptions.ComputeError as exc:
        raise ValueError(str(exc).splitlines()[0]) from exc


class ModelSettings(_Strict):
    reference: Path | None = Field(
        default=None,
        description="file fitted as the reference at start (or PUT it, or pin a window); "
        "`previous`: each closed tumbling window is the next one's reference",
    )
    window: Annotated[WindowSettings, BeforeValidator(_window)] = WindowSettings()
    features: dict[str, str] = Field(
        default_factory=dict,
        description="feature kinds: numeric or categorical (inferred otherwise), or ignore: left out of drift "
        "(dropped at ingest and from references, as redact does for every model)",
    )
    critical_features: list[str] = Field(default_factory=list)
    drift: DriftSettings = DriftSettings()
    sample_rate: float = Field(
        default=1.0,
        gt=0,
        le=1,
        description="share of records kept, decided by a hash of request_id (input and label together)",
    )
    label_ttl: Duration = Field(default=3600.0, gt=0, description="how long a sampled prediction waits for its label")
    estimate: EstimateSettings | None = Field(
        default=None, description="estimated quality from the reference's scores and labels (CBPE, DLE)"
    )
    segments: list[str] = Field(
        default_factory=list,
        description="categorical columns whose values are judged apart: drift and estimated quality per value; "
        "labels.<name> is the records' label <name> (and the reference's column labels.<name>, no feature)",
    )
    segmenting: SegmentSettings = Field(
        default_factory=SegmentSettings, description="how many values of each segment column, on how many rows"
    )
    embeddings: dict[str, EmbeddingSettings] = Field(
        default_factory=dict,
        description="named vectors of the records, e.g. {query: {dim: 384}}: their drift (MMD, principal "
        "components, classifier); the reference takes them from list columns of the same name",
    )
    constraints: ConstraintSettings | None = Field(
        default=None, description="data-quality constraints checked on every batch (DataQualityViolation)"
    )
    constraints_file: Path | None = Field(
        default=None,
        description="a YAML file of constraints (`reference build --constraints` suggests one); instead of constraints",
    )

    @model_validator(mode="after")
    def _one_source_of_constraints(self) -> ModelSettings:
        if self.constraints is not None and self.constraints_file is not None:
            raise ValueError("give constraints or constraints_file, not both")
        return self

    @field_validator("embeddings")
    @classmethod
    def _one_embedding_per_tensor(cls, value: dict[str, EmbeddingSettings]) -> dict[str, EmbeddingSettings]:
        seen: dict[str, str] = {}
        for name, settings in value.items():
            if settings.tensor is not None and (other := seen.setdefault(settings.tensor, name)) != name:
                raise ValueError(f"embeddings {other!r} and {name!r} both name tensor {settings.tensor!r}")
        return value

    def embedding_tensors(self) -> dict[str, str]:
        """V2 tensor name -> the embedding it carries (`embeddings.<name>.tensor`)."""
        return {e.tensor: name for name, e in self.embeddings.items() if e.tensor is not None}

    @property
    def previous_as_reference(self) -> bool:
        return self.reference is not None and str(self.reference) == "previous"

    @model_validator(mode="after")
    def _previous_needs_tumbling(self) -> ModelSettings:
        if self.previous_as_reference and self.window.every is None:
            raise ValueError("reference: previous needs a tumbling window, e.g. window: {every: 10m}")
        return self

    @field_validator("features")
    @classmethod
    def _kinds(cls, value: dict[str, str]) -> dict[str, str]:
        for name, kind in value.items():
            if kind not in ("numeric", "categorical", "ignore"):
                raise ValueError(f"feature {name!r}: kind must be numeric, categorical or ignore, got {kind!r}")
        return value

    @property
    def ignored_features(self) -> frozenset[str]:
        """The features of kind `ignore`: never compared, dropped like `redact`ed ones."""
        return frozenset(name for name, kind in self.features.items() if kind == "ignore")


class Limits(_Strict):
    max_body_bytes: int = Field(
        default=16 * 1024 * 1024, ge=1024, description="largest accepted request body (413 above)"
    )
    max_records_per_request: int = Field(default=100_000, ge=1)
    max_queue_rows: int = Field(
        default=500_000,
        ge=1000,
        description="rows queued for the detectors before ingest answers 429; a request with more rows than "
        "this answers 413 larger_than_queue (it could never fit)",
    )
    # 32 Mi values x 8 bytes = 256 MiB of float64 queued: beside the windows' 1 GiB it bounds what a sidecar holds
    # for rows not yet in a window, where 500,000 rows of 1,000 features were ~4 GB. Rows of up to 64 features meet
    # max_queue_rows first, so only wide models queue fewer rows (33,554 of 1,000 features: six default windows).
    # One request never passes it under the default max_body_bytes: 16 MiB decoded is at most ~8.4 M numbers.
    max_queue_values: int = Field(
        default=32 * 1024 * 1024,
        ge=1000,
        description="values (rows x features) queued for the detectors before ingest answers 429; a request "
        "with more values than this answers 413 larger_than_queue (it could never fit); at least max_features",
    )
    max_models: int = Field(default=100, ge=1, description="distinct models tracked (bounds metric labels)")
    max_features: int = Field(default=1000, ge=1, description="features tracked per model (bounds metric labels)")
    max_reference_rows: int = Field(
        default=1_000_000,
        ge=100,
        description="reference rows: a larger upload is refused (413), a reference file is uniformly sampled to it",
    )
    max_reference_bytes: int = Field(
        default=256 * 1024 * 1024,
        ge=1024 * 1024,
        description="decoded size of a reference upload, estimated before its rows are read "
        "(8 bytes a number, 16 any other value); 413 above",
    )
    # A default window at max_features (5,000 rows x 1,000 features x 8 bytes = 38 MiB) fits one model's
    # budget six times over; 1 GiB for every window together leaves a 2-core, 24 GiB sidecar room for the
    # queue, references and the window copies an evaluation makes.
    max_window_bytes_per_model: int = Field(
        default=256 * 1024 * 1024,
        ge=1024 * 1024,
        description="bytes one model's current window may take (rows held x features x 8, grown in powers of "
        "two up to window.rows); a batch that would take it further is refused (409 memory_budget)",
    )
    max_window_bytes_total: int = Field(
        default=1024 * 1024 * 1024,
        ge=1024 * 1024,
        description="bytes all current windows together may take; a batch that would take them further is "
        "refused (409 memory_budget)",
    )
    max_series_per_metric: int = Field(
        default=10_000,
        ge=10,
        le=1_000_000,
        description="label sets per metric family built from spans; further ones are folded into one set whose "
        "labels are all 'other' (counted in driftwarden_series_overflow_total)",
    )

    @model_validator(mode="after")
    def _one_record_fits_the_queue(self) -> Limits:
        if self.max_queue_values < self.max_features:
            raise ValueError(
                f"max_queue_values ({self.max_queue_values}) must be at least max_features ({self.max_features}): "
                "a record with every feature could never be admitted"
            )
        return self


DEFAULT_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class TraceSettings(_Strict):
    """How spans become request observations (defaults from the OTel semantic conventions)."""

    model_attributes: list[str] = Field(
        default_factory=lambda: ["model.name", "gen_ai.request.model", "gen_ai.response.model"],
        description="span and metric point attributes naming the model; the first present wins (then the resource's)",
    )
    operation_attributes: list[str] = Field(
        default_factory=lambda: ["http.route", "gen_ai.operation.name"],
        description="span and metric point attributes naming the operation; the first present wins, else the "
        "span name (for a metric point, its http.request.method)",
    )
    latency_source: Literal["spans", "metrics", "auto"] = Field(
        default="auto",
        description="per service, which of spans and OTLP metrics feed request durations, SLOs, time to first "
        "token, time per output token and tokens: auto takes metrics once a service sends them (per kind), so "
        "nothing is counted twice",
    )
    server_spans_only: bool = Field(default=True, description="count SERVER spans and root spans only")
    label_attributes: list[str] = Field(
        default_factory=list,
        description="extra span attributes exported as labels (an allow-list); each is named as OpenTelemetry "
        "names it for Prometheus, every character outside [a-zA-Z0-9_] made `_` (deployment.environment: "
        "deployment_environment)",
    )
    max_label_values: int = Field(
        default=50, ge=1, le=10_000, description="distinct values per label; further ones are folded into 'other'"
    )
    buckets: list[Duration] = Field(
        default_factory=lambda: list(DEFAULT_LATENCY_BUCKETS), description="latency histogram bucket bounds"
    )
    ttft_event: str = Field(default="gen_ai.content.first_token", description="span event marking the first token")
    ttft_attribute: str = Field(
        default="gen_ai.server.time_to_first_token", description="span attribute holding time-to-first-token in seconds"
    )
    max_quantile_samples: int = Field(
        default=20_000, ge=100, description="durations kept per series for p50/p95/p99 over the last 1m/5m"
    )

    @property
    def label_names(self) -> tuple[str, ...]:
        """The Prometheus label name of each of `label_attributes`, in order."""
        return tuple(label_for_attribute(a) for a in self.label_attributes)

    @field_validator("label_attributes")
    @classmethod
    def _label_names(cls, value: list[str]) -> list[str]:
        """Refused at load rather than rendered into exposition that Prometheus refuses whole."""
        named: dict[str, str] = {}
        for attribute in value:
            label = label_for_attribute(attribute)
            problem = label_name_problem(label, reserved=HISTOGRAM_RESERVED)
            if problem is None and label in REQUEST_LABELS:
                problem = f"{label!r} is already a label of every request series"
            if problem is None and label in SCRAPE_LABELS:
                problem = f"{label!r} is set by Prometheus when it scrapes"
            if problem is None and label in named:
                problem = f"{named[label]!r} and {attribute!r} both become the label {label}"
            if problem:
                raise ValueError(problem if label == attribute else f"{attribute!r} (label {label}): {problem}")
            named[label] = attribute
        return value

    @field_validator("buckets")
    @classmethod
    def _increasing(cls, value: list[float]) -> list[float]:
        if not value or any(b <= a for a, b in pairwise(value)) or value[0] <= 0:
            raise ValueError("buckets must be positive and strictly increasing")
        return value


class LogSettings(_Strict):
    """How OTLP log records (POST /v1/logs) become prediction records; others are acknowledged and counted."""

    feature_prefix: str = Field(
        default="driftwarden.features.",
        min_length=1,
        description="log record attributes under this prefix are the features, named without it",
    )
    model_attributes: list[str] = Field(
        default_factory=lambda: ["driftwarden.model", "model.name", "gen_ai.request.model"],
        description="attributes naming the model: the first present on the record, else on its resource",
    )
    prediction_attribute: str = Field(default="driftwarden.prediction", description="the model's output")
    request_id_attribute: str = Field(
        default="driftwarden.request_id", description="the label join's key; the record's trace id when absent"
    )
    label_attribute: str = Field(default="driftwarden.label", description="ground truth sent with the prediction")
    model_version_attribute: str = Field(default="driftwarden.model_version", description="the model's version")
    labels_prefix: str = Field(
        default="driftwarden.labels.",
        min_length=1,
        description="log record attributes under this prefix are the record's labels (segment columns "
        "labels.<name>), named without it",
    )


class SLOSettings(_Strict):
    """A latency SLO (with `threshold`) or an availability SLO (without), over `period`."""

    name: str = Field(pattern=MODEL_NAME.pattern)
    service: str | None = None
    model: str | None = None
    operation: str | None = None
    objective: float = Field(gt=0, lt=1, description="share of good events, e.g. 0.99")
    threshold: Duration | None = Field(default=None, description="latency above which a request is bad")
    period: Duration = 30 * 86400.0
    min_requests: int = Field(
        default=10, ge=0, description="no alert when the short window saw fewer requests (low-traffic guard)"
    )


class GpuSettings(_Strict):
    """NVML polling (`collector/gpu.py`), exported under dcgm-exporter's names."""

    enabled: bool | Literal["auto"] = Field(default="auto", description="auto: poll when NVML and a GPU are present")
    interval: Duration = 5.0
    cost_per_hour: float | None = Field(default=None, ge=0, description="GPU-hour price for cost per inference")
    hostname: str | None = Field(default=None, description="the Hostname label (default: this host's name)")
    model_processes: dict[str, list[str]] = Field(
        default_factory=dict,
        description="model -> process matchers ('pid:1234', 'cgroup:<substring>', 'cmd:<substring>') for "
        "per-model GPU memory",
    )

    @field_validator("interval")
    @classmethod
    def _interval(cls, value: float) -> float:
        if value < 0.1:
            raise ValueError("must be at least 100ms")
        return value


class InhibitRuleSettings(_Strict):
    """Alertmanager's inhibit rule: a firing alert matching `source_match` mutes the alerts matching
    `target_match` whose `equal` labels have the same values."""

    source_match: dict[LabelName, str] = Field(description="label: value, all must equal on the muting alert")
    target_match: dict[LabelName, str] = Field(description="label: value, all must equal on the muted alert")
    equal: list[LabelName] = Field(default_factory=list, description="labels both alerts must share")


def _default_inhibit_rules() -> list[InhibitRuleSettings]:
    """A drift budget burning while the drift itself is on call says nothing new: one incident, not two."""
    return [
        InhibitRuleSettings(
            source_match={"alertname": source}, target_match={"alertname": "DriftBudgetBurn"}, equal=["model"]
        )
        for source in ("FeatureDrift", "ModelDrift")
    ]


class AlertingSettings(_Strict):
    """Finding -> alert lifecycle and notification timing, as Alertmanager defines them."""

    for_: int = Field(default=2, alias="for", ge=1, description="consecutive evaluations a finding must hold to fire")
    group_by: list[LabelName] = Field(default_factory=lambda: ["model", "kind"])
    group_wait: Duration = 30.0
    group_interval: Duration = 300.0
    repeat_interval: Duration = 4 * 3600.0
    resolve_hold: Duration = Field(default=300.0, description="a resolve waits this long in case the finding returns")
    external_url: str | None = Field(
        default=None,
        description="where people reach this daemon's UI (alert links point here); required when listen is not "
        "loopback and a receiver other than retrain is configured",
    )
    grafana_url: str | None = Field(
        default=None,
        description="a Grafana dashboard URL; alerts link to it with var-model, var-namespace, var-pod, from and to",
    )
    runbooks: dict[str, str] = Field(
        default_factory=dict,
        description="alert name -> runbook URL (e.g. {FeatureDrift: https://wiki/drift}); unlisted alerts link to "
        "the daemon's own page of it, <external_url>/runbooks/<alert> (the operator's guide's runbook)",
    )
    default_receivers: list[str] = Field(default_factory=list, description="for alerts no route matches")
    drift_objective: float = Field(
        default=0.99, gt=0, lt=1, description="share of drift evaluations that must be clean"
    )
    drift_period: Duration = 7 * 86400.0
    drift_min_evaluations: int = Field(
        default=5, ge=0, description="no drift-budget alert on fewer evaluations in the short window"
    )
    inhibit: list[InhibitRuleSettings] = Field(
        default_factory=_default_inhibit_rules,
        description="Alertmanager-style inhibit rules ([] for none); by default a firing FeatureDrift or "
        "ModelDrift mutes the DriftBudgetBurn of the same model",
    )

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    @field_validator("external_url", "grafana_url")
    @classmethod
    def _linkable(cls, url: str | None) -> str | None:
        """A link people can open: http(s), a host, and never the unspecified address a server binds."""
        if url is None:
            return url
        if not _http_url(url):
            raise ValueError(f"expected an http:// or https:// URL with a host, got {redacted_url(url)}")
        if _unspecified(urlsplit(url).hostname or ""):
            raise ValueError(
                f"{redacted_url(url)} is the address a server binds, not one a browser can open: "
                "give the host name people use to reach it"
            )
        return url

    @field_validator("runbooks")
    @classmethod
    def _known_alerts(cls, runbooks: dict[str, str]) -> dict[str, str]:
        unknown = sorted(set(runbooks) - set(ALERT_NAMES))
        if unknown:
            raise ValueError(f"unknown alert name(s) {', '.join(unknown)}; the alerts are {', '.join(ALERT_NAMES)}")
        bad = [name for name, url in runbooks.items() if not _http_url(url)]
        if bad:
            raise ValueError(f"{', '.join(bad)}: expected an http:// or https:// URL with a host")
        return runbooks


def _http_url(url: str) -> bool:
    try:
        parts = urlsplit(url)
        return parts.scheme in ("http", "https") and bool(parts.hostname) and parts.port != 0
    except ValueError:  # a port beyond 65535 or not a number, a broken [IPv6] host
        return False


def _unspecified(host: str) -> bool:
    """0.0.0.0 or :: (any address): what a server listens on, not where a link can point."""
    try:
        return ipaddress.ip_address(host.strip("[]")).is_unspecified
    except ValueError:
        return False


def _loopback(host: str) -> bool:
    if host.strip("[]").lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


OpsGeniePriority = Literal["P1", "P2", "P3", "P4", "P5"]
SeverityName = Literal["page", "ticket", "warning", "info"]


class OpsGenieResponder(_Strict):
    """Who OpsGenie notifies, as its Alert API names them: a team, user, escalation or schedule,
    by `id`, or by `name` (`username` for a user)."""

    type: Literal["team", "user", "escalation", "schedule"] = Field(description="what kind of responder it is")
    id: str | None = Field(default=None, min_length=1, description="the responder's OpsGenie ID")
    name: str | None = Field(default=None, min_length=1, description="team, escalation or schedule: its name")
    username: str | None = Field(default=None, min_length=1, description="user: the user's email address")

    @model_validator(mode="after")
    def _one_identifier(self) -> OpsGenieResponder:
        given = [key for key in ("id", "name", "username") if getattr(self, key) is not None]
        by_name = "username" if self.type == "user" else "name"
        if len(given) != 1:
            raise ValueError(
                f"a {self.type} responder needs exactly one of id or {by_name} (given: {', '.join(given) or 'none'})"
            )
        if given[0] not in ("id", by_name):
            raise ValueError(f"a {self.type} responder is named by id or {by_name}, not {given[0]}")
        return self


OpsGenieTag = Annotated[str, Field(min_length=1, max_length=50)]


class ReceiverSettings(_Strict):
    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$")
    type: Literal["pagerduty", "opsgenie", "slack", "webhook", "retrain", "alertmanager"]
    url: str | None = Field(
        default=None,
        description="endpoint; pagerduty defaults to the Events API v2 enqueue URL, opsgenie to its region's API "
        "(give the base URL, such as https://api.opsgenie.com), slack with a bot token to chat.postMessage",
    )
    routing_key_file: Path | None = None
    routing_key_env: str | None = None
    hmac_secret_file: Path | None = None
    hmac_secret_env: str | None = None
    legacy_signature: bool = Field(
        default=False,
        description="webhook, retrain: also send the deprecated X-Driftwarden-Signature (removed in the next release)",
    )
    api_key_file: Path | None = Field(
        default=None, description="opsgenie: file holding the API integration's key (sent as GenieKey)"
    )
    api_key_env: str | None = Field(
        default=None, description="opsgenie: environment variable holding the API key, instead of api_key_file"
    )
    region: Literal["us", "eu"] = Field(
        default="us", description="opsgenie: us (api.opsgenie.com) or eu (api.eu.opsgenie.com); url overrides it"
    )
    responders: list[OpsGenieResponder] = Field(
        default_factory=list, description="opsgenie: the teams, users, escalations and schedules to notify"
    )
    tags: list[OpsGenieTag] = Field(
        default_factory=list,
        max_length=10,
        description="opsgenie: at most 10 tags (of 50 characters) added to every alert, beside alertname, severity, "
        "kind and model/slo/gpu",
    )
    priorities: dict[SeverityName, OpsGeniePriority] = Field(
        default_factory=dict,
        description="opsgenie: severity -> priority, over the defaults page: P1, ticket: P3, warning: P4, info: P5",
    )
    webhook_url_file: Path | None = Field(
        default=None, description="slack: file holding an incoming webhook's URL (the URL is the credential)"
    )
    webhook_url_env: str | None = Field(
        default=None,
        description="slack: environment variable holding an incoming webhook's URL, instead of webhook_url_file",
    )
    bot_token_file: Path | None = Field(
        default=None,
        description="slack: file holding a bot token (xoxb-) for chat.postMessage: updates and the resolution "
        "reply in the first post's thread",
    )
    bot_token_env: str | None = Field(
        default=None, description="slack: environment variable holding the bot token, instead of bot_token_file"
    )
    channel: str | None = Field(
        default=None, min_length=1, description="slack with a bot token: the channel ID (or #name) to post in"
    )
    source: str | None = Field(
        default=None,
        description="pagerduty: payload.source, where the problem is (default: the pod from POD_NAMESPACE and "
        "POD_NAME, else NODE_NAME, else this host's name)",
    )
    cooldown: Duration = Field(default=86400.0, description="retrain: one trigger per model per cooldown")
    timeout: Duration = 10.0

    @field_validator("url")
    @classmethod
    def _sendable(cls, url: str | None) -> str | None:
        """Refused at load, not at the first alert; the URL is not echoed: it may hold a token."""
        if url is None:
            return url
        try:
            parts = urlsplit(url)
            sendable = parts.scheme in ("http", "https") and bool(parts.hostname) and parts.port != 0
        except ValueError:  # a port beyond 65535 or not a number, a broken [IPv6] host
            sendable = False
        if not sendable:
            raise ValueError(
                f"expected an http:// or https:// URL with a host (and a port within 1-65535), got {redacted_url(url)}"
            )
        return url

    @model_validator(mode="wrap")
    @classmethod
    def _needs(cls, data: Any, handler: ModelWrapValidatorHandler[ReceiverSettings]) -> ReceiverSettings:
        """Checked beside the fields, so a misspelt `rooting_key_file` is reported with what it leaves missing."""
        return _checked(cls.__name__, data, handler, _receiver_needs)


class RouteSettings(_Strict):
    match: dict[str, str] = Field(
        default_factory=dict, description="label: value, all must equal (label names as group_by)"
    )
    receivers: list[str]
    continue_: bool = Field(default=False, alias="continue", description="keep matching later routes")

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    @field_validator("match")
    @classmethod
    def _label_names(cls, value: dict[str, str]) -> dict[str, str]:
        for name in value:
            _label_name(name)
        return value


class OutboxSettings(_Strict):
    max_age: Duration = Field(default=86400.0, description="give up on a notification this old")
    initial_backoff: Annotated[Duration, _at_least("100ms")] = 1.0
    max_backoff: Duration = 300.0

    @model_validator(mode="after")
    def _backoff_order(self) -> OutboxSettings:
        if self.max_backoff < self.initial_backoff:
            raise ValueError(
                f"max_backoff ({self.max_backoff:g}s) is shorter than initial_backoff ({self.initial_backoff:g}s)"
            )
        return self


class FileSource(_Strict):
    """An NDJSON file of prediction records on a shared volume, followed like `tail -F`."""

    file: Path
    poll_interval: Annotated[Duration, _at_least("100ms")] = 1.0


class SelfTracing(_Strict):
    endpoint: str = Field(description="OTLP/HTTP traces URL for driftwarden's own spans")
    service_name: str = "driftwarden"


TOKEN_NAME = re.compile(r"^[A-Za-z0-9_.:@-]{1,63}$")
DEFAULT_TOKEN = "default"  # the name of auth_token_file's token, in the audit trail


def _token_name(value: str) -> str:
    if not TOKEN_NAME.fullmatch(value):
        raise ValueError(f"token name {value!r:.80} must be 1-63 letters, digits or _.:@-")
    return value


TokenName = Annotated[str, AfterValidator(_token_name)]


class AuthSettings(_Strict):
    """Which reads need the bearer token of `auth_token_file` too (writes always do when it is set), and
    more tokens, each with the name the audit trail records for whoever sends it."""

    tokens: dict[TokenName, Path] = Field(
        default_factory=dict,
        description="name -> file holding a bearer token; each is accepted like auth_token_file's (named "
        "'default') and its name is the caller in the audit trail (GET /v1/audit)",
    )

    protect_reads: bool = Field(
        default=False,
        description="every GET (API, UI, /openapi.json) needs the token, except /healthz, /readyz and /metrics",
    )
    protect_metrics: bool = Field(default=False, description="with protect_reads: /metrics needs the token too")


class AuditSettings(_Strict):
    """The audit trail of state-changing actions (GET /v1/audit, `driftwarden audit`)."""

    retention: Annotated[Duration, _at_least("1d")] = Field(
        default=400 * 86400.0, description="entries older than this are pruned (at start, then hourly)"
    )


# --- anomaly-based alerts (issue 20) ------------------------------------------------------------
AnomalySignal = Literal[
    "request_rate", "error_ratio", "p99_latency", "gpu_utilization", "gpu_memory", "prediction_volume"
]
ANOMALY_SIGNALS: tuple[AnomalySignal, ...] = get_args(AnomalySignal)
_SEASONS = {"day": 86400.0, "week": 7 * 86400.0}


class AnomalySettings(_Strict):
    """Anomaly-based alerts on the daemon's own series (`detectors/seasonal.py`): each value against the same
    time of the week (or day) in the seasons before, by median and MAD over the history kept in SQLite."""

    enabled: bool = Field(default=True, description="false: no history is kept, no score exported, no Anomaly alert")
    signals: list[AnomalySignal] = Field(
        default_factory=lambda: list(ANOMALY_SIGNALS), description="the series judged (default: all six)"
    )
    season: Literal["day", "week"] = Field(
        default="week", description="the rhythm: compare with the same time of the week (or of the day) before"
    )
    seasons: int = Field(default=4, ge=1, le=12, description="history length: the seasons kept and compared with")
    min_seasons: int = Field(default=2, ge=1, description="no score before this many past seasons have a value")
    resolution: Annotated[Duration, _at_least("1m")] = Field(
        default=600.0,
        description="the history's slot: one mean value per series and slot (rates are over 5m whatever it is)",
    )
    sensitivity: float = Field(
        default=3.0, gt=0, description="robust z-score (deviation / (1.4826 x MAD)) at or beyond which it is unusual"
    )
    min_spread: float = Field(
        default=0.1,
        ge=0,
        description="the spread is at least this share of the baseline, so a very steady series does not page "
        "on a few percent",
    )
    for_: Annotated[Duration, _at_least("0s")] = Field(
        default=900.0, alias="for", description="how long a score must stay beyond sensitivity before the alert"
    )
    max_series: int = Field(
        default=200, ge=1, le=100_000, description="series with a history; later ones are not judged"
    )

    @model_validator(mode="after")
    def _slots_fit_the_season(self) -> AnomalySettings:
        season = _SEASONS[self.season]
        if season % self.resolution:
            raise ValueError(f"resolution must divide the season ({self.season}) into whole slots, e.g. 5m, 10m or 1h")
        if self.min_seasons > self.seasons:
            raise ValueError(f"min_seasons ({self.min_seasons}) exceeds seasons ({self.seasons})")
        return self

    @property
    def season_seconds(self) -> float:
        return _SEASONS[self.season]


class FleetSettings(_Strict):
    """What each replica exports for fleet-wide drift (`driftwarden_feature_bin_values`): the series
    Prometheus sums over replicas, and most of a replica's series (features x bins x 2)."""

    export_bins: Literal["all", "drifted", "none"] = Field(
        default="drifted",
        description="all: every feature's bins (fleet aggregation on: the fleet rules need them); drifted: "
        "only while the feature drifts on this replica (the feature-detail histogram, no fleet PSI); none: "
        "no bin series",
    )
    bin_features: dict[str, list[str]] = Field(
        default_factory=dict,
        description="per model, the only features whose bins are exported (the fleet PSI covers just these); "
        "models not named follow export_bins alone",
    )

    @field_validator("bin_features")
    @classmethod
    def _model_names(cls, value: dict[str, list[str]]) -> dict[str, list[str]]:
        bad = sorted(name for name in value if not MODEL_NAME.fullmatch(name))
        if bad:
            raise ValueError(
                f"not model names: {', '.join(map(repr, bad))} (up to 63 letters, digits, '.', '_', ':', '-')"
            )
        return value


class MetricsSettings(_Strict):
    """Which per-feature series /metrics exports: features x models make most of a sidecar's series
    (docs/design.md "Metric set"). The bin values follow `fleet.export_bins`."""

    scores: list[Literal["psi", "ks", "wasserstein", "chi2", "jensenshannon", "missing"]] | None = Field(
        default=None,
        description="the statistics exported in driftwarden_feature_drift_score (default: those that can make "
        "the verdict: ks, psi, wasserstein, chi2)",
    )
    pvalues: Literal["all", "drifted", "none"] = Field(
        default="drifted",
        description="driftwarden_feature_drift_pvalue: for every feature, only while the feature drifts, or none",
    )
    missing_ratio: Literal["current", "both", "none"] = Field(
        default="current",
        description="driftwarden_feature_missing_ratio per feature: of the current window, of both windows, or none "
        "(true: both, false: none)",
    )

    @field_validator("missing_ratio", mode="before")
    @classmethod
    def _missing_ratio_bool(cls, value: object) -> object:
        return {True: "both", False: "none"}.get(value, value) if isinstance(value, bool) else value


class ServerSettings(_Strict):
    """How the port holds up against many, idle or slow clients (uvicorn, HTTP/1.1)."""

    max_connections: int = Field(
        default=512,
        ge=1,
        le=1_000_000,
        description="open connections at most; one more closes the longest-idle connection, or answers 503 "
        "when every one is busy with a request; `driftwarden run` needs this + 128 open files (ulimit -n)",
    )
    header_timeout: Duration = Field(
        default=10.0,
        description="a request's line and headers must arrive within this of the connection opening "
        "or the previous answer; else the connection is closed",
    )
    max_header_bytes: int = Field(
        default=64 * 1024, ge=1024, le=16 * 1024 * 1024, description="request line and headers at most (431 above)"
    )
    body_timeout: Duration = Field(default=60.0, description="a whole request body must arrive within this (408)")
    keep_alive_timeout: Duration = Field(
        default=5.0, description="a keep-alive connection idle this long is closed (rounded up to whole seconds)"
    )
    backlog: int = Field(default=2048, ge=1, le=65535, description="connections the kernel queues before accept")
    shutdown_timeout: Duration = Field(
        default=10.0, description="on SIGTERM, requests in flight get this long (rounded up to whole seconds)"
    )

    @field_validator("header_timeout", "body_timeout", "keep_alive_timeout", "shutdown_timeout")
    @classmethod
    def _positive(cls, value: float) -> float:
        if value <= 0:
            raise ValueError("must be longer than 0s")
        return value


class Config(_Strict):
    listen: str = Field(default="127.0.0.1:4318", description="HOST:PORT; loopback unless you mean it")
    state_path: Path = Path("./driftwarden-data/state.db")
    auth_token_file: Path | None = Field(
        default=None,
        description="when set, writes need 'Authorization: Bearer <token>' (reads too with auth.protect_reads)",
    )
    auth: AuthSettings = Field(default=AuthSettings(), description="reads that need the token too (default: none)")
    tls_cert_file: Path | None = Field(default=None, description="serve HTTPS with this certificate (PEM) ...")
    tls_key_file: Path | None = Field(default=None, description="... and this private key (PEM)")
    log_format: Literal["text", "json"] = Field(default="text", description="json: one JSON object a line")
    redact: list[str] = Field(default_factory=list, description="feature names dropped at ingest, never stored")
    evaluate_every: Annotated[Duration, _at_least("1s")] = 30.0
    checkpoint_every: Annotated[Duration, _at_least("1s")] = Field(
        default=30.0,
        description=(
            "current windows, SLO and drift-budget counts, tail offsets and label joins saved to SQLite"
            " (and on shutdown); at least 1s"
        ),
    )
    models: dict[str, ModelSettings] = Field(default_factory=dict)
    limits: Limits = Limits()
    traces: TraceSettings = TraceSettings()
    logs: LogSettings = Field(
        default=LogSettings(), description="OTLP log records carrying a model and its features (POST /v1/logs)"
    )
    slos: list[SLOSettings] = Field(default_factory=list)
    self_tracing: SelfTracing | None = None
    gpu: GpuSettings = GpuSettings()
    sources: list[FileSource] = Field(default_factory=list, description="files of prediction records to follow")
    alerting: AlertingSettings = AlertingSettings()
    receivers: list[ReceiverSettings] = Field(default_factory=list)
    routes: list[RouteSettings] = Field(default_factory=list)
    outbox: OutboxSettings = OutboxSettings()
    server: ServerSettings = Field(
        default=ServerSettings(), description="connection limits and timeouts of the HTTP port"
    )
    audit: AuditSettings = Field(
        default=AuditSettings(), description="the audit trail of state-changing actions (GET /v1/audit)"
    )
    fleet: FleetSettings = Field(
        default=FleetSettings(), description="the bin series each replica exports for fleet-wide drift"
    )
    anomaly: AnomalySettings = Field(
        default=AnomalySettings(), description="anomaly-based alerts: each signal against its seasonal baseline"
    )
    metrics: MetricsSettings = Field(
        default=MetricsSettings(), description="the per-feature series /metrics exports besides the verdicts"
    )

    @model_validator(mode="wrap")
    @classmethod
    def _checked_across_keys(cls, data: Any, handler: ModelWrapValidatorHandler[Config]) -> Config:
        return _checked(cls.__name__, data, handler, _across_keys)

    @model_validator(mode="after")
    def _links_need_an_external_url(self) -> Config:
        """Alerts link to the UI: a daemon reached from elsewhere must say where (its listen address is no link)."""
        linking = [r.name for r in self.receivers if r.type != "retrain"]
        if linking and self.alerting.external_url is None and not _loopback(self.host):
            raise ValueError(
                f"alerting.external_url: required when listen ({self.listen}) is not a loopback address and "
                f"receivers ({', '.join(linking)}) send alerts with links: set it to the URL people open to reach "
                "this daemon (such as https://driftwarden.example.com/fraud)"
            )
        return self

    def link_base(self) -> str:
        """Where alert links point: `alerting.external_url`, else this daemon's own loopback address;
        "" (no links) for a listen address nobody can open."""
        if self.alerting.external_url:
            return self.alerting.external_url
        if not _loopback(self.host):
            return ""
        return f"{'https' if self.tls_cert_file else 'http'}://{self.listen}"

    @field_validator("slos")
    @classmethod
    def _unique_slos(cls, value: list[SLOSettings]) -> list[SLOSettings]:
        names = [slo.name for slo in value]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"SLO names must be unique; repeated: {', '.join(duplicates)}")
        return value

    def latency_buckets(self) -> list[float]:
        """The histogram bounds: configured buckets plus every latency SLO threshold, so that
        Prometheus can compute each SLO from `_bucket{le=threshold}`."""
        thresholds = [slo.threshold for slo in self.slos if slo.threshold is not None]
        return sorted(set(self.traces.buckets) | set(thresholds))

    @field_validator("listen")
    @classmethod
    def _listen(cls, value: str) -> str:
        split_address(value)
        return value

    def model(self, name: str) -> ModelSettings:
        return self.models.get(name) or ModelSettings()

    @property
    def host(self) -> str:
        return split_address(self.listen)[0]

    @property
    def port(self) -> int:
        return split_address(self.listen)[1]

    def auth_token(self) -> str | None:
        if self.auth_token_file is None:
            return None
        token = self.auth_token_file.read_text().strip()
        if not token:
            raise ConfigError([f"auth_token_file: {self.auth_token_file} is empty"])
        return token

    def auth_tokens(self) -> dict[str, str]:
        """name -> bearer token: `auth_token_file`'s as "default", and every one of `auth.tokens`."""
        files = {DEFAULT_TOKEN: self.auth_token_file} if self.auth_token_file else {}
        keys = {DEFAULT_TOKEN: "auth_token_file"}
        files |= self.auth.tokens
        tokens: dict[str, str] = {}
        for name, path in files.items():
            token = path.read_text().strip()
            key = keys.get(name, f"auth.tokens.{name}")
            if not token:
                raise ConfigError([f"{key}: {path} is empty"])
            same = next((other for other, known in tokens.items() if known == token), None)
            if same is not None:
                raise ConfigError([f"{key}: {path} holds the token of '{same}': give each caller a token of its own"])
            tokens[name] = token
        return tokens


def split_address(value: str) -> tuple[str, int]:
    host, sep, port = value.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ValueError(f"expected HOST:PORT such as 127.0.0.1:4318, got {value!r}")
    return host.strip("[]"), int(port)


# --- checks across keys, on the data as the file gives it ------------------------------------------


_Model = TypeVar("_Model", bound=BaseModel)


def _checked(
    title: str,
    data: Any,
    handler: ModelWrapValidatorHandler[_Model],
    checks: Callable[[dict[str, Any]], Iterator[InitErrorDetails]],
) -> _Model:
    """The model validated, and `checks` run on the data as given even when some field is wrong
    (pydantic runs an after-validator only once every field is valid): one pass reports every error."""
    if not isinstance(data, dict):
        return handler(data)
    errors: list[InitErrorDetails] = []
    try:
        model = handler(data)
    except ValidationError as exc:
        errors.extend(_reissued(err) for err in exc.errors())
    errors.extend(checks(data))
    if errors:
        raise ValidationError.from_exception_data(title, errors)
    return model


# Receiver secrets each read from `<name>_file` or `<name>_env`: exactly one of the two when given.
SECRET_SOURCES = ("routing_key", "api_key", "webhook_url", "bot_token", "hmac_secret")

_KEYS_OF_ONE_TYPE = {
    **dict.fromkeys(("api_key_file", "api_key_env", "region", "responders", "tags", "priorities"), "opsgenie"),
    **dict.fromkeys(("webhook_url_file", "webhook_url_env", "bot_token_file", "bot_token_env", "channel"), "slack"),
    "source": "pagerduty",
}


def _receiver_needs(data: dict[str, Any]) -> Iterator[InitErrorDetails]:
    kind, name = data.get("type"), data.get("name")
    if kind == "pagerduty" and not (data.get("routing_key_file") or data.get("routing_key_env")):
        yield _error((), name, f"receiver {name!r}: pagerduty needs routing_key_file or routing_key_env")
    if kind in ("webhook", "retrain", "alertmanager") and not data.get("url"):
        yield _error((), name, f"receiver {name!r}: {kind} needs a url")
    if kind == "opsgenie" and not (data.get("api_key_file") or data.get("api_key_env")):
        yield _error((), name, f"receiver {name!r}: opsgenie needs api_key_file or api_key_env, where its API key is")
    if kind == "slack":
        yield from _slack_needs(data)
    for secret in SECRET_SOURCES:
        if data.get(f"{secret}_file") and data.get(f"{secret}_env"):
            yield _error(
                (f"{secret}_env",),
                data[f"{secret}_env"],
                f"receiver {name!r}: give {secret}_file or {secret}_env, not both: one source for a secret",
            )
    for signing_key in ("hmac_secret_file", "hmac_secret_env"):
        if kind in ("opsgenie", "slack") and data.get(signing_key):
            yield _error(
                (signing_key,),
                None,
                f"{kind} knows driftwarden by its {'API key' if kind == 'opsgenie' else 'token or webhook URL'}: "
                f"{signing_key} signs webhook and retrain deliveries only",
            )
    for key, owner in _KEYS_OF_ONE_TYPE.items():
        if key in data and kind in _RECEIVER_TYPES and kind != owner:
            yield _error((key,), data[key], f"{key} is a key of {owner} receivers; receiver {name!r} is {kind}")


_RECEIVER_TYPES = frozenset(get_args(ReceiverSettings.model_fields["type"].annotation))


def _slack_needs(data: dict[str, Any]) -> Iterator[InitErrorDetails]:
    """An incoming webhook (its URL the secret, its channel fixed by Slack) or a bot token and a channel."""
    name = data.get("name")
    webhook = data.get("webhook_url_file") or data.get("webhook_url_env")
    bot = data.get("bot_token_file") or data.get("bot_token_env")
    if bool(webhook) == bool(bot):
        yield _error(
            (),
            name,
            f"receiver {name!r}: slack needs webhook_url_file or _env (an incoming webhook) or bot_token_file or "
            f"_env with a channel (chat.postMessage, resolutions threaded), not {'both' if webhook else 'neither'}",
        )
    if bot and not data.get("channel"):
        yield _error((), name, f"receiver {name!r}: slack with a bot token needs the channel to post in")
    if webhook and data.get("channel"):
        yield _error(
            ("channel",), data["channel"], "an incoming webhook posts to the channel it was made for: drop channel"
        )
    if webhook and data.get("url"):
        yield _error(
            ("url",),
            None,
            "an incoming webhook's URL is its credential: keep it in webhook_url_file or webhook_url_env only, "
            "not in the config",
        )


def _across_keys(data: dict[str, Any]) -> Iterator[InitErrorDetails]:
    yield from _auth_needs_a_token(data)
    yield from _tls_pair(data)
    yield from _receiver_names(data)
    yield from _route_labels(data)
    yield from _segment_series(data)


def _segment_series(data: dict[str, Any]) -> Iterator[InitErrorDetails]:
    """A model's segments make a series per segment in each segment family: at most
    `limits.max_series_per_metric` of them (segment columns x (segmenting.top + 1 for `other`))."""
    limits, models = data.get("limits"), data.get("models")
    budget = limits.get("max_series_per_metric", 10_000) if isinstance(limits, dict) else 10_000
    for name, model in (models if isinstance(models, dict) else {}).items():
        if not isinstance(model, dict) or not isinstance(model.get("segments"), list):
            continue
        segmenting = model.get("segmenting")
        top = segmenting.get("top", 20) if isinstance(segmenting, dict) else 20
        if isinstance(top, int) and isinstance(budget, int) and len(model["segments"]) * (top + 1) > budget:
            yield _error(
                ("models", name, "segments"),
                model["segments"],
                f"{len(model['segments'])} segment columns x {top + 1} values (segmenting.top and other) pass "
                f"limits.max_series_per_metric ({budget}): lower segmenting.top or judge fewer columns",
            )


def _error(loc: tuple[str | int, ...], value: Any, message: str, *suggestions: str) -> InitErrorDetails:
    """An error of a check across keys at `loc`; `suggestions` become its "did you mean"."""
    context = {"message": message, "suggestions": list(suggestions)}
    return {"type": PydanticCustomError("config_reference", "{message}", context), "loc": loc, "input": value}


def _reissued(error: ErrorDetails) -> InitErrorDetails:
    """A field's error as pydantic gave it, to be raised again beside the errors across keys."""
    context = error.get("ctx")
    if error["type"] in _PYDANTIC_ERROR_TYPES:
        details: InitErrorDetails = {"type": error["type"], "loc": error["loc"], "input": error["input"]}
        if context is not None:
            details["ctx"] = context
        return details
    custom = PydanticCustomError(error["type"], "{message}", {**(context or {}), "message": error["msg"]})
    return {"type": custom, "loc": error["loc"], "input": error["input"]}


_PYDANTIC_ERROR_TYPES = frozenset(get_args(ErrorType))


def _mapping(value: Any) -> dict[str, Any]:
    """A section as the file gives it; a model given in its place (from code), as the file would."""
    if isinstance(value, BaseModel):
        return value.model_dump(by_alias=True)
    return value if isinstance(value, dict) else {}


def _items(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _true(value: Any) -> bool:
    """As pydantic reads a bool from YAML or a string."""
    return value is True or (isinstance(value, str) and value.strip().lower() in {"true", "yes", "on", "1", "t", "y"})


def _auth_needs_a_token(data: dict[str, Any]) -> Iterator[InitErrorDetails]:
    auth = _mapping(data.get("auth"))
    reads, metrics = _true(auth.get("protect_reads")), _true(auth.get("protect_metrics"))
    if (reads or metrics) and data.get("auth_token_file") is None and not auth.get("tokens"):
        key = "protect_reads" if reads else "protect_metrics"
        yield _error(
            ("auth", key), auth.get(key), "needs auth_token_file or auth.tokens: the token it asks for (set both)"
        )
    if data.get("auth_token_file") is not None and DEFAULT_TOKEN in _mapping(auth.get("tokens")):
        yield _error(
            ("auth", "tokens", DEFAULT_TOKEN),
            DEFAULT_TOKEN,
            f"{DEFAULT_TOKEN!r} is the name of auth_token_file's token: name this one otherwise",
        )
    if metrics and not reads:
        yield _error(
            ("auth", "protect_metrics"),
            auth.get("protect_metrics"),
            "auth.protect_metrics closes /metrics in addition to every other read: set protect_reads",
        )


def _tls_pair(data: dict[str, Any]) -> Iterator[InitErrorDetails]:
    cert, key = data.get("tls_cert_file"), data.get("tls_key_file")
    if (cert is None) != (key is None):
        given, missing = ("tls_cert_file", "tls_key_file") if key is None else ("tls_key_file", "tls_cert_file")
        yield _error(
            (given,),
            data.get(given),
            f"tls_cert_file and tls_key_file go together: set both or neither ({missing} is not set)",
        )


def _receiver_names(data: dict[str, Any]) -> Iterator[InitErrorDetails]:
    """Receiver names unique; every name a route or `alerting.default_receivers` gives, one of them
    (`routes.0.receivers.1: unknown receiver 'pagerdty'; did you mean 'pagerduty'?`)."""
    names: dict[str, int] = {}
    for i, receiver in enumerate(_items(data.get("receivers"))):
        name = _mapping(receiver).get("name")
        if isinstance(name, str) and name in names:
            yield _error(
                ("receivers", i, "name"), name, f"receivers.{names[name]} has this name already: names must be unique"
            )
        elif isinstance(name, str):
            names[name] = i
    known = f"(receivers: {', '.join(names) or 'none'})"
    listed: list[tuple[tuple[str | int, ...], Any]] = [
        (("routes", i, "receivers"), _mapping(route).get("receivers"))
        for i, route in enumerate(_items(data.get("routes")))
    ]
    listed.append((("alerting", "default_receivers"), _mapping(data.get("alerting")).get("default_receivers")))
    for loc, receivers in listed:
        for j, name in enumerate(_items(receivers)):
            if isinstance(name, str) and name not in names:
                close = did_you_mean(name, names)
                yield _error((*loc, j), name, f"unknown receiver {name!r}" + ("" if close else f" {known}"), *close)


def _route_labels(data: dict[str, Any]) -> Iterator[InitErrorDetails]:
    """A route matching on a label no alert carries would never match."""
    for i, route in enumerate(_items(data.get("routes"))):
        for label in _mapping(_mapping(route).get("match")):
            if isinstance(label, str) and label not in ALERT_LABELS and label_name_problem(label) is None:
                close = did_you_mean(label, ALERT_LABELS)
                known = "" if close else f" (alert labels: {', '.join(sorted(ALERT_LABELS))})"
                yield _error(
                    ("routes", i, "match", label), label, f"no alert carries the label {label!r}{known}", *close
                )


# --- loading: one pass, every problem with its file, line and a suggestion -------------------------


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a config: `file:line:column: key.path: message (did you mean 'x'?)`.

    `location` is where the file gives the key: None for the embedded default, or for a value given
    on the command line (`origin`)."""

    key: str
    message: str
    location: Location | None = None
    origin: str | None = None
    suggestions: tuple[str, ...] = ()

    def __str__(self) -> str:
        where = f"{self.location}: " if self.location else ""
        key = f"{self.key}: " if self.key else ""
        origin = f" (as given on {self.origin})" if self.origin else ""
        return f"{where}{key}{self.message}{hint(self.suggestions)}{origin}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "key": self.key or None,
            "message": self.message,
            "file": self.location.file if self.location else None,
            "line": self.location.line if self.location else None,
            "column": self.location.column if self.location else None,
            "origin": self.origin,
            "did_you_mean": list(self.suggestions),
        }


class ConfigError(Exception):
    """A config that cannot be used. `details` are its Problems; `problems` the same as lines of text
    (`Problem`s given as plain strings are lines as they are)."""

    def __init__(self, problems: Sequence[str | Problem]) -> None:
        self.details = [p if isinstance(p, Problem) else Problem("", p) for p in problems]
        self.problems = [str(p) for p in self.details]
        super().__init__("\n".join(self.problems))


def load_config(path: Path | None, **overrides: Any) -> Config:
    """Read a YAML file (or the embedded default when path is None) and apply CLI overrides; a
    ConfigError lists every problem at once, each with the line of the file it is on."""
    document = read_config_file(path) if path is not None else None
    data: dict[str, Any] = dict(document.data or {}) if document is not None else {}
    flags = {key for key, value in overrides.items() if value is not None}
    data.update({key: overrides[key] for key in flags})
    problems: list[Problem] = [
        Problem(".".join(map(str, key)), f"given twice in one mapping (first on line {first.line}): keep one", again)
        for key, again, first in (document.duplicates if document is not None else ())
    ]
    try:
        config = Config.model_validate(data)
    except ValidationError as exc:
        problems.extend(_problem(error, document, flags) for error in exc.errors())
    if not problems:
        problems.extend(_load_constraint_files(config, document))
    if problems:
        problems.sort(key=_in_file_order)
        raise ConfigError(problems)
    return config


def load_constraints(path: Path) -> ConstraintSettings:
    """A constraints file on its own (`driftwarden check --constraints`); ConfigError with file:line."""
    document = read_config_file(path)
    try:
        return ConstraintSettings.model_validate(document.data or {})
    except ValidationError as exc:
        raise ConfigError([_problem(error, document, set()) for error in exc.errors()]) from exc


def _load_constraint_files(config: Config, document: YamlDocument | None) -> list[Problem]:
    """Each model's constraints_file read into its `constraints`; its problems point into that file."""
    problems: list[Problem] = []
    for name, settings in config.models.items():
        if settings.constraints_file is None:
            continue
        try:
            loaded = load_constraints(settings.constraints_file)
        except ConfigError as exc:
            key = f"models.{name}.constraints_file"
            where = locate(document, key)  # a file that cannot be read: where the config names it
            problems.extend(
                dataclasses.replace(p, key=f"{key}: {p.key}")
                if p.key
                else dataclasses.replace(p, key=key, location=p.location or where)
                for p in exc.details
            )
            continue
        config.models[name] = settings.model_copy(update={"constraints": loaded})
    return problems


def _in_file_order(problem: Problem) -> tuple[int, int]:
    where = problem.location
    return (where.line, where.column) if where is not None else (0, 0)  # a flag's problem first


def read_config_file(path: Path) -> YamlDocument:
    """The file as a YAML document whose top level is a mapping; a ConfigError naming the file otherwise."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError([f"{path}: {exc.strerror or exc}"]) from exc
    except UnicodeDecodeError as exc:
        byte, line = exc.object[exc.start], exc.object.count(b"\n", 0, exc.start) + 1
        raise ConfigError([f"{path}: not UTF-8 text (byte 0x{byte:02x} on line {line})"]) from exc
    try:
        document = read_yaml(text, name=str(path))
    except YamlSyntaxError as exc:
        raise ConfigError([str(exc)]) from exc
    if document.data is not None and not isinstance(document.data, dict):
        where = document.locate(()) or path
        raise ConfigError([f"{where}: the top level must be a mapping of keys"])
    return document


def locate(document: YamlDocument | None, key: str) -> Location | None:
    """Where the file gives `key` (`receivers.0.routing_key_file`), for problems found after loading;
    None when the file does not give it (a default)."""
    if document is None:
        return None
    return document.locate(tuple(int(part) if part.isdigit() else part for part in key.split(".")), exact=True)


_AT_KEY = frozenset({"extra_forbidden"})  # errors about the key itself, not its value


def _problem(error: ErrorDetails, document: YamlDocument | None, flags: set[str]) -> Problem:
    loc = tuple(part for part in error["loc"] if not (isinstance(part, str) and part.startswith("function-")))
    context = error.get("ctx") or {}
    if error["type"] == "extra_forbidden":
        message, suggestions = "unknown key", did_you_mean(str(loc[-1]), _keys_at(loc[:-1]))
    else:
        message, suggestions = error["msg"].removeprefix("Value error, "), context.get("suggestions", [])
    key = ".".join(str(part) for part in loc)
    if loc and loc[0] in flags:  # the value came from the command line (`--listen`), not the file
        return Problem(key, message, origin="the command line", suggestions=tuple(suggestions))
    at_key = error["type"] in _AT_KEY or (error["type"] == "config_reference" and loc[-2:-1] == ("match",))
    location = document.locate(loc, key=at_key) if document is not None else None
    return Problem(key or "(top level)", message, location, suggestions=tuple(suggestions))


def _keys_at(loc: tuple[str | int, ...]) -> list[str]:
    """The keys the config allows at `loc` (a mapping inside it), for "did you mean"."""
    node: Any = Config
    for part in loc:
        node = _inside(node, part)
        if node is None:
            return []
    node = _unwrapped(node)
    if isinstance(node, type) and issubclass(node, BaseModel):
        return [field.alias or name for name, field in node.model_fields.items()]
    return []


def _inside(annotation: Any, part: str | int) -> Any:
    """The type of `part` inside a value of type `annotation`: a model's field, a list's item, a dict's value."""
    annotation = _unwrapped(annotation)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        for name, field in annotation.model_fields.items():
            if part in (name, field.alias):
                return field.annotation
        return None
    if get_origin(annotation) is list:
        return get_args(annotation)[0]
    if get_origin(annotation) is dict:
        return get_args(annotation)[1]
    return None


def _unwrapped(annotation: Any) -> Any:
    """`Annotated[X, ...]` -> X; `X | None` -> X (the first alternative that is a model, list or dict)."""
    while True:
        origin = get_origin(annotation)
        if origin is Annotated:
            annotation = get_args(annotation)[0]
        elif origin in (Union, types.UnionType):
            inner = [a for a in get_args(annotation) if _is_container(a)]
            if not inner:
                return annotation
            annotation = inner[0]
        else:
            return annotation


def _is_container(annotation: Any) -> bool:
    annotation = get_args(annotation)[0] if get_origin(annotation) is Annotated else annotation
    return get_origin(annotation) in (list, dict) or (
        isinstance(annotation, type) and issubclass(annotation, BaseModel)
    )
