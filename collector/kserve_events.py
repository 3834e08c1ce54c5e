"""CloudEvents envelopes of the KServe and Seldon payload loggers: HTTP headers and body → `LoggerEvent`s.

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
validates the context attributes, orjson reads the data. What cannot be read raises InputError
(UnsupportedMediaType for a body that is not JSON).

>>> events = read_events({"ce-id": "1", "ce-type": "org.kubeflow.serving.inference.request",
...                       "ce-source": "kserve", "ce-specversion": "1.0"}, b'{"instances": [[1, 2]]}')
>>> [(e.type, e.id, e.data) for e in events]
[('org.kubeflow.serving.inference.request', '1', {'instances': [[1, 2]]})]
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import orjson
from cloudevents.core.bindings.http import HTTPMessage, from_binary, from_structured
from cloudevents.core.exceptions import BaseCloudEventException, CloudEventValidationError
from cloudevents.core.formats.json import JSONFormat

from driftwarden.core.errors import InputError, UnsupportedMediaType

__all__ = [
    "BATCH",
    "IGNORED_TYPES",
    "REQUEST_TYPES",
    "RESPONSE_TYPES",
    "STRUCTURED",
    "LoggerEvent",
    "read_events",
]

REQUEST_TYPES = frozenset({"org.kubeflow.serving.inference.request", "io.seldon.serving.inference.request"})
RESPONSE_TYPES = frozenset({"org.kubeflow.serving.inference.response", "io.seldon.serving.inference.response"})
IGNORED_TYPES = frozenset({"io.seldon.serving.feedback"})  # Seldon logs feedback too; nothing to monitor in it
STRUCTURED = "application/cloudevents+json"
BATCH = "application/cloudevents-batch+json"

_FORMAT = JSONFormat()


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
