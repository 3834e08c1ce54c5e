"""The /metrics body: prometheus_client's encoders, plus hand-rendered request histograms.

The latency histograms are the one family whose size grows with traffic (services ×
models × operations × statuses × buckets, with exemplars; at most
`limits.max_series_per_metric` label sets). prometheus_client's generic encoders spend ~10 µs
a sample validating and escaping; here a scrape copies the histogram's arrays (under its lock)
and formats numbers. Either way the body is built in a worker thread (`exporters.scrape`), in
chunks, so the event loop stays free for ingest and /healthz however large the scrape.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from prometheus_client.core import Metric
from prometheus_client.exposition import choose_encoder
from prometheus_client.registry import Collector
from prometheus_client.utils import floatToGoString

from driftwarden.detectors.latency import HistogramSnapshot, LatencyHistogram

__all__ = ["HistogramFamily", "TextFamily", "go_float", "label_text", "render", "short_float"]

OPENMETRICS = "application/openmetrics-text"
BLOCK = 256  # histogram series per chunk: ~0.5 MB of text, a millisecond or so to join and encode


@dataclass(frozen=True)
class HistogramFamily:
    name: str
    documentation: str
    histogram: LatencyHistogram

    def chunks(self, openmetrics: bool) -> Iterator[bytes]:
        """The family as exposition text, `BLOCK` series a chunk (any thread: it reads a snapshot)."""
        snap = self.histogram.snapshot(exemplars=openmetrics)
        yield f"# HELP {self.name} {_escape_help(self.documentation)}\n# TYPE {self.name} histogram\n".encode()
        les = [f'le="{go_float(b)}"' for b in snap.bounds] + ['le="+Inf"']
        for start in range(0, len(snap.keys), BLOCK):
            yield self._block(snap, les, start, min(start + BLOCK, len(snap.keys))).encode()
            time.sleep(0)  # hands the GIL to the event loop if it waits, instead of after the 5 ms switch interval

    def _block(self, snap: HistogramSnapshot, les: list[str], start: int, stop: int) -> str:
        name = self.name
        exemplars = _exemplar_suffixes(snap, start, stop)
        out: list[str] = []
        counts, sums = snap.cumulative[start:stop].tolist(), snap.sums[start:stop].tolist()
        for i, (key, cumulative, total) in enumerate(zip(snap.keys[start:stop], counts, sums, strict=True)):
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


def _exemplar_suffixes(snap: HistogramSnapshot, start: int, stop: int) -> dict[int, dict[int, str]]:
    """series (from `start`) -> bucket -> ' # {trace_id="..."} value time', where a bucket holds an exemplar."""
    if snap.exemplars is None:
        return {}
    trace, value, at = (a[start:stop] for a in snap.exemplars)
    out: dict[int, dict[int, str]] = {}
    for series, bucket in np.argwhere(~np.isnan(at)).tolist():
        out.setdefault(series, {})[bucket] = (
            f' # {{trace_id="{trace[series, bucket]}"}} {go_float(float(value[series, bucket]))} '
            f"{float(at[series, bucket]):.3f}"
        )
    return out


class TextFamily(Metric):
    """A family that writes its own sample lines: for families whose many samples share a few label
    sets (the DCGM fields: some 30 families over the same GPUs), whose label sets are escaped once
    (`label_text`) instead of per sample as prometheus_client's encoders do. Its samples are kept
    too, so `generate_latest` and the parsers read it as any family.

    `counter=True`: a counter whose samples carry the family's own name, as dcgm-exporter writes
    its counters (`DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION`, no `_total`): typed `counter` in the text
    format 0.0.4, as dcgm-exporter types them, and `unknown` in OpenMetrics, whose counter samples
    must end in `_total`. rate() and increase() work on either.
    """

    def __init__(self, name: str, documentation: str, *, counter: bool = False) -> None:
        super().__init__(name, documentation, "unknown" if counter else "gauge")
        self.counter = counter
        self._lines: list[str] = []

    def add_text(self, lines: str) -> None:
        """Sample lines rendered already (`name{labels} value\n` each, e.g. cached between scrapes);
        they are written as given and not kept as samples."""
        self._lines.append(lines)

    def add(self, labels: Mapping[str, str], label_text: str, value: float) -> None:
        """A sample; `label_text` is `label_text(labels)`, computed once per label set by the caller."""
        self.add_sample(self.name, dict(labels), value)
        self._lines.append(f"{self.name}{label_text} {go_float(value)}\n")

    def text(self, openmetrics: bool) -> bytes:
        kind = "counter" if self.counter and not openmetrics else self.type
        help_text = _escape_help(self.documentation)
        if openmetrics:
            help_text = help_text.replace('"', r"\"")
        return f"# HELP {self.name} {help_text}\n# TYPE {self.name} {kind}\n{''.join(self._lines)}".encode()


def label_text(labels: Mapping[str, str]) -> str:
    """`{name="value",...}`, values escaped as both exposition formats want ("" for no labels)."""
    return f"{{{_label_string(list(labels), list(labels.values()))}}}" if labels else ""


def go_float(value: float) -> str:
    """A number as Prometheus writes it (Go's format: `+Inf`, `1e+06`), by prometheus_client's own function."""
    text: str = floatToGoString(value)  # type: ignore[no-untyped-call]  # prometheus_client 0.26 leaves it unannotated
    return text


def short_float(value: float | int) -> str:
    """A per-feature sample's value at 6 significant digits, a whole number without its `.0` (Prometheus
    parses any float text): scores and ratios need no more, and 100 models x 20 features of lines are a
    tenth shorter."""
    if isinstance(value, int):
        return str(value)
    if math.isfinite(value):
        if value.is_integer() and abs(value) < 1e15:
            return str(int(value))
        return f"{value:.6g}"
    return go_float(value)


def render(metrics: Collector, histograms: Sequence[HistogramFamily], accept: str) -> tuple[list[bytes], str]:
    """(body in chunks, content type) for an Accept header: OpenMetrics when asked, else text 0.0.4.

    Encoded a family (a histogram: `BLOCK` series) at a time and never joined: one C call over
    the whole body (join, encode, concatenation) would hold the GIL, and so the event loop, for
    tens of milliseconds."""
    encoder, content_type = choose_encoder(accept)
    openmetrics = content_type.startswith(OPENMETRICS)
    chunks = []
    for family in metrics.collect():
        if isinstance(family, TextFamily):
            chunks.append(family.text(openmetrics))
            continue
        text = encoder(_Single(family))
        chunks.append(text.removesuffix(b"# EOF\n") if openmetrics else text)
    for histogram in histograms:
        chunks.extend(histogram.chunks(openmetrics))
    if openmetrics:
        chunks.append(b"# EOF\n")
    return chunks, content_type


class _Single(Collector):
    def __init__(self, family: Metric) -> None:
        self._family = family

    def describe(self) -> list[Metric]:
        return []

    def collect(self) -> Iterator[Metric]:
        yield self._family


def _label_string(names: Sequence[str], values: Sequence[str]) -> str:
    return ",".join(f'{n}="{_escape_value(v)}"' for n, v in zip(names, values, strict=True))


def _escape_value(value: str) -> str:
    return value.replace("\\", r"\\").replace("\n", r"\n").replace('"', r"\"")


def _escape_help(text: str) -> str:
    return text.replace("\\", r"\\").replace("\n", r"\n")
