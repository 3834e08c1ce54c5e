"""Inference bodies of payload-logger events → rows: a request's feature rows or a response's predictions.

`decode_event` turns one `LoggerEvent` into a `Half` (the model, the id both halves share, and
one row per item of the inference batch); `collector.kserve_join.EventJoiner` pairs the halves.
Bodies:

- KServe V1: `{"instances": [[6.8, 2.8], ...]}` (or `"inputs"`) → features `f0`, `f1`, ...
  (or the names configured for the model); dict instances keep their keys; response
  `{"predictions": [...]}`.
- Open Inference Protocol V2: `{"inputs": [{"name", "shape", "datatype", "data"}]}` → an input of
  shape `[N]` or `[N, 1]` is one feature named after it, `[N, k]` gives `name_0` ... `name_{k-1}`;
  BYTES data are categorical strings; response `{"model_name", "model_version", "outputs"}`.
  A tensor configured as an embedding (`embedding_tensors`) is not a feature nor the prediction:
  row i's slice of it is record i's vector (`Half.embeddings`).
- Seldon messages: `{"data": {"names": [...], "ndarray": [[...]]}}` or `"tensor": {shape, values}`.

A body that is none of these raises InputError; one over the limits BodyTooLarge or InputError
(`too_many_features`). Limits and shapes are checked before any row is built: the row count of
a list or of a tensor's shape (`max_records`), a tensor's width (`max_features`), and that its
data holds exactly the values its shape needs, so a tiny body cannot stand for millions of rows.

>>> from driftwarden.collector.kserve_events import LoggerEvent
>>> event = LoggerEvent("org.kubeflow.serving.inference.request", "1", {"inferenceservicename": "fraud"},
...                     {"instances": [[6.8, 2.8]]})
>>> half = decode_event(event)
>>> half.kind, half.model, half.rows
('request', 'fraud', [{'f0': 6.8, 'f1': 2.8}])
"""

from __future__ import annotations

import math
import reprlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, TypeGuard

from driftwarden.collector.embeddings import MAX_DIM
from driftwarden.collector.kserve_events import IGNORED_TYPES, REQUEST_TYPES, RESPONSE_TYPES, LoggerEvent
from driftwarden.core.errors import BodyTooLarge, InputError

__all__ = ["Half", "decode_event", "kind_of"]

_REPR = reprlib.Repr()  # for values quoted in messages: bounded, and safe however deep the JSON nests
_REPR.maxstring = _REPR.maxother = 80
_show = _REPR.repr


@dataclass(frozen=True)
class Half:
    """A decoded event: a request's feature rows or a response's predictions, waiting for its pair."""

    kind: Literal["request", "response"]
    key: tuple[str, ...]  # what both halves share: model, component, endpoint, node, id
    model: str
    request_id: str
    rows: list[Any]  # request: one features object per row; response: one prediction per row
    model_version: str | None = None
    embeddings: list[dict[str, list[Any]]] | None = None  # per row: the V2 tensors configured as embeddings


def kind_of(event: LoggerEvent) -> Literal["request", "response"] | None:
    """The half an event is: None for a type that carries no predictions; raises InputError for an unknown one."""
    if event.type in IGNORED_TYPES:
        return None
    if event.type in REQUEST_TYPES:
        return "request"
    if event.type in RESPONSE_TYPES:
        return "response"
    known = ", ".join(sorted(REQUEST_TYPES | RESPONSE_TYPES))
    raise InputError(f"unknown ce-type {event.type!r:.100}; expected one of {known}", code="unknown_event_type")


