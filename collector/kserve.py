"""KServe and Seldon payload-logger CloudEvents → prediction records.

KServe's agent logs every inference call as two CloudEvents, POSTed in binary mode: the body is
the request or the response exactly as the model server saw it, the context is in headers.

    ce-type: org.kubeflow.serving.inference.request   (then ...response, same ce-id)
    ce-id: 0009174a-24a8-4603-b098-09c8799950e9
    ce-source, ce-specversion: 1.0
    ce-inferenceservicename: fraud                    the model name
    ce-namespace, ce-component (predictor, transformer), ce-endpoint (default, canary)

Seldon Core's executor sends the same shape with `ce-type` `io.seldon.serving.inference.request`
/ `...response`, a fresh `ce-id` per half and the shared id in `ce-requestid`; `ce-modelid`
names the graph node. Structured mode (`application/cloudevents+json`, `data` or `data_base64`)
and batches (`application/cloudevents-batch+json`) are read too; the `cloudevents` package
validates the context attributes, orjson reads the data.

The two halves are joined by id in an `EventJoiner`; each row of the request's batch becomes one
prediction record `{"model", "request_id", "features", "prediction"}`, validated by
`collector.predictions.parse_records` like any record posted to `/v1/predictions`. Bodies:

- KServe V1: `{"instances": [[6.8, 2.8], ...]}` (or `"inputs"`) → features `f0`, `f1`, ...
  (or the names configured for the model); dict instances keep their keys; response
  `{"predictions": [...]}`.
- Open Inference Protocol V2: `{"inputs": [{"name", "shape", "datatype", "data"}]}` → an input of
  shape `[N]` or `[N, 1]` is one feature named after it, `[N, k]` gives `name_0` ... `name_{k-1}`;
  BYTES data are categorical strings; response `{"model_name", "model_version", "outputs"}`.
- Seldon messages: `{"data": {"names": [...], "ndarray": [[...]]}}` or `"tensor": {shape, values}`.

Pointing a KServe logger at a driftwarden sidecar in the predictor pod (loopback is shared; a
driftwarden elsewhere listens on 0.0.0.0 and the url names its Service):

    apiVersion: serving.kserve.io/v1beta1
    kind: InferenceService
    metadata:
      name: fraud                                # becomes the model name in driftwarden
    spec:
      predictor:
        logger:
          mode: all                              # both halves: the request's features, the response's predictions
          url: http://127.0.0.1:4318/v1/kserve   # or .../v1/kserve/fraud to name the model in the path
        model:
          modelFormat:
            name: sklearn
          storageUri: gs://example-bucket/models/fraud
        containers:
          - name: driftwarden
            image: driftwarden:latest            # an image with this package installed
            args: ["driftwarden", "run", "--config", "/etc/driftwarden/config.yaml"]

KServe logs the response only when the model answered 200, and does not retry a delivery: a
request without its response expires after the joiner's TTL and is counted, not guessed at.
"""

from __future__ import annotations

import base64
import binascii
import math
import reprlib
import time
from collections import Counter, OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import orjson
from cloudevents.core.bindings.http import HTTPMessage, from_binary, from_structured
from cloudevents.core.exceptions import BaseCloudEventException, CloudEventValidationError
from cloudevents.core.formats.json import JSONFormat

from driftwarden.collector.predictions import parse_records
from driftwarden.core.errors import BodyTooLarge, InputError, UnsupportedMediaType
from driftwarden.core.records import ParseResult

__all__ = [
    "EVICTED",
    "EXPIRED",
    "REPLACED",
    "EventJoiner",
    "Half",
    "Joined",
    "KServeResult",
    "LoggerEvent",
    "decode_event",
    "parse_events",
    "read_events",
]

REQUEST_TYPES = frozenset({"org.kubeflow.serving.inference.request", "io.seldon.serving.inference.request"})
RESPONSE_TYPES = frozenset({"org.kubeflow.serving.inference.response", "io.seldon.serving.inference.response"})
IGNORED_TYPES = frozenset({"io.seldon.serving.feedback"})  # Seldon logs feedback too; nothing to monitor in it
STRUCTURED = "application/cloudevents+json"
BATCH = "application/cloudevents-batch+json"

# why unpaired halves leave the join table; also the `reason` of driftwarden_records_rejected_total
EXPIRED = "unpaired_expired"  # its other half did not come within the TTL
EVICTED = "join_table_full"  # the oldest half, dropped to make room
REPLACED = "duplicate_event"  # the same half again under the same id: the newer one is kept

_FORMAT = JSONFormat()
_REPR = reprlib.Repr()  # for values quoted in messages: bounded, and safe however deep the JSON nests
_REPR.maxstring = _REPR.maxother = 80
_show = _REPR.repr


