"""The OpenTelemetry semantic conventions driftwarden reads: attribute names, their deprecated
aliases, and the histogram metrics that carry request latency, time to first token, time per output
token and token usage.

Instrumentations move between convention versions behind `OTEL_SEMCONV_STABILITY_OPT_IN`
(`http`, `http/dup`, `gen_ai_latest_experimental`): with `http/dup` they send the old and the new
HTTP names side by side, without it either one. A receiver honours that by reading both, the new
name first, and by counting a duplicated metric once: `http.server.duration` (milliseconds, before
HTTP conventions 1.23) only where a service does not also send `http.server.request.duration`
(seconds). The GenAI conventions renamed `gen_ai.system` to `gen_ai.provider.name`, the token type
`completion` to `output` and the usage attributes `prompt_tokens`/`completion_tokens` to
`input_tokens`/`output_tokens`; the old names are read where the new ones are absent.
"""

from __future__ import annotations

from enum import IntEnum
from typing import NamedTuple

__all__ = [
    "ALIASES",
    "ERROR_TYPE",
    "GEN_AI_OPERATION",
    "HTTP_METHOD",
    "HTTP_STATUS",
    "INPUT_TOKENS",
    "OUTPUT_TOKENS",
    "REQUEST_METRICS",
    "TOKEN_TYPE",
    "TOKEN_TYPES",
    "TTFT_ATTRIBUTES",
    "UNIT_SECONDS",
    "MetricKind",
    "RequestMetric",
    "with_aliases",
]

HTTP_STATUS = "http.response.status_code"
HTTP_METHOD = "http.request.method"
ERROR_TYPE = "error.type"
GEN_AI_OPERATION = "gen_ai.operation.name"
INPUT_TOKENS = "gen_ai.usage.input_tokens"
OUTPUT_TOKENS = "gen_ai.usage.output_tokens"
TOKEN_TYPE = "gen_ai.token.type"
# span attributes holding time to first token/chunk (seconds), after the configured one
TTFT_ATTRIBUTES = ("gen_ai.response.time_to_first_chunk",)

ALIASES: dict[str, tuple[str, ...]] = {  # current name -> deprecated names still read
    "gen_ai.provider.name": ("gen_ai.system",),
    INPUT_TOKENS: ("gen_ai.usage.prompt_tokens",),
    OUTPUT_TOKENS: ("gen_ai.usage.completion_tokens",),
    HTTP_STATUS: ("http.status_code",),
    HTTP_METHOD: ("http.method",),
    "url.path": ("http.target",),
    "url.scheme": ("http.scheme",),
    "server.address": ("net.host.name",),
    "server.port": ("net.host.port",),
    "network.protocol.version": ("http.flavor",),
}


def with_aliases(name: str) -> tuple[str, ...]:
    """`name`, then the deprecated names it replaced: the order to look an attribute up in."""
    return (name, *ALIASES.get(name, ()))


class MetricKind(IntEnum):
    """What a recognised histogram measures: the series it feeds."""

    DURATION = 0  # request latency: durations, quantiles, SLOs
    TTFT = 1  # time to first token
    TPOT = 2  # time per output token
    TOKENS = 3  # token usage, split by gen_ai.token.type


class RequestMetric(NamedTuple):
    kind: MetricKind
    rank: int  # within a kind, per service: the lowest rank a service sends is counted, the others ignored
    unit: str  # the unit the conventions give, used when a point's metric has none


# Ranks: a service sending two metrics of a kind measures the same requests twice (a GenAI server's
# HTTP metric and its GenAI metric; http/dup's old and new HTTP metric; a gateway's server metric and
# its client metric of the model call it makes), so only the best ranked one counts. Server-side
# before client-side, as spans count SERVER spans before CLIENT ones.
REQUEST_METRICS: dict[str, RequestMetric] = {
    "gen_ai.server.request.duration": RequestMetric(MetricKind.DURATION, 0, "s"),
    "http.server.request.duration": RequestMetric(MetricKind.DURATION, 1, "s"),
    "http.server.duration": RequestMetric(MetricKind.DURATION, 2, "ms"),
    "gen_ai.client.operation.duration": RequestMetric(MetricKind.DURATION, 3, "s"),
    "gen_ai.server.time_to_first_token": RequestMetric(MetricKind.TTFT, 0, "s"),
    "gen_ai.client.operation.time_to_first_chunk": RequestMetric(MetricKind.TTFT, 1, "s"),
    "gen_ai.server.time_per_output_token": RequestMetric(MetricKind.TPOT, 0, "s"),
    "gen_ai.client.token.usage": RequestMetric(MetricKind.TOKENS, 0, "{token}"),
}

TOKEN_TYPES = {"input": "input", "output": "output", "prompt": "input", "completion": "output"}

UNIT_SECONDS = {"s": 1.0, "ms": 1e-3, "us": 1e-6, "µs": 1e-6, "ns": 1e-9, "min": 60.0, "h": 3600.0}
