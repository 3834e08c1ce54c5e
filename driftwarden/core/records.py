"""Prediction records as the rest of driftwarden sees them: per-model columnar batches, the
parse result of a request (accepted rows and per-record errors), and the names records share.
"""

from __future__ import annotations

import dataclasses
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np

from driftwarden.core.arrays import BoolArray, ByteArray, Float32Array, FloatArray, ObjectArray
from driftwarden.core.text_columns import TextColumn, encode_text

__all__ = [
    "MAX_MAGNITUDE",
    "MAX_REPORTED_ERRORS",
    "MODEL_NAME",
    "PREDICTION",
    "RECORD_LABELS",
    "TRACE_BYTES",
    "ParseResult",
    "RecordBatch",
    "RecordError",
    "number_label",
    "pack_traces",
    "representable",
    "trace_hex",
]

MODEL_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,62}$")  # model, SLO and stream names
PREDICTION = "prediction"  # the record's "prediction" becomes a column of this name, reported apart
RECORD_LABELS = "labels."  # a segment column `labels.app_version` is the records' label app_version
MAX_REPORTED_ERRORS = 100  # per-record errors listed in one answer; the rest are counted
# |value| beyond which the statistics overflow a float64: standard deviations, Wasserstein and
# mean squared errors square their values. References, pins, records and labels are held to it.
MAX_MAGNITUDE = 1e150
TRACE_BYTES = 24  # a row's W3C trace id (16 bytes) then span id (8), packed; all zeros where absent
_TRACE_ID = re.compile(r"[0-9a-fA-F]{32}")
_SPAN_ID = re.compile(r"[0-9a-fA-F]{16}")
_NO_TRACE = "0" * 48


@dataclass(frozen=True)
class RecordError:
    index: int  # 0-based position of the record (NDJSON: of the non-blank line)
    reason: str  # a short code, also the label of the rejected-records counter
    message: str
    pointer: str = ""  # RFC 6901 JSON pointer into the record ("/features/amount"); "" for the whole record

    def to_dict(self) -> dict[str, Any]:
        return {"index": self.index, "pointer": self.pointer, "reason": self.reason, "message": self.message}


@dataclass(frozen=True)
class RecordBatch:
    model: str
    features: tuple[str, ...]  # numeric columns
    values: FloatArray  # (rows, features) float64, NaN missing
    model_version: str | None = None  # the last one the records named
    categorical: tuple[str, ...] = ()  # string and boolean columns
    categorical_values: ObjectArray | None = None  # (rows, categorical) object: str, or None when missing
    request_ids: ObjectArray | None = None  # (rows,) object: str or None; None when no record had one
    labels: ObjectArray | None = None  # (rows,) object: the ground truth sent with the record, or None
    traces: ByteArray | None = None  # (rows, TRACE_BYTES) uint8, `pack_traces`; None when no record had a trace id
    # (rows,) object: the record's labels ({"app_version": "1.4"}: segment columns `labels.<name>`), or None;
    # None when no record had labels
    record_labels: ObjectArray | None = None
    # name -> (rows, dim) float32 vectors, NaN rows where a record sent no such embedding; None: none had any
    embeddings: dict[str, Float32Array] | None = None
    # `categorical_values` dictionary-encoded, one per categorical column, when the parser encoded them
    # as it built them; else `text_columns` encodes them on first use
    text: tuple[TextColumn, ...] | None = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.text is not None and len(self.text) != len(self.categorical):
            raise ValueError(f"{len(self.text)} encoded text columns for {len(self.categorical)} categorical ones")

    @property
    def rows(self) -> int:
        return len(self.values)

    @cached_property
    def text_columns(self) -> tuple[TextColumn, ...]:
        """Each categorical column dictionary-encoded (`core.text_columns`)."""
        if self.text is not None:
            return self.text
        if self.categorical_values is None:
            return ()
        return tuple(encode_text(self.categorical_values[:, k].tolist()) for k in range(len(self.categorical)))

    def subset(self, mask: BoolArray) -> RecordBatch:
        """The rows where `mask` is true."""

        def rows(a: ObjectArray | None) -> ObjectArray | None:
            return None if a is None else a[mask]

        return dataclasses.replace(
            self,
            values=self.values[mask],
            categorical_values=rows(self.categorical_values),
            request_ids=rows(self.request_ids),
            labels=rows(self.labels),
            traces=None if self.traces is None else self.traces[mask],
            record_labels=rows(self.record_labels),
            embeddings=None if self.embeddings is None else {n: v[mask] for n, v in self.embeddings.items()},
            text=None if self.text is None else tuple(column.take(mask) for column in self.text),
        )