# -- CloudEvents ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class LoggerEvent:
    """One CloudEvent: its type, id, context attributes (extensions included) and JSON data."""

    type: str
    id: str
    attributes: Mapping[str, Any]
    data: Any

    def extension(self, name: str) -> str | None:
        value = self.attributes.get(name)
        return value if isinstance(value, str) and value else None


def read_events(headers: Mapping[str, str], body: bytes) -> list[LoggerEvent]:
    """Binary, structured or batched CloudEvents over HTTP → events; raises InputError."""
    headers = {k.lower(): v for k, v in headers.items()}
    media = headers.get("content-type", "").split(";")[0].strip().lower()
    if media == BATCH:
        envelopes = _json(body, "the event batch")
        if not isinstance(envelopes, list):
            raise InputError(f"{BATCH} must be a JSON array of events", code="not_a_cloudevent")
        return [_structured(envelope, f"event {i}") for i, envelope in enumerate(envelopes)]
    if media == STRUCTURED:
        return [_structured(_json(body, "the structured event"), "the event")]
    if media.startswith("application/cloudevents"):
        raise UnsupportedMediaType(f"{media}: only JSON-formatted CloudEvents are read", code="unsupported_media_type")
    if not any(name.startswith("ce-") for name in headers):
        raise UnsupportedMediaType(
            f"not a CloudEvent (Content-Type {media or '(none)'!r} and no ce-* headers): send a payload logger's "
            f"binary-mode event (ce-id, ce-type, ce-source, ce-specversion headers) or {STRUCTURED}",
            code="not_a_cloudevent",
        )
    # ce-time is not used: not parsed (a third of the SDK's cost per event), so never a reason to refuse
    context = {k: v for k, v in headers.items() if k.startswith("ce-") and k != "ce-time"}
    if not context.get("ce-id"):  # the SDK would invent one, and the halves would never meet
        raise InputError("no ce-id header: it joins a request to its response", code="not_a_cloudevent")
    attributes = _attributes(lambda: from_binary(HTTPMessage(context, b""), _FORMAT), "the ce-* headers")
    return [LoggerEvent(attributes["type"], attributes["id"], attributes, _data(body, media))]


def _structured(envelope: Any, what: str) -> LoggerEvent:
    if not isinstance(envelope, dict):
        raise InputError(f"{what} is a {type(envelope).__name__}, expected a JSON object", code="not_a_cloudevent")
    if not envelope.get("id"):  # the SDK would invent one, and the halves would never meet
        raise InputError(f"{what} has no 'id': it joins a request to its response", code="not_a_cloudevent")
    envelope = dict(envelope)
    envelope.pop("time", None)  # not used, not parsed (as in binary mode)
    data = envelope.pop("data", None)
    encoded = envelope.pop("data_base64", None)
    attributes = _attributes(
        lambda: from_structured(HTTPMessage({}, orjson.dumps(envelope)), _FORMAT), f"{what}'s attributes"
    )
    if data is None and encoded is not None:
        try:
            data = base64.b64decode(encoded, validate=True) if isinstance(encoded, str) else None
        except (binascii.Error, ValueError):  # ValueError: a string with non-ASCII characters
            data = None
        if data is None:
            raise InputError(f"{what}: data_base64 is not base64", code="bad_json")
    if isinstance(data, (bytes, str)):  # JSON text carried as bytes or a string
        data = _json(data.encode() if isinstance(data, str) else data, f"{what}'s data")
    return LoggerEvent(attributes["type"], attributes["id"], attributes, data)


def _attributes(read: Callable[[], Any], what: str) -> dict[str, Any]:
    try:
        return dict(read().get_attributes())
    except CloudEventValidationError as exc:
        problems = "; ".join(f"{name}: {errors[0]}" for name, errors in exc.errors.items() if errors)
        raise InputError(f"{what} are not a valid CloudEvent: {problems}", code="not_a_cloudevent") from None
    except (BaseCloudEventException, ValueError, TypeError, AttributeError, OverflowError) as exc:
        raise InputError(f"{what} are not a valid CloudEvent: {exc}", code="not_a_cloudevent") from None


def _json(body: bytes, what: str) -> Any:
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        hint = " (it looks gzip-compressed: log the uncompressed body)" if body[:2] == b"\x1f\x8b" else ""
        raise InputError(f"{what} is not valid JSON{hint}: {exc}", code="bad_json") from None