def decode_event(
    event: LoggerEvent,
    *,
    model: str | None = None,
    feature_names: Mapping[str, Sequence[str]] | None = None,
    embedding_tensors: Mapping[str, Mapping[str, str]] | None = None,
    max_records: int = 100_000,
    max_features: int = 1000,
) -> Half | None:
    """An event → its half (None for an event type that carries no predictions); raises InputError.

    The model is `ce-inferenceservicename`, else Seldon's `ce-modelid`, else `model` (the path).
    More than `max_records` rows raise BodyTooLarge before any row is built. `embedding_tensors`
    (model -> V2 tensor name -> embedding name) takes those inputs or outputs out of the features or
    predictions: each row's slice of them is its vector (validated as any record's `embeddings`).
    """
    kind = kind_of(event)
    if kind is None:
        return None
    name = event.extension("inferenceservicename") or event.extension("modelid") or model
    if name is None:
        raise InputError(
            "no model name: the event has no ce-inferenceservicename (or Seldon's ce-modelid); "
            "point the logger at /v1/kserve/{model}",
            code="no_model",
        )
    request_id = event.extension("requestid") or event.id  # Seldon: a fresh ce-id per half, the shared one here
    key = (
        name,
        event.extension("namespace") or "",
        event.extension("component") or "",
        event.extension("endpoint") or "",
        event.extension("modelid") or "",
        request_id,
    )
    payload = event.data
    if not isinstance(payload, dict):
        raise InputError(f"the {kind} body is a {type(payload).__name__}, expected a JSON object", code="bad_body")
    names = (feature_names or {}).get(name)
    bounds = _Bounds(kind, max_records, max_features)
    tensors = (embedding_tensors or {}).get(name) or {}
    field = "inputs" if kind == "request" else "outputs"
    vectors = _v2_embeddings(payload, field, tensors, bounds) if tensors and _is_v2(payload.get(field)) else None
    if vectors is not None:
        payload = {**payload, field: [t for t in payload[field] if t["name"] not in tensors]}
    if kind == "request":
        rows = _request_rows(payload, names, bounds) if vectors is None or payload["inputs"] else []
        version = None
    else:
        rows = _response_rows(payload, bounds) if vectors is None or payload["outputs"] else []
        version = payload.get("model_version")
        version = version if isinstance(version, str) and 0 < len(version) <= 64 else None
    if vectors is not None:
        batch = len(vectors[0][1]) if vectors else 0
        if rows and len(rows) != batch:
            raise InputError(
                f"the {kind}'s tensors have {len(rows)} rows, its embedding tensors {batch}", code="bad_body"
            )
        rows = rows or [({} if kind == "request" else None)] * batch
        per_row = [{embedding: values[i] for embedding, values in vectors} for i in range(batch)]
        return Half(kind, key, name, request_id, rows, version, per_row)
    return Half(kind, key, name, request_id, rows, version)


@dataclass(frozen=True)
class _Bounds:
    """What one half may hold; checked against lengths and shapes before rows are built."""

    kind: Literal["request", "response"]
    max_records: int
    max_features: int

    def check_rows(self, rows: int) -> None:
        if rows > self.max_records:
            raise BodyTooLarge(
                f"{rows} rows in one {self.kind}; at most {self.max_records} fit "
                "(limits.max_records_per_request, shared by the events of one POST)",
                code="too_many_records",
            )

    def check_width(self, rows: list[Any]) -> None:
        """Refuse rows (lists or objects) wider than max_features before they become feature rows."""
        widest = max((len(r) for r in rows if isinstance(r, (list, dict))), default=0)
        if widest > self.max_features:
            raise InputError(_too_wide(widest, self.max_features), code="too_many_features")


def _request_rows(payload: dict[str, Any], names: Sequence[str] | None, bounds: _Bounds) -> list[Any]:
    inputs = payload.get("inputs")
    if _is_v2(inputs):
        return _v2_rows(inputs, names, bounds)
    instances = payload.get("instances", inputs)
    if isinstance(instances, list):
        bounds.check_rows(len(instances))
        bounds.check_width(instances)
        return [_row(instance, names) for instance in instances]
    if isinstance(payload.get("data"), dict):
        return _seldon_rows(payload["data"], names, bounds)
    raise InputError(
        "the request is neither KServe V1 ('instances'), Open Inference Protocol V2 ('inputs' with name, "
        "shape, datatype, data) nor a Seldon message ('data' with 'ndarray' or 'tensor')",
        code="bad_body",
    )


