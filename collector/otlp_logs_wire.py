"""`ExportLogsServiceRequest` read again through narrower schemas that are wire-compatible with it, for
the log records' attributes of each scope in bulk.

Read in full, each attribute costs Python a `KeyValue` and an `AnyValue` wrapper and a few look-ups on
them (about 4 µs a log record's attribute). Here a scope's `log_records` field is declared as one
message rather than a repeated one, and so is a log record's `attributes`: protobuf merges the repeated
occurrences of a singular message field into one message (the encoding guide, "Last One Wins"), appending
to the repeated fields inside and keeping the fields it does not know, in the order they came. So, for
every scope, in C, whatever the number of attributes:

- `ScopeAttributeBytes`: every attribute of every log record, as sent, in one bytes string (the merged
  `attributes` declares no field, so all of them stay unknown fields: `SerializeToString()` gives them
  back) — what `otlp_logs_columns` reads with numpy when every log record sends the same layout;
- `ScopeAttributes`: every attribute's key and value (an AnyValue's bytes) as two lists.

Both line up with the log records' attributes only as far as each `KeyValue` is encoded as serializers
encode it (its key, then its value, once each): `otlp_logs_columns` checks that against the full decode of
the same bytes (which has also validated them) and falls back to it where it does not hold.

Field numbers are those of opentelemetry-proto's logs.proto and common.proto; a field not declared here
is skipped.
"""

from __future__ import annotations

from typing import Any

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
from google.protobuf.descriptor_pb2 import FieldDescriptorProto

__all__ = ["ScopeAttributeBytes", "ScopeAttributes"]

_PACKAGE = "driftwarden.otlp_logs_wire"
_F = FieldDescriptorProto
_MESSAGE, _BYTES = _F.TYPE_MESSAGE, _F.TYPE_BYTES

# message -> (field, number, type, message type for TYPE_MESSAGE, repeated)
_SCHEMA: dict[str, list[tuple[str, int, int, str, bool]]] = {
    "Request": [("resource_logs", 1, _MESSAGE, "ResourceLogs", True)],
    "ResourceLogs": [("scope_logs", 2, _MESSAGE, "ScopeLogs", True)],
    "ScopeLogs": [("log_records", 2, _MESSAGE, "LogRecords", False)],  # merged: every log record's fields
    "LogRecords": [("attributes", 6, _MESSAGE, "Attributes", False)],  # merged: every KeyValue's fields
    "Attributes": [("key", 1, _BYTES, "", True), ("value", 2, _BYTES, "", True)],  # the value: AnyValue bytes
    "BytesRequest": [("resource_logs", 1, _MESSAGE, "BytesResourceLogs", True)],
    "BytesResourceLogs": [("scope_logs", 2, _MESSAGE, "BytesScopeLogs", True)],
    "BytesScopeLogs": [("log_records", 2, _MESSAGE, "BytesLogRecords", False)],
    "BytesLogRecords": [("attributes", 6, _MESSAGE, "Unread", False)],
    "Unread": [],  # every field unknown: kept as sent
}


def _message_class(name: str) -> Any:
    file = descriptor_pb2.FileDescriptorProto(
        name="driftwarden/otlp_logs_wire.proto", package=_PACKAGE, syntax="proto3"
    )
    for message, fields in _SCHEMA.items():
        descriptor = file.message_type.add(name=message)
        for field_name, number, kind, type_name, repeated in fields:
            descriptor.field.add(
                name=field_name,
                number=number,
                type=kind,
                label=_F.LABEL_REPEATED if repeated else _F.LABEL_OPTIONAL,
                type_name=f".{_PACKAGE}.{type_name}" if type_name else None,
            )
    pool = descriptor_pool.DescriptorPool()
    pool.Add(file)
    return message_factory.GetMessageClass(pool.FindMessageTypeByName(f"{_PACKAGE}.{name}"))


ScopeAttributes: Any = _message_class("Request")
ScopeAttributeBytes: Any = _message_class("BytesRequest")