def _data(body: bytes, media: str) -> Any:
    """Binary mode: KServe copies the inference request's Content-Type, often curl's form type: try JSON."""
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        if media and "json" not in media and media not in ("text/plain", "application/x-www-form-urlencoded"):
            raise UnsupportedMediaType(
                f"event data of type {media!r} is not JSON: only JSON inference bodies (KServe V1, "
                "Open Inference Protocol V2, Seldon) are decoded",
                code="unsupported_media_type",
            ) from None
        return _json(body, "the event data")


# -- inference bodies → rows ------------------------------------------------------------------------


@dataclass(frozen=True)
class Half:
    """A decoded event: a request's feature rows or a response's predictions, waiting for its pair."""

    kind: Literal["request", "response"]
    key: tuple[str, ...]  # what both halves share: model, component, endpoint, node, id
    model: str
    request_id: str
    rows: list[Any]  # request: one features object per row; response: one prediction per row
    model_version: str | None = None


def decode_event(
    event: LoggerEvent,
    *,
    model: str | None = None,
    feature_names: Mapping[str, Sequence[str]] | None = None,
    max_records: int = 100_000,
    max_features: int = 1000,
) -> Half | None:
    """An event → its half (None for an event type that carries no predictions); raises InputError.

    The model is `ce-inferenceservicename`, else Seldon's `ce-modelid`, else `model` (the path).
    """
    if event.type in IGNORED_TYPES:
        return None
    if event.type in REQUEST_TYPES:
        kind: Literal["request", "response"] = "request"
    elif event.type in RESPONSE_TYPES:
        kind = "response"
    else:
        known = ", ".join(sorted(REQUEST_TYPES | RESPONSE_TYPES))
        raise InputError(f"unknown ce-type {event.type!r:.100}; expected one of {known}", code="unknown_event_type")
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
    if kind == "request":
        rows = _request_rows(payload, names, max_features)
        version = None
    else:
        rows = _response_rows(payload)
        version = payload.get("model_version")
        version = version if isinstance(version, str) and 0 < len(version) <= 64 else None
    if len(rows) > max_records:
        raise BodyTooLarge(
            f"{len(rows)} rows in one {kind}; the limit is {max_records} (limits.max_records_per_request)",
            code="too_many_records",
        )
    return Half(kind, key, name, request_id, rows, version)


def _request_rows(payload: dict, names: Sequence[str] | None, max_features: int) -> list[Any]:
    inputs = payload.get("inputs")
    if _is_v2(inputs):
        return _v2_rows(inputs, names, max_features)
    instances = payload.get("instances", inputs)
    if isinstance(instances, list):
        rows = [_row(instance, names) for instance in instances]
    elif isinstance(payload.get("data"), dict):
        rows = _seldon_rows(payload["data"], names)
    else:
        raise InputError(
            "the request is neither KServe V1 ('instances'), Open Inference Protocol V2 ('inputs' with name, "
            "shape, datatype, data) nor a Seldon message ('data' with 'ndarray' or 'tensor')",
            code="bad_body",
        )
    widest = max((len(r) for r in rows if isinstance(r, dict)), default=0)
    if widest > max_features:
        raise InputError(_too_wide(widest, max_features), code="too_many_features")
    return rows


def _response_rows(payload: dict) -> list[Any]:
    outputs = payload.get("outputs")
    if _is_v2(outputs):
        return _v2_predictions(outputs)
    predictions = payload.get("predictions", outputs)
    if isinstance(predictions, list):
        return predictions
    if isinstance(payload.get("data"), dict):
        names = payload["data"].get("names")
        return [_prediction(row, names) for row in _seldon_table(payload["data"])]
    raise InputError(
        "the response is neither KServe V1 ('predictions'), Open Inference Protocol V2 ('outputs') "
        "nor a Seldon message ('data')",
        code="bad_body",
    )


def _row(instance: Any, names: Sequence[str] | None) -> Any:
    if isinstance(instance, dict) or instance is None:
        return instance  # a dict keeps its keys; null is rejected as bad_features by parse_records
    return _positional(instance if isinstance(instance, list) else [instance], names, "f")


def _positional(values: list, names: Sequence[str] | None, prefix: str) -> dict[str, Any]:
    return dict(zip(_names(len(values), names, prefix), values, strict=True))


def _names(width: int, names: Sequence[str] | None, prefix: str) -> list[str]:
    """The configured names first, then `{prefix}{j}` for the columns they do not cover."""
    named = list(names or ())[:width]
    return [*named, *(f"{prefix}{j}" for j in range(len(named), width))]


def _is_v2(tensors: Any) -> bool:
    return (
        isinstance(tensors, list)
        and bool(tensors)
        and all(isinstance(t, dict) and "name" in t and "shape" in t and "data" in t for t in tensors)
    )


