"""The /metrics body: prometheus_client's encoders, plus hand-rendered request histograms.

The latency histograms are the one family whose size grows with traffic (services ×
models × operations × statuses × buckets, with exemplars). prometheus_client's generic
encoders spend ~10 µs a sample validating and escaping; here each series' label string
is escaped once when the series is created and a scrape only formats numbers, which
keeps a 500-series scrape in a few milliseconds and the event loop free for ingest.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from prometheus_client import CollectorRegistry
from prometheus_client.exposition import choose_encoder
from prometheus_client.utils import floatToGoString

from driftwarden.detectors.latency import LatencyHistogram

__all__ = ["HistogramFamily", "go_float", "render"]

OPENMETRICS = "application/openmetrics-text"


@dataclass(frozen=True)
class HistogramFamily:
    name: str
    documentation: str
    histogram: LatencyHistogram

    def render(self, openmetrics: bool) -> str:
        h = self.histogram
        name = self.name
        les = [f'le="{go_float(b)}"' for b in h.bounds] + ['le="+Inf"']
        out = [f"# HELP {name} {_escape_help(self.documentation)}\n", f"# TYPE {name} histogram\n"]
        for series in h.series():
            labels = _label_string(h.label_names, series.labels)
            sep = "," if labels else ""
            for i, (le, count) in enumerate(zip(les, series.cumulative, strict=True)):
                line = f"{name}_bucket{{{labels}{sep}{le}}} {count}"
                exemplar = series.exemplars.get(i) if openmetrics else None
                if exemplar is not None:
                    trace_id, value, at = exemplar
                    line += f' # {{trace_id="{trace_id}"}} {go_float(value)} {at:.3f}'
                out.append(line + "\n")
            out.append(f"{name}_count{{{labels}}} {series.cumulative[-1]}\n")
            out.append(f"{name}_sum{{{labels}}} {go_float(series.sum)}\n")
        return "".join(out)


def go_float(value: float) -> str:
    """A number as Prometheus writes it (Go's format: `+Inf`, `1e+06`), by prometheus_client's own function."""
    text: str = floatToGoString(value)  # type: ignore[no-untyped-call]  # prometheus_client 0.26 leaves it unannotated
    return text


def render(registry: CollectorRegistry, histograms: Sequence[HistogramFamily], accept: str) -> tuple[bytes, str]:
    """(body, content type) for an Accept header: OpenMetrics when asked, else text 0.0.4."""
    encoder, content_type = choose_encoder(accept)
    openmetrics = content_type.startswith(OPENMETRICS)
    body = encoder(registry)
    if openmetrics:
        body = body.removesuffix(b"# EOF\n")
    extra = "".join(h.render(openmetrics) for h in histograms).encode()
    return body + extra + (b"# EOF\n" if openmetrics else b""), content_type


def _label_string(names: Sequence[str], values: Sequence[str]) -> str:
    return ",".join(f'{n}="{_escape_value(v)}"' for n, v in zip(names, values, strict=True))


def _escape_value(value: str) -> str:
    return value.replace("\\", r"\\").replace("\n", r"\n").replace('"', r"\"")


def _escape_help(text: str) -> str:
    return text.replace("\\", r"\\").replace("\n", r"\n")
