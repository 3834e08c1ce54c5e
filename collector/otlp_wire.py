"""OTLP/HTTP as every signal has it: the two encodings, decoding an export request, and the
answers — a response in the request's encoding, or a google.rpc.Status for a refusal.

Bodies arrive already decoded from any Content-Encoding (the API's body reader inflates gzip).
OTLP JSON is protobuf's JSON mapping with two differences this module takes care of: trace and
span ids are hex, not base64, and keys may be lowerCamelCase or the proto names.
"""

from __future__ import annotations

import base64
from typing import Any, TypeVar

import orjson
from google.protobuf import json_format
from google.protobuf.message import DecodeError, Message
from google.rpc import status_pb2
from opentelemetry.proto.common.v1.common_pb2 import AnyValue

from driftwarden.core.errors import InputError, UnsupportedMediaType

__all__ = [
    "JSON",
    "PROTOBUF",
    "SCALARS",
    "answer_media",
    "any_value",
    "decode",
    "encode",
    "encode_error",
    "hex_ids_to_base64",
]

PROTOBUF = "application/x-protobuf"
JSON = "application/json"
SCALARS = frozenset({"string_value", "int_value", "double_value", "bool_value"})  # AnyValue's plain values
_ID_KEYS = {"traceId", "spanId", "parentSpanId", "trace_id", "span_id", "parent_span_id"}
_M = TypeVar("_M", bound=Message)


def answer_media(content_type: str | None) -> str:
    """The encoding to answer a request in, before its body is read: protobuf when it was sent so."""
    return PROTOBUF if (content_type or "").strip().lower().startswith(PROTOBUF) else JSON


def decode(body: bytes, content_type: str | None, message: _M) -> tuple[_M, str]:
    """Parse `body` into `message` (an empty export request); returns it and the media type to answer
    in. Raises `UnsupportedMediaType` for another Content-Type, `InputError` for a body that is not one."""
    media = (content_type or "").split(";")[0].strip().lower()
    if media not in (PROTOBUF, JSON):
        raise UnsupportedMediaType(
            f"unsupported Content-Type {media or '(none)'!r}: OTLP/HTTP sends {PROTOBUF} or {JSON}"
        )
    what = type(message).__name__
    try:
        if media == PROTOBUF:
            message.ParseFromString(body)
        else:
            json_format.ParseDict(hex_ids_to_base64(orjson.loads(body)), message, ignore_unknown_fields=True)
    except (DecodeError, orjson.JSONDecodeError, json_format.ParseError, ValueError, TypeError) as exc:
        raise InputError(f"not an OTLP {what} ({media}): {exc}") from exc
    except RecursionError:  # JSON nested deeper than Python's stack (orjson reads up to 1024 levels)
        raise InputError(f"not an OTLP {what} ({media}): nested too deeply") from None
    return message, media


def encode(message: Message, media: str) -> bytes:
    """An export response in the request's encoding."""
    if media == PROTOBUF:
        return message.SerializeToString()
    return json_format.MessageToJson(message, indent=None).encode()


def encode_error(message: str, media: str, code: int = 3) -> bytes:
    """A google.rpc.Status body, as OTLP/HTTP prescribes for 4xx answers (3 = INVALID_ARGUMENT)."""
    status = status_pb2.Status(code=code, message=message)
    if media == PROTOBUF:
        body: bytes = status.SerializeToString()  # google.rpc has .pyi stubs but no py.typed: mypy sees Any
        return body
    return json_format.MessageToJson(status, indent=None).encode()


def any_value(value: AnyValue) -> Any:
    """An AnyValue as JSON would hold it: scalars as they are, arrays as lists, key-value lists as
    dicts, bytes as `{"bytes": hex}` (not a JSON type: a nested value to whoever reads it), unset None."""
    kind = value.WhichOneof("value")
    if kind in SCALARS:
        return getattr(value, kind)
    if kind == "kvlist_value":
        return {kv.key: any_value(kv.value) for kv in value.kvlist_value.values}
    if kind == "array_value":
        return [any_value(v) for v in value.array_value.values]
    if kind == "bytes_value":
        return {"bytes": value.bytes_value.hex()}
    return None


def hex_ids_to_base64(node: Any) -> Any:
    """OTLP JSON writes trace and span ids as hex; protobuf's JSON mapping expects base64."""
    if isinstance(node, dict):
        return {k: _b64(v) if k in _ID_KEYS and isinstance(v, str) else hex_ids_to_base64(v) for k, v in node.items()}
    if isinstance(node, list):
        return [hex_ids_to_base64(v) for v in node]
    return node


def _b64(hex_id: str) -> str:
    try:
        return base64.b64encode(bytes.fromhex(hex_id)).decode()
    except ValueError as exc:
        raise ValueError(f"id {hex_id!r:.40} is not hex") from exc
