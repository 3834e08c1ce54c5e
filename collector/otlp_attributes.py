"""Attribute look-ups shared by the OTLP decoders: names with their deprecated aliases, first present."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from opentelemetry.proto.common.v1.common_pb2 import AnyValue

from driftwarden.core.semconv import with_aliases

__all__ = ["first", "label_value", "lookup_chain", "scalar"]

_SCALARS = frozenset({"string_value", "int_value", "double_value", "bool_value"})


def lookup_chain(names: Iterable[str]) -> tuple[str, ...]:
    """The names to look up, in order, each followed by the deprecated names it replaced."""
    return tuple(dict.fromkeys(alias for name in names for alias in with_aliases(name)))


def first(keys: tuple[str, ...], attrs: dict[str, Any]) -> Any:
    """The first of `keys` with a value (not None, not "") in `attrs`, else None."""
    for key in keys:
        value = attrs.get(key)
        if value is not None and value != "":
            return value
    return None


def label_value(keys: tuple[str, ...], attrs: dict[str, Any], resource: dict[str, Any]) -> str:
    """An extra label's value: its attribute (or an alias) on the span or point, else on the resource, else ""."""
    for source in (attrs, resource):
        for key in keys:
            if key in source:
                return str(source[key])
    return ""


def scalar(v: AnyValue) -> Any:
    """A string, int, float or bool attribute value; None for arrays, maps and bytes."""
    kind = v.WhichOneof("value")
    return getattr(v, kind) if kind in _SCALARS else None