def _tensor(spec: dict, what: str) -> tuple[list, int, int]:
    """A V2 tensor → (row-major values, rows, values per row)."""
    shape, data = spec.get("shape"), spec.get("data")
    if not isinstance(shape, list) or not all(type(d) is int and d >= 0 for d in shape):
        raise InputError(f"{what}: shape must be a list of non-negative integers, got {_show(shape)}", code="bad_body")
    if not isinstance(data, list):
        data = [data]
    flat = _flatten(data)
    rows = shape[0] if shape else 1
    width = math.prod(shape[1:])
    if rows * width != len(flat):
        raise InputError(f"{what}: shape {shape} needs {rows * width} values, data has {len(flat)}", code="bad_body")
    return flat, rows, width


def _flatten(data: list) -> list:
    if not any(isinstance(v, list) for v in data):
        return data
    out: list = []
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


def _v2_rows(inputs: list[dict], names: Sequence[str] | None, max_features: int) -> list[dict[str, Any]]:
    columns: list[tuple[list[str], list, int]] = []
    batch: int | None = None
    for spec in inputs:
        name = spec["name"]
        if not isinstance(name, str) or not name:
            raise InputError(f"an input's name must be a non-empty string, got {_show(name)}", code="bad_body")
        flat, rows, width = _tensor(spec, f"input {name!r}")
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
    if total > max_features:
        raise InputError(_too_wide(total, max_features), code="too_many_features")
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


def _v2_predictions(outputs: list[dict]) -> list[Any]:
    """Row i's prediction: the output's value (a list when it is wider than 1), or {name: value} for several."""
    columns = []
    for spec in outputs:
        name = spec["name"] if isinstance(spec["name"], str) else _show(spec["name"])
        flat, rows, width = _tensor(spec, f"output {name!r:.80}")
        values = flat if width == 1 else [flat[i * width : (i + 1) * width] for i in range(rows)]
        columns.append((name, values))
    if len(columns) == 1:
        return columns[0][1]
    batch = max(len(values) for _, values in columns)
    return [{name: values[i] if i < len(values) else None for name, values in columns} for i in range(batch)]


def _seldon_table(data: dict) -> list[list]:
    if isinstance(data.get("ndarray"), list):
        return [row if isinstance(row, list) else [row] for row in data["ndarray"]]
    tensor = data.get("tensor")
    if isinstance(tensor, dict):
        flat, rows, width = _tensor({"shape": tensor.get("shape"), "data": tensor.get("values")}, "the tensor")
        return [flat[i * width : (i + 1) * width] for i in range(rows)]
    raise InputError(
        "a Seldon message's 'data' needs 'ndarray' or 'tensor' (strData, jsonData, binData: not read)", code="bad_body"
    )


def _seldon_rows(data: dict, names: Sequence[str] | None) -> list[dict[str, Any]]:
    sent = data.get("names")
    if isinstance(sent, list) and sent and all(isinstance(n, str) and n for n in sent):
        names = sent
    return [_positional(row, names, "f") for row in _seldon_table(data)]


def _prediction(row: list, names: Any) -> Any:
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


# -- joining --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Joined:
    records: list[dict[str, Any]]  # prediction records of the pair this half completed, row by row
    dropped_rows: Counter[str]  # rows of unpaired halves dropped meanwhile, by reason


@dataclass
class _Waiting:
    half: Half
    deadline: float