def _response_rows(payload: dict[str, Any], bounds: _Bounds) -> list[Any]:
    outputs = payload.get("outputs")
    if _is_v2(outputs):
        return _v2_predictions(outputs, bounds)
    predictions = payload.get("predictions", outputs)
    if isinstance(predictions, list):
        bounds.check_rows(len(predictions))
        return predictions
    if isinstance(payload.get("data"), dict):
        names = payload["data"].get("names")
        return [_prediction(row, names) for row in _seldon_table(payload["data"], bounds)]
    raise InputError(
        "the response is neither KServe V1 ('predictions'), Open Inference Protocol V2 ('outputs') "
        "nor a Seldon message ('data')",
        code="bad_body",
    )


def _row(instance: Any, names: Sequence[str] | None) -> Any:
    if isinstance(instance, dict) or instance is None:
        return instance  # a dict keeps its keys; null is rejected as bad_features by parse_records
    return _positional(instance if isinstance(instance, list) else [instance], names, "f")


def _positional(values: list[Any], names: Sequence[str] | None, prefix: str) -> dict[str, Any]:
    return dict(zip(_names(len(values), names, prefix), values, strict=True))


def _names(width: int, names: Sequence[str] | None, prefix: str) -> list[str]:
    """The configured names first, then `{prefix}{j}` for the columns they do not cover."""
    named = list(names or ())[:width]
    return [*named, *(f"{prefix}{j}" for j in range(len(named), width))]


def _is_v2(tensors: Any) -> TypeGuard[list[dict[str, Any]]]:
    return (
        isinstance(tensors, list)
        and bool(tensors)
        and all(isinstance(t, dict) and "name" in t and "shape" in t and "data" in t for t in tensors)
    )


def _tensor(
    spec: dict[str, Any], what: str, bounds: _Bounds, max_width: int | None = None
) -> tuple[list[Any], int, int]:
    """A V2 tensor → (row-major values, rows, values per row); the shape is checked before the data is read."""
    shape, data = spec.get("shape"), spec.get("data")
    if not isinstance(shape, list) or not all(type(d) is int and d >= 0 for d in shape):
        raise InputError(f"{what}: shape must be a list of non-negative integers, got {_show(shape)}", code="bad_shape")
    rows = shape[0] if shape else 1
    width = math.prod(shape[1:])
    if rows and not width:
        raise InputError(
            f"{what}: shape {_show(shape)} has {rows} rows of no values: a zero dimension after the batch one",
            code="bad_shape",
        )
    bounds.check_rows(rows)
    if max_width is not None and width > max_width:
        raise InputError(_too_wide(width, max_width), code="too_many_features")
    if not isinstance(data, list):
        data = [data]
    flat = _flatten(data)
    if rows * width != len(flat):
        raise InputError(
            f"{what}: shape {_show(shape)} needs {rows * width} values, data has {len(flat)}", code="bad_shape"
        )
    return flat, rows, width


def _flatten(data: list[Any]) -> list[Any]:
    if not any(isinstance(v, list) for v in data):
        return data
    out: list[Any] = []
    stack = [iter(data)]  # not recursive: JSON may nest deeper than Python's stack
    while stack:
        for v in stack[-1]:
            if isinstance(v, list):
                stack.append(iter(v))
                break
            out.append(v)
        else:
            stack.pop()
    return out


