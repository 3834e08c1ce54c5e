"""Configuration: every key, its default and its meaning, in one place (design.md, "Config").

Every key is optional; an unknown key is an error that names it. Durations are
strings with a unit: `500ms`, `30s`, `5m`, `24h`, `30d`. One module past 400 lines on purpose:
the file a user writes, read in one place (docs/config-reference.md is generated from it); what
the rest of driftwarden takes from it is built in `driftwarden.params`.
"""

from __future__ import annotations

import math
import re
from itertools import pairwise
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic_core import ErrorDetails

from driftwarden.core.records import MODEL_NAME

__all__ = [
    "Config",
    "ConfigError",
    "DriftMethod",
    "DriftSettings",
    "GpuSettings",
    "Limits",
    "ModelSettings",
    "SLOSettings",
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


class WindowSettings(_Strict):
    rows: int = Field(
        default=5000,
        ge=10,
        le=10_000_000,
        description="rows in the sliding window; with `every`, the most kept per period",
    )
    every: Duration | None = Field(
        default=None,
        gt=0,
        description="tumble by time: each period (aligned to the clock) is evaluated once when it ends",
    )

    @model_validator(mode="before")
    @classmethod
    def _tumbling_rows(cls, value: Any) -> Any:
        if isinstance(value, dict) and value.get("every") is not None and "rows" not in value:
            return {**value, "rows": 100_000}  # a time window is bounded by time; rows only caps memory
        return value


def _window(value: Any) -> Any:
    return {"rows": value} if isinstance(value, int) and not isinstance(value, bool) else value


class ModelSettings(_Strict):
    reference: Path | None = Field(
        default=None,
        description="file fitted as the reference at start (or PUT it, or pin a window); "
        "`previous`: each closed tumbling window is the next one's reference",
    )
    window: Annotated[WindowSettings, BeforeValidator(_window)] = WindowSettings()
    features: dict[str, str] = Field(default_factory=dict, description="feature kind overrides")
    critical_features: list[str] = Field(default_factory=list)
    drift: DriftSettings = DriftSettings()
    sample_rate: float = Field(
        default=1.0,
        gt=0,
        le=1,
        description="share of records kept, decided by a hash of request_id (input and label together)",
    )
    label_ttl: Duration = Field(default=3600.0, gt=0, description="how long a sampled prediction waits for its label")

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
            if kind not in ("numeric", "categorical"):
                raise ValueError(f"feature {name!r}: kind must be numeric or categorical, got {kind!r}")
        return value


class Limits(_Strict):
    max_body_bytes: int = Field(
        default=16 * 1024 * 1024, ge=1024, description="largest accepted request body (413 above)"
    )
    max_records_per_request: int = Field(default=100_000, ge=1)
    max_queue_rows: int = Field(
        default=500_000, ge=1000, description="rows queued for the detectors before ingest answers 429"
    )
    max_models: int = Field(default=100, ge=1, description="distinct models tracked (bounds metric labels)")
    max_features: int = Field(default=1000, ge=1, description="features tracked per model (bounds metric labels)")
    max_reference_rows: int = Field(
        default=1_000_000, ge=100, description="reference rows kept; larger uploads are sampled"
    )
    max_series_per_metric: int = Field(
        default=10_000,
        ge=10,
        le=1_000_000,
        description="label sets per metric family built from spans; further ones are folded into one set whose "
        "labels are all 'other' (counted in driftwarden_series_overflow_total)",
    )


DEFAULT_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class TraceSettings(_Strict):
    """How spans become request observations (defaults from the OTel semantic conventions)."""

    model_attributes: list[str] = Field(
        default_factory=lambda: ["model.name", "gen_ai.request.model"],
        description="span attributes naming the model; the first present wins",
    )
    operation_attributes: list[str] = Field(
        default_factory=lambda: ["http.route"], description="span attributes naming the operation; else the span name"
    )
    server_spans_only: bool = Field(default=True, description="count SERVER spans and root spans only")
    label_attributes: list[str] = Field(
        default_factory=list, description="extra span attributes exported as labels (an allow-list)"
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

    @field_validator("buckets")
    @classmethod
    def _increasing(cls, value: list[float]) -> list[float]:
        if not value or any(b <= a for a, b in pairwise(value)) or value[0] <= 0:
            raise ValueError("buckets must be positive and strictly increasing")
        return value


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
        default=10, ge=0, description="no page when the short window saw fewer requests (low-traffic guard)"
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


class AlertingSettings(_Strict):
    """Finding -> alert lifecycle and notification timing, as Alertmanager defines them."""

    for_: int = Field(default=2, alias="for", ge=1, description="consecutive evaluations a finding must hold to fire")
    group_by: list[str] = Field(default_factory=lambda: ["model", "kind"])
    group_wait: Duration = 30.0
    group_interval: Duration = 300.0
    repeat_interval: Duration = 4 * 3600.0
    resolve_hold: Duration = Field(default=300.0, description="a resolve waits this long in case the finding returns")
    external_url: str | None = Field(default=None, description="where people reach this daemon (links in alerts)")
    grafana_url: str | None = Field(default=None, description="a Grafana dashboard URL linked from PagerDuty incidents")
    default_receivers: list[str] = Field(default_factory=list, description="for alerts no route matches")
    drift_objective: float = Field(
        default=0.99, gt=0, lt=1, description="share of drift evaluations that must be clean"
    )
    drift_period: Duration = 7 * 86400.0
    drift_min_evaluations: int = Field(default=5, ge=0, description="no drift-budget page on fewer evaluations")

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class ReceiverSettings(_Strict):
    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$")
    type: Literal["pagerduty", "webhook", "retrain", "alertmanager"]
    url: str | None = Field(default=None, description="endpoint; pagerduty defaults to the Events API v2 enqueue URL")
    routing_key_file: Path | None = None
    routing_key_env: str | None = None
    hmac_secret_file: Path | None = None
    cooldown: Duration = Field(default=86400.0, description="retrain: one trigger per model per cooldown")
    timeout: Duration = 10.0

    @model_validator(mode="after")
    def _needs(self) -> ReceiverSettings:
        if self.type == "pagerduty" and not (self.routing_key_file or self.routing_key_env):
            raise ValueError(f"receiver {self.name!r}: pagerduty needs routing_key_file or routing_key_env")
        if self.type != "pagerduty" and not self.url:
            raise ValueError(f"receiver {self.name!r}: {self.type} needs a url")
        return self


class RouteSettings(_Strict):
    match: dict[str, str] = Field(default_factory=dict, description="label: value, all must equal")
    receivers: list[str]
    continue_: bool = Field(default=False, alias="continue", description="keep matching later routes")

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class OutboxSettings(_Strict):
    max_age: Duration = Field(default=86400.0, description="give up on a notification this old")
    initial_backoff: Duration = 1.0
    max_backoff: Duration = 300.0


class FileSource(_Strict):
    """An NDJSON file of prediction records on a shared volume, followed like `tail -F`."""

    file: Path
    poll_interval: Duration = 1.0


class SelfTracing(_Strict):
    endpoint: str = Field(description="OTLP/HTTP traces URL for driftwarden's own spans")
    service_name: str = "driftwarden"


class Config(_Strict):
    listen: str = Field(default="127.0.0.1:4318", description="HOST:PORT; loopback unless you mean it")
    state_path: Path = Path("./driftwarden-data/state.db")
    auth_token_file: Path | None = Field(
        default=None, description="when set, ingest needs 'Authorization: Bearer <token>'"
    )
    tls_cert_file: Path | None = Field(default=None, description="serve HTTPS with this certificate (PEM) ...")
    tls_key_file: Path | None = Field(default=None, description="... and this private key (PEM)")
    log_format: Literal["text", "json"] = Field(default="text", description="json: one JSON object a line")
    redact: list[str] = Field(default_factory=list, description="feature names dropped at ingest, never stored")
    evaluate_every: Duration = 30.0
    checkpoint_every: Duration = Field(
        default=30.0,
        description="current windows, tail offsets and label joins saved to SQLite (also after each evaluation)",
    )
    models: dict[str, ModelSettings] = Field(default_factory=dict)
    limits: Limits = Limits()
    traces: TraceSettings = TraceSettings()
    slos: list[SLOSettings] = Field(default_factory=list)
    self_tracing: SelfTracing | None = None
    gpu: GpuSettings = GpuSettings()
    sources: list[FileSource] = Field(default_factory=list, description="files of prediction records to follow")
    alerting: AlertingSettings = AlertingSettings()
    receivers: list[ReceiverSettings] = Field(default_factory=list)
    routes: list[RouteSettings] = Field(default_factory=list)
    outbox: OutboxSettings = OutboxSettings()

    @model_validator(mode="after")
    def _tls_pair(self) -> Config:
        if (self.tls_cert_file is None) != (self.tls_key_file is None):
            raise ValueError("tls_cert_file and tls_key_file go together: set both or neither")
        return self

    @model_validator(mode="after")
    def _routes_name_receivers(self) -> Config:
        names = [r.name for r in self.receivers]
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise ValueError(f"receiver names must be unique; repeated: {', '.join(repeated)}")
        for i, route in enumerate(self.routes):
            unknown = [r for r in route.receivers if r not in names]
            if unknown:
                raise ValueError(f"routes.{i}.receivers: unknown receiver(s) {', '.join(unknown)}")
        unknown = [r for r in self.alerting.default_receivers if r not in names]
        if unknown:
            raise ValueError(f"alerting.default_receivers: unknown receiver(s) {', '.join(unknown)}")
        return self

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

    @field_validator("evaluate_every", "checkpoint_every")
    @classmethod
    def _positive(cls, value: float) -> float:
        if value <= 0:
            raise ValueError("must be longer than 0s")
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


def split_address(value: str) -> tuple[str, int]:
    host, sep, port = value.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ValueError(f"expected HOST:PORT such as 127.0.0.1:4318, got {value!r}")
    return host.strip("[]"), int(port)


class ConfigError(Exception):
    """A config that cannot be used; `problems` are 'key.path: message' lines."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


def load_config(path: Path | None, **overrides: Any) -> Config:
    """Read a YAML file (or the embedded default when path is None) and apply CLI overrides."""
    data: dict[str, Any] = {}
    if path is not None:
        try:
            loaded = yaml.load(path.read_text(), Loader=_UniqueKeyLoader)
        except OSError as exc:
            raise ConfigError([f"{path}: {exc.strerror or exc}"]) from exc
        except yaml.YAMLError as exc:
            raise ConfigError([f"{path}: not valid YAML: {exc}"]) from exc
        if loaded is not None and not isinstance(loaded, dict):
            raise ConfigError([f"{path}: the top level must be a mapping of keys"])
        data = loaded or {}
    data.update({k: v for k, v in overrides.items() if v is not None})
    try:
        return Config.model_validate(data)
    except ValidationError as exc:
        raise ConfigError([_describe(err) for err in exc.errors()]) from exc


class _UniqueKeyLoader(yaml.SafeLoader):
    """YAML's safe loader, refusing a key given twice in one mapping: with the last one winning
    silently, a second `listen: 0.0.0.0` further down a file would open the daemon to the network."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"the key {key!r} is given twice in one mapping", key_node.start_mark
                )
            seen.add(key)
        return super().construct_mapping(node, deep)


def _describe(error: ErrorDetails) -> str:
    path = ".".join(str(p) for p in error["loc"] if not str(p).startswith("function-"))
    if error["type"] == "extra_forbidden":
        return f"{path}: unknown key"
    message = error["msg"].removeprefix("Value error, ")
    return f"{path or '(top level)'}: {message}"