class EventJoiner:
    """Pairs request and response halves by id, in a bounded table whose halves expire.

    Not thread-safe: the app calls it from its event loop only.

    A half waits at most `ttl` seconds for its other half, then is dropped and counted
    (`unpaired[EXPIRED]`); when `max_pending` halves or `max_pending_rows` rows wait, the
    oldest is dropped to make room (`unpaired[EVICTED]`). Expiry runs on every `add()` (and on
    `expire()`), so an idle joiner holds at most what it held when traffic stopped.
    """

    def __init__(
        self,
        *,
        max_pending: int = 10_000,
        max_pending_rows: int = 100_000,
        ttl: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if max_pending < 1 or max_pending_rows < 1 or not ttl > 0:
            raise ValueError("max_pending and max_pending_rows must be at least 1 and ttl positive")
        self.max_pending = max_pending
        self.max_pending_rows = max_pending_rows
        self.ttl = ttl
        self.clock = clock
        self.paired = 0
        self.unpaired: Counter[str] = Counter()  # halves dropped, by reason
        self._table: OrderedDict[tuple[str, ...], _Waiting] = OrderedDict()  # oldest first: deadlines ascend
        self._rows = 0

    @property
    def pending(self) -> int:
        """Halves waiting for their other half."""
        return len(self._table)

    @property
    def pending_rows(self) -> int:
        return self._rows

    def add(self, half: Half) -> Joined:
        now = self.clock()
        dropped: Counter[str] = Counter()
        self._expire(now, dropped)
        waiting = self._table.pop(half.key, None)
        if waiting is not None:
            self._rows -= len(waiting.half.rows)
            if waiting.half.kind != half.kind:
                self.paired += 1
                request, response = (half, waiting.half) if half.kind == "request" else (waiting.half, half)
                return Joined(_records(request, response), dropped)
            self._drop(waiting.half, REPLACED, dropped)
        while self._table and (
            len(self._table) >= self.max_pending or self._rows + len(half.rows) > self.max_pending_rows
        ):
            _, oldest = self._table.popitem(last=False)
            self._rows -= len(oldest.half.rows)
            self._drop(oldest.half, EVICTED, dropped)
        self._table[half.key] = _Waiting(half, now + self.ttl)
        self._rows += len(half.rows)
        return Joined([], dropped)

    def expire(self) -> Counter[str]:
        """Drop the halves past their TTL now; returns the rows dropped, by reason."""
        dropped: Counter[str] = Counter()
        self._expire(self.clock(), dropped)
        return dropped

    def _expire(self, now: float, dropped: Counter[str]) -> None:
        while self._table:
            key, first = next(iter(self._table.items()))
            if first.deadline > now:
                return
            del self._table[key]
            self._rows -= len(first.half.rows)
            self._drop(first.half, EXPIRED, dropped)

    def _drop(self, half: Half, reason: str, dropped: Counter[str]) -> None:
        self.unpaired[reason] += 1
        dropped[reason] += len(half.rows)


def _records(request: Half, response: Half) -> list[dict[str, Any]]:
    predictions = response.rows
    single = len(request.rows) == 1
    records = []
    for i, features in enumerate(request.rows):
        record = {
            "model": request.model,
            "request_id": request.request_id if single else f"{request.request_id}/{i}",
            "features": features,
            "prediction": predictions[i] if i < len(predictions) else None,
        }
        if response.model_version is not None:
            record["model_version"] = response.model_version
        records.append(record)
    return records


# -- one POST -------------------------------------------------------------------------------------


def _dump_records(records: list[dict[str, Any]]) -> bytes:
    try:
        return orjson.dumps(records)
    except orjson.JSONEncodeError:  # a value nested deeper than orjson writes (254 levels)
        return orjson.dumps([_flat_values(r) for r in records])


def _flat_values(record: dict[str, Any]) -> dict[str, Any]:
    """The record with nested values as `[]`: rejected for being nested all the same, with the same reason."""

    def flat(value: Any) -> Any:
        return [] if isinstance(value, (list, dict)) else value

    features = record["features"]
    if isinstance(features, dict):
        features = {name: flat(value) for name, value in features.items()}
    return {**record, "features": features, "prediction": flat(record["prediction"])}


@dataclass
class KServeResult(ParseResult):
    pending: int = 0  # halves waiting in the joiner after this event
    dropped_rows: Counter[str] = field(default_factory=Counter)  # unpaired rows dropped meanwhile, by reason

    def to_dict(self) -> dict[str, Any]:
        return {**super().to_dict(), "pending": self.pending}


def parse_events(
    headers: Mapping[str, str],
    body: bytes,
    joiner: EventJoiner,
    *,
    model: str | None = None,
    feature_names: Mapping[str, Sequence[str]] | None = None,
    max_records: int = 100_000,
    max_features: int = 1000,
) -> KServeResult:
    """One logger POST → the records of the pairs it completed, validated as prediction records.

    Every event is read and decoded before any reaches the joiner: a request that raises InputError
    changes nothing. `errors[].index` is a record's position among those this POST completed: the
    row of the inference batch when it holds one event.
    """
    halves = [
        decode_event(e, model=model, feature_names=feature_names, max_records=max_records, max_features=max_features)
        for e in read_events(headers, body)
    ]
    records: list[dict[str, Any]] = []
    dropped: Counter[str] = Counter()
    for half in halves:
        if half is not None:
            joined = joiner.add(half)
            records.extend(joined.records)
            dropped.update(joined.dropped_rows)
    parsed = (
        parse_records(_dump_records(records), "application/json", max_records=len(records))
        if records
        else ParseResult()
    )
    return KServeResult(
        batches=parsed.batches,
        accepted=parsed.accepted,
        errors=parsed.errors,
        rejected_by_reason=parsed.rejected_by_reason,
        pending=joiner.pending,
        dropped_rows=dropped,
    )