def _v2_rows(inputs: list[dict[str, Any]], names: Sequence[str] | None, bounds: _Bounds) -> list[dict[str, Any]]:
    columns: list[tuple[list[str], list[Any], int]] = []
    batch: int | None = None
    for spec in inputs:
        name = spec["name"]
        if not isinstance(name, str) or not name:
            raise InputError(f"an input's name must be a non-empty string, got {_show(name)}", code="bad_body")
        flat, rows, width = _tensor(spec, f"input {name!r:.80}", bounds, max_width=bounds.max_features)
        if batch is None:
            batch = rows
        elif rows != batch:
            raise InputError(f"input {name!r} has {rows} rows, the first input {batch}", code="bad_body")
        if len(inputs) == 1 and names:  # configured names name the lone input's columns
            feature_names = _names(width, names, f"{name}_")
        else:
            feature_names = [name] if width == 1 else [f"{name}_{j}" for j in range(width)]
        columns.append((feature_names, flat, width))
    total = sum(width for _, _, width in columns)
    if total > bounds.max_features:
        raise InputError(_too_wide(total, bounds.max_features), code="too_many_features")
    out = []
    for i in range(batch or 0):
        features: dict[str, Any] = {}
        for feature_names, flat, width in columns:
            if width == 1:
                features[feature_names[0]] = flat[i]
            else:
                features.update(zip(feature_names, flat[i * width : (i + 1) * width], strict=True))
        out.append(features)
    return out


def _v2_embeddings(
    payload: dict[str, Any], field: str, tensors: Mapping[str, str], bounds: _Bounds
) -> list[tuple[str, list[list[Any]]]] | None:
    """(embedding, one vector per row) for each configured tensor the V2 body has; None when it has none."""
    out: list[tuple[str, list[list[Any]]]] = []
    batch: int | None = None
    for spec in payload[field]:
        embedding = tensors.get(spec["name"]) if isinstance(spec["name"], str) else None
        if embedding is None:
            continue
        flat, rows, width = _tensor(spec, f"tensor {spec['name']!r:.80} (embedding {embedding!r})", bounds, MAX_DIM)
        if batch is not None and rows != batch:
            raise InputError(f"embedding tensor {spec['name']!r} has {rows} rows, another {batch}", code="bad_body")
        batch = rows
        out.append((embedding, [flat[i * width : (i + 1) * width] for i in range(rows)]))
    return out or None


def _v2_predictions(outputs: list[dict[str, Any]], bounds: _Bounds) -> list[Any]:
    """Row i's prediction: the output's value (a list when it is wider than 1), or {name: value} for several."""
    columns = []
    for spec in outputs:
        name = spec["name"] if isinstance(spec["name"], str) else _show(spec["name"])
        flat, rows, width = _tensor(spec, f"output {name!r:.80}", bounds)
        values = flat if width == 1 else [flat[i * width : (i + 1) * width] for i in range(rows)]
        columns.append((name, values))
    if len(columns) == 1:
        return columns[0][1]
    batch = max(len(values) for _, values in columns)
    return [{name: values[i] if i < len(values) else None for name, values in columns} for i in range(batch)]


def _seldon_table(data: dict[str, Any], bounds: _Bounds) -> list[list[Any]]:
    if isinstance(data.get("ndarray"), list):
        bounds.check_rows(len(data["ndarray"]))
        return [row if isinstance(row, list) else [row] for row in data["ndarray"]]
    tensor = data.get("tensor")
    if isinstance(tensor, dict):
        flat, rows, width = _tensor({"shape": tensor.get("shape"), "data": tensor.get("values")}, "the tensor", bounds)
        return [flat[i * width : (i + 1) * width] for i in range(rows)]
    raise InputError(
        "a Seldon message's 'data' needs 'ndarray' or 'tensor' (strData, jsonData, binData: not read)", code="bad_body"
    )


def _seldon_rows(data: dict[str, Any], names: Sequence[str] | None, bounds: _Bounds) -> list[dict[str, Any]]:
    sent = data.get("names")
    if isinstance(sent, list) and sent and all(isinstance(n, str) and n for n in sent):
        names = sent
    table = _seldon_table(data, bounds)
    bounds.check_width(table)
    return [_positional(row, names, "f") for row in table]


def _prediction(row: list[Any], names: Any) -> Any:
    if len(row) == 1:
        return row[0]
    if isinstance(names, list) and len(names) == len(row) and all(isinstance(n, str) for n in names):
        return dict(zip(names, row, strict=True))
    return row


def _too_wide(width: int, limit: int) -> str:
    return (
        f"{width} values per row; at most {limit} features are tracked per model (limits.max_features): "
        "log tabular inputs, not images or embeddings"
    )
