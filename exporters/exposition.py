"""The /metrics body: prometheus_client's encoders, plus hand-rendered request histograms.

The latency histograms are the one family whose size grows with traffic (services ×
models × operations × statuses × buckets, with exemplars; at most
`limits.max_series_per_metric` label sets). prometheus_client's generic encoders spend ~10 µs
a sample validating and escaping; here a scrape copies the histogram's arrays (under its lock)
and formats numbers. Either way the body is built in a worker thread (`exporters.scrape`), so
the event loop stays free for ingest and /healthz however large the scrape.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from prometheus_client.exposition import choose_encoder
from prometheus_client.registry import Collector
from prometheus_client.utils import floatToGoString

from driftwarden.detectors.latency import HistogramSnapshot, LatencyHistogram

__all__ = ["HistogramFamily", "go_float", "render"]

OPENMETRICS = "application/openmetrics-text"


@dataclass(frozen=True)
class HistogramFamily:
    name: str
    documentation: str
    histogram: LatencyHistogram

    def render(self, openmetrics: bool) -> str:
        """The family as exposition text (any thread: it reads a snapshot of the histogram)."""
        snap = self.histogram.snapshot(exemplars=openmetrics)
        name = self.name
        les = [f'le="{go_float(b)}"' for b in snap.bounds] + ['le="+Inf"']
        exemplars = _exemplar_suffixes(snap) if openmetrics else {}
        out = [f"# HELP {name} {_escape_help(self.documentation)}\n", f"# TYPE {name} histogram\n"]
        for i, (key, cumulative, total) in enumerate(
            zip(snap.keys, snap.cumulative.tolist(), snap.sums.tolist(), strict=True)
        ):
            labels = _label_string(snap.label_names, key)
            bucket = f"{name}_bucket{{{labels}{',' if labels else ''}"
            marked = exemplars.get(i)
            if marked is None:
                out.extend(f"{bucket}{le}}} {count}\n" for le, count in zip(les, cumulative, strict=True))
            else:
                out.extend(
                    f"{bucket}{le}}} {count}{marked.get(b, '')}\n"
                    for b, (le, count) in enumerate(zip(les, cumulative, strict=True))
                )
            out.append(f"{name}_count{{{labels}}} {cumulative[-1]}\n")
            out.append(f"{name}_sum{{{labels}}} {go_float(total)}\n")
        return "".join(out)


def _exemplar_suffixes(snap: HistogramSnapshot) -> dict[int, dict[int, str]]:
    """series -> bucket -> ' # {trace_id="..."} value time', for the buckets that hold an exemplar."""
    if snap.exemplars is None:
        return {}
    trace, value, at = snap.exemplars
    out: dict[int, dict[int, str]] = {}
    for series, bucket in np.argwhere(~np.isnan(at)).tolist():
        out.setdefault(series, {})[bucket] = (
            f' # {{trace_id="{trace[series, bucket]}"}} {go_float(float(value[series, bucket]))} '
            f"{float(at[series, bucket]):.3f}"
        )
    return out


def go_float(value: float) -> str:
    """A number as Prometheus writes it (Go's format: `+Inf`, `1e+06`), by prometheus_client's own function."""
    text: str = floatToGoString(value)  # type: ignore[no-untyped-call]  # prometheus_client 0.26 leaves it unannotated
    return text


def render(registry: Collector, histograms: Sequence[HistogramFamily], accept: str) -> tuple[bytes, str]:
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