def representable(batch: RecordBatch) -> BoolArray:
    """Rows whose numbers (features, prediction, a numeric label) are within ±MAX_MAGNITUDE."""
    values = batch.values
    # the common case first, without a temporary the size of the batch: the largest and smallest values
    # (NaN ignored) within the bound say every row is
    within = values.size == 0 or (
        not np.fmax.reduce(values, axis=None) > MAX_MAGNITUDE and not np.fmin.reduce(values, axis=None) < -MAX_MAGNITUDE
    )
    if within:
        ok: BoolArray = np.ones(len(values), dtype=bool)
    else:
        with np.errstate(invalid="ignore"):
            ok = np.logical_not((np.abs(values) > MAX_MAGNITUDE).any(axis=1))
    if batch.labels is not None:
        ok &= np.array([not _huge(label) for label in batch.labels], dtype=bool)
    return ok


def _huge(label: object) -> bool:
    return isinstance(label, (int, float)) and not isinstance(label, bool) and abs(label) > MAX_MAGNITUDE


@dataclass
class ParseResult:
    batches: list[RecordBatch] = field(default_factory=list)
    accepted: int = 0
    errors: list[RecordError] = field(default_factory=list)  # the first MAX_REPORTED_ERRORS
    rejected_by_reason: Counter[str] = field(default_factory=Counter)
    dropped_rows: Counter[str] = field(default_factory=Counter)  # rows dropped before parsing (a KServe join's)

    @property
    def rejected(self) -> int:
        return sum(self.rejected_by_reason.values())

    def reject(self, index: int, reason: str, message: str, pointer: str = "") -> None:
        self.rejected_by_reason[reason] += 1
        if len(self.errors) < MAX_REPORTED_ERRORS:
            self.errors.append(RecordError(index, reason, message, pointer))

    def to_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "accepted": self.accepted,
            "rejected": self.rejected,
            "errors": [e.to_dict() for e in self.errors],
        }
        if self.rejected > len(self.errors):
            body["errors_truncated"] = True
        return body


def number_label(x: float) -> str:
    """A number as a category: integral values without the ".0", so 3 and 3.0 are one category "3"."""
    return str(int(x)) if float(x).is_integer() else repr(float(x))


def pack_traces(trace_ids: Sequence[Any], span_ids: Sequence[Any]) -> ByteArray | None:
    """(rows, TRACE_BYTES) trace and span ids from their hex forms; None when no row has a trace id.

    A trace id is 32 hex digits, a span id 16 (W3C Trace Context); anything else counts as absent,
    and so does a span id without its trace id.

    >>> packed = pack_traces(["4bf92f3577b34da6a3ce929d0e0e4736", "nope"], ["00f067aa0ba902b7", None])
    >>> packed.shape, trace_hex(packed[0]), trace_hex(packed[1])
    ((2, 24), ('4bf92f3577b34da6a3ce929d0e0e4736', '00f067aa0ba902b7'), None)
    """
    hexes = [
        (t + (s if type(s) is str and _SPAN_ID.fullmatch(s) else "0" * 16))
        if type(t) is str and _TRACE_ID.fullmatch(t)
        else _NO_TRACE
        for t, s in zip(trace_ids, span_ids, strict=True)
    ]
    packed = np.frombuffer(bytes.fromhex("".join(hexes)), dtype=np.uint8).reshape(len(hexes), TRACE_BYTES)
    if not packed[:, :16].any():
        return None
    return packed.copy()  # writable, and not a view of the joined bytes


def trace_hex(row: ByteArray) -> tuple[str, str | None] | None:
    """(trace id, span id or None) of one packed row, lowercase hex; None when it has no trace id."""
    raw = row.tobytes()
    if not any(raw[:16]):
        return None
    return raw[:16].hex(), raw[16:].hex() if any(raw[16:]) else None
