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
from urllib.parse import urlsplit

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import ErrorDetails

from driftwarden.core.label_names import (
    HISTOGRAM_RESERVED,
    REQUEST_LABELS,
    SCRAPE_LABELS,
    label_for_attribute,
    label_name_problem,
)
from driftwarden.core.records import MODEL_NAME
from driftwarden.core.urls import redacted_url

__all__ = [
    "AuthSettings",
    "Config",
    "ConfigError",
    "DriftMethod",
    "DriftSettings",
    "GpuSettings",
    "Limits",
    "ModelSettings",
    "SLOSettings",
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
        default=500_000,
        ge=1000,
        description="rows queued for the detectors before ingest answers 429; a request with more rows than "
        "this answers 413 larger_than_queue (it could never fit)",
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
    group_by: list[LabelName] = Field(default_factory=lambda: ["model", "kind"])
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

    @model_validator(mode="after")
    def _needs(self) -> ReceiverSettings:
        if self.type == "pagerduty" and not (self.routing_key_file or self.routing_key_env):
            raise ValueError(f"receiver {self.name!r}: pagerduty needs routing_key_file or routing_key_env")
        if self.type != "pagerduty" and not self.url:
            raise ValueError(f"receiver {self.name!r}: {self.type} needs a url")
        return self


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


class AuthSettings(_Strict):
    """Which reads need the bearer token of `auth_token_file` too (writes always do when it is set)."""

    protect_reads: bool = Field(
        default=False,
        description="every GET (API, UI, /openapi.json) needs the token, except /healthz, /readyz and /metrics",
    )
    protect_metrics: bool = Field(default=False, description="with protect_reads: /metrics needs the token too")


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
        description="current windows, tail offsets and label joins saved to SQLite (also after each evaluation); "
        "at least 1s",
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
    server: ServerSettings = Field(
        default=ServerSettings(), description="connection limits and timeouts of the HTTP port"
    )

    @model_validator(mode="after")
    def _protection_needs_a_token(self) -> Config:
        if (self.auth.protect_reads or self.auth.protect_metrics) and self.auth_token_file is None:
            raise ValueError("auth.protect_reads and auth.protect_metrics need auth_token_file: the token they ask for")
        if self.auth.protect_metrics and not self.auth.protect_reads:
            raise ValueError("auth.protect_metrics closes /metrics in addition to every other read: set protect_reads")
        return self

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
            loaded = yaml.load(path.read_text(encoding="utf-8"), Loader=_UniqueKeyLoader)
        except OSError as exc:
            raise ConfigError([f"{path}: {exc.strerror or exc}"]) from exc
        except UnicodeDecodeError as exc:
            byte, line = exc.object[exc.start], exc.object.count(b"\n", 0, exc.start) + 1
            raise ConfigError([f"{path}: not UTF-8 text (byte 0x{byte:02x} on line {line})"]) from exc
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
